//! Plays a recording in this terminal: `cargo run -p player --example play -- FILE [--key PUB]
//! [--speed N] [--idle SECS] [--start SECS] [--force]`. For trying the player by hand; the
//! real front end is `bastion play`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use player::{play, PlayOptions, PlayerError};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("play: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut path = None;
    let mut options = PlayOptions::default();
    let secs = |v: Option<String>| -> Result<f64, String> {
        v.ok_or("missing value")?
            .parse::<f64>()
            .map_err(|e| e.to_string())
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--force" => options.force = true,
            "--speed" => options.speed = secs(args.next())?,
            "--idle" => options.idle_limit = Some(Duration::from_secs_f64(secs(args.next())?)),
            "--start" => options.start_at = Duration::from_secs_f64(secs(args.next())?),
            "--key" => {
                let key = args.next().ok_or("missing key path")?;
                let key =
                    recorder::VerifyingKey::load(&PathBuf::from(key)).map_err(|e| e.to_string())?;
                options.trusted_keys.push(key);
            }
            _ => path = Some(PathBuf::from(arg)),
        }
    }
    let path =
        path.ok_or("usage: play FILE [--key PUB] [--speed N] [--idle S] [--start S] [--force]")?;
    match play(&path, &options) {
        Ok(report) => {
            println!("{report}");
            Ok(())
        }
        Err(PlayerError::Refused(report)) => Err(format!("refused (use --force):\n{report}")),
        Err(e) => Err(e.to_string()),
    }
}
