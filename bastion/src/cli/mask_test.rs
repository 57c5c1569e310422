//! `bastion mask-test`: show what the configured masking would do to some text, for tuning
//! rules. Reads FILE or stdin; prints the masked text, then one line per hit on stderr.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;

use super::config_arg::ConfigArg;
use super::failure::Failure;

/// Show what would be masked.
#[derive(Debug, clap::Args)]
pub struct MaskTest {
    /// Input file (default: stdin).
    file: Option<PathBuf>,
    #[command(flatten)]
    config: ConfigArg,
    #[command(flatten)]
    scope: Scope,
}

/// Which rules: every rule on, or those in effect for one target (and roles).
#[derive(Debug, Default, clap::Args)]
pub struct Scope {
    /// Use the rules in effect on this target (default: every rule on, scoped ones too).
    #[arg(long, value_name = "NAME")]
    target: Option<String>,
    /// With --target: the roles granting the channel (repeat for several); rules scoped to
    /// roles apply only through them.
    #[arg(long = "role", value_name = "NAME", requires = "target")]
    roles: Vec<String>,
}

impl Scope {
    /// The masker these options select from `maskers`, built from `config`.
    pub fn masker(
        &self,
        config: Option<&config::Config>,
        maskers: &bastion::masking::Maskers,
    ) -> Result<mask::Masker, Failure> {
        let Some(name) = &self.target else {
            return Ok(maskers.all().clone());
        };
        let Some(config) = config else {
            return Err(Failure::usage(anyhow::anyhow!(
                "--target needs a configuration file, and none was found"
            )));
        };
        let target = config
            .targets
            .iter()
            .find(|t| &t.name == name)
            .ok_or_else(|| {
                Failure::usage(anyhow::anyhow!(
                    "no target is named {name:?} in the configuration"
                ))
            })?;
        if let Some(role) = self
            .roles
            .iter()
            .find(|r| !config.roles.iter().any(|x| &x.name == *r))
        {
            return Err(Failure::usage(anyhow::anyhow!(
                "no role is named {role:?} in the configuration"
            )));
        }
        Ok(maskers.for_scope(target, &self.roles))
    }
}

impl MaskTest {
    pub fn run(self) -> Result<(), Failure> {
        let config = load_config(&self.config)?;
        let masking = config
            .as_ref()
            .map(|c| c.masking.clone())
            .unwrap_or_default();
        let maskers = bastion::masking::Maskers::new(&masking).map_err(Failure::usage)?;
        let masker = self.scope.masker(config.as_ref(), &maskers)?;
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
        super::out::Out::with(|out| out.write_all(&report.masked))?;
        for hit in &report.hits {
            // A value found by where it sits says why (`column "dob" (pack hipaa, field
            // dob)`); one found by its shape names its rule.
            match &hit.reason {
                Some(reason) if hit.rule == "structure" => {
                    eprintln!("{reason}: bytes {}..{}", hit.range.start, hit.range.end)
                }
                Some(reason) => eprintln!(
                    "{}: bytes {}..{}: {reason}",
                    hit.rule, hit.range.start, hit.range.end
                ),
                None => eprintln!("{}: bytes {}..{}", hit.rule, hit.range.start, hit.range.end),
            }
        }
        eprintln!("{} identifiers masked", report.hits.len());
        Ok(())
    }
}

/// The configuration, or `None` when no file was named and the default one does not exist
/// (the built-in pack then applies).
fn load_config(config: &ConfigArg) -> Result<Option<config::Config>, Failure> {
    if config.source() == super::config_arg::Source::Default && !config.path().exists() {
        return Ok(None);
    }
    config.load_checked().map(Some)
}

/// Lines describing the rules in effect, for `config check --masking`.
pub fn describe(masker: &mask::Masker) -> Vec<String> {
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
    // The fields: what column headers, keys and labels make a value sensitive.
    lines.push(String::new());
    lines.push(format!(
        "{:<14} {:<12} {}",
        "field", "source", "names (globs)"
    ));
    for f in masker.fields() {
        lines.push(format!(
            "{:<14} {:<12} {}",
            f.name,
            f.source.to_string(),
            f.patterns.join(", ")
        ));
    }
    if masker.fields().is_empty() {
        lines.push("(none: no table column, key or label is masked by its name)".into());
    }
    let formats = masker.formats();
    let read: Vec<&str> = [
        (formats.hl7, "HL7 v2 PID/NK1/MRG/IN1/GT1"),
        (formats.fhir, "FHIR person resources"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, what)| *what)
    .collect();
    lines.push(format!(
        "formats read: {}",
        if read.is_empty() {
            "none".to_string()
        } else {
            read.join(", ")
        }
    ));
    lines
}
