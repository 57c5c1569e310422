//! Reading, verifying and replaying bastion recordings (asciicast v3, and v2).
//!
//! # Brief overview
//!
//! - [`verify()`] recomputes a recording's hash chain and checks it against the signed
//!   checkpoints in its sidecar, returning a [`Report`] (human [`std::fmt::Display`], serde
//!   `Serialize` for `--json`).
//! - [`cast::open`] parses a recording into the canonical [`Recording`] / [`Event`] model;
//!   [`cat()`] prints its output without timing.
//! - [`play()`] verifies, refuses a tampered recording unless `force`, and plays it in the
//!   terminal: speed, idle limit, start-at, pause/resume, step, seek ±5 s, quit. The logic is
//!   the pure [`Player`] state machine; `play` only adds raw mode, keys and drawing.
//!
//! ```no_run
//! # fn main() -> Result<(), player::PlayerError> {
//! use std::path::Path;
//! let key = recorder::VerifyingKey::load(Path::new("keys/recording_ed25519.pub"))?;
//! let cast = Path::new("recordings/2025/01/02/s1-0.cast");
//! let report = player::verify(cast, &recorder::sidecar_path(cast), &[key])?;
//! println!("{report}");
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! `cast` (model, over the `asciicast` crate's readers), `cat`, `verify` (walk + `report`), `play`
//! (`state` machine, `keys`, `options`, `terminal` driver), `error`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cast;
mod cat;
mod error;
mod play;
mod verify;

pub use cast::{Event, EventData, Header, Recording};
pub use cat::{cat, cat_marked, TerminalFilter};
pub use error::PlayerError;
pub use play::{
    command_for, play, prepare, Command, Control, Frame, PlayOptions, Player, SEEK_STEP,
};
pub use verify::{verify, verify_bytes, verify_in_memory, Report, UnverifiedTail, Verdict};
