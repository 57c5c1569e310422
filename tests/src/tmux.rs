//! Interactive sessions in tmux: type keys, read the screen.

use std::process::Command;
use std::time::Duration;

use crate::util::{run, stdout, wait_for};

/// A detached tmux session; killed on drop.
pub struct Tmux {
    name: String,
    socket: String,
}

impl Tmux {
    /// Starts `command` (a shell command line) in a new window of `cols`×`rows`.
    pub fn start(command: &str, cols: u16, rows: u16) -> Tmux {
        Tmux::start_with_history(command, cols, rows, 2000)
    }

    /// Like [`Tmux::start`], keeping `history` lines of scrollback (tmux's default is 2000).
    pub fn start_with_history(command: &str, cols: u16, rows: u16, history: u32) -> Tmux {
        let name = format!("t{}", std::process::id());
        let socket = format!(
            "bastion-test-{}-{}",
            std::process::id(),
            crate::util::free_port()
        );
        // The limit applies to panes made after it is set: set it as the server starts.
        let o = run(Command::new("tmux")
            .args(["-L", &socket, "start-server", ";", "set-option", "-g"])
            .args(["history-limit", &history.to_string(), ";"])
            .args(["new-session", "-d", "-s", &name, "-x"])
            .arg(cols.to_string())
            .arg("-y")
            .arg(rows.to_string())
            .arg(command));
        assert!(
            o.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        Tmux { name, socket }
    }

    /// Sends keys as tmux `send-keys` arguments (e.g. `["echo hi", "Enter"]`).
    pub fn keys(&self, keys: &[&str]) {
        let o = run(Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", &self.name])
            .args(keys));
        assert!(o.status.success());
    }

    /// Sends literal text (no key-name interpretation).
    pub fn type_text(&self, text: &str) {
        let o = run(Command::new("tmux").args([
            "-L",
            &self.socket,
            "send-keys",
            "-l",
            "-t",
            &self.name,
            text,
        ]));
        assert!(o.status.success());
    }

    /// The screen (with scrollback, wrapped lines joined).
    pub fn screen(&self) -> String {
        stdout(&run(Command::new("tmux").args([
            "-L",
            &self.socket,
            "capture-pane",
            "-p",
            "-J",
            "-S",
            "-",
            "-t",
            &self.name,
        ])))
    }

    /// Waits until the screen contains `needle`; panics with the screen if it does not.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> String {
        match wait_for(timeout, || {
            let s = self.screen();
            s.contains(needle).then_some(s)
        }) {
            Some(s) => s,
            None => panic!(
                "timed out waiting for {needle:?}; screen:\n{}",
                self.screen()
            ),
        }
    }

    /// Forgets the scrollback (what `screen` shows above the visible rows).
    pub fn clear_history(&self) {
        let o =
            run(Command::new("tmux").args(["-L", &self.socket, "clear-history", "-t", &self.name]));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    /// Resizes the window.
    pub fn resize(&self, cols: u16, rows: u16) {
        let o = run(Command::new("tmux")
            .args(["-L", &self.socket, "resize-window", "-t", &self.name, "-x"])
            .arg(cols.to_string())
            .arg("-y")
            .arg(rows.to_string()));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    /// Whether the session (its command) is still running.
    pub fn alive(&self) -> bool {
        run(Command::new("tmux").args(["-L", &self.socket, "has-session", "-t", &self.name]))
            .status
            .success()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

/// Default wait for screens.
pub const SCREEN_TIMEOUT: Duration = Duration::from_secs(15);
