//! `bastion verify`: is a recording intact and sealed, and signed by a trusted key?

use std::path::PathBuf;

use anyhow::Context;
use bastion::human;
use recorder::VerifyingKey;

use super::config_arg::ConfigArg;
use super::failure::Failure;

/// Verify recordings.
#[derive(Debug, clap::Args)]
pub struct Verify {
    /// Recordings (`.cast`); each is checked against its `.sig` sidecar.
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
        for file in &self.files {
            let sidecar = recorder::sidecar_path(file);
            let report = player::verify(file, &sidecar, &trusted)
                .with_context(|| format!("cannot verify {}", file.display()))?;
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
        if failed > 0 {
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
    let path = config.path();
    if !path.exists() {
        // Named on the command line: a typo must not silently drop the trust check.
        if let Some(named) = &config.config {
            return Err(Failure::usage(anyhow::anyhow!(
                "--config {}: no such file",
                named.display()
            )));
        }
        return Ok(Vec::new());
    }
    let config = config::Config::load(&path).map_err(Failure::usage)?;
    let public = cert_authority::keyfile::public_path(&config.recording.signing_key);
    let key = VerifyingKey::load(&public)
        .with_context(|| format!("recording key {}", public.display()))?;
    Ok(vec![key])
}
