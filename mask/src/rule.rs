//! One rule: what the configuration layer builds, gathered in a [`RuleSet`](crate::RuleSet).

use std::fmt;

use crate::validate::Validator;

/// Where a rule comes from, for `bastion config check --masking`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RuleSource {
    /// A built-in pack, such as `hipaa`.
    Pack(&'static str),
    /// Defined in the site configuration.
    Custom,
    /// Generated from the field list: a labelled field's value (`ssn=…`, `"dob": …`).
    Fields,
}

impl fmt::Display for RuleSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleSource::Pack(name) => write!(f, "pack {name}"),
            RuleSource::Custom => f.write_str("custom"),
            RuleSource::Fields => f.write_str("fields"),
        }
    }
}

/// One masking rule.
///
/// Patterns use the `regex` crate syntax with ASCII semantics by default: `\d`, `\w`, `\s`,
/// `\b` and `(?i)` are ASCII-only, which keeps the automaton small and fast and is what
/// identifiers need. Every repetition must be bounded (`\d{6,12}`, not `\d+`): the longest
/// possible match bounds how much of a stream the masker may hold back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Unique name, reported in hits and errors.
    pub name: String,
    /// Regular expression.
    pub pattern: String,
    /// Capture group to mask (1-based, as in the pattern); `None` masks the whole match. Used
    /// for "keyword … value" rules, where only the value is masked.
    pub group: Option<usize>,
    /// Check run on the masked text of a candidate; failing candidates are left alone.
    pub validator: Option<Validator>,
    /// Disabled rules are kept for reporting but never compiled.
    pub enabled: bool,
    /// Where the rule comes from.
    pub source: RuleSource,
    /// A match counts only after the start of the stream, a space, a line break or
    /// punctuation that ends a word (` <(:,;"'[=/|>&?.{`): for rules whose matches may hold
    /// letters beyond ASCII, which binary output would otherwise resemble (a mask shortens a
    /// multi-byte character, and the output would lose bytes).
    pub after_text: bool,
}

impl Rule {
    /// An enabled custom rule masking the whole match, without validator.
    pub fn custom(name: impl Into<String>, pattern: impl Into<String>) -> Self {
        Rule {
            name: name.into(),
            pattern: pattern.into(),
            group: None,
            validator: None,
            enabled: true,
            source: RuleSource::Custom,
            after_text: false,
        }
    }

    /// Masks only capture group `group` of each match.
    pub fn with_group(mut self, group: usize) -> Self {
        self.group = Some(group);
        self
    }

    /// Keeps only candidates that pass `validator`.
    pub fn with_validator(mut self, validator: Validator) -> Self {
        self.validator = Some(validator);
        self
    }

    /// Counts matches only after text (see [`Rule::after_text`]).
    pub fn after_text(mut self) -> Self {
        self.after_text = true;
        self
    }

    /// Sets whether the rule is enabled.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }
}
