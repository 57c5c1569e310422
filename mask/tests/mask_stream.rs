//! Stream semantics of the maskers: chunking invariance (property tests), escape sequences,
//! bounded memory, and the live masker's hold.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mask::{Masker, Rule, RuleSet, MAX_HELD_BYTES};
use proptest::prelude::*;

fn hipaa() -> &'static Masker {
    static M: OnceLock<Masker> = OnceLock::new();
    M.get_or_init(|| RuleSet::hipaa().compile().unwrap())
}

/// (text as it appears in the stream, the sensitive value that must never appear visibly).
const IDENTIFIERS: &[(&str, &str)] = &[
    ("123-45-6789", "123-45-6789"),
    ("078 05 1120", "078 05 1120"),
    ("SSN: 219099999", "219099999"),
    ("4111111111111111", "4111111111111111"),
    ("5500-0000-0000-0004", "5500-0000-0000-0004"),
    ("jane.doe@example.org", "jane.doe@example.org"),
    ("(555) 234-5678", "234-5678"),
    ("555.234.5678", "555.234.5678"),
    ("DOB: 01/02/1980", "01/02/1980"),
    ("born on March 3, 1975", "March 3, 1975"),
    ("MRN: AB1234567", "AB1234567"),
    ("Member ID XYZ-12345678", "XYZ-12345678"),
    ("1234567893", "1234567893"),
    ("1EG4-TE5-MK73", "1EG4-TE5-MK73"),
];

/// Escape sequences that leave the cursor where it is, interleaved in identifiers and filler;
/// `strip` knows exactly these shapes.
const ESCAPES: &[&str] = &[
    "\x1b[1m",
    "\x1b[0m",
    "\x1b[38;5;208m",
    "\x1b(B\x1b[m",
    "\x1b[m\x1b[K",
    "\x1b]0;title\x07",
    "\x1b]8;;http://h/x\x1b\\",
];

/// Escape sequences that move the cursor or erase, as full-screen programs put them between
/// rows and fields; `strip` knows these too.
const SEPARATORS: &[&str] = &[
    "\x1b[2K",
    "\x1b[2;24H",
    "\x1b[30;183H",
    "\x1b[3C",
    "\x1b[?25l",
    "\x1b7",
    "\x1b8",
    "\x1bM",
];

/// Pieces for `fragments_are_chunking_invariant`.
const FRAGMENTS: &[&[u8]] = &[
    b"123-45-6789",
    b"jane.doe@example.org",
    b"4111 1111 1111 1111",
    b"SSN: 219099999",
    b"(555) 234-5678",
    b"1234512356789",
    b"123",
    b"45",
    b"6789",
    b"abc",
    b"@",
    b".",
    b"-",
    b" ",
    b"\n",
    b"e.rg",
    b"\x1b]",
    b"\x1b]2;vim ",
    b"\x1bP",
    b"\x1b_",
    b"\x1bX",
    b"\x07",
    b"\x1b\\",
    b"\x18",
    b"\x1b",
    b"\x1b[",
    b"\x1b[1m",
    b"\x1b[38;5;2m",
    b"\x1b[K",
    b"\x1b[2;24H",
    b"\x1b7",
    b"\x1b(B",
    b"\x1b#",
    b"1;2",
    b"m",
    b"H",
    b"\xc3\xa9",
    b"\xe4\xb8\xad",
    b"\xff",
];

/// Removes the escape sequences of `ESCAPES` and `SEPARATORS` (CSI, OSC, and ESC with at most
/// one intermediate) to get the visible text.
fn strip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == 0x1b && bytes.get(i + 1).is_some_and(|b| (0x20..=0x2f).contains(b)) {
            i += 3;
        } else if bytes[i] == 0x1b && bytes.get(i + 1).is_some_and(|b| b"78DEMc".contains(b)) {
            i += 2;
        } else if bytes[i] == 0x1b && bytes.get(i + 1) == Some(&b'[') {
            i += 2;
            while i < bytes.len() && !(0x40..=0x7e).contains(&bytes[i]) {
                i += 1;
            }
            i += 1;
        } else if bytes[i] == 0x1b && bytes.get(i + 1) == Some(&b']') {
            i += 2;
            while i < bytes.len()
                && bytes[i] != 0x07
                && !(bytes[i] == 0x1b && bytes.get(i + 1) == Some(&b'\\'))
            {
                i += 1;
            }
            i += if bytes.get(i) == Some(&0x07) { 1 } else { 2 };
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// One piece of a generated stream.
#[derive(Debug, Clone)]
enum Piece {
    Filler(String),
    /// Identifier index, and (position, escape index) pairs to interleave.
    Ident(usize, Vec<(usize, usize)>),
    /// Index into `ESCAPES` followed by `SEPARATORS`.
    Escape(usize),
    /// Identifier index, put in a window title (as shells that show the running command do).
    Title(usize),
    /// Identifier index, glued to what comes before and after by separators only (indices into
    /// `SEPARATORS`), as full-screen programs draw rows and fields.
    Placed(usize, usize, usize),
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        4 => "[a-zA-Z0-9 .:@/\\-\n|]{0,24}".prop_map(Piece::Filler),
        3 => (0..IDENTIFIERS.len(), prop::collection::vec((0usize..24, 0..ESCAPES.len()), 0..3))
            .prop_map(|(i, e)| Piece::Ident(i, e)),
        1 => (0..ESCAPES.len() + SEPARATORS.len()).prop_map(Piece::Escape),
        1 => (0..IDENTIFIERS.len()).prop_map(Piece::Title),
        2 => (0..IDENTIFIERS.len(), 0..SEPARATORS.len(), 0..SEPARATORS.len())
            .prop_map(|(i, a, b)| Piece::Placed(i, a, b)),
    ]
}

/// Builds the stream; returns it and the sensitive values embedded in its visible text and in
/// its window titles.
fn build(pieces: &[Piece]) -> (Vec<u8>, Vec<&'static str>, Vec<&'static str>) {
    let mut out = Vec::new();
    let mut secrets = Vec::new();
    let mut titled = Vec::new();
    for p in pieces {
        match p {
            Piece::Title(i) => {
                let (text, secret) = IDENTIFIERS[*i];
                titled.push(secret);
                out.extend_from_slice(b"\x1b]2;vim ");
                out.extend_from_slice(text.as_bytes());
                out.extend_from_slice(b"\x07");
            }
            Piece::Filler(s) => out.extend_from_slice(s.as_bytes()),
            Piece::Escape(e) => {
                let seq = ESCAPES.iter().chain(SEPARATORS).nth(*e).unwrap();
                out.extend_from_slice(seq.as_bytes());
            }
            Piece::Placed(i, a, b) => {
                let (text, secret) = IDENTIFIERS[*i];
                secrets.push(secret);
                out.extend_from_slice(SEPARATORS[*a].as_bytes());
                out.extend_from_slice(text.as_bytes());
                out.extend_from_slice(SEPARATORS[*b].as_bytes());
            }
            Piece::Ident(i, escapes) => {
                let (text, secret) = IDENTIFIERS[*i];
                secrets.push(secret);
                // Delimiters no rule spans, so filler cannot change whether the identifier
                // matches.
                out.extend_from_slice(b" ; ");
                let mut cuts: Vec<(usize, usize)> = escapes
                    .iter()
                    .map(|&(at, e)| (at % (text.len() + 1), e))
                    .collect();
                cuts.sort();
                let mut last = 0;
                for (at, e) in cuts {
                    out.extend_from_slice(&text.as_bytes()[last..at]);
                    out.extend_from_slice(ESCAPES[e].as_bytes());
                    last = at;
                }
                out.extend_from_slice(&text.as_bytes()[last..]);
                out.extend_from_slice(b" ; ");
            }
        }
    }
    (out, secrets, titled)
}

/// Splits `input` at the given chunk sizes (cycled); size 0 means one byte at a time.
fn chunks<'a>(input: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut k = 0;
    while i < input.len() {
        let n = sizes
            .get(k % sizes.len().max(1))
            .copied()
            .unwrap_or(1)
            .max(1);
        let end = (i + n).min(input.len());
        out.push(&input[i..end]);
        i = end;
        k += 1;
    }
    out
}

/// `input` masks to `want` in one piece, in two pieces cut anywhere, and byte by byte.
fn masks_alike_in_every_split(m: &Masker, input: &[u8], want: &str) {
    let whole = m.mask(input);
    assert_eq!(String::from_utf8_lossy(&whole), want);
    for cut in 1..input.len() {
        let parts: Vec<&[u8]> = vec![&input[..cut], &input[cut..]];
        assert_eq!(mask_chunked(m, &parts), whole, "cut at {cut}");
    }
    assert_eq!(mask_chunked(m, &chunks(input, &[1])), whole);
}

fn mask_chunked(m: &Masker, parts: &[&[u8]]) -> Vec<u8> {
    let mut rec = m.recording();
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(rec.push(p));
        assert!(
            rec.held() <= m.max_match_len() + 64,
            "held {} bytes",
            rec.held()
        );
    }
    out.extend_from_slice(rec.finish());
    out
}

fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        1 => Just(vec![1]),
        3 => prop::collection::vec(1usize..40, 1..8),
    ]
}

/// Chunk sizes for documents of structures: also long chunks, which the structure tracker
/// searches with vector instructions rather than byte by byte.
fn long_chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![
        1 => Just(vec![1]),
        2 => prop::collection::vec(1usize..40, 1..8),
        2 => prop::collection::vec(40usize..400, 1..4),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    /// Any chunking gives the one-shot output, and no embedded identifier survives.
    #[test]
    fn chunking_never_changes_the_output(
        pieces in prop::collection::vec(piece(), 1..10),
        sizes in chunk_sizes(),
    ) {
        let m = hipaa();
        let (input, secrets, titled) = build(&pieces);
        let whole = m.mask(&input);
        let chunked = mask_chunked(m, &chunks(&input, &sizes));
        prop_assert_eq!(&chunked, &whole);
        for s in titled {
            prop_assert!(!contains(&whole, s.as_bytes()), "{:?} in {:?}", s, String::from_utf8_lossy(&whole));
        }
        let visible = strip(&whole);
        for s in secrets {
            prop_assert!(!contains(&visible, s.as_bytes()), "{:?} visible in {:?}", s, String::from_utf8_lossy(&visible));
        }
        // Masks keep the visible length (layout).
        prop_assert_eq!(visible.len(), strip(&input).len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// Arbitrary bytes (broken escapes, invalid UTF-8, controls) are chunking-invariant too.
    #[test]
    fn arbitrary_bytes_are_chunking_invariant(
        input in prop::collection::vec(prop_oneof![
            3 => prop::sample::select(b"0123456789-@. \x1b[]m;\x07\\PX_\x18HK7(#".to_vec()),
            1 => any::<u8>(),
        ], 0..300),
        sizes in chunk_sizes(),
    ) {
        let m = hipaa();
        let whole = m.mask(&input);
        prop_assert_eq!(mask_chunked(m, &chunks(&input, &sizes)), whole);
    }

    /// Fragments of identifiers, escapes, strings and stray bytes in any order: pieces that
    /// can combine into identifiers across one another (a digit run that fails Luhn and then
    /// becomes an e-mail address, a title ended by the next string) are chunking-invariant.
    #[test]
    fn fragments_are_chunking_invariant(
        input in prop::collection::vec(prop_oneof![
            6 => prop::sample::select(FRAGMENTS).prop_map(<[u8]>::to_vec),
            1 => any::<u8>().prop_map(|b| vec![b]),
        ], 0..40).prop_map(|v| v.concat()),
        sizes in chunk_sizes(),
    ) {
        let m = hipaa();
        let whole = m.mask(&input);
        prop_assert_eq!(mask_chunked(m, &chunks(&input, &sizes)), whole);
    }

    /// Pauses anywhere in arbitrary output (escapes, strings and characters cut off by the
    /// pause) leave the recording view exact.
    #[test]
    fn pauses_leave_the_recording_view_exact(
        input in prop::collection::vec(prop_oneof![
            6 => prop::sample::select(FRAGMENTS).prop_map(<[u8]>::to_vec),
            1 => any::<u8>().prop_map(|b| vec![b]),
        ], 0..40).prop_map(|v| v.concat()),
        sizes in chunk_sizes(),
        pauses in prop::collection::vec(any::<bool>(), 1..64),
    ) {
        let m = hipaa();
        let mut dual = m.dual(Duration::from_millis(15));
        let mut now = Instant::now();
        let mut rec = Vec::new();
        for (i, p) in chunks(&input, &sizes).into_iter().enumerate() {
            rec.extend_from_slice(dual.push(p, now).recording);
            if pauses[i % pauses.len()] {
                now += Duration::from_millis(20);
                dual.poll(now);
            }
        }
        rec.extend_from_slice(dual.finish().recording);
        prop_assert_eq!(rec, m.mask(&input));
    }

    /// A live masker whose hold never expires behaves exactly like the recording masker.
    #[test]
    fn live_without_expiry_equals_recording(
        pieces in prop::collection::vec(piece(), 1..6),
        sizes in chunk_sizes(),
    ) {
        let m = hipaa();
        let (input, _, _) = build(&pieces);
        let mut live = m.live(Duration::from_secs(3600));
        let now = Instant::now();
        let mut out = Vec::new();
        for p in chunks(&input, &sizes) {
            out.extend_from_slice(live.push(p, now));
            out.extend_from_slice(live.poll(now));
        }
        out.extend_from_slice(live.finish());
        prop_assert_eq!(out, m.mask(&input));
    }

    /// One scan, two views: whatever the screen is shown early (echo, expired holds), the
    /// recording view is exactly the recording masker's; and the screen, with early releases
    /// at random points, shows every byte once, in order, masked or as it came.
    #[test]
    fn dual_recording_view_ignores_screen_releases(
        pieces in prop::collection::vec(piece(), 1..6),
        sizes in chunk_sizes(),
        early in prop::collection::vec(0u8..3, 1..64),
    ) {
        let m = hipaa();
        let (input, _, _) = build(&pieces);
        let mut dual = m.dual(Duration::from_secs(3600));
        let now = Instant::now();
        let (mut rec, mut screen) = (Vec::new(), Vec::new());
        for (i, p) in chunks(&input, &sizes).into_iter().enumerate() {
            let got = dual.push(p, now);
            rec.extend_from_slice(got.recording);
            screen.extend_from_slice(&got.screen());
            match early[i % early.len()] {
                1 => screen.extend_from_slice(dual.show_held()),
                2 => screen.extend_from_slice(dual.show_settled()),
                _ => {}
            }
        }
        let got = dual.finish();
        rec.extend_from_slice(got.recording);
        screen.extend_from_slice(&got.screen());
        prop_assert_eq!(&rec, &m.mask(&input));
        // Plain ASCII input: masking keeps lengths, so each screen byte is the input's or `*`.
        if input.is_ascii() {
            prop_assert_eq!(screen.len(), input.len());
            for (s, r) in screen.iter().zip(&input) {
                prop_assert!(s == r || *s == b'*');
            }
        }
    }
}

#[test]
fn sees_through_escape_sequences() {
    let m = hipaa();
    assert_eq!(
        m.mask(b"\x1b[1m123\x1b[0m-45-6789"),
        b"\x1b[1m***\x1b[0m-**-****"
    );
    assert_eq!(
        m.mask(b"4111\x1b[38;5;2m 1111\x1b]0;t\x07 1111 1111\x1b[m"),
        b"****\x1b[38;5;2m ****\x1b]0;t\x07 **** ****\x1b[m"
    );
    // Digits inside escape parameters are never masked.
    assert_eq!(m.mask(b"\x1b[123;45;6789m ok"), b"\x1b[123;45;6789m ok");
}

/// Full-screen programs separate rows and fields with cursor moves and erases, not newlines;
/// the masker must not read the text on either side as one word.
#[test]
fn cursor_moves_and_erases_separate_what_they_stand_between() {
    let m = hipaa();
    let cases: &[(&[u8], &str)] = &[
        // vim (defaults.vim): each row ends with the cursor moved to the next row, the rest
        // of the line erased on the way.
        (
            b"\x1b[1;1Hrow 002 123-45-6002\x1b[2;24H\x1b[K\x1b[3;1Hrow 003 123-45-6003\x1b[3;24H\x1b[K",
            "\x1b[1;1Hrow 002 ***-**-****\x1b[2;24H\x1b[K\x1b[3;1Hrow 003 ***-**-****\x1b[3;24H\x1b[K",
        ),
        // vim's ruler, drawn right after the last row.
        (
            b"row 029 123-45-6029\x1b[30;183H1,1\x1b[11CAll",
            "row 029 ***-**-****\x1b[30;183H1,1\x1b[11CAll",
        ),
        // The line erased, then more text: what was drawn before is gone from the row.
        (b"123-45-6789\x1b[2Kabc", "***-**-****\x1b[2Kabc"),
        (b"123-45-6789\x1b[1Kabc", "***-**-****\x1b[1Kabc"),
        (b"123-45-6789\x1b[2Jabc", "***-**-****\x1b[2Jabc"),
        // Cursor positioning between two SSNs.
        (
            b"123-45-6789\x1b[5;10H219-09-9999",
            "***-**-****\x1b[5;10H***-**-****",
        ),
        // An e-mail address followed by a cursor move and a ruler or a word: the address is
        // masked, what follows the move is not taken for its top-level domain.
        (
            b"jane.doe@example.org\x1b[30;183H1,1",
            "****.***@*******.***\x1b[30;183H1,1",
        ),
        (
            b"jane.doe@example.org\x1b[1;70Hrow",
            "****.***@*******.***\x1b[1;70Hrow",
        ),
        // Each kind of move: relative moves, columns, rows, erasing before the cursor,
        // scrolling, inserting and deleting lines, scroll regions, modes (the alternate
        // screen), save and restore cursor, index, next line, reverse index, reset.
        (
            b"123-45-6789\x1b[2A1\x1b[B2\x1b[3C3\x1b[D4\x1b[E5\x1b[F6\x1b[7G7\x1b[8d8\x1b[e9\x1b[`0",
            "***-**-****\x1b[2A1\x1b[B2\x1b[3C3\x1b[D4\x1b[E5\x1b[F6\x1b[7G7\x1b[8d8\x1b[e9\x1b[`0",
        ),
        (
            b"1\x1b[a123-45-6789\x1b[2J2\x1b[1K3\x1b[L4\x1b[M5\x1b[3J6\x1b[2K7\x1b[S8\x1b[T9\x1b[1;29r0",
            "1\x1b[a***-**-****\x1b[2J2\x1b[1K3\x1b[L4\x1b[M5\x1b[3J6\x1b[2K7\x1b[S8\x1b[T9\x1b[1;29r0",
        ),
        (
            b"0\x1b[?1049h123-45-6789\x1b78\x1b81\x1bD2\x1bE3\x1bM4\x1bc5\x1b#86",
            "0\x1b[?1049h***-**-****\x1b78\x1b81\x1bD2\x1bE3\x1bM4\x1bc5\x1b#86",
        ),
        // A label and its value placed apart on one row: still the label's value.
        (b"MRN:\x1b[12GAB1234567", "MRN:\x1b[12G*********"),
        (
            b"SSN\x1b[1;5H\x1b[K219099999",
            "SSN\x1b[1;5H\x1b[K*********",
        ),
    ];
    for (input, want) in cases {
        masks_alike_in_every_split(m, input, want);
    }
}

/// Colours and other sequences that leave the cursor where it is are no separators: an
/// identifier drawn in several colours (syntax highlighting, a search match) is one identifier.
#[test]
fn sequences_that_do_not_move_the_cursor_stay_transparent() {
    let m = hipaa();
    let cases: &[(&[u8], &str)] = &[
        (b"123-45-\x1b[1m6789", "***-**-\x1b[1m****"),
        // grep --color: SGR and erase to the end of the line around the match.
        (
            b"123-\x1b[01;31m\x1b[K45\x1b[m\x1b[K-6789",
            "***-\x1b[01;31m\x1b[K**\x1b[m\x1b[K-****",
        ),
        // Erasing and editing at the cursor: the next character is drawn right after.
        (
            b"123\x1b[0K-45\x1b[J-67\x1b[4X89 \x1b[P1234567893\x1b[@ ok",
            "***\x1b[0K-**\x1b[J-**\x1b[4X** \x1b[P**********\x1b[@ ok",
        ),
        // curses' attribute reset on xterm: a character set designation, then SGR.
        (
            b"123-45-\x1b[7m67\x1b(B\x1b[m89 ok",
            "***-**-\x1b[7m**\x1b(B\x1b[m** ok",
        ),
        // Cursor style, status queries, keypad modes.
        (
            b"123\x1b[2 q-45\x1b[6n-67\x1b[c89\x1b=\x1b> ok",
            "***\x1b[2 q-**\x1b[6n-**\x1b[c**\x1b=\x1b> ok",
        ),
        (
            b"jane.doe@\x1b[38;5;208mexample\x1b[0m.org",
            "****.***@\x1b[38;5;208m*******\x1b[0m.***",
        ),
    ];
    for (input, want) in cases {
        masks_alike_in_every_split(m, input, want);
    }
}

/// Text after an erase to the end of the line is drawn right after the text before it: the
/// masker reads the two together, as the screen shows them (`123-45-6789abc` is no SSN on the
/// screen or anywhere else).
#[test]
fn an_erase_to_the_end_of_the_line_separates_nothing() {
    let m = hipaa();
    for (erase, glued) in [
        (&b"123-45-6789\x1b[Kabc"[..], &b"123-45-6789abc"[..]),
        (b"abc\x1b[K123-45-6789", b"abc123-45-6789"),
        (b"jane@example.org\x1b[0Kxyz1", b"jane@example.orgxyz1"),
    ] {
        let plain = m.mask(glued);
        let cut = erase.iter().position(|&b| b == 0x1b).unwrap();
        let mut want = plain[..cut].to_vec();
        want.extend_from_slice(&erase[cut..cut + erase.len() - glued.len()]);
        want.extend_from_slice(&plain[cut..]);
        masks_alike_in_every_split(m, erase, &String::from_utf8_lossy(&want));
    }
}

#[test]
fn hits_next_to_separators_report_the_identifier_only() {
    let m = hipaa();
    let input = b"a\x1b[2K123-45-6789\x1b[2;1H\x1b[Kjane@x.org\x1b[30;1H1,1";
    let r = m.mask_test(input);
    let hits: Vec<(&str, &[u8])> = r
        .hits
        .iter()
        .map(|h| (h.rule.as_str(), &input[h.range.clone()]))
        .collect();
    assert_eq!(
        hits,
        [("ssn", &b"123-45-6789"[..]), ("email", &b"jane@x.org"[..])]
    );
    // A rule whose group may take in the break: its range stops at the last byte masked.
    let mut set = RuleSet::new();
    set.replace(Rule::custom("code", r"#(\d{4}\s?)").with_group(1));
    let m = set.compile().unwrap();
    let input = b"#1234\x1b[2Kx #5678\x1b[2;1H\x1b[Ky";
    let r = m.mask_test(input);
    assert_eq!(r.masked, b"#****\x1b[2Kx #****\x1b[2;1H\x1b[Ky");
    let ranges: Vec<&[u8]> = r.hits.iter().map(|h| &input[h.range.clone()]).collect();
    assert_eq!(ranges, [&b"1234"[..], b"5678"]);
}

#[test]
fn window_titles_and_hyperlink_targets_are_masked_as_text_of_their_own() {
    let m = hipaa();
    let cases: &[(&[u8], &[u8])] = &[
        // zsh and tmux put the running command in the title; ST- and BEL-terminated.
        (
            b"\x1b]2;grep 123-45-6789 pt.csv\x07$ ",
            b"\x1b]2;grep ***-**-**** pt.csv\x07$ ",
        ),
        (
            b"\x1b]8;;mailto:jane.doe@example.org\x1b\\mail\x1b]8;;\x1b\\",
            b"\x1b]8;;mailto:****.***@*******.***\x1b\\mail\x1b]8;;\x1b\\",
        ),
        // A title is not glued to the text around it: neither half is an identifier here.
        (b"123-45\x1b]0;-6789\x07 ok", b"123-45\x1b]0;-6789\x07 ok"),
        // Titles do not stop matching through the sequence in visible text.
        (
            b"123\x1b]0;t 078-05-1120\x07-45-6789",
            b"***\x1b]0;t ***-**-****\x07-**-****",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(&m.mask(input), want, "{}", String::from_utf8_lossy(input));
    }
    // Held until it ends, whatever the chunking; a string cut off by the end of the stream
    // is matched as it is.
    let input = b"\x1b]0;SSN 123-45-6789\x07 and \x1b]0;MRN: AB1234567";
    let whole = m.mask(input);
    assert_eq!(
        whole,
        b"\x1b]0;SSN ***-**-****\x07 and \x1b]0;MRN: *********".to_vec()
    );
    let mut rec = m.recording();
    let mut out = Vec::new();
    for b in input.chunks(1) {
        out.extend_from_slice(rec.push(b));
    }
    out.extend_from_slice(rec.finish());
    assert_eq!(out, whole);
    // A payload too long to read as a title (clipboard data, an image) is masked wholesale
    // and not held back.
    let mut long = b"\x1b]52;c;".to_vec();
    long.extend(std::iter::repeat_n(b'A', 10_000));
    let mut rec = m.recording();
    let out = rec.push(&long).to_vec();
    assert!(rec.held() < 4096 + 16, "held {}", rec.held());
    assert!(out.starts_with(b"\x1b]**;*;****"), "{:?}", &out[..20]);
    assert!(!out.contains(&b'A'));
}

#[test]
fn a_rule_that_takes_over_from_a_rejected_match_is_waited_for() {
    // Thirteen digits fail Luhn as a card number; the same text is the start of an e-mail
    // address, which must not be decided before its domain has arrived.
    let m = hipaa();
    let input = b"1234512356789@e.rg";
    let whole = m.mask(input);
    assert_eq!(whole, b"*************@*.**".to_vec());
    for cut in 1..input.len() {
        let parts: Vec<&[u8]> = vec![&input[..cut], &input[cut..]];
        assert_eq!(mask_chunked(m, &parts), whole, "cut at {cut}");
    }
}

#[test]
fn strings_that_follow_each_other_are_separate_payloads() {
    let m = hipaa();
    // A long payload ended by the next string's introducer: the introducer is kept, whatever
    // the chunking.
    let mut input = b"\x1b]".to_vec();
    input.extend(std::iter::repeat_n(b'A', 4097));
    input.extend_from_slice(b"\x1bXb\x07");
    let whole = m.mask(&input);
    assert!(
        whole.ends_with(b"\x1bXb\x07"),
        "{:?}",
        &whole[whole.len() - 8..]
    );
    assert_eq!(mask_chunked(m, &[&input[..4101], &input[4101..]]), whole);
    // A short title followed by a flood of empty strings is not held as one growing string.
    let mut input = b"\x1b]0;hello".to_vec();
    for _ in 0..33_000 {
        input.extend_from_slice(b"\x1b]");
    }
    input.push(0x07);
    let whole = m.mask(&input);
    assert!(whole.starts_with(b"\x1b]0;hello\x1b]"));
    let mut rec = m.recording();
    let mut out = Vec::new();
    for c in input.chunks(1000) {
        out.extend_from_slice(rec.push(c));
        assert!(rec.held() < 4096, "held {}", rec.held());
    }
    out.extend_from_slice(rec.finish());
    assert_eq!(out, whole);
}

#[test]
fn streams_sharing_an_engine_do_not_see_each_others_automaton_states() {
    // The lazy automaton's cache is shared through a pool; a rule with very many states makes
    // one stream's text fill and clear it while another stream waits in the middle of an
    // identifier. The waiting stream must not step on from a state the clear erased.
    let mut set = RuleSet::new();
    set.replace(Rule::custom("ssn", r"\d{3}-\d{2}-\d{4}"));
    set.replace(Rule::custom("many-states", r"[ab]{0,60}a[ab]{12}c"));
    let m = set.compile().unwrap();
    let parts: [&[u8]; 3] = [b"xx 123-45-", b"67", b"89 done\n"];
    let want = m.mask(&parts.concat());
    assert_eq!(want, b"xx ***-**-**** done\n");
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut junk = vec![0u8; 4096];
    for trial in 0..20 {
        let mut a = m.recording();
        let mut out = a.push(parts[0]).to_vec();
        let mut b = m.recording();
        for _ in 0..=trial {
            for x in junk.iter_mut() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *x = if seed & 1 == 0 { b'a' } else { b'b' };
            }
            b.push(&junk);
        }
        b.finish();
        out.extend_from_slice(a.push(parts[1]));
        out.extend_from_slice(a.push(parts[2]));
        out.extend_from_slice(a.finish());
        assert_eq!(out, want, "trial {trial}");
    }
}

#[test]
fn a_group_that_takes_no_part_masks_nothing_but_keeps_its_match() {
    let mut set = RuleSet::new();
    set.replace(Rule::custom("r0", r"a(\d)?b").with_group(1));
    set.replace(Rule::custom("r1", r"b(c)\d{4}").with_group(1));
    set.replace(Rule::custom("r2", r"c\d{4}"));
    let m = set.compile().unwrap();
    // r0 takes "ab" (its group is absent), so r1 cannot start at "b"; r2 masks "c1234".
    assert_eq!(m.mask(b"abc1234"), b"ab*****");
}

#[test]
fn a_match_ending_inside_a_character_masks_all_of_it() {
    // `.` matches single bytes, so a match can stop inside a multi-byte character; the mask
    // covers the whole character, in display columns, whatever the chunking.
    let mut set = RuleSet::new();
    set.replace(Rule::custom("name", r"(?i)name:\s?(.{1,8})").with_group(1));
    set.replace(Rule::custom("n", r"n:(.{1,6})").with_group(1));
    let m = set.compile().unwrap();
    for (input, want) in [
        ("n:\u{e9}\u{4e2d}\u{6587}!", "n:*****!"),
        (
            "name: \u{5c71}\u{7530}\u{592a}\u{90ce}",
            "name: ******\u{90ce}",
        ),
    ] {
        masks_alike_in_every_split(&m, input.as_bytes(), want);
    }
}

#[test]
fn a_match_starting_inside_a_character_masks_all_of_it() {
    // A rule beginning with `.` can start on a character's second byte; the character's first
    // byte is masked with it (never released alone), whatever the chunking.
    let mut set = RuleSet::new();
    set.replace(Rule::custom("code", r".\d{4}"));
    set.replace(Rule::custom("tag", r"(.\d{3})y").with_group(1));
    let m = set.compile().unwrap();
    for (input, want) in [
        ("id \u{e9}1234 ok", "id ***** ok"),
        ("\u{4e2d}5678", "******"),
        ("\u{1f600}4321!", "******!"),
        ("a \u{e9}123y b", "a ****y b"),
    ] {
        masks_alike_in_every_split(&m, input.as_bytes(), want);
    }
    // A stray continuation byte belongs to no character: only itself is masked.
    assert_eq!(m.mask(b"a \x809999"), b"a *****");

    // A rule that can start on a continuation byte but not on a lead byte: the lead byte must
    // not go out alone while the rest of its character has not arrived.
    let mut set = RuleSet::new();
    set.replace(Rule::custom("cont", r"[\x80-\xbf]\d{4}"));
    // A group that takes no part, next to a character: nothing around it is masked.
    set.replace(Rule::custom("empty", r"\d{4}(z)?.").with_group(1));
    let m = set.compile().unwrap();
    for (input, want) in [
        ("x\u{e9}1234!", "x*****!"),
        ("5678\u{e9}!", "5678\u{e9}!"),
        ("5678\u{4e2d}x", "5678\u{4e2d}x"),
    ] {
        masks_alike_in_every_split(&m, input.as_bytes(), want);
    }
}

#[test]
fn clean_text_is_released_at_once_and_only_the_tail_is_held() {
    let m = hipaa();
    let mut rec = m.recording();
    assert_eq!(rec.push(b"total 12\n"), b"total 12\n");
    assert_eq!(rec.held(), 0);
    // "123-45-67" could still become an SSN: held. "ls " before it is released.
    assert_eq!(rec.push(b"ls 123-45-67"), b"ls ");
    assert_eq!(rec.held(), 9);
    assert_eq!(rec.push(b"89\n"), b"***-**-****\n");
    assert_eq!(rec.finish(), b"");
    // A cursor move ends the row: nothing after it can change what was drawn before it, so
    // an editor that parks the cursor after drawing gets its screen at once, masked.
    assert_eq!(
        rec.push(b"~\r\n123-45-6789\x1b[0m\x1b[1;1H"),
        b"~\r\n***-**-****\x1b[0m\x1b[1;1H"
    );
    assert_eq!(rec.held(), 0);
    // At end of stream held bytes are decided with end-of-text semantics.
    assert_eq!(rec.push(b"x 123-45-6789"), b"x ");
    assert_eq!(rec.finish(), b"***-**-****");
}

#[test]
fn memory_is_bounded_by_the_longest_match() {
    let m = hipaa();
    let mut rec = m.recording();
    let line = b"4111-1111-1111-1111-2222-3333 a.b.c.d.e.f.g@ 555-234-56 SSN: 12345 ";
    let mut max_held = 0;
    let mut out = 0;
    for _ in 0..2_000 {
        for c in line.chunks(7) {
            out += rec.push(c).len();
            max_held = max_held.max(rec.held());
        }
    }
    out += rec.finish().len();
    assert_eq!(out, line.len() * 2_000);
    assert!(max_held <= m.max_match_len() + 1, "held {max_held}");
}

#[test]
fn escape_floods_inside_a_candidate_fail_closed() {
    let m = hipaa();
    let mut rec = m.recording();
    let mut out = Vec::new();
    out.extend_from_slice(rec.push(b"id 123-45-"));
    for _ in 0..20_000 {
        out.extend_from_slice(rec.push(b"\x1b[1m"));
        assert!(rec.held() <= MAX_HELD_BYTES + 8);
    }
    out.extend_from_slice(rec.push(b"6789 end"));
    out.extend_from_slice(rec.finish());
    let visible = strip(&out);
    assert_eq!(visible, b"id ***-**-**** end");
}

#[test]
fn live_masker_releases_on_deadline() {
    let m = hipaa();
    let hold = Duration::from_millis(15);
    let mut live = m.live(hold);
    let t0 = Instant::now();
    // A complete identifier inside one chunk is masked immediately.
    assert_eq!(live.push(b"ssn 123-45-6789\n", t0), b"ssn ***-**-****\n");
    assert_eq!(live.next_deadline(), None);
    // A possible prefix is held until the deadline...
    assert_eq!(live.push(b"x 123-45", t0), b"x ");
    assert_eq!(live.next_deadline(), Some(t0 + hold));
    assert_eq!(live.poll(t0 + Duration::from_millis(5)), b"");
    // ...and shown as is when it expires (documented trade-off).
    assert_eq!(live.poll(t0 + hold), b"123-45");
    assert_eq!(live.next_deadline(), None);
    // The rest, arriving late, is still masked where it is still held.
    let t1 = t0 + Duration::from_millis(40);
    assert_eq!(live.push(b"-6789 y", t1), b"-**** ");
    assert_eq!(live.finish(), b"y");
}

#[test]
fn live_deadline_follows_the_oldest_held_byte() {
    let m = hipaa();
    let hold = Duration::from_millis(15);
    let mut live = m.live(hold);
    let t0 = Instant::now();
    assert_eq!(live.push(b"call 555-", t0), b"call ");
    let t1 = t0 + Duration::from_millis(10);
    assert_eq!(live.push(b"234-", t1), b"");
    assert_eq!(live.next_deadline(), Some(t0 + hold));
    // Completed before the deadline: masked.
    assert_eq!(live.push(b"5678\n", t1), b"***-***-****\n");
    assert_eq!(live.next_deadline(), None);
}

/// Output that stops (a prompt, `printf` then `sleep`, an editor waiting for a key) with a
/// complete identifier at its end: when the hold expires the screen gets it masked, as if the
/// stream had ended there.
#[test]
fn a_pause_never_shows_a_complete_identifier() {
    let m = hipaa();
    let hold = Duration::from_millis(15);
    for (input, rest) in [
        (&b"ssn 123-45-6789"[..], &b"\n"[..]),
        (b"card 4111 1111 1111 1111", b"\n"),
        (b"mail jane.doe@example.org", b"\n"),
        // The row, then attributes reset, then nothing.
        (b"~\r\n123-45-6789\x1b[0m", b"\x1b[1;1Hj"),
        // A sequence cut off by the pause goes out as it came; the rest follows it.
        (b"ssn 123-45-6789\x1b[3", b"1mok"),
        // A window title the pause cuts off is masked as it is.
        (b"\x1b]0;ssn 123-45-6789", b"\x07$ "),
    ] {
        let want = m.mask(input);
        let mut live = m.live(hold);
        let t0 = Instant::now();
        let mut screen = live.push(input, t0).to_vec();
        assert!(live.next_deadline().is_some(), "{input:?} not held");
        screen.extend_from_slice(live.poll(t0 + hold));
        assert_eq!(
            String::from_utf8_lossy(&screen),
            String::from_utf8_lossy(&want),
            "{input:?}"
        );
        assert_eq!(live.next_deadline(), None);
        // What comes next is shown after it, once; what was shown is not shown again.
        let t1 = t0 + Duration::from_millis(500);
        screen.extend_from_slice(live.push(rest, t1));
        screen.extend_from_slice(live.finish());
        let mut all = want.clone();
        all.extend_from_slice(rest);
        assert_eq!(
            String::from_utf8_lossy(&screen),
            String::from_utf8_lossy(&all),
            "{input:?} then {rest:?}"
        );
    }
}

#[test]
fn a_pause_inside_a_character_masks_by_the_bytes_received() {
    // A rule matching single bytes (`.`) and a chunk that ends inside a character: the part
    // received is what the pause decides on, and nothing of the name is shown as it is.
    let mut set = RuleSet::new();
    set.replace(Rule::custom("name", r"(?i)name:\s?(.{1,8})").with_group(1));
    let m = set.compile().unwrap();
    let input = "name: \u{5c71}\u{7530}".as_bytes();
    let (first, rest) = input.split_at(input.len() - 1);
    let mut live = m.live(Duration::from_millis(15));
    let t0 = Instant::now();
    let mut screen = live.push(first, t0).to_vec();
    // The name so far: two columns for the whole character, one for each byte of the cut one.
    screen.extend_from_slice(live.poll(t0 + Duration::from_millis(15)));
    assert_eq!(String::from_utf8_lossy(&screen), "name: ****");
    // The rest of the character adds nothing: its mask was shown already.
    screen.extend_from_slice(live.push(rest, t0 + Duration::from_millis(40)));
    screen.extend_from_slice(live.finish());
    assert_eq!(String::from_utf8_lossy(&screen), "name: ****");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5_000, ..ProptestConfig::default() })]

    /// Output with pauses anywhere: bytes released because a hold expired are exactly what the
    /// one-shot masking of the stream so far shows for them (so an identifier complete at the
    /// pause is masked on the screen), and every other screen byte is the recording's. Plain
    /// ASCII keeps lengths, so screen and input line up byte for byte.
    #[test]
    fn a_pause_shows_what_the_stream_so_far_masks(
        pieces in prop::collection::vec(piece(), 1..6),
        sizes in chunk_sizes(),
        pauses in prop::collection::vec(0u8..3, 1..64),
    ) {
        let m = hipaa();
        let (input, _, _) = build(&pieces);
        prop_assume!(input.is_ascii());
        let hold = Duration::from_millis(15);
        let mut dual = m.dual(hold);
        let mut now = Instant::now();
        let mut screen = Vec::new();
        // (screen range, length of the input prefix it was decided on; None: the whole input)
        let mut parts: Vec<(std::ops::Range<usize>, Option<usize>)> = Vec::new();
        let mut fed = 0;
        let mut note = |screen: &mut Vec<u8>, bytes: &[u8], prefix: Option<usize>| {
            let at = screen.len();
            screen.extend_from_slice(bytes);
            parts.push((at..screen.len(), prefix));
        };
        for (i, p) in chunks(&input, &sizes).into_iter().enumerate() {
            fed += p.len();
            let got = dual.push(p, now);
            note(&mut screen, &got.recording[got.screen_from..], None);
            note(&mut screen, got.screen_extra, Some(fed));
            match pauses[i % pauses.len()] {
                // A pause noticed by the timer.
                1 => {
                    now += Duration::from_millis(20);
                    let b = dual.poll(now).to_vec();
                    note(&mut screen, &b, Some(fed));
                }
                // A pause noticed when the next chunk arrives.
                2 => now += Duration::from_millis(20),
                _ => {}
            }
        }
        let got = dual.finish();
        note(&mut screen, &got.recording[got.screen_from..], None);
        note(&mut screen, got.screen_extra, Some(input.len()));
        prop_assert_eq!(screen.len(), input.len());
        let whole = m.mask(&input);
        for (r, prefix) in parts {
            let want = match prefix {
                Some(n) => m.mask(&input[..n]),
                None => whole.clone(),
            };
            prop_assert_eq!(
                String::from_utf8_lossy(&screen[r.clone()]),
                String::from_utf8_lossy(&want[r.clone()]),
                "screen {:?} of {:?}", r, String::from_utf8_lossy(&input)
            );
        }
    }
}

/// Names and dates that sit in sensitive columns or keys of generated structures.
const NAMES: &[&str] = &[
    "Jane Roe",
    "Ann Lee",
    "Jo Ñuñez",
    "Li Wei",
    "Bob Stone-Hill",
];

/// One generated row: an id, a name, a birth date, a status.
#[derive(Debug, Clone)]
struct GenRow {
    id: u32,
    name: usize,
    dob: (u16, u8, u8),
    status: bool,
}

fn gen_row() -> impl Strategy<Value = GenRow> {
    (
        1u32..5000,
        0..NAMES.len(),
        (1930u16..2020, 1u8..13, 1u8..29),
        any::<bool>(),
    )
        .prop_map(|(id, name, dob, status)| GenRow {
            id,
            name,
            dob,
            status,
        })
}

/// A structure as a program prints it.
#[derive(Debug, Clone)]
enum Doc {
    Psql(Vec<GenRow>),
    Expanded(Vec<GenRow>),
    Boxed(Vec<GenRow>),
    Spaced(Vec<GenRow>),
    Csv(Vec<GenRow>),
    Json(Vec<GenRow>),
    Hl7(Vec<GenRow>),
    Filler(String),
}

fn doc() -> impl Strategy<Value = Doc> {
    let rows = || prop::collection::vec(gen_row(), 1..4);
    prop_oneof![
        rows().prop_map(Doc::Psql),
        rows().prop_map(Doc::Expanded),
        rows().prop_map(Doc::Boxed),
        rows().prop_map(Doc::Spaced),
        rows().prop_map(Doc::Csv),
        rows().prop_map(Doc::Json),
        rows().prop_map(Doc::Hl7),
        "[a-z0-9 ,|:=-]{0,30}".prop_map(Doc::Filler),
    ]
}

fn dob(r: &GenRow) -> String {
    format!("{:04}-{:02}-{:02}", r.dob.0, r.dob.1, r.dob.2)
}

fn status(r: &GenRow) -> &'static str {
    if r.status {
        "active"
    } else {
        "closed"
    }
}

/// Pads to `w` display columns.
fn pad(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())))
}

/// Renders the documents with line breaks `nl`; returns the text and the secrets in it. With
/// `prompts`, each structure follows what bash writes before a command's output in a
/// terminal (the prompt, the command, `\x1b[?2004l\r`).
fn render(docs: &[Doc], nl: &str, prompts: bool) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut secrets = Vec::new();
    for d in docs {
        if prompts && !matches!(d, Doc::Filler(_)) {
            out.push_str(&format!("REMOTE$ run{nl}\x1b[?2004l\r"));
        }
        let rows = match d {
            Doc::Filler(s) => {
                out.push_str(s);
                out.push_str(nl);
                continue;
            }
            Doc::Psql(r)
            | Doc::Expanded(r)
            | Doc::Boxed(r)
            | Doc::Spaced(r)
            | Doc::Csv(r)
            | Doc::Json(r)
            | Doc::Hl7(r) => r,
        };
        for r in rows {
            secrets.push(NAMES[r.name].to_string());
            secrets.push(dob(r));
        }
        let text = match d {
            Doc::Psql(rows) => {
                let mut t = format!(" id  | name           | birth_date | status{nl}-----+----------------+------------+--------{nl}");
                for r in rows {
                    t += &format!(
                        " {:>3} | {} | {} | {}{nl}",
                        r.id % 1000,
                        pad(NAMES[r.name], 14),
                        dob(r),
                        status(r)
                    );
                }
                t + &format!("({} rows){nl}{nl}", rows.len())
            }
            Doc::Expanded(rows) => {
                let mut t = String::new();
                for (i, r) in rows.iter().enumerate() {
                    t += &format!("-[ RECORD {} ]-------{nl}id         | {}{nl}name       | {}{nl}birth_date | {}{nl}status     | {}{nl}", i + 1, r.id, NAMES[r.name], dob(r), status(r));
                }
                t + nl
            }
            Doc::Boxed(rows) => {
                let rule = "\u{251c}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{253c}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{253c}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2500}\u{2524}";
                let mut t = format!("\u{2502} id   \u{2502} name           \u{2502} dob        \u{2502}{nl}{rule}{nl}");
                for r in rows {
                    t += &format!(
                        "\u{2502} {:<4} \u{2502} {} \u{2502} {} \u{2502}{nl}",
                        r.id % 1000,
                        pad(NAMES[r.name], 14),
                        dob(r)
                    );
                }
                t + "\u{2514}\u{2500}\u{2500}\u{2534}\u{2518}" + nl
            }
            Doc::Spaced(rows) => {
                let mut t = format!("id    name            dob         status{nl}----  --------------  ----------  ------{nl}");
                for r in rows {
                    t += &format!(
                        "{}  {}  {}  {}{nl}",
                        pad(&r.id.to_string(), 4),
                        pad(NAMES[r.name], 14),
                        dob(r),
                        status(r)
                    );
                }
                t + "$ " + nl
            }
            Doc::Csv(rows) => {
                let mut t = format!("id,name,dob,status{nl}");
                for r in rows {
                    let name = if r.status {
                        format!("\"{}, x\"\"y\"", NAMES[r.name])
                    } else {
                        NAMES[r.name].to_string()
                    };
                    t += &format!("{},{},{},{}{nl}", r.id, name, dob(r), status(r));
                }
                t + nl
            }
            Doc::Json(rows) => {
                let mut t = format!("[{nl}");
                for (i, r) in rows.iter().enumerate() {
                    let sep = if i + 1 < rows.len() { "," } else { "" };
                    t += &format!("  {{\"id\": {}, \"patient\": {{\"full_name\": \"{}\", \"dob\": \"{}\"}}, \"status\": \"{}\"}}{sep}{nl}", r.id, NAMES[r.name], dob(r), status(r));
                }
                t + "]" + nl
            }
            Doc::Hl7(rows) => {
                let mut t = String::new();
                for r in rows {
                    let (family, given) = NAMES[r.name].split_once(' ').unwrap();
                    t += &format!("MSH|^~\\&|A|B|C|D|20250102||ADT^A01|{}|P|2.5\rPID|1||{}^^^H^MR||{}^{}||{}{:02}{:02}|F\r{nl}", r.id, r.id, family, given, r.dob.0, r.dob.1, r.dob.2);
                }
                t
            }
            Doc::Filler(_) => unreachable!(),
        };
        out.push_str(&text);
    }
    (out, secrets)
}

/// Colours inserted between ASCII bytes (as jq and psql with colours do); the visible text
/// stays the same.
fn colour(text: &str, at: &[usize]) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut cuts: Vec<usize> = at
        .iter()
        .map(|&a| a % (bytes.len() + 1))
        .filter(|&a| {
            (a == 0 || bytes[a - 1].is_ascii()) && (a == bytes.len() || bytes[a].is_ascii())
        })
        // Not inside an escape sequence of the text (`\x1b[?2004l`).
        .filter(|&a| {
            let from = a.saturating_sub(8);
            !bytes[from..a].contains(&0x1b)
        })
        .collect();
    cuts.sort();
    let mut last = 0;
    for (k, c) in cuts.into_iter().enumerate() {
        out.extend_from_slice(&bytes[last..c]);
        out.extend_from_slice(if k % 2 == 0 {
            b"\x1b[1;34m"
        } else {
            b"\x1b[0m"
        });
        last = c;
    }
    out.extend_from_slice(&bytes[last..]);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3_000, ..ProptestConfig::default() })]

    /// Tables, records, CSV, JSON and HL7 in any order, with colours, cut anywhere (headers
    /// and rows in separate chunks, rows cut mid-cell, quotes cut, byte by byte): the output is
    /// the one-shot output, no name or birth date of a row survives, and the layout is kept.
    #[test]
    fn structures_are_masked_alike_in_every_chunking(
        docs in prop::collection::vec(doc(), 1..5),
        crlf in any::<bool>(),
        prompts in any::<bool>(),
        colours in prop::collection::vec(0usize..4000, 0..6),
        sizes in long_chunk_sizes(),
    ) {
        let m = hipaa();
        let (text, secrets) = render(&docs, if crlf { "\r\n" } else { "\n" }, crlf && prompts);
        let input = colour(&text, &colours);
        let whole = m.mask(&input);
        prop_assert_eq!(&mask_chunked(m, &chunks(&input, &sizes)), &whole);
        let visible = String::from_utf8(strip(&whole)).unwrap();
        for s in secrets {
            prop_assert!(!visible.contains(&s), "{:?} in {}", s, visible);
        }
        let plain = String::from_utf8(strip(text.as_bytes())).unwrap();
        prop_assert_eq!(visible.chars().count(), plain.chars().count());
    }

    /// The same streams with pauses (the live hold expiring anywhere): the recording view stays
    /// exact.
    #[test]
    fn structures_with_pauses_keep_the_recording_exact(
        docs in prop::collection::vec(doc(), 1..4),
        sizes in long_chunk_sizes(),
        pauses in prop::collection::vec(any::<bool>(), 1..32),
    ) {
        let m = hipaa();
        let (text, _) = render(&docs, "\r\n", true);
        let input = text.into_bytes();
        let mut dual = m.dual(Duration::from_millis(15));
        let mut now = Instant::now();
        let mut rec = Vec::new();
        for (i, p) in chunks(&input, &sizes).into_iter().enumerate() {
            rec.extend_from_slice(dual.push(p, now).recording);
            if pauses[i % pauses.len()] {
                now += Duration::from_millis(20);
                dual.poll(now);
            }
        }
        rec.extend_from_slice(dual.finish().recording);
        prop_assert_eq!(rec, m.mask(&input));
    }
}

/// The live screen adds no hold where a cell's column is known: a row's sensitive cells are
/// masked as they arrive, even in pieces; only what a rule could still match waits, as
/// anywhere (a word could be the start of an e-mail address).
#[test]
fn known_columns_are_masked_without_holding() {
    let m = hipaa();
    let hold = Duration::from_millis(15);
    let mut live = m.live(hold);
    let t0 = Instant::now();
    let mut screen = live
        .push(
            b" id | name     | status\n----+----------+--------\n  1 | Jane Ro",
            t0,
        )
        .to_vec();
    assert!(
        screen.ends_with(b"  1 | **** "),
        "{:?}",
        String::from_utf8_lossy(&screen)
    );
    // The rest of the cell so far is shown masked when the hold expires.
    screen.extend_from_slice(live.poll(t0 + hold));
    assert!(screen.ends_with(b"  1 | **** **"));
    screen.extend_from_slice(live.push(b"e | active\n", t0 + hold * 2));
    screen.extend_from_slice(live.finish());
    assert_eq!(live.held(), 0);
    assert!(
        String::from_utf8_lossy(&screen).ends_with("  1 | **** *** | active\n"),
        "{:?}",
        String::from_utf8_lossy(&screen)
    );
}
