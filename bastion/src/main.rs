//! `bastion`: an SSH bastion with certificate identities, per-session upstream certificates,
//! and (as the project grows) approvals, PHI masking and signed recordings.
//!
//! The binary is thin: [`cli`] parses arguments (one file per subcommand), [`settings`] turns a
//! configuration into loaded keys, and [`gateway`] is the SSH server.
#![forbid(unsafe_code)]

// Until `serve` starts it (`api::start`), only the tests use it: drop the allow when wired.
mod algorithms;
mod api;
mod approval;
mod audit;
mod ciphers;
mod cli;
mod demo;
mod gateway;
mod human;
mod masking;
mod metrics;
mod policy;
mod review;
mod settings;

fn main() -> std::process::ExitCode {
    cli::main()
}
