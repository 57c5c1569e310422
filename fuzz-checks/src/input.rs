//! Reading a fuzz input: where the fuzzer cuts the stream, and what the stream holds.

/// Splits a fuzz input into chunk sizes and a stream: the low 3 bits of the first byte say how
/// many of the following bytes are chunk sizes (cycled; 0 counts as 1), the rest is the
/// stream. With no sizes the stream is one chunk. The fuzzer thus chooses where the stream is
/// cut, and mutating the stream leaves the cuts alone.
pub(crate) fn sizes_and_stream(data: &[u8]) -> (Vec<usize>, &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return (Vec::new(), data);
    };
    let n = usize::from(first & 7).min(rest.len());
    let (sizes, stream) = rest.split_at(n);
    let sizes = sizes.iter().map(|&s| usize::from(s).max(1)).collect();
    (sizes, stream)
}

/// `input` cut at the given chunk sizes (cycled); no sizes: one chunk.
pub(crate) fn chunks<'a>(input: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    if sizes.is_empty() {
        return vec![input];
    }
    let mut out = Vec::new();
    let mut at = 0;
    for &size in sizes.iter().cycle() {
        if at >= input.len() {
            break;
        }
        let end = (at + size).min(input.len());
        out.push(&input[at..end]);
        at = end;
    }
    out
}

/// How many newlines `bytes` holds.
pub(crate) fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}
