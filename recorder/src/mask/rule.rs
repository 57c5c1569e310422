//! Rule definitions: what the configuration layer builds and `RuleSet::compile` consumes.

use std::fmt;

use super::{compile, MaskError, Masker, Validator};

/// Where a rule comes from, for `bastion config check --masking`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RuleSource {
    /// A built-in pack, such as `hipaa`.
    Pack(&'static str),
    /// Defined in the site configuration.
    Custom,
}

impl fmt::Display for RuleSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleSource::Pack(name) => write!(f, "pack {name}"),
            RuleSource::Custom => f.write_str("custom"),
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

    /// Sets whether the rule is enabled.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }
}

/// An ordered list of rules. Earlier rules win when two match at the same position.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleSet {
    rules: Vec<Rule>,
}

impl RuleSet {
    /// A rule set without rules (masks nothing).
    pub fn new() -> Self {
        RuleSet::default()
    }

    /// Appends a rule at the lowest priority.
    ///
    /// # Errors
    ///
    /// [`MaskError::DuplicateName`] if a rule with that name exists (use [`RuleSet::replace`]
    /// to override a pack rule on purpose), [`MaskError::EmptyName`] for an empty name.
    pub fn push(&mut self, rule: Rule) -> Result<(), MaskError> {
        if rule.name.is_empty() {
            return Err(MaskError::EmptyName);
        }
        if self.rules.iter().any(|r| r.name == rule.name) {
            return Err(MaskError::DuplicateName { rule: rule.name });
        }
        self.rules.push(rule);
        Ok(())
    }

    /// Replaces the rule with the same name in place (keeping its priority), or appends it.
    /// Returns the replaced rule. This is how a site overrides a pack rule.
    pub fn replace(&mut self, rule: Rule) -> Option<Rule> {
        match self.rules.iter_mut().find(|r| r.name == rule.name) {
            Some(existing) => Some(std::mem::replace(existing, rule)),
            None => {
                self.rules.push(rule);
                None
            }
        }
    }

    /// Enables or disables the rule called `name`; returns whether it exists.
    pub fn set_enabled(&mut self, name: &str, enabled: bool) -> bool {
        match self.rules.iter_mut().find(|r| r.name == name) {
            Some(rule) => {
                rule.enabled = enabled;
                true
            }
            None => false,
        }
    }

    /// All rules, enabled or not, in priority order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Compiles the enabled rules into one automaton.
    ///
    /// # Errors
    ///
    /// A [`MaskError`] naming the first offending rule: invalid or unbounded pattern, pattern
    /// matching empty text, missing group, duplicate name; or [`MaskError::Build`] when the
    /// combined automaton exceeds the engine's size limits.
    pub fn compile(&self) -> Result<Masker, MaskError> {
        compile::compile(&self.rules)
    }
}
