//! Rules that find the value of a sensitive field labelled in running text: a JSON or Python
//! key (`"birth_date": "1961-04-02"`), a log field (`ssn=123456789`), a YAML or `Key: value`
//! line (`Date of Birth: 1961-04-02`), an XML element (`<ssn>…</ssn>`).
//!
//! They are generated from the field list (see `fields.rs`), so a field added by a site is found
//! in all these forms as well as in table headers. Each form requires its syntax around the key
//! (quotes and a colon, `=` with nothing around it, a colon at the start of a line, angle
//! brackets), which keeps ordinary prose (`the patient name is…`) and code (`name = value`)
//! out. Values are bounded (100 characters): a longer one has its first 100 masked, which
//! keeps these rules' longest match under the e-mail rule's (what a stream holds back).

use super::{Field, Rule, RuleSource};

/// Names of the generated rules, in priority order.
pub const RULE_NAMES: [&str; 4] = [
    "field-quoted-key",
    "field-equals",
    "field-colon",
    "field-xml",
];

const DQ: &str = r#""(?:[^"\\\r\n]|\\[^\r\n]){0,100}"?"#;
const SQ: &str = r"'(?:[^'\\\r\n]|\\[^\r\n]){0,100}'?";

/// The labelled-field rules for `fields` (none without fields).
pub(crate) fn rules(fields: &[Field]) -> Vec<Rule> {
    let mut parts: Vec<String> = Vec::new();
    for f in fields {
        for p in &f.patterns {
            if let Some(re) = super::fields::pattern_regex(p) {
                if !parts.contains(&re) {
                    parts.push(re);
                }
            }
        }
    }
    if parts.is_empty() {
        return Vec::new();
    }
    let keys = parts.join("|");
    let json = format!(r"{DQ}|{SQ}|-?[0-9][0-9.eE+-]{{0,31}}");
    let equals = format!(r#"{DQ}|{SQ}|[^\s"',;&<>(){{}}\[\]]{{1,100}}"#);
    let colon = format!(r#"{DQ}|{SQ}|[^\s"'|>#][^\r\n]{{0,99}}"#);
    let patterns = [
        format!(r#"(?i)["']({keys})["'][ \t]{{0,8}}:[ \t]{{0,8}}({json})"#),
        format!(r"(?i)\b({keys})=({equals})"),
        format!(
            r"(?imR)^[ \t]{{0,32}}(?:-[ \t]{{1,4}})?({keys})[ \t]{{0,24}}:[ \t]{{1,24}}({colon})"
        ),
        format!(r"(?i)<({keys})(?:[ \t][^<>\r\n]{{0,64}})?>([^<\r\n]{{1,100}})"),
    ];
    RULE_NAMES
        .iter()
        .zip(patterns)
        .map(|(name, pattern)| Rule {
            name: (*name).to_owned(),
            pattern,
            group: Some(2),
            validator: None,
            enabled: true,
            source: RuleSource::Fields,
        })
        .collect()
}

/// Whether a rule is one of these (its group 1 is the key, for reasons in hits).
pub(crate) fn is_labelled(rule: &str) -> bool {
    RULE_NAMES.contains(&rule)
}
