//! `bastion config check`: parse, validate, and load the keys the file names.

use config::Config;

use super::{ConfigArg, Failure};
use crate::settings::Settings;

/// Validate a configuration file.
#[derive(Debug, clap::Args)]
pub struct Check {
    #[command(flatten)]
    config: ConfigArg,
    /// Also list the masking rules in effect.
    #[arg(long)]
    masking: bool,
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
        let audit = super::runtime()?
            .block_on(crate::audit::AuditStore::connect(&config.audit.database))
            .map_err(Failure::failed)?;
        let settings = Settings::load(config, audit).map_err(Failure::failed)?;
        println!("{summary}");
        if self.masking {
            for line in super::mask_test::describe(settings.shared.maskers.all()) {
                println!("{line}");
            }
        }
        Ok(())
    }
}
