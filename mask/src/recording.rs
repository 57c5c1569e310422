//! The exact masker used for recordings.

use std::sync::Arc;

use crate::core::Core;
use crate::engine::Engine;

/// Masks one output stream exactly: the result does not depend on how the stream is chunked.
///
/// It holds back only the tail of the stream that could still be part of a match (at most the
/// longest match of any rule, plus escape sequences interleaved in it, capped at
/// [`MAX_HELD_BYTES`](super::MAX_HELD_BYTES)); everything before is released by each
/// [`push`](RecordingMasker::push). Bytes held when the stream ends come out of
/// [`finish`](RecordingMasker::finish).
///
/// ```
/// use mask::RuleSet;
///
/// let masker = RuleSet::hipaa().compile()?;
/// let mut rec = masker.recording();
/// let mut out = Vec::new();
/// for chunk in [&b"ssn 123-4"[..], b"5-6789 ok\n"] {
///     out.extend_from_slice(rec.push(chunk));
/// }
/// out.extend_from_slice(rec.finish());
/// assert_eq!(out, b"ssn ***-**-**** ok\n");
/// # Ok::<(), mask::MaskError>(())
/// ```
#[derive(Debug)]
pub struct RecordingMasker {
    core: Core,
    /// Reused output buffer. Invariant: only holds what the last call returned.
    out: Vec<u8>,
}

impl RecordingMasker {
    pub(crate) fn new(engine: Arc<Engine>) -> Self {
        RecordingMasker {
            core: Core::new(engine),
            out: Vec::new(),
        }
    }

    /// Takes the next chunk; returns the bytes now decided, masked (possibly empty).
    pub fn push(&mut self, chunk: &[u8]) -> &[u8] {
        self.out.clear();
        self.core.push(chunk, &mut self.out);
        &self.out
    }

    /// Like [`push`](RecordingMasker::push), appending to a caller's buffer.
    pub fn push_into(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        self.core.push(chunk, out);
    }

    /// Ends the stream and returns the held bytes, masked. The masker can then take a new
    /// stream.
    pub fn finish(&mut self) -> &[u8] {
        self.out.clear();
        self.core.finish(&mut self.out);
        &self.out
    }

    /// Like [`finish`](RecordingMasker::finish), appending to a caller's buffer.
    pub fn finish_into(&mut self, out: &mut Vec<u8>) {
        self.core.finish(out);
    }

    /// Bytes received but not yet released.
    pub fn held(&self) -> usize {
        self.core.held()
    }
}
