//! The structure tracker: where in the output PHI sits, beyond what a pattern can see.
//!
//! Regular expressions find identifiers by their shape or by a label right before them. Query
//! results put a date of birth under a `birth_date` header several lines up; JSON puts a name
//! inside `"name": [{…}]`; HL7 puts it in the fifth field of a PID segment. This tracker reads
//! the same visible text as the matcher (escape sequences cut out, cursor moves as line breaks),
//! line by line, keeps what it learnt (the columns of a table, the path in a JSON document) as
//! per-stream state, and emits the spans to mask: the cells of sensitive columns, the values of
//! sensitive keys, the PHI fields of HL7 segments. The core masks them like regex matches.
//!
//! # Modes
//!
//! Between structures the tracker is *idle* (`idle.rs`): it finds the lines whose first bytes
//! may start one (a rule line's dashes, `-[ RECORD 1 ]-` of a psql expanded record, `{` or
//! `[` of JSON, `MSH|` of HL7) and the lines whose first delimiter follows a short name (a CSV
//! header), without visiting every line, and examines them: a rule line under a header
//! naming a sensitive field starts an aligned table. A structure then owns the lines until it
//! ends: `table.rs` (with `layout.rs`), `record.rs`, `csv.rs`, `json.rs`, `hl7.rs`. A table or
//! CSV without a sensitive column is not tracked at all.
//!
//! `tracker.rs` holds the per-stream state and hands text to the modes; `grammar.rs` what it
//! reads by (fields, formats, and `triggers.rs`, the searches of the idle mode); `ctx.rs` what
//! the modes read with and report; `limits.rs` the bounds below; `text.rs` and `layout.rs`
//! characters, columns and rule lines.
//!
//! # Exact and streaming
//!
//! The tracker is a deterministic function of the visible bytes, fed as they come; every
//! decision about a byte is made from bytes before it, so the spans are the same in any
//! chunking. Where a decision must wait for later bytes (is this line a row of the table, or
//! the prompt after it? the first cell of a psql row is only known to be one at its first
//! `|`), the tracker reports the earliest such byte as [`Structure::pending`] and the core
//! releases nothing from there on until it is decided; [`Structure::finish`] decides at the end
//! of the stream, masking when in doubt. Where a cell's column is already known, its bytes are
//! masked as they arrive and nothing is held.
//!
//! # Bounds
//!
//! State is per stream and bounded: a header or rule line of at most [`MAX_LINE`] bytes and
//! [`MAX_COLUMNS`] columns (cells past the last known column are masked), a pending decision of
//! at most [`MAX_PENDING`] bytes (then the line is taken for a row and masked), a row of at most
//! [`MAX_ROW`] bytes (the rest of it is masked), a JSON path of at most 64 levels (deeper values
//! are masked), keys of at most 128 bytes (a longer one is taken for sensitive). The lines a
//! header may be read from are kept in the core's visible-text buffer ([`Structure::keep_from`]),
//! at most two lines of [`MAX_LINE`] bytes.
//!
//! The CSV and JSON readers are written here, not taken from a crate: they must consume bytes
//! as they arrive, cut anywhere, keep no more than a few bytes of state, and report where each
//! value starts and ends in the stream; the usual parsers want whole records or documents.

mod csv;
mod ctx;
mod grammar;
mod hl7;
mod idle;
mod json;
mod layout;
mod limits;
mod record;
mod table;
mod text;
mod tracker;
mod triggers;

pub(crate) use self::ctx::Span;
pub use self::grammar::Formats;
pub(crate) use self::grammar::Grammar;
pub use self::limits::{MAX_COLUMNS, MAX_LINE, MAX_PENDING, MAX_ROW};
pub(crate) use self::tracker::Structure;
