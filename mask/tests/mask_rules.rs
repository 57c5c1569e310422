//! Per-rule tests for the `hipaa` pack and custom rules: true positives and near misses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mask::{HipaaOptions, MaskError, Masker, Rule, RuleSet, RuleSource, Validator};

fn hipaa() -> Masker {
    RuleSet::hipaa().compile().unwrap()
}

fn mask(m: &Masker, s: &str) -> String {
    String::from_utf8(m.mask(s.as_bytes())).unwrap()
}

/// Asserts `input` masks to `want`, and that the hit comes from `rule`.
#[track_caller]
fn hit(m: &Masker, rule: &str, input: &str, want: &str) {
    let report = m.mask_test(input.as_bytes());
    assert_eq!(
        String::from_utf8_lossy(&report.masked),
        want,
        "input {input:?}"
    );
    assert!(
        report.hits.iter().any(|h| h.rule == rule),
        "input {input:?}: hits {:?}, expected rule {rule}",
        report.hits
    );
}

#[track_caller]
fn miss(m: &Masker, input: &str) {
    let report = m.mask_test(input.as_bytes());
    assert_eq!(
        String::from_utf8_lossy(&report.masked),
        input,
        "hits {:?}",
        report.hits
    );
    assert!(report.hits.is_empty());
}

#[test]
fn ssn_formatted() {
    let m = hipaa();
    hit(&m, "ssn", "id 123-45-6789.", "id ***-**-****.");
    hit(&m, "ssn", "id 123 45 6789 x", "id *** ** **** x");
    hit(&m, "ssn", "|078-05-1120|", "|***-**-****|");
}

#[test]
fn ssn_invalid_areas_groups_serials_stay() {
    let m = hipaa();
    for s in [
        "000-12-3456",
        "666-12-3456",
        "900-12-3456",
        "987-65-4320",
        "123-00-4567",
        "123-45-0000",
        "123-45-67890",
        "1123-45-6789",
        "123-456-789",
    ] {
        miss(&m, &format!("value {s} end"));
    }
}

#[test]
fn ssn_bare_digits_need_a_keyword() {
    let m = hipaa();
    miss(&m, "order 123456789 shipped");
    hit(&m, "ssn-keyword", "SSN: 123456789", "SSN: *********");
    hit(&m, "ssn-keyword", "ssn#123456789", "ssn#*********");
    hit(
        &m,
        "ssn-keyword",
        "Social Security Number 123456789",
        "Social Security Number *********",
    );
    hit(
        &m,
        "ssn-keyword",
        "soc sec no. 123-45-6789",
        "soc sec no. ***-**-****",
    );
    // Mid-line (a labelled field at the start of a line is masked whatever it holds, see
    // `labelled_fields_mask_whatever_their_key_labels`).
    miss(&m, "id SSN 666456789");
    miss(&m, "id SSN 12345678");
}

#[test]
fn payment_cards_need_luhn() {
    let m = hipaa();
    hit(
        &m,
        "payment-card",
        "card 4111111111111111 ok",
        "card **************** ok",
    );
    hit(
        &m,
        "payment-card",
        "card 4111 1111 1111 1111",
        "card **** **** **** ****",
    );
    hit(
        &m,
        "payment-card",
        "amex 3782-822463-10005",
        "amex ****-******-*****",
    );
    hit(
        &m,
        "payment-card",
        "5500-0000-0000-0004",
        "****-****-****-****",
    );
    miss(&m, "card 4111 1111 1111 1112");
    miss(&m, "card 4111111111111112");
    miss(&m, "trace 41111111111111111111111111"); // too long for a card
}

#[test]
fn email_addresses() {
    let m = hipaa();
    hit(
        &m,
        "email",
        "mail jane.doe+x@mail.example.org now",
        "mail ****.***+*@****.*******.*** now",
    );
    hit(&m, "email", "<a@bc.io>", "<*@**.**>");
    miss(&m, "user@localhost and @handle and a@b");
}

#[test]
fn phone_and_fax_numbers() {
    let m = hipaa();
    hit(
        &m,
        "us-phone",
        "call (555) 234-5678 now",
        "call (***) ***-**** now",
    );
    hit(&m, "us-phone", "call 555-234-5678", "call ***-***-****");
    hit(&m, "us-phone", "call 555.234.5678", "call ***.***.****");
    hit(
        &m,
        "us-phone",
        "call +1 555 234 5678",
        "call +* *** *** ****",
    );
    hit(&m, "phone-keyword", "Fax: 5552345678", "Fax: **********");
    miss(&m, "version 123-456-7890"); // exchange may not start with 0/1... area 123 invalid
    miss(&m, "build 5552345678"); // bare ten digits without a keyword
}

#[test]
fn birth_dates_need_a_birth_keyword() {
    let m = hipaa();
    hit(&m, "birth-date", "DOB: 01/02/1980", "DOB: **/**/****");
    hit(
        &m,
        "birth-date",
        "date of birth 1980-01-02.",
        "date of birth ****-**-**.",
    );
    hit(
        &m,
        "birth-date",
        "born on March 3, 1975",
        "born on ***** *, ****",
    );
    hit(
        &m,
        "birth-date",
        "Birthdate=3 Mar 1975",
        "Birthdate=* *** ****",
    );
    hit(&m, "birth-date", "d.o.b. 1.2.80", "d.o.b. *.*.**");
    miss(&m, "deployed 01/02/1980 and 1980-01-02 and March 3, 1975");
}

#[test]
fn record_account_and_member_numbers_after_labels() {
    let m = hipaa();
    hit(&m, "mrn", "MRN: AB1234567", "MRN: *********");
    hit(
        &m,
        "mrn",
        "Medical Record Number 00451234",
        "Medical Record Number ********",
    );
    hit(
        &m,
        "account-number",
        "Acct # 9988776655",
        "Acct # **********",
    );
    hit(
        &m,
        "member-number",
        "Member ID: XYZ-12345678",
        "Member ID: ***-********",
    );
    miss(&m, "status MRN pending");
    miss(&m, "record 00451234");
}

#[test]
fn labels_are_configurable_per_site() {
    let options = HipaaOptions {
        mrn_labels: vec!["Chart ID".into(), "EMR #".into()],
        ..HipaaOptions::default()
    };
    let m = RuleSet::hipaa_with(&options).compile().unwrap();
    hit(&m, "mrn", "chart_id=K12345", "chart_id=******");
    hit(&m, "mrn", "EMR #12345", "EMR #*****");
    miss(&m, "MRN 12345 in another system");
    let none = HipaaOptions {
        mrn_labels: vec![],
        ..HipaaOptions::default()
    };
    let set = RuleSet::hipaa_with(&none);
    assert!(set.rules().iter().all(|r| r.name != "mrn"));
}

#[test]
fn npi_uses_the_80840_luhn() {
    let m = hipaa();
    hit(&m, "npi", "npi 1234567893 ok", "npi ********** ok");
    miss(&m, "npi 1234567890 ok");
    miss(&m, "id 3234567893"); // NPIs start with 1 or 2
}

#[test]
fn medicare_mbi() {
    let m = hipaa();
    hit(&m, "medicare-mbi", "MBI 1EG4TE5MK73.", "MBI ***********.");
    hit(&m, "medicare-mbi", "MBI 1EG4-TE5-MK73", "MBI ****-***-****");
    miss(&m, "MBI 1SG4TE5MK73"); // S is excluded
    miss(&m, "MBI 0EG4TE5MK73"); // first digit 1-9
}

#[test]
fn ipv4_is_off_by_default() {
    miss(&hipaa(), "host 10.1.2.3 up");
    let options = HipaaOptions {
        ipv4: true,
        ..HipaaOptions::default()
    };
    let m = RuleSet::hipaa_with(&options).compile().unwrap();
    hit(&m, "ipv4", "host 10.1.2.3 up", "host **.*.*.* up");
    miss(&m, "host 10.1.2.300 up");
}

#[test]
fn custom_rules_with_group_and_validator() {
    let mut set = RuleSet::new();
    set.push(Rule::custom("site-mrn", r"(?i)\bmrn[:#\s]{0,3}([A-Z]{2}\d{7})").with_group(1))
        .unwrap();
    set.push(Rule::custom("member-card", r"\bM\d{16}\b").with_validator(Validator::Luhn))
        .unwrap();
    let m = set.compile().unwrap();
    hit(&m, "site-mrn", "mrn# AB1234567", "mrn# *********");
    hit(&m, "member-card", "M4111111111111111", "*****************");
    miss(&m, "M4111111111111112");
}

#[test]
fn a_failing_candidate_gives_way_to_the_next_rule_at_the_same_place() {
    // 13 digits fail Luhn as a card; the first ten are a valid NPI.
    let m = hipaa();
    hit(&m, "npi", "1234567893 123", "********** 123");
}

#[test]
fn a_card_number_followed_by_more_digits_is_still_masked() {
    // The longest candidate (with the expiry month or the CVV) fails Luhn; the card number
    // inside it does not.
    let m = hipaa();
    hit(
        &m,
        "payment-card",
        "4111 1111 1111 1111 12/27",
        "**** **** **** **** 12/27",
    );
    hit(
        &m,
        "payment-card",
        "4111111111111111 123",
        "**************** 123",
    );
    // Digits that are no card at any length stay.
    let out = m.mask(b"order 1234567890123456 shipped");
    assert_eq!(out, b"order 1234567890123456 shipped");
}

#[test]
fn compile_errors_name_the_rule() {
    type Check = fn(&MaskError) -> bool;
    let cases: [(Rule, Check); 5] = [
        (
            Rule::custom("open", r"\d+"),
            |e| matches!(e, MaskError::Unbounded { rule } if rule == "open"),
        ),
        (
            Rule::custom("bad", r"(\d{3}"),
            |e| matches!(e, MaskError::InvalidPattern { rule, .. } if rule == "bad"),
        ),
        (
            Rule::custom("empty", r"\d{0,3}"),
            |e| matches!(e, MaskError::EmptyMatch { rule } if rule == "empty"),
        ),
        (
            Rule::custom("grp", r"(\d{3})").with_group(2),
            |e| matches!(e, MaskError::NoSuchGroup { rule, group: 2, groups: 1 } if rule == "grp"),
        ),
        (
            Rule::custom("long", r"\d{2000}"),
            |e| matches!(e, MaskError::TooLong { rule, .. } if rule == "long"),
        ),
    ];
    for (rule, check) in cases {
        let name = rule.name.clone();
        let mut set = RuleSet::hipaa();
        set.push(rule).unwrap();
        let err = set.compile().unwrap_err();
        assert!(check(&err), "{name}: {err:?}");
        assert!(err.to_string().contains(&format!("`{name}`")), "{err}");
    }
    let mut set = RuleSet::hipaa();
    assert!(matches!(
        set.push(Rule::custom("ssn", r"\d{3}")),
        Err(MaskError::DuplicateName { .. })
    ));
    // A disabled bad rule does not fail the set.
    set.push(Rule::custom("off", r"\d+").enabled(false))
        .unwrap();
    assert!(set.compile().is_ok());
    assert!("bogus".parse::<Validator>().is_err());
}

#[test]
fn summary_lists_every_rule_with_source_and_max_len() {
    let mut set = RuleSet::hipaa();
    set.push(Rule::custom("site", r"X\d{4}")).unwrap();
    let m = set.compile().unwrap();
    let summary = m.summary();
    assert_eq!(summary.len(), set.rules().len());
    let site = summary.iter().find(|r| r.name == "site").unwrap();
    assert_eq!(site.source, RuleSource::Custom);
    assert_eq!(site.max_len, Some(5));
    let ipv4 = summary.iter().find(|r| r.name == "ipv4").unwrap();
    assert!(!ipv4.enabled);
    assert_eq!(ipv4.source, RuleSource::Pack("hipaa"));
    assert!(summary.iter().all(|r| r.max_len.is_some()));
    assert_eq!(
        m.max_match_len(),
        summary
            .iter()
            .filter(|r| r.enabled)
            .filter_map(|r| r.max_len)
            .max()
            .unwrap()
    );
}

#[test]
fn hits_report_input_byte_ranges() {
    let m = hipaa();
    let input = b"a \x1b[1m123\x1b[0m-45-6789 b jane@x.org";
    let r = m.mask_test(input);
    assert_eq!(r.hits.len(), 2);
    assert_eq!(r.hits[0].rule, "ssn");
    assert_eq!(&input[r.hits[0].range.clone()], b"123\x1b[0m-45-6789");
    assert_eq!(r.hits[1].rule, "email");
    assert_eq!(&input[r.hits[1].range.clone()], b"jane@x.org");
    assert_eq!(r.masked, b"a \x1b[1m***\x1b[0m-**-**** b ****@*.***");
}

#[test]
fn masks_keep_display_width() {
    let mut set = RuleSet::new();
    set.push(Rule::custom("name", r"(?i)patient:\s{0,2}([^\s]{1,40})").with_group(1))
        .unwrap();
    let m = set.compile().unwrap();
    // é is one column (two bytes), 山 two columns (three bytes), e + combining acute is one.
    assert_eq!(mask(&m, "patient: José|"), "patient: ****|");
    assert_eq!(mask(&m, "patient: 山田|"), "patient: ****|");
    assert_eq!(mask(&m, "patient: Jose\u{301}|"), "patient: ****|");
}

/// The label and boundary cases of issue 14: each is masked, the label kept.
#[test]
fn labels_next_to_quotes_bars_commas_brackets_underscores_and_times() {
    let m = hipaa();
    for (input, want) in [
        (
            r#"{"ssn":"123456789","dob":"1980-01-02","mrn":"AB1234567"}"#,
            r#"{"ssn":"*********","dob":"****-**-**","mrn":"*********"}"#,
        ),
        (r#""patient_id": 12345678"#, r#""patient_id": ********"#),
        ("ssn | 123456789", "ssn | *********"),
        ("ssn,123456789", "ssn,*********"),
        ("<ssn>123456789</ssn>", "<ssn>*********</ssn>"),
        (r#"ssn: "123456789""#, r#"ssn: "*********""#),
        ("dob: 1980-01-02T00:00:00Z", "dob: ****-**-**T00:00:00Z"),
        ("scan_123-45-6789.pdf", "scan_***-**-****.pdf"),
        ("123-45-6789_x", "***-**-****_x"),
        ("_john@example.com", "_****@*******.***"),
        ("MRN12345678", "MRN********"),
        ("SSN 123.45.6789", "SSN ***.**.****"),
        ("4111.1111.1111.1111", "****.****.****.****"),
        (
            "mail jöhn.döe@exämple.org ok",
            "mail ****.***@*******.*** ok",
        ),
        ("to 山田@例え.jp", "to ****@****.**"),
    ] {
        let got = mask(&m, input);
        assert_eq!(got, want, "{input}");
    }
    // The same in running text, not at the start of a line.
    for (input, want) in [
        ("x ssn: \"123456789\" y", "x ssn: \"*********\" y"),
        ("x dob: 1980-01-02T00:00:00Z", "x dob: ****-**-**T00:00:00Z"),
        ("id MRN0012345 ok", "id MRN******* ok"),
        ("id mrn:12345 ok", "id mrn:***** ok"),
    ] {
        assert_eq!(mask(&m, input), want, "{input}");
    }
    // A glued label needs digits right after it: mRNA-1273 is a vaccine.
    miss(&m, "vaccine mRNA-1273 given");
}

#[test]
fn a_site_declared_record_prefix_masks_the_number() {
    let mut labels = HipaaOptions::default().mrn_labels;
    labels.push("PT-".into());
    let options = HipaaOptions {
        mrn_labels: labels,
        ..HipaaOptions::default()
    };
    let m = RuleSet::hipaa_with(&options).compile().unwrap();
    hit(&m, "mrn", "chart PT-884213 seen", "chart PT-****** seen");
    // Without the declaration a prefixed number is no record number.
    miss(&hipaa(), "chart PT-884213 seen");
}

/// Keys named by the field list, in the forms running text labels values with.
#[test]
fn labelled_fields_mask_whatever_their_key_labels() {
    let m = hipaa();
    for (input, want) in [
        (
            r#"{"name": "Jane Roe", "status": "active"}"#,
            r#"{"name": "**** ***", "status": "active"}"#,
        ),
        ("{'first_name': 'Jane'}", "{'first_name': '****'}"),
        (
            "ts=1 name=\"Jane Roe\" city=Boston status=ok",
            "ts=1 name=\"**** ***\" city=****** status=ok",
        ),
        ("Date of Birth: 4 April 1961", "Date of Birth: * ***** ****"),
        ("  - street: 12 Elm Street", "  - street: ** *** ******"),
        (
            "<patient_name>Jane Roe</patient_name>",
            "<patient_name>**** ***</patient_name>",
        ),
        ("MRN: pending", "MRN: *******"),
    ] {
        let r = m.mask_test(input.as_bytes());
        assert_eq!(String::from_utf8_lossy(&r.masked), want, "{input}");
    }
    let r = m.mask_test(br#"{"birth_date": "1961-04-02"}"#);
    assert!(
        r.hits
            .iter()
            .any(|h| h.reason.as_deref() == Some("key \"birth_date\" (pack hipaa, field dob)")),
        "{:?}",
        r.hits
    );
    // Code and prose are not labels: `=` with spaces, a key not at the start of a line.
    for text in [
        "name = value",
        "the patient name: unknown",
        "lscpu says Model name: Intel",
        "dob_verified=true",
        r#"{"dob_verified": true, "hostname": "db1", "username": "x"}"#,
    ] {
        miss(&m, text);
    }
}

#[test]
fn gdpr_pack_numbers_with_their_checks() {
    let mut set = RuleSet::hipaa();
    set.merge(&RuleSet::gdpr());
    let m = set.compile().unwrap();
    for (rule, input, want) in [
        (
            "iban",
            "pay GB82 WEST 1234 5698 7654 32 now",
            "pay **** **** **** **** **** ** now",
        ),
        (
            "iban",
            "iban DE89370400440532013000.",
            "iban **********************.",
        ),
        (
            "uk-nhs-number",
            "NHS 401 023 2137 ok",
            "NHS *** *** **** ok",
        ),
        (
            "uk-nhs-number-keyword",
            "nhs no: 9434765919",
            "nhs no: **********",
        ),
        (
            "es-dni",
            "DNI 12345678Z y NIE X1234567L",
            "DNI ********* y NIE *********",
        ),
        (
            "it-codice-fiscale",
            "CF RSSMRA85T10A562S.",
            "CF ****************.",
        ),
        ("se-personnummer", "pnr 811218-9876", "pnr ******-****"),
        (
            "fr-nir",
            "NIR 1 84 12 76 451 089 46",
            "NIR * ** ** ** *** *** **",
        ),
        (
            "intl-phone",
            "call +44 20 7946 0958 now",
            "call +** ** **** **** now",
        ),
        ("email", "mail ana@exemplo.pt", "mail ***@*******.**"),
    ] {
        hit(&m, rule, input, want);
    }
    for text in [
        "GB82 WEST 1234 5698 7654 33",
        "order 401 023 2138",
        "ref 12345678A",
        "RSSMRA85T10A562T",
        "811218-9877",
        "1 84 12 76 451 089 47",
        "diff +12 -3",
        "epoch 1733212345",
    ] {
        miss(&m, text);
    }
    // Only with the pack.
    miss(&hipaa(), "pay GB82 WEST 1234 5698 7654 32 now");
}
