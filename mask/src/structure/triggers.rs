//! What the idle tracker searches for: the line breaks followed by the first bytes of a
//! structure (`line_start` in `idle.rs` decides about exactly these lines).

use aho_corasick::packed;
use aho_corasick::AhoCorasick;

/// The first two bytes of lines that may start a structure: rule lines (`----+--`,
/// `---  --`, `-[ RECORD`, `+---+`, `==`, box drawing U+2500 to U+257F) and JSON documents
/// (`{"…`, `{` alone as `jq` prints it, `[{`, …).
pub(super) const STARTS: &[(u8, &[u8])] = &[
    (b'-', b"-+[ "),
    (b'=', b"=+ "),
    (b'+', b"-="),
    (0xe2, b"\x94\x95"),
    (b'{', b"\"\r\n "),
    (b'[', b"{\r\n "),
];

/// The same after a carriage return that is no line end (bash writes one before a command's
/// output; a pager before each line it redraws): what a command's first line may start. Fewer,
/// as the patterns of both (with HL7's four) must stay at most 32, where the vector search is
/// at its fastest.
pub(super) const CR_STARTS: &[(u8, &[u8])] = &[
    (b'-', b"["),
    (b'+', b"-="),
    (0xe2, b"\x94\x95"),
    (b'{', b"\"\r"),
    (b'[', b"{\r"),
];

/// Segment ids that start HL7 reading at the start of a line: a message's header, and a
/// patient segment printed on its own (the other segments are read once a message is).
pub(super) const OPENERS: [&[u8; 3]; 2] = [b"MSH", b"PID"];

/// The line breaks followed by a byte that may start a structure, searched for at once.
#[derive(Debug)]
pub(crate) struct Triggers {
    /// Teddy, where the CPU has the vector instructions it needs.
    teddy: Option<packed::Searcher>,
    /// Otherwise an automaton.
    ac: Option<AhoCorasick>,
    /// Longest pattern, in bytes: what a search must see again when more text comes.
    pub(super) longest: usize,
    /// The second bytes of the patterns after a line feed, and after a carriage return:
    /// what makes the byte-by-byte look take the next line for a candidate.
    pub(super) firsts: [bool; 256],
    pub(super) cr_firsts: [bool; 256],
}

impl Triggers {
    pub(crate) fn new(fields: bool, hl7: bool, fhir: bool) -> Triggers {
        // A line break and the line's first bytes (at least two, so that the vector search
        // compares three bytes at once and rarely stops for nothing: `-rw-r--r--` is no
        // rule line). Exactly the lines `line_start` says start a structure.
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        for (brk, starts) in [(b'\n', STARTS), (b'\r', CR_STARTS)] {
            for &(first, seconds) in starts {
                let wanted = match first {
                    b'{' | b'[' => fields || fhir,
                    _ => fields,
                };
                if wanted {
                    for &second in seconds {
                        patterns.push(vec![brk, first, second]);
                    }
                }
            }
        }
        if hl7 {
            for brk in [b'\n', b'\r'] {
                for id in OPENERS {
                    let mut p = vec![brk];
                    p.extend_from_slice(id);
                    p.push(b'|');
                    patterns.push(p);
                }
            }
        }
        let longest = patterns.iter().map(Vec::len).max().unwrap_or(0);
        let mut firsts = [false; 256];
        let mut cr_firsts = [false; 256];
        for p in &patterns {
            if let (Some(&brk), Some(&b)) = (p.first(), p.get(1)) {
                let table = if brk == b'\r' {
                    &mut cr_firsts
                } else {
                    &mut firsts
                };
                table[usize::from(b)] = true;
            }
        }
        if patterns.is_empty() {
            return Triggers {
                teddy: None,
                ac: None,
                longest,
                firsts,
                cr_firsts,
            };
        }
        let teddy = packed::Config::new()
            .builder()
            .extend(patterns.iter())
            .build();
        let ac = match teddy {
            Some(_) => None,
            None => AhoCorasick::new(&patterns).ok(),
        };
        Triggers {
            teddy,
            ac,
            longest,
            firsts,
            cr_firsts,
        }
    }

    /// Where the first pattern in `hay` starts (its line break).
    pub(super) fn find(&self, hay: &[u8]) -> Option<usize> {
        match (&self.teddy, &self.ac) {
            (Some(t), _) => t.find(hay).map(|m| m.start()),
            (None, Some(ac)) => ac.find(hay).map(|m| m.start()),
            (None, None) => None,
        }
    }

    pub(super) fn enabled(&self) -> bool {
        self.teddy.is_some() || self.ac.is_some()
    }
}
