//! The bastion's streaming PHI masker: it finds protected health information (identifiers
//! matched by rules, and values that sit under sensitive names in tables, CSV, JSON and HL7)
//! in a target's terminal output as it streams through the bastion, and hides it while keeping
//! the layout, before the output reaches a recording or a user's screen. It knows nothing of
//! SSH or of recordings: bytes go in, masked bytes come out.
//!
//! Output from a target is masked twice over (see "Session data flow" in the design): exactly
//! for the recording ([`RecordingMasker`]) and with bounded latency for the user's screen
//! ([`LiveMasker`]). A [`DualMasker`] gives both views from one scan, which is what the bastion
//! runs. All are built from one compiled [`Masker`], which is built from a [`RuleSet`]: the
//! built-in [`RuleSet::hipaa`] pack plus site rules.
//!
//! ```
//! use mask::{Rule, RuleSet};
//!
//! let mut rules = RuleSet::hipaa();
//! rules.push(Rule::custom("badge", r"(?i)\bbadge[:#\s]{0,3}([A-Z]{2}\d{7})").with_group(1))?;
//! let masker = rules.compile()?;
//! let report = masker.mask_test(b"badge# XY1234567, card 4111 1111 1111 1111");
//! assert_eq!(report.masked, b"badge# *********, card **** **** **** ****");
//! assert_eq!(report.hits[0].rule, "badge");
//! assert_eq!(report.hits[1].rule, "payment-card");
//! # Ok::<(), mask::MaskError>(())
//! ```
//!
//! # Layout
//!
//! Files import only files below them (`scripts/module-graph` checks there is no loop); this
//! file only declares modules and re-exports.
//!
//! - `rule.rs`, `rule_set.rs`, `hipaa.rs`, `gdpr.rs`, `validate.rs`: what can be configured
//!   ([`Rule`], [`RuleSet`], [`HipaaOptions`], [`Validator`]); `fields.rs`: sensitive field
//!   names ([`Field`]) and their globs; `labelled.rs`: the rules finding a labelled field's
//!   value in running text (`"dob": …`, `ssn=…`); `error.rs`: [`MaskError`].
//! - `compile.rs`: checks each rule (bounded, non-empty, group exists) and builds one
//!   multi-pattern automaton ([`RuleSet::compile`]); `required.rs` and `byteset.rs` derive the
//!   prefilter; `engine.rs`: what a compiled rule set is, shared by its streams; `caches.rs`:
//!   the pool of search caches streams take from while they work.
//! - `structure/`: where PHI sits by structure (table columns, psql records, CSV, JSON and
//!   FHIR, HL7 v2), read line by line from the same visible text; its spans are masked like
//!   matches.
//! - `posmap.rs`: the way back from the visible text (a stream with escape sequences cut out
//!   by the `escape` crate's tokenizer) to raw offsets.
//! - `core.rs`: the streaming algorithm (hold point, search, masking, release);
//!   `core/ops.rs`: the masks queued for held bytes; `core/payload.rs`: string payloads
//!   (window titles, hyperlinks), matched on their own.
//! - `masker.rs` ([`Masker`]), `recording.rs`, `live.rs`, `dual.rs`: the compiled rule set and
//!   the stream front ends (exact, screen, both from one scan); `report.rs` and `hit.rs`:
//!   `mask-test` and rule summaries.
//!
//! # Semantics
//!
//! - **What is matched.** The visible text: escape sequences (CSI such as SGR colours, OSC,
//!   DCS, simple ESC sequences) are cut out before matching and kept in the output, so
//!   `\x1b[1m123\x1b[0m-45-6789` is masked as `\x1b[1m***\x1b[0m-**-****`. A sequence that
//!   moves the cursor (or scrolls, or erases text before it; any sequence not known to leave
//!   the cursor in place) is read as a line break, as full-screen programs use them between
//!   rows and fields: `123-45-6789\x1b[2;1Hrow` is an SSN, then `row`. Payloads of OSC/DCS
//!   strings (window titles, hyperlink targets) are matched as texts of their own, held until
//!   the string ends; one longer than [`MAX_STRING_SCANNED`] has all its letters and digits
//!   masked instead.
//! - **Which matches.** Leftmost-first over all enabled rules, non-overlapping, earlier rules
//!   winning ties. A candidate failing its validator gives way to the next rule matching at the
//!   same position, else the search resumes one byte later.
//! - **How masked.** Layout-preserving, in display columns: each ASCII letter or digit of the
//!   masked text becomes `*`; punctuation and spaces (`-`, `.`, `@`, `/`, `(`) are kept; each
//!   non-ASCII character becomes as many `*` as the columns it occupies. Escape sequences
//!   inside the identifier are kept. A match that starts or ends inside a multi-byte
//!   character (a rule using `.`, which matches single bytes) masks the whole character, and
//!   matching resumes after it; a character's first bytes are never released while a match
//!   could still start inside it. A capture group that takes no part in its match masks nothing; the match still
//!   consumes its text.
//! - **Where PHI sits.** Besides matches, the structure tracker masks the cells under a
//!   sensitive column header, the values of sensitive keys and the PHI fields of HL7 and FHIR
//!   (see `structure/mod.rs`), with the same layout-keeping masks.
//! - **Chunking.** The recording masker's output is identical for every chunking of the input
//!   (property-tested), because a match is only decided once no further byte can change it,
//!   and the structure tracker decides about a byte only from the bytes before it (what it
//!   still waits for is held like a possible match).
//!
//! # Memory and latency
//!
//! Every rule must have a bounded longest match (at most [`MAX_MATCH_LEN`]); unbounded rules
//! such as `\d+` are rejected at compile time, naming the rule. A stream holds back at most
//! that many visible bytes, plus escape sequences interleaved in them up to
//! [`MAX_HELD_BYTES`] in all; beyond that the held letters and digits are masked and released
//! (fail closed). Buffers are reused, so a stream allocates nothing in the steady state.
//! Compiled automata are shared by all streams of a [`Masker`]; the lazy-DFA caches, which grow
//! with the states visited (up to hundreds of KiB), are pooled per [`Masker`] and held by a
//! stream only while it processes a chunk, so idle streams cost only their buffers.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod byteset;
mod caches;
mod compile;
mod core;
mod dual;
mod engine;
mod error;
mod fields;
mod gdpr;
mod hipaa;
mod hit;
mod labelled;
mod live;
mod masker;
mod posmap;
mod recording;
mod report;
mod required;
mod rule;
mod rule_set;
mod structure;
mod validate;

pub use self::compile::MAX_MATCH_LEN;
pub use self::core::{MAX_HELD_BYTES, MAX_STRING_SCANNED};
pub use self::dual::{DualMasker, Masked};
pub use self::engine::RuleSummary;
pub use self::error::MaskError;
pub use self::fields::Field;
pub use self::hipaa::HipaaOptions;
pub use self::hit::Hit;
pub use self::labelled::RULE_NAMES as LABELLED_RULES;
pub use self::live::{LiveMasker, DEFAULT_LIVE_HOLD};
pub use self::masker::Masker;
pub use self::recording::RecordingMasker;
pub use self::report::MaskReport;
pub use self::rule::{Rule, RuleSource};
pub use self::rule_set::RuleSet;
pub use self::structure::{Formats, MAX_COLUMNS, MAX_LINE, MAX_PENDING, MAX_ROW};
pub use self::validate::Validator;
