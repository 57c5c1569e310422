//! Command line: one file per subcommand. Exit codes: 0 ok, 1 refused or failed check,
//! 2 usage or configuration error.

mod api_client;
mod audit;
mod ca;
mod completions;
mod config_arg;
mod config_check;
mod database;
mod failure;
mod login;
mod man;
mod mask_test;
mod out;
mod play;
mod quickstart;
mod serve;
mod ssh_config;
mod stored;
mod targets;
mod verify;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// An SSH bastion: certificate identities, per-session upstream certificates, audited sessions.
#[derive(Debug, Parser)]
#[command(name = "bastion", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve SSH clients with the given configuration.
    Serve(serve::Serve),
    /// Create a dev directory (keys, config, a certificate for your key, a demo target) and serve.
    Quickstart(quickstart::Quickstart),
    /// Query the audit database (sessions, channels, authentication) or export it for a SIEM.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Configuration commands.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Certificate authority commands.
    #[command(subcommand)]
    Ca(ca::CaCommand),
    /// Sign in (OIDC device flow, or a CI workload token) and get a short-lived certificate.
    Login(login::Login),
    /// List the targets and logins you may use (after bastion login).
    Targets(targets::Targets),
    /// Print (or --write) an ssh_config so that `ssh TARGET.bastion` works with no options.
    SshConfig(ssh_config::SshConfig),
    /// Check that recordings are intact, sealed and signed by a trusted key.
    Verify(verify::Verify),
    /// Verify, then replay a recording in the terminal.
    Play(play::Play),
    /// Show what the configured PHI masking does to some text (stdin or FILE).
    MaskTest(mask_test::MaskTest),
    /// Print a completion script for bash, zsh, fish, elvish or PowerShell.
    Completions(completions::Completions),
    /// Print the manual page (roff), or write one per command with --dir.
    Man(man::Man),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file and the keys it names.
    Check(config_check::Check),
}

/// Parses arguments, runs the subcommand, maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Serve(c) => c.run(),
        Command::Quickstart(c) => c.run(),
        Command::Config(ConfigCommand::Check(c)) => c.run(),
        Command::Ca(c) => c.run(),
        Command::Audit(c) => c.run(),
        Command::Verify(c) => c.run(),
        Command::Login(c) => c.run(),
        Command::Targets(c) => c.run(),
        Command::SshConfig(c) => c.run(),
        Command::Play(c) => c.run(),
        Command::MaskTest(c) => c.run(),
        Command::Completions(c) => c.run(Cli::command()),
        Command::Man(c) => c.run(Cli::command()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // Nobody is left to read what the command would say.
        Err(f) if f.error().downcast_ref::<out::PipeClosed>().is_some() => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("bastion: {}", failure::describe(f.error()));
            ExitCode::from(f.code())
        }
    }
}

fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer};
    let filter = EnvFilter::try_from_env("BASTION_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,russh=warn"));
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(filter);
    // Sees the SSH library's warnings whatever BASTION_LOG says.
    let refusals = bastion::server::refusal_watch();
    let _ = tracing_subscriber::registry()
        .with(log)
        .with(refusals)
        .try_init();
}
