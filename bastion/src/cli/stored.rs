//! Recordings named by their `s3://` address (`bastion verify`, `bastion play`): copied out of
//! the object store the configuration names, with its credentials (read-only ones suffice),
//! so that an auditor needs no account on a bastion.

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
    let recording = config.load_recording()?;
    let store = Store::open(&recording)
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
