//! Errors raised while turning a [`RuleSet`](super::RuleSet) into a [`Masker`](super::Masker).

/// Why a rule set could not be compiled.
///
/// Every variant about one rule names it, so `bastion config check` can point at the culprit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MaskError {
    /// The pattern is not a valid regular expression (or uses an unsupported feature).
    #[error("masking rule `{rule}`: invalid pattern: {message}")]
    InvalidPattern {
        /// Rule name.
        rule: String,
        /// The parser's explanation, including the position in the pattern.
        message: String,
    },
    /// The pattern can match arbitrarily long text (`\d+`, `.*`, `{3,}`), so a stream could never
    /// decide where a match ends without buffering without limit.
    #[error(
        "masking rule `{rule}`: pattern has no maximum match length; \
         use bounded repetitions such as `\\d{{6,12}}` instead of `+`, `*` or `{{n,}}`"
    )]
    Unbounded {
        /// Rule name.
        rule: String,
    },
    /// The longest possible match exceeds the limit that bounds per-stream memory.
    #[error(
        "masking rule `{rule}`: matches up to {max_len} bytes, more than the limit of {limit}"
    )]
    TooLong {
        /// Rule name.
        rule: String,
        /// Longest match of the pattern, in bytes.
        max_len: usize,
        /// [`MAX_MATCH_LEN`](super::MAX_MATCH_LEN).
        limit: usize,
    },
    /// The pattern can match the empty string, which would mask nothing and loop forever.
    #[error("masking rule `{rule}`: pattern can match empty text")]
    EmptyMatch {
        /// Rule name.
        rule: String,
    },
    /// `group` names a capture group the pattern does not have.
    #[error("masking rule `{rule}`: group {group} does not exist (pattern has {groups} groups)")]
    NoSuchGroup {
        /// Rule name.
        rule: String,
        /// Requested group index.
        group: usize,
        /// Number of explicit groups in the pattern.
        groups: usize,
    },
    /// Two rules share a name, so hits and `config check` output would be ambiguous.
    #[error("masking rule `{rule}` is defined twice")]
    DuplicateName {
        /// Rule name.
        rule: String,
    },
    /// A rule name is empty.
    #[error("a masking rule has an empty name")]
    EmptyName,
    /// A validator name is not one of those known.
    #[error("unknown masking validator `{name}` (expected one of: {known})", known = expected.join(", "))]
    UnknownValidator {
        /// The name given.
        name: String,
        /// The names known ([`Validator::NAMES`](crate::Validator::NAMES)).
        expected: &'static [&'static str],
    },
    /// A sensitive field's patterns cannot name anything.
    #[error("masking field `{field}`: {message}")]
    InvalidField {
        /// Field name.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The combined automaton could not be built (too large for the configured limits).
    #[error("masking rules could not be combined: {message}")]
    Build {
        /// The engine's explanation.
        message: String,
    },
}

impl MaskError {
    /// The rule the error is about, when it is about one.
    pub fn rule(&self) -> Option<&str> {
        match self {
            MaskError::InvalidPattern { rule, .. }
            | MaskError::Unbounded { rule }
            | MaskError::TooLong { rule, .. }
            | MaskError::EmptyMatch { rule }
            | MaskError::NoSuchGroup { rule, .. }
            | MaskError::DuplicateName { rule } => Some(rule),
            MaskError::EmptyName
            | MaskError::UnknownValidator { .. }
            | MaskError::InvalidField { .. }
            | MaskError::Build { .. } => None,
        }
    }
}
