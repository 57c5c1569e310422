//! The built-in `hipaa` pack: identifiers from the HIPAA Safe Harbor list that have a
//! recognisable shape in terminal output.
//!
//! Each pattern trades recall for precision where text alone cannot tell an identifier from an
//! ordinary number: bare nine-digit numbers are SSNs only next to an SSN keyword, dates only
//! next to a birth keyword, record/account/member numbers only after their labels. Validators
//! (SSN issuance rules, Luhn, NPI Luhn) reject most random digit strings of the right shape.
//!
//! Patterns are written with ASCII semantics (see [`Rule`]) and bounded repetitions only.

use crate::fields::Field;
use crate::rule::{Rule, RuleSource};
use crate::rule_set::RuleSet;
use crate::structure::Formats;
use crate::validate::Validator;

const PACK: RuleSource = RuleSource::Pack("hipaa");

/// The pack's sensitive fields: what column headers, keys and labels name PHI. Whole names
/// only (see `fields.rs`): `name` is sensitive, `hostname` and `name_verified` are not.
pub(crate) fn hipaa_fields() -> Vec<Field> {
    let f = |name: &str, patterns: &[&str]| Field::pack("hipaa", name, patterns);
    vec![
        f(
            "name",
            &[
                "name",
                "full name",
                "first name",
                "last name",
                "middle name",
                "given name",
                "family name",
                "surname",
                "forename",
                "maiden name",
                "mother's maiden name",
                "mothers maiden name",
                "preferred name",
            ],
        ),
        f("patient", &["patient", "patient name"]),
        f("dob", &["dob", "birth date", "date of birth", "birthday"]),
        f(
            "ssn",
            &[
                "ssn",
                "social security number",
                "social security no",
                "social security",
                "ss number",
            ],
        ),
        f(
            "mrn",
            &[
                "mrn",
                "medical record",
                "medical record number",
                "medical record no",
                "record number",
                "record no",
                "chart number",
                "chart no",
                "chart id",
                "patient id",
                "patient number",
                "patient no",
            ],
        ),
        f(
            "address",
            &[
                "address",
                "address line",
                "address line ?",
                "street",
                "street address",
                "home address",
                "mailing address",
                "city",
                "zip",
                "zip code",
                "postal code",
                "postcode",
            ],
        ),
        f(
            "phone",
            &[
                "phone",
                "phone number",
                "telephone",
                "tel",
                "fax",
                "fax number",
                "mobile",
                "mobile phone",
                "mobile number",
                "cell",
                "cell phone",
                "home phone",
                "work phone",
            ],
        ),
        f("email", &["email", "email address"]),
        f(
            "member id",
            &[
                "member id",
                "member number",
                "member no",
                "subscriber id",
                "beneficiary id",
                "policy number",
                "policy no",
                "policy id",
                "insurance id",
                "insurance number",
                "health plan id",
            ],
        ),
        f(
            "account",
            &[
                "account",
                "account number",
                "account no",
                "acct",
                "acct number",
                "acct no",
            ],
        ),
        f(
            "license",
            &[
                "license number",
                "licence number",
                "license no",
                "licence no",
                "drivers license",
                "driver license",
                "drivers licence",
                "driver licence",
                "drivers license number",
                "driver license number",
            ],
        ),
        f(
            "device id",
            &[
                "device id",
                "device serial",
                "device serial number",
                "serial number",
                "serial no",
            ],
        ),
        f(
            "ip",
            &[
                "ip",
                "ip address",
                "ip addr",
                "client ip",
                "remote ip",
                "source ip",
            ],
        ),
    ]
}

/// Site-specific choices for the `hipaa` pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HipaaOptions {
    /// Labels that introduce a medical record number (`MRN: AB1234567`). Literal phrases,
    /// matched case-insensitively; spaces also match `_`, `-` or nothing.
    pub mrn_labels: Vec<String>,
    /// Labels that introduce an account number.
    pub account_labels: Vec<String>,
    /// Labels that introduce a health-plan member / beneficiary number.
    pub member_labels: Vec<String>,
    /// Mask IPv4 addresses (off by default: they are rarely PHI on a bastion and everywhere in
    /// logs).
    pub ipv4: bool,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

impl Default for HipaaOptions {
    fn default() -> Self {
        HipaaOptions {
            mrn_labels: strings(&[
                "MRN",
                "medical record number",
                "medical record no",
                "medical record #",
                "med rec no",
                "med rec #",
                "chart number",
                "chart no",
                "chart #",
                "patient id",
                "patient number",
                "patient no",
                "patient #",
            ]),
            account_labels: strings(&[
                "account number",
                "account no",
                "account #",
                "account",
                "acct number",
                "acct no",
                "acct #",
                "acct",
            ]),
            member_labels: strings(&[
                "member id",
                "member number",
                "member no",
                "member #",
                "subscriber id",
                "subscriber number",
                "beneficiary id",
                "health plan id",
                "health plan number",
                "insurance id",
                "policy number",
                "policy no",
                "policy #",
            ]),
            ipv4: false,
        }
    }
}

/// Separator between a label and its value: `MRN: x`, `MRN #x`, `MRN=x`, `MRN - x`, and as
/// structured text writes it: `"mrn":"x"`, `mrn | x` (psql), `mrn,x` (CSV), `<mrn>x`, a key
/// padded to a column (`MRN         x`).
pub(crate) const LABEL_SEP: &str = r#"[\s:#=.'"|,>-]{0,24}"#;

/// Value of a labelled number: optional letter prefix, then at least one digit early on, so
/// `MRN: pending` is left alone.
const LABEL_VALUE: &str = r"((?:[A-Z]{1,4}-?)?\d[A-Z0-9-]{2,19})\b";

/// The end of an identifier: a word boundary, or `_` (`123-45-6789_scan.pdf`), which `\b`
/// counts as part of a word.
const END: &str = r"(?:\b|_)";
/// The start of one, likewise (`scan_123-45-6789.pdf`).
const START: &str = r"(?:\b|_)";

const MONTH: &str = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]{0,6}\.?";

impl RuleSet {
    /// The built-in `hipaa` pack with default labels.
    pub fn hipaa() -> RuleSet {
        RuleSet::hipaa_with(&HipaaOptions::default())
    }

    /// The built-in `hipaa` pack with site-specific labels and options.
    ///
    /// A label list left empty drops that rule.
    pub fn hipaa_with(options: &HipaaOptions) -> RuleSet {
        let mut set = RuleSet::new();
        for rule in hipaa_rules(options) {
            set.replace(rule);
        }
        set.set_formats(Formats {
            hl7: true,
            fhir: true,
        });
        set.set_fields(hipaa_fields());
        set
    }
}

fn rule(name: &str, pattern: String) -> Rule {
    Rule {
        name: name.to_owned(),
        pattern,
        group: None,
        validator: None,
        enabled: true,
        source: PACK,
        after_text: false,
    }
}

fn hipaa_rules(o: &HipaaOptions) -> Vec<Rule> {
    let ssn_kw =
        r"(?:ssn|ss#|soc(?:ial)?[\s._]{0,2}sec(?:urity)?(?:[\s._]{0,2}(?:no|num|number|#))?)";
    let birth_kw = r"(?:\b(?:dob|date[\s_-]{0,2}of[\s_-]{0,2}birth|birth[\s_-]{0,2}date|birthday|born(?:\s{1,3}on)?)\b|\bd\.o\.b\.?)";
    let date = format!(
        r"(?:\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:\d{{4}}|\d{{2}})|\d{{4}}[/.-]\d{{1,2}}[/.-]\d{{1,2}}|\d{{8}}|{MONTH}\s{{1,3}}\d{{1,2}}(?:st|nd|rd|th)?,?\s{{1,3}}\d{{4}}|\d{{1,2}}(?:st|nd|rd|th)?\s{{1,3}}{MONTH},?\s{{1,3}}\d{{4}})"
    );
    let mut rules = vec![
        rule(
            "ssn-keyword",
            format!(r"(?i)\b{ssn_kw}{LABEL_SEP}(\d{{3}}[-. ]?\d{{2}}[-. ]?\d{{4}}){END}"),
        )
        .with_group(1)
        .with_validator(Validator::Ssn),
        // A date may run on into its time (`1980-01-02T00:00:00Z`): the date is masked.
        rule(
            "birth-date",
            format!(r"(?i){birth_kw}{LABEL_SEP}({date})(?:\b|[T_])"),
        )
        .with_group(1),
    ];
    for (name, labels) in [
        ("mrn", &o.mrn_labels),
        ("account-number", &o.account_labels),
        ("member-number", &o.member_labels),
    ] {
        if let Some(alt) = label_alternation(labels, true) {
            rules.push(rule(name, format!(r"(?i){alt}{LABEL_SEP}{LABEL_VALUE}")).with_group(1));
        }
    }
    // A record number glued to its label (`MRN0012345`): the label ends in a letter, the
    // number starts with a digit (so `mRNA-1273` is no MRN).
    let glued: Vec<String> = o
        .mrn_labels
        .iter()
        .filter(|l| {
            l.trim()
                .chars()
                .last()
                .is_some_and(|c| c.is_ascii_alphabetic())
        })
        .cloned()
        .collect();
    if let Some(alt) = label_alternation(&glued, false) {
        rules.push(rule("mrn-glued", format!(r"(?i){alt}(\d[0-9]{{3,19}}){END}")).with_group(1));
    }
    rules.extend([
        rule(
            "phone-keyword",
            format!(
                r"(?i)\b(?:phone|tel|telephone|fax|cell|mobile|ph){LABEL_SEP}(\+?1?[2-9]\d{{9}})\b"
            ),
        )
        .with_group(1),
        rule(
            "ssn",
            format!(r"{START}\d{{3}}-\d{{2}}-\d{{4}}{END}|{START}\d{{3}} \d{{2}} \d{{4}}{END}"),
        )
        .with_validator(Validator::Ssn),
        rule("payment-card", format!(r"{START}\d(?:[ .-]?\d){{12,18}}{END}"))
            .with_validator(Validator::Luhn),
        rule("npi", r"\b[12]\d{9}\b".into()).with_validator(Validator::Npi),
        rule(
            "medicare-mbi",
            r"\b[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d-?[AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]\d-?[AC-HJKMNP-RT-Y]{2}\d{2}\b"
                .into(),
        ),
        rule(
            "us-phone",
            r"(?:\+1[-. ]?|\b1[-. ])?(?:\([2-9]\d{2}\)\s?|\b[2-9]\d{2}[-. ])[2-9]\d{2}[-. ]\d{4}\b"
                .into(),
        ),
        rule("email", EMAIL.into()),
        rule("email-intl", EMAIL_INTL.into())
            .with_group(1)
            .after_text(),
        rule(
            "ipv4",
            r"\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b"
                .into(),
        )
        .enabled(o.ipv4),
    ]);
    rules
}

/// An e-mail address. It starts after anything but an ASCII letter, digit or `_` (`\b`
/// would need an ASCII letter after it too), so `_john@example.com` is masked whole.
pub(crate) const EMAIL: &str = r"\b{start-half}[A-Za-z0-9_][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.){1,4}[A-Za-z]{2,24}";

/// An e-mail address with letters beyond ASCII (`jöhn.döe@exämple.org`; the top-level domain
/// in ASCII, as internationalised ones travel as punycode), group 1. A letter beyond ASCII is
/// a whole UTF-8 sequence of the scripts names are written in (Latin, Greek, Cyrillic, …: two
/// bytes; CJK, kana, Hangul: three). The rule counts it only after text (`Rule::after_text`)
/// and with two characters before the `@` at least: binary output (a `cat` of an image) must
/// not look like an address, as a mask shortens a multi-byte character to its display width
/// and the output would lose bytes.
pub(crate) const EMAIL_INTL: &str = concat!(
    r"\b{start-half}((?:",
    // A local part with such a letter (two characters at least), then a domain whose first
    // label has two at least.
    r"(?:(?:[A-Za-z0-9_.%+-]|(?:[\xc3-\xc9\xce-\xd4][\x80-\xbf]|[\xe3-\xed][\x80-\xbf]{2})){1,24}(?:[\xc3-\xc9\xce-\xd4][\x80-\xbf]|[\xe3-\xed][\x80-\xbf]{2})(?:[A-Za-z0-9_.%+-]|(?:[\xc3-\xc9\xce-\xd4][\x80-\xbf]|[\xe3-\xed][\x80-\xbf]{2})){0,24}|(?:[\xc3-\xc9\xce-\xd4][\x80-\xbf]|[\xe3-\xed][\x80-\xbf]{2})(?:[A-Za-z0-9_.%+-]|(?:[\xc3-\xc9\xce-\xd4][\x80-\xbf]|[\xe3-\xed][\x80-\xbf]{2})){1,24})",
    r"@(?:[A-Za-z0-9-]|(?:[\xc3-\xc9\xce-\xd4][\x80-\xbf]|[\xe3-\xed][\x80-\xbf]{2})){2,30}\.(?:(?:[A-Za-z0-9-]|(?:[\xc3-\xc9\xce-\xd4][\x80-\xbf]|[\xe3-\xed][\x80-\xbf]{2})){1,30}\.){0,2}",
    // Or an ASCII local part and a domain with such a letter.
    r"|[A-Za-z0-9_.%+-]{2,40}@(?:[A-Za-z0-9-]{0,30}(?:[\xc3-\xc9\xce-\xd4][\x80-\xbf]|[\xe3-\xed][\x80-\xbf]{2})(?:[A-Za-z0-9-]|(?:[\xc3-\xc9\xce-\xd4][\x80-\xbf]|[\xe3-\xed][\x80-\xbf]{2})){0,30}\.){1,3}",
    r")[A-Za-z]{2,24})(?:\b|_)"
);

/// `(?:label1|label2|…)` with word boundaries where the label starts/ends with a word
/// character (the end only with `end_boundary`), or `None` for an empty list.
pub(crate) fn label_alternation(labels: &[String], end_boundary: bool) -> Option<String> {
    let alts: Vec<String> = labels
        .iter()
        .filter_map(|label| {
            let words: Vec<String> = label.split_whitespace().map(regex_syntax::escape).collect();
            if words.is_empty() {
                return None;
            }
            let body = words.join(r"[\s_-]{0,3}");
            let trimmed = label.trim();
            let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            let pre = if word(trimmed.chars().next()) {
                r"\b"
            } else {
                ""
            };
            let post = if end_boundary && word(trimmed.chars().last()) {
                r"\b"
            } else {
                ""
            };
            Some(format!("{pre}{body}{post}"))
        })
        .collect();
    (!alts.is_empty()).then(|| format!("(?:{})", alts.join("|")))
}
