//! Shell approvals that cannot be stepped around (issue 13, item 1): every way a typed line
//! reaches the shell's execution is judged before the shell sees its end, as the logical
//! command without the prompt; each case deletes nothing until a reviewer decides.

use std::process::{Command, Stdio};
use std::time::Duration;

use tests::{run, stderr, stdout, Bastion, BastionBuilder, Sshd, Tmux, User};

const RULES: [&str; 2] = [
    "name = \"destructive\"\ncommand = 'rm\\s+-rf|(?i)drop\\s+table'\napprovers = [\"leads\"]\ntimeout = \"60s\"",
    "name = \"anchored\"\ncommand = '^touch\\s'\napprovers = [\"leads\"]\ntimeout = \"60s\"",
];

const WAIT: Duration = Duration::from_secs(20);

struct World {
    bastion: Bastion,
    _sshd: Sshd,
    alice: User,
    bob: User,
}

fn world() -> World {
    let b = BastionBuilder::new();
    let sshd = b.sshd("t1");
    let mut b = b
        .target("t1", &sshd, "")
        .role("name = \"ops\"\nprincipals = [\"ops\"]\ntargets = [\"*\"]\nlogins = [\"root\"]")
        .role(
            "name = \"leads\"\nprincipals = [\"leads\"]\ntargets = [\"*\"]\nallow = [\"review\"]",
        );
    for rule in RULES {
        b = b.section("approval.rules", rule);
    }
    let bastion = b.start();
    let alice = bastion.user("alice@example.test", "ops");
    let bob = bastion.user("bob@example.test", "leads");
    World {
        bastion,
        _sshd: sshd,
        alice,
        bob,
    }
}

impl World {
    /// Runs a command on t1 (one no rule matches) and returns its output.
    fn exec(&self, cmd: &str) -> String {
        let o = run(&mut self.alice.ssh("t1@127.0.0.1", &[cmd]));
        assert!(o.status.success(), "{cmd}: {}", stderr(&o));
        stdout(&o)
    }

    /// A fresh directory on t1 for a case to try to delete.
    fn victim(&self, name: &str) -> String {
        let dir = format!("/tmp/bastion-victim-{name}-{}", tests::free_port());
        self.exec(&format!("mkdir -p {dir}"));
        dir
    }

    fn exists(&self, path: &str) -> bool {
        self.exec(&format!("test -e {path} && echo yes || echo no"))
            .trim()
            == "yes"
    }

    /// Requests held so far.
    fn held_count(&self) -> usize {
        self.bastion.log().matches("held for approval").count()
    }

    /// Waits for the request held after `seen` others; returns its number and the command
    /// reviewers are shown.
    fn next_request(&self, seen: usize) -> (i64, String) {
        tests::wait_for(WAIT, || (self.held_count() > seen).then_some(()))
            .unwrap_or_else(|| panic!("nothing held:\n{}", self.bastion.log()));
        let o = run(&mut self.bob.ssh("review@127.0.0.1", &["list --json"]));
        let rows = tests::json_lines(&stdout(&o));
        let last = rows
            .iter()
            .max_by_key(|r| r["id"].as_i64().unwrap())
            .unwrap_or_else(|| panic!("no request listed: {}", stdout(&o)));
        (
            last["id"].as_i64().unwrap(),
            last["command"].as_str().unwrap().to_string(),
        )
    }

    fn decide(&self, id: i64, how: &str) {
        let o = run(&mut self
            .bob
            .ssh("review@127.0.0.1", &[&format!("{how} {id} --reason test")]));
        assert!(o.status.success(), "{}", stderr(&o));
    }

    /// The request held after `seen` shows `command`; `dir` is still there while it waits and
    /// after it is denied.
    fn held_and_denied(&self, seen: usize, command: &str, dir: &str) {
        let (id, shown) = self.next_request(seen);
        assert_eq!(shown, command);
        assert!(self.exists(dir), "{dir} deleted before any decision");
        self.decide(id, "deny");
        std::thread::sleep(Duration::from_millis(500));
        assert!(self.exists(dir), "{dir} deleted although denied");
    }

    /// An interactive bash on t1 in tmux, prompt `REMOTE$ `.
    fn bash(&self, cols: u16) -> Tmux {
        let t = Tmux::start(&self.alice.remote_bash("t1@127.0.0.1"), cols, 30);
        t.wait_for("REMOTE$", WAIT);
        t
    }
}

/// Waits until `line` (a prompt and what was typed) is on the screen, as a person would before
/// pressing a key.
fn on_screen(t: &Tmux, line: &str) {
    tests::wait_for(WAIT, || {
        t.screen()
            .lines()
            .any(|l| l.trim_end() == line.trim_end())
            .then_some(())
    })
    .unwrap_or_else(|| panic!("{line:?} not on the screen:\n{}", t.screen()));
}

#[test]
fn lines_ended_by_other_keys_than_enter_are_judged() {
    let w = world();
    let t = w.bash(120);
    // Ctrl-J is a newline, Ctrl-O is bash's operate-and-get-next: both run the line.
    for key in ["C-j", "C-o"] {
        let dir = w.victim(key);
        let seen = w.held_count();
        t.type_text(&format!("rm -rf {dir}"));
        on_screen(&t, &format!("REMOTE$ rm -rf {dir}"));
        t.keys(&[key]);
        w.held_and_denied(seen, &format!("rm -rf {dir}"), &dir);
        t.wait_for("the line was not run", WAIT);
    }
    // The shell still works, and an approved line runs.
    let dir = w.victim("approved");
    let seen = w.held_count();
    t.type_text(&format!("rm -rf {dir}"));
    on_screen(&t, &format!("REMOTE$ rm -rf {dir}"));
    t.keys(&["Enter"]);
    let (id, _) = w.next_request(seen);
    w.decide(id, "approve");
    tests::wait_for(WAIT, || (!w.exists(&dir)).then_some(())).expect("approved line ran");
}

#[test]
fn a_backslash_continuation_is_judged_with_the_line_before_it() {
    let w = world();
    let t = w.bash(120);
    let dir = w.victim("continued");
    let seen = w.held_count();
    t.type_text("rm \\");
    t.keys(&["Enter"]);
    on_screen(&t, "> ");
    t.type_text(&format!(" -rf {dir}"));
    on_screen(&t, &format!(">  -rf {dir}"));
    t.keys(&["Enter"]);
    w.held_and_denied(seen, &format!("rm -rf {dir}"), &dir);
}

#[test]
fn a_wrapped_line_is_judged_whole_wherever_the_cursor_is() {
    let w = world();
    let t = w.bash(40);
    let dir = w.victim("wrapped");
    let seen = w.held_count();
    let line = format!("echo {}; rm -rf {dir}", "a".repeat(50));
    t.type_text(&line);
    t.wait_for(&dir, WAIT);
    std::thread::sleep(Duration::from_millis(300));
    // Ctrl-A: the cursor goes to the first row, far from the part that deletes.
    t.keys(&["C-a"]);
    std::thread::sleep(Duration::from_millis(300));
    t.keys(&["Enter"]);
    w.held_and_denied(seen, &line, &dir);
}

#[test]
fn keys_typed_before_the_first_prompt_are_judged_after_it() {
    let w = world();
    let dir = w.victim("ahead");
    let seen = w.held_count();
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "(printf 'rm -rf {dir}\\r'; sleep 4; printf 'exit\\r') | {} -tt t1@127.0.0.1",
            w.alice.ssh_line("", "")
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    w.held_and_denied(seen, &format!("rm -rf {dir}"), &dir);
    let o = child.wait_with_output().unwrap();
    assert!(
        stdout(&o).contains("the line was not run"),
        "{}",
        stdout(&o)
    );
    assert!(w.exists(&dir));
}

/// Runs the scripted client (`tests/clients/raw_shell.py`) in the background.
fn raw_shell(w: &World, when: &str, text: &str, seconds: u32) -> std::process::Child {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/raw_shell.py");
    Command::new("python3")
        .arg(script)
        .arg(w.bastion.port.to_string())
        .arg("t1")
        .arg(&w.alice.key)
        .arg(&w.alice.cert)
        .args([when, text, &seconds.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn raw_newlines_and_data_before_the_shell_request_are_judged() {
    let w = world();
    // A bare `\n` from a scripted client, once the shell is up.
    let dir = w.victim("raw");
    let seen = w.held_count();
    let child = raw_shell(&w, "after", &format!("rm -rf {dir}\\n"), 10);
    w.held_and_denied(seen, &format!("rm -rf {dir}"), &dir);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("the line was not run"),
        "{}",
        stdout(&o)
    );
    // Data sent before the shell request: held until the prompt, then judged like typing.
    let dir = w.victim("early");
    let seen = w.held_count();
    let child = raw_shell(&w, "before", &format!("rm -rf {dir}\\r"), 10);
    w.held_and_denied(seen, &format!("rm -rf {dir}"), &dir);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(w.exists(&dir));
}

/// Whether `cmd`, run as `ssh t1 CMD`, is held; any request is denied.
fn exec_held(w: &World, cmd: &str) -> bool {
    let seen = w.held_count();
    let mut child = w
        .alice
        .ssh("t1@127.0.0.1", &[cmd])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let held = tests::wait_for(Duration::from_secs(10), || {
        if w.held_count() > seen {
            return Some(true);
        }
        child.try_wait().unwrap().map(|_| false)
    })
    .expect("neither held nor finished");
    if held {
        let (id, _) = w.next_request(seen);
        w.decide(id, "deny");
    }
    let _ = child.wait();
    held
}

/// Whether `cmd`, typed in the shell `t`, is held; any request is denied. `done` is a line the
/// command prints when it runs.
fn typed_held(w: &World, t: &Tmux, cmd: &str, done: &str) -> bool {
    let seen = w.held_count();
    t.keys(&["C-l"]);
    t.type_text(cmd);
    on_screen(t, &format!("REMOTE$ {cmd}"));
    t.keys(&["Enter"]);
    let held = tests::wait_for(Duration::from_secs(10), || {
        if w.held_count() > seen {
            return Some(true);
        }
        t.screen()
            .lines()
            .any(|l| l.trim() == done)
            .then_some(false)
    })
    .unwrap_or_else(|| panic!("neither held nor run: {cmd}\n{}", t.screen()));
    if held {
        let (id, shown) = w.next_request(seen);
        assert_eq!(shown, cmd.trim());
        w.decide(id, "deny");
        t.wait_for("the line was not run", WAIT);
    }
    held
}

#[test]
fn the_same_rule_decides_alike_for_exec_and_typed_lines() {
    let w = world();
    let t = w.bash(150);
    let file = format!("/tmp/bastion-anchor-{}", tests::free_port());
    // (command, held?) — each prints `ran-N` when it runs.
    let cases = [
        (format!("touch {file}-1; echo ran-1"), true),
        (format!("echo touch {file}-2; echo ran-2"), false),
        (format!("echo ran-3; rm -rf {file}-3"), true),
        ("echo DROP   TABLE users; echo ran-4".to_string(), true),
        ("echo droptable; echo ran-5".to_string(), false),
        (format!("  touch {file}-6; echo ran-6"), true),
    ];
    for (i, (cmd, held)) in cases.iter().enumerate() {
        let done = format!("ran-{}", i + 1);
        assert_eq!(exec_held(&w, cmd), *held, "exec: {cmd}");
        assert_eq!(typed_held(&w, &t, cmd, &done), *held, "typed: {cmd}");
    }
}

/// Runs `sh -c SCRIPT` in the background, its output piped.
fn spawn_sh(script: &str) -> std::process::Child {
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn commands_an_interpreter_reads_from_stdin_are_judged_line_by_line() {
    let w = world();
    let ssh = |args: &str| w.alice.ssh_line(args, "t1@127.0.0.1");
    // The issue's case: a shell reading its commands from stdin, denied.
    let dir = w.victim("stdin");
    let seen = w.held_count();
    let child = spawn_sh(&format!("echo 'rm -rf {dir}' | {} bash", ssh("")));
    w.held_and_denied(seen, &format!("rm -rf {dir}"), &dir);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(126), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("this line and the rest of the input were not run"),
        "{}",
        stderr(&o)
    );
    // Lines before a held one run at once; approved, the rest follows.
    let dir = w.victim("script");
    let seen = w.held_count();
    let child = spawn_sh(&format!(
        "printf 'echo one\\nrm -rf {dir}\\necho three\\n' | {} bash -s",
        ssh("")
    ));
    let (id, shown) = w.next_request(seen);
    assert_eq!(shown, format!("rm -rf {dir}"));
    assert!(w.exists(&dir));
    w.decide(id, "approve");
    let o = child.wait_with_output().unwrap();
    assert_eq!(stdout(&o), "one\nthree\n", "{}", stderr(&o));
    assert!(!w.exists(&dir));
    // A shell without a terminal (`ssh -T` with a script on stdin), and a line split over two
    // by a backslash.
    let dir = w.victim("nopty");
    let seen = w.held_count();
    let child = spawn_sh(&format!(
        "printf 'echo before\\nrm \\\\\\n -rf {dir}\\n' | {}",
        ssh("-T")
    ));
    w.held_and_denied(seen, &format!("rm -rf {dir}"), &dir);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(126), "{}", stderr(&o));
    assert!(stdout(&o).contains("before"), "{}", stdout(&o));
    // Another interpreter.
    let dir = w.victim("python");
    let seen = w.held_count();
    let child = spawn_sh(&format!(
        "echo \"import os; os.system('rm -rf {dir}')\" | {} python3",
        ssh("")
    ));
    let (id, shown) = w.next_request(seen);
    assert!(shown.contains(&format!("rm -rf {dir}")), "{shown}");
    w.decide(id, "deny");
    assert_eq!(child.wait_with_output().unwrap().status.code(), Some(126));
    assert!(w.exists(&dir));
    // Programs that do not run their stdin, and interpreters given their command, are not
    // held: data passes untouched.
    let o = run(Command::new("sh")
        .arg("-c")
        .arg(format!("printf 'rm -rf /nowhere\\n' | {} cat", ssh(""))));
    assert_eq!(stdout(&o), "rm -rf /nowhere\n", "{}", stderr(&o));
    let o = run(Command::new("sh").arg("-c").arg(format!(
        "printf 'rm -rf /nowhere\\n' | {} 'bash -c \"wc -l\"'",
        ssh("")
    )));
    assert_eq!(stdout(&o).trim(), "1", "{}", stderr(&o));
}

#[test]
fn alt_keys_and_preloaded_lines_do_not_step_around_the_judge() {
    let w = world();
    let t = w.bash(120);
    // bash's M-1 M-#: uncomments the line and runs it.
    let dir = w.victim("meta");
    let seen = w.held_count();
    t.type_text(&format!("#rm -rf {dir}"));
    on_screen(&t, &format!("REMOTE$ #rm -rf {dir}"));
    t.keys(&["M-1", "M-#"]);
    let (id, _) = w.next_request(seen);
    assert!(w.exists(&dir));
    w.decide(id, "deny");
    t.wait_for("the line was not run", WAIT);
    t.keys(&["C-c"]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(w.exists(&dir), "{dir} deleted");
    // Ctrl-O runs a recalled line and puts the next one from history on the new line: what the
    // shell put there is judged with what is typed after it.
    let dir = w.victim("preload");
    t.type_text("true");
    t.keys(&["Enter"]);
    t.type_text("rm");
    t.keys(&["Enter"]);
    t.wait_for("missing operand", WAIT);
    t.keys(&["Up", "Up"]);
    on_screen(&t, "REMOTE$ true");
    t.keys(&["C-o"]);
    on_screen(&t, "REMOTE$ rm");
    let seen = w.held_count();
    t.type_text(&format!(" -rf {dir}"));
    on_screen(&t, &format!("REMOTE$ rm -rf {dir}"));
    t.keys(&["Enter"]);
    let (id, shown) = w.next_request(seen);
    assert!(shown.contains(&format!("-rf {dir}")), "{shown}");
    assert!(w.exists(&dir));
    w.decide(id, "deny");
    std::thread::sleep(Duration::from_millis(500));
    assert!(w.exists(&dir), "{dir} deleted");
}

#[test]
fn stdin_tricks_do_not_step_around_the_judge() {
    let w = world();
    let ssh = |args: &str| w.alice.ssh_line(args, "t1@127.0.0.1");
    for (name, script) in [
        // The interpreter after another command, and a NUL the shell drops.
        (
            "compound",
            "printf 'rm -rf %s\\n' | {ssh} 'cd /tmp && bash'",
        ),
        ("nul", "printf 'r\\0m -rf %s\\n' | {ssh} bash"),
        ("flags", "printf 'rm -rf %s\\n' | {ssh} bash -euo pipefail"),
    ] {
        let dir = w.victim(name);
        let seen = w.held_count();
        let cmd = script.replace("%s", &dir).replace("{ssh}", &ssh(""));
        let child = spawn_sh(&cmd);
        w.held_and_denied(seen, &format!("rm -rf {dir}"), &dir);
        assert_eq!(
            child.wait_with_output().unwrap().status.code(),
            Some(126),
            "{name}"
        );
    }
}
