//! Which bytes every match of a pattern must contain.
//!
//! For a pattern `P` this finds a small byte set `R` such that every match of `P` contains at
//! least one byte of `R`. Together with the longest match length `L`, it lets the scanner skip
//! any stretch of text that is more than `L` bytes away from a byte of `R`: no match can lie
//! there. For the `hipaa` pack `R` is the ten digits and `@`, which are rare in prose.

use regex_syntax::hir::{Class, Hir, HirKind};

use super::byteset::ByteSet;

/// A byte set every match must touch, or `None` when no such set exists (e.g. `a?b?c?`, which
/// would make the caller scan every byte).
///
/// Bytes in `free` cost nothing: they are already scanned for on behalf of other rules, so a
/// choice overlapping them adds nothing to the union.
pub(crate) fn required_bytes(hir: &Hir, free: &ByteSet) -> Option<ByteSet> {
    required(hir, free).map(|r| r.set)
}

struct Required {
    set: ByteSet,
    /// Expected frequency of the set's bytes in terminal text; lower is a better prefilter.
    cost: u32,
}

impl Required {
    fn from_set(set: ByteSet, free: &ByteSet) -> Option<Self> {
        if set.len() == 0 {
            return None;
        }
        let cost = set.iter().filter(|&b| !free.contains(b)).map(weight).sum();
        Some(Required { set, cost })
    }
}

fn required(hir: &Hir, free: &ByteSet) -> Option<Required> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => None,
        HirKind::Literal(lit) => {
            // Any single byte of a literal is required; pick the rarest.
            let b =
                lit.0
                    .iter()
                    .copied()
                    .min_by_key(|&b| if free.contains(b) { 0 } else { weight(b) })?;
            let mut set = ByteSet::empty();
            set.insert(b);
            Required::from_set(set, free)
        }
        HirKind::Class(Class::Bytes(cls)) => {
            let mut set = ByteSet::empty();
            for r in cls.ranges() {
                set.insert_range(r.start(), r.end());
            }
            Required::from_set(set, free)
        }
        HirKind::Class(Class::Unicode(cls)) => {
            let mut set = ByteSet::empty();
            for r in cls.ranges() {
                let (lo, hi) = (u32::from(r.start()), u32::from(r.end()));
                if lo < 0x80 {
                    // Both ends are ASCII here, so the casts cannot truncate.
                    set.insert_range(lo as u8, hi.min(0x7f) as u8);
                }
                if hi >= 0x80 {
                    // Any non-ASCII scalar starts with one of these lead bytes; coarse but sound.
                    set.insert_range(0xc2, 0xf4);
                }
            }
            Required::from_set(set, free)
        }
        HirKind::Repetition(rep) if rep.min >= 1 => required(&rep.sub, free),
        HirKind::Repetition(_) => None,
        HirKind::Capture(cap) => required(&cap.sub, free),
        HirKind::Concat(subs) => subs
            .iter()
            .filter_map(|s| required(s, free))
            .min_by_key(|r| r.cost),
        HirKind::Alternation(subs) => {
            let mut set = ByteSet::empty();
            for sub in subs {
                set.union(&required(sub, free)?.set);
            }
            Required::from_set(set, free)
        }
    }
}

/// Rough relative frequency of a byte in terminal output (higher = more common).
fn weight(b: u8) -> u32 {
    match b {
        b' ' => 60,
        b'a'..=b'z' => 30,
        b'\n' | b'\t' | b'\r' => 20,
        b'A'..=b'Z' => 10,
        b'0'..=b'9' => 3,
        b'@' => 1,
        b'-' | b'.' | b':' | b'/' | b'_' | b',' | b'=' | b'[' | b']' | b'(' | b')' | b'"' => 15,
        0x80..=0xff => 4,
        0x00..=0x1f | 0x7f => 2,
        _ => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(pattern: &str) -> Option<String> {
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(pattern)
            .ok()?;
        required_bytes(&hir, &ByteSet::empty()).map(|s| s.iter().map(char::from).collect())
    }

    #[test]
    fn prefers_rare_bytes() {
        assert_eq!(req(r"\d{3}-\d{2}").as_deref(), Some("-"));
        assert_eq!(req(r"\d{3}\d{2}").as_deref(), Some("0123456789"));
        assert_eq!(req(r"[a-z]{1,5}@[a-z]{1,5}").as_deref(), Some("@"));
        assert_eq!(
            req(r"(?i)ssn:?\s{0,2}(\d{9})").as_deref(),
            Some("0123456789")
        );
        assert_eq!(req(r"ab|x@").as_deref(), Some("@a"));
    }

    #[test]
    fn optional_parts_give_no_guarantee() {
        assert_eq!(req(r"a?b?"), None);
        assert_eq!(req(r"a|b?"), None);
    }
}
