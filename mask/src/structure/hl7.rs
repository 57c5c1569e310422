//! HL7 v2 messages: the fields of PID (and NK1, MRG, IN1, GT1) segments that hold PHI are
//! masked wherever a segment starts a line (`cat` of a feed file, an interface engine's log
//! that prints segments on lines of their own).
//!
//! Segments are separated by CR (the standard) or line feeds, fields by the separator that
//! follows the segment id (`|`, or what MSH declares). A segment is read as it arrives: the
//! field number is known at each separator, so a PHI field is masked from its first byte and
//! nothing is held. Components (`^`), repetitions (`~`) and escapes stay as they are; every
//! letter and digit of a PHI field is masked. The message ends at a line that is not a segment.

use super::ctx::{Ctx, Next, Step};
use super::triggers::OPENERS;

/// A segment's PHI fields: number and what it holds.
type PhiFields = &'static [(u16, &'static str)];

/// The PHI fields of the segments read, by field number.
const SEGMENTS: &[(&[u8; 3], PhiFields)] = &[
    (
        b"PID",
        &[
            (2, "patient ID"),
            (3, "patient identifier list"),
            (4, "alternate patient ID"),
            (5, "patient name"),
            (6, "mother's maiden name"),
            (7, "date of birth"),
            (9, "patient alias"),
            (11, "patient address"),
            (12, "county code"),
            (13, "home phone"),
            (14, "business phone"),
            (18, "patient account number"),
            (19, "SSN"),
            (20, "driver's license number"),
            (21, "mother's identifier"),
            (23, "birth place"),
            (29, "patient death date"),
        ],
    ),
    (
        b"NK1",
        &[
            (2, "next of kin name"),
            (4, "next of kin address"),
            (5, "next of kin phone"),
            (6, "next of kin business phone"),
            (30, "contact person's name"),
            (31, "contact person's phone"),
            (32, "contact person's address"),
            (33, "next of kin identifiers"),
            (37, "next of kin SSN"),
        ],
    ),
    (
        b"MRG",
        &[
            (1, "prior patient identifier list"),
            (2, "prior alternate patient ID"),
            (3, "prior patient account number"),
            (4, "prior patient ID"),
            (7, "prior patient name"),
        ],
    ),
    (
        b"IN1",
        &[
            (16, "name of insured"),
            (18, "insured's date of birth"),
            (19, "insured's address"),
            (36, "policy number"),
            (49, "insured's ID number"),
        ],
    ),
    (
        b"GT1",
        &[
            (2, "guarantor number"),
            (3, "guarantor name"),
            (5, "guarantor address"),
            (6, "guarantor home phone"),
            (7, "guarantor business phone"),
            (8, "guarantor date of birth"),
            (12, "guarantor SSN"),
        ],
    ),
];

/// Whether some text starts an HL7 segment.
pub(super) enum Begins {
    Yes,
    No,
    /// Too few bytes to tell.
    Maybe,
}

#[derive(Debug, Clone)]
pub(super) struct Hl7 {
    /// The field separator (MSH-1).
    separator: u8,
    /// The segment's id and separator as read so far (at a segment start).
    head: [u8; 4],
    head_len: usize,
    /// Index into `SEGMENTS` of the current segment, if it has PHI fields.
    segment: Option<usize>,
    field: u16,
    field_from: u64,
}

impl Hl7 {
    /// Whether `text` (from the first non-blank byte of a line) starts a segment that starts
    /// HL7 reading.
    pub(super) fn begins(text: &[u8]) -> Begins {
        let n = text.len().min(4);
        for (i, &b) in text[..n].iter().enumerate() {
            let ok = match i {
                0 => b.is_ascii_uppercase(),
                1 | 2 => b.is_ascii_uppercase() || b.is_ascii_digit(),
                _ => b == b'|',
            };
            if !ok {
                return Begins::No;
            }
        }
        if n < 4 {
            return Begins::Maybe;
        }
        if OPENERS.iter().any(|o| &text[..3] == *o) {
            Begins::Yes
        } else {
            Begins::No
        }
    }

    pub(super) fn new() -> Hl7 {
        Hl7 {
            separator: b'|',
            head: [0; 4],
            head_len: 0,
            segment: None,
            field: 0,
            field_from: 0,
        }
    }

    fn sensitive(&self) -> Option<&'static str> {
        let (_, fields) = SEGMENTS.get(self.segment?)?;
        fields
            .iter()
            .find(|(n, _)| *n == self.field)
            .map(|(_, what)| *what)
    }

    fn flush(&mut self, ctx: &mut Ctx<'_>, upto: u64) {
        if self.head_len == 4 {
            if let Some(what) = self.sensitive() {
                let id = self.head;
                let field = self.field;
                let why = ctx
                    .why(|| format!("HL7 {}-{field} ({what})", String::from_utf8_lossy(&id[..3])));
                ctx.emit(self.field_from, upto, &why);
            }
        }
        self.field_from = upto;
    }

    pub(super) fn part(&mut self, ctx: &mut Ctx<'_>, from: u64, end: u64) -> Hl7Step {
        let mut i = ctx.idx(from);
        let n = ctx.idx(end);
        while i < n {
            let b = ctx.vis[i];
            let at = ctx.base + i as u64;
            if b == b'\n' {
                self.flush(ctx, at);
                return Hl7Step::Step(Step::Line(at));
            }
            if self.head_len < 4 {
                // A segment starts: its id, then the separator.
                if self.head_len == 0 && matches!(b, b'\r' | b' ' | b'\t') {
                    i += 1;
                    continue;
                }
                let ok = match self.head_len {
                    0 => b.is_ascii_uppercase(),
                    1 | 2 => b.is_ascii_uppercase() || b.is_ascii_digit(),
                    _ => b == self.separator || &self.head[..3] == b"MSH",
                };
                if !ok {
                    // The line is something else: read from this byte as a new line if
                    // nothing of it was taken yet, else as plain text.
                    return if self.head_len == 0 {
                        Hl7Step::NotASegment(at, true)
                    } else {
                        Hl7Step::NotASegment(at + 1, false)
                    };
                }
                self.head[self.head_len] = b;
                self.head_len += 1;
                if self.head_len == 4 {
                    let id = [self.head[0], self.head[1], self.head[2]];
                    if &id == b"MSH" {
                        self.separator = b;
                    }
                    self.segment = SEGMENTS.iter().position(|(s, _)| **s == id);
                    // MSH-1 is the separator itself: the field after it is MSH-2.
                    self.field = if &id == b"MSH" { 2 } else { 1 };
                    self.field_from = at + 1;
                }
                i += 1;
                continue;
            }
            if b == b'\r' {
                self.flush(ctx, at);
                self.head_len = 0;
            } else if b == self.separator {
                self.flush(ctx, at);
                self.field = self.field.saturating_add(1);
                self.field_from = at + 1;
            }
            i += 1;
        }
        self.flush(ctx, end);
        Hl7Step::Step(Step::More(end))
    }

    pub(super) fn line_end(&mut self) -> Next {
        self.head_len = 0;
        Next::Stay
    }
}

/// What the HL7 reader did.
pub(super) enum Hl7Step {
    Step(Step),
    /// What comes from this offset on is no segment: the message is over. With `true`, the
    /// line is read afresh from there; else the rest of it is plain text.
    NotASegment(u64, bool),
}
