//! `bastion config check`: parse, validate, and load the keys the file names.

use config::Config;

use super::{ConfigArg, Failure};
use crate::settings::Settings;

/// Validate a configuration file.
#[derive(Debug, clap::Args)]
pub struct Check {
    #[command(flatten)]
    config: ConfigArg,
}

impl Check {
    pub fn run(self) -> Result<(), Failure> {
        let path = self.config.path();
        let config = Config::load(&path).map_err(Failure::usage)?;
        let summary = format!(
            "{}: OK ({} targets, {} roles, listening on {})",
            path.display(),
            config.targets.len(),
            config.roles.len(),
            config.server.listen
        );
        Settings::load(config).map_err(Failure::failed)?;
        println!("{summary}");
        Ok(())
    }
}
