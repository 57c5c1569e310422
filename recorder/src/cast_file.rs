//! The cast file and the lines not yet written to it.

use std::fs::File;
use std::io::{self, Write};

/// Lines gathered before one write(2): small events (keystrokes, prompts) go out together, a
/// busy stream's 32 KiB chunks straight through.
const GATHER: usize = 16 * 1024;

/// A cast file written line by line. Unlike a `BufWriter`, its buffer exists only while lines
/// wait in it: each [`CastFile::flush`] (every checkpoint) gives it back, so the thousands of
/// idle sessions a bastion carries hold no write buffer each (issue 17: 16 KiB a session).
#[derive(Debug)]
pub(crate) struct CastFile {
    file: File,
    pending: Vec<u8>,
}

impl CastFile {
    pub(crate) fn new(file: File) -> CastFile {
        CastFile {
            file,
            pending: Vec::new(),
        }
    }

    /// Appends `line` and a newline.
    pub(crate) fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        let need = line.len() + 1;
        if !self.pending.is_empty() && self.pending.len() + need > GATHER {
            self.file.write_all(&self.pending)?;
            self.pending.clear();
        }
        if need > GATHER {
            self.file.write_all(line)?;
            return self.file.write_all(b"\n");
        }
        if self.pending.capacity() == 0 {
            self.pending.reserve_exact(GATHER);
        }
        self.pending.extend_from_slice(line);
        self.pending.push(b'\n');
        Ok(())
    }

    /// Writes what waits and gives the buffer back.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            self.file.write_all(&self.pending)?;
        }
        self.pending = Vec::new();
        Ok(())
    }

    pub(crate) fn sync_all(&self) -> io::Result<()> {
        self.file.sync_all()
    }
}

impl Drop for CastFile {
    /// What a `BufWriter` does when dropped: write what waits, ignoring errors (a recorder
    /// that is dropped unfinished leaves a recording that verification reports as unsealed).
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            let _ = self.file.write_all(&self.pending);
        }
    }
}
