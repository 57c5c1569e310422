//! From a verified token to what its certificate says: key id, principals, lifetime,
//! extensions, default login. Driven by `[oidc]`, `[[ci]]` and `[[roles]]`.

use std::time::Duration;

use config::{Capability, CiRule, Config, Role};
use serde_json::Value;
use ssh_key::PublicKey;

use super::{Refusal, VerifiedToken};
use crate::issue::UserCertificateRequest;

/// Certificate extension carrying the holder's default login (from the username claim).
/// OpenSSH ignores extensions it does not know; the bastion reads this one.
pub const DEFAULT_LOGIN_EXTENSION: &str = "default-login@bastion";

/// Where an identity came from (the audit row's `source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A person's ID token from `[oidc]`.
    Oidc,
    /// A workload token matched by a `[[ci]]` rule.
    Ci,
}

impl Source {
    /// `oidc` or `ci`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Oidc => "oidc",
            Source::Ci => "ci",
        }
    }
}

/// What a verified identity is granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Certificate key id: who the holder is.
    pub key_id: String,
    /// Certificate principals (never empty).
    pub principals: Vec<String>,
    /// Certificate lifetime.
    pub ttl: Duration,
    /// Certificate extensions.
    pub extensions: Vec<String>,
    /// Login used on targets when the user names none.
    pub default_login: Option<String>,
    /// Person or workload.
    pub source: Source,
    /// The token's subject (`sub`), for the audit row.
    pub subject: String,
    /// The roles that granted it.
    pub roles: Vec<String>,
}

impl Grant {
    /// The certificate request for `public_key`.
    pub fn request(&self, public_key: PublicKey) -> UserCertificateRequest {
        UserCertificateRequest {
            public_key,
            key_id: self.key_id.clone(),
            principals: self.principals.clone(),
            ttl: self.ttl,
            extensions: self.extensions.clone(),
            source_address: None,
            force_command: None,
        }
    }
}

/// A person: key id from the identity claim, principals from the principals claim (only values
/// some role names), TTL the shortest of those roles' (default `ca.default_ttl`, at most
/// `ca.max_ttl`), extensions from what the roles allow.
///
/// # Errors
/// [`Refusal::MissingClaim`], [`Refusal::NoPrincipals`], or [`Refusal::Malformed`] for an
/// identity with control characters.
pub fn person_grant(config: &Config, token: &VerifiedToken) -> Result<Grant, Refusal> {
    let Some(oidc) = &config.oidc else {
        return Err(Refusal::WrongIssuer(
            "no [oidc] provider is configured".into(),
        ));
    };
    let key_id = identity(token, &oidc.identity_claim)?;
    let offered = claim_values(token.claims.get(&oidc.principals_claim));
    let roles: Vec<&Role> = config
        .roles
        .iter()
        .filter(|r| r.principals.iter().any(|p| offered.contains(p)))
        .collect();
    let principals: Vec<String> = offered
        .iter()
        .filter(|p| roles.iter().any(|r| r.principals.contains(p)))
        .cloned()
        .collect();
    if principals.is_empty() {
        return Err(Refusal::NoPrincipals(offered));
    }
    let ttl = roles
        .iter()
        .map(|r| r.certificate_ttl.unwrap_or(config.ca.default_ttl))
        .min()
        .unwrap_or(config.ca.default_ttl)
        .min(config.ca.max_ttl)
        .duration();
    let default_login = oidc
        .username_claim
        .as_deref()
        .and_then(|c| token.string_claim(c))
        .filter(|l| is_login(l))
        .map(str::to_string);
    let mut extensions = role_extensions(&roles);
    if let Some(login) = &default_login {
        extensions.push(format!("{DEFAULT_LOGIN_EXTENSION}={login}"));
    }
    Ok(Grant {
        key_id,
        principals,
        ttl,
        extensions,
        default_login,
        source: Source::Oidc,
        subject: token.subject.clone(),
        roles: roles.iter().map(|r| r.name.clone()).collect(),
    })
}

/// A workload: the first `[[ci]]` rule for the token's issuer and audience whose subject glob
/// matches `sub` gives the role; key id is `sub`; no pty and no forwarding unless the role has
/// `ci_shell = true`.
///
/// # Errors
/// [`Refusal::UntrustedSubject`] when no rule matches.
pub fn workload_grant(
    config: &Config,
    token: &VerifiedToken,
    audience: &str,
) -> Result<Grant, Refusal> {
    let rule = config
        .ci
        .iter()
        .find(|r| {
            r.issuer == token.issuer && r.audience == audience && subject_matches(r, &token.subject)
        })
        .ok_or_else(|| Refusal::UntrustedSubject(token.subject.clone()))?;
    let role = config
        .roles
        .iter()
        .find(|r| r.name == rule.role)
        .ok_or_else(|| Refusal::UntrustedSubject(token.subject.clone()))?;
    if token.subject.chars().any(char::is_control) || token.subject.is_empty() {
        return Err(Refusal::Malformed(
            "sub is empty or has control characters".into(),
        ));
    }
    let extensions = if role.ci_shell {
        role_extensions(&[role])
    } else {
        Vec::new()
    };
    Ok(Grant {
        key_id: token.subject.clone(),
        principals: role.principals.clone(),
        ttl: rule.ttl.min(config.ca.max_ttl).duration(),
        extensions,
        default_login: None,
        source: Source::Ci,
        subject: token.subject.clone(),
        roles: vec![role.name.clone()],
    })
}

fn subject_matches(rule: &CiRule, subject: &str) -> bool {
    // `*` crosses `/` and `:` (subjects are not paths); validation made sure the glob compiles.
    globset::GlobBuilder::new(&rule.subject)
        .literal_separator(false)
        .build()
        .map(|g| g.compile_matcher().is_match(subject))
        .unwrap_or(false)
}

fn identity(token: &VerifiedToken, claim: &str) -> Result<String, Refusal> {
    let id = token
        .string_claim(claim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Refusal::MissingClaim(claim.to_string()))?;
    if id.chars().any(char::is_control) || id.len() > 256 {
        return Err(Refusal::Malformed(format!(
            "claim {claim:?} has control characters or is too long"
        )));
    }
    Ok(id.to_string())
}

/// A list claim's string values (a single string counts as one), keeping only values usable as
/// principals: OpenSSH separates principals with commas, so a comma or space could smuggle one.
fn claim_values(v: Option<&Value>) -> Vec<String> {
    let usable = |s: &str| {
        !s.is_empty()
            && s.len() <= 256
            && !s
                .chars()
                .any(|c| c == ',' || c.is_whitespace() || c.is_control())
    };
    let mut out: Vec<String> = match v {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .filter(|s| usable(s))
            .map(str::to_string)
            .collect(),
        Some(Value::String(s)) if usable(s) => vec![s.clone()],
        _ => Vec::new(),
    };
    out.dedup();
    out
}

fn is_login(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= 32
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c))
}

fn role_extensions(roles: &[&Role]) -> Vec<String> {
    let mut out = Vec::new();
    if roles.iter().any(|r| r.allow.contains(&Capability::Shell)) {
        out.push("permit-pty".to_string());
    }
    if roles
        .iter()
        .any(|r| r.allow.contains(&Capability::PortForward))
    {
        out.push("permit-port-forwarding".to_string());
    }
    out
}
