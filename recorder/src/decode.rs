//! Bytes to text with a carry across chunk boundaries.

/// Decodes a byte stream as UTF-8 in chunks of any size.
///
/// A character split across two chunks comes out whole; each maximal invalid sequence becomes
/// one U+FFFD, exactly as [`String::from_utf8_lossy`] would do on the whole stream.
#[derive(Debug, Default)]
pub struct Utf8Decoder {
    /// Invariant: at most 3 bytes, and always the start of a UTF-8 sequence that the bytes seen
    /// so far have not yet completed nor proven invalid.
    carry: Vec<u8>,
}

impl Utf8Decoder {
    /// A decoder with nothing carried.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the text decoded from `bytes` to `out`, keeping an incomplete trailing sequence.
    pub fn decode(&mut self, bytes: &[u8], out: &mut String) {
        if self.carry.is_empty() {
            self.decode_complete(bytes, out);
        } else {
            // Rare (only when a chunk ends mid-character), so one copy is fine and keeps the
            // logic identical to decoding the concatenated stream.
            let mut joined = std::mem::take(&mut self.carry);
            joined.extend_from_slice(bytes);
            self.decode_complete(&joined, out);
        }
    }

    /// Flushes a sequence left incomplete at the end of the stream as U+FFFD.
    pub fn finish(&mut self, out: &mut String) {
        if !self.carry.is_empty() {
            out.push_str(&String::from_utf8_lossy(&self.carry));
            self.carry.clear();
        }
    }

    /// Bytes held back waiting for the rest of a character.
    pub fn pending(&self) -> usize {
        self.carry.len()
    }

    fn decode_complete(&mut self, mut bytes: &[u8], out: &mut String) {
        loop {
            match std::str::from_utf8(bytes) {
                Ok(text) => {
                    out.push_str(text);
                    return;
                }
                Err(err) => {
                    let (valid, rest) = bytes.split_at(err.valid_up_to());
                    // `valid` is valid UTF-8 by the contract of `valid_up_to`.
                    out.push_str(&String::from_utf8_lossy(valid));
                    match err.error_len() {
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            bytes = &rest[bad..];
                        }
                        None => {
                            self.carry.extend_from_slice(rest);
                            return;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;

    fn decode_in_chunks(bytes: &[u8], size: usize) -> String {
        let mut dec = Utf8Decoder::new();
        let mut out = String::new();
        for chunk in bytes.chunks(size) {
            dec.decode(chunk, &mut out);
        }
        dec.finish(&mut out);
        out
    }

    #[test]
    fn split_characters_come_out_whole() {
        let text = "é€😀 ok ✓";
        for size in 1..8 {
            assert_eq!(
                decode_in_chunks(text.as_bytes(), size),
                text,
                "chunk {size}"
            );
        }
    }

    #[test]
    fn invalid_bytes_match_lossy_whatever_the_chunking() {
        let bytes = b"a\xffb\xe2\x82c\xf0\x9f\x98\x80\xc3";
        let expected = String::from_utf8_lossy(bytes).into_owned();
        assert_eq!(expected, "a\u{fffd}b\u{fffd}c😀\u{fffd}");
        for size in 1..bytes.len() + 1 {
            assert_eq!(decode_in_chunks(bytes, size), expected, "chunk {size}");
        }
    }

    #[test]
    fn holds_back_only_an_incomplete_tail() {
        let mut dec = Utf8Decoder::new();
        let mut out = String::new();
        dec.decode(b"x\xe2\x82", &mut out);
        assert_eq!((out.as_str(), dec.pending()), ("x", 2));
        dec.decode(b"\xac", &mut out);
        assert_eq!((out.as_str(), dec.pending()), ("x€", 0));
    }
}
