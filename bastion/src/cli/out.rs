//! Standard output for what commands print: buffered, and a reader that goes away early
//! (`bastion audit recordings | head`) ends the command quietly instead of failing with an
//! error or a panic.

use std::io::{BufWriter, StdoutLock, Write};

use super::failure::Failure;

/// The reader of standard output went away; the command stops without a message.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed")]
pub struct PipeClosed;

/// Buffered standard output.
pub struct Out(BufWriter<StdoutLock<'static>>);

impl Out {
    pub fn new() -> Out {
        Out(BufWriter::new(std::io::stdout().lock()))
    }

    /// Writes `text` and a newline.
    pub fn line(&mut self, text: impl std::fmt::Display) -> Result<(), Failure> {
        writeln!(self.0, "{text}").map_err(failure)
    }

    /// Writes everything buffered.
    pub fn finish(mut self) -> Result<(), Failure> {
        self.0.flush().map_err(failure)
    }

    /// Runs `f` on the writer, then flushes.
    pub fn with(f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<(), Failure> {
        let mut out = Out::new();
        f(&mut out.0).map_err(failure)?;
        out.finish()
    }
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// A closed pipe stops the command quietly; any other write error fails it.
pub fn failure(e: std::io::Error) -> Failure {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Failure::failed(PipeClosed)
    } else {
        Failure::failed(anyhow::anyhow!("cannot write to standard output: {e}"))
    }
}

/// Prints one line of a command's report. A reader that went away (`| head`) drops the line
/// quietly: the work is done (keys created, a certificate signed) and must not end in a panic.
/// Any other failure to write is said on stderr, so that output redirected to a full disk is
/// not taken for written.
pub fn say(text: std::fmt::Arguments<'_>) {
    if let Err(e) = writeln!(std::io::stdout(), "{text}") {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("bastion: cannot write to standard output: {e}");
        }
    }
}
