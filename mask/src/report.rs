//! What `bastion mask-test` and `bastion config check --masking` show.

use crate::core::Core;
use crate::engine::RuleSummary;
use crate::fields::Field;
use crate::hit::Hit;
use crate::masker::Masker;
use crate::structure::Formats;

/// Result of [`Masker::mask_test`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskReport {
    /// The input, masked exactly as a recording would be.
    pub masked: Vec<u8>,
    /// What was masked, in input order.
    pub hits: Vec<Hit>,
}

impl Masker {
    /// Masks `input` as one whole stream and reports each hit, for `bastion mask-test`.
    pub fn mask_test(&self, input: &[u8]) -> MaskReport {
        let mut core = Core::new(self.engine().clone());
        core.record_hits();
        let mut masked = Vec::with_capacity(input.len());
        core.push(input, &mut masked);
        core.finish(&mut masked);
        let mut hits = core.take_hits();
        // A value found both by its shape and by where it sits is one hit (the first found).
        let mut seen = std::collections::HashSet::new();
        hits.retain(|h| seen.insert(h.range.clone()));
        hits.sort_by_key(|h| h.range.start);
        MaskReport { masked, hits }
    }

    /// Masks `input` as one whole stream.
    pub fn mask(&self, input: &[u8]) -> Vec<u8> {
        let mut core = Core::new(self.engine().clone());
        let mut masked = Vec::with_capacity(input.len());
        core.push(input, &mut masked);
        core.finish(&mut masked);
        masked
    }

    /// Every rule of the set (enabled or not) with its source and longest match, for
    /// `bastion config check --masking`.
    pub fn summary(&self) -> &[RuleSummary] {
        &self.engine().summary
    }

    /// The sensitive fields (column headers, keys, labels), for `config check --masking`.
    pub fn fields(&self) -> &[Field] {
        self.engine().grammar.fields.fields()
    }

    /// The fixed formats read by structure (HL7 v2, FHIR).
    pub fn formats(&self) -> Formats {
        self.engine().grammar.formats
    }

    /// Longest match of any enabled rule, in visible bytes: the most a stream holds back
    /// (plus escape sequences inside it).
    pub fn max_match_len(&self) -> usize {
        self.engine().max_len
    }
}
