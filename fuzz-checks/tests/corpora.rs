//! Replays every committed fuzz input (`fuzz/corpus/TARGET/`: the minimised corpora;
//! `fuzz/regressions/TARGET/`: every input that ever crashed a target) through the check its
//! target runs, on stable Rust and without libFuzzer.
//!
//! `cargo test -p fuzz-checks --test corpora -- --ignored write_seeds` rewrites the hand-made
//! seeds (`fuzz/corpus/TARGET/seed-*`) that the corpora were grown from.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failing test should panic

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fuzz_checks::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

#[test]
fn every_corpus_and_regression_input_passes_its_check() {
    let mut failures = Vec::new();
    for (name, check) in TARGETS {
        let started = Instant::now();
        let mut replayed = 0;
        for kind in ["corpus", "regressions"] {
            for file in files(&fuzz_dir().join(kind).join(name)) {
                let data = std::fs::read(&file).unwrap();
                if catch_unwind(AssertUnwindSafe(|| check(&data))).is_err() {
                    failures.push(file.display().to_string());
                }
                replayed += 1;
            }
        }
        assert!(replayed > 0, "nothing to replay for {name}");
        eprintln!("{name}: {replayed} inputs in {:?}", started.elapsed());
    }
    assert!(failures.is_empty(), "failing inputs: {failures:#?}");
}

#[test]
fn every_fuzz_target_is_replayed() {
    let mut targets: Vec<String> = files(&fuzz_dir().join("fuzz_targets"))
        .iter()
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_string()))
        .collect();
    targets.sort();
    let mut checked: Vec<String> = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    checked.sort();
    assert_eq!(targets, checked);
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    for name in checked {
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "{name} is not a [[bin]] of fuzz/Cargo.toml"
        );
    }
}

/// Writes the hand-made seeds.
#[test]
#[ignore = "rewrites fuzz/corpus/*/seed-*; run by hand"]
fn write_seeds() {
    let write = |target: &str, name: &str, data: &[u8]| {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("seed-{name}")), data).unwrap();
    };

    write("config", "full", FULL_CONFIG.as_bytes());
    // One section each on the least a file needs: what the fuzzer grows from these stays
    // small, so the minimised corpus does too.
    for (name, start, end) in [
        ("recording-audit", "[recording]", "[oidc]"),
        ("oidc-ci", "[oidc]", "[[targets]]"),
        ("targets-roles", "[[targets]]", "[masking]"),
        ("masking", "[masking]", "[approval]"),
        ("approval", "[approval]", "[dev]"),
    ] {
        let section =
            &FULL_CONFIG[FULL_CONFIG.find(start).unwrap()..FULL_CONFIG.find(end).unwrap()];
        write(
            "config",
            name,
            format!("{MINIMAL_CONFIG}{section}").as_bytes(),
        );
    }
    write("config", "quickstart", QUICKSTART_CONFIG.as_bytes());
    write("config", "problems", PROBLEM_CONFIG.as_bytes());

    for (name, user) in [
        ("login-at-target", "postgres@db1\0dba"),
        ("target", "web1\0web\0dev"),
        ("menu", "\0ops"),
        ("nested-at", "a@b@web-2.example\0ops"),
        ("unknown", "root@db9\0dba"),
        ("no-login", "db2\0dev"),
    ] {
        write("destination", name, user.as_bytes());
    }

    let (cast, sidecar) = recording();
    write("cast", "v3", &cast);
    write(
        "cast",
        "v2",
        b"{\"version\": 2, \"width\": 80, \"height\": 24, \"timestamp\": 1700000000, \"idle_time_limit\": 2.5, \"env\": {\"TERM\": \"xterm\"}}\n[0.5, \"o\", \"$ ls\\r\\n\"]\n[1.0, \"i\", \"q\"]\n[1.5, \"r\", \"100x30\"]\n[2.0, \"m\", \"mark\"]\n",
    );
    write(
        "cast",
        "torn",
        b"{\"version\":3,\"term\":{\"cols\":80,\"rows\":24}}\n# stderr\n[0.1, \"o\", \"\\u001b]52;c;eA==\\u0007\\u001b[1mred\"]\n[0.2, \"x\", \"0\"]\n[0.3, \"o\", \"cut",
    );
    let mut both = cast.clone();
    both.push(0);
    both.extend_from_slice(&sidecar);
    write("verify", "sealed", &both);
    write("verify", "no-sidecar", &cast);
    let half = sidecar.len() / 2;
    let mut torn = cast.clone();
    torn.push(0);
    torn.extend_from_slice(&sidecar[..half]);
    write("verify", "torn-sidecar", &torn);

    let escapes: &[(&str, &[u8])] = &[
        (
            "sgr",
            b"\x03\x01\x02\x05\x1b[1m123\x1b[0m-45-6789 \x1b[38;5;208mx",
        ),
        (
            "osc",
            b"\x02\x03\x07x\x1b]0;title 123\x07y\x1b]8;;http://h/1\x1b\\link\x1b]8;;\x1b\\",
        ),
        (
            "dcs",
            b"\x01\x04a\x1bPq#0;1\x1b\\b\x1b(Bc\x1b[?25l\x9b2J\xc2\x9b31m\x18\x1a",
        ),
        (
            "clipboard",
            b"\x00\x1b]52;c;Y3VybCB4fHNoCg==\x07\x1bP+q544e\x1b\\\x1b[>c\x1b[6n",
        ),
    ];
    for (name, data) in escapes {
        write("escape", name, data);
    }

    let masked: &[(&str, &[u8])] = &[
        ("identifiers", b"\x03\x05\x01\x07SSN: 123-45-6789, card 4111 1111 1111 1111, jane.doe@example.org, (555) 234-5678, DOB: 01/02/1980, MRN: AB1234567\n"),
        ("escaped", b"\x52\x01\x02\x1b[1m123\x1b[0m-45-6789 \x1b]2;vim 078 05 1120\x07 badge# XY1234567 T4111111111111111\r\n"),
        ("utf8", b"\x0a\x03caf\xc3\xa9 \xe4\xb8\xad 555.234.5678 born on March 3, 1975 \xff\xfe Member ID XYZ-12345678"),
    ];
    for (name, data) in masked {
        write("mask", name, data);
    }

    let sign = fuzz_checks::jwt::sign;
    let now = fuzz_checks::jwt::NOW;
    let person = serde_json::json!({
        "iss": fuzz_checks::jwt::ISSUER, "aud": "bastion", "sub": "alice",
        "iat": now - 60, "exp": now + 600, "email": "alice@example.test",
        "groups": ["ops", "admins", "x,y"], "preferred_username": "alice",
        "nonce": fuzz_checks::jwt::NONCE,
    });
    let ci = serde_json::json!({
        "iss": "https://ci.example.test/", "aud": ["bastion"], "sub": "project_path:acme/app:ref_type:branch",
        "iat": now - 60, "exp": now + 600,
    });
    let ci_on_idp = serde_json::json!({
        "iss": fuzz_checks::jwt::ISSUER, "aud": "bastion-ci", "sub": "repo:acme/app:ref:refs/heads/main",
        "iat": now, "exp": now + 60,
    });
    for (name, claims) in [("person", &person), ("ci", &ci), ("ci-on-idp", &ci_on_idp)] {
        let claims = claims.to_string();
        write(
            "jwt",
            &format!("claims-{name}"),
            &[&[1u8][..], claims.as_bytes()].concat(),
        );
        let token = sign(fuzz_checks::jwt::HEADER.as_bytes(), claims.as_bytes());
        write(
            "jwt",
            &format!("token-{name}"),
            &[&[0x80u8][..], token.as_bytes()].concat(),
        );
    }
    let header_and_claims = [
        &[2u8][..],
        br#"{"alg":"none","kid":"fuzz"}"#,
        &[0],
        person.to_string().as_bytes(),
    ]
    .concat();
    write("jwt", "header-none", &header_and_claims);
    write(
        "jwt",
        "garbage",
        b"\0eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln",
    );
}

/// A real recording of every event kind, sealed, signed with the check's key.
fn recording() -> (Vec<u8>, Vec<u8>) {
    use recorder::{BastionMeta, ChannelKind, Header, Recorder, RecorderOptions, Term};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s1-0.cast");
    let header = Header {
        term: Term {
            cols: 80,
            rows: 24,
            term_type: Some("xterm-256color".into()),
        },
        timestamp: Some(1_700_000_000),
        env: [("LANG".to_string(), "C.UTF-8".to_string())].into(),
        ..Header::default()
    };
    let meta = BastionMeta {
        session: "s1".into(),
        channel: 0,
        user: "alice@example.com".into(),
        cert_serial: Some(7),
        source: "127.0.0.1".into(),
        target: "db1".into(),
        login: "postgres".into(),
        kind: ChannelKind::Shell,
    };
    let key =
        std::sync::Arc::new(recorder::SigningKey::from_seed(&fuzz_checks::verify::SEED).unwrap());
    let options = RecorderOptions {
        record_input: true,
        ..RecorderOptions::default()
    };
    let mut rec = Recorder::create(&path, &header, &meta, key, options).unwrap();
    let t = Duration::from_millis;
    rec.output(t(100), b"$ \x1b[1mls\x1b[0m\r\n").unwrap();
    rec.input(t(200), b"ls\r").unwrap();
    rec.checkpoint_if_due(t(1200)).unwrap();
    rec.stderr(t(1300), b"oops\r\n").unwrap();
    rec.resize(t(1400), 100, 30).unwrap();
    rec.marker(t(1500), "note").unwrap();
    rec.output(t(2600), "caf\u{e9} \u{4e2d}\r\n".as_bytes())
        .unwrap();
    rec.exit(t(2700), "0").unwrap();
    rec.seal(t(2800)).unwrap();
    let cast = std::fs::read(&path).unwrap();
    let sidecar = std::fs::read(recorder::sidecar_path(&path)).unwrap();
    (cast, sidecar)
}

const FULL_CONFIG: &str = r#"# Every section.
[server]
listen = "0.0.0.0:2222"
host_key = "keys/host_ed25519"
max_unauthenticated = 64
max_auth_attempts = 3
max_sessions_per_identity = 4
login_grace_time = "30s"
keepalive_interval = "15s"
keepalive_max = 3
max_channels_per_connection = 8
env_allow = ["LANG", "LC_*"]
connect_timeout = "10s"
revocation_check_interval = "1m"
api_listen = "127.0.0.1:8443"
api_tls_cert = "tls/cert.pem"
api_tls_key = "tls/key.pem"

[ca]
user_ca = "keys/user_ca"
target_ca = "keys/target_ca"
default_ttl = "8h"
max_ttl = "12h"
upstream_ttl = "2m"

[recording]
dir = "/var/lib/bastion/recordings"
signing_key = "keys/recording_ed25519"
record_input = true
max_channel_bytes = 67108864

[audit]
database = "postgres://bastion@db/bastion"
instance = "b1"

[oidc]
issuer = "https://id.example.com"
client_id = "bastion"
scopes = ["openid", "email", "groups"]
identity_claim = "email"
principals_claim = "groups"
username_claim = "preferred_username"
clock_skew = "60s"
device_login = true
device_login_timeout = "5m"
device_login_max_per_source = 4

[[ci]]
issuer = "https://token.actions.example.com"
audience = "bastion"
subject = "repo:acme/app:ref:refs/heads/main"
role = "deploy"
ttl = "15m"

[[targets]]
name = "db1"
host = "10.0.0.5"
port = 22
host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx6hW1Cl0WZaLnCBhyX9NqoW0c6pBJ8Tj4cIqQUKpli"
default_login = "postgres"
labels = { env = "prod", tier = "db" }

[[targets]]
name = "web1"
host = "web1.internal"
known_hosts = "/etc/ssh/ssh_known_hosts"

[[targets]]
name = "app1"
host = "app1.internal"
host_ca = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx6hW1Cl0WZaLnCBhyX9NqoW0c6pBJ8Tj4cIqQUKpli"

[[roles]]
name = "dba"
principals = ["dba"]
targets = ["env=prod", "db*"]
logins = ["postgres", "*"]
default_login = "postgres"
allow = ["shell", "exec", "sftp", "port-forward"]
live_masking = false
idle_timeout = "15m"
certificate_ttl = "4h"

[[roles]]
name = "leads"
principals = ["leads"]
targets = ["*"]
allow = ["review"]

[[roles]]
name = "deploy"
principals = ["deployer"]
targets = ["app?"]
allow = ["exec"]
ci_shell = true

[masking]
packs = ["hipaa"]
ipv4 = true
mrn_labels = ["MRN", "chart"]
account_labels = ["acct"]
member_labels = ["member"]
live_hold_ms = 250

[[masking.rules]]
name = "badge"
pattern = '(?i)\bbadge[:#\s]{0,3}([A-Z]{2}\d{7})'
group = 1
targets = ["env=prod"]
roles = ["dba"]

[[masking.rules]]
name = "card"
pattern = '\b\d{16}\b'
validator = "luhn"

[[masking.rules]]
name = "email"
pattern = ""
enabled = false

[approval]
webhook = "https://hooks.example.com/approvals"
max_pending_per_user = 5
interpreters = ["bash", "python*"]

[[approval.rules]]
name = "drops"
command = '(?i)\bdrop\s+(table|database)\b'
targets = ["db*"]
roles = ["dba"]
approvers = ["leads"]
approvals = 1
timeout = "10m"

[[approval.rules]]
name = "prod-sessions"
targets = ["env=prod"]
approvers = ["leads"]
whole_session = true

[dev]
allow_local_demo = false
"#;

const MINIMAL_CONFIG: &str = r#"[server]
listen = "127.0.0.1:2222"
host_key = "k"
[ca]
user_ca = "u"
target_ca = "t"
"#;

const QUICKSTART_CONFIG: &str = r#"[server]
listen = "127.0.0.1:2222"
host_key = "keys/host_ed25519"

[ca]
user_ca = "keys/user_ca"
target_ca = "keys/target_ca"

[dev]
allow_local_demo = true

[[targets]]
name = "demo"
kind = "local-demo"
default_login = "me"
labels = { env = "dev" }

[[roles]]
name = "developer"
principals = ["dev"]
targets = ["*"]
logins = ["me"]
allow = ["shell", "exec", "sftp", "port-forward"]
idle_timeout = "15m"
"#;

const PROBLEM_CONFIG: &str = r#"[server]
listen = "127.0.0.1:2222"
host_key = "k"
colour = "red"
[ca]
user_ca = "u"
target_ca = "t"
[[targets]]
name = "db1"
host = "h"
port = "ssh"
[[targets]]
name = "db1"
host_key = "ssh-ed25519 not-base64"
[[roles]]
name = "dba"
principals = []
[[approval.rules]]
name = "bad-glob"
command = "drop("
targets = ["db[1-3"]
approvers = ["lead"]
timeout = "300000000000y"
[[masking.rules]]
name = "unbounded"
pattern = '\d+'
"#;
