//! `bastion mask-test`: show what the configured masking would do to some text, for tuning
//! rules. Reads FILE or stdin; prints the masked text, then one line per hit on stderr.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::Context;

use super::{ConfigArg, Failure};

/// Show what would be masked.
#[derive(Debug, clap::Args)]
pub struct MaskTest {
    /// Input file (default: stdin).
    file: Option<PathBuf>,
    #[command(flatten)]
    config: ConfigArg,
}

impl MaskTest {
    pub fn run(self) -> Result<(), Failure> {
        let masking = load_masking(&self.config)?;
        let maskers = crate::masking::Maskers::new(&masking).map_err(Failure::usage)?;
        let masker = maskers.all();
        let mut input = Vec::new();
        match &self.file {
            Some(f) => {
                input = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?
            }
            None => {
                std::io::stdin()
                    .read_to_end(&mut input)
                    .context("reading stdin")?;
            }
        }
        let report = masker.mask_test(&input);
        std::io::stdout()
            .write_all(&report.masked)
            .context("writing output")?;
        for hit in &report.hits {
            eprintln!("{}: bytes {}..{}", hit.rule, hit.range.start, hit.range.end);
        }
        eprintln!("{} identifiers masked", report.hits.len());
        Ok(())
    }
}

/// The `[masking]` section of the configuration, or the defaults when there is no file.
pub fn load_masking(config: &ConfigArg) -> Result<config::Masking, Failure> {
    let path = config.path();
    if config.config.is_none() && !path.exists() {
        return Ok(config::Masking::default());
    }
    Ok(crate::settings::load_config(&path)
        .map_err(Failure::usage)?
        .masking)
}

/// Lines describing the rules in effect, for `config check --masking`.
pub fn describe(masker: &recorder::mask::Masker) -> Vec<String> {
    let mut lines = vec![format!(
        "{:<24} {:<8} {:<8} {:>7}  {}",
        "rule", "source", "enabled", "max len", "validator"
    )];
    for r in masker.summary() {
        lines.push(format!(
            "{:<24} {:<8} {:<8} {:>7}  {}",
            r.name,
            r.source.to_string(),
            if r.enabled { "yes" } else { "no" },
            r.max_len
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into()),
            r.validator
                .map(|v| v.name().to_string())
                .unwrap_or_else(|| "-".into()),
        ));
    }
    lines.push(format!(
        "longest possible match: {} bytes (bounds what a stream holds back)",
        masker.max_match_len()
    ));
    lines
}
