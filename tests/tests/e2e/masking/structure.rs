//! PHI that sits where a structure says (issue 14): query results of a real PostgreSQL
//! through psql (aligned, `-x`, `--csv`), the same rows through sqlite3 (`-box`, `-column
//! -header`, `-csv -header`), a FHIR bundle through `jq .` and an HL7 v2 file through `cat`,
//! run on the target through the bastion with live masking, as exec commands and in an
//! interactive shell. No generated name, birth date, SSN, MRN, phone, address or e-mail may
//! reach the client, the recording (as `bastion play --cat` shows it), the audit database or
//! the log; every id, creation time, status and row-count footer must.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tests::{bastion_bin, run, stderr, stdout, BastionBuilder, Postgres, Tmux};

use super::played;

/// Rows in the `patients` table.
const ROWS: u32 = 300;

const FIRST: [&str; 17] = [
    "Aldric", "Brisa", "Caelum", "Dorine", "Ezren", "Faylin", "Gorim", "Hesper", "Ilvane",
    "Jorvik", "Kaelis", "Lunet", "Morwen", "Nerith", "Oswin", "Perrin", "Quilla",
];
const LAST: [&str; 19] = [
    "Ashgrove",
    "Brackwater",
    "Coldharbor",
    "Dunmere",
    "Elderwyck",
    "Fenhollow",
    "Greystrand",
    "Hallowmere",
    "Ironvale",
    "Juniperhill",
    "Kestrelby",
    "Larkspurne",
    "Mistvale",
    "Northwick",
    "Oakenshaw",
    "Pennyroyal",
    "Quarrington",
    "Ravensholt",
    "Stonebridge",
];
const STREETS: [&str; 7] = [
    "Wrenfield",
    "Tamarack",
    "Bellflower",
    "Copperbeech",
    "Silverbirch",
    "Hawthorne",
    "Ambergate",
];
const STATUSES: [&str; 3] = ["active", "inactive", "pending"];
const NOTES: [&str; 4] = [
    "Follow-up in clinic, mild cough; continue current plan.",
    "Routine visit | no new symptoms",
    "Labs reviewed; \"stable\" per team",
    "Medication review completed",
];

/// One generated patient.
struct Patient {
    id: u32,
    first: &'static str,
    last: &'static str,
    dob: (u32, u32, u32),
    ssn: String,
    mrn: String,
    phone: String,
    street: String,
    email: String,
    note: &'static str,
    created_at: String,
    status: &'static str,
}

impl Patient {
    fn name(&self) -> String {
        format!("{} {}", self.first, self.last)
    }

    fn dob(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.dob.0, self.dob.1, self.dob.2)
    }

    fn dob_hl7(&self) -> String {
        format!("{:04}{:02}{:02}", self.dob.0, self.dob.1, self.dob.2)
    }

    /// The phone number's digits as written (`(555) 234-5678`).
    fn phone_tail(&self) -> &str {
        &self.phone[6..]
    }

    /// What must never be shown of this patient.
    fn secrets(&self) -> Vec<String> {
        vec![
            self.name(),
            self.last.to_string(),
            format!("{}^{}", self.last.to_uppercase(), self.first.to_uppercase()),
            self.dob(),
            self.dob_hl7(),
            self.ssn.clone(),
            self.mrn.clone(),
            self.mrn[3..].to_string(),
            self.phone_tail().to_string(),
            self.street.clone(),
            self.email.clone(),
        ]
    }
}

fn patients() -> Vec<Patient> {
    (1..=ROWS)
        .map(|id| {
            let i = id as usize;
            let (first, last) = (FIRST[i % FIRST.len()], LAST[i % LAST.len()]);
            Patient {
                id,
                first,
                last,
                dob: (1931 + id % 68, 1 + id % 12, 1 + id % 28),
                ssn: format!("{:03}-{:02}-{:04}", 101 + id % 500, 10 + id % 89, 1000 + id),
                mrn: format!("MRN{:07}", 4_000_000 + id * 7),
                phone: format!("(555) {:03}-{:04}", 201 + id % 700, 3000 + id),
                street: format!("{} {} Street", 100 + id, STREETS[i % STREETS.len()]),
                email: format!(
                    "{}.{}{id}@example.org",
                    first.to_lowercase(),
                    last.to_lowercase()
                ),
                note: NOTES[i % NOTES.len()],
                created_at: format!(
                    "2024-06-{:02} {:02}:{:02}:00",
                    1 + id / 24 % 28,
                    id % 24,
                    id % 60
                ),
                status: STATUSES[i % STATUSES.len()],
            }
        })
        .collect()
}

fn sql_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The table, in SQL both PostgreSQL and SQLite take.
fn table_sql(rows: &[Patient]) -> String {
    let mut sql = String::from(
        "CREATE TABLE patients (id integer PRIMARY KEY, name text, birth_date date, ssn text, mrn text, phone text, street_address text, email text, note text, created_at timestamp, status text);\n",
    );
    sql.push_str("INSERT INTO patients VALUES\n");
    let values: Vec<String> = rows
        .iter()
        .map(|p| {
            format!(
                "({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
                p.id,
                sql_text(&p.name()),
                sql_text(&p.dob()),
                sql_text(&p.ssn),
                sql_text(&p.mrn),
                sql_text(&p.phone),
                sql_text(&p.street),
                sql_text(&p.email),
                sql_text(p.note),
                sql_text(&p.created_at),
                sql_text(p.status)
            )
        })
        .collect();
    sql.push_str(&values.join(",\n"));
    sql.push_str(";\n");
    sql
}

/// A FHIR searchset bundle of the patients (and an observation each, which is no PHI).
fn fhir_bundle(rows: &[Patient]) -> String {
    let entries: Vec<String> = rows
        .iter()
        .map(|p| {
            format!(
                r#"{{"resource":{{"resourceType":"Patient","id":"pat-{id}","meta":{{"lastUpdated":"{created}"}},"identifier":[{{"system":"urn:oid:2.16.840.1.113883.4.1","value":"{ssn}"}},{{"system":"urn:example:mrn","value":"{mrn}"}}],"active":true,"name":[{{"use":"official","family":"{last}","given":["{first}"]}}],"telecom":[{{"system":"phone","value":"{phone}"}},{{"system":"email","value":"{email}"}}],"gender":"unknown","birthDate":"{dob}","address":[{{"line":["{street}"],"city":"Springfield","postalCode":"01101"}}]}}}},{{"resource":{{"resourceType":"Observation","id":"obs-{id}","status":"{status}","code":{{"text":"Heart rate"}},"valueQuantity":{{"value":72,"unit":"bpm"}}}}}}"#,
                id = p.id,
                created = p.created_at,
                ssn = p.ssn,
                mrn = p.mrn,
                last = p.last,
                first = p.first,
                phone = p.phone,
                email = p.email,
                dob = p.dob(),
                street = p.street,
                status = p.status,
            )
        })
        .collect();
    format!(
        r#"{{"resourceType":"Bundle","type":"searchset","total":{},"entry":[{}]}}"#,
        rows.len(),
        entries.join(",")
    )
}

/// An HL7 v2 feed file: one ADT message per patient, segments ended by CR, messages by a line
/// feed as interface engines store them.
fn hl7_feed(rows: &[Patient]) -> String {
    rows.iter()
        .map(|p| {
            format!(
                "MSH|^~\\&|EPIC|HOSP|LAB|HOSP|20240601120000||ADT^A08|MSG{id:05}|P|2.5\rEVN|A08|20240601120000\rPID|1||{mrn}^^^HOSP^MR~{ssn}^^^USSSA^SS||{last}^{first}^Q||{dob}|U|||{street}^^SPRINGFIELD^MA^01101||{phone}|||S||ACCT{id:06}|{ssn}\rPV1|1|O|CLINIC^1^1\r\n",
                id = p.id,
                mrn = p.mrn,
                ssn = p.ssn,
                last = p.last.to_uppercase(),
                first = p.first.to_uppercase(),
                dob = p.dob_hl7(),
                street = p.street,
                phone = p.phone,
            )
        })
        .collect()
}

/// The generated values shown anywhere in `text`.
fn leaks(text: &str, rows: &[Patient]) -> Vec<String> {
    let mut found: Vec<String> = rows
        .iter()
        .flat_map(Patient::secrets)
        .filter(|s| text.contains(s.as_str()))
        .collect();
    found.dedup();
    found
}

#[track_caller]
fn assert_no_phi(what: &str, text: &str, rows: &[Patient]) {
    let found = leaks(text, rows);
    if let Some(first) = found.first() {
        let at = text.find(first.as_str()).unwrap_or(0);
        let from = text[..at]
            .char_indices()
            .rev()
            .nth(300)
            .map_or(0, |(i, _)| i);
        let to = text[at..]
            .char_indices()
            .nth(200)
            .map_or(text.len(), |(i, _)| at + i);
        panic!(
            "{what}: PHI shown: {:?}\n…{}…",
            &found[..found.len().min(10)],
            &text[from..to]
        );
    }
}

/// The ids at the start of the lines of `text` (after padding and box bars), and psql's
/// expanded `id | N` lines.
fn ids(text: &str) -> BTreeSet<u32> {
    text.lines()
        .filter_map(|line| {
            let l = line.trim_start_matches([' ', '|', '\u{2502}']);
            if let Some(rest) = l.strip_prefix("id ") {
                return rest.trim_start().strip_prefix("| ")?.trim().parse().ok();
            }
            let digits: String = l.chars().take_while(char::is_ascii_digit).collect();
            let next = l[digits.len()..].chars().next();
            matches!(next, Some(' ' | ',' | '|')).then(|| digits.parse().ok())?
        })
        .collect()
}

#[track_caller]
fn assert_plain_columns(what: &str, text: &str, rows: &[Patient], footer: bool) {
    let all: BTreeSet<u32> = rows.iter().map(|p| p.id).collect();
    let seen = ids(text);
    let missing: Vec<&u32> = all.difference(&seen).collect();
    assert!(missing.is_empty(), "{what}: ids not shown: {missing:?}");
    for p in rows {
        assert!(
            text.contains(&p.created_at),
            "{what}: {} not shown",
            p.created_at
        );
    }
    for s in STATUSES {
        assert!(text.contains(s), "{what}: status {s} not shown");
    }
    if footer {
        assert!(
            text.contains(&format!("({ROWS} rows)")),
            "{what}: no footer"
        );
    }
}

/// The commands run on the target, what each shows of the rows, and whether psql's footer is
/// among it.
fn commands(pg_port: u16, dir: &Path) -> Vec<(&'static str, String, bool)> {
    let psql = format!("psql -X -h 127.0.0.1 -p {pg_port} -U bastion -d clinic -P pager=off");
    let db = dir.join("clinic.sqlite").display().to_string();
    let query = "'select * from patients order by id'";
    vec![
        ("psql aligned", format!("{psql} -c {query}"), true),
        ("psql -x", format!("{psql} -x -c {query}"), false),
        ("psql --csv", format!("{psql} --csv -c {query}"), false),
        ("sqlite3 -box", format!("sqlite3 -box {db} {query}"), false),
        (
            "sqlite3 -column",
            format!("sqlite3 -column -header {db} {query}"),
            false,
        ),
        (
            "sqlite3 -csv",
            format!("sqlite3 -csv -header {db} {query}"),
            false,
        ),
        (
            "jq",
            format!("jq . {}", dir.join("bundle.json").display()),
            false,
        ),
        (
            "cat hl7",
            format!("cat {}", dir.join("feed.hl7").display()),
            false,
        ),
    ]
}

/// What shows the rows' plain columns in the FHIR and HL7 outputs.
fn assert_plain_messages(what: &str, text: &str, rows: &[Patient]) {
    for p in rows {
        let kept = if what == "jq" {
            format!("\"pat-{}\"", p.id)
        } else {
            format!("MSG{:05}", p.id)
        };
        assert!(text.contains(&kept), "{what}: {kept} not shown");
    }
}

#[test]
fn query_results_fhir_and_hl7_show_no_phi_anywhere() {
    let rows = patients();
    // PostgreSQL on loopback (the target is this machine, so psql on the target reaches it).
    let pg = Postgres::launch();
    pg.create_database("clinic");
    pg.psql("clinic", &table_sql(&rows));
    assert_eq!(
        pg.psql("clinic", "select count(*) from patients").trim(),
        ROWS.to_string()
    );

    let b = BastionBuilder::new();
    let sshd = b.sshd("t1");
    let bastion = b
        .target("t1", &sshd, "")
        .role(crate::fixture::OPS_ROLE)
        .start();
    let dir = bastion.dir.path().join("clinic");
    std::fs::create_dir_all(&dir).unwrap();
    let o = run(Command::new("sqlite3")
        .arg(dir.join("clinic.sqlite"))
        .arg(table_sql(&rows)));
    assert!(o.status.success(), "sqlite3: {}", stderr(&o));
    std::fs::write(dir.join("bundle.json"), fhir_bundle(&rows)).unwrap();
    std::fs::write(dir.join("feed.hl7"), hl7_feed(&rows)).unwrap();
    let alice = bastion.user("alice@example.test", "ops");

    // Exec: the output as the client gets it.
    for (what, cmd, footer) in commands(pg.port, &dir) {
        let o = run(&mut alice.ssh("t1@127.0.0.1", &[&cmd]));
        assert!(o.status.success(), "{what}: {}", stderr(&o));
        let out = stdout(&o);
        assert_no_phi(&format!("exec {what}"), &out, &rows);
        match what {
            "jq" | "cat hl7" => assert_plain_messages(what, &out, &rows),
            _ => assert_plain_columns(&format!("exec {what}"), &out, &rows, footer),
        }
    }

    // An interactive shell in a terminal: each command's screen (the whole scrollback), then
    // cleared for the next.
    let t = Tmux::start_with_history(&alice.remote_bash("t1@127.0.0.1"), 220, 50, 100_000);
    t.wait_for("REMOTE$", Duration::from_secs(15));
    for (k, (what, cmd, footer)) in commands(pg.port, &dir).into_iter().enumerate() {
        // The marker is computed by the shell, so the echo of the command line holds another.
        t.type_text(&format!("{cmd}; echo DONE-$(({k} + 1000))"));
        t.keys(&["Enter"]);
        t.wait_for(&format!("DONE-{}", k + 1000), Duration::from_secs(60));
        let screen = t.screen();
        assert_no_phi(&format!("screen {what}"), &screen, &rows);
        match what {
            "jq" => assert_plain_messages(what, &screen, &rows),
            // The HL7 segments end in CR: on a terminal each overwrites the one before.
            "cat hl7" => {}
            _ => assert_plain_columns(&format!("screen {what}"), &screen, &rows, footer),
        }
        t.type_text("clear");
        t.keys(&["Enter"]);
        t.clear_history();
    }
    t.type_text("exit");
    t.keys(&["Enter"]);
    t.wait_for("SSH-EXIT=", Duration::from_secs(15));
    tests::wait_for(Duration::from_secs(20), || {
        (bastion.log().matches("recording sealed").count() >= 9).then_some(())
    })
    .unwrap_or_else(|| panic!("recordings not sealed:\n{}", bastion.log()));

    // The recordings, as a reviewer plays them back, and as stored.
    let shown = played(&bastion);
    assert_no_phi("bastion play --cat", &shown, &rows);
    assert_plain_columns("bastion play --cat", &shown, &rows, true);
    assert_no_phi(
        "recording files",
        &super::recording_text(bastion.dir.path()),
        &rows,
    );
    // The audit rows and the log.
    let db = tests::default_sqlite_db(&bastion.config);
    let dump = stdout(&run(Command::new("sqlite3").arg(&db).arg(".dump")));
    assert!(dump.contains("INSERT INTO"), "audit database not dumped");
    assert_no_phi("audit database", &dump, &rows);
    assert_no_phi("bastion log", &bastion.log(), &rows);

    // mask-test shows why a value is masked.
    let o = run(Command::new(bastion_bin())
        .args(["mask-test", "--config"])
        .arg(&bastion.config)
        .arg(dir.join("bundle.json")));
    assert!(
        stderr(&o).contains("FHIR person resource element \"birthDate\"")
            || stderr(&o).contains("key \"birthDate\" (pack hipaa, field dob)"),
        "{}",
        &stderr(&o)[..stderr(&o).len().min(2000)]
    );
}
