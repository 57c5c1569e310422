//! Checks that span several keys or need more than a type: run after deserialization.

use std::collections::HashSet;
use std::net::SocketAddr;

use crate::schema::{Config, TargetKind};

/// User names with a meaning of their own; no target may take them.
pub const RESERVED_NAMES: &[&str] = &["review"];

/// Smallest `recording.max_channel_bytes` accepted.
const MIN_RECORDED_BYTES: u64 = 64 * 1024;

/// Every problem as (key path, message).
pub(crate) fn check(c: &Config) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut bad = |path: String, message: String| out.push((path, message));

    if c.server.listen.parse::<SocketAddr>().is_err() {
        bad(
            "server.listen".into(),
            format!(
                "expected an address such as \"0.0.0.0:2222\", found {:?}",
                c.server.listen
            ),
        );
    }
    if c.server.max_auth_attempts == 0 {
        bad(
            "server.max_auth_attempts".into(),
            "must be at least 1".into(),
        );
    }
    let s = &c.server;
    let within = |v: Option<usize>| v.is_none_or(|v| v >= 1 && v <= s.max_unauthenticated);
    if !within(s.max_unauthenticated_per_source) {
        bad(
            "server.max_unauthenticated_per_source".into(),
            format!(
                "must be between 1 and max_unauthenticated ({})",
                s.max_unauthenticated
            ),
        );
    }
    if !within(s.early_drop_from) {
        bad(
            "server.early_drop_from".into(),
            format!(
                "must be between 1 and max_unauthenticated ({})",
                s.max_unauthenticated
            ),
        );
    }
    if s.early_drop_rate > 100 {
        bad(
            "server.early_drop_rate".into(),
            "is a percentage: at most 100".into(),
        );
    }
    if s.connection_rate_per_source == 0 {
        bad(
            "server.connection_rate_per_source".into(),
            "must be at least 1 (0 would refuse every connection)".into(),
        );
    }
    if c.server.max_unauthenticated == 0 {
        bad(
            "server.max_unauthenticated".into(),
            "must be at least 1".into(),
        );
    }
    // Zero would drop every connection, refuse every channel or spin a timer.
    for (key, value) in [
        ("server.login_grace_time", c.server.login_grace_time.0),
        ("server.keepalive_interval", c.server.keepalive_interval.0),
        ("server.connect_timeout", c.server.connect_timeout.0),
        (
            "server.revocation_check_interval",
            c.server.revocation_check_interval.0,
        ),
    ] {
        if value == 0 {
            bad(key.into(), "must be longer than 0s".into());
        }
    }
    if c.server.keepalive_max == 0 {
        bad("server.keepalive_max".into(), "must be at least 1".into());
    }
    if c.server.max_sessions_per_identity == Some(0) {
        bad(
            "server.max_sessions_per_identity".into(),
            "must be at least 1 (leave it out for no limit)".into(),
        );
    }
    if c.server.max_channels_per_connection == 0 {
        bad(
            "server.max_channels_per_connection".into(),
            "must be at least 1".into(),
        );
    }
    if c.recording.max_channel_bytes < MIN_RECORDED_BYTES {
        bad(
            "recording.max_channel_bytes".into(),
            format!("must be at least {MIN_RECORDED_BYTES} bytes: below that, sessions are not really recorded"),
        );
    }
    if let Some(url) = &c.server.api_url {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bad(
                "server.api_url".into(),
                format!("expected an http:// or https:// URL, found {url:?}"),
            );
        }
    }
    let r = &c.recording;
    if let Some(store) = &r.store {
        if let Err(why) = crate::store_url::StoreUrl::parse(store) {
            bad("recording.store".into(), why);
        }
        if r.upload_every.0 == 0 {
            bad(
                "recording.upload_every".into(),
                "must be longer than 0s".into(),
            );
        }
        if r.upload_bytes < MIN_RECORDED_BYTES {
            bad(
                "recording.upload_bytes".into(),
                format!("must be at least {MIN_RECORDED_BYTES} bytes"),
            );
        }
        if r.spool_limit < r.max_channel_bytes {
            bad(
                "recording.spool_limit".into(),
                format!(
                    "must hold at least one channel's recording (max_channel_bytes, {})",
                    r.max_channel_bytes
                ),
            );
        }
        if let Some(endpoint) = &r.store_endpoint {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                bad(
                    "recording.store_endpoint".into(),
                    format!("expected an http:// or https:// URL, found {endpoint:?}"),
                );
            }
        }
    } else {
        for (key, set) in [
            ("recording.store_endpoint", r.store_endpoint.is_some()),
            ("recording.store_credentials", r.store_credentials.is_some()),
            ("recording.retention", r.retention.is_some()),
        ] {
            if set {
                bad(key.into(), "has no effect without recording.store".into());
            }
        }
    }
    if c.ca.default_ttl.0 < 60 {
        bad("ca.default_ttl".into(), "must be at least 1m".into());
    }
    if c.ca.default_ttl > c.ca.max_ttl {
        bad(
            "ca.default_ttl".into(),
            format!(
                "{} is longer than ca.max_ttl ({})",
                c.ca.default_ttl, c.ca.max_ttl
            ),
        );
    }
    if c.ca.upstream_ttl.0 < 30 || c.ca.upstream_ttl.0 > 3600 {
        bad(
            "ca.upstream_ttl".into(),
            "must be between 30s and 1h (it only has to outlive the upstream login)".into(),
        );
    }

    let mut names = HashSet::new();
    for (i, t) in c.targets.iter().enumerate() {
        let at = |key: &str| format!("targets[{i}].{key}");
        if t.name.is_empty()
            || t.name.contains(['@', '/', ':'])
            || t.name.chars().any(char::is_whitespace)
        {
            bad(
                at("name"),
                format!(
                    "{:?} is not a usable target name (no '@', '/', ':' or spaces)",
                    t.name
                ),
            );
        } else if RESERVED_NAMES.contains(&t.name.as_str()) {
            bad(at("name"), format!("{:?} is reserved", t.name));
        } else if !names.insert(t.name.as_str()) {
            bad(at("name"), format!("target {:?} is defined twice", t.name));
        }
        match t.kind {
            TargetKind::Ssh => {
                if t.host.is_empty() {
                    bad(
                        at("host"),
                        "missing: the target's host name or address".into(),
                    );
                }
                let checks = [
                    t.host_key.is_some(),
                    t.known_hosts.is_some(),
                    t.host_ca.is_some(),
                ]
                .iter()
                .filter(|x| **x)
                .count();
                if checks != 1 {
                    bad(
                        at("host_key"),
                        "give exactly one of host_key, known_hosts or host_ca: the bastion never trusts a target's key on first use".into(),
                    );
                }
                for (key, value) in [("host_key", &t.host_key), ("host_ca", &t.host_ca)] {
                    if let Some(v) = value {
                        if let Err(e) = ssh_key::PublicKey::from_openssh(v.trim()) {
                            bad(at(key), format!("not an OpenSSH public key line: {e}"));
                        }
                    }
                }
            }
            TargetKind::LocalDemo => {
                if !c.dev.allow_local_demo {
                    bad(
                        at("kind"),
                        "local-demo targets open a shell on the bastion host itself; refused unless [dev] allow_local_demo = true".into(),
                    );
                }
            }
        }
    }

    let mut role_names = HashSet::new();
    for (i, r) in c.roles.iter().enumerate() {
        let at = |key: &str| format!("roles[{i}].{key}");
        if !role_names.insert(r.name.as_str()) {
            bad(at("name"), format!("role {:?} is defined twice", r.name));
        }
        if r.principals.is_empty() || r.principals.iter().any(String::is_empty) {
            bad(
                at("principals"),
                "list at least one non-empty principal".into(),
            );
        }
        check_selectors(
            c,
            &r.targets,
            &format!("roles[{i}].targets"),
            false,
            &mut bad,
        );
        if r.idle_timeout.0 == 0 {
            bad(at("idle_timeout"), "must be longer than 0s".into());
        }
    }
    for (i, pack) in c.masking.packs.iter().enumerate() {
        if !PACKS.contains(&pack.as_str()) {
            bad(
                format!("masking.packs[{i}]"),
                format!("unknown pack {pack:?}; known: \"hipaa\", \"gdpr\""),
            );
        }
    }
    for (i, f) in c.masking.fields.iter().enumerate() {
        let name = f.name();
        let names_something = name
            .chars()
            .any(|ch| ch.is_alphanumeric() || ch == '*' || ch == '?');
        if name != crate::schema::PACK_LIST && !names_something {
            bad(
                format!("masking.fields[{i}]"),
                format!("{name:?} names no field (a glob of letters, digits, `*` and `?`)"),
            );
        }
        if let crate::schema::FieldEntry::Scoped(s) = f {
            if s.name == crate::schema::PACK_LIST {
                bad(
                    format!("masking.fields[{i}].name"),
                    "the packs' list (\"...\") cannot be scoped".into(),
                );
            }
            for (j, role) in s.roles.iter().enumerate() {
                if !c.roles.iter().any(|x| &x.name == role) {
                    bad(
                        format!("masking.fields[{i}].roles[{j}]"),
                        format!("no role is named {role:?}"),
                    );
                }
            }
            check_selectors(
                c,
                &s.targets,
                &format!("masking.fields[{i}].targets"),
                true,
                &mut bad,
            );
        }
    }
    if c.masking.live_hold_ms > 1000 {
        bad(
            "masking.live_hold_ms".into(),
            "at most 1000 ms: a longer hold makes terminals feel broken".into(),
        );
    }
    let mut rule_names = HashSet::new();
    for (i, r) in c.masking.rules.iter().enumerate() {
        if !rule_names.insert(r.name.as_str()) {
            bad(
                format!("masking.rules[{i}].name"),
                format!("rule {:?} is defined twice", r.name),
            );
        }
        for (j, role) in r.roles.iter().enumerate() {
            if !c.roles.iter().any(|x| &x.name == role) {
                bad(
                    format!("masking.rules[{i}].roles[{j}]"),
                    format!("no role is named {role:?}"),
                );
            }
        }
        check_selectors(
            c,
            &r.targets,
            &format!("masking.rules[{i}].targets"),
            true,
            &mut bad,
        );
        if let Some(v) = &r.validator {
            if !VALIDATORS.contains(&v.as_str()) {
                bad(
                    format!("masking.rules[{i}].validator"),
                    format!("unknown validator {v:?}; known: {}", VALIDATORS.join(", ")),
                );
            }
        }
    }
    check_api(c, &mut bad);
    check_ciphers(c, &mut bad);
    check_names(
        "server.kex",
        "key exchange",
        c.server.kex.as_deref(),
        crate::schema::KEX_NAMES,
        &mut bad,
    );
    check_names(
        "server.macs",
        "MAC",
        c.server.macs.as_deref(),
        crate::schema::MAC_NAMES,
        &mut bad,
    );
    check_identity(c, &mut bad);
    if let Some(url) = &c.approval.webhook {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            bad(
                "approval.webhook".into(),
                format!("{url:?}: expected an http:// or https:// URL"),
            );
        }
    }
    if c.approval.max_pending_per_user == 0 {
        bad(
            "approval.max_pending_per_user".into(),
            "must be at least 1 (0 would refuse every approval request)".into(),
        );
    }
    for (i, name) in c.approval.interpreters.iter().enumerate() {
        if name.contains('/') || name.trim().is_empty() {
            bad(
                format!("approval.interpreters[{i}]"),
                format!("{name:?}: expected a program name or name glob (no path)"),
            );
        } else if let Err(e) = globset::Glob::new(name) {
            bad(
                format!("approval.interpreters[{i}]"),
                format!("{name:?} is not a valid glob: {e}"),
            );
        }
    }
    let mut approval_names = HashSet::new();
    for (i, r) in c.approval.rules.iter().enumerate() {
        let at = |key: &str| format!("approval.rules[{i}].{key}");
        if !approval_names.insert(r.name.as_str()) {
            bad(at("name"), format!("rule {:?} is defined twice", r.name));
        }
        match (&r.command, r.whole_session) {
            (None, false) => bad(
                at("command"),
                "missing: a regular expression, or whole_session = true".into(),
            ),
            (Some(re), _) => {
                if re.len() > 4096 {
                    bad(at("command"), "longer than 4096 characters".into());
                } else if let Err(e) = command_regex(re) {
                    bad(
                        at("command"),
                        format!("not a valid regular expression: {e}"),
                    );
                }
            }
            (None, true) => {}
        }
        if r.approvers.is_empty() || r.approvers.iter().any(String::is_empty) {
            bad(at("approvers"), "list at least one approver group".into());
        }
        if r.approvals == Some(0) {
            bad(at("approvals"), "must be at least 1".into());
        }
        if r.timeout.0 == 0 {
            bad(at("timeout"), "must be longer than 0s".into());
        }
        for (j, role) in r.roles.iter().enumerate() {
            if !c.roles.iter().any(|x| &x.name == role) {
                bad(
                    format!("approval.rules[{i}].roles[{j}]"),
                    format!("no role is named {role:?}"),
                );
            }
        }
        check_selectors(
            c,
            &r.targets,
            &format!("approval.rules[{i}].targets"),
            true,
            &mut bad,
        );
        // A misspelt group means nobody can ever approve: every matching command would wait
        // for its timeout and be denied.
        for (j, group) in r.approvers.iter().enumerate() {
            let reviewers = c.roles.iter().any(|role| {
                role.principals.contains(group)
                    && role.allow.contains(&crate::types::Capability::Review)
            });
            if !group.is_empty() && !reviewers {
                bad(
                    format!("approval.rules[{i}].approvers[{j}]"),
                    format!("no role with the review capability has the principal {group:?}, so nobody could approve"),
                );
            }
        }
    }
    for (i, name) in c.server.env_allow.iter().enumerate() {
        if name.is_empty() || name[..name.len() - usize::from(name.ends_with('*'))].contains('*') {
            bad(
                format!("server.env_allow[{i}]"),
                format!("{name:?}: a variable name, optionally ending in '*'"),
            );
        }
    }
    out
}

/// A list of algorithm names: known ones, at least one, none twice.
fn check_names(
    key: &str,
    what: &str,
    list: Option<&[String]>,
    known: &[&str],
    bad: &mut impl FnMut(String, String),
) {
    let Some(list) = list else {
        return;
    };
    if list.is_empty() {
        bad(key.into(), format!("name at least one {what}"));
    }
    let mut seen = HashSet::new();
    for (i, name) in list.iter().enumerate() {
        if !known.contains(&name.as_str()) {
            bad(
                format!("{key}[{i}]"),
                format!("unknown {what} {name:?} (known: {})", known.join(", ")),
            );
        } else if !seen.insert(name.as_str()) {
            bad(format!("{key}[{i}]"), format!("{name:?} is named twice"));
        }
    }
}

/// What weakens the bastion but is allowed, as (key path, message): older key exchanges and
/// MACs re-enabled for old clients.
pub(crate) fn warnings(c: &Config) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(kex) = &c.server.kex {
        for (i, name) in kex.iter().enumerate() {
            if let Some(why) = kex_weakness(name) {
                out.push((format!("server.kex[{i}]"), format!("{name} {why}")));
            }
        }
        if !kex
            .iter()
            .any(|k| crate::schema::POST_QUANTUM_KEX.contains(&k.as_str()))
        {
            out.push((
                "server.kex".into(),
                format!(
                    "no post-quantum key exchange ({}) is offered: traffic recorded today could be \
                     decrypted once a large quantum computer exists",
                    crate::schema::POST_QUANTUM_KEX.join(", ")
                ),
            ));
        }
    }
    if let Some(macs) = &c.server.macs {
        for (i, name) in macs.iter().enumerate() {
            if !name.ends_with("-etm@openssh.com") {
                out.push((
                    format!("server.macs[{i}]"),
                    format!(
                        "{name} is encrypt-and-MAC: the MAC covers the plaintext, so the \
                         receiver decrypts before it can tell the packet was tampered with; \
                         offer it only for clients without the -etm@openssh.com MACs"
                    ),
                ));
            }
        }
    }
    out
}

/// Why a key exchange weakens the bastion, if it does.
fn kex_weakness(name: &str) -> Option<String> {
    const FINITE_FIELD: &str = "costs the bastion a large modular exponentiation that any \
        unauthenticated client can ask for at will (DHEat, CVE-2002-20001)";
    const NOT_PQ: &str = "gives no post-quantum protection";
    if name == "diffie-hellman-group-exchange-sha256" {
        return Some(format!(
            "is group exchange: the client picks the group size, and each exchange {FINITE_FIELD}; \
             it {NOT_PQ}; offer it only for clients that have nothing better"
        ));
    }
    if name == "diffie-hellman-group14-sha256" {
        return Some(format!(
            "is a 2048-bit group (112-bit strength, below the 3072 bits asked for today); each \
             exchange {FINITE_FIELD}; it {NOT_PQ}; offer it only for clients that have nothing \
             better"
        ));
    }
    if name.starts_with("diffie-hellman-") {
        return Some(format!(
            "is finite-field Diffie-Hellman: each exchange {FINITE_FIELD}; it {NOT_PQ}; offer it \
             only for clients that have nothing better"
        ));
    }
    if name.starts_with("ecdh-sha2-nistp") {
        return Some(format!(
            "uses a NIST curve and {NOT_PQ}; offer it only for clients that have nothing better"
        ));
    }
    None
}

/// `[server] ciphers`: known names, at least one.
fn check_ciphers(c: &Config, bad: &mut impl FnMut(String, String)) {
    let Some(list) = &c.server.ciphers else {
        return;
    };
    if list.is_empty() {
        bad("server.ciphers".into(), "name at least one cipher".into());
    }
    for name in list {
        if !crate::schema::CIPHER_NAMES.contains(&name.as_str()) {
            bad(
                "server.ciphers".into(),
                format!(
                    "unknown cipher {name:?} (known: {})",
                    crate::schema::CIPHER_NAMES.join(", ")
                ),
            );
        }
    }
}

/// `[server] api_*`: the HTTP API hands out certificates, so bearer tokens must not cross a
/// network in clear: plain HTTP only on loopback.
fn check_api(c: &Config, bad: &mut impl FnMut(String, String)) {
    let s = &c.server;
    if s.api_tls_cert.is_some() != s.api_tls_key.is_some() {
        bad(
            "server.api_tls_cert".into(),
            "give both api_tls_cert and api_tls_key, or neither".into(),
        );
    }
    let Some(listen) = &s.api_listen else {
        if s.api_tls_cert.is_some() {
            bad(
                "server.api_tls_cert".into(),
                "set api_listen too (no API without it)".into(),
            );
        }
        return;
    };
    match listen.parse::<SocketAddr>() {
        Err(_) => bad(
            "server.api_listen".into(),
            format!("expected an address such as \"127.0.0.1:8080\", found {listen:?}"),
        ),
        Ok(addr) if !addr.ip().is_loopback() && s.api_tls_cert.is_none() => bad(
            "server.api_listen".into(),
            format!(
                "{listen} is not a loopback address: set api_tls_cert and api_tls_key (plain HTTP only on loopback)"
            ),
        ),
        Ok(_) => {}
    }
}

/// Issuers must be https, except on loopback (a test or local provider).
fn issuer_problem(issuer: &str) -> Option<String> {
    if issuer.starts_with("https://") && issuer.len() > "https://".len() {
        return None;
    }
    if let Some(rest) = issuer.strip_prefix("http://") {
        let host = rest.split('/').next().unwrap_or("");
        let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
        if ["127.0.0.1", "localhost", "[::1]"].contains(&host) {
            return None;
        }
    }
    Some(format!(
        "{issuer:?}: expected an https:// URL (http:// only on loopback)"
    ))
}

/// `[oidc]`, `[[ci]]`, and the roles' certificate settings.
fn check_identity(c: &Config, bad: &mut impl FnMut(String, String)) {
    if let Some(o) = &c.oidc {
        if let Some(p) = issuer_problem(&o.issuer) {
            bad("oidc.issuer".into(), p);
        }
        if o.client_id.trim().is_empty() {
            bad("oidc.client_id".into(), "must not be empty".into());
        }
        if !o.scopes.iter().any(|s| s == "openid") {
            bad("oidc.scopes".into(), "must include \"openid\"".into());
        }
        for (key, value) in [
            ("identity_claim", &o.identity_claim),
            ("principals_claim", &o.principals_claim),
        ] {
            if value.trim().is_empty() {
                bad(format!("oidc.{key}"), "must name a claim".into());
            }
        }
        if o.clock_skew.0 > 300 {
            bad(
                "oidc.clock_skew".into(),
                "at most 5m: a larger skew extends every token's life".into(),
            );
        }
        if o.device_login && o.device_login_max_per_source == 0 {
            bad(
                "oidc.device_login_max_per_source".into(),
                "must be at least 1 (or set device_login = false)".into(),
            );
        }
    }
    for (i, r) in c.ci.iter().enumerate() {
        let at = |key: &str| format!("ci[{i}].{key}");
        if let Some(p) = issuer_problem(&r.issuer) {
            bad(at("issuer"), p);
        }
        if r.audience.trim().is_empty() {
            bad(at("audience"), "must not be empty".into());
        }
        if r.subject.trim().is_empty() {
            bad(
                at("subject"),
                "must not be empty (use a glob such as \"repo:org/app:*\")".into(),
            );
        } else if let Err(e) = globset::Glob::new(&r.subject) {
            bad(
                at("subject"),
                format!("{:?} is not a valid glob: {e}", r.subject),
            );
        }
        if !c.roles.iter().any(|role| role.name == r.role) {
            bad(at("role"), format!("no role named {:?}", r.role));
        }
        if r.ttl.0 < 60 || r.ttl > c.ca.max_ttl {
            bad(
                at("ttl"),
                format!("must be between 1m and ca.max_ttl ({})", c.ca.max_ttl),
            );
        }
    }
    for (i, r) in c.roles.iter().enumerate() {
        if let Some(ttl) = r.certificate_ttl {
            if ttl.0 < 60 || ttl > c.ca.max_ttl {
                bad(
                    format!("roles[{i}].certificate_ttl"),
                    format!("must be between 1m and ca.max_ttl ({})", c.ca.max_ttl),
                );
            }
        }
    }
}

/// Compiles an approval rule's command expression. Command lines are matched as bytes with
/// ASCII classes (`\b`, `\w`, `(?i)`), which is what shell commands are made of.
///
/// # Errors
/// The parser's own message, naming the position of the problem.
pub fn command_regex(pattern: &str) -> Result<regex_automata::meta::Regex, String> {
    use regex_automata::util::syntax;
    regex_automata::meta::Regex::builder()
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .build(pattern)
        .map_err(|e| match e.syntax_error() {
            Some(s) => s
                .to_string()
                .lines()
                .last()
                .unwrap_or("syntax error")
                .trim()
                .to_string(),
            None => e.to_string(),
        })
}

/// `targets` selectors (name globs, `KEY=VALUE` label selectors) under `key`. With
/// `must_match` (rules), a selector that matches no configured target is an error: a rule
/// that applies nowhere protects nothing, so a typo there would fail open.
/// The built-in masking packs.
const PACKS: [&str; 2] = ["hipaa", "gdpr"];

/// The masking validators (as `mask::Validator` names them; the masker checks
/// again when it compiles).
const VALIDATORS: [&str; 10] = [
    "luhn",
    "npi",
    "ssn",
    "iban",
    "nhs-number",
    "es-dni",
    "codice-fiscale",
    "personnummer",
    "nir",
    "e164",
];

fn check_selectors(
    c: &Config,
    selectors: &[String],
    key: &str,
    must_match: bool,
    bad: &mut impl FnMut(String, String),
) {
    for (j, sel) in selectors.iter().enumerate() {
        let at = format!("{key}[{j}]");
        match sel.split_once('=') {
            Some((k, _)) if k.trim().is_empty() => {
                bad(at, format!("{sel:?}: a label selector is KEY=VALUE"));
                continue;
            }
            Some(_) => {}
            None => {
                if let Err(e) = globset::Glob::new(sel) {
                    bad(at, format!("{sel:?} is not a valid glob: {e}"));
                    continue;
                }
            }
        }
        if must_match && !c.targets.iter().any(|t| t.selected_by(sel)) {
            bad(
                at,
                format!("{sel:?} matches no configured target, so the rule would apply nowhere"),
            );
        }
    }
}
