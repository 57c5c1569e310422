//! Recordings named by their `s3://` address or their session's id (`bastion verify`, `bastion
//! play`): ids are looked up in the audit database, objects copied out of the store the
//! configuration names, with its credentials (read-only ones suffice), so that an auditor
//! needs no account on a bastion.

use std::path::PathBuf;

use anyhow::Context;
use bastion::store::{fetch::Fetched, Store};

use super::config_arg::ConfigArg;
use super::failure::Failure;

/// A recording argument: a local file, or a copy of an object that lives as long as this.
pub struct Recording {
    /// The file to read.
    pub path: PathBuf,
    _fetched: Option<Fetched>,
}

/// What `arg` names: itself (a file or an `s3://` address), or, for a session id
/// (`SESSION-CHANNEL`, or `SESSION` for all its channels) that is not a file, the recordings the
/// audit database holds for it: their objects once stored, else their files.
pub fn named(arg: &std::path::Path, config: &ConfigArg) -> Result<Vec<PathBuf>, Failure> {
    let Some(id) = arg.to_str().filter(|s| is_session_id(s) && !arg.exists()) else {
        return Ok(vec![arg.to_path_buf()]);
    };
    let reading = config.load_reading()?;
    let runtime = super::failure::runtime()?;
    let rows = runtime.block_on(async {
        let audit = super::database::open_existing(&reading.audit.database).await?;
        audit.session_recordings(id).await.map_err(Failure::failed)
    })?;
    if rows.is_empty() {
        return Err(Failure::failed(anyhow::anyhow!(
            "{id}: no recording of that session (or channel) in the audit database {}",
            reading.audit.database
        )));
    }
    Ok(rows
        .into_iter()
        .map(|(path, url)| PathBuf::from(url.unwrap_or(path)))
        .collect())
}

/// `SESSION` (two groups of 8 hex digits) or `SESSION-CHANNEL`.
fn is_session_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let hex8 = |p: &str| p.len() == 8 && p.bytes().all(|b| b.is_ascii_hexdigit());
    match parts.as_slice() {
        [a, b] => hex8(a) && hex8(b),
        [a, b, c] => hex8(a) && hex8(b) && !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()),
        _ => false,
    }
}

/// Whether `arg` names an object rather than a file.
pub fn is_stored(arg: &std::path::Path) -> bool {
    arg.to_str().is_some_and(|s| s.starts_with("s3://"))
}

/// `arg` as a readable file: itself, or the object it names copied out of the store.
pub fn open(arg: &std::path::Path, config: &ConfigArg) -> Result<Recording, Failure> {
    if !is_stored(arg) {
        return Ok(Recording {
            path: arg.to_path_buf(),
            _fetched: None,
        });
    }
    let address = arg.to_string_lossy().into_owned();
    let reading = config.load_reading()?;
    let store = Store::open(&reading.recording)
        .map_err(|e| Failure::usage(anyhow::anyhow!("{e}")))?
        .ok_or_else(|| {
            Failure::usage(anyhow::anyhow!(
                "{address}: the configuration names no recording store ([recording] store)"
            ))
        })?;
    let fetched = super::failure::runtime()?
        .block_on(store.fetch(&address))
        .with_context(|| format!("cannot read {address} from the store"))
        .map_err(Failure::failed)?;
    if let Some(n) = fetched.parts {
        eprintln!(
            "{address}: not sealed in the store; put together from its {} (the bastion had not \
             finished it, or stopped)",
            bastion::human::count(n, "part")
        );
    }
    Ok(Recording {
        path: fetched.cast.clone(),
        _fetched: Some(fetched),
    })
}
