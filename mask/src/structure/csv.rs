//! CSV and TSV with a header line (`psql --csv`, `sqlite3 -csv -header`, `head file.csv`):
//! fields under a sensitive name are masked, row after row.
//!
//! A header is a line of at least two delimited names, each short and name-like (no sentence
//! punctuation), at least one of them a sensitive field. Fields are read as RFC 4180 has them:
//! a field starting with `"` runs to the closing quote, past delimiters and line breaks, with
//! `""` standing for a quote; the reader keeps only which field it is in and whether it is
//! inside quotes, so a quote cut off by a chunk boundary changes nothing.
//!
//! A line is a row once its first delimiter arrives: until then its first field is pending (if
//! masked), so the prompt after the data, which has no delimiter, is not masked. A line without
//! a delimiter, or a blank line, ends the data. A row with more fields than the header has its
//! extra fields masked. A row that looks like a header naming a sensitive field (a second file's
//! header) becomes the header for the rows after it.

use std::sync::Arc;

use super::ctx::{Ctx, Next, Step};
use super::limits::{MAX_COLUMNS, MAX_PENDING, MAX_ROW};
use crate::fields::trim_name;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    /// Outside quotes.
    No,
    Inside,
    /// A quote inside quotes: the end of the field, or the first of `""`.
    Seen,
}

#[derive(Debug, Clone)]
pub(super) struct Csv {
    delim: u8,
    columns: Vec<(bool, Option<Arc<str>>)>,
    beyond: Option<Arc<str>>,
    field: usize,
    quote: Quote,
    /// Nothing of the current field read yet (a quote there opens a quoted field).
    field_start: bool,
    /// The current line has had a delimiter: it is a row.
    row: bool,
    /// Where the first field started while the line is not known to be a row.
    pending_from: Option<u64>,
    field_from: u64,
    bytes: usize,
    /// Where the current row's first line starts, and whether the row is still on it (for
    /// reading it as a new header).
    row_start: u64,
    one_line: bool,
}

/// The fields of a delimited line (quotes removed), or `None` if a quote is left open.
fn split(line: &[u8], delim: u8) -> Option<Vec<Vec<u8>>> {
    let mut out = vec![Vec::new()];
    let mut quote = Quote::No;
    let mut start = true;
    for &b in line {
        let cur = out.last_mut()?;
        match (quote, b) {
            (Quote::No, _) if b == delim => {
                out.push(Vec::new());
                start = true;
                continue;
            }
            (Quote::No, b'"') if start => quote = Quote::Inside,
            (Quote::Inside, b'"') => quote = Quote::Seen,
            (Quote::Seen, b'"') => {
                cur.push(b'"');
                quote = Quote::Inside;
            }
            (Quote::Seen, _) if b == delim => {
                quote = Quote::No;
                out.push(Vec::new());
                start = true;
                continue;
            }
            (Quote::Seen, _) => {
                quote = Quote::No;
                cur.push(b);
            }
            _ => cur.push(b),
        }
        start = false;
    }
    (quote != Quote::Inside).then_some(out)
}

/// Whether `name` looks like a column name: short, starting with a letter or `_`, a few words
/// of letters, digits and the punctuation names use.
fn name_like(name: &[u8]) -> bool {
    let Some(&first) = name.first() else {
        return false;
    };
    name.len() <= 64
        && (first.is_ascii_alphabetic() || first == b'_')
        && name.split(|&b| b == b' ').count() <= 4
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"_ -#/().".contains(&b))
        && !name.ends_with(b".")
}

impl Csv {
    /// A CSV reader, if `line` is a header naming a sensitive field.
    pub(super) fn start(ctx: &Ctx<'_>, line: &[u8], next: u64) -> Option<Csv> {
        let delim = if line.contains(&b'\t') { b'\t' } else { b',' };
        let names = split(line, delim)?;
        if names.len() < 2 {
            return None;
        }
        let mut columns = Vec::with_capacity(names.len());
        let mut any = false;
        for (k, raw) in names.iter().enumerate() {
            let name = trim_name(raw);
            if !name_like(name) {
                return None;
            }
            let field = (k < MAX_COLUMNS)
                .then(|| ctx.fields().lookup(name))
                .flatten();
            let sensitive = field.is_some() || k >= MAX_COLUMNS;
            any |= sensitive;
            let why = match field {
                Some(f) => ctx.why(|| ctx.fields().reason("column", name, f)),
                None if sensitive => ctx.why(|| "column past the ones known by name".into()),
                None => None,
            };
            columns.push((sensitive, why));
        }
        any.then(|| Csv {
            delim,
            columns,
            beyond: ctx.why(|| "field past the CSV header".into()),
            field: 0,
            quote: Quote::No,
            field_start: true,
            row: false,
            pending_from: None,
            field_from: next,
            bytes: 0,
            row_start: next,
            one_line: true,
        })
    }

    pub(super) fn pending(&self) -> Option<u64> {
        self.pending_from
    }

    fn sensitive(&self, field: usize) -> bool {
        self.bytes > MAX_ROW || self.columns.get(field).is_none_or(|c| c.0)
    }

    fn flush(&mut self, ctx: &mut Ctx<'_>, upto: u64) {
        if self.row && self.sensitive(self.field) {
            let why = self
                .columns
                .get(self.field)
                .map_or(&self.beyond, |c| &c.1)
                .clone();
            ctx.emit(self.field_from, upto, &why);
        }
        self.field_from = upto;
    }

    fn confirm(&mut self, ctx: &mut Ctx<'_>, at: u64) {
        self.row = true;
        if let Some(from) = self.pending_from.take() {
            self.field_from = from;
        }
        self.flush(ctx, at);
    }

    fn new_row(&mut self, at: u64) {
        self.field = 0;
        self.quote = Quote::No;
        self.field_start = true;
        self.row = false;
        self.pending_from = None;
        self.field_from = at;
        self.bytes = 0;
        self.row_start = at;
        self.one_line = true;
    }

    pub(super) fn part(&mut self, ctx: &mut Ctx<'_>, from: u64, end: u64) -> Step {
        let mut i = ctx.idx(from);
        let n = ctx.idx(end);
        while i < n {
            let b = ctx.vis[i];
            let at = ctx.base + i as u64;
            if b == b'\n' {
                self.flush(ctx, at);
                return Step::Line(at);
            }
            if self.bytes == MAX_ROW {
                // From here on the row is masked: what came before is queued as it was.
                self.flush(ctx, at);
            }
            self.bytes += 1;
            if self.bytes == 1 && !self.row && self.sensitive(0) {
                self.pending_from = Some(at);
            }
            match (self.quote, b) {
                (Quote::No | Quote::Seen, _) if b == self.delim => {
                    if self.row {
                        self.flush(ctx, at);
                    } else {
                        self.confirm(ctx, at);
                    }
                    self.field += 1;
                    self.field_from = at + 1;
                    self.quote = Quote::No;
                    self.field_start = true;
                    i += 1;
                    continue;
                }
                (Quote::No, b'"') if self.field_start => self.quote = Quote::Inside,
                (Quote::Inside, b'"') => self.quote = Quote::Seen,
                (Quote::Seen, b'"') => self.quote = Quote::Inside,
                (Quote::Seen, b'\r') => {}
                (Quote::Seen, _) => self.quote = Quote::No,
                _ => {}
            }
            if b != b' ' && b != b'\r' {
                self.field_start = false;
            }
            if let Some(p) = self.pending_from {
                if at + 1 - p > MAX_PENDING as u64 {
                    self.confirm(ctx, at + 1);
                }
            }
            i += 1;
        }
        self.flush(ctx, end);
        Step::More(end)
    }

    pub(super) fn line_end(
        &mut self,
        ctx: &mut Ctx<'_>,
        at: u64,
        line: Option<(u64, u64)>,
    ) -> Next {
        self.flush(ctx, at);
        if self.quote == Quote::Inside {
            if self.bytes > MAX_ROW {
                // A quote that never closes: masked to here, and no longer read as CSV.
                return Next::Idle;
            }
            // A line break inside a quoted field: the row goes on.
            self.one_line = false;
            self.bytes += 1;
            return Next::Stay;
        }
        if !self.row {
            return Next::Idle;
        }
        // A row that is a header naming a sensitive field starts new columns.
        let header = if self.one_line { line } else { None };
        let start = self.row_start;
        self.new_row(at + 1);
        if let Some((s, e)) = header.filter(|&(s, _)| s >= start) {
            if let Some(next) = Csv::start(ctx, ctx.slice(s, e), at + 1) {
                *self = next;
            }
        }
        Next::Stay
    }

    /// The end of the stream: a line still undecided is taken for a row (fail safe).
    pub(super) fn finish(&mut self, ctx: &mut Ctx<'_>, at: u64) {
        if self.pending_from.is_some() {
            self.confirm(ctx, at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_follows_rfc_4180() {
        let f = split(b"a,\"b, \"\"c\"\"\",,d", b',').unwrap();
        assert_eq!(
            f,
            vec![b"a".to_vec(), b"b, \"c\"".to_vec(), vec![], b"d".to_vec()]
        );
        assert!(split(b"a,\"b", b',').is_none());
        assert!(name_like(b"birth_date"));
        assert!(name_like(b"Date of Birth"));
        assert!(!name_like(b"Hello there my good friend"));
        assert!(!name_like(b"1"));
        assert!(!name_like(b"end."));
    }
}
