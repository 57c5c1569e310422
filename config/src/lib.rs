//! The bastion's configuration: one TOML file, parsed into typed settings and validated.
//!
//! # Layout
//! - [`schema`]: the typed sections (`[server]`, `[ca]`, `[[targets]]`, `[[roles]]`, …) with their
//!   defaults. Unknown keys are errors.
//! - [`types`]: value types with their own parsing rules (ports, durations, capabilities).
//! - [`validate`]: checks that span several keys (duplicate names, one host key check per target…).
//! - [`error`]: every problem carries the file, the line and the key path, e.g.
//!   `targets[2].port: expected integer 1-65535, found string "ssh" at bastion.toml:14`.
//!
//! Relative paths in the file are resolved against the file's directory, so a configuration
//! directory can be moved as a whole.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod error;
mod locate;
pub mod schema;
pub mod store_url;
pub mod types;
pub mod validate;

use std::path::{Path, PathBuf};

pub use error::{ConfigError, Problem};
pub use schema::*;
pub use types::{Capability, Port, Seconds};
pub use validate::command_regex;

/// The configuration file used when none is named: `$BASTION_CONFIG`, else `./bastion.toml`.
pub fn default_path() -> PathBuf {
    std::env::var_os("BASTION_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("bastion.toml"))
}

impl Config {
    /// Reads, parses and validates the file at `path`; relative paths inside are resolved
    /// against the file's directory.
    ///
    /// # Errors
    /// [`ConfigError::Io`] when the file cannot be read, [`ConfigError::Invalid`] with every
    /// problem found (file, line, key) otherwise.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_with(path, |_| Vec::new())
    }

    /// [`Config::load`], plus the checks of a component that interprets part of the
    /// configuration itself (the masker compiles `[masking]`): `extra` returns problems as key
    /// path and message, and they are reported with their line like any other.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn load_with(
        path: &Path,
        extra: impl FnOnce(&Config) -> Vec<(String, String)>,
    ) -> Result<Config, ConfigError> {
        let (src, base) = read_source(path)?;
        let mut config = Config::parse_with(&src, &path.display().to_string(), extra)?;
        config.resolve_paths(&base);
        Ok(config)
    }

    /// Reads only the `[recording]` and `[audit]` tables of the file at `path` (the rest may
    /// be absent): what `bastion verify` and `bastion play` need on an auditor's machine, which
    /// has no bastion to configure, to find the recording store, the key that signs recordings
    /// and the audit database that says which recording a session has.
    ///
    /// # Errors
    /// As [`Config::load`], for those tables.
    pub fn load_reading(path: &Path) -> Result<Reading, ConfigError> {
        #[derive(serde::Deserialize)]
        struct Only {
            #[serde(default)]
            recording: Recording,
            #[serde(default)]
            audit: Audit,
        }
        let (src, base) = read_source(path)?;
        let origin = path.display().to_string();
        let (only, doc) = deserialize::<Only>(&src, &origin)?;
        let Only {
            mut recording,
            mut audit,
        } = only;
        if let Some(store) = &recording.store {
            if let Err(message) = store_url::StoreUrl::parse(store) {
                let path = "recording.store".to_string();
                return Err(ConfigError::invalid(
                    &origin,
                    vec![Problem {
                        line: doc.line_of_path(&path),
                        path,
                        message,
                    }],
                ));
            }
        }
        for p in [Some(&mut recording.dir), Some(&mut recording.signing_key)]
            .into_iter()
            .chain([recording.store_credentials.as_mut()])
            .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        resolve_database(&mut audit.database, &base);
        Ok(Reading { recording, audit })
    }

    /// Parses and validates `src`; `origin` names the source in error messages.
    /// Paths are left as written.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] with the problems found.
    pub fn parse(src: &str, origin: &str) -> Result<Config, ConfigError> {
        Config::parse_with(src, origin, |_| Vec::new())
    }

    fn parse_with(
        src: &str,
        origin: &str,
        extra: impl FnOnce(&Config) -> Vec<(String, String)>,
    ) -> Result<Config, ConfigError> {
        let (mut config, doc) = deserialize::<Config>(src, origin)?;
        let mut problems = validate::check(&config);
        if problems.is_empty() {
            // Components check what only they understand once the rest is known to be sound.
            problems = extra(&config);
        }
        let problems: Vec<Problem> = problems
            .into_iter()
            .map(|(path, message)| Problem {
                line: doc.line_of_path(&path),
                path,
                message,
            })
            .collect();
        if problems.is_empty() {
            config.warnings = validate::warnings(&config)
                .into_iter()
                .map(|(path, message)| Problem {
                    line: doc.line_of_path(&path),
                    path,
                    message,
                })
                .collect();
            Ok(config)
        } else {
            Err(ConfigError::invalid(origin, problems))
        }
    }

    fn resolve_paths(&mut self, base: &Path) {
        let join = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        join(&mut self.server.host_key);
        for p in [&mut self.server.api_tls_cert, &mut self.server.api_tls_key]
            .into_iter()
            .flatten()
        {
            join(p);
        }
        join(&mut self.ca.user_ca);
        join(&mut self.ca.target_ca);
        join(&mut self.recording.dir);
        join(&mut self.recording.signing_key);
        if let Some(p) = &mut self.recording.store_credentials {
            join(p);
        }
        for target in &mut self.targets {
            if let Some(path) = &mut target.known_hosts {
                join(path);
            }
        }
        resolve_database(&mut self.audit.database, base);
    }
}

/// The file's text, and its directory made absolute, against which relative paths inside it
/// are resolved (so that paths stored from it, recordings in audit rows, mean the same file
/// whatever directory a later command runs from).
fn read_source(path: &Path) -> Result<(String, PathBuf), ConfigError> {
    let src = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let base = std::path::absolute(&base).unwrap_or(base);
    Ok((src, base))
}

/// Parses `src` as `T`; every error names `origin`, the line and the key.
fn deserialize<'a, T: serde::de::DeserializeOwned>(
    src: &'a str,
    origin: &str,
) -> Result<(T, locate::Document<'a>), ConfigError> {
    let doc = locate::Document::parse(src).map_err(|e| {
        ConfigError::invalid(
            origin,
            vec![Problem {
                path: String::new(),
                message: e.message().to_string(),
                line: e.span().map(|s| locate::line_of(src, s.start)),
            }],
        )
    })?;
    let de = toml::Deserializer::parse(src)
        .map_err(|e| ConfigError::invalid(origin, vec![Problem::from_toml(src, &doc, "", &e)]))?;
    let value: T = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        ConfigError::invalid(
            origin,
            vec![Problem::from_toml(src, &doc, &path, e.inner())],
        )
    })?;
    Ok((value, doc))
}

/// What reading recordings needs of a configuration (see [`Config::load_reading`]).
#[derive(Debug, Clone)]
pub struct Reading {
    /// `[recording]`: the store, the signing key.
    pub recording: Recording,
    /// `[audit]`: the database that names each session's recordings.
    pub audit: Audit,
}

/// `sqlite:FILE` is the same URL as `sqlite://FILE`: a relative file is the configuration
/// file's neighbour either way, not something in whatever directory the bastion starts in.
fn resolve_database(db: &mut String, base: &Path) {
    if let Some(rest) = db
        .strip_prefix("sqlite://")
        .or_else(|| db.strip_prefix("sqlite:"))
    {
        let p = Path::new(rest.split('?').next().unwrap_or(rest));
        if p.is_relative() && !rest.starts_with(":memory:") && !rest.is_empty() {
            *db = format!("sqlite://{}", base.join(rest).display());
        }
    }
}

#[cfg(test)]
mod tests;
