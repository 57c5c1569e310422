//! Stream semantics of the maskers: chunking invariance (property tests), escape sequences,
//! bounded memory, and the live masker's hold.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use recorder::mask::{Masker, Rule, RuleSet, MAX_HELD_BYTES};

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

/// Escape sequences interleaved in identifiers and filler; `strip` knows exactly these shapes.
const ESCAPES: &[&str] = &[
    "\x1b[1m",
    "\x1b[0m",
    "\x1b[38;5;208m",
    "\x1b[K",
    "\x1b]0;title\x07",
    "\x1b]8;;http://h/x\x1b\\",
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
    b"1;2",
    b"m",
    b"\xc3\xa9",
    b"\xe4\xb8\xad",
    b"\xff",
];

/// Removes the escape sequences of `ESCAPES` (CSI and OSC) to get the visible text.
fn strip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == 0x1b && bytes.get(i + 1) == Some(&b'[') {
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
    Escape(usize),
    /// Identifier index, put in a window title (as shells that show the running command do).
    Title(usize),
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        4 => "[a-zA-Z0-9 .:@/\\-\n|]{0,24}".prop_map(Piece::Filler),
        3 => (0..IDENTIFIERS.len(), prop::collection::vec((0usize..24, 0..ESCAPES.len()), 0..3))
            .prop_map(|(i, e)| Piece::Ident(i, e)),
        1 => (0..ESCAPES.len()).prop_map(Piece::Escape),
        1 => (0..IDENTIFIERS.len()).prop_map(Piece::Title),
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
            Piece::Escape(e) => out.extend_from_slice(ESCAPES[*e].as_bytes()),
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
            3 => prop::sample::select(b"0123456789-@. \x1b[]m;\x07\\PX_\x18".to_vec()),
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
        // vim: the row, then attributes reset and the cursor parked, then nothing.
        (b"~\r\n123-45-6789\x1b[0m\x1b[1;1H", b"j"),
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
