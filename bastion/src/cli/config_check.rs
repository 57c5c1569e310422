//! `bastion config check`: parse, validate, and load the keys the file names.

use anyhow::Context;
use bastion::settings::Settings;

use super::config_arg::ConfigArg;
use super::failure::Failure;

/// Validate a configuration file.
#[derive(Debug, clap::Args)]
pub struct Check {
    #[command(flatten)]
    config: ConfigArg,
    /// Also list the masking rules in effect (every rule, or with --target those of one target).
    #[arg(long)]
    masking: bool,
    #[command(flatten)]
    scope: super::mask_test::Scope,
}

impl Check {
    pub fn run(self) -> Result<(), Failure> {
        let path = self.config.path();
        let config = self.config.load_checked()?;
        let summary = format!(
            "{}: OK ({} targets, {} roles, listening on {})",
            path.display(),
            config.targets.len(),
            config.roles.len(),
            config.server.listen
        );
        // A check creates nothing: a SQLite database not made yet (the first `bastion serve`
        // makes it) is reported, and a throwaway one stands in for loading the rest.
        let missing = bastion::audit::sqlite_file(&config.audit.database).filter(|f| !f.exists());
        let scratch = tempfile::tempdir().context("temporary directory")?;
        let audit = super::failure::runtime()?.block_on(async {
            match &missing {
                Some(_) => {
                    let url = format!("sqlite://{}", scratch.path().join("check.db").display());
                    bastion::audit::AuditStore::connect(&url)
                        .await
                        .map_err(Failure::failed)
                }
                None => super::database::open_existing(&config.audit.database).await,
            }
        })?;
        let settings = Settings::load(config, audit).map_err(Failure::failed)?;
        super::out::say(format_args!("{summary}"));
        // Allowed but weakening (old algorithms for old clients): said, never fatal.
        for w in &settings.config().warnings {
            super::out::say(format_args!(
                "warning: {}",
                w.render(&path.display().to_string())
            ));
        }
        if let Some(file) = missing {
            super::out::say(format_args!(
                "audit database {} does not exist yet; `bastion serve` creates it",
                file.display()
            ));
        }
        if let Some(store) = settings.store() {
            check_store(store)?;
        }
        if self.masking {
            let masker = self
                .scope
                .masker(Some(settings.config()), settings.maskers())?;
            for line in super::mask_test::describe(&masker) {
                super::out::say(format_args!("{line}"));
            }
        }
        Ok(())
    }
}

/// Says where recordings go and, with `recording.retention`, whether the store can keep it: a
/// retention the store cannot keep fails the check, as it stops `bastion serve`.
fn check_store(store: &bastion::store::Store) -> Result<(), Failure> {
    let Some((keep, mode)) = store.retention() else {
        super::out::say(format_args!(
            "recording store {}: no retention (recording.retention unset): whoever may delete \
             objects in the bucket can delete recordings",
            store.url()
        ));
        return Ok(());
    };
    let answer = super::failure::runtime()?
        .block_on(store.object_lock())
        .map_err(|e| {
            Failure::failed(anyhow::anyhow!(
                "recording.retention: cannot ask {} about Object Lock: {e}",
                store.url()
            ))
        })?;
    match bastion::store::object_lock::keeps(&answer, keep, mode) {
        Ok(()) => {
            super::out::say(format_args!("recording store {}: {answer}", store.url()));
            Ok(())
        }
        Err(why) => Err(Failure::failed(anyhow::anyhow!(
            "recording.retention: {} ({why})",
            store.url()
        ))),
    }
}
