//! Lower-case hex, the encoding of hashes and signatures in sidecars.
//!
//! Hand-written because it is twenty lines and every byte of a sidecar must be predictable.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Encodes bytes as lower-case hex.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Decodes lower-case hex into exactly `N` bytes.
///
/// # Returns
/// `None` for the wrong length, upper-case digits or any other character: one canonical spelling
/// per value keeps the signed message unambiguous.
pub fn decode<const N: usize>(text: &str) -> Option<[u8; N]> {
    let raw = text.as_bytes();
    if raw.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in raw.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_non_canonical() {
        let bytes = [0x00, 0x7f, 0xa5, 0xff];
        let text = encode(&bytes);
        assert_eq!(text, "007fa5ff");
        assert_eq!(decode::<4>(&text), Some(bytes));
        assert_eq!(decode::<4>("007FA5FF"), None);
        assert_eq!(decode::<4>("007fa5f"), None);
        assert_eq!(decode::<3>(&text), None);
        assert_eq!(decode::<1>("g0"), None);
    }
}
