//! `bastion play`: verify, then replay a recording in the terminal (or print it with `--cat`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use super::config_arg::ConfigArg;
use super::failure::Failure;
use super::verify::trusted_keys;

/// Replay a recording.
#[derive(Debug, clap::Args)]
pub struct Play {
    /// The recording (`.cast`), its `s3://` address in the configured recording store, or a
    /// `SESSION-CHANNEL` id looked up in the audit database.
    file: PathBuf,
    /// Playback speed factor.
    #[arg(long, default_value_t = 1.0, value_parser = positive_number)]
    speed: f64,
    /// Longest pause, in seconds (longer idle periods are shortened).
    #[arg(long, value_name = "SECONDS", value_parser = idle_limit)]
    idle_limit: Option<Duration>,
    /// Start at this time, e.g. 90s or 2m.
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// Print the output without timing (text, colours and cursor moves only; other escape
    /// sequences, which could act on your terminal, are dropped).
    #[arg(long)]
    cat: bool,
    /// With --cat: write the output exactly as recorded, escape sequences and all.
    #[arg(long, requires = "cat")]
    raw: bool,
    /// Play even if verification finds the recording altered.
    #[arg(long)]
    force: bool,
    /// Trusted recording public key(s) (default: the configuration's recording key).
    #[arg(long = "key", value_name = "PUBKEY")]
    keys: Vec<PathBuf>,
    #[command(flatten)]
    config: ConfigArg,
}

impl Play {
    pub fn run(self) -> Result<(), Failure> {
        let trusted = trusted_keys(&self.keys, &self.config)?;
        let named = match super::stored::named(&self.file, &self.config)?.as_slice() {
            [one] => one.clone(),
            many => {
                return Err(Failure::usage(anyhow::anyhow!(
                    "{} names {} recordings; play one of them: {}",
                    self.file.display(),
                    many.len(),
                    many.iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
        };
        let recording = super::stored::open(&named, &self.config)?;
        let file = &recording.path;
        if self.cat {
            let sidecar = recorder::sidecar_path(file);
            // Verified and printed from the same bytes (see `player::verify_bytes`).
            let bytes = player::cast::read(file)
                .with_context(|| format!("cannot read {}", self.file.display()))?;
            let report = player::verify_bytes(file, &bytes, &sidecar, &trusted)
                .with_context(|| format!("cannot verify {}", self.file.display()))?;
            eprintln!("{report}");
            if report.is_tampered() && !self.force {
                return Err(Failure::failed(anyhow::anyhow!(
                    "refusing an altered recording (use --force)"
                )));
            }
            let recording = player::cast::parse(&bytes[..], file)
                .with_context(|| format!("cannot read {}", self.file.display()))?;
            let tail = report.unverified_tail();
            let mut out = super::out::Out::new();
            player::cat_marked(&recording, &mut out, self.raw, tail.as_ref())
                .map_err(super::out::failure)?;
            return out.finish();
        }
        let start_at = match &self.at {
            Some(t) => humantime::parse_duration(t)
                .map_err(|e| Failure::usage(anyhow::anyhow!("--at {t:?}: {e}")))?,
            None => Duration::ZERO,
        };
        let options = player::PlayOptions {
            speed: self.speed,
            idle_limit: self.idle_limit,
            start_at,
            trusted_keys: trusted,
            sidecar: None,
            force: self.force,
        };
        let report =
            player::play(file, &options).map_err(|e| Failure::failed(anyhow::anyhow!("{e}")))?;
        eprintln!("{report}");
        Ok(())
    }
}

/// A finite number above zero.
fn positive_number(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => Ok(n),
        _ => Err(format!("{s:?} is not a number above 0")),
    }
}

/// Seconds above zero, as a duration.
fn idle_limit(s: &str) -> Result<Duration, String> {
    positive_number(s).and_then(|n| {
        Duration::try_from_secs_f64(n).map_err(|_| format!("{s:?} seconds is too long"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speeds_and_idle_limits_must_be_finite_and_positive() {
        assert_eq!(positive_number("2.5"), Ok(2.5));
        for bad in ["0", "-1", "nan", "inf", "x"] {
            assert!(positive_number(bad).is_err(), "{bad}");
            assert!(idle_limit(bad).is_err(), "{bad}");
        }
        assert_eq!(idle_limit("1.5"), Ok(Duration::from_millis(1500)));
        assert!(idle_limit("1e300").is_err());
    }
}
