//! A set of bytes and a fast forward scan for any member.
//!
//! This is the masker's prefilter: every rule's matches contain at least one byte of a small
//! set (digits and `@` for the `hipaa` pack), so text far from such bytes cannot be part of a
//! match and is skipped without running the automaton.

/// A set of byte values.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ByteSet {
    /// Membership table. A `bool` array (not a bitset) because the scan loop indexes it eight
    /// times per step and a plain load is the cheapest test.
    table: [bool; 256],
}

impl std::fmt::Debug for ByteSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(self.iter().map(|b| b as char))
            .finish()
    }
}

impl ByteSet {
    /// The empty set.
    pub(crate) fn empty() -> Self {
        ByteSet {
            table: [false; 256],
        }
    }

    /// The set of every byte.
    pub(crate) fn full() -> Self {
        ByteSet { table: [true; 256] }
    }

    pub(crate) fn insert(&mut self, b: u8) {
        self.table[usize::from(b)] = true;
    }

    pub(crate) fn insert_range(&mut self, lo: u8, hi: u8) {
        for b in lo..=hi {
            self.insert(b);
        }
    }

    pub(crate) fn union(&mut self, other: &ByteSet) {
        for (a, b) in self.table.iter_mut().zip(other.table.iter()) {
            *a |= *b;
        }
    }

    pub(crate) fn contains(&self, b: u8) -> bool {
        self.table[usize::from(b)]
    }

    pub(crate) fn len(&self) -> usize {
        self.table.iter().filter(|&&x| x).count()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        (0..=255u8).filter(|&b| self.contains(b))
    }
}

/// A compiled forward scanner for a [`ByteSet`].
#[derive(Clone, Debug)]
pub(crate) enum Scanner {
    /// Nothing can match: every scan fails.
    Never,
    /// Every byte matches: every scan succeeds at its start.
    Always,
    One(u8),
    Two(u8, u8),
    Three(u8, u8, u8),
    /// Every byte in an ASCII range `lo..=hi` (a set a few bytes short of it is widened to
    /// it: a prefilter may find more than it must). Eight bytes per step with word
    /// arithmetic, no table: the `hipaa` pack's set is the digits, `:`, `<`, `=` and `@`.
    Range(u8, u8),
    /// Table lookup, eight bytes per step.
    Table(Box<ByteSet>),
}

impl Scanner {
    pub(crate) fn new(set: &ByteSet) -> Self {
        let members: Vec<u8> = set.iter().collect();
        match members[..] {
            [] => Scanner::Never,
            [a] => Scanner::One(a),
            [a, b] => Scanner::Two(a, b),
            [a, b, c] => Scanner::Three(a, b, c),
            _ if members.len() == 256 => Scanner::Always,
            [lo, .., hi] if hi < 0x80 && usize::from(hi - lo) < members.len() + 4 => {
                Scanner::Range(lo, hi)
            }
            _ => Scanner::Table(Box::new(set.clone())),
        }
    }

    /// Position of the first member byte in `hay`, if any.
    #[inline]
    pub(crate) fn find(&self, hay: &[u8]) -> Option<usize> {
        match self {
            Scanner::Never => None,
            Scanner::Always => (!hay.is_empty()).then_some(0),
            Scanner::One(a) => memchr::memchr(*a, hay),
            Scanner::Two(a, b) => memchr::memchr2(*a, *b, hay),
            Scanner::Three(a, b, c) => memchr::memchr3(*a, *b, *c, hay),
            Scanner::Range(lo, hi) => find_range(*lo, *hi, hay),
            Scanner::Table(set) => find_table(&set.table, hay),
        }
    }

    /// Position of the last member byte in `hay`, if any.
    #[inline]
    pub(crate) fn rfind(&self, hay: &[u8]) -> Option<usize> {
        match self {
            Scanner::Never => None,
            Scanner::Always => hay.len().checked_sub(1),
            Scanner::One(a) => memchr::memrchr(*a, hay),
            Scanner::Two(a, b) => memchr::memrchr2(*a, *b, hay),
            Scanner::Three(a, b, c) => memchr::memrchr3(*a, *b, *c, hay),
            Scanner::Range(lo, hi) => hay.iter().rposition(|b| (*lo..=*hi).contains(b)),
            Scanner::Table(set) => hay.iter().rposition(|&b| set.table[usize::from(b)]),
        }
    }
}

/// Flags (high bit of each byte) of the bytes of `x` in `lo..=hi` (`hi < 0x80`): a byte's
/// low seven bits plus `0x80 - lo` carry into its high bit when at least `lo`, plus
/// `0x7f - hi` when above `hi`; bytes with the high bit set are in no ASCII range.
#[inline]
fn in_range(x: u64, lo: u8, hi: u8) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low7 = x & !HIGH;
    let at_least = low7 + ONES * u64::from(0x80 - lo);
    let above = low7 + ONES * u64::from(0x7f - hi);
    at_least & !above & !x & HIGH
}

#[inline]
fn find_range(lo: u8, hi: u8, hay: &[u8]) -> Option<usize> {
    let mut chunks = hay.chunks_exact(8);
    let mut offset = 0;
    for c in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(c);
        let hits = in_range(u64::from_le_bytes(word), lo, hi);
        if hits != 0 {
            return Some(offset + (hits.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|b| (lo..=hi).contains(b))
        .map(|i| offset + i)
}

#[inline]
fn find_table(t: &[bool; 256], hay: &[u8]) -> Option<usize> {
    let mut chunks = hay.chunks_exact(8);
    let mut offset = 0;
    for c in chunks.by_ref() {
        // Branch once per eight bytes: OR the lookups, then locate the hit only on success.
        let any = t[usize::from(c[0])]
            | t[usize::from(c[1])]
            | t[usize::from(c[2])]
            | t[usize::from(c[3])]
            | t[usize::from(c[4])]
            | t[usize::from(c[5])]
            | t[usize::from(c[6])]
            | t[usize::from(c[7])];
        if any {
            return c
                .iter()
                .position(|&b| t[usize::from(b)])
                .map(|i| offset + i);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| t[usize::from(b)])
        .map(|i| offset + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanners_agree_with_naive_search() {
        let hay =
            "the quick brown fox jumps over 12 lazy dogs @ noon; \u{e9}t\u{e9} \x7f?>~".as_bytes();
        let mut sets = vec![ByteSet::empty(), ByteSet::full()];
        let mut digits = ByteSet::empty();
        digits.insert_range(b'0', b'9');
        digits.insert(b'@');
        sets.push(digits);
        let mut one = ByteSet::empty();
        one.insert(b'@');
        sets.push(one);
        let mut three = ByteSet::empty();
        for b in *b"zxq" {
            three.insert(b);
        }
        sets.push(three);
        let mut range = ByteSet::empty();
        range.insert_range(b'0', b'9');
        for b in *b":<=@" {
            range.insert(b);
        }
        assert!(matches!(Scanner::new(&range), Scanner::Range(b'0', b'@')));
        sets.push(range);
        for set in &sets {
            let sc = Scanner::new(set);
            // A range scanner may widen its set to the whole range.
            let wide = match sc {
                Scanner::Range(lo, hi) => {
                    let mut w = ByteSet::empty();
                    w.insert_range(lo, hi);
                    w
                }
                _ => set.clone(),
            };
            let set = &wide;
            for start in 0..hay.len() {
                let naive = hay[start..].iter().position(|&b| set.contains(b));
                assert_eq!(sc.find(&hay[start..]), naive, "{set:?} from {start}");
                let naive = hay[..start].iter().rposition(|&b| set.contains(b));
                assert_eq!(sc.rfind(&hay[..start]), naive, "{set:?} before {start}");
            }
        }
    }
}
