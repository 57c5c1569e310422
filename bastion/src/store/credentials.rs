//! The store's credentials: from `recording.store_credentials` (a file of `KEY=value` lines)
//! or the standard AWS environment variables. They go to the client and nowhere else: not in
//! logs, errors or the API.

use std::path::Path;

use super::StoreError;

/// An access key, its secret and an optional session token.
#[derive(Clone)]
pub struct Credentials {
    pub key_id: String,
    pub secret: String,
    pub token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

const KEY_ID: &str = "AWS_ACCESS_KEY_ID";
const SECRET: &str = "AWS_SECRET_ACCESS_KEY";
const TOKEN: &str = "AWS_SESSION_TOKEN";

impl Credentials {
    /// From `file` when given, else from the environment.
    pub fn load(file: Option<&Path>) -> Result<Credentials, StoreError> {
        match file {
            Some(path) => from_file(path),
            None => {
                let var = |k| std::env::var(k).ok().filter(|v: &String| !v.is_empty());
                match (var(KEY_ID), var(SECRET)) {
                    (Some(key_id), Some(secret)) => Ok(Credentials {
                        key_id,
                        secret,
                        token: var(TOKEN),
                    }),
                    _ => Err(StoreError::NoCredentials),
                }
            }
        }
    }
}

fn from_file(path: &Path) -> Result<Credentials, StoreError> {
    let bad = |reason: String| StoreError::Credentials {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let (mut key_id, mut secret, mut token) = (None, None, None);
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            return Err(bad(format!("line {}: expected KEY=value", i + 1)));
        };
        let v = v.trim().trim_matches(['"', '\'']).to_string();
        match k.trim() {
            KEY_ID => key_id = Some(v),
            SECRET => secret = Some(v),
            TOKEN => token = Some(v),
            other => {
                // A name is shown only when it looks like one: a malformed line may hold a
                // secret.
                let named = other.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
                let shown = if named {
                    format!(" {other:?}")
                } else {
                    String::new()
                };
                return Err(bad(format!(
                    "line {}: unknown key{shown} (expected {KEY_ID}, {SECRET} or {TOKEN})",
                    i + 1
                )));
            }
        }
    }
    match (key_id, secret) {
        (Some(key_id), Some(secret)) if !key_id.is_empty() && !secret.is_empty() => {
            Ok(Credentials {
                key_id,
                secret,
                token,
            })
        }
        _ => Err(bad(format!("needs both {KEY_ID} and {SECRET}"))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_file_gives_key_secret_and_token_and_errors_never_show_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s3.env");
        std::fs::write(
            &p,
            "# auditor\nexport AWS_ACCESS_KEY_ID=GK1\nAWS_SECRET_ACCESS_KEY=\"s3cr3t\"\n",
        )
        .unwrap();
        let c = Credentials::load(Some(&p)).unwrap();
        assert_eq!(
            (c.key_id.as_str(), c.secret.as_str(), c.token.as_deref()),
            ("GK1", "s3cr3t", None)
        );
        assert!(!format!("{c:?}").contains("s3cr3t"));
        std::fs::write(&p, "AWS_SECRET_ACCESS_KEY=s3cr3t\nAWS_REGION=x\n").unwrap();
        let e = Credentials::load(Some(&p)).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("AWS_REGION"), "{e}");
        assert!(!e.contains("s3cr3t"), "{e}");
        std::fs::write(&p, "AWS_SECRET_ACCESS_KEY: s3cr3t=x\n").unwrap();
        let e = Credentials::load(Some(&p)).unwrap_err().to_string();
        assert!(e.contains("line 1") && !e.contains("s3cr3t"), "{e}");
        std::fs::write(&p, "AWS_SECRET_ACCESS_KEY=s3cr3t\n").unwrap();
        let e = Credentials::load(Some(&p)).unwrap_err().to_string();
        assert!(e.contains("needs both") && !e.contains("s3cr3t"), "{e}");
    }
}
