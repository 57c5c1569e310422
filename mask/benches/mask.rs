//! Masker throughput, against a plain `memchr` scan of the same bytes.
//!
//! `cargo bench -p mask --bench mask`. Inputs (generated, deterministic, ~1 MiB each, in
//! 32 KiB chunks like SSH channel data):
//! - `a-prose`: English prose, no digits, no identifiers;
//! - `a-logs`: application logs with timestamps, ids and durations but no identifiers;
//! - `b-mix`: `ls -l` listings, logs and `psql` tables with PHI on about one line in four;
//! - `c-dense`: every line is a table row full of identifiers;
//! - `d-keystrokes`: `b-mix` fed one byte per call (keystroke echo), 32 KiB;
//! - `e-screen`: a full-screen program's redraws (as vim and ncurses draw them): rows placed
//!   with cursor positioning and erased to the end, colours, about one row in four with PHI.
//! - `f-query`: query results as psql (aligned), sqlite3 (`-box`) and `--csv` print them, 30
//!   rows per table, mixing sensitive columns (name, birth date, phone, address) with plain
//!   ones (id, status, created_at, a free-text note): the structure tracker masks every
//!   sensitive cell.
//!
//! Each group also measures, over the same bytes:
//! - `memchr-baseline`: counting newlines with `memchr`, the cheapest full pass;
//! - `dfa-floor`: one simple pattern (`\d{3}-\d{2}-\d{4}`) searched by a lazy DFA with no
//!   prefilter, i.e. one table lookup per byte: what any automaton costs per byte it looks at
//!   on this machine;
//! - `one-shot-regex`: every enabled pattern of the pack in one `meta::Regex`, `find_iter` over
//!   the whole input at once (no streaming, validators, escapes or masking);
//! - `interleaved-scan-4`: the pack's lazy DFA stepped over four quarters of the input at once
//!   (independent table lookups overlap in the CPU), only noting where matches end: the
//!   fastest way found to look at every byte with the pack's automaton, and so a ceiling for
//!   text such as logs, where digits on every line leave a prefilter nothing to skip.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mask::{RecordingMasker, RuleSet};
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::hybrid::LazyStateID;
use regex_automata::util::start;
use regex_automata::{meta, Anchored, MatchKind};
use std::hint::black_box;

const SIZE: usize = 1 << 20;
const CHUNK: usize = 32 * 1024;

/// Small deterministic generator (xorshift), so inputs are identical across runs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const WORDS: &[&str] = &[
    "the",
    "patient",
    "was",
    "seen",
    "in",
    "clinic",
    "for",
    "follow",
    "up",
    "and",
    "reported",
    "no",
    "new",
    "symptoms",
    "since",
    "last",
    "visit",
    "medication",
    "review",
    "completed",
    "plan",
    "continue",
    "current",
    "therapy",
    "with",
    "monitoring",
    "of",
    "blood",
    "pressure",
];

fn prose(rng: &mut Rng) -> String {
    let mut line = String::new();
    for i in 0..12 + rng.below(6) {
        if i > 0 {
            line.push(' ');
        }
        line.push_str(rng.pick(WORDS));
    }
    line.push_str(".\r\n");
    line
}

fn log(rng: &mut Rng) -> String {
    format!(
        "\x1b[2m2025-03-{:02}T{:02}:{:02}:{:02}.{:03}Z\x1b[0m \x1b[32mINFO\x1b[0m http: GET /api/v2/orders/{} status=200 bytes={} took {}ms req={:08x}\r\n",
        1 + rng.below(28),
        rng.below(24),
        rng.below(60),
        rng.below(60),
        rng.below(1000),
        rng.below(100_000),
        rng.below(65_536),
        rng.below(900),
        rng.next() as u32,
    )
}

fn ls(rng: &mut Rng) -> String {
    format!(
        "-rw-r--r--  1 postgres postgres {:>9} Mar {:>2} {:02}:{:02} {}.csv\r\n",
        rng.below(10_000_000),
        1 + rng.below(28),
        rng.below(24),
        rng.below(60),
        rng.pick(WORDS),
    )
}

fn phi_row(rng: &mut Rng) -> String {
    format!(
        " {:>6} | {:<10} | {:03}-{:02}-{:04} | 1980-{:02}-{:02} | {}.{}@example.org | (555) {:03}-{:04} | MRN: AB{:07}\r\n",
        rng.below(1_000_000),
        rng.pick(WORDS),
        100 + rng.below(500),
        10 + rng.below(89),
        1000 + rng.below(8999),
        1 + rng.below(12),
        1 + rng.below(28),
        rng.pick(WORDS),
        rng.pick(WORDS),
        200 + rng.below(700),
        rng.below(10_000),
        rng.below(10_000_000),
    )
}

fn table_row(rng: &mut Rng) -> String {
    format!(
        " {:>6} | {:<10} | {:>8} | {:<12} | active\r\n",
        rng.below(1_000_000),
        rng.pick(WORDS),
        rng.below(100_000),
        rng.pick(WORDS),
    )
}

fn generate(mut line: impl FnMut(&mut Rng) -> String, size: usize) -> Vec<u8> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::with_capacity(size + 256);
    while out.len() < size {
        out.extend_from_slice(line(&mut rng).as_bytes());
    }
    out.truncate(size);
    out
}

fn mix(rng: &mut Rng) -> String {
    match rng.below(8) {
        0 | 1 => ls(rng),
        2 | 3 => log(rng),
        4 | 5 => table_row(rng),
        _ => phi_row(rng),
    }
}

/// One row of a full-screen program: placed with CUP, cleared with EL, sometimes coloured.
fn screen_row(rng: &mut Rng) -> String {
    let row = 1 + rng.below(50);
    let text = match rng.below(4) {
        0 => phi_row(rng),
        1 => format!("\x1b[1m{}\x1b[0m", table_row(rng)),
        _ => prose(rng),
    };
    format!(
        "\x1b[{row};1H{}\x1b[K\x1b[{row};{}H",
        text.trim_end(),
        1 + rng.below(120)
    )
}

/// A query's result, as one of psql, sqlite3 `-box` or `--csv` prints it.
fn query_result(rng: &mut Rng) -> String {
    let rows: Vec<[String; 7]> = (0..30)
        .map(|_| {
            [
                rng.below(100_000).to_string(),
                format!("{} {}", rng.pick(WORDS), rng.pick(WORDS)),
                format!(
                    "19{:02}-{:02}-{:02}",
                    30 + rng.below(70),
                    1 + rng.below(12),
                    1 + rng.below(28)
                ),
                format!("(555) {:03}-{:04}", 200 + rng.below(700), rng.below(10_000)),
                format!("{} {} Street", 1 + rng.below(999), rng.pick(WORDS)),
                rng.pick(&["active", "inactive", "pending"]).to_string(),
                format!(
                    "{} {} {}",
                    rng.pick(WORDS),
                    rng.pick(WORDS),
                    rng.pick(WORDS)
                ),
            ]
        })
        .collect();
    let names = [
        "id",
        "name",
        "birth_date",
        "phone",
        "street_address",
        "status",
        "note",
    ];
    let widths: Vec<usize> = (0..7)
        .map(|c| {
            rows.iter()
                .map(|r| r[c].len())
                .chain([names[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    match rng.below(3) {
        0 => {
            let cells = |r: &[String]| -> String {
                let cs: Vec<String> = r
                    .iter()
                    .zip(&widths)
                    .map(|(v, w)| format!(" {v:<w$} "))
                    .collect();
                cs.join("|")
            };
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            out += &cells(&names);
            out += "\r\n";
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
            out += &rule.join("+");
            out += "\r\n";
            for r in &rows {
                out += &cells(r);
                out += "\r\n";
            }
            out += "(30 rows)\r\n\r\n";
        }
        1 => {
            let line = |l: &str, m: &str, r: &str| -> String {
                let parts: Vec<String> = widths.iter().map(|w| "\u{2500}".repeat(w + 2)).collect();
                format!("{l}{}{r}\r\n", parts.join(m))
            };
            let cells = |r: &[String]| -> String {
                let cs: Vec<String> = r
                    .iter()
                    .zip(&widths)
                    .map(|(v, w)| format!(" {v:<w$} "))
                    .collect();
                format!("\u{2502}{}\u{2502}\r\n", cs.join("\u{2502}"))
            };
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            out += &line("\u{250c}", "\u{252c}", "\u{2510}");
            out += &cells(&names);
            out += &line("\u{251c}", "\u{253c}", "\u{2524}");
            for r in &rows {
                out += &cells(r);
            }
            out += &line("\u{2514}", "\u{2534}", "\u{2518}");
        }
        _ => {
            out += &names.join(",");
            out += "\r\n";
            for r in &rows {
                out += &format!(
                    "{},{},{},{},{},{},\"{}, ok\"\r\n",
                    r[0], r[1], r[2], r[3], r[4], r[5], r[6]
                );
            }
        }
    }
    out
}

fn inputs() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("a-prose", generate(prose, SIZE)),
        ("a-logs", generate(log, SIZE)),
        ("b-mix", generate(mix, SIZE)),
        ("c-dense", generate(phi_row, SIZE)),
        ("e-screen", generate(screen_row, SIZE)),
        ("f-query", generate(query_result, SIZE)),
    ]
}

/// Masks `input` as one stream. The masker is reused across iterations (`finish` starts a new
/// stream), as a long-lived channel would keep its warmed lazy-DFA caches.
fn mask_chunks(rec: &mut RecordingMasker, input: &[u8], chunk: usize, out: &mut Vec<u8>) -> usize {
    out.clear();
    for c in input.chunks(chunk) {
        rec.push_into(c, out);
    }
    rec.finish_into(out);
    out.len()
}

fn baseline(input: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', input).count()
}

/// A byte-oriented `meta::Regex` over `patterns`, with the syntax the masker uses.
fn one_shot(patterns: &[String], prefilter: bool) -> meta::Regex {
    let built = meta::Regex::builder()
        .syntax(
            regex_automata::util::syntax::Config::new()
                .unicode(false)
                .utf8(false),
        )
        .configure(
            meta::Config::new()
                .utf8_empty(false)
                .auto_prefilter(prefilter),
        )
        .build_many(patterns);
    match built {
        Ok(re) => re,
        Err(e) => panic!("{patterns:?}: {e}"),
    }
}

/// The pack's patterns as one lazy DFA reporting every pattern's match ends.
fn all_ends_dfa(patterns: &[String]) -> DFA {
    let built = DFA::builder()
        .syntax(
            regex_automata::util::syntax::Config::new()
                .unicode(false)
                .utf8(false),
        )
        .configure(
            DFA::config()
                .match_kind(MatchKind::All)
                .minimum_cache_clear_count(None),
        )
        .build_many(patterns);
    match built {
        Ok(dfa) => dfa,
        Err(e) => panic!("{e}"),
    }
}

/// Steps `N` unanchored DFA states over `N` equal parts of `hay` together and counts the
/// positions where some match ends.
fn interleaved_scan<const N: usize>(dfa: &DFA, cache: &mut Cache, hay: &[u8]) -> usize {
    let start = match dfa.start_state(cache, &start::Config::new().anchored(Anchored::No)) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let part = hay.len() / N;
    let mut states: [LazyStateID; N] = [start; N];
    let mut ends = 0;
    for i in 0..part {
        for (k, state) in states.iter_mut().enumerate() {
            let b = hay[k * part + i];
            let step = |cache: &mut Cache| match dfa.next_state(cache, *state, b) {
                Ok(n) => n,
                Err(e) => panic!("{e}"),
            };
            // The common case first: an ordinary state, a transition already computed.
            let mut next = if state.is_tagged() {
                step(cache)
            } else {
                dfa.next_state_untagged(cache, *state, b)
            };
            if next.is_tagged() {
                if next.is_unknown() {
                    next = step(cache);
                }
                ends += usize::from(next.is_match());
            }
            *state = next;
        }
    }
    ends
}

fn bench(c: &mut Criterion) {
    let pack = RuleSet::hipaa();
    let masker = match pack.compile() {
        Ok(m) => m,
        Err(e) => panic!("hipaa pack does not compile: {e}"),
    };
    let patterns: Vec<String> = pack
        .rules()
        .iter()
        .filter(|r| r.enabled)
        .map(|r| r.pattern.clone())
        .collect();
    let all_rules = one_shot(&patterns, true);
    let floor = one_shot(&[r"\d{3}-\d{2}-\d{4}".to_string()], false);
    let ends_dfa = all_ends_dfa(&patterns);
    let mut ends_cache = ends_dfa.create_cache();
    let mut out = Vec::with_capacity(SIZE * 2);
    let mut rec = masker.recording();
    for (name, input) in inputs() {
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_function(BenchmarkId::new("masker", CHUNK), |b| {
            b.iter(|| mask_chunks(&mut rec, black_box(&input), CHUNK, &mut out))
        });
        g.bench_function("memchr-baseline", |b| {
            b.iter(|| baseline(black_box(&input)))
        });
        g.bench_function("dfa-floor", |b| {
            b.iter(|| floor.find_iter(black_box(&input[..])).count())
        });
        g.bench_function("one-shot-regex", |b| {
            b.iter(|| all_rules.find_iter(black_box(&input[..])).count())
        });
        g.bench_function("interleaved-scan-4", |b| {
            b.iter(|| interleaved_scan::<4>(&ends_dfa, &mut ends_cache, black_box(&input)))
        });
        g.finish();
    }

    let keys = generate(mix, 32 * 1024);
    let mut g = c.benchmark_group("d-keystrokes");
    g.throughput(Throughput::Bytes(keys.len() as u64));
    g.bench_function(BenchmarkId::new("masker", 1), |b| {
        b.iter(|| mask_chunks(&mut rec, black_box(&keys), 1, &mut out))
    });
    g.bench_function("memchr-baseline", |b| b.iter(|| baseline(black_box(&keys))));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(4));
    targets = bench
}
criterion_main!(benches);
