//! One masked identifier, as `mask-test` reports it.

use std::ops::Range;

/// One masked identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Name of the rule that matched.
    pub rule: String,
    /// Byte range of the masked text in the input (for keyword rules, the value only). An
    /// escape sequence inside the identifier lies within the range and is kept.
    pub range: Range<usize>,
    /// For values found by where they sit rather than by their shape: the column, key or
    /// field that makes them sensitive (`column "birth_date" (pack hipaa, field dob)`).
    pub reason: Option<String>,
}
