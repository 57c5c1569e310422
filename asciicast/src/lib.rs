//! The asciicast recording format, versions 2 and 3: one model of a recording's header and
//! events, and for each version the code that reads and writes its lines. The recorder writes
//! v3 with it, the player reads both; what the bastion adds on top (a `bastion` header key,
//! `# stderr` comment lines, the hash chain and signatures) belongs to those crates, and this
//! one keeps any header key it does not define as the JSON written ([`Extra`]).
//!
//! ```
//! use std::time::Duration;
//! use asciicast::{v3, Decoder, EventCode, EventData, Header, Line, Term};
//!
//! let header = Header {
//!     term: Term { cols: 80, rows: 24, term_type: None },
//!     timestamp: Some(1_700_000_000),
//!     ..Header::default()
//! };
//! let mut enc = v3::Encoder::new();
//! let mut line = Vec::new();
//! enc.event(&mut line, Duration::from_millis(1500), EventCode::Output, "hi\r\n");
//! assert_eq!(line, b"[1.5, \"o\", \"hi\\r\\n\"]");
//!
//! let header_line = String::from_utf8(enc.header(&header)).unwrap();
//! let (read, mut dec) = Decoder::header(&header_line)?;
//! assert_eq!(read, header);
//! let Line::Event(event) = dec.line(std::str::from_utf8(&line).unwrap())? else { panic!() };
//! assert_eq!(event.data, EventData::Output("hi\r\n".into()));
//! # Ok::<(), asciicast::Error>(())
//! ```
//!
//! # Layout
//!
//! `header.rs` ([`Header`], [`Term`], [`Extra`]) and `event.rs` ([`Event`], [`EventData`],
//! [`Line`]) are the model; `v2.rs` and `v3.rs` each read ([`v3::Decoder`]) and write
//! ([`v3::Encoder`]) one version; `read.rs` picks the version from the header ([`Decoder`]);
//! `syntax.rs` writes and reads the values inside a line; `error.rs`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod event;
mod header;
mod read;
mod syntax;
pub mod v2;
pub mod v3;

pub use self::error::Error;
pub use self::event::{Event, EventCode, EventData, Line};
pub use self::header::{Extra, Header, Term};
pub use self::read::{Decoder, Version};
pub use self::syntax::escaped_width;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic
mod tests;
