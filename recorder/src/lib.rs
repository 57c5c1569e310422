//! Channel recordings for the bastion: asciicast v3 files with a hash chain and signed
//! checkpoints, so that an auditor can tell an intact recording from an altered one.
//!
//! # Brief overview
//!
//! One [`Recorder`] per SSH channel writes `<dir>/<yyyy>/<mm>/<dd>/<session>-<channel>.cast`
//! ([`recording_path`]) and its sidecar `<file>.sig` ([`sidecar_path`]). The API is synchronous
//! and `std::io` based; the bastion runs it in a writer task behind a bounded queue. Every call
//! returns I/O errors so that a recording that cannot be written ends the session (fail closed).
//!
//! ```no_run
//! # use std::{path::Path, sync::Arc, time::{Duration, SystemTime}};
//! # use recorder::*;
//! # fn main() -> Result<(), RecorderError> {
//! # let header = Header {
//! #     term: Term { cols: 80, rows: 24, term_type: None },
//! #     timestamp: Some(0),
//! #     ..Header::default()
//! # };
//! # let meta = BastionMeta {
//! #     session: "s1".into(),
//! #     channel: 0,
//! #     user: "alice@example.com".into(),
//! #     cert_serial: None,
//! #     source: "127.0.0.1".into(),
//! #     target: "db1".into(),
//! #     login: "postgres".into(),
//! #     kind: ChannelKind::Shell,
//! # };
//! let key = Arc::new(SigningKey::load_openssh(Path::new("keys/recording_ed25519"))?);
//! let path = recording_path(Path::new("recordings"), "s1", 0, SystemTime::now())?;
//! let mut rec = Recorder::create(&path, &header, &meta, key, RecorderOptions::default())?;
//! rec.output(Duration::from_millis(250), b"hello\r\n")?;
//! rec.checkpoint_if_due(Duration::from_millis(250))?;
//! let seal = rec.seal(Duration::from_secs(1))?; // store seal.checkpoint.hash / .sig
//! # Ok(()) }
//! ```
//!
//! # File format
//!
//! The file is asciicast v3, written with the `asciicast` crate, which owns the format (this
//! crate adds the bastion's keys, comment lines, chain and signatures). The first line is the
//! [`Header`]: asciicast v3 keys (`version`, `term`, `timestamp`, `command`, `title`, `env`)
//! plus a `bastion` object ([`BastionMeta`], see [`header_line`]). Each following line is an
//! event `[interval, code, data]` where `interval` is seconds since the *previous* event (v3
//! semantics) and `code` is one of `o` output, `b` binary output (the bastion's own code), `i`
//! input, `r` resize (`COLSxROWS`), `m` marker, `x` exit status.
//!
//! Output is kept exactly. Text (valid UTF-8, a character split across chunks carried to the
//! next) goes into `o` events; runs of bytes that are not text (NULs and other controls no
//! terminal text needs, invalid UTF-8) go into `b` events, base64 of the bytes, which asciicast
//! v3 players that do not know them skip ([`binary`] says which bytes and why). The cap
//! (default 64 MiB, [`RecorderOptions::output_cap`]) is on the cast file's size: output that
//! would take the file past it is not stored: an `m` marker notes the cap when it is reached,
//! and at close another `m` marker gives the count and SHA-256 of every byte that followed.
//! [`Counters`] hold raw byte counts per direction, recorded or not. Input, when recorded, is
//! decoded with [`Utf8Decoder`] (invalid bytes become U+FFFD).
//!
//! ## stderr on exec channels
//!
//! stderr is written as ordinary `o` events, preceded by a comment line `# stderr`; a later
//! `# stdout` comment line switches back. Every player (asciinema 3.x, asciinema-player) then
//! shows stderr where a terminal would have shown it, and comment lines are part of the v3
//! format, which players skip. The alternatives were worse: a custom event code (asciinema
//! parses unknown codes but does not display them, so errors would vanish from playback), or an
//! `m` marker per chunk (markers are navigation points in players: far too noisy). The comment
//! lines are hashed like every other line. The `player` crate reads them back as
//! `EventData::Stderr`.
//!
//! ## Integrity
//!
//! The chain ([`HashChain`]) is `h0 = SHA-256(CHAIN_DOMAIN ‖ header line)`,
//! `hᵢ = SHA-256(hᵢ₋₁ ‖ line i)` over every line after the header (events and comments), each
//! line without its `\n`. A [`Checkpoint`] signs the line count, byte count, `h0` and `h_lines`
//! with the recording key (ed25519); its exact signed encoding is documented on the
//! [`checkpoint`] module. Checkpoints are written when the recording is created (signing the
//! header), by [`Recorder::checkpoint_if_due`] at least every second while lines are written,
//! and by [`Recorder::seal`] (`kind: final`). After a crash, [`recover()`] appends a
//! `kind: recovered` checkpoint over the intact lines; the verifier reports lines it covers that
//! no live checkpoint did as a recovered tail, since recovery cannot know who wrote them.
//! Verification lives in the `player` crate.
//!
//! # Layout
//!
//! `writer` ([`Recorder`]), `binary` (text or `b` events), `header` (the `bastion` object),
//! `decode` (UTF-8 carry, for input), `cap`
//! (output cap), `chain`, `checkpoint`, `sidecar` (reading `.sig`), `keys`, `recover`, `path`,
//! `hex`, `error`. The PHI masker, which runs before the recorder, is the `mask` crate.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod binary;
mod cap;
mod cast_file;
mod chain;
pub mod checkpoint;
mod decode;
mod error;
pub mod files;
mod header;
pub mod hex;
mod keys;
mod path;
mod recover;
mod sidecar;
mod writer;

/// The header model, from the crate that owns the format.
pub use asciicast::{Header, Term};
pub use cap::DEFAULT_OUTPUT_CAP;
pub use chain::{HashChain, CHAIN_DOMAIN};
pub use checkpoint::{Checkpoint, CheckpointKind, SignatureProblem};
pub use decode::Utf8Decoder;
pub use error::{RecorderError, RecoverRefusal};
pub use header::{emulated_size, header_line, BastionMeta, ChannelKind, BASTION_KEY, MAX_EMULATED};
pub use keys::{SigningKey, VerifyingKey};
pub use path::{recording_path, sidecar_path};
pub use recover::{recover, RecoverOutcome, Recovery};
pub use sidecar::{parse_sidecar, read_sidecar, Sidecar};
pub use writer::{Counters, Recorder, RecorderOptions, Seal, STDERR_COMMENT, STDOUT_COMMENT};
