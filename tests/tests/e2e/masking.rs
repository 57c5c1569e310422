//! PHI masking on the live terminal and in recordings (issue 5, items 3, 6, 7, 8).

use std::process::Command;
use std::time::Duration;

use tests::{bastion_bin, run, stderr, stdout, BastionBuilder, Tmux};

use crate::fixture::world;
use crate::recording::casts;

mod structure;

const FIXTURE: &str = "printf 'name: Jane Roe\\nSSN: 123-45-6789\\nemail: jane.roe@example.com\\n| 4111 1111 1111 1111 | 555-867-5309 |\\n'";

fn recording_text(dir: &std::path::Path) -> String {
    casts(&dir.join("recordings"))
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

#[test]
fn identifiers_are_masked_on_screen_and_in_the_recording() {
    let w = world();
    let o = run(&mut w.alice.ssh("t1@127.0.0.1", &[FIXTURE]));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(
        out,
        "name: **** ***\nSSN: ***-**-****\nemail: ****.***@*******.***\n| **** **** **** **** | ***-***-**** |\n"
    );
    w.bastion.wait_log("recording sealed");
    let rec = recording_text(w.bastion.dir.path());
    for raw in [
        "123-45-6789",
        "jane.roe@example.com",
        "4111 1111",
        "867-5309",
    ] {
        assert!(!rec.contains(raw), "{raw} in recording");
    }
    assert!(rec.contains("***-**-****"));
}

#[test]
fn colour_codes_inside_an_identifier_do_not_hide_it() {
    let w = world();
    // What grep --color=always does to a match in the middle of an SSN.
    let o = run(&mut w.alice.ssh(
        "t1@127.0.0.1",
        &["printf 'SSN \\033[1;31m123\\033[0m-45-6789\\n'; echo 123-45-6789 | grep --color=always 45"],
    ));
    let out = stdout(&o);
    assert!(out.contains("SSN \x1b[1;31m***\x1b[0m-**-****"), "{out:?}");
    assert!(!out.contains("6789"), "{out:?}");
    assert!(out.contains("\x1b["), "escape codes are kept: {out:?}");
}

#[test]
fn slow_output_is_masked_in_the_recording() {
    let w = world();
    // One character every 50 ms: longer than the live hold, so the screen may show digits,
    // but the recording masks exactly.
    let o = run(&mut w.alice.ssh(
        "t1@127.0.0.1",
        &["for c in S S N : ' ' 1 2 3 - 4 5 - 6 7 8 9; do printf \"$c\"; sleep 0.05; done; echo"],
    ));
    assert!(o.status.success());
    w.bastion.wait_log("recording sealed");
    let rec = recording_text(w.bastion.dir.path());
    let visible: String = rec
        .lines()
        .filter(|l| l.starts_with('['))
        .filter_map(serde_free_output)
        .collect();
    assert!(visible.contains("***-**-****"), "{visible:?}");
    assert!(!visible.contains("6789"), "{visible:?}");
}

/// The data of an `o` event line, without a JSON parser: `[0.05, "o", "text"]`.
fn serde_free_output(line: &str) -> Option<String> {
    let rest = line
        .split_once("\"o\", \"")
        .or_else(|| line.split_once("\"o\",\""))?
        .1;
    Some(rest.trim_end_matches(']').trim_end_matches('"').to_string())
}

#[test]
fn a_role_without_live_masking_sees_raw_values_but_the_recording_is_masked() {
    let b = BastionBuilder::new();
    let sshd = b.sshd("t1");
    let bastion = b
        .target("t1", &sshd, "")
        .role("name = \"clinician\"\nprincipals = [\"ops\"]\ntargets = [\"t1\"]\nlogins = [\"root\"]\nlive_masking = false")
        .start();
    let alice = bastion.user("alice@example.test", "ops");
    let o = run(&mut alice.ssh("t1@127.0.0.1", &["echo 'SSN: 123-45-6789'"]));
    assert_eq!(stdout(&o), "SSN: 123-45-6789\n");
    bastion.wait_log("recording sealed");
    let rec = recording_text(bastion.dir.path());
    assert!(
        !rec.contains("123-45-6789") && rec.contains("***-**-****"),
        "{rec}"
    );
}

#[test]
fn interactive_shell_output_is_masked() {
    // Typing is recorded too: it must be masked like output.
    let b = BastionBuilder::new();
    let sshd = b.sshd("t1");
    let bastion = b
        .section_table("recording", "record_input = true")
        .target("t1", &sshd, "")
        .role(crate::fixture::OPS_ROLE)
        .start();
    let alice = bastion.user("alice@example.test", "ops");
    let t = Tmux::start(&alice.remote_bash("t1@127.0.0.1"), 100, 30);
    t.wait_for("REMOTE$", Duration::from_secs(15));
    t.type_text("echo \"SSN: 123-45-$((6789))\"");
    t.keys(&["Enter"]);
    let screen = t.wait_for("SSN: ***-**-****", Duration::from_secs(15));
    assert!(!screen.contains("SSN: 123-45-6789"), "{screen}");
    // What the user types comes back without the masking hold: it is their own typing. The
    // recording masks the echo all the same. (Typed once the next prompt is there, so that the
    // echo does not share a chunk with the prompt.)
    tests::wait_for(Duration::from_secs(15), || {
        let screen = t.screen();
        let after = screen.split("SSN: ***-**-****").nth(1)?;
        after.contains("REMOTE$").then_some(())
    })
    .unwrap_or_else(|| panic!("no prompt after the output:\n{}", t.screen()));
    t.type_text("# typed 234-56-7891");
    // Echoed raw (a masked echo would show "# typed ***-**-****" and never this).
    t.wait_for("# typed 234-56-7891", Duration::from_secs(15));
    // Run it (a comment) rather than cancel it: bash sometimes puts a line cancelled with
    // Ctrl-C back after the new prompt when the key arrives right after the text, and the
    // `exit` typed next then joins it.
    t.keys(&["Enter"]);
    tests::wait_for(Duration::from_secs(15), || {
        let screen = t.screen();
        let after = screen.split("# typed 234-56-7891").nth(1)?;
        after.contains("REMOTE$").then_some(())
    })
    .unwrap_or_else(|| panic!("no prompt after the comment:\n{}", t.screen()));
    t.type_text("exit");
    t.keys(&["Enter"]);
    bastion.wait_log("recording sealed");
    let rec = recording_text(bastion.dir.path());
    assert!(
        !rec.contains("234-56-7891") && !rec.contains("123-45-6789"),
        "{rec}"
    );
    assert!(rec.contains("\"i\""), "typing was not recorded: {rec}");
}

#[test]
fn transfers_arrive_byte_identical_and_are_not_recorded_as_content() {
    let w = world();
    let dir = w.bastion.dir.path();
    let data = "SSN 123-45-6789 card 4111111111111111\n".repeat(2000);
    std::fs::write(dir.join("phi.txt"), &data).unwrap();
    let opts = w.alice.ssh_options();
    let port = w.bastion.port.to_string();
    // Legacy scp (exec "scp -t") up and down, then sftp (the default scp mode).
    let o = run(Command::new("scp")
        .args(&opts)
        .args(["-P", &port, "-O"])
        .arg(dir.join("phi.txt"))
        .arg("t1@127.0.0.1:/tmp/bastion-phi-1.txt"));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(Command::new("scp")
        .args(&opts)
        .args(["-P", &port, "-O", "t1@127.0.0.1:/tmp/bastion-phi-1.txt"])
        .arg(dir.join("back-1.txt")));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(Command::new("scp")
        .args(&opts)
        .args(["-P", &port])
        .arg(dir.join("phi.txt"))
        .arg("t1@127.0.0.1:/tmp/bastion-phi-2.txt"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string("/tmp/bastion-phi-1.txt").unwrap(),
        data
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("back-1.txt")).unwrap(),
        data
    );
    assert_eq!(
        std::fs::read_to_string("/tmp/bastion-phi-2.txt").unwrap(),
        data
    );
    tests::wait_for(Duration::from_secs(10), || {
        (w.bastion.log().matches("recording sealed").count() >= 3).then_some(())
    })
    .expect("three recordings");
    let rec = recording_text(dir);
    assert!(
        !rec.contains("123-45-6789") && !rec.contains("4111111111111111"),
        "content recorded"
    );
    assert!(
        !rec.contains("***-**-****"),
        "transfer content recorded masked instead of omitted"
    );

    // A command that only looks like a transfer is a session like any other: masked on the
    // screen and recorded.
    let o = run(&mut w.alice.ssh(
        "t1@127.0.0.1",
        &["scp 2>/dev/null; echo SSN 123-45-6789 # -t"],
    ));
    assert_eq!(stdout(&o), "SSN ***-**-****\n", "{}", stderr(&o));
    tests::wait_for(Duration::from_secs(10), || {
        recording_text(dir)
            .contains("SSN ***-**-****")
            .then_some(())
    })
    .expect("the fake transfer recorded, masked");
}

#[test]
fn a_program_named_scp_passes_unrecorded_only_for_roles_that_may_transfer_files() {
    use std::os::unix::fs::PermissionsExt;
    let b = tests::BastionBuilder::new();
    let sshd = b.sshd("t1");
    let bastion = b
        .target("t1", &sshd, "")
        .role("name = \"runner\"\nprincipals = [\"ops\"]\ntargets = [\"*\"]\nlogins = [\"root\", \"bastion-e2e\"]\nallow = [\"exec\"]")
        .start();
    let alice = bastion.user("alice@example.test", "ops");
    // Any program can be called scp on a target the user controls.
    let fake = bastion.dir.path().join("scp");
    std::fs::write(&fake, "#!/bin/sh\necho SSN 123-45-6789\n").unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = run(&mut alice.ssh("t1@127.0.0.1", &[&format!("{} -f x", fake.display())]));
    assert_eq!(stdout(&o), "SSN ***-**-****\n", "{}", stderr(&o));
    tests::wait_for(Duration::from_secs(10), || {
        recording_text(bastion.dir.path())
            .contains("SSN ***-**-****")
            .then_some(())
    })
    .expect("recorded, masked, like any command");
    assert!(!recording_text(bastion.dir.path()).contains("123-45-6789"));
}

/// `bastion mask-test --config CONFIG ARGS` with `input` on stdin.
fn mask_test(config: &std::path::Path, args: &[&str], input: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(bastion_bin())
        .args(["mask-test", "--config"])
        .arg(config)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn mask_test_and_config_check_show_the_rules() {
    let w = world();
    let o = mask_test(
        &w.bastion.config,
        &[],
        b"MRN: AB1234567 SSN 123-45-6789 ok\n",
    );
    assert!(o.status.success());
    assert_eq!(stdout(&o), "MRN: ********* SSN ***-**-**** ok\n");
    assert!(
        stderr(&o).contains("2 identifiers masked"),
        "{}",
        stderr(&o)
    );
    let o = run(Command::new(bastion_bin())
        .args(["config", "check", "--masking", "--config"])
        .arg(&w.bastion.config));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("hipaa"), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("longest possible match"),
        "{}",
        stdout(&o)
    );

    // With --target (and --role), the rules in effect on that target through those roles.
    let scoped = w.bastion.dir.path().join("scoped.toml");
    let text = std::fs::read_to_string(&w.bastion.config).unwrap();
    std::fs::write(
        &scoped,
        format!("{text}\n[[masking.rules]]\nname = \"specimen\"\npattern = 'SPC-\\d{{6}}'\ntargets = [\"env=test\"]\nroles = [\"ops\"]\n"),
    )
    .unwrap();
    for (args, want) in [
        (&[][..], "tube ***-******\n"),
        (&["--target", "t1"][..], "tube SPC-123456\n"),
        (
            &["--target", "t1", "--role", "ops"][..],
            "tube ***-******\n",
        ),
    ] {
        let o = mask_test(&scoped, args, b"tube SPC-123456\n");
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert_eq!(stdout(&o), want, "{args:?}");
    }
    let o = mask_test(&scoped, &["--target", "nope"], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no target is named \"nope\""),
        "{}",
        stderr(&o)
    );
    for (role, listed) in [(None, false), (Some("ops"), true)] {
        let o = run(Command::new(bastion_bin())
            .args(["config", "check", "--masking", "--target", "t1", "--config"])
            .arg(&scoped)
            .args(role.map(|r| ["--role", r]).iter().flatten()));
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stdout(&o).contains("specimen"), listed, "{}", stdout(&o));
    }
}

/// Output that stops after an identifier, then goes on after a pause much longer than the
/// live hold: `sleep` in a script, an editor or pager waiting for a key (issue 13 item 3).
/// Parts come from variables so that the command line, whose echo is shown as typed, holds
/// none of the identifiers.
const PAUSED: &str = "x=123; c=1111; d=example.org; printf \"ssn $x-45-6789\"; sleep 0.5; printf \" card 4111 1111 1111 $c\"; sleep 0.5; printf \" mail jane.doe@$d\"; sleep 0.5; echo";
const PAUSED_MASKED: &str = "ssn ***-**-**** card **** **** **** **** mail ****.***@*******.***";
const PAUSED_RAW: [&str; 3] = ["123-45-6789", "4111 1111 1111 1111", "jane.doe@example.org"];

#[test]
fn an_identifier_before_a_pause_is_masked_on_screen() {
    let w = world();
    let o = run(&mut w.alice.ssh("t1@127.0.0.1", &[PAUSED]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("{PAUSED_MASKED}\n"));
    w.bastion.wait_log("recording sealed");
    let rec = recording_text(w.bastion.dir.path());
    for raw in PAUSED_RAW {
        assert!(!rec.contains(raw), "{raw} in recording");
    }
}

/// The screen once it has not changed for half a second (the live hold is 15 ms), or after 15
/// seconds.
fn settled(t: &Tmux) -> String {
    let start = std::time::Instant::now();
    let mut last = t.screen();
    let mut since = start;
    while start.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(100));
        let now = t.screen();
        if now != last {
            last = now;
            since = std::time::Instant::now();
        } else if since.elapsed() >= Duration::from_millis(500) {
            break;
        }
    }
    last
}

/// An interactive bash on `t1` through a bastion with live masking, in tmux, wide enough for
/// the longest command typed here.
struct RemoteShell {
    tmux: Tmux,
    bastion: tests::Bastion,
    _sshd: tests::Sshd,
}

fn remote_shell() -> RemoteShell {
    let b = BastionBuilder::new();
    let sshd = b.sshd("t1");
    let bastion = b
        .target("t1", &sshd, "")
        .role(crate::fixture::OPS_ROLE)
        .start();
    let alice = bastion.user("alice@example.test", "ops");
    let tmux = Tmux::start(&alice.remote_bash("t1@127.0.0.1"), 200, 30);
    tmux.wait_for("REMOTE$", Duration::from_secs(15));
    RemoteShell {
        tmux,
        bastion,
        _sshd: sshd,
    }
}

#[test]
fn an_identifier_before_a_pause_is_masked_in_an_interactive_shell() {
    let s = remote_shell();
    let t = &s.tmux;
    t.type_text(PAUSED);
    t.keys(&["Enter"]);
    t.wait_for(PAUSED_MASKED, Duration::from_secs(15));
    let screen = settled(t);
    for raw in PAUSED_RAW {
        assert!(!screen.contains(raw), "{raw} shown:\n{screen}");
    }
}

/// A file of 200 rows, each ending with an SSN, on the target (the sshd runs on this host), in
/// a directory of its own.
fn ssn_file(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let dir = dir.join("files");
    std::fs::create_dir_all(&dir).unwrap();
    let text: String = (1..=200)
        .map(|i| format!("row {i:03} ssn 123-45-{:04}\n", 6000 + i))
        .collect();
    std::fs::write(dir.join(name), text).unwrap();
    dir
}

/// What `bastion play --cat` shows of every recording `bastion` made.
fn played(bastion: &tests::Bastion) -> String {
    casts(&bastion.dir.path().join("recordings"))
        .iter()
        .map(|cast| {
            let o = run(Command::new(bastion_bin())
                .args(["play", "--cat"])
                .arg(cast)
                .arg("--config")
                .arg(&bastion.config));
            assert!(o.status.success(), "{}", stderr(&o));
            stdout(&o)
        })
        .collect()
}

/// Opens the SSN file called `name` with `command` (a pager or editor) in the remote shell,
/// pages down twice with `keys`, and checks after each screen that no SSN (nor any of
/// `hidden`) is shown as it is; `quit` leaves it. Then the session ends, and neither the
/// recording nor what `bastion play --cat` shows of it holds any of them. The file is named
/// with a glob, so that the command line typed does not hold the name.
fn page_through(command: &str, name: &str, hidden: &[&str], keys: &[&str], quit: &[&str]) {
    let s = remote_shell();
    let t = &s.tmux;
    let dir = ssn_file(s.bastion.dir.path(), name);
    t.type_text(&format!("{command} {}/*", dir.display()));
    t.keys(&["Enter"]);
    // A row that must be on the next screen: the first, then the one after the last shown.
    let mut next_row = 1;
    for page in 0..3 {
        if page > 0 {
            t.keys(keys);
        }
        t.wait_for(
            &format!("row {next_row:03} ssn ***-**-****"),
            Duration::from_secs(15),
        );
        let screen = settled(t);
        for raw in std::iter::once(&"123-45-6").chain(hidden) {
            assert!(
                !screen.contains(raw),
                "page {page}: {raw:?} shown as it is:\n{screen}"
            );
        }
        next_row = screen
            .lines()
            .filter_map(|l| l.strip_prefix("row ")?.get(..3)?.parse::<u32>().ok())
            .max()
            .unwrap_or(next_row)
            + 1;
    }
    t.keys(quit);
    t.wait_for("REMOTE$", Duration::from_secs(15));
    t.type_text("exit");
    t.keys(&["Enter"]);
    t.wait_for("SSH-EXIT=", Duration::from_secs(15));
    s.bastion.wait_log("recording sealed");
    let recorded = recording_text(s.bastion.dir.path());
    let shown = played(&s.bastion);
    assert!(
        shown.contains("row 001 ssn ***-**-****"),
        "the file is not in the recording:\n{shown}"
    );
    for raw in std::iter::once(&"123-45-6").chain(hidden) {
        assert!(!recorded.contains(raw), "{raw:?} in the recording");
        assert!(!shown.contains(raw), "{raw:?} played back:\n{shown}");
    }
}

/// vim without a vimrc (compatible, no ruler: as `vi` and vim-tiny run) draws its status line,
/// then the rows, parks the cursor and waits for a key: the last thing written is a row's SSN.
#[test]
fn vim_shows_a_file_of_identifiers_masked_on_every_screen() {
    page_through(
        "vim -u NONE -n -i NONE",
        "ssns.txt",
        &[],
        &["C-f"],
        &[":q!", "Enter"],
    );
}

/// vim as most people run it (defaults.vim: no compatible mode, a ruler) ends each row with
/// cursor moves and erases instead of a newline, and draws the ruler right after the last row:
/// `…123-45-6002\x1b[2;24H\x1b[K\x1b[3;1Hrow 003…`, `…6029\x1b[30;183H1,1`.
#[test]
fn vim_with_its_defaults_shows_a_file_of_identifiers_masked_on_every_screen() {
    page_through(
        "vim -u DEFAULTS -n -i NONE",
        "ssns.txt",
        &[],
        &["C-f"],
        &[":q!", "Enter"],
    );
}

/// less ends its first screen with the file's name as the prompt: a mailbox named by its
/// address.
#[test]
fn less_shows_a_file_of_identifiers_masked_on_every_screen() {
    let name = "jane.doe@example.org";
    page_through("less", name, &[name], &["C-f"], &["q"]);
}
