//! A real OpenID provider (`oidc-provider` on Node, `tests/oidc/op.mjs`) on a loopback port,
//! real device-code and auth-code flows against it, and a JOSE signer (`mint.mjs`, the `jose`
//! package) for the tokens a provider never issues. Killed on drop.
//!
//! `npm install` runs once per checkout into `tests/oidc/node_modules` (gitignored); `node` and
//! `npm` come from Debian (`scripts/test` installs them).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use tempfile::TempDir;

use crate::util::{free_port, run, stderr, stdout};

/// The client `bastion login` uses: public, PKCE, device grant and auth code.
pub const PUBLIC_CLIENT: &str = "bastion-public";

/// `tests/oidc/` in this checkout.
pub fn oidc_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("oidc")
}

static INSTALL: Mutex<bool> = Mutex::new(false);

/// Runs `npm install` in `tests/oidc/` unless its modules are there.
pub fn npm_install() {
    let mut done = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if *done {
        return;
    }
    let dir = oidc_dir();
    if !dir.join("node_modules/oidc-provider").is_dir() || !dir.join("node_modules/jose").is_dir() {
        let o = run(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent"])
            .current_dir(&dir));
        assert!(
            o.status.success(),
            "npm install in {}: {}{}",
            dir.display(),
            stdout(&o),
            stderr(&o)
        );
    }
    *done = true;
}

/// A running provider at `http://127.0.0.1:PORT`.
pub struct OpenIdProvider {
    /// The issuer URL.
    pub issuer: String,
    /// Its port.
    pub port: u16,
    /// The private JWKS it signs with (so that `mint` can sign as the provider).
    pub jwks_file: PathBuf,
    child: Child,
    dir: TempDir,
}

impl OpenIdProvider {
    /// Starts a provider with a fresh RS256 key; alice (groups ops, admins) and bob (dev) exist,
    /// any other subject can sign in too.
    pub fn start() -> OpenIdProvider {
        npm_install();
        let dir = tempfile::Builder::new()
            .prefix("bastion-op-")
            .tempdir()
            .unwrap();
        let jwks_file = dir.path().join("jwks.json");
        let port = free_port();
        let child = spawn(port, &jwks_file);
        OpenIdProvider {
            issuer: format!("http://127.0.0.1:{port}"),
            port,
            jwks_file,
            child,
            dir,
        }
    }

    /// Restarts on the same port with a new signing key (a key rotation).
    pub fn rotate_key(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.jwks_file);
        self.child = spawn(self.port, &self.jwks_file);
    }

    /// Completes a device authorization grant as `sub` would (confirm the code, sign in) and
    /// returns the token response.
    pub fn device_flow(&self, sub: &str) -> serde_json::Value {
        self.script("device-flow.sh", &[sub, PUBLIC_CLIENT])
    }

    /// Confirms a device-flow `user_code` (shown by a client) as `sub` would in a browser.
    pub fn confirm_device(&self, user_code: &str, sub: &str) {
        self.script("confirm-device.sh", &[user_code, sub]);
    }

    /// The same, with `claims` (groups, email…) set for `sub` at the provider first.
    pub fn confirm_device_as(&self, user_code: &str, sub: &str, claims: &serde_json::Value) {
        self.script_env(
            "confirm-device.sh",
            &[user_code, sub],
            &[("OIDC_CLAIMS", &claims.to_string())],
        );
    }

    /// Declines a device-flow `user_code` as its user would in a browser.
    pub fn deny_device(&self, user_code: &str) {
        self.script("deny-device.sh", &[user_code]);
    }

    /// A `$BROWSER` for `bastion login --browser`: signs in as `$OIDC_SUB` (declines with
    /// `OIDC_DENY=1`) and loads the loopback redirect.
    pub fn browser() -> PathBuf {
        oidc_dir().join("browser.sh")
    }

    /// Authorization code + PKCE as `sub`; the response's ID token carries a nonce.
    pub fn auth_code_flow(&self, sub: &str) -> serde_json::Value {
        self.script("authcode-flow.sh", &[sub, PUBLIC_CLIENT])
    }

    /// A fresh ID token for `sub` from a real device flow.
    pub fn id_token(&self, sub: &str) -> String {
        let r = self.device_flow(sub);
        r["id_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no id_token in {r}"))
            .to_string()
    }

    /// A token built with `jose` (see `tests/oidc/mint.mjs` for the kinds).
    pub fn mint(&self, kind: &str, claims: &serde_json::Value) -> String {
        let o = run(Command::new("node")
            .arg(oidc_dir().join("mint.mjs"))
            .arg(kind)
            .arg(&self.jwks_file)
            .arg(claims.to_string())
            .current_dir(oidc_dir()));
        assert!(o.status.success(), "mint.mjs {kind}: {}", stderr(&o));
        stdout(&o)
    }

    /// Standard claims for `mint`: this issuer, `aud`, alice, valid for five minutes.
    pub fn claims(&self, aud: &str) -> serde_json::Value {
        serde_json::json!({
            "iss": self.issuer, "aud": aud, "sub": "alice",
            "email": "alice@example.test", "groups": ["ops"],
        })
    }

    fn script(&self, name: &str, args: &[&str]) -> serde_json::Value {
        self.script_env(name, args, &[])
    }

    fn script_env(&self, name: &str, args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
        let o = run(Command::new("bash")
            .arg(oidc_dir().join(name))
            .args(args)
            .env("OIDC_ISSUER", &self.issuer)
            .envs(env.iter().copied())
            .current_dir(self.dir.path()));
        assert!(o.status.success(), "{name}: {}{}", stdout(&o), stderr(&o));
        serde_json::from_str(&stdout(&o))
            .unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {}", stdout(&o)))
    }
}

fn spawn(port: u16, jwks_file: &Path) -> Child {
    let mut child = Command::new("node")
        .arg("op.mjs")
        .current_dir(oidc_dir())
        .env("OIDC_PORT", port.to_string())
        .env("OIDC_JWKS_FILE", jwks_file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node (apt-get install -y nodejs npm)");
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if line.starts_with("OP_READY") {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(Duration::from_secs(30)).is_err() {
        let _ = child.kill();
        panic!("the OpenID provider did not print OP_READY");
    }
    child
}

impl Drop for OpenIdProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The device-flow user code a client printed into `file` ("… enter the code XXXX-XXXX"), as
/// the user would read it off the terminal; waits up to 20 s for it.
pub fn shown_user_code(file: &Path) -> String {
    crate::util::wait_for(Duration::from_secs(20), || {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        text.split("enter the code ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .map(String::from)
    })
    .unwrap_or_else(|| {
        panic!(
            "no code shown: {}",
            std::fs::read_to_string(file).unwrap_or_default()
        )
    })
}
