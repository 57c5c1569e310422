//! Masking by structure: query-result tables, psql expanded records, CSV, JSON and FHIR, HL7 v2,
//! as the real programs print them (fixtures captured from psql 15, sqlite3 3.40 and jq), the
//! formats' edge cases, precision on ordinary output, bounds, and hits with their reasons.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::OnceLock;

use mask::{Field, Masker, RuleSet, MAX_COLUMNS, MAX_PENDING, MAX_ROW};

fn hipaa() -> &'static Masker {
    static M: OnceLock<Masker> = OnceLock::new();
    M.get_or_init(|| RuleSet::hipaa().compile().unwrap())
}

fn mask(m: &Masker, s: &str) -> String {
    String::from_utf8(m.mask(s.as_bytes())).unwrap()
}

fn mask_chunked(m: &Masker, parts: &[&[u8]]) -> Vec<u8> {
    let mut rec = m.recording();
    let mut out = Vec::new();
    for p in parts {
        out.extend_from_slice(rec.push(p));
    }
    out.extend_from_slice(rec.finish());
    out
}

/// The one-shot masking of `input`, after checking that every cut in two pieces and a byte at
/// a time give the same.
#[track_caller]
fn mask_every_way(m: &Masker, input: &[u8]) -> Vec<u8> {
    let whole = m.mask(input);
    for cut in 1..input.len() {
        assert_eq!(
            mask_chunked(m, &[&input[..cut], &input[cut..]]),
            whole,
            "cut at {cut} of {:?}",
            String::from_utf8_lossy(input)
        );
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(mask_chunked(m, &bytes), whole, "byte by byte");
    whole
}

fn fixture(name: &str) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/structure");
    std::fs::read(dir.join(name)).unwrap()
}

/// Each fixture masks to its `.masked` file in any chunking.
#[test]
fn query_results_and_messages_of_real_programs() {
    for name in [
        "psql.txt",
        "psql-border2.txt",
        "psql-x.txt",
        "psql-x-border2.txt",
        "psql.csv",
        "sqlite.csv",
        "box.txt",
        "tab.txt",
        "col.txt",
        "fhir.json",
        "fhir-jq.txt",
        "adt.hl7",
        "adt-lines.hl7",
    ] {
        let input = fixture(name);
        let want = fixture(&format!("{name}.masked"));
        let got = mask_every_way(hipaa(), &input);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "{name}"
        );
        // Layout is kept: as many display columns as before (masks never change widths).
        let width = |b: &[u8]| unicode_width(&String::from_utf8_lossy(b));
        assert_eq!(width(&got), width(&input), "{name}");
    }
}

fn unicode_width(s: &str) -> usize {
    // Characters, not bytes: a masked non-ASCII letter becomes as many `*` as its columns,
    // and every such letter here is one column wide.
    s.chars().count()
}

#[test]
fn values_of_generated_patients_never_survive_and_plain_columns_always_do() {
    for name in [
        "psql.txt",
        "psql-x.txt",
        "psql.csv",
        "box.txt",
        "col.txt",
        "tab.txt",
    ] {
        let got = String::from_utf8(hipaa().mask(&fixture(name))).unwrap();
        for secret in ["Jane", "Roe", "Straße", "1961-04-02", "1970-01-01"] {
            assert!(!got.contains(secret), "{secret} in {name}:\n{got}");
        }
        for kept in ["id", "a, ", "multi", "line"] {
            assert!(got.contains(kept), "{kept} not in {name}:\n{got}");
        }
    }
    let psql = String::from_utf8(hipaa().mask(&fixture("psql.txt"))).unwrap();
    assert!(psql.contains("(3 rows)") && psql.contains("2025-01-02 03:04:05+00"));
}

/// psql pipes long results to `less`, which writes its `:` prompt, then CR and the next
/// page's rows; the rows after the prompt are still the table's.
#[test]
fn a_table_paged_by_less_stays_masked_page_after_page() {
    let input = "\x1b[?1049h\x1b[22;0;0t\x1b[?1h\x1b=\r id |   name   | birth_date\r\n----+----------+------------\r\n  1 | Jane Roe | 1961-04-02\r\n:\x1b[K\r\x1b[K  2 | John Doe | 1970-01-01\r\n  3 | Ann Lee  | 1980-05-06\r\n(3 rows)\r\n\r\n:\x1b[K\r\x1b[K\x1b[?1l\x1b>\x1b[?1049l";
    let got = mask_every_way(hipaa(), input.as_bytes());
    let got = String::from_utf8(got).unwrap();
    for secret in ["Jane", "John", "Ann", "1961", "1970", "1980"] {
        assert!(!got.contains(secret), "{secret}: {got:?}");
    }
    assert!(got.contains("  2 | **** *** | ****-**-**"), "{got:?}");
    assert!(got.contains("(3 rows)"));
}

/// What follows a table is not masked: the footer, a blank line, the shell prompt (which has
/// no `|`, no delimiter, no blank gap) and everything after.
#[test]
fn tables_end_and_what_follows_them_is_plain() {
    let m = hipaa();
    let cases: &[(&str, &str)] = &[
        (
            " name | id\n------+----\n Jane |  1\n(1 row)\n\nJane was here\n",
            " name | id\n------+----\n **** |  1\n(1 row)\n\nJane was here\n",
        ),
        // A prompt right after the data, without a blank line.
        (
            "name,id\nJane,1\nroot@db:~# echo Jane\nJane\n",
            "name,id\n****,1\nroot@db:~# echo Jane\nJane\n",
        ),
        (
            "name    id\n------  --\nJane    1\nREMOTE$ echo Jane,1\n",
            "name    id\n------  --\n****    1\nREMOTE$ echo Jane,1\n",
        ),
        (
            "+------+----+\n| name | id |\n+------+----+\n| Jane |  1 |\n+------+----+\n1 row in set (0.00 sec)\n\nmysql> select 'Jane';\n",
            "+------+----+\n| name | id |\n+------+----+\n| **** |  1 |\n+------+----+\n1 row in set (0.00 sec)\n\nmysql> select 'Jane';\n",
        ),
        (
            "-[ RECORD 1 ]\nname | Jane\nid   | 1\n\nname | Jane\n",
            "-[ RECORD 1 ]\nname | ****\nid   | 1\n\nname | Jane\n",
        ),
    ];
    for (input, want) in cases {
        let got = mask_every_way(m, input.as_bytes());
        assert_eq!(String::from_utf8_lossy(&got), *want, "{input:?}");
    }
}

/// A table without a sensitive column is no business of the masker; neither are decoys that
/// look like one.
#[test]
fn ordinary_output_stays_readable() {
    let m = hipaa();
    let plain = [
        // A query result of ids, timestamps and statuses.
        " id |       created_at       | status  | order_no\n----+------------------------+---------+----------\n  1 | 2025-01-02 03:04:05+00 | active  | ORD-2291\n  2 | 2025-01-03 11:00:00+00 | pending | ORD-2292\n(2 rows)\n",
        "id,created_at,status\n1,2025-01-02T03:04:05Z,active\n",
        "total 12\ndrwxr-xr-x  2 root root 4096 Mar  3 10:01 bin\n-rw-r--r--  1 root root  220 Mar  3 10:01 .bash_logout\n",
        "  PID TTY          TIME CMD\n 4242 pts/0    00:00:00 bash\n 4301 pts/0    00:00:00 ps\n",
        "Filesystem     1K-blocks    Used Available Use% Mounted on\n/dev/sda1       41152812 9876543  29162460  26% /\n",
        "top - 10:01:02 up 3 days,  2:03,  1 user,  load average: 0.00, 0.01, 0.05\nTasks: 123 total,   1 running, 122 sleeping,   0 stopped,   0 zombie\n",
        "commit 9fceb02d0ae598e95dc970b74767f19372d61af8\nAuthor: Build Bot <ci>\nDate:   Mon Mar 3 10:01:02 2025 +0000\n\n    Release 1.4.2\n",
        "error[E0425]: cannot find value `x` in this scope\n --> src/main.rs:2:13\n  |\n2 |     let y = x;\n  |             ^ not found in this scope\n",
        r#"{"ts":"2025-01-02T03:04:05Z","level":"info","msg":"GET /api/orders/1234","status":200,"req":"6f1c2a9e-8d4b-4c3e-9f2a-1b2c3d4e5f60","version":"1.4.2"}"#,
        "2025-01-02T03:04:05.123Z INFO order 12345678 shipped, tracking 1Z999AA10123456784, uuid 6f1c2a9e-8d4b-4c3e-9f2a-1b2c3d4e5f60\n",
        "NAME                     READY   STATUS    RESTARTS   AGE\nweb-7c5ddbdf54-x2x9q     1/1     Running   0          3d\n",
        "Name\n----\nInstallation notes follow.\n",
    ];
    for text in plain {
        let r = m.mask_test(text.as_bytes());
        // The last one is a one-column table named `Name` (masked): checked below.
        if text.starts_with("Name\n") {
            continue;
        }
        assert_eq!(
            String::from_utf8_lossy(&r.masked),
            text,
            "hits {:?}",
            r.hits
        );
    }
}

#[test]
fn json_keys_at_any_depth_mask_their_whole_value() {
    let m = hipaa();
    let input = "{\n  \"id\": 17,\n  \"patient\": {\n    \"status\": \"active\"\n  },\n  \"address\": {\n    \"line\": [\"12 Elm Street\", \"Apt 4\"],\n    \"city\": \"Springfield\"\n  },\n  \"phone\": 5552013344,\n  \"visits\": [{\"at\": \"2025-01-02\", \"dob\": \"1961-04-02\"}]\n}\n";
    let want = "{\n  \"id\": 17,\n  \"patient\": {\n    \"status\": \"******\"\n  },\n  \"address\": {\n    \"line\": [\"** *** ******\", \"*** *\"],\n    \"city\": \"***********\"\n  },\n  \"phone\": **********,\n  \"visits\": [{\"at\": \"2025-01-02\", \"dob\": \"****-**-**\"}]\n}\n";
    let got = mask_every_way(m, input.as_bytes());
    assert_eq!(String::from_utf8_lossy(&got), want);
    // Text that is no JSON goes back to lines at once.
    assert_eq!(
        mask(m, "[INFO] name ok\n{ oops\nname,id\nJane,1\n"),
        "[INFO] name ok\n{ oops\nname,id\n****,1\n"
    );
}

#[test]
fn fhir_person_resources_only() {
    let got = String::from_utf8(hipaa().mask(&fixture("fhir.json"))).unwrap();
    for secret in [
        "MRN0012345",
        "Roe",
        "Jane",
        "555-201-3344",
        "jane.roe@example.org",
        "1961-04-02",
        "Elm",
        "Springfield",
        "01101",
    ] {
        assert!(!got.contains(secret), "{secret}");
    }
    for kept in [
        "pat-17",
        "urn:oid:1.2.36.146.595.217.0.1",
        "female",
        "2025-01-02T03:04:05Z",
        "Heart rate",
        "\"value\":72",
        "obs-1",
    ] {
        assert!(got.contains(kept), "{kept} missing: {got}");
    }
}

#[test]
fn hl7_segments_split_by_cr_or_newline() {
    let got = String::from_utf8(hipaa().mask(&fixture("adt.hl7"))).unwrap();
    for secret in [
        "ROE",
        "JANE",
        "19610402",
        "ELM",
        "201-3344",
        "123-45-6789",
        "884213",
        "ACCT99887",
        "S99988877",
    ] {
        assert!(!got.contains(secret), "{secret}: {got}");
    }
    for kept in [
        "MSH|^~\\&|EPIC|HOSP",
        "ADT^A01",
        "PID|1||",
        "|F|",
        "PV1|1|I|W^389^1^HOSP",
        "DOC^ALICE",
    ] {
        assert!(got.contains(kept), "{kept}: {got}");
    }
    // A message ends at text that is no segment.
    assert_eq!(
        mask(hipaa(), "PID|1||123||ROE^JANE\nREMOTE$ echo ROE\n"),
        "PID|1||***||***^****\nREMOTE$ echo ROE\n"
    );
}

/// Bounds: a header of more than `MAX_COLUMNS` columns, a row longer than `MAX_ROW`, a
/// decision pending for longer than `MAX_PENDING`: what is not known is masked.
#[test]
fn past_the_bounds_the_rest_is_masked() {
    let m = hipaa();
    // Columns past the known ones.
    let n = MAX_COLUMNS + 2;
    let header: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
    let row: Vec<String> = (0..n).map(|i| format!("v{i}")).collect();
    let csv = format!("name,{}\nJane,{}\n", header.join(","), row.join(","));
    let got = mask(m, &csv);
    let last = got.lines().nth(1).unwrap();
    assert!(last.starts_with("****,v0,v1,"), "{}", &last[..20]);
    // Field MAX_COLUMNS (counting `name`) holds v255: it and the ones after are masked.
    assert!(
        last.ends_with(",v254,****,****,****"),
        "{}",
        &last[last.len() - 20..]
    );
    // A row past MAX_ROW: the rest is masked.
    let long = format!(
        "name,note\nJane,{}x{}\n",
        "a ".repeat(MAX_ROW / 2),
        "b".repeat(10)
    );
    let got = mask(m, &long);
    assert!(
        got.trim_end().ends_with("**********"),
        "{}",
        &got[got.len() - 20..]
    );
    assert!(got.contains("a a a"));
    // A first cell undecided for MAX_PENDING bytes: a row, masked.
    let pending = format!(
        " name | id\n------+----\n Jane{}",
        "x".repeat(MAX_PENDING + 10)
    );
    let mut rec = m.recording();
    let out = rec.push(pending.as_bytes()).to_vec();
    assert!(rec.held() <= MAX_PENDING + 64, "held {}", rec.held());
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains(" ****xxx") || out.contains(" *****"),
        "{}",
        &out[..40]
    );
    assert!(!out.contains("Jane"));
}

#[test]
fn hits_say_why() {
    let r = hipaa().mask_test(&fixture("psql.txt"));
    let reasons: Vec<&str> = r.hits.iter().filter_map(|h| h.reason.as_deref()).collect();
    assert!(
        reasons.contains(&"column \"birth_date\" (pack hipaa, field dob)"),
        "{reasons:?}"
    );
    assert!(reasons.contains(&"column \"name\" (pack hipaa, field name)"));
    let input = fixture("psql.txt");
    let first = r.hits.iter().find(|h| h.reason.is_some()).unwrap();
    assert_eq!(&input[first.range.clone()], b"Jane Roe");
    let r = hipaa().mask_test(&fixture("adt-lines.hl7"));
    assert!(
        r.hits
            .iter()
            .any(|h| h.reason.as_deref() == Some("HL7 PID-7 (date of birth)")),
        "{:?}",
        r.hits
    );
    let r = hipaa().mask_test(&fixture("fhir.json"));
    assert!(
        r.hits
            .iter()
            .any(|h| h.reason.as_deref() == Some("FHIR person resource element \"telecom\"")),
        "{:?}",
        r.hits
    );
}

/// Site fields: globs, case and separators; `dob_verified` is the site's call.
#[test]
fn site_fields_extend_or_replace_the_pack() {
    let mut set = RuleSet::hipaa();
    let mut fields = set.fields().to_vec();
    fields.push(Field::custom("notes"));
    fields.push(Field::custom("emergency_contact*"));
    set.set_fields(fields);
    let m = set.compile().unwrap();
    let table = " id | Notes | Emergency Contact Phone | dob_verified\n----+-------+-------------------------+-------------\n  1 | calm  | 555 0101                | t\n(1 row)\n";
    let got = mask(&m, table);
    assert!(
        got.contains("  1 | ****  | *** ****                | t"),
        "{got}"
    );
    // A glob naming it takes it in.
    let mut set = RuleSet::hipaa();
    set.set_fields(vec![Field::custom("dob*")]);
    let m = set.compile().unwrap();
    assert_eq!(
        mask(&m, "dob_verified,name\nt,Jane\n"),
        "dob_verified,name\n*,Jane\n"
    );
    // Replaced list: `name` is no longer sensitive.
    assert_eq!(mask(&m, "name,dob\nJane,1961\n"), "name,dob\nJane,****\n");
}

#[test]
fn without_fields_nothing_is_tracked() {
    let m = RuleSet::new().compile().unwrap();
    let input = fixture("psql.txt");
    assert_eq!(m.mask(&input), input);
    let mut rec = m.recording();
    // Nothing is held for the tracker either.
    assert_eq!(
        rec.push(b" name | id\n------+----\n Jane"),
        b" name | id\n------+----\n Jane"
    );
}

/// In a terminal, bash turns bracketed paste off and returns the cursor (`\x1b[?2004l\r`)
/// before a command's output: its first line starts after a carriage return.
#[test]
fn a_command_s_first_line_after_a_carriage_return() {
    let m = hipaa();
    let cases: &[(&str, &str)] = &[
        (
            "$ psql -x\r\n\x1b[?2004l\r-[ RECORD 1 ]--+-----\r\nname           | Jane Roe\r\nid             | 7\r\n",
            "$ psql -x\r\n\x1b[?2004l\r-[ RECORD 1 ]--+-----\r\nname           | **** ***\r\nid             | 7\r\n",
        ),
        (
            "$ psql --csv\r\n\x1b[?2004l\rid,name\r\n7,Jane Roe\r\n",
            "$ psql --csv\r\n\x1b[?2004l\rid,name\r\n7,**** ***\r\n",
        ),
        (
            "$ cat feed.hl7\r\n\x1b[?2004l\rMSH|^~\\&|A|B\rPID|1||123||ROE^JANE\r\n",
            "$ cat feed.hl7\r\n\x1b[?2004l\rMSH|^~\\&|A|B\rPID|1||***||***^****\r\n",
        ),
        (
            "$ jq .\r\n\x1b[?2004l\r\x1b[1;39m{\r\n  \"dob\": \"1961-04-02\"\r\n}\r\n",
            "$ jq .\r\n\x1b[?2004l\r\x1b[1;39m{\r\n  \"dob\": \"****-**-**\"\r\n}\r\n",
        ),
    ];
    for (input, want) in cases {
        let got = mask_every_way(m, input.as_bytes());
        assert_eq!(String::from_utf8_lossy(&got), *want, "{input:?}");
    }
}
