//! `--config FILE`, shared by the commands that read the configuration, and where the file is
//! looked for when it is not named: `$BASTION_CONFIG`, else `./bastion.toml`.

use std::path::PathBuf;

use config::{Config, ConfigError};

use super::failure::Failure;

/// The variable naming the configuration file when `--config` is not given.
pub const ENV: &str = "BASTION_CONFIG";

/// `--config FILE`, defaulting to `$BASTION_CONFIG` or `./bastion.toml`.
#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// Configuration file (default: $BASTION_CONFIG, else ./bastion.toml).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Where the configuration file comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `--config FILE`.
    Flag,
    /// `$BASTION_CONFIG`.
    Env,
    /// `./bastion.toml`, neither of the above being given.
    Default,
}

impl ConfigArg {
    /// The file to read.
    pub fn path(&self) -> PathBuf {
        self.config.clone().unwrap_or_else(config::default_path)
    }

    /// Where [`ConfigArg::path`] comes from.
    pub fn source(&self) -> Source {
        if self.config.is_some() {
            Source::Flag
        } else if std::env::var_os(ENV).is_some_and(|v| !v.is_empty()) {
            Source::Env
        } else {
            Source::Default
        }
    }

    /// The configuration, parsed and validated (exit 2 when it cannot be used).
    pub fn load(&self) -> Result<Config, Failure> {
        self.explain(Config::load(&self.path()))
    }

    /// Only the `[recording]` and `[audit]` tables (see [`Config::load_reading`]): what reading
    /// recordings needs.
    pub fn load_reading(&self) -> Result<config::Reading, Failure> {
        self.explain(Config::load_reading(&self.path()))
    }

    /// [`ConfigArg::load`] plus what only the bastion checks (masking rules compile): what
    /// `serve` and `config check` read.
    pub fn load_checked(&self) -> Result<Config, Failure> {
        self.explain(bastion::settings::load_config(&self.path()))
    }

    /// A missing file becomes one message saying where the bastion looked and how to point
    /// it elsewhere; any other problem is a usage error as it is.
    fn explain<T>(&self, loaded: Result<T, ConfigError>) -> Result<T, Failure> {
        loaded.map_err(|e| match &e {
            ConfigError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Failure::usage(anyhow::anyhow!("{}", self.not_found()))
            }
            _ => Failure::usage(e),
        })
    }

    /// Where the configuration was looked for, and how to name another one.
    pub fn not_found(&self) -> String {
        let path = self.path();
        let looked = match self.source() {
            Source::Flag => format!("--config {}: no such file", path.display()),
            Source::Env => format!(
                "no configuration file: ${ENV} names {}, which does not exist",
                path.display()
            ),
            Source::Default => format!(
                "no configuration file: looked for {} in the current directory \
                 (no --config given, ${ENV} not set)",
                path.display()
            ),
        };
        format!(
            "{looked}\n  name one with --config FILE or {ENV}=FILE \
             (`bastion quickstart` writes a dev one to bastion-dev/bastion.toml)"
        )
    }
}
