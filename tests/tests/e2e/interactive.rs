//! Interactive shells driven through tmux: typing, output, window changes, the target menu
//! (issue 2, items 5, 7 and 11).

use std::time::Duration;

use tests::Tmux;

use crate::fixture::world;

const WAIT: Duration = Duration::from_secs(15);

#[test]
fn shell_types_and_reads_and_follows_window_changes() {
    let w = world();
    let t = Tmux::start(&w.alice.remote_bash("t1@127.0.0.1"), 100, 30);
    t.wait_for("REMOTE$", WAIT);
    // Computed remotely, so the echoed command line itself cannot match.
    t.type_text("echo \"OUT-$((6*7))\"; stty size");
    t.keys(&["Enter"]);
    // `stty size` answers after the echo line: wait for the last of the two.
    let s = t.wait_for("30 100", WAIT);
    assert!(s.contains("OUT-42"), "{s}");
    t.resize(120, 40);
    std::thread::sleep(Duration::from_millis(300));
    t.type_text("echo \"SIZE-$((1+1))\"; stty size");
    t.keys(&["Enter"]);
    let s = t.wait_for("40 120", WAIT);
    assert!(s.contains("SIZE-2"), "{s}");
    t.type_text("exit 5");
    t.keys(&["Enter"]);
    t.wait_for("SSH-EXIT=5", WAIT);
}

#[test]
fn no_target_with_a_pty_shows_a_menu() {
    let w = world();
    let t = Tmux::start(
        &format!(
            "{} -tt 127.0.0.1; echo SSH-EXIT=$?; sleep 60",
            w.alice.ssh_line("", "")
        ),
        100,
        30,
    );
    let s = t.wait_for("Choose a number or name", WAIT);
    assert!(s.contains("signed in as alice@example.test"), "{s}");
    assert!(s.contains("1) t1"), "{s}");
    // ssh sent the local user name, which names no target: no refusal before the menu
    // (issue 19, item 5).
    assert!(!s.contains("not permitted"), "{s}");
    t.type_text("nope");
    t.keys(&["Enter"]);
    t.wait_for("\"nope\" is not one of the choices", WAIT);
    t.type_text("1");
    t.keys(&["Enter"]);
    t.wait_for("Connecting to t1 as root", WAIT);
    t.type_text("echo \"MENU-$((6*7))\"");
    t.keys(&["Enter"]);
    t.wait_for("MENU-42", WAIT);
    t.type_text("exit");
    t.keys(&["Enter"]);
    t.wait_for("SSH-EXIT=0", WAIT);
}
