//! Checks that span several keys or need more than a type: run after deserialization.

use std::collections::HashSet;
use std::net::SocketAddr;

use crate::schema::{Config, TargetKind};

/// User names with a meaning of their own; no target may take them.
pub const RESERVED_NAMES: &[&str] = &["review"];

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
    if c.server.max_unauthenticated == 0 {
        bad(
            "server.max_unauthenticated".into(),
            "must be at least 1".into(),
        );
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
        for (j, sel) in r.targets.iter().enumerate() {
            if let Some((k, _)) = sel.split_once('=') {
                if k.trim().is_empty() {
                    bad(
                        format!("roles[{i}].targets[{j}]"),
                        format!("{sel:?}: a label selector is KEY=VALUE"),
                    );
                }
            } else if let Err(e) = globset::Glob::new(sel) {
                bad(
                    format!("roles[{i}].targets[{j}]"),
                    format!("{sel:?} is not a valid glob: {e}"),
                );
            }
        }
        if r.idle_timeout.0 == 0 {
            bad(at("idle_timeout"), "must be longer than 0s".into());
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
