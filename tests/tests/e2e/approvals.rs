//! Exec commands held until another person approves them (issue 6, items 1, 2, 4 (exec
//! commands), 5, 6).

use std::process::{Child, Output, Stdio};
use std::time::Duration;

use tests::{run, stderr, stdout, Bastion, BastionBuilder, Postgres, Sshd, User};

const RULE: &str =
    "name = \"no-drops\"\ncommand = '(?i)\\bdrop\\b'\napprovers = [\"leads\"]\ntimeout = \"20s\"";

struct World {
    bastion: Bastion,
    _sshd: Sshd,
    alice: User,
    bob: User,
}

fn roles(b: BastionBuilder, rule: &str) -> BastionBuilder {
    b.role("name = \"ops\"\nprincipals = [\"ops\"]\ntargets = [\"*\"]\nlogins = [\"root\"]")
        .role("name = \"leads\"\nprincipals = [\"leads\"]\ntargets = [\"*\"]\nallow = [\"review\"]")
        .section("approval.rules", rule)
}

fn world(rule: &str) -> World {
    world_from(BastionBuilder::new(), rule)
}

/// [`world`], from a builder already given other settings.
fn world_from(b: BastionBuilder, rule: &str) -> World {
    let sshd = b.sshd("t1");
    let bastion = roles(b.target("t1", &sshd, ""), rule).start();
    let alice = bastion.user("alice@example.test", "ops,leads");
    let bob = bastion.user("bob@example.test", "leads");
    World {
        bastion,
        _sshd: sshd,
        alice,
        bob,
    }
}

fn spawn(user: &User, cmd: &str) -> Child {
    user.ssh("t1@127.0.0.1", &[cmd])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for a request to be held and returns its number.
fn held(bastion: &Bastion) -> i64 {
    bastion.held_request()
}

fn review(user: &User, args: &str) -> Output {
    run(&mut user.ssh("review@127.0.0.1", &[args]))
}

#[test]
fn held_exec_runs_once_approved() {
    let w = world(RULE);
    let child = spawn(&w.alice, "echo ran-$((6*7)); echo drop the test table");
    let id = held(&w.bastion);
    let list = review(&w.bob, "list");
    assert!(
        stdout(&list).contains("alice@example.test") && stdout(&list).contains("no-drops"),
        "{}",
        stdout(&list)
    );
    let json = review(&w.bob, "list --json");
    assert!(
        stdout(&json).contains(&format!("\"id\":{id}")),
        "{}",
        stdout(&json)
    );
    // Nobody approves their own request, even from an approver group.
    let own = review(&w.alice, &format!("approve {id}"));
    assert_eq!(own.status.code(), Some(1));
    assert!(stderr(&own).contains("is yours"), "{}", stderr(&own));
    let ok = review(&w.bob, &format!("approve {id} --reason looks fine"));
    assert!(ok.status.success(), "{}", stderr(&ok));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "ran-42\ndrop the test table\n");
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "held for approval: request {id} (rule \"no-drops\") — waiting"
        )),
        "{err}"
    );
    assert!(err.contains("approved by bob@example.test"), "{err}");
    // The recording carries the request and the decision.
    w.bastion.wait_log("recording sealed");
    let rec: String = crate::recording::casts(&w.bastion.dir.path().join("recordings"))
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert!(
        rec.contains(&format!("approval requested: request {id}")),
        "{rec}"
    );
    assert!(
        rec.contains(&format!(
            "approval granted: request {id} by bob@example.test"
        )),
        "{rec}"
    );
}

#[test]
fn denied_and_timed_out_exec_exits_126_with_the_reason() {
    let w = world(&RULE.replace("20s", "3s"));
    let child = spawn(&w.alice, "drop database prod # 123-45-6789");
    let id = held(&w.bastion);
    // The reviewer sees the command as the audit row stores it: masked.
    let list = stdout(&review(&w.bob, "list"));
    assert!(
        list.contains("drop database prod # ***-**-****") && !list.contains("123-45-6789"),
        "{list}"
    );
    let no_reason = review(&w.bob, &format!("deny {id}"));
    assert_eq!(no_reason.status.code(), Some(2));
    let d = review(
        &w.bob,
        &format!("deny {id} --reason not during business hours, see 123-45-6789"),
    );
    assert!(d.status.success(), "{}", stderr(&d));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(126));
    assert!(
        // The reviewer's free text is masked like everything stored.
        stderr(&out)
            .contains("denied by bob@example.test: not during business hours, see ***-**-****"),
        "{}",
        stderr(&out)
    );

    let started = std::time::Instant::now();
    let out = spawn(&w.alice, "echo drop").wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(126));
    assert!(
        stderr(&out).contains("timed out after 3s"),
        "{}",
        stderr(&out)
    );
    assert!(started.elapsed() < Duration::from_secs(15));
    let h = review(&w.bob, "history");
    assert!(
        stdout(&h).contains("denied") && stdout(&h).contains("timed_out"),
        "{}",
        stdout(&h)
    );
    let a = tests::audit(&w.bastion.config, &["approvals"]);
    assert!(a.status.success(), "{}", stderr(&a));
    assert!(
        stdout(&a).contains("bob@example.test denied: not during business hours, see ***-**-****")
            && !stdout(&a).contains("123-45-6789"),
        "{}",
        stdout(&a)
    );
    // Commands that match no rule are not held.
    let o = run(&mut w.alice.ssh("t1@127.0.0.1", &["echo fine"]));
    assert_eq!(stdout(&o), "fine\n");
}

#[test]
fn input_sent_while_a_command_is_held_is_recorded_once_it_runs() {
    use std::io::Write;
    let w = world_from(
        BastionBuilder::new().section_table("recording", "record_input = true"),
        RULE,
    );
    let (bastion, alice, bob) = (&w.bastion, &w.alice, &w.bob);
    let mut child = alice
        .ssh("t1@127.0.0.1", &["cat # drop"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = held(bastion);
    // Typed while the command waits: it reaches the target only after approval, and the
    // recording has it as input like anything typed later.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"sent-while-held 123-45-6789\n").unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let ok = review(bob, &format!("approve {id}"));
    assert!(ok.status.success(), "{}", stderr(&ok));
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        stdout(&out),
        "sent-while-held ***-**-****\n",
        "{}",
        stderr(&out)
    );
    bastion.wait_log("recording sealed");
    let rec: String = crate::recording::casts(&bastion.dir.path().join("recordings"))
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert!(
        rec.lines()
            .any(|l| l.contains("\"i\"") && l.contains("sent-while-held ***-**-****")),
        "{rec}"
    );
    assert!(!rec.contains("123-45-6789"), "{rec}");
}

#[test]
fn review_needs_a_review_role() {
    let w = world(RULE);
    let carol = w.bastion.user("carol@example.test", "ops");
    let o = review(&carol, "list");
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("no role of yours allows the review console"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_request_held_on_one_bastion_is_approved_through_another() {
    let pg = Postgres::launch();
    let url = pg.create_database("shared_audit");
    let b1 = BastionBuilder::new();
    let sshd = b1.sshd("t1");
    let keys = b1.path("keys");
    let a = roles(
        b1.section_table("audit", &format!("database = \"{url}\"\ninstance = \"a\""))
            .target("t1", &sshd, ""),
        RULE,
    )
    .start();
    // The second bastion shares the keys and the database.
    let b2 = BastionBuilder::sharing_keys(&keys);
    let b = roles(
        b2.section_table("audit", &format!("database = \"{url}\"\ninstance = \"b\""))
            .target("t1", &sshd, ""),
        RULE,
    )
    .start();
    let alice = a.user("alice@example.test", "ops");
    let mut bob = a.user("bob@example.test", "leads");
    bob.port = b.port;
    let child = spawn(&alice, "echo approved-elsewhere; echo drop");
    let id = held(&a);
    let ok = review(&bob, &format!("approve {id}"));
    assert!(ok.status.success(), "{}", stderr(&ok));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("approved-elsewhere"));
}

#[test]
fn requests_beyond_the_per_user_limit_are_refused_at_once() {
    let w = world_from(
        BastionBuilder::new().section_table("approval", "max_pending_per_user = 2"),
        RULE,
    );
    let (bastion, alice, bob) = (&w.bastion, &w.alice, &w.bob);
    let waiting = |n: usize| {
        tests::wait_for(Duration::from_secs(15), || {
            (bastion.log().matches("held for approval").count() >= n).then_some(())
        })
        .unwrap_or_else(|| panic!("{n} requests were not held:\n{}", bastion.log()))
    };
    let first = spawn(alice, "echo one; echo drop");
    waiting(1);
    let second = spawn(alice, "echo two; echo drop");
    waiting(2);
    // A third while two wait: refused at once, not queued for the reviewers.
    let started = std::time::Instant::now();
    let out = spawn(alice, "echo three; echo drop")
        .wait_with_output()
        .unwrap();
    assert_eq!(out.status.code(), Some(126), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "2 approval requests of yours are already waiting for a decision (the most one \
             person may have); not run"
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&out), "");
    assert!(started.elapsed() < Duration::from_secs(10));
    let pending = tests::audit_json(&bastion.config, "approvals", &[]);
    assert_eq!(
        pending.iter().filter(|r| r["state"] == "pending").count(),
        2,
        "{pending:?}"
    );
    assert!(bastion
        .log()
        .contains("approval request refused: too many waiting"));
    // A shell line past the limit is refused the same way, and not run.
    let t = sh_session(&w);
    t.type_text("echo drop-$((1+1))");
    on_screen(
        &t,
        "SH-PROMPT echo drop-$((1+1))",
        1,
        Duration::from_secs(20),
    );
    t.keys(&["Enter"]);
    t.wait_for(
        "bastion: 2 approval requests of yours are already waiting for a decision (the most \
         one person may have); the line was not run",
        Duration::from_secs(20),
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !t.screen().lines().any(|l| l.trim() == "drop-2"),
        "{}",
        t.screen()
    );
    // Once one is decided, the next request is held again.
    let ids: Vec<i64> = pending.iter().filter_map(|r| r["id"].as_i64()).collect();
    let ok = review(bob, &format!("approve {}", ids[0]));
    assert!(ok.status.success(), "{}", stderr(&ok));
    let fourth = spawn(alice, "echo four; echo drop");
    waiting(3);
    for id in tests::audit_json(&bastion.config, "approvals", &[])
        .iter()
        .filter(|r| r["state"] == "pending")
        .filter_map(|r| r["id"].as_i64())
    {
        let ok = review(bob, &format!("approve {id}"));
        assert!(ok.status.success(), "{}", stderr(&ok));
    }
    let mut ran: Vec<String> = [first, second, fourth]
        .into_iter()
        .map(|c| stdout(&c.wait_with_output().unwrap()))
        .collect();
    ran.sort();
    assert_eq!(ran, ["four\ndrop\n", "one\ndrop\n", "two\ndrop\n"]);
}

const SHELL_RULE: &str = "name = \"no-drops\"\ncommand = '(?i)\\b(drop|truncate)'\napprovers = [\"leads\"]\ntimeout = \"30s\"";

/// Waits for the next held request after `after` and returns its number.
fn next_held(bastion: &Bastion, after: usize) -> i64 {
    let log = tests::wait_for(Duration::from_secs(15), || {
        let l = bastion.log();
        (l.matches("shell line held for approval").count() > after).then_some(l)
    })
    .unwrap_or_else(|| panic!("no held line:\n{}", bastion.log()));
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("shell line held for approval"))
        .unwrap();
    line.split("request=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap()
}

/// Waits until `line` (a prompt and what was typed or recalled) is a whole line of the screen
/// `times` times: Enter is pressed once the shell has echoed the line, as a person would. (The
/// bastion judges the line on the screen at Enter, and waits for the echo only so long.)
fn on_screen(t: &tests::Tmux, line: &str, times: usize, wait: Duration) {
    tests::wait_for(wait, || {
        let n = t.screen().lines().filter(|l| l.trim_end() == line).count();
        (n >= times).then_some(())
    })
    .unwrap_or_else(|| panic!("{line:?} not {times} times on the screen:\n{}", t.screen()));
}

#[test]
fn interactive_bash_lines_are_held_at_enter() {
    let w = world(SHELL_RULE);
    // (Quoted so that this exec itself does not match the rule.)
    let o = run(&mut w
        .alice
        .ssh("t1@127.0.0.1", &["touch /tmp/bastion-d''ropzone.txt"]));
    assert!(o.status.success());
    let t = tests::Tmux::start(&w.alice.remote_bash("t1@127.0.0.1"), 120, 40);
    let wait = Duration::from_secs(20);
    t.wait_for("REMOTE$", wait);
    // A harmless line is not held.
    t.type_text("echo ok-$((2+2))");
    t.keys(&["Enter"]);
    t.wait_for("ok-4", wait);

    // Held, then approved: Enter reaches the shell only then.
    t.type_text("echo drop-$((6*7))");
    on_screen(&t, "REMOTE$ echo drop-$((6*7))", 1, wait);
    t.keys(&["Enter"]);
    let id = next_held(&w.bastion, 0);
    let s = t.wait_for(&format!("held for approval: request {id}"), wait);
    // Reviewers see the requester's screen (masked) with the request.
    let j = review(&w.bob, "list --json");
    assert!(
        stdout(&j).contains("\"screen\":\"") && stdout(&j).contains("ok-4"),
        "{}",
        stdout(&j)
    );
    assert!(!s.contains("drop-42\n"), "{s}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !t.screen().lines().any(|l| l.trim() == "drop-42"),
        "ran before approval:\n{}",
        t.screen()
    );
    assert!(review(&w.bob, &format!("approve {id}")).status.success());
    t.wait_for("approved by bob@example.test", wait);
    tests::wait_for(wait, || {
        t.screen()
            .lines()
            .any(|l| l.trim() == "drop-42")
            .then_some(())
    })
    .unwrap_or_else(|| panic!("approved line did not run:\n{}", t.screen()));

    // Recalled from history (Up), then denied: the line is cleared, not run.
    t.keys(&["Up"]);
    on_screen(&t, "REMOTE$ echo drop-$((6*7))", 2, wait);
    t.keys(&["Enter"]);
    let id2 = next_held(&w.bastion, 1);
    assert_ne!(id, id2);
    assert!(review(&w.bob, &format!("deny {id2} --reason no"))
        .status
        .success());
    t.wait_for("denied by bob@example.test: no; the line was not run", wait);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        t.screen().lines().filter(|l| l.trim() == "drop-42").count(),
        1,
        "{}",
        t.screen()
    );

    // Tab completion: what is judged is the completed line on the screen.
    t.type_text("cat /tmp/bastion-dro");
    t.keys(&["Tab"]);
    t.wait_for("bastion-dropzone.txt", wait);
    t.keys(&["Enter"]);
    let id3 = next_held(&w.bastion, 2);
    // Ctrl-C cancels the request at the user's side.
    t.keys(&["C-c"]);
    t.wait_for("cancelled; the line was not run", wait);
    let h = review(&w.bob, "history");
    assert!(
        stdout(&h).contains("cancelled"),
        "{} (request {id3})",
        stdout(&h)
    );
}

/// Alice in a plain `sh -i` on t1 (no line editing), its prompt on the screen.
fn sh_session(w: &World) -> tests::Tmux {
    let t = tests::Tmux::start(
        &format!(
            "{} -tt t1@127.0.0.1 'PS1=\"SH-PROMPT \" exec sh -i'; sleep 60",
            w.alice.ssh_line("", "")
        ),
        120,
        40,
    );
    t.wait_for("SH-PROMPT", Duration::from_secs(20));
    t
}

/// Bob denies the first held line; the user is told, and the line's output (`output`, a whole
/// line) never appears.
fn deny_first_held_line(w: &World, t: &tests::Tmux, output: &str) {
    let id = next_held(&w.bastion, 0);
    assert!(review(&w.bob, &format!("deny {id} --reason nope"))
        .status
        .success());
    t.wait_for("denied by bob@example.test: nope", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !t.screen().lines().any(|l| l.trim() == output),
        "{}",
        t.screen()
    );
}

#[test]
fn interactive_sh_lines_are_held_and_denied() {
    let w = world(SHELL_RULE);
    let t = sh_session(&w);
    let wait = Duration::from_secs(20);
    t.type_text("echo truncate-$((3*3))");
    on_screen(&t, "SH-PROMPT echo truncate-$((3*3))", 1, wait);
    t.keys(&["Enter"]);
    deny_first_held_line(&w, &t, "truncate-9");
    // The shell still works, and the cleared line left nothing behind.
    t.type_text("echo after-$((5*5))");
    t.keys(&["Enter"]);
    t.wait_for("after-25", wait);
    assert!(!t.screen().contains("truncate-9"), "{}", t.screen());
}

#[test]
fn every_line_of_a_paste_is_judged() {
    let w = world(SHELL_RULE);
    let t = tests::Tmux::start(&w.alice.remote_bash("t1@127.0.0.1"), 100, 24);
    let wait = Duration::from_secs(20);
    t.wait_for("REMOTE$", wait);
    // Two lines arrive in one write, as a paste does: the second is held like a typed one.
    t.type_text("echo first-$((1+1))\recho truncate-$((3*3))\r");
    t.wait_for("first-2", wait);
    deny_first_held_line(&w, &t, "truncate-9");
}

#[test]
fn a_recalled_line_the_shell_never_shows_is_not_run() {
    let w = world(SHELL_RULE);
    let t = sh_session(&w);
    let wait = Duration::from_secs(20);
    t.type_text("stty -echo");
    on_screen(&t, "SH-PROMPT stty -echo", 1, wait);
    t.keys(&["Enter"]);
    // Nothing typed is echoed from now on. Plain typing with no echo (a password, say) goes
    // through after a short wait: the bastion cannot see it, as the threat model says.
    tests::wait_for(wait, || {
        (t.screen().matches("SH-PROMPT").count() >= 2).then_some(())
    })
    .expect("a second prompt");
    t.type_text("echo quiet-$((2+3))");
    t.keys(&["Enter"]);
    t.wait_for("quiet-5", wait);
    // A completion (Tab) whose result never reaches the screen: the line is unknown, so it is
    // dropped with a reason rather than let through.
    t.type_text("echo tab-$((3+4))");
    t.keys(&["Tab", "Enter"]);
    t.wait_for("could not be checked; it was not run", wait);
    std::thread::sleep(Duration::from_millis(500));
    assert!(!t.screen().contains("tab-7"), "{}", t.screen());
    w.bastion
        .wait_log("line not run: recalled text never reached the screen");
    // The shell still works.
    t.type_text("echo after-$((5*5))");
    t.keys(&["Enter"]);
    t.wait_for("after-25", wait);
    assert!(!t.screen().contains("tab-7"), "{}", t.screen());
}

/// A minimal HTTP endpoint: answers 500 to the first POST, 200 to the rest, keeps the bodies.
fn webhook_sink() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = bodies.clone();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().take(20).enumerate() {
            let Ok(mut s) = stream else { continue };
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read headers, then the body by Content-Length.
            while let Ok(k) = s.read(&mut chunk) {
                if k == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..k]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().to_string())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        seen.lock().unwrap().push(text[end + 4..].to_string());
                        break;
                    }
                }
            }
            let status = if n == 0 {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = s.write_all(
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
    });
    (port, bodies)
}

#[test]
fn webhook_hears_requests_and_decisions_despite_failures() {
    let (port, bodies) = webhook_sink();
    let b = BastionBuilder::new();
    let sshd = b.sshd("t1");
    let bastion = roles(
        b.section_table(
            "approval",
            &format!("webhook = \"http://127.0.0.1:{port}/hook\""),
        )
        .target("t1", &sshd, ""),
        RULE,
    )
    .start();
    let alice = bastion.user("alice@example.test", "ops");
    let bob = bastion.user("bob@example.test", "leads");
    let child = spawn(&alice, "echo drop");
    let id = held(&bastion);
    assert!(review(&bob, &format!("deny {id} --reason webhook test"))
        .status
        .success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(126));
    let got = tests::wait_for(Duration::from_secs(15), || {
        let b = bodies.lock().unwrap().clone();
        (b.iter().any(|x| x.contains("\"decided\""))
            && b.iter().any(|x| x.contains("\"requested\"")))
        .then_some(b)
    })
    .unwrap_or_else(|| {
        panic!(
            "webhook bodies: {:?}\n{}",
            bodies.lock().unwrap(),
            bastion.log()
        )
    });
    let decided = got.iter().find(|x| x.contains("\"decided\"")).unwrap();
    assert!(
        decided.contains("\"state\":\"denied\"") && decided.contains("webhook test"),
        "{decided}"
    );
    assert!(decided.contains(&format!("\"request\":{id}")), "{decided}");
    // The first attempt was refused (500) and retried.
    bastion.wait_log("approval webhook refused the event");
}

#[test]
fn review_console_shows_the_request_and_approves_it() {
    let w = world(RULE);
    let child = spawn(&w.alice, "echo console-$((6*7)); echo drop");
    let id = held(&w.bastion);
    let t = tests::Tmux::start(
        &format!("{} -tt review@127.0.0.1; sleep 30", w.bob.ssh_line("", "")),
        140,
        30,
    );
    let wait = Duration::from_secs(20);
    let screen = t.wait_for("pending requests", wait);
    assert!(screen.contains("bob@example.test"), "{screen}");
    let screen = t.wait_for("alice@example.test", wait);
    assert!(
        screen.contains("no-drops") && screen.contains(&id.to_string()),
        "{screen}"
    );
    // The console follows a resize.
    t.resize(100, 24);
    t.wait_for("pending requests", wait);
    t.keys(&["a"]);
    t.wait_for("reason:", wait);
    t.type_text("ok from console");
    t.keys(&["Enter"]);
    t.wait_for(&format!("request {id} approved"), wait);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("console-42"));
    t.keys(&["h"]);
    let screen = t.wait_for("decided requests", wait);
    assert!(screen.contains("approved"), "{screen}");
    t.keys(&["q"]);
}

#[test]
fn review_console_watches_a_live_session_read_only_and_masked() {
    let w = world(RULE);
    let wait = Duration::from_secs(20);
    let user = tests::Tmux::start(&w.alice.remote_bash("t1@127.0.0.1"), 100, 24);
    user.wait_for("REMOTE$", wait);
    let console = tests::Tmux::start(
        &format!("{} -tt review@127.0.0.1; sleep 30", w.bob.ssh_line("", "")),
        120,
        30,
    );
    console.wait_for("pending requests", wait);
    console.keys(&["s"]);
    console.wait_for("live sessions", wait);
    console.wait_for("alice@example.test", wait);
    // The reviewer starts watching just after the output appears: the recording writes its
    // lines out at checkpoints (about a second apart), so the console has the recording
    // written out first, then rebuilds the screen from it.
    user.type_text("echo live-$((7*6)) SSN 123-45-$((6000+789))");
    user.keys(&["Enter"]);
    user.wait_for("live-42", wait);
    console.keys(&["Enter"]);
    let s = console.wait_for("watching", wait);
    assert!(s.contains("(read only, masked)"), "{s}");
    // The screen so far is rebuilt from the recording; new output follows live.
    console.wait_for("live-42 SSN ***-**-****", wait);
    user.type_text("echo next-$((1+1))");
    user.keys(&["Enter"]);
    let s = console.wait_for("next-2", wait);
    assert!(!s.contains("6789"), "{s}");
    // Keys typed in the console do not reach the watched session.
    console.type_text("echo typed-by-reviewer");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !user.screen().contains("typed-by-reviewer"),
        "{}",
        user.screen()
    );
    console.keys(&["q"]);
    console.wait_for("live sessions", wait);
}

#[test]
fn a_held_command_whose_client_gives_up_never_runs() {
    let w = world(RULE);
    let marker = w.bastion.dir.path().join("ran-after-giving-up");
    // Over a ControlMaster, killing the client closes only its channel, not the connection.
    let master = w
        .alice
        .control_master("t1@127.0.0.1", &w.bastion.dir.path().join("cm.sock"));
    let mut client = master
        .ssh(&format!("echo drop; touch {}", marker.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let id = held(&w.bastion);
    client.kill().unwrap();
    let _ = client.wait();
    w.bastion
        .wait_log("the client closed the channel while its command was held");
    // The request is cancelled: a reviewer arriving later has nothing to approve.
    let cancelled = tests::wait_for(Duration::from_secs(10), || {
        tests::audit_json(&w.bastion.config, "approvals", &[])
            .into_iter()
            .find(|r| r["id"] == id && r["state"] == "cancelled")
    });
    assert!(
        cancelled.is_some(),
        "the abandoned request was not cancelled"
    );
    let late = review(&w.bob, &format!("approve {id} --reason late"));
    assert!(!late.status.success());
    assert!(stderr(&late).contains("cancelled"), "{}", stderr(&late));
    std::thread::sleep(Duration::from_secs(1));
    assert!(!marker.exists(), "the abandoned command ran");
    // The connection itself carries on.
    let o = run(&mut master.ssh("echo still-here"));
    assert_eq!(stdout(&o), "still-here\n", "{}", stderr(&o));
}

/// Issue 19, item 8: without a terminal, a held command's stderr gets a line at each step of
/// the wait (a tenth of the rule's timeout, at least 5 s) with the time waited and left; the
/// decision ends it with who decided and after how long; a timeout with its reason.
#[test]
fn the_wait_shows_time_waited_and_left_one_line_per_step() {
    let w = world(RULE);
    let child = spawn(&w.alice, "echo drop it");
    let id = held(&w.bastion);
    std::thread::sleep(Duration::from_millis(11_500));
    let ok = review(&w.bob, &format!("approve {id}"));
    assert!(ok.status.success(), "{}", stderr(&ok));
    let out = child.wait_with_output().unwrap();
    assert_eq!(stdout(&out), "drop it\n", "{}", stderr(&out));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    let steps: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains(" left"))
        .collect();
    assert_eq!(
        steps,
        vec![
            format!("bastion: request {id}: waiting 5s, 15s left"),
            format!("bastion: request {id}: waiting 10s, 10s left"),
        ],
        "{err}"
    );
    assert!(!err.contains('\r'), "{err:?}");
    let last = lines.last().unwrap();
    assert!(
        last.starts_with("bastion: approved by bob@example.test after 1")
            && last.ends_with(&format!("s: request {id}")),
        "{err}"
    );

    // Timed out: the steps, then the reason.
    let w = world(&RULE.replace("20s", "7s"));
    let out = spawn(&w.alice, "echo drop").wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(126));
    let err = stderr(&out);
    let steps = err.lines().filter(|l| l.contains(" left")).count();
    assert_eq!(steps, 1, "{err}");
    assert!(err.contains(": waiting 5s, 2s left\n"), "{err}");
    assert!(
        err.lines()
            .last()
            .unwrap()
            .contains("timed out after 7s: nobody decided"),
        "{err}"
    );
}

/// Issue 19, item 8: on a terminal the status is one line rewritten in place every second,
/// erased when the decision is told.
#[test]
fn the_wait_on_a_terminal_is_one_line_updated_in_place() {
    let w = world(RULE);
    let wait = Duration::from_secs(20);
    let t = tests::Tmux::start(
        &format!(
            "{} -tt t1@127.0.0.1 'echo drop-$((6*7))'; echo SSH-EXIT=$?; sleep 60",
            w.alice.ssh_line("", "")
        ),
        100,
        24,
    );
    let id = held(&w.bastion);
    t.wait_for(&format!("request {id}: waiting 2s, 18s left"), wait);
    let s = t.wait_for(&format!("request {id}: waiting 4s, 16s left"), wait);
    assert_eq!(s.matches(" left").count(), 1, "{s}");
    assert!(review(&w.bob, &format!("approve {id}")).status.success());
    let s = t.wait_for("SSH-EXIT=0", wait);
    assert!(s.contains("approved by bob@example.test after "), "{s}");
    assert!(s.contains("drop-42"), "{s}");
    assert!(!s.contains(" left"), "the status line stayed:\n{s}");
}
