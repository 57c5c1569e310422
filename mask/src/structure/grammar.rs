//! What the tracker reads by: the sensitive fields and the fixed formats, compiled once per
//! rule set and shared by its streams.

use crate::fields::FieldSet;

use super::triggers::Triggers;

/// Which fixed-format messages the tracker reads (besides tables and keys named by fields).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Formats {
    /// HL7 v2 segments (PID, NK1, MRG, IN1, GT1 fields holding PHI).
    pub hl7: bool,
    /// FHIR JSON: `Patient`, `Person` and `RelatedPerson` resources.
    pub fhir: bool,
}

/// What the tracker reads by, built once per rule set and shared by its streams.
#[derive(Debug)]
pub(crate) struct Grammar {
    pub(crate) fields: FieldSet,
    pub(crate) formats: Formats,
    pub(super) triggers: Triggers,
}

impl Grammar {
    pub(crate) fn new(fields: FieldSet, formats: Formats) -> Grammar {
        let triggers = Triggers::new(!fields.is_empty(), formats.hl7, formats.fhir);
        Grammar {
            fields,
            formats,
            triggers,
        }
    }

    /// Whether there is anything to track.
    pub(super) fn on(&self) -> bool {
        !self.fields.is_empty() || self.formats.hl7 || self.formats.fhir
    }
}
