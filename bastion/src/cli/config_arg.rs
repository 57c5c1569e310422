//! `--config FILE`, shared by the commands that read the configuration.

use std::path::PathBuf;

/// `--config FILE`, defaulting to `$BASTION_CONFIG` or `./bastion.toml`.
#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// Configuration file (default: $BASTION_CONFIG, else ./bastion.toml).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl ConfigArg {
    /// The file to read.
    pub fn path(&self) -> PathBuf {
        self.config.clone().unwrap_or_else(config::default_path)
    }
}
