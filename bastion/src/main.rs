//! `bastion`: the command line. One file per subcommand in [`cli`]; everything they run is in
//! the `bastion` library ([`bastion::server`] serves, [`bastion::audit`] is the audit store).
#![forbid(unsafe_code)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
