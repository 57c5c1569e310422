//! `bastion completions SHELL`: a completion script for the shell, generated from the command
//! line's definition, so it never lags behind it.

use super::failure::Failure;
use super::out::Out;

/// Print a shell completion script.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Install, for example:
  bash:  bastion completions bash > ~/.local/share/bash-completion/completions/bastion
  zsh:   bastion completions zsh > ~/.zfunc/_bastion   (with fpath+=(~/.zfunc) before compinit)
  fish:  bastion completions fish > ~/.config/fish/completions/bastion.fish")]
pub struct Completions {
    /// The shell to complete in.
    shell: clap_complete::Shell,
}

impl Completions {
    /// Writes the script for `command` (the whole command line's definition).
    pub fn run(self, mut command: clap::Command) -> Result<(), Failure> {
        Out::with(|out| {
            clap_complete::generate(self.shell, &mut command, "bastion", out);
            Ok(())
        })
    }
}
