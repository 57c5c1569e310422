//! Where a connection goes: the target named in the SSH user name, and whether the user's roles
//! let them go there, as which login, with which capabilities.
//!
//! `ssh LOGIN@TARGET@bastion` arrives as user `LOGIN@TARGET`; `ssh TARGET@bastion` as `TARGET`
//! (the role's or target's default login); an empty name, or the name of no target when it has
//! no `@`, means "show me a menu" for interactive sessions.
//!
//! Pure functions of the configuration, in a crate of their own so that they can be tested and
//! fuzzed without the gateway around them; the bastion knows it as `policy`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use config::{Capability, Config, Role, Target};

/// What the user name asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// Explicit login (`LOGIN@TARGET`), if any.
    pub login: Option<String>,
    /// Target name; `None` asks for the menu.
    pub target: Option<String>,
}

impl Destination {
    /// Splits the SSH user name at its last `@`.
    pub fn parse(user: &str) -> Destination {
        match user.rsplit_once('@') {
            Some((login, target)) => Destination {
                login: (!login.is_empty()).then(|| login.to_string()),
                target: (!target.is_empty()).then(|| target.to_string()),
            },
            None => Destination {
                login: None,
                target: (!user.is_empty()).then(|| user.to_string()),
            },
        }
    }
}

/// The user may reach `target` as `login` with these capabilities.
#[derive(Debug, Clone)]
pub struct Access {
    /// The target.
    pub target: Arc<Target>,
    /// The login on the target.
    pub login: String,
    /// Union of the capabilities of the roles that grant this target and login.
    pub capabilities: BTreeSet<CapabilityKey>,
    /// Names of those roles, for logs and audit rows.
    pub roles: Vec<String>,
    /// Shortest idle timeout among those roles.
    pub idle_timeout: Duration,
    /// Whether live output is masked (false only when every granting role turns it off).
    pub live_masking: bool,
}

/// Capability as an ordered key (for sets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CapabilityKey(u8);

impl From<Capability> for CapabilityKey {
    fn from(c: Capability) -> Self {
        CapabilityKey(match c {
            Capability::Shell => 0,
            Capability::Exec => 1,
            Capability::Sftp => 2,
            Capability::PortForward => 3,
            Capability::Review => 4,
        })
    }
}

impl Access {
    /// Whether the access includes `c`.
    pub fn allows(&self, c: Capability) -> bool {
        self.capabilities.contains(&c.into())
    }

    /// The capabilities, as their config names.
    pub fn capability_names(&self) -> String {
        let all = [
            Capability::Shell,
            Capability::Exec,
            Capability::Sftp,
            Capability::PortForward,
            Capability::Review,
        ];
        let names: Vec<String> = all
            .iter()
            .filter(|c| self.allows(**c))
            .map(ToString::to_string)
            .collect();
        if names.is_empty() {
            "nothing".into()
        } else {
            names.join(", ")
        }
    }
}

/// Why a destination was refused; the text is shown to the user as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// No target of that name.
    UnknownTarget(String),
    /// The target exists but no role grants it.
    TargetNotAllowed(String),
    /// The login is not among those the roles allow.
    LoginNotAllowed {
        /// Target.
        target: String,
        /// The login asked for.
        login: String,
    },
    /// No login given and none configured.
    NoLogin(String),
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Same words for "unknown" and "not yours": the user learns nothing about targets
            // they may not reach.
            Denied::UnknownTarget(t) | Denied::TargetNotAllowed(t) => {
                write!(f, "target \"{t}\" is unknown or not permitted for you")
            }
            Denied::LoginNotAllowed { target, login } => {
                write!(
                    f,
                    "login \"{login}\" on \"{target}\" is not permitted for you"
                )
            }
            Denied::NoLogin(t) => write!(
                f,
                "no login given for \"{t}\" and none is configured; use ssh LOGIN@{t}@bastion"
            ),
        }
    }
}

impl Denied {
    /// Short machine-friendly reason for logs.
    pub fn code(&self) -> &'static str {
        match self {
            Denied::UnknownTarget(_) => "unknown-target",
            Denied::TargetNotAllowed(_) => "target-not-allowed",
            Denied::LoginNotAllowed { .. } => "login-not-allowed",
            Denied::NoLogin(_) => "no-login",
        }
    }
}

/// The roles whose principals intersect the certificate's.
pub fn roles_for<'c>(config: &'c Config, principals: &[String]) -> Vec<&'c Role> {
    config
        .roles
        .iter()
        .filter(|r| r.principals.iter().any(|p| principals.contains(p)))
        .collect()
}

/// Whether `role` grants `target` (a name glob or a `KEY=VALUE` label selector matches).
pub fn role_covers(role: &Role, target: &Target) -> bool {
    selects(&role.targets, target)
}

/// Whether a role of the holder of `principals` covers the target named `target_name`: what
/// a reviewer must have to watch a session there (minimum necessary: no watching sessions on
/// targets one's own roles do not reach).
pub fn covers_named(config: &Config, principals: &[String], target_name: &str) -> bool {
    config
        .targets
        .iter()
        .find(|t| t.name == target_name)
        .is_some_and(|t| {
            roles_for(config, principals)
                .iter()
                .any(|r| role_covers(r, t))
        })
}

/// Whether any selector (name glob or `KEY=VALUE` label selector) matches `target`.
pub fn selects(selectors: &[String], target: &Target) -> bool {
    selectors.iter().any(|sel| target.selected_by(sel))
}

/// Targets any of `roles` grants, in configuration order.
pub fn reachable<'c>(config: &'c Config, roles: &[&Role]) -> Vec<&'c Target> {
    config
        .targets
        .iter()
        .filter(|t| roles.iter().any(|r| role_covers(r, t)))
        .collect()
}

/// Decides whether the holder of `principals` may go where `dest` says. `dest.target` must be set.
pub fn resolve(
    config: &Config,
    principals: &[String],
    target_name: &str,
    login: Option<&str>,
) -> Result<Access, Denied> {
    let Some(target) = config.targets.iter().find(|t| t.name == target_name) else {
        return Err(Denied::UnknownTarget(target_name.to_string()));
    };
    let roles: Vec<&Role> = roles_for(config, principals)
        .into_iter()
        .filter(|r| role_covers(r, target))
        .collect();
    if roles.is_empty() {
        return Err(Denied::TargetNotAllowed(target.name.clone()));
    }
    let default_login = roles
        .iter()
        .find_map(|r| r.default_login.clone())
        .or_else(|| target.default_login.clone());
    let login = match login.map(str::to_string).or(default_login.clone()) {
        Some(l) => l,
        None => return Err(Denied::NoLogin(target.name.clone())),
    };
    // A role with an empty `logins` list grants only its own default login (the role's, else
    // the target's), never another role's: capabilities must not leak between roles.
    let granting: Vec<&Role> = roles
        .into_iter()
        .filter(|r| {
            let own_default = r.default_login.as_ref().or(target.default_login.as_ref());
            r.logins.iter().any(|l| l == &login || l == "*")
                || (r.logins.is_empty() && own_default == Some(&login))
        })
        .collect();
    if granting.is_empty() {
        return Err(Denied::LoginNotAllowed {
            target: target.name.clone(),
            login,
        });
    }
    let capabilities = granting
        .iter()
        .flat_map(|r| r.allow.iter().copied().map(CapabilityKey::from))
        .collect();
    let idle_timeout = granting
        .iter()
        .map(|r| r.idle_timeout.duration())
        .min()
        .unwrap_or(Duration::from_secs(900));
    Ok(Access {
        target: Arc::new(target.clone()),
        login,
        capabilities,
        roles: granting.iter().map(|r| r.name.clone()).collect(),
        idle_timeout,
        live_masking: granting.iter().any(|r| r.live_masking),
    })
}
/// A target the user may reach, with the logins they may use there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permitted {
    /// The target's name (what goes in the SSH user name).
    pub target: String,
    /// The login used when none is named, if any.
    pub default_login: Option<String>,
    /// The logins the roles grant there, in role order (`*`: any login).
    pub logins: Vec<String>,
    /// What those logins may do there, together (capability names).
    pub allow: Vec<String>,
}

/// The targets the holder of `principals` may reach and, for each, the logins and
/// capabilities the roles grant there: what `ssh bastion list` shows. Targets in
/// configuration order; a target no login of which can be used is left out.
pub fn permitted(config: &Config, principals: &[String]) -> Vec<Permitted> {
    let roles = roles_for(config, principals);
    reachable(config, &roles)
        .into_iter()
        .filter_map(|target| {
            let default_login = resolve(config, principals, &target.name, None)
                .ok()
                .map(|a| a.login);
            let mut candidates: Vec<String> = Vec::new();
            for r in roles.iter().filter(|r| role_covers(r, target)) {
                let own_default = r.default_login.as_ref().or(target.default_login.as_ref());
                for l in r.logins.iter().chain(own_default) {
                    if !candidates.contains(l) {
                        candidates.push(l.clone());
                    }
                }
            }
            let mut logins = Vec::new();
            let mut capabilities = BTreeSet::new();
            for login in candidates {
                if let Ok(a) = resolve(config, principals, &target.name, Some(&login)) {
                    capabilities.extend(a.capabilities);
                    logins.push(login);
                }
            }
            if logins.is_empty() {
                return None;
            }
            let access = Access {
                target: Arc::new(target.clone()),
                login: String::new(),
                capabilities,
                roles: Vec::new(),
                idle_timeout: Duration::ZERO,
                live_masking: true,
            };
            let allow = [
                Capability::Shell,
                Capability::Exec,
                Capability::Sftp,
                Capability::PortForward,
                Capability::Review,
            ]
            .into_iter()
            .filter(|c| access.allows(*c))
            .map(|c| c.to_string())
            .collect();
            Some(Permitted {
                target: target.name.clone(),
                default_login,
                logins,
                allow,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sections every test configuration needs, then `rest`.
    fn parse(rest: &str) -> Config {
        let text = format!(
            r#"
[server]
listen = "127.0.0.1:0"
host_key = "k"
[ca]
user_ca = "u"
target_ca = "t"
{rest}"#
        );
        Config::parse(&text, "t").unwrap()
    }

    fn config() -> Config {
        parse(
            r#"
[[targets]]
name = "db1"
host = "h"
host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx6hW1Cl0WZaLnCBhyX9NqoW0c6pBJ8Tj4cIqQUKpli"
default_login = "postgres"
labels = { env = "prod" }
[[targets]]
name = "web1"
host = "h"
host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx6hW1Cl0WZaLnCBhyX9NqoW0c6pBJ8Tj4cIqQUKpli"
[[roles]]
name = "dba"
principals = ["dba"]
targets = ["env=prod"]
logins = ["postgres", "app"]
allow = ["shell"]
[[roles]]
name = "web"
principals = ["web"]
targets = ["web*"]
default_login = "www"
allow = ["exec", "sftp"]
idle_timeout = "5m"
"#,
        )
    }

    #[test]
    fn parses_user_names() {
        let d = |login: Option<&str>, target: Option<&str>| Destination {
            login: login.map(String::from),
            target: target.map(String::from),
        };
        assert_eq!(
            Destination::parse("postgres@db1"),
            d(Some("postgres"), Some("db1"))
        );
        assert_eq!(Destination::parse("db1"), d(None, Some("db1")));
        assert_eq!(Destination::parse("a@b@db1"), d(Some("a@b"), Some("db1")));
        assert_eq!(Destination::parse(""), d(None, None));
    }

    #[test]
    fn resolves_by_label_glob_and_default_login() {
        let c = config();
        let p = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let a = resolve(&c, &p(&["dba"]), "db1", None).unwrap();
        assert_eq!(a.login, "postgres");
        assert!(a.allows(Capability::Shell) && !a.allows(Capability::Exec));
        assert_eq!(
            resolve(&c, &p(&["dba"]), "db1", Some("app")).unwrap().login,
            "app"
        );
        assert_eq!(
            resolve(&c, &p(&["dba"]), "db1", Some("root")).unwrap_err(),
            Denied::LoginNotAllowed {
                target: "db1".into(),
                login: "root".into()
            }
        );
        assert_eq!(
            resolve(&c, &p(&["dba"]), "web1", None).unwrap_err(),
            Denied::TargetNotAllowed("web1".into())
        );
        assert_eq!(
            resolve(&c, &p(&["dba"]), "nope", None).unwrap_err(),
            Denied::UnknownTarget("nope".into())
        );
        let w = resolve(&c, &p(&["web", "dba"]), "web1", None).unwrap();
        assert_eq!(
            (w.login.as_str(), w.idle_timeout),
            ("www", Duration::from_secs(300))
        );
        assert!(resolve(&c, &p(&["web"]), "web1", Some("root")).is_err());
        assert_eq!(reachable(&c, &roles_for(&c, &p(&["web"]))).len(), 1);
        assert!(covers_named(&c, &p(&["web"]), "web1"));
        assert!(!covers_named(&c, &p(&["web"]), "db1"));
        assert!(!covers_named(&c, &p(&["web"]), "nope"));
    }

    #[test]
    fn permitted_lists_each_reachable_target_with_its_logins() {
        let c = config();
        let p = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let all = permitted(&c, &p(&["dba", "web"]));
        assert_eq!(
            all,
            vec![
                Permitted {
                    target: "db1".into(),
                    default_login: Some("postgres".into()),
                    logins: vec!["postgres".into(), "app".into()],
                    allow: vec!["shell".into()],
                },
                Permitted {
                    target: "web1".into(),
                    default_login: Some("www".into()),
                    logins: vec!["www".into()],
                    allow: vec!["exec".into(), "sftp".into()],
                },
            ]
        );
        let web = permitted(&c, &p(&["web"]));
        assert_eq!(web.len(), 1);
        assert_eq!(web[0].target, "web1");
        assert!(permitted(&c, &p(&["nobody"])).is_empty());
    }

    #[test]
    fn capabilities_do_not_leak_between_roles_through_a_default_login() {
        // "root-shell" grants root a shell; "app-tools" grants more but only its default
        // login (the target's, "app"). Together they must not give root app-tools' rights.
        let c = parse(
            r#"
[[targets]]
name = "app1"
host = "h"
host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx6hW1Cl0WZaLnCBhyX9NqoW0c6pBJ8Tj4cIqQUKpli"
default_login = "app"
[[roles]]
name = "root-shell"
principals = ["ops"]
targets = ["app1"]
default_login = "root"
logins = ["root"]
allow = ["shell"]
[[roles]]
name = "app-tools"
principals = ["ops"]
targets = ["app1"]
allow = ["exec", "sftp", "port-forward"]
"#,
        );
        let p = vec!["ops".to_string()];
        let root = resolve(&c, &p, "app1", None).unwrap();
        assert_eq!(root.login, "root");
        assert_eq!(root.roles, vec!["root-shell".to_string()]);
        assert!(root.allows(Capability::Shell));
        assert!(!root.allows(Capability::Exec) && !root.allows(Capability::PortForward));
        // The target's default login is still granted by the role that relies on it.
        let app = resolve(&c, &p, "app1", Some("app")).unwrap();
        assert_eq!(app.roles, vec!["app-tools".to_string()]);
        assert!(app.allows(Capability::Exec) && !app.allows(Capability::Shell));
    }
}
