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
pub(crate) struct CastFile<W: Write = File> {
    file: W,
    pending: Vec<u8>,
}

impl<W: Write> CastFile<W> {
    pub(crate) fn new(file: W) -> CastFile<W> {
        CastFile {
            file,
            pending: Vec::new(),
        }
    }

    /// Appends `line` and a newline.
    pub(crate) fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        let need = line.len() + 1;
        if !self.pending.is_empty() && self.pending.len() + need > GATHER {
            self.write_pending()?;
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
        self.write_pending()?;
        self.pending = Vec::new();
        Ok(())
    }

    /// Writes what waits; on an error, what was written is no longer waiting (as in a
    /// `BufWriter`), so nothing is ever written twice.
    fn write_pending(&mut self) -> io::Result<()> {
        let mut written = 0;
        let result = loop {
            if written == self.pending.len() {
                break Ok(());
            }
            match self.file.write(&self.pending[written..]) {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        self.pending.drain(..written);
        result
    }
}

impl CastFile<File> {
    pub(crate) fn sync_all(&self) -> io::Result<()> {
        self.file.sync_all()
    }
}

impl<W: Write> Drop for CastFile<W> {
    /// What a `BufWriter` does when dropped: write what waits, ignoring errors (a recorder
    /// that is dropped unfinished leaves a recording that verification reports as unsealed).
    fn drop(&mut self) {
        let _ = self.write_pending();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> (std::path::PathBuf, File) {
        let path = std::env::temp_dir().join(format!(
            "cast-file-{}-{name}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_file(&path);
        match File::create(&path) {
            Ok(f) => (path, f),
            Err(e) => panic!("{}: {e}", path.display()),
        }
    }

    fn read(path: &std::path::Path) -> Vec<u8> {
        std::fs::read(path).unwrap_or_default()
    }

    #[test]
    fn lines_wait_until_a_flush_which_gives_the_buffer_back() {
        let (path, file) = temp("flush");
        let mut cast = CastFile::new(file);
        assert_eq!(cast.pending.capacity(), 0);
        cast.write_line(b"[0.1, \"o\", \"a\"]")
            .unwrap_or_else(|e| panic!("{e}"));
        cast.write_line(b"[0.2, \"o\", \"b\"]")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            read(&path).is_empty(),
            "small lines gather before one write"
        );
        cast.flush().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read(&path), b"[0.1, \"o\", \"a\"]\n[0.2, \"o\", \"b\"]\n");
        assert_eq!(
            cast.pending.capacity(),
            0,
            "an idle recording holds no buffer"
        );
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_full_buffer_and_a_long_line_go_out_at_once_in_order() {
        let (path, file) = temp("long");
        let mut cast = CastFile::new(file);
        let small = vec![b's'; 100];
        let long = vec![b'l'; GATHER + 1];
        cast.write_line(&small).unwrap_or_else(|e| panic!("{e}"));
        cast.write_line(&long).unwrap_or_else(|e| panic!("{e}"));
        let mut want = small.clone();
        want.push(b'\n');
        want.extend_from_slice(&long);
        want.push(b'\n');
        assert_eq!(
            read(&path),
            want,
            "what waited goes first, then the long line"
        );
        for _ in 0..(GATHER / 101 + 1) {
            cast.write_line(&small).unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(read(&path).len() > want.len(), "a full buffer is written");
        assert!(cast.pending.len() <= GATHER);
        let _ = std::fs::remove_file(&path);
    }

    /// Takes `room` bytes, then fails every write (a disk filling up).
    struct Filling {
        taken: Vec<u8>,
        room: usize,
    }

    impl Write for Filling {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.room - self.taken.len().min(self.room));
            if n == 0 {
                return Err(io::Error::other("no space left"));
            }
            self.taken.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn what_a_failing_write_took_is_never_written_again() {
        let mut cast = CastFile::new(Filling {
            taken: Vec::new(),
            room: 10,
        });
        cast.write_line(b"0123456789abcdef")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(cast.flush().is_err());
        assert_eq!(
            cast.pending, b"abcdef\n",
            "only what the file did not take waits"
        );
        cast.file.room = 100;
        cast.flush().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cast.file.taken, b"0123456789abcdef\n");
    }

    #[test]
    fn dropping_writes_what_waits() {
        let (path, file) = temp("drop");
        let mut cast = CastFile::new(file);
        cast.write_line(b"last").unwrap_or_else(|e| panic!("{e}"));
        drop(cast);
        assert_eq!(read(&path), b"last\n");
        let _ = std::fs::remove_file(&path);
    }
}
