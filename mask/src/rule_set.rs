//! A rule set: the rules in priority order, the sensitive fields and the formats read; what
//! the configuration layer builds and [`RuleSet::compile`] turns into a [`Masker`](crate::Masker).

use crate::error::MaskError;
use crate::fields::Field;
use crate::labelled;
use crate::rule::{Rule, RuleSource};
use crate::structure::Formats;

/// An ordered list of rules (earlier rules win when two match at the same position), the
/// sensitive field names (table columns, keys, labels) and the fixed formats read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleSet {
    rules: Vec<Rule>,
    fields: Vec<Field>,
    formats: Formats,
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

    /// The sensitive fields, in priority order (a name two fields match belongs to the first).
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// Replaces the field list; the labelled-field rules (`field-*`) follow it: they are
    /// generated from it in place (keeping their priority and whether each is enabled), or
    /// removed without fields.
    pub fn set_fields(&mut self, fields: Vec<Field>) {
        self.fields = fields;
        let generated = labelled::rules(&self.fields);
        if generated.is_empty() {
            self.rules
                .retain(|r| !labelled::is_labelled(&r.name) || r.source != RuleSource::Fields);
            return;
        }
        for mut rule in generated {
            match self.rules.iter_mut().find(|r| r.name == rule.name) {
                Some(existing) if existing.source == RuleSource::Fields => {
                    rule.enabled = existing.enabled;
                    *existing = rule;
                }
                // A site rule of that name stays.
                Some(_) => {}
                None => self.rules.push(rule),
            }
        }
    }

    /// The fixed formats read (HL7 v2, FHIR).
    pub fn formats(&self) -> Formats {
        self.formats
    }

    /// Sets the fixed formats read.
    pub fn set_formats(&mut self, formats: Formats) {
        self.formats = formats;
    }

    /// Adds another set (a second pack): its rules replace those of the same name or come
    /// after, its fields join those of other names, its formats add to these.
    pub fn merge(&mut self, other: &RuleSet) {
        for rule in &other.rules {
            if rule.source != RuleSource::Fields {
                self.replace(rule.clone());
            }
        }
        let mut fields = self.fields.clone();
        for f in &other.fields {
            if !fields.iter().any(|x| x.name == f.name) {
                fields.push(f.clone());
            }
        }
        self.formats.hl7 |= other.formats.hl7;
        self.formats.fhir |= other.formats.fhir;
        // The labelled-field rules go after every pack's own rules, which know the shape of
        // their values and so win a tie.
        let disabled: Vec<String> = self
            .rules
            .iter()
            .filter(|r| r.source == RuleSource::Fields && !r.enabled)
            .map(|r| r.name.clone())
            .collect();
        self.rules.retain(|r| r.source != RuleSource::Fields);
        self.set_fields(fields);
        for name in disabled {
            self.set_enabled(&name, false);
        }
    }
}
