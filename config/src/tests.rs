use super::*;
use std::path::Path;

const MINIMAL: &str = r#"
[server]
listen = "127.0.0.1:2222"
host_key = "keys/host_ed25519"

[ca]
user_ca = "keys/user_ca"
target_ca = "keys/target_ca"
"#;

fn problems(src: &str) -> Vec<String> {
    match Config::parse(src, "bastion.toml") {
        Ok(_) => vec![],
        Err(ConfigError::Invalid { origin, problems }) => {
            problems.iter().map(|p| p.render(&origin)).collect()
        }
        Err(e) => panic!("unexpected {e}"),
    }
}

#[test]
fn minimal_config_gets_defaults() {
    let c = Config::parse(MINIMAL, "t").unwrap();
    assert_eq!(c.server.max_auth_attempts, 6);
    assert_eq!(c.ca.default_ttl, Seconds(8 * 3600));
    assert_eq!(c.server.env_allow, ["LANG", "LC_*", "TZ"]);
    assert!(!c.recording.record_input);
    assert_eq!(c.recording.min_free, 256 << 20);
    assert_eq!(c.approval.max_pending_per_user, 10);
}

#[test]
fn port_error_names_key_file_and_line() {
    let src = format!(
        "{MINIMAL}\n[[targets]]\nname = \"a\"\nhost = \"h\"\nhost_key = \"x\"\n\n[[targets]]\nname = \"b\"\nhost = \"h\"\nport = \"ssh\"\n"
    );
    let line = src.lines().position(|l| l.starts_with("port")).unwrap() + 1;
    assert_eq!(
        problems(&src),
        [format!(
            "targets[1].port: expected integer 1-65535, found string \"ssh\" at bastion.toml:{line}"
        )]
    );
}

#[test]
fn port_out_of_range() {
    let src = format!("{MINIMAL}\n[[targets]]\nname = \"a\"\nhost = \"h\"\nport = 70000\n");
    let p = problems(&src);
    assert!(
        p[0].starts_with("targets[0].port: expected integer 1-65535, found integer `70000`"),
        "{p:?}"
    );
}

#[test]
fn unknown_key_is_an_error() {
    let src = MINIMAL.replace("[ca]", "colour = \"red\"\n[ca]");
    let p = problems(&src);
    assert_eq!(p.len(), 1);
    assert!(p[0].contains("unknown field `colour`"), "{p:?}");
    assert!(p[0].starts_with("server"), "{p:?}");
    assert!(p[0].ends_with("bastion.toml:6"), "{p:?}");
}

#[test]
fn semantic_problems_are_all_reported_with_lines() {
    let src = format!(
        r#"{MINIMAL}
[[targets]]
name = "db1"
host = "10.0.0.5"

[[targets]]
name = "db1"
host = "10.0.0.6"
host_key = "ssh-ed25519 not-base64"

[[roles]]
name = "dba"
principals = []
"#
    );
    let p = problems(&src);
    assert_eq!(p.len(), 4, "{p:?}");
    assert!(
        p[0].starts_with("targets[0].host_key: give exactly one of host_key"),
        "{p:?}"
    );
    assert!(
        p[1].starts_with("targets[1].name: target \"db1\" is defined twice at bastion.toml:"),
        "{p:?}"
    );
    assert!(
        p[2].starts_with("targets[1].host_key: not an OpenSSH public key line"),
        "{p:?}"
    );
    assert!(
        p[3].starts_with("roles[0].principals: list at least one"),
        "{p:?}"
    );
}

#[test]
fn local_demo_needs_dev_opt_in() {
    let src = format!("{MINIMAL}\n[[targets]]\nname = \"demo\"\nkind = \"local-demo\"\n");
    assert!(problems(&src)[0].contains("refused unless [dev] allow_local_demo = true"));
    let ok = format!("{src}\n[dev]\nallow_local_demo = true\n");
    assert!(problems(&ok).is_empty());
}

#[test]
fn durations_past_a_century_are_refused_with_their_key() {
    let src = format!(
        "{MINIMAL}\n[[approval.rules]]\nname = \"r\"\ncommand = \"x\"\napprovers = [\"a\"]\ntimeout = \"300000000000y\"\n"
    );
    let p = problems(&src);
    assert!(
        p.iter()
            .any(|x| x.contains("approval.rules[0].timeout") && x.contains("at most 100 years")),
        "{p:?}"
    );
    let ok = MINIMAL.replace("[ca]", "[ca]\nmax_ttl = \"100y\"");
    assert!(problems(&ok).iter().all(|x| !x.contains("max_ttl")));
}

#[test]
fn bad_duration_and_syntax() {
    let src = MINIMAL.replace("[ca]", "login_grace_time = \"soon\"\n[ca]");
    let p = problems(&src);
    assert!(
        p[0].starts_with("server.login_grace_time: expected a duration"),
        "{p:?}"
    );
    let p = problems("[server\nlisten = 1");
    assert!(p[0].ends_with("bastion.toml:1"), "{p:?}");
}

#[test]
fn load_resolves_relative_paths() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bastion.toml");
    std::fs::write(&path, MINIMAL).unwrap();
    let c = Config::load(&path).unwrap();
    assert_eq!(c.server.host_key, dir.path().join("keys/host_ed25519"));
    assert_eq!(
        c.audit.database,
        format!("sqlite://{}", dir.path().join("bastion.db").display())
    );
    // The short form of the URL too.
    std::fs::write(
        &path,
        format!("{MINIMAL}\n[audit]\ndatabase = \"sqlite:audit/trail.db\"\n"),
    )
    .unwrap();
    assert_eq!(
        Config::load(&path).unwrap().audit.database,
        format!("sqlite://{}", dir.path().join("audit/trail.db").display())
    );
    let err = Config::load(&dir.path().join("missing.toml")).unwrap_err();
    assert!(err.to_string().starts_with("cannot read"), "{err}");
    // A configuration named by a relative path: what it names is absolute all the same, so a
    // path stored from it (a recording's, in its audit row) holds from any directory.
    let here = tempfile::tempdir_in(".").unwrap();
    let name = here.path().file_name().unwrap();
    std::fs::write(here.path().join("bastion.toml"), MINIMAL).unwrap();
    let c = Config::load(&Path::new(name).join("bastion.toml")).unwrap();
    assert!(
        c.recording.dir.is_absolute(),
        "{}",
        c.recording.dir.display()
    );
    assert!(c
        .server
        .host_key
        .starts_with(std::env::current_dir().unwrap()));
}

#[test]
fn identity_sections_parse_with_defaults() {
    let server = MINIMAL.replace(
        "host_key = \"keys/host_ed25519\"\n",
        "host_key = \"keys/host_ed25519\"\napi_listen = \"127.0.0.1:8080\"\n",
    );
    let src = format!(
        "{server}\n[oidc]\nissuer = \"https://idp.example.com\"\nclient_id = \"bastion\"\n\n[[ci]]\nissuer = \"https://ci.example.com\"\naudience = \"bastion\"\nsubject = \"repo:org/app:*\"\nrole = \"deploy\"\n\n[[roles]]\nname = \"deploy\"\nprincipals = [\"deploy\"]\ncertificate_ttl = \"2h\"\n"
    );
    let c = Config::parse(&src, "t").unwrap();
    let o = c.oidc.unwrap();
    assert_eq!(o.identity_claim, "email");
    assert_eq!(o.principals_claim, "groups");
    assert_eq!(o.clock_skew, Seconds(60));
    assert!(o.scopes.contains(&"openid".to_string()));
    assert_eq!(c.ci[0].ttl, Seconds(600));
    assert_eq!(c.roles[0].certificate_ttl, Some(Seconds(7200)));
    assert!(!c.roles[0].ci_shell);
    assert_eq!(c.server.api_listen.as_deref(), Some("127.0.0.1:8080"));
}

#[test]
fn plain_http_api_only_on_loopback() {
    let src = MINIMAL.replace(
        "host_key = \"keys/host_ed25519\"\n",
        "host_key = \"keys/host_ed25519\"\napi_listen = \"0.0.0.0:8080\"\n",
    );
    let p = problems(&src);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("server.api_listen"), "{p:?}");
    assert!(p[0].contains("loopback"), "{p:?}");
    assert!(p[0].ends_with("bastion.toml:5"), "{p:?}");
    let with_tls = src.replace(
        "api_listen",
        "api_tls_cert = \"api.crt\"\napi_tls_key = \"api.key\"\napi_listen",
    );
    assert!(problems(&with_tls).is_empty());
    let half = src.replace("api_listen", "api_tls_cert = \"api.crt\"\napi_listen");
    assert!(problems(&half).iter().any(|p| p.contains("give both")));
}

#[test]
fn identity_problems_name_their_keys() {
    let src = format!(
        "{MINIMAL}\n[oidc]\nissuer = \"http://idp.example.com\"\nclient_id = \"\"\nscopes = [\"email\"]\n\n[[ci]]\nissuer = \"https://ci\"\naudience = \"b\"\nsubject = \"repo:[\"\nrole = \"nobody\"\nttl = \"10s\"\n"
    );
    let p = problems(&src).join("\n");
    for key in [
        "oidc.issuer",
        "oidc.client_id",
        "oidc.scopes",
        "ci[0].subject",
        "ci[0].role",
        "ci[0].ttl",
    ] {
        assert!(p.contains(key), "{key} missing in {p}");
    }
    let unknown =
        format!("{MINIMAL}\n[oidc]\nissuer = \"https://i\"\nclient_id = \"c\"\ncolour = 1\n");
    assert!(problems(&unknown)[0].contains("unknown field `colour`"));
}

#[test]
fn rules_that_could_apply_nowhere_or_be_approved_by_nobody_are_errors() {
    let src = format!(
        r#"{MINIMAL}
[[targets]]
name = "db1"
host = "h"
host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx6hW1Cl0WZaLnCBhyX9NqoW0c6pBJ8Tj4cIqQUKpli"
labels = {{ env = "prod" }}

[[roles]]
name = "leads"
principals = ["leads"]
targets = ["*"]
allow = ["review"]

[[approval.rules]]
name = "typo-in-label"
command = "drop"
targets = ["env=production"]
approvers = ["leads"]

[[approval.rules]]
name = "bad-glob"
command = "drop"
targets = ["db[1-3"]
approvers = ["leads"]

[[approval.rules]]
name = "nobody-approves"
command = "drop"
targets = ["db*", "env=prod"]
approvers = ["lead"]

[[masking.rules]]
name = "site-id"
pattern = "ID[0-9]{{6}}"
targets = ["web*"]
"#
    );
    let p = problems(&src);
    let has = |key: &str, text: &str| p.iter().any(|x| x.starts_with(key) && x.contains(text));
    assert!(
        has(
            "approval.rules[0].targets[0]",
            "matches no configured target"
        ),
        "{p:?}"
    );
    assert!(
        has("approval.rules[1].targets[0]", "not a valid glob"),
        "{p:?}"
    );
    assert!(
        has("approval.rules[2].approvers[0]", "nobody could approve"),
        "{p:?}"
    );
    assert!(
        has(
            "masking.rules[0].targets[0]",
            "matches no configured target"
        ),
        "{p:?}"
    );
    assert!(
        !p.iter().any(|x| x.starts_with("approval.rules[2].targets")),
        "{p:?}"
    );
    assert_eq!(p.len(), 4, "{p:?}");
}

#[test]
fn zero_values_that_would_break_the_server_are_errors() {
    let src = MINIMAL
        .replace(
            "[ca]",
            "max_sessions_per_identity = 0\nlogin_grace_time = \"0s\"\nkeepalive_interval = \"0s\"\nkeepalive_max = 0\nmax_channels_per_connection = 0\nconnect_timeout = \"0s\"\nrevocation_check_interval = \"0s\"\n[ca]\ndefault_ttl = \"0s\"",
        )
        + "\n[recording]\nmax_channel_bytes = 0\n[approval]\nmax_pending_per_user = 0\n";
    let p = problems(&src);
    for key in [
        "server.login_grace_time",
        "server.keepalive_interval",
        "server.keepalive_max",
        "server.max_channels_per_connection",
        "server.max_sessions_per_identity",
        "server.connect_timeout",
        "server.revocation_check_interval",
        "ca.default_ttl",
        "recording.max_channel_bytes",
        "approval.max_pending_per_user",
    ] {
        assert!(p.iter().any(|x| x.starts_with(key)), "{key}: {p:?}");
    }
}

#[test]
fn interpreters_are_program_names() {
    let c = Config::parse(MINIMAL, "t").unwrap();
    assert!(c.approval.interpreters.iter().any(|n| n == "bash"));
    assert!(c.approval.interpreters.iter().any(|n| n == "psql"));
    let src = format!(
        "{MINIMAL}\n[approval]\ninterpreters = [\"bash\", \"/usr/bin/python3\", \"py[\"]\n"
    );
    let p = problems(&src);
    assert!(
        p.iter()
            .any(|x| x.starts_with("approval.interpreters[1]") && x.contains("no path")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|x| x.starts_with("approval.interpreters[2]") && x.contains("not a valid glob")),
        "{p:?}"
    );
}

/// MINIMAL with `lines` added to `[server]`.
fn with_server(lines: &str) -> String {
    MINIMAL.replace(
        "host_key = \"keys/host_ed25519\"\n",
        &format!("host_key = \"keys/host_ed25519\"\n{lines}\n"),
    )
}

fn warnings(src: &str) -> Vec<String> {
    Config::parse(src, "bastion.toml")
        .unwrap()
        .warnings
        .iter()
        .map(|p| p.render("bastion.toml"))
        .collect()
}

#[test]
fn default_and_strong_algorithms_give_no_warning() {
    assert!(warnings(MINIMAL).is_empty());
    let strong = with_server(
        "kex = [\"mlkem768x25519-sha256\", \"curve25519-sha256\"]\nmacs = [\"hmac-sha2-256-etm@openssh.com\"]",
    );
    assert!(warnings(&strong).is_empty(), "{:?}", warnings(&strong));
}

#[test]
fn old_algorithms_re_enabled_are_warned_about_with_their_line() {
    let src = with_server(
        "kex = [\"mlkem768x25519-sha256\", \"curve25519-sha256\",\n  \"diffie-hellman-group14-sha256\", \"diffie-hellman-group-exchange-sha256\", \"diffie-hellman-group16-sha512\", \"ecdh-sha2-nistp256\"]\nmacs = [\"hmac-sha2-256-etm@openssh.com\", \"hmac-sha2-256\"]",
    );
    let w = warnings(&src);
    assert_eq!(w.len(), 5, "{w:#?}");
    let kex_line = src.lines().position(|l| l.contains("group14")).unwrap() + 1;
    let mac_line = src.lines().position(|l| l.starts_with("macs")).unwrap() + 1;
    assert!(w[0].starts_with("server.kex[2]: diffie-hellman-group14-sha256 is a 2048-bit group"));
    assert!(
        w[0].ends_with(&format!("at bastion.toml:{kex_line}")),
        "{}",
        w[0]
    );
    assert!(
        w[1].starts_with("server.kex[3]: diffie-hellman-group-exchange-sha256 is group exchange")
    );
    assert!(w[1].contains("DHEat"), "{}", w[1]);
    assert!(w[2].starts_with("server.kex[4]: diffie-hellman-group16-sha512 is finite-field"));
    assert!(w[3].starts_with("server.kex[5]: ecdh-sha2-nistp256 uses a NIST curve"));
    assert!(w[4].starts_with("server.macs[1]: hmac-sha2-256 is encrypt-and-MAC"));
    assert!(
        w[4].ends_with(&format!("at bastion.toml:{mac_line}")),
        "{}",
        w[4]
    );
}

#[test]
fn a_kex_list_without_post_quantum_is_warned_about() {
    let w = warnings(&with_server("kex = [\"curve25519-sha256\"]"));
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with("server.kex: no post-quantum key exchange"),
        "{}",
        w[0]
    );
}

#[test]
fn sha1_and_unknown_algorithms_are_errors() {
    let p = problems(&with_server(
        "kex = [\"diffie-hellman-group14-sha1\", \"curve25519-sha256\", \"curve25519-sha256\"]\nmacs = [\"hmac-sha1\"]",
    ));
    assert_eq!(p.len(), 3, "{p:#?}");
    assert!(
        p[0].starts_with("server.kex[0]: unknown key exchange \"diffie-hellman-group14-sha1\""),
        "{}",
        p[0]
    );
    assert!(
        p[1].starts_with("server.kex[2]: \"curve25519-sha256\" is named twice"),
        "{}",
        p[1]
    );
    assert!(
        p[2].starts_with("server.macs[0]: unknown MAC \"hmac-sha1\""),
        "{}",
        p[2]
    );
    let p = problems(&with_server("kex = []"));
    assert!(
        p[0].starts_with("server.kex: name at least one key exchange"),
        "{p:?}"
    );
}

#[test]
fn masking_fields_and_packs() {
    let src = format!(
        "{MINIMAL}\n[masking]\npacks = [\"hipaa\", \"gdpr\", \"pci\"]\nfields = [\"...\", \"notes\", \"_-\", {{ name = \"diag*\", targets = [\"nowhere*\"], roles = [\"nobody\"] }}, {{ name = \"...\", roles = [] }}]\n[[masking.rules]]\nname = \"x\"\npattern = \"X[0-9]{{3}}\"\nvalidator = \"iban\"\n"
    );
    let p = problems(&src);
    let has = |key: &str, text: &str| p.iter().any(|x| x.starts_with(key) && x.contains(text));
    assert!(has("masking.packs[2]", "unknown pack \"pci\""), "{p:?}");
    assert!(has("masking.fields[2]", "names no field"), "{p:?}");
    assert!(
        has(
            "masking.fields[3].targets[0]",
            "matches no configured target"
        ),
        "{p:?}"
    );
    assert!(
        has("masking.fields[3].roles[0]", "no role is named"),
        "{p:?}"
    );
    assert!(has("masking.fields[4].name", "cannot be scoped"), "{p:?}");
    assert!(!p.iter().any(|x| x.starts_with("masking.rules")), "{p:?}");
    assert!(
        !p.iter()
            .any(|x| x.starts_with("masking.fields[0]") || x.starts_with("masking.fields[1]")),
        "{p:?}"
    );
}
