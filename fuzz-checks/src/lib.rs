//! What each fuzz target checks. The cargo-fuzz targets in `fuzz/` only call these, and the
//! stable test `tests/corpora.rs` feeds every committed corpus and regression input through
//! the same functions, so CI replays the fuzzers' findings without libFuzzer or nightly.
//!
//! A check returns quietly for input the product refuses as it should, and panics when an
//! invariant breaks: that panic is what libFuzzer reports as a crash.
//!
//! | target | parser | oracle beyond "no panic, no hang, bounded memory" |
//! | --- | --- | --- |
//! | `config` | `Config::parse`, site masking rules | problem lines lie in the file |
//! | `destination` | SSH user name → target, role resolution | split at the last `@`; grants only what a role grants |
//! | `cast` | asciicast v2/v3 reader, `cat`, the player | `cat` lets only harmless sequences through |
//! | `verify` | recording verifier (cast + sidecar) | a verified recording with a byte changed or a line added is not |
//! | `escape` | the masker's escape tokenizer, `cat`'s filter | chunking invariance; filter output harmless and stable |
//! | `jwt` | token peek, header check, verification, claims → grant | only EdDSA tokens signed by the key verify; grants well-formed; refusals never echo the token |
//! | `mask` | the masker | chunking invariance of the recording view (recording, dual with pauses, live) |
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cast;
pub mod config;
pub mod destination;
pub mod escape;
mod input;
pub mod jwt;
pub mod mask;
pub mod verify;

/// A target's check: returns for input refused as it should be, panics when an invariant breaks.
pub type Check = fn(&[u8]);

/// Every fuzz target: its name (`fuzz/fuzz_targets/NAME.rs`, `fuzz/corpus/NAME/`,
/// `fuzz/regressions/NAME/`) and its check.
pub const TARGETS: &[(&str, Check)] = &[
    ("config", config::check),
    ("destination", destination::check),
    ("cast", cast::check),
    ("verify", verify::check),
    ("escape", escape::check),
    ("jwt", jwt::check),
    ("mask", mask::check),
];
