//! Sensitive field names: which column headers, JSON keys, `key=value` labels and psql `\x`
//! fields carry PHI.
//!
//! A [`Field`] is a name for what is sensitive (`dob`) and the patterns naming it in output
//! (`dob`, `birth date`, `date of birth`, …). Patterns are globs (`*` any run, `?` one letter or
//! digit), matched case-insensitively against the *whole* name, where `_`, `-`, `.`, `'`, a
//! space and nothing are alike between characters: `birth date` matches `birth_date`,
//! `BirthDate` and `birthdate`; `dob` does not match `dob_verified`, `dob*` does.
//!
//! Each pattern becomes a regular-expression fragment ([`pattern_regex`]). The same fragments
//! serve the structure tracker (is this header or key sensitive?) and the labelled-field rules
//! that find `key=value` in running text, so the two never disagree about a name. Globs are
//! converted here rather than with a glob crate because the result must be a bounded fragment
//! of the rules' regex syntax, which no glob library produces.

use std::fmt::Write as _;

use regex_automata::{meta, Anchored, Input};

use crate::error::MaskError;
use crate::rule::RuleSource;

/// One sensitive field and the names it goes by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// What the field is (`dob`), shown in hits: `column "birth_date" (pack hipaa, field dob)`.
    pub name: String,
    /// Globs naming it in output.
    pub patterns: Vec<String>,
    /// Pack or site configuration.
    pub source: RuleSource,
}

impl Field {
    /// A site field named by its one pattern (`notes`, `emergency_contact*`).
    pub fn custom(pattern: impl Into<String>) -> Field {
        let pattern = pattern.into();
        Field {
            name: pattern.clone(),
            patterns: vec![pattern],
            source: RuleSource::Custom,
        }
    }

    pub(crate) fn pack(pack: &'static str, name: &str, patterns: &[&str]) -> Field {
        Field {
            name: name.to_owned(),
            patterns: patterns.iter().map(|p| (*p).to_owned()).collect(),
            source: RuleSource::Pack(pack),
        }
    }
}

/// What a `*` in a pattern may stand for: a bounded run of name characters, so that a rule
/// built from it has a bounded match length and never crosses the syntax around a key.
const STAR: &str = r"[A-Za-z0-9_ .'-]{0,24}";
/// What may stand between two characters of a name.
const SEP: &str = r"[_ .'-]?";

/// The regex fragment for one glob (case-insensitive matching is the caller's flag). `None`
/// for a pattern without any letter, digit or wildcard.
pub(crate) fn pattern_regex(glob: &str) -> Option<String> {
    let mut out = String::new();
    let mut after_char = false;
    let mut any = false;
    for c in glob.chars() {
        match c {
            '_' | '-' | ' ' | '.' | '\'' | '\t' => {}
            '*' => {
                out.push_str(STAR);
                after_char = false;
                any = true;
            }
            '?' => {
                if after_char {
                    out.push_str(SEP);
                }
                out.push_str("[A-Za-z0-9]");
                after_char = true;
                any = true;
            }
            c => {
                if after_char {
                    out.push_str(SEP);
                }
                let mut buf = [0u8; 4];
                out.push_str(&regex_syntax::escape(c.encode_utf8(&mut buf)));
                after_char = true;
                any = true;
            }
        }
    }
    any.then_some(out)
}

/// The compiled field list: which field, if any, a name belongs to.
#[derive(Debug)]
pub(crate) struct FieldSet {
    fields: Vec<Field>,
    /// One anchored pattern per field (its globs as alternatives), leftmost-first so the
    /// earlier field wins a name two fields share. `None` without fields.
    names: Option<meta::Regex>,
}

/// Longest name looked up; a longer header or key is no name a field list can mean, and is
/// treated as sensitive by the callers (fail safe).
pub(crate) const MAX_NAME: usize = 128;

impl FieldSet {
    pub(crate) fn build(fields: &[Field]) -> Result<FieldSet, MaskError> {
        let mut alternations = Vec::new();
        for f in fields {
            let parts: Vec<String> = f.patterns.iter().filter_map(|p| pattern_regex(p)).collect();
            if parts.is_empty() {
                return Err(MaskError::InvalidField {
                    field: f.name.clone(),
                    message: "needs at least one pattern with a letter, digit or wildcard".into(),
                });
            }
            alternations.push(format!(r"(?i:{})\z", parts.join("|")));
        }
        let names = if alternations.is_empty() {
            None
        } else {
            let re = meta::Regex::builder()
                .syntax(
                    regex_automata::util::syntax::Config::new()
                        .unicode(false)
                        .utf8(false),
                )
                .configure(meta::Config::new().utf8_empty(false))
                .build_many(&alternations)
                .map_err(|e| MaskError::Build {
                    message: e.to_string(),
                })?;
            Some(re)
        };
        Ok(FieldSet {
            fields: fields.to_vec(),
            names,
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub(crate) fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The field `name` belongs to. `name` is taken as it is (callers trim padding and quotes).
    pub(crate) fn lookup(&self, name: &[u8]) -> Option<usize> {
        let re = self.names.as_ref()?;
        if name.is_empty() || name.len() > MAX_NAME {
            return None;
        }
        re.search(&Input::new(name).anchored(Anchored::Yes))
            .map(|m| m.pattern().as_usize())
    }

    /// Why a value is masked: `column "birth_date" (pack hipaa, field dob)`.
    pub(crate) fn reason(&self, what: &str, name: &[u8], field: usize) -> String {
        let mut s = format!("{what} \"{}\"", String::from_utf8_lossy(name));
        if let Some(f) = self.fields.get(field) {
            let _ = write!(s, " ({}, field {})", f.source, f.name);
        }
        s
    }
}

/// Trims what surrounds a name in a header or key: spaces, tabs, quotes.
pub(crate) fn trim_name(name: &[u8]) -> &[u8] {
    let keep = |b: &u8| !matches!(b, b' ' | b'\t' | b'"' | b'\'' | b'`' | b'\r');
    let Some(s) = name.iter().position(keep) else {
        return &[];
    };
    let e = name.iter().rposition(keep).map_or(s, |e| e + 1);
    &name[s..e]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(patterns: &[&[&str]]) -> FieldSet {
        let fields: Vec<Field> = patterns
            .iter()
            .enumerate()
            .map(|(i, p)| Field::pack("t", &format!("f{i}"), p))
            .collect();
        FieldSet::build(&fields).unwrap()
    }

    #[test]
    fn separators_case_and_wholeness() {
        let s = set(&[&["birth date", "dob"], &["*phone*"], &["patient ?d"]]);
        for (name, want) in [
            (&b"birth_date"[..], Some(0)),
            (b"BirthDate", Some(0)),
            (b"birthdate", Some(0)),
            (b"Birth-Date", Some(0)),
            (b"DOB", Some(0)),
            (b"dob_verified", None),
            (b"birth_date2", None),
            (b"home_phone_number", Some(1)),
            (b"Phone", Some(1)),
            (b"patient_id", Some(2)),
            (b"patient_idx", None),
            (b"status", None),
            (b"", None),
        ] {
            assert_eq!(s.lookup(name), want, "{}", String::from_utf8_lossy(name));
        }
        assert_eq!(
            s.reason("column", b"birth_date", 0),
            "column \"birth_date\" (pack t, field f0)"
        );
    }

    #[test]
    fn a_pattern_needs_something_to_match() {
        let f = Field::custom("_-");
        assert!(matches!(
            FieldSet::build(&[f]),
            Err(MaskError::InvalidField { .. })
        ));
        assert_eq!(trim_name(b"  \"name\" "), b"name");
        assert_eq!(trim_name(b"   "), b"");
    }
}
