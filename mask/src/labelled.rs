//! Rules that find the value of a sensitive field labelled in running text: a JSON or Python
//! key (`"birth_date": "1961-04-02"`), a log field (`ssn=123456789`), a YAML or `Key: value`
//! line (`Date of Birth: 1961-04-02`), an XML element (`<ssn>…</ssn>`).
//!
//! They are generated from the field list (see `fields.rs`), so a field added by a site is found
//! in all these forms as well as in table headers. Each form requires its syntax around the key
//! (quotes and a colon, `=` with nothing around it, a colon at the start of a line, angle
//! brackets), which keeps ordinary prose (`the patient name is…`) and code (`name = value`)
//! out. Values are bounded (80 characters): a longer one has its first 80 masked, which keeps
//! these rules' longest match near the e-mail rule's (what a stream holds back).

use crate::fields::{pattern_regex, Field};
use crate::rule::{Rule, RuleSource};

/// Names of the generated rules, in priority order.
pub const RULE_NAMES: [&str; 4] = [
    "field-quoted-key",
    "field-equals",
    "field-colon",
    "field-xml",
];

// Values are text: ASCII, or letters beyond it as whole UTF-8 sequences (as in the e-mail
// rule): binary output does not look like a labelled value (a mask shortens a multi-byte
// character to its display width, so binary output would lose bytes).
const DQ: &str = concat!(
    r#""(?:[^"\\\x00-\x1f\x7f-\xff]|\\[\x20-\x7e]|"#,
    r"(?:[\xc3-\xc9\xce-\xd4][\x80-\xbf]|[\xe3-\xed][\x80-\xbf]{2})",
    r#"){0,80}"?"#
);
const SQ: &str = concat!(
    r"'(?:[^'\\\x00-\x1f\x7f-\xff]|\\[\x20-\x7e]|",
    r"(?:[\xc3-\xc9\xce-\xd4][\x80-\xbf]|[\xe3-\xed][\x80-\xbf]{2})",
    r"){0,80}'?"
);
/// A letter beyond ASCII, as the e-mail rule has it.
const U: &str = r"(?:[\xc3-\xc9\xce-\xd4][\x80-\xbf]|[\xe3-\xed][\x80-\xbf]{2})";

/// The labelled-field rules for `fields` (none without fields).
pub(crate) fn rules(fields: &[Field]) -> Vec<Rule> {
    let mut parts: Vec<String> = Vec::new();
    for f in fields {
        for p in &f.patterns {
            if let Some(re) = pattern_regex(p) {
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
    // Unquoted, a value with letters beyond ASCII has three characters at least (see `DQ`).
    let plain = r#"[^\x00-\x20"',;&<>(){}\[\]\x7f-\xff]"#;
    let equals = format!(r#"{DQ}|{SQ}|(?:{plain}|{U}){{3,80}}|{plain}{{1,80}}"#);
    let colon = format!(
        r#"{DQ}|{SQ}|(?:[^\x00-\x20"'|>#\x7f-\xff]|{U})(?:[^\x00-\x08\x0a-\x1f\x7f-\xff]|{U}){{0,79}}"#
    );
    let patterns = [
        format!(r#"(?i)["']({keys})["'][ \t]{{0,8}}:[ \t]{{0,8}}({json})"#),
        format!(r"(?i)\b({keys})=({equals})"),
        format!(
            r"(?imR)^[ \t]{{0,32}}(?:-[ \t]{{1,4}})?({keys})[ \t]{{0,24}}:[ \t]{{1,24}}({colon})"
        ),
        format!(
            r"(?i)<({keys})(?:[ \t][^<>\r\n]{{0,64}})?>((?:[^<\x00-\x08\x0a-\x1f\x7f-\xff]|{U}){{1,80}})"
        ),
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
            // Values may hold letters beyond ASCII: not in binary output.
            after_text: true,
        })
        .collect()
}

/// Whether a rule is one of these (its group 1 is the key, for reasons in hits).
pub(crate) fn is_labelled(rule: &str) -> bool {
    RULE_NAMES.contains(&rule)
}
