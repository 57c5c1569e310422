//! `bastion man`: manual pages in roff, generated from the command line's definition.

use std::path::PathBuf;

use anyhow::Context;

use super::failure::Failure;
use super::out::Out;

/// Print the manual page, or write one per command.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Read it:     bastion man | man -l -
Install:     bastion man --dir /usr/local/share/man/man1")]
pub struct Man {
    /// Write bastion.1 and a page per subcommand (bastion-serve.1, …) into DIR instead of
    /// printing bastion.1.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

impl Man {
    /// Renders `command` (the whole command line's definition).
    pub fn run(self, command: clap::Command) -> Result<(), Failure> {
        match &self.dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                clap_mangen::generate_to(command, dir)
                    .with_context(|| format!("cannot write manual pages to {}", dir.display()))?;
                super::out::say(format_args!("wrote manual pages to {}", dir.display()));
                Ok(())
            }
            None => Out::with(|out| clap_mangen::Man::new(command).render(out)),
        }
    }
}
