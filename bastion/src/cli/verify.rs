//! `bastion verify`: is a recording intact and sealed, and signed by a trusted key?

use std::path::PathBuf;

use anyhow::Context;
use bastion::human;
use recorder::VerifyingKey;

use super::config_arg::{ConfigArg, Source, ENV};
use super::failure::Failure;

/// Verify recordings.
#[derive(Debug, clap::Args)]
pub struct Verify {
    /// Recordings (`.cast`), their `s3://` addresses in the configured recording store, or
    /// `SESSION-CHANNEL` / `SESSION` ids looked up in the audit database; each is checked
    /// against its `.sig` sidecar.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Trusted recording public key(s) (default: the configuration's recording key).
    #[arg(long = "key", value_name = "PUBKEY")]
    keys: Vec<PathBuf>,
    /// Print one JSON object per recording.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: ConfigArg,
}

impl Verify {
    pub fn run(self) -> Result<(), Failure> {
        let trusted = trusted_keys(&self.keys, &self.config)?;
        let (mut failed, mut tails) = (0u64, 0u64);
        let mut out = super::out::Out::new();
        let recordings = self
            .files
            .iter()
            .map(|arg| super::stored::named(arg, &self.config))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten();
        for arg in recordings {
            let arg = &arg;
            let recording = super::stored::open(arg, &self.config)?;
            let file = &recording.path;
            let sidecar = recorder::sidecar_path(file);
            let report = player::verify(file, &sidecar, &trusted)
                .with_context(|| format!("cannot verify {}", arg.display()))?;
            if report.recovered_tail().is_some() {
                tails += 1;
            } else if !report.is_ok() {
                failed += 1;
            }
            if self.json {
                out.line(serde_json::to_string(&report).context("report")?)?;
            } else {
                out.line(&report)?;
            }
        }
        out.finish()?;
        if failed > 0 && trusted.is_empty() {
            Err(Failure::failed(anyhow::anyhow!(
                "signatures were NOT checked against a trusted key: no --key given, and {}\n  \
                 pass --key PUBKEY (the recording key's .pub, e.g. keys/recording_ed25519.pub) \
                 or --config FILE (its [recording] signing_key)",
                no_config(&self.config)
            )))
        } else if failed > 0 {
            Err(Failure::failed(anyhow::anyhow!(
                "not every recording is intact, sealed and signed by a trusted key"
            )))
        } else if tails > 0 {
            Err(Failure::recovered_tail(anyhow::anyhow!(
                "{} with a recovered tail: lines no live checkpoint covered, signed only by crash recovery",
                human::count(tails, "recording")
            )))
        } else {
            Ok(())
        }
    }
}

/// `--key` files, else the configured recording key's `.pub`, else nothing (integrity only).
pub fn trusted_keys(keys: &[PathBuf], config: &ConfigArg) -> Result<Vec<VerifyingKey>, Failure> {
    if !keys.is_empty() {
        return keys
            .iter()
            .map(|k| {
                VerifyingKey::load(k)
                    .with_context(|| format!("--key {}", k.display()))
                    .map_err(Failure::usage)
            })
            .collect();
    }
    if config.source() == Source::Default && !config.path().exists() {
        return Ok(Vec::new());
    }
    // Named (`--config`, `$BASTION_CONFIG`): a typo must not silently drop the trust check.
    let reading = config.load_reading()?;
    let public = cert_authority::keyfile::public_path(&reading.recording.signing_key);
    let key = VerifyingKey::load(&public).context("[recording] signing_key, its public half")?;
    Ok(vec![key])
}

/// Why no configuration gave a key (only asked when none was named).
fn no_config(config: &ConfigArg) -> String {
    format!(
        "no configuration file at {} (no --config given, ${ENV} not set)",
        config.path().display()
    )
}
