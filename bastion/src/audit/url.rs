//! Database URLs: which backend, and a form safe to print.

use std::path::PathBuf;

/// The backend a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Backend {
    Sqlite,
    Postgres,
}

/// The backend for `url`, or why it is not supported.
pub(super) fn backend(url: &str) -> Result<Backend, &'static str> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Backend::Postgres);
    }
    match sqlite_rest(url) {
        // An in-memory database would lose the audit trail at exit (and differ per connection).
        Some(rest) if rest.starts_with(":memory:") || rest.contains("mode=memory") => {
            Err(" (an in-memory database cannot hold an audit trail)")
        }
        Some("") => Err(" (the SQLite path is empty)"),
        Some(_) => Ok(Backend::Sqlite),
        None => Err(""),
    }
}

fn sqlite_rest(url: &str) -> Option<&str> {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
}

/// The file a `sqlite:` URL names (`None` for other URLs).
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = sqlite_rest(url)?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty()).then(|| PathBuf::from(path))
}

/// `url` with any password replaced by `***`: in the user info (`user:secret@host`) and in a
/// `password=` query parameter. For error messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return redact_query(url);
    };
    // The user info ends at the last '@': a password may hold '@', '/', '?' or '#' unencoded,
    // and cutting it at the first of those would show the rest. An '@' later in the URL only
    // makes more of it hidden.
    match rest.rsplit_once('@') {
        Some((userinfo, after)) => {
            let user = match userinfo.split_once(':') {
                Some((user, _secret)) => format!("{user}:***"),
                None => userinfo.to_string(),
            };
            format!("{scheme}://{user}@{}", redact_query(after))
        }
        None => format!("{scheme}://{}", redact_query(rest)),
    }
}

/// `s` with the value of any `password=` query parameter replaced by `***`.
fn redact_query(s: &str) -> String {
    let Some((head, query)) = s.split_once('?') else {
        return s.to_string();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => p.to_string(),
        })
        .collect();
    format!("{head}?{}", params.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_passwords_only() {
        assert_eq!(
            redact("postgres://bastion:s3cr@t@db.internal:5432/audit"),
            "postgres://bastion:***@db.internal:5432/audit"
        );
        assert_eq!(
            redact("postgres://bastion@db/audit?password=x&sslmode=disable"),
            "postgres://bastion@db/audit?password=***&sslmode=disable"
        );
        assert_eq!(redact("postgresql://db/audit"), "postgresql://db/audit");
        // Unencoded '/', '?' or '#' in a password (base64 passwords have '/').
        for url in [
            "postgres://bastion:Xy9/k+Q2@db.internal:5432/audit",
            "postgres://bastion:a?b#c@db.internal/audit",
        ] {
            let shown = redact(url);
            assert!(
                shown.starts_with("postgres://bastion:***@db.internal"),
                "{shown}"
            );
            assert!(!shown.contains("k+Q2") && !shown.contains("b#c"), "{shown}");
        }
        assert_eq!(redact("sqlite:///var/lib/b.db"), "sqlite:///var/lib/b.db");
    }

    #[test]
    fn backends_and_files() {
        assert_eq!(backend("sqlite:///x/b.db"), Ok(Backend::Sqlite));
        assert_eq!(backend("sqlite:b.db?mode=rwc"), Ok(Backend::Sqlite));
        assert_eq!(backend("postgres://u@h/d"), Ok(Backend::Postgres));
        assert_eq!(backend("postgresql://u@h/d"), Ok(Backend::Postgres));
        assert!(backend("sqlite::memory:").is_err());
        assert!(backend("sqlite://").is_err());
        assert!(backend("mysql://u@h/d").is_err());
        assert_eq!(
            sqlite_file("sqlite:///x/b.db?mode=rwc"),
            Some(PathBuf::from("/x/b.db"))
        );
        assert_eq!(sqlite_file("postgres://u@h/d"), None);
    }
}
