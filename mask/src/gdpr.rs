//! The built-in `gdpr` pack: personal data of people in Europe that has a recognisable shape.
//!
//! Bank accounts (IBAN, ISO 13616 mod-97), the UK NHS number (mod 11), national identifiers
//! with a published check character (Spain's DNI/NIE, Italy's codice fiscale, Sweden's
//! personnummer, France's NIR), international phone numbers written with their country code
//! (`+44 20 7946 0958`), and e-mail addresses; plus the field names that label personal data
//! in tables and keys. Every number is checked by its validator, and bare digit runs that
//! random numbers often resemble need their usual grouping or a keyword.

use crate::fields::Field;
use crate::hipaa::{EMAIL, EMAIL_INTL, LABEL_SEP};
use crate::rule::{Rule, RuleSource};
use crate::rule_set::RuleSet;
use crate::validate::Validator;

const PACK: RuleSource = RuleSource::Pack("gdpr");

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

/// The pack's sensitive fields.
pub(crate) fn gdpr_fields() -> Vec<Field> {
    let f = |name: &str, patterns: &[&str]| Field::pack("gdpr", name, patterns);
    vec![
        f(
            "name",
            &[
                "name",
                "full name",
                "first name",
                "last name",
                "given name",
                "family name",
                "surname",
                "forename",
            ],
        ),
        f("dob", &["dob", "birth date", "date of birth", "birthday"]),
        f(
            "address",
            &[
                "address",
                "street",
                "street address",
                "home address",
                "city",
                "postal code",
                "postcode",
                "zip",
                "zip code",
            ],
        ),
        f(
            "phone",
            &[
                "phone",
                "phone number",
                "telephone",
                "mobile",
                "mobile number",
                "fax",
            ],
        ),
        f("email", &["email", "email address"]),
        f(
            "national id",
            &[
                "national id",
                "national id number",
                "national insurance number",
                "nino",
                "nhs number",
                "nhs no",
                "tax id",
                "tax number",
                "personnummer",
                "codice fiscale",
                "dni",
                "nie",
                "nir",
                "passport",
                "passport number",
                "passport no",
            ],
        ),
        f("iban", &["iban", "bank account", "bank account number"]),
        f("ip", &["ip", "ip address", "client ip", "remote ip"]),
    ]
}

impl RuleSet {
    /// The built-in `gdpr` pack.
    pub fn gdpr() -> RuleSet {
        let mut set = RuleSet::new();
        let d = r"\d";
        let rules = [
            rule(
                "iban",
                r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b".into(),
            )
            .with_validator(Validator::Iban),
            // Written 3-3-4 as the NHS prints it, or ten digits after its name.
            rule("uk-nhs-number", format!(r"\b{d}{{3}}[ -]{d}{{3}}[ -]{d}{{4}}\b"))
                .with_validator(Validator::NhsNumber),
            rule(
                "uk-nhs-number-keyword",
                format!(
                    r"(?i)\bnhs(?:[\s._-]{{0,2}}(?:no|num|number|#))?{LABEL_SEP}({d}{{10}})\b"
                ),
            )
            .with_group(1)
            .with_validator(Validator::NhsNumber),
            rule(
                "es-dni",
                r"(?i)\b(?:\d{8}|[XYZ]\d{7})-?[TRWAGMYFPDXBNJZSQVHLCKE]\b".into(),
            )
            .with_validator(Validator::SpanishId),
            rule(
                "it-codice-fiscale",
                r"(?i)\b[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]\b"
                    .into(),
            )
            .with_validator(Validator::CodiceFiscale),
            rule(
                "se-personnummer",
                r"\b(?:\d{2})?\d{6}[-+]\d{4}\b".into(),
            )
            .with_validator(Validator::Personnummer),
            // Grouped as on the carte Vitale, or fifteen characters after its name.
            rule(
                "fr-nir",
                r"(?i)\b[12] \d{2} \d{2} (?:\d{2}|2[AB]) \d{3} \d{3} \d{2}\b".into(),
            )
            .with_validator(Validator::Nir),
            rule(
                "fr-nir-keyword",
                format!(
                    r"(?i)\b(?:nir|insee){LABEL_SEP}([12]\d{{4}}(?:\d{{2}}|2[AB])\d{{8}})\b"
                ),
            )
            .with_group(1)
            .with_validator(Validator::Nir),
            rule(
                "intl-phone",
                r"\+[1-9](?:[ .()-]{0,2}\d){6,14}\b".into(),
            )
            .with_validator(Validator::E164),
            rule("email", EMAIL.into()),
            rule("email-intl", EMAIL_INTL.into())
            .with_group(1)
            .after_text(),
        ];
        for r in rules {
            set.replace(r);
        }
        set.set_fields(gdpr_fields());
        set
    }
}
