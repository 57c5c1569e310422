//! Reading recording files that may be hostile.
//!
//! Whoever can write to the recording directory can put anything there: a symlink to the audit
//! database or `/dev/zero`, a FIFO, a sparse file of many gigabytes without a newline. Readers
//! (verification, playback, crash recovery) open recordings through [`open_regular`] and read
//! lines through [`read_line_capped`], so such a file is refused instead of followed, waited on
//! or loaded whole.

use std::fs::File;
use std::io::{self, BufRead, ErrorKind, Read};
use std::path::Path;

/// Longest line a reader accepts. The recorder's own lines hold one chunk of channel data,
/// JSON-escaped (at most a few hundred KiB); anything far longer was not written by it.
pub const MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

/// Largest sidecar a reader loads. A checkpoint line is about 450 bytes and is written at most
/// once a second while output flows, so this covers weeks of continuous output.
pub const MAX_SIDECAR_BYTES: u64 = 512 * 1024 * 1024;

/// Opens `path` for reading only if it is a regular file, not a symlink, FIFO or device.
///
/// # Errors
/// `NotFound` when it does not exist, `InvalidInput` when it is not a regular file, or any
/// error from opening it.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let before = std::fs::symlink_metadata(path)?;
    if !before.file_type().is_file() {
        return Err(not_regular(&before));
    }
    let file = File::open(path)?;
    // The name could have been swapped between the check and the open: check what was opened.
    let opened = file.metadata()?;
    if !opened.file_type().is_file() || !same_file(&before, &opened) {
        return Err(io::Error::new(
            ErrorKind::InvalidInput,
            "the file was replaced while it was being opened",
        ));
    }
    Ok(file)
}

/// Whether `path` names a regular file itself (not through a symlink). A missing file is
/// `Ok(false)`.
///
/// # Errors
/// Any error other than "not found" from reading its metadata.
pub fn is_regular(path: &Path) -> io::Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(m) => Ok(m.file_type().is_file()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

fn not_regular(meta: &std::fs::Metadata) -> io::Error {
    let what = if meta.file_type().is_symlink() {
        "a symbolic link"
    } else if meta.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    };
    io::Error::new(
        ErrorKind::InvalidInput,
        format!("{what}; recordings are only read from regular files"),
    )
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    true
}

/// Appends the next line (with its newline, if any) to `buf` like `read_until(b'\n')`, but
/// refuses a line longer than [`MAX_LINE_BYTES`] with `InvalidData` instead of growing `buf`
/// without bound. Returns the bytes read; 0 at end of file.
///
/// # Errors
/// `InvalidData` for an over-long line, or any read error.
pub fn read_line_capped<R: BufRead>(reader: &mut R, buf: &mut Vec<u8>) -> io::Result<usize> {
    let limit = MAX_LINE_BYTES as u64 + 1;
    let n = reader.by_ref().take(limit).read_until(b'\n', buf)?;
    if n > MAX_LINE_BYTES {
        return Err(io::Error::new(
            ErrorKind::InvalidData,
            format!("a line longer than {MAX_LINE_BYTES} bytes; the recorder never writes one"),
        ));
    }
    Ok(n)
}

/// Reads a whole sidecar, refusing one that is not a regular file or is larger than
/// [`MAX_SIDECAR_BYTES`].
pub(crate) fn read_sidecar_bytes(path: &Path) -> io::Result<Vec<u8>> {
    let mut file = open_regular(path)?;
    let len = file.metadata()?.len();
    if len > MAX_SIDECAR_BYTES {
        return Err(io::Error::new(
            ErrorKind::InvalidData,
            format!("{len} bytes, more than the {MAX_SIDECAR_BYTES} a sidecar may have"),
        ));
    }
    let mut raw = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.by_ref()
        .take(MAX_SIDECAR_BYTES + 1)
        .read_to_end(&mut raw)?;
    if raw.len() as u64 > MAX_SIDECAR_BYTES {
        return Err(io::Error::new(
            ErrorKind::InvalidData,
            format!("more than the {MAX_SIDECAR_BYTES} bytes a sidecar may have"),
        ));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_and_fifos_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.cast");
        std::fs::write(&real, b"{}\n").unwrap();
        assert!(open_regular(&real).is_ok());
        let link = dir.path().join("link.cast");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let e = open_regular(&link).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(!is_regular(&link).unwrap());
        assert!(!is_regular(&dir.path().join("missing")).unwrap());
        let fifo = dir.path().join("fifo.cast");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Would block forever if it were opened.
        let e = open_regular(&fifo).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }

    #[test]
    fn over_long_lines_are_refused_without_reading_them_whole() {
        let mut reader = io::BufReader::new(io::repeat(b'x'));
        let mut buf = Vec::new();
        let e = read_line_capped(&mut reader, &mut buf).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidData);
        assert!(buf.len() <= MAX_LINE_BYTES + 1);
        let mut reader = io::BufReader::new(&b"ab\ncd"[..]);
        buf.clear();
        assert_eq!(read_line_capped(&mut reader, &mut buf).unwrap(), 3);
        assert_eq!(read_line_capped(&mut reader, &mut buf).unwrap(), 2);
        assert_eq!(buf, b"ab\ncd");
    }
}
