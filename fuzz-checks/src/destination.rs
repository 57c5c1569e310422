//! The SSH user name (`LOGIN@TARGET`, `TARGET`, empty for the menu) and what the roles of a
//! certificate's principals grant there.

use std::sync::OnceLock;

use access::{covers_named, reachable, resolve, role_covers, roles_for, Denied, Destination};
use config::{Capability, Config, Role};

/// Targets with and without default logins, label and glob selectors, a wildcard login, a
/// role with no logins (only its own default), two roles on one target.
const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
host_key = "k"
[ca]
user_ca = "u"
target_ca = "t"

[[targets]]
name = "db1"
host = "h"
host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx6hW1Cl0WZaLnCBhyX9NqoW0c6pBJ8Tj4cIqQUKpli"
default_login = "postgres"
labels = { env = "prod" }
[[targets]]
name = "db2"
host = "h"
host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx6hW1Cl0WZaLnCBhyX9NqoW0c6pBJ8Tj4cIqQUKpli"
labels = { env = "staging" }
[[targets]]
name = "web1"
host = "h"
host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx6hW1Cl0WZaLnCBhyX9NqoW0c6pBJ8Tj4cIqQUKpli"
default_login = "app"
[[targets]]
name = "web-2.example"
host = "h"
host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx6hW1Cl0WZaLnCBhyX9NqoW0c6pBJ8Tj4cIqQUKpli"

[[roles]]
name = "dba"
principals = ["dba"]
targets = ["env=prod", "env = staging"]
logins = ["postgres", "app"]
allow = ["shell"]
[[roles]]
name = "web"
principals = ["web", "dev"]
targets = ["web*"]
default_login = "www"
allow = ["exec", "sftp"]
idle_timeout = "5m"
[[roles]]
name = "app-tools"
principals = ["dev"]
targets = ["web1", "db?"]
allow = ["exec", "port-forward"]
[[roles]]
name = "ops"
principals = ["ops"]
targets = ["*"]
logins = ["*"]
allow = ["shell", "exec", "sftp", "port-forward", "review"]
"#;

const CAPABILITIES: [Capability; 5] = [
    Capability::Shell,
    Capability::Exec,
    Capability::Sftp,
    Capability::PortForward,
    Capability::Review,
];

fn config() -> &'static Config {
    static CONFIG_: OnceLock<Config> = OnceLock::new();
    CONFIG_.get_or_init(|| match Config::parse(CONFIG, "destination") {
        Ok(c) => c,
        Err(e) => panic!("the fixed configuration: {e}"),
    })
}

/// The user name, then the certificate's principals, separated by NUL bytes.
pub fn check(data: &[u8]) {
    let mut parts = data.split(|&b| b == 0);
    // SSH user names arrive as UTF-8 strings.
    let Some(Ok(user)) = parts.next().map(std::str::from_utf8) else {
        return;
    };
    let principals: Vec<String> = parts
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();

    let d = Destination::parse(user);
    // Split at the last `@`, losing nothing else; empty parts are absent.
    let (login, target) = match user.rsplit_once('@') {
        Some((l, t)) => (l, t),
        None => ("", user),
    };
    assert_eq!(d.login.as_deref().unwrap_or(""), login, "{user:?}");
    assert_eq!(d.target.as_deref().unwrap_or(""), target, "{user:?}");
    assert!(d.login.as_deref() != Some("") && d.target.as_deref() != Some(""));

    let Some(target) = d.target.as_deref() else {
        return;
    };
    let config = config();
    let covered = covers_named(config, &principals, target);
    match resolve(config, &principals, target, d.login.as_deref()) {
        Ok(access) => {
            assert!(covered, "{user:?} resolved to a target no role covers");
            assert_eq!(access.target.name, target);
            if let Some(login) = &d.login {
                assert_eq!(
                    &access.login, login,
                    "the login asked for is the login given"
                );
            }
            let granting: Vec<&Role> = access.roles.iter().map(|n| role(config, n)).collect();
            assert!(!granting.is_empty());
            for r in &granting {
                // Every granting role is the holder's, covers the target and allows the login.
                assert!(r.principals.iter().any(|p| principals.contains(p)));
                assert!(role_covers(r, &access.target));
                assert!(allows_login(r, &access.target, &access.login), "{}", r.name);
            }
            // Capabilities are exactly those of the granting roles: none leak from a role
            // that covers the target but not this login.
            for c in CAPABILITIES {
                let granted = granting.iter().any(|r| r.allow.contains(&c));
                assert_eq!(access.allows(c), granted, "{c} for {user:?}");
            }
            for r in roles_for(config, &principals) {
                let grants = role_covers(r, &access.target)
                    && allows_login(r, &access.target, &access.login);
                assert_eq!(access.roles.contains(&r.name), grants, "{}", r.name);
            }
            let holder_roles = roles_for(config, &principals);
            assert!(reachable(config, &holder_roles)
                .iter()
                .any(|t| t.name == target));
            let _ = access.capability_names();
        }
        Err(denied) => {
            match &denied {
                Denied::UnknownTarget(_) => {
                    assert!(!config.targets.iter().any(|t| t.name == target));
                }
                Denied::TargetNotAllowed(_) => assert!(!covered),
                Denied::LoginNotAllowed { .. } | Denied::NoLogin(_) => assert!(covered),
            }
            let _ = (denied.to_string(), denied.code());
        }
    }
}

fn role<'c>(config: &'c Config, name: &str) -> &'c Role {
    match config.roles.iter().find(|r| r.name == name) {
        Some(r) => r,
        None => panic!("granted by {name:?}, which is no role"),
    }
}

/// Whether `role` lets its holder log in as `login` on `target` (a role with no `logins` only
/// as its own default login: the role's, else the target's).
fn allows_login(role: &Role, target: &config::Target, login: &str) -> bool {
    let own_default = role
        .default_login
        .as_deref()
        .or(target.default_login.as_deref());
    role.logins.iter().any(|l| l == login || l == "*")
        || (role.logins.is_empty() && own_default == Some(login))
}
