#!/usr/bin/env python3
"""The bastion against OpenSSH on loopback (project issue 7). Started by `bench/run`.

Three paths to one real sshd target, measured in the same run, alternating:

* bastion: `ssh LOGIN@t1@bastion` (release build, user certificate, recording + PHI masking on:
  they are always on; recordings go to a directory on /dev/shm);
* ProxyJump: `ssh -J jump target` through a second real sshd (the OpenSSH figure);
* direct: `ssh target` (the floor).

Only the Python standard library; only loopback addresses; every loop bounded in count and
time; every process started here ended at exit (SIGTERM/SIGINT included).
"""

import argparse
import datetime
import json
import os
import platform
import pty
import random
import re
import select
import threading
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TICK = os.sysconf("SC_CLK_TCK")
KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
T0 = time.monotonic()

PATHS = ("bastion", "proxyjump", "direct")
LABEL = {"bastion": "bastion", "proxyjump": "OpenSSH ProxyJump", "direct": "direct"}


class BenchError(Exception):
    pass


def log(msg):
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Processes: everything started is remembered and ended (with its descendants) at exit.

STARTED = []  # Popen objects
FORKED = []  # pids from pty.fork
TOKEN = ""  # the temporary directory: every client command line names it (-F DIR/ssh_config)


def spawn(args, **kw):
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.Popen(args, **kw)
    STARTED.append(p)
    return p


def forget(p):
    try:
        STARTED.remove(p)
    except ValueError:
        pass


def proc_children():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        ppid = int(s.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    return kids


def descendants(pid, kids=None):
    kids = proc_children() if kids is None else kids
    out, stack = [], [pid]
    while stack and len(out) < 100000:
        for c in kids.get(stack.pop(), []):
            out.append(c)
            stack.append(c)
    return out


def ours_by_token():
    """Processes whose command line names this run's directory (our ssh clients)."""
    found = []
    if not TOKEN:
        return found
    me = os.getpid()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                if TOKEN.encode() in f.read():
                    found.append(int(d))
        except OSError:
            pass
    return found


def kill_all():
    kids = proc_children()
    pids = set()
    for p in STARTED:
        if p.poll() is None:
            pids.add(p.pid)
        pids.update(descendants(p.pid, kids))
    for pid in FORKED:
        pids.add(pid)
        pids.update(descendants(pid, kids))
    pids.update(ours_by_token())
    pids.discard(os.getpid())
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = []
        for pid in pids:
            try:
                os.kill(pid, sig)
                alive.append(pid)
            except OSError:
                pass
        if not alive:
            break
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            for p in STARTED:
                p.poll()
            for pid in FORKED:
                try:
                    os.waitpid(pid, os.WNOHANG)
                except OSError:
                    pass
            if not any(os.path.exists(f"/proc/{pid}") and not zombie(pid) for pid in alive):
                break
            time.sleep(0.05)
    for p in STARTED:
        try:
            p.wait(timeout=1)
        except Exception:
            pass
    STARTED.clear()
    FORKED.clear()


def zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def on_signal(signum, _frame):
    raise SystemExit(128 + signum)


# --------------------------------------------------------------------------------------------
# /proc readings


def stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def cpu_ticks(pid, children=True):
    """utime+stime (+cutime+cstime of reaped children) in ticks."""
    f = stat_fields(pid)
    t = int(f[11]) + int(f[12])
    if children:
        t += int(f[13]) + int(f[14])
    return t


def tree_cpu_seconds(pid):
    """CPU seconds of a process, its reaped children and its live descendants."""
    total = 0
    for p in [pid] + descendants(pid):
        try:
            total += cpu_ticks(p)
        except OSError:
            pass
    return total / TICK


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_pss_kib(pid):
    return sum(pss_kib(p) for p in [pid] + descendants(pid))


def tree_rss_kib(pid):
    total = 0
    for p in [pid] + descendants(pid):
        try:
            total += status_kib(p, "VmRSS")
        except OSError:
            pass
    return total


def wait_quiet(pid, timeout=10.0):
    """Waits until `pid` has no children left (sshd: every session reaped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not descendants(pid):
            return True
        time.sleep(0.05)
    return False


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# --------------------------------------------------------------------------------------------
# Helpers


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args, timeout=60, check=True, **kw):
    kw.setdefault("stdin", subprocess.DEVNULL)
    kw.setdefault("capture_output", True)
    r = subprocess.run(args, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise BenchError(f"{' '.join(map(str, args))} exited {r.returncode}: {r.stderr[-2000:]!r}")
    return r


def median(xs):
    return statistics.median(xs) if xs else None


def pct(xs, q):
    if not xs:
        return None
    s = sorted(xs)
    k = min(len(s) - 1, max(0, int(round(q / 100 * (len(s) - 1)))))
    return s[k]


def rotations(n):
    """Orders for n alternating rounds: bastion first, then ProxyJump first, then direct first."""
    return [PATHS[i % 3:] + PATHS[: i % 3] for i in range(n)]


def wait_for_text(path, needle, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path, errors="replace") as f:
                text = f.read()
            if needle in text:
                return text
        except OSError:
            pass
        time.sleep(0.05)
    return None


# --------------------------------------------------------------------------------------------
# Test data

FIRST = ["james", "mary", "robert", "patricia", "john", "jennifer", "michael", "linda", "wei",
         "ana", "olga", "raj", "fatima", "kenji", "lucia", "ahmed"]
LAST = ["smith", "johnson", "garcia", "chen", "nguyen", "patel", "kowalski", "okafor", "silva",
        "muller", "rossi", "tanaka", "haddad", "ivanova"]
SERVICES = ["api", "intake", "scheduler", "billing", "auth", "lab-results", "pharmacy", "imaging"]
PATHS_HTTP = ["/v1/patients/{n}", "/v1/encounters/{n}/notes", "/v1/claims/{n}", "/healthz",
              "/v1/appointments?day=2024-0{d}-1{d}", "/v1/labs/{n}/results", "/static/app.{n}.js"]


def make_log_chunk(rng, approx_bytes, start_ts):
    """Log-like lines; about 1 in 12 carries a PHI-like value (SSN, email, phone, MRN, DOB)."""
    lines, size, ts = [], 0, start_ts
    levels = ["INFO"] * 14 + ["DEBUG"] * 4 + ["WARN"] * 2 + ["ERROR"]
    while size < approx_bytes:
        ts += rng.random() * 0.02
        t = time.gmtime(ts)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{int(ts * 1000) % 1000:03d}Z"
        lvl = rng.choice(levels)
        svc = rng.choice(SERVICES)
        r = rng.random()
        req = f"{rng.getrandbits(48):012x}"
        if r < 0.02:
            ssn = f"{rng.randint(100, 665):03d}-{rng.randint(10, 99):02d}-{rng.randint(1000, 9999):04d}"
            msg = f"patient lookup ssn={ssn} result=match score=0.{rng.randint(10, 99)}"
        elif r < 0.04:
            em = f"{rng.choice(FIRST)}.{rng.choice(LAST)}{rng.randint(1, 99)}@example-health.org"
            msg = f"notification queued to={em} template=appt_reminder"
        elif r < 0.055:
            ph = f"({rng.randint(201, 989)}) {rng.randint(200, 999)}-{rng.randint(1000, 9999)}"
            msg = f"sms callback phone {ph} status=delivered"
        elif r < 0.07:
            msg = f"chart opened MRN: {rng.choice('ABCDEFGH')}{rng.randint(1000000, 9999999)} by dr_{rng.choice(LAST)}"
        elif r < 0.085:
            msg = (f"intake form {rng.choice(FIRST).title()} {rng.choice(LAST).title()} DOB: "
                   f"19{rng.randint(40, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}")
        else:
            p = rng.choice(PATHS_HTTP).format(n=rng.randint(1, 999999), d=rng.randint(1, 9))
            msg = (f"{rng.choice(['GET', 'GET', 'GET', 'POST', 'PUT'])} {p} "
                   f"status={rng.choice([200, 200, 200, 201, 204, 304, 404, 500])} "
                   f"dur_ms={rng.randint(1, 900)} bytes={rng.randint(0, 65536)} "
                   f"client=10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}")
        line = f"{stamp} {lvl:<5} [{svc}-{rng.randint(1, 8)}] req={req} {msg}\n"
        lines.append(line)
        size += len(line)
    return "".join(lines).encode(), ts


def make_big_log(path, total):
    """`total` bytes of log lines: a ~16 MiB block of generated lines, written again and again
    with a different (generated) first line per block so no two blocks are identical."""
    rng = random.Random(7)
    block, ts = make_log_chunk(rng, min(total, 16 * MiB), 1714521600.0)
    written = 0
    with open(path, "wb") as f:
        i = 0
        while written < total:
            head, ts = make_log_chunk(rng, 200, ts)
            piece = head + block
            piece = piece[: total - written]
            f.write(piece)
            written += len(piece)
            i += 1


def make_big_bin(path, total):
    with open(path, "wb") as f:
        left = total
        while left > 0:
            n = min(left, 8 * MiB)
            f.write(os.urandom(n))
            left -= n


# --------------------------------------------------------------------------------------------
# The world: two sshd, the bastion, keys, a client ssh_config


class World:
    def __init__(self, args):
        self.args = args
        self.dir = tempfile.mkdtemp(prefix="bastion-bench-")
        shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
        self.recdir_root = tempfile.mkdtemp(prefix="bastion-bench-rec-", dir=shm)
        self.recdir = os.path.join(self.recdir_root, "recordings")
        global TOKEN
        TOKEN = self.dir
        self.bin = args.bin or os.path.join(ROOT, "target", "release", "bastion")
        self.cfg = os.path.join(self.dir, "ssh_config")
        self.sshd = {}
        self.bastion = None
        self.bastion_port = free_port()
        self.bastion_log = None
        self.tdir = os.path.join(self.dir, "target-data")
        self.big_log = os.path.join(self.tdir, "big.log")
        self.big_bin = os.path.join(self.tdir, "big.bin")
        self.dl = os.path.join(self.recdir_root, "download")
        self.generation = 0
        self.login = args.login
        self.created_login = False

    def path(self, *p):
        return os.path.join(self.dir, *p)

    def keygen(self, path):
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f", path])

    def ensure_login(self):
        """The login used on the target: a plain /bin/sh account, so every session costs what a
        session costs, not what this machine's root dotfiles cost (here `pyenv init` in
        ~/.bashrc, which bash runs for every sshd session, about 150 ms). Created for the run
        and removed at exit when it did not exist before."""
        home = self.path("home")
        os.makedirs(home, exist_ok=True)
        if self.login == "root":
            return
        if run(["id", self.login], check=False).returncode != 0:
            run(["useradd", "--system", "--no-create-home", "--home-dir", home, "--shell", "/bin/sh",
                 self.login])
            self.created_login = True
        else:
            run(["usermod", "--home", home, "--shell", "/bin/sh", self.login])
        # "*": no password but not locked (sshd without PAM refuses locked accounts).
        run(["usermod", "-p", "*", self.login])
        shutil.chown(home, self.login)

    def remove_login(self):
        if self.created_login:
            run(["userdel", self.login], check=False)
            self.created_login = False

    def setup(self):
        os.makedirs("/run/sshd", exist_ok=True)
        os.chmod(self.dir, 0o755)  # the target login reads the test data and authorized_keys
        self.ensure_login()
        os.makedirs(self.tdir)
        os.makedirs(self.dl)
        run([self.bin, "ca", "init", "--dir", self.path("keys")])
        self.keygen(self.path("client_ed25519"))
        with open(self.path("client_ed25519.pub")) as f, open(self.path("authorized_keys"), "w") as o:
            o.write(f.read())
        os.chmod(self.path("authorized_keys"), 0o644)
        self.start_sshd("target", ca=True)
        self.start_sshd("jump", ca=False)
        self.write_bastion_config()
        self.start_bastion()
        for key, principal in (("user_ed25519", "bench"), ("nolive_ed25519", "bench-nolive")):
            self.keygen(self.path(key))
            run([self.bin, "ca", "sign", "--config", self.path("bastion.toml"), "--principals",
                 principal, "--identity", f"{principal}@example.test", "--ttl", "8h",
                 self.path(key + ".pub")])
        self.write_ssh_config()

    def start_sshd(self, name, ca):
        d = self.path(name)
        os.makedirs(d)
        self.keygen(os.path.join(d, "host_ed25519"))
        port = free_port()
        lines = [
            "ListenAddress 127.0.0.1", f"Port {port}", f"HostKey {d}/host_ed25519",
            f"PidFile {d}/sshd.pid", "UsePAM no", "StrictModes no", "PermitRootLogin yes",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes", f"AuthorizedKeysFile {self.path('authorized_keys')}",
            "LogLevel INFO", "AllowTcpForwarding yes", "Subsystem sftp internal-sftp",
            # 1,000 sessions arrive through one bastion (target) or are tunnelled (jump).
            "MaxStartups 2000", "MaxSessions 200", "ClientAliveInterval 0", "UseDNS no",
            "PrintMotd no", "PrintLastLog no", "Banner none", "AcceptEnv LANG LC_*",
        ]
        if ca:
            lines.append(f"TrustedUserCAKeys {self.path('keys', 'target_ca.pub')}")
        cfg = os.path.join(d, "sshd_config")
        with open(cfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        logf = os.path.join(d, "sshd.log")
        p = spawn(["/usr/sbin/sshd", "-D", "-e", "-f", cfg], stdout=subprocess.DEVNULL,
                  stderr=open(logf, "w"))
        if wait_for_text(logf, "Server listening", 15) is None:
            raise BenchError(f"sshd {name} did not start: {open(logf).read()[-2000:]}")
        with open(os.path.join(d, "host_ed25519.pub")) as f:
            host_key = " ".join(f.read().split()[:2])
        self.sshd[name] = {"port": port, "proc": p, "dir": d, "host_key": host_key, "log": logf}

    def write_bastion_config(self):
        t = self.sshd["target"]
        text = f"""# written by bench/run
[server]
listen = "127.0.0.1:{self.bastion_port}"
host_key = "keys/host_ed25519"
# Every session comes from one address (loopback): the per-source admission limits that keep
# one address from locking others out would refuse the benchmark's bursts of 1,000 sessions.
max_unauthenticated = 2048
max_unauthenticated_per_source = 2048
early_drop_from = 2048
connection_rate_per_source = 100000

[ca]
user_ca = "keys/user_ca"
target_ca = "keys/target_ca"

[recording]
dir = "{self.recdir}"

[[targets]]
name = "t1"
host = "127.0.0.1"
port = {t['port']}
host_key = "{t['host_key']}"
default_login = "{self.login}"

[[roles]]
name = "bench"
principals = ["bench"]
targets = ["*"]
logins = ["{self.login}"]
allow = ["shell", "exec", "sftp"]
idle_timeout = "2h"

# The same, without masking the screen (recordings stay masked): informational rows only.
[[roles]]
name = "bench-nolive"
principals = ["bench-nolive"]
targets = ["*"]
logins = ["{self.login}"]
allow = ["shell", "exec", "sftp"]
idle_timeout = "2h"
live_masking = false
"""
        with open(self.path("bastion.toml"), "w") as f:
            f.write(text)

    def start_bastion(self):
        """(Re)starts the bastion on its fixed port; a restart gives fresh memory figures."""
        self.stop_bastion()
        self.generation += 1
        self.bastion_log = self.path(f"bastion-{self.generation}.log")
        env = dict(os.environ, BASTION_LOG="info,russh=warn")
        self.bastion = spawn([self.bin, "serve", "--config", self.path("bastion.toml")],
                             env=env, stdout=subprocess.DEVNULL, stderr=open(self.bastion_log, "w"))
        if wait_for_text(self.bastion_log, "bastion listening", 30) is None:
            raise BenchError(f"bastion did not start: {open(self.bastion_log).read()[-3000:]}")

    def stop_bastion(self):
        if self.bastion is None:
            return
        self.bastion.terminate()
        try:
            self.bastion.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.bastion.kill()
            self.bastion.wait()
        forget(self.bastion)
        self.bastion = None

    def write_ssh_config(self):
        t, j = self.sshd["target"], self.sshd["jump"]
        key = self.path("client_ed25519")
        text = f"""# written by bench/run
Host jump
  HostName 127.0.0.1
  Port {j['port']}
  User root
  IdentityFile {key}
Host target
  HostName 127.0.0.1
  Port {t['port']}
  User {self.login}
  IdentityFile {key}
Host jump-gcm
  HostName 127.0.0.1
  Port {j['port']}
  User root
  IdentityFile {key}
  Ciphers aes128-gcm@openssh.com
Host target-gcm
  HostName 127.0.0.1
  Port {t['port']}
  User {self.login}
  IdentityFile {key}
  Ciphers aes128-gcm@openssh.com
Host bastion
  HostName 127.0.0.1
  Port {self.bastion_port}
  User {self.login}@t1
  IdentityFile {self.path('user_ed25519')}
  CertificateFile {self.path('user_ed25519-cert.pub')}
Host bastion-nolive
  HostName 127.0.0.1
  Port {self.bastion_port}
  User {self.login}@t1
  IdentityFile {self.path('nolive_ed25519')}
  CertificateFile {self.path('nolive_ed25519-cert.pub')}
Host *
  IdentitiesOnly yes
  IdentityAgent none
  UserKnownHostsFile /dev/null
  StrictHostKeyChecking no
  LogLevel ERROR
  BatchMode yes
  ControlMaster no
  ControlPath none
  ForwardAgent no
  ForwardX11 no
  ServerAliveInterval 0
  ConnectTimeout 30
"""
        with open(self.cfg, "w") as f:
            f.write(text)

    # How each path is reached.
    def ssh(self, path, *opts):
        base = ["ssh", "-F", self.cfg, *opts]
        return {
            "bastion": base + ["bastion"],
            "nolive": base + ["bastion-nolive"],
            "proxyjump": base + ["-J", "jump", "target"],
            # Both hops on the cipher the bastion negotiates, for the like-for-like row.
            "proxyjump-gcm": base + ["-J", "jump-gcm", "target-gcm"],
            "direct": base + ["target"],
        }[path]

    def scp(self, path, remote, local):
        base = ["scp", "-q", "-F", self.cfg]
        return {
            "bastion": base + [f"bastion:{remote}", local],
            "proxyjump": base + ["-J", "jump", f"target:{remote}", local],
            "direct": base + [f"target:{remote}", local],
        }[path]

    @property
    def bpid(self):
        return self.bastion.pid

    @property
    def jpid(self):
        return self.sshd["jump"]["proc"].pid

    @property
    def tpid(self):
        return self.sshd["target"]["proc"].pid

    def clear_recordings(self):
        shutil.rmtree(self.recdir, ignore_errors=True)
        os.makedirs(self.recdir, exist_ok=True)

    def bastion_log_text(self):
        with open(self.bastion_log, errors="replace") as f:
            return f.read()

    def cleanup_dirs(self):
        self.remove_login()
        if self.args.keep:
            log(f"kept {self.dir} and {self.recdir_root}")
            return
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.recdir_root, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Figures


class Results:
    def __init__(self):
        self.rows = []  # dicts: key, figure, unit, better, bastion, openssh, direct, target, ok, note
        self.raw = {}
        self.notes = []

    def add(self, key, figure, unit, better, bastion, openssh, direct=None, target=None,
            ok=None, note="", ratio=True):
        r = None
        if ratio and bastion is not None and openssh not in (None, 0):
            r = bastion / openssh
        self.rows.append(dict(key=key, figure=figure, unit=unit, better=better, bastion=bastion,
                              openssh=openssh, direct=direct, ratio=r, target=target, ok=ok,
                              note=note))
        log(f"  {figure}: bastion={fmt(bastion)} openssh={fmt(openssh)} direct={fmt(direct)} "
            f"ratio={fmt(r, 2)} {'' if ok is None else ('OK' if ok else 'MISSED ' + (target or ''))}")


def fmt(v, digits=None):
    if v is None:
        return "–"
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return f"{v:,}"
    if digits is not None:
        return f"{v:.{digits}f}"
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def phase_sanity(w, res):
    log("sanity: each path runs a command")
    for p in PATHS:
        r = run(w.ssh(p, "-o", "BatchMode=yes") + ["echo ok-$((40+2))"], timeout=60)
        if b"ok-42" not in r.stdout:
            raise BenchError(f"{p}: unexpected output {r.stdout!r} {r.stderr!r}")
    # Negotiated ciphers (client side of the first hop) for the notes.
    ciphers, kex = {}, {}
    for p in PATHS:
        r = run(w.ssh(p, "-v") + ["true"], timeout=60, check=False)
        c = re.findall(rb"kex: server->client cipher: (\S+)", r.stderr)
        k = re.findall(rb"kex: algorithm: (\S+)", r.stderr)
        ciphers[p] = [x.decode() for x in c]
        kex[p] = [x.decode() for x in k]
    res.raw["ciphers_client_side"] = ciphers
    res.raw["kex_client_side"] = kex


def phase_throughput(w, res, a):
    size = a.big_log_bytes
    reps = a.reps
    log(f"throughput: cat of a {size / MiB:.0f} MiB log, {reps} alternating rounds")
    times = {p: [] for p in PATHS}
    cpu_bastion, cpu_jump = [], []
    client_cpu = {p: [] for p in PATHS}
    deadline = time.monotonic() + a.phase_budget
    for order in rotations(reps):
        for p in order:
            if time.monotonic() > deadline:
                raise BenchError("throughput phase over its time budget")
            w.clear_recordings()
            wait_quiet(w.jpid)
            b0 = cpu_ticks(w.bpid) / TICK
            j0 = tree_cpu_seconds(w.jpid)
            c0 = os.times()
            t0 = time.perf_counter()
            run(w.ssh(p) + [f"cat {w.big_log}"], timeout=a.op_timeout, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, capture_output=False)
            dt = time.perf_counter() - t0
            c1 = os.times()
            wait_quiet(w.jpid)
            times[p].append(dt)
            client_cpu[p].append((c1.children_user + c1.children_system
                                  - c0.children_user - c0.children_system) / (size / GiB))
            if p == "bastion":
                cpu_bastion.append((cpu_ticks(w.bpid) / TICK - b0) / (size / GiB))
            if p == "proxyjump":
                cpu_jump.append((tree_cpu_seconds(w.jpid) - j0) / (size / GiB))
            log(f"  cat {p}: {dt:.2f}s = {size / MiB / dt:.0f} MiB/s")
    # Like for like: ProxyJump with both hops forced to AES-GCM, the cipher the bastion
    # negotiates, alternating with the bastion again.
    gcm = {"bastion": [], "proxyjump-gcm": []}
    gcm_cpu = {"bastion": [], "proxyjump-gcm": []}
    r = run(w.ssh("proxyjump-gcm", "-v") + ["true"], timeout=60, check=False)
    res.raw["ciphers_proxyjump_gcm"] = [x.decode() for x in
                                        re.findall(rb"kex: server->client cipher: (\S+)", r.stderr)]
    for i in range(reps):
        for p in (("bastion", "proxyjump-gcm") if i % 2 == 0 else ("proxyjump-gcm", "bastion")):
            if time.monotonic() > deadline + a.phase_budget / 2:
                raise BenchError("throughput phase (AES-GCM rows) over its time budget")
            w.clear_recordings()
            wait_quiet(w.jpid)
            b0, j0 = cpu_ticks(w.bpid) / TICK, tree_cpu_seconds(w.jpid)
            t0 = time.perf_counter()
            run(w.ssh(p) + [f"cat {w.big_log}"], timeout=a.op_timeout, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, capture_output=False)
            gcm[p].append(time.perf_counter() - t0)
            wait_quiet(w.jpid)
            gcm_cpu[p].append(((cpu_ticks(w.bpid) / TICK - b0) if p == "bastion"
                               else (tree_cpu_seconds(w.jpid) - j0)) / (size / GiB))
            log(f"  cat {p}: {gcm[p][-1]:.2f}s = {size / MiB / gcm[p][-1]:.0f} MiB/s")
    res.raw["throughput_cat_gcm_s"] = gcm
    gcm_mibs = {p: size / MiB / median(gcm[p]) for p in gcm}
    res.add("cat_mibs_gcm", f"`cat` {size // MiB} MiB as above, ProxyJump with both hops forced to "
            f"aes128-gcm@openssh.com (the bastion's cipher where the CPU has AES instructions; "
            f"negotiated: {', '.join(res.raw['ciphers_proxyjump_gcm']) or 'unknown'}; median of "
            f"{len(gcm['bastion'])}, "
            f"alternating)", "MiB/s", "higher", gcm_mibs["bastion"], gcm_mibs["proxyjump-gcm"],
            None, "≥ 1.0×", gcm_mibs["bastion"] >= gcm_mibs["proxyjump-gcm"])
    res.add("cpu_per_gib_gcm", "Server CPU per GiB, same runs (bastion vs jump sshd + children, "
            "AES-GCM)", "CPU-s/GiB", "lower", median(gcm_cpu["bastion"]),
            median(gcm_cpu["proxyjump-gcm"]), None, "≤ 1.5×",
            median(gcm_cpu["bastion"]) <= 1.5 * median(gcm_cpu["proxyjump-gcm"]))
    # One more bastion run with live_masking = false (recordings still masked): what the screen
    # masker costs.
    w.clear_recordings()
    b0 = cpu_ticks(w.bpid) / TICK
    t0 = time.perf_counter()
    run(w.ssh("nolive") + [f"cat {w.big_log}"], timeout=a.op_timeout, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, capture_output=False)
    nolive_dt = time.perf_counter() - t0
    nolive_cpu = (cpu_ticks(w.bpid) / TICK - b0) / (size / GiB)
    log(f"  cat bastion, live_masking = false: {nolive_dt:.2f}s = {size / MiB / nolive_dt:.0f} MiB/s")
    res.raw["throughput_cat_nolive_s"] = nolive_dt
    # The bastion logs how much crossed each recorded channel: check the whole file went through.
    sealed = re.findall(r"recording sealed.*?bytes_out=(\d+)", w.bastion_log_text())
    res.raw["throughput_cat_s"] = times
    res.raw["client_cpu_s_per_gib"] = client_cpu
    res.raw["bastion_recorded_bytes_out_last"] = sealed[-reps:] if sealed else []
    mibs = {p: size / MiB / median(times[p]) for p in PATHS}
    ok = mibs["bastion"] / mibs["proxyjump"] >= 0.9
    res.add("cat_mibs", f"`cat` {size // MiB} MiB log-like text (median of {reps})", "MiB/s", "higher",
            mibs["bastion"], mibs["proxyjump"], mibs["direct"], "≥ 0.9×", ok)
    res.add("cpu_per_gib", "Server CPU per GiB relayed (bastion process vs jump sshd + children)",
            "CPU-s/GiB", "lower", median(cpu_bastion), median(cpu_jump))
    res.add("client_cpu_per_gib", "Client CPU per GiB (ssh, incl. ProxyJump's `ssh -W`)",
            "CPU-s/GiB", "lower", median(client_cpu["bastion"]), median(client_cpu["proxyjump"]),
            median(client_cpu["direct"]))
    res.add("cat_mibs_nolive", "`cat` as above, bastion role with `live_masking = false` (1 run; "
            "recording still masked)", "MiB/s", "higher", size / MiB / nolive_dt, mibs["proxyjump"],
            mibs["direct"])
    res.add("cpu_per_gib_nolive", "Server CPU per GiB, bastion with `live_masking = false` (1 run)",
            "CPU-s/GiB", "lower", nolive_cpu, median(cpu_jump))
    res.raw["cpu_bastion_s_per_gib"] = cpu_bastion
    res.raw["cpu_jump_sshd_s_per_gib"] = cpu_jump
    w.clear_recordings()


def phase_scp(w, res, a):
    size = a.big_bin_bytes
    reps = a.reps
    log(f"scp: {size / MiB:.0f} MiB binary download, {reps} alternating rounds")
    times = {p: [] for p in PATHS}
    deadline = time.monotonic() + a.phase_budget
    dst = os.path.join(w.dl, "big.bin")
    for order in rotations(reps):
        for p in order:
            if time.monotonic() > deadline:
                raise BenchError("scp phase over its time budget")
            w.clear_recordings()
            t0 = time.perf_counter()
            run(w.scp(p, w.big_bin, dst), timeout=a.op_timeout)
            dt = time.perf_counter() - t0
            got = os.path.getsize(dst)
            os.unlink(dst)
            if got != size:
                raise BenchError(f"scp {p}: got {got} bytes of {size}")
            times[p].append(dt)
            log(f"  scp {p}: {dt:.2f}s = {size / MiB / dt:.0f} MiB/s")
    res.raw["scp_s"] = times
    mibs = {p: size / MiB / median(times[p]) for p in PATHS}
    res.add("scp_mibs", f"`scp` download {size // MiB} MiB binary (SFTP protocol; median of {reps})",
            "MiB/s", "higher", mibs["bastion"], mibs["proxyjump"], mibs["direct"], "≥ 0.9×",
            mibs["bastion"] / mibs["proxyjump"] >= 0.9)
    w.clear_recordings()


def phase_ttfo(w, res, a):
    reps = a.ttfo_reps
    log(f"time to first output: `ssh … true`, cold, {reps} alternating rounds")
    cold = {p: [] for p in PATHS}
    for order in rotations(2):  # warm the page cache and the processes' first-use paths
        for p in order:
            run(w.ssh(p) + ["true"], timeout=30)
    for order in rotations(reps):
        for p in order:
            t0 = time.perf_counter()
            run(w.ssh(p) + ["true"], timeout=30)
            cold[p].append((time.perf_counter() - t0) * 1000)
    res.raw["ttfo_cold_ms"] = cold
    m = {p: median(cold[p]) for p in PATHS}
    res.add("ttfo_cold_ms", f"`ssh … true`, new connection (median of {reps})", "ms", "lower",
            m["bastion"], m["proxyjump"], m["direct"], "≤ 1.0×", m["bastion"] <= m["proxyjump"])

    log(f"time to first output, every client hop limited to curve25519-sha256 (the bastion offers "
        f"no sntrup761), {a.ttfo_reps_kex} alternating rounds")
    cfg25519 = w.cfg + "-curve25519"
    with open(w.cfg) as f, open(cfg25519, "w") as o:
        o.write(f.read().replace("Host *\n", "Host *\n  KexAlgorithms curve25519-sha256\n"))
    c25519 = {p: [] for p in PATHS}
    for order in rotations(a.ttfo_reps_kex):
        for p in order:
            cmd = w.ssh(p) + ["true"]
            cmd[2] = cfg25519
            t0 = time.perf_counter()
            run(cmd, timeout=30)
            c25519[p].append((time.perf_counter() - t0) * 1000)
    res.raw["ttfo_cold_curve25519_ms"] = c25519
    m = {p: median(c25519[p]) for p in PATHS}
    res.add("ttfo_cold_c25519_ms", f"`ssh … true`, new connection, client KEX curve25519-sha256 on every hop "
            f"(median of {a.ttfo_reps_kex})", "ms", "lower", m["bastion"], m["proxyjump"], m["direct"],
            "≤ 1.0×", m["bastion"] <= m["proxyjump"])

    log(f"time to first output with ControlMaster: `ssh -S sock … true`, {reps} alternating rounds")
    masters = {}
    try:
        for p in PATHS:
            sock = w.path(f"cm-{p}.sock")
            masters[p] = (spawn(w.ssh(p, "-M", "-S", sock, "-N", "-o", "ControlPersist=no"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), sock)
        for p, (proc, sock) in masters.items():
            deadline = time.monotonic() + 30
            while run(w.ssh(p, "-S", sock, "-O", "check"), check=False, timeout=10).returncode != 0:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise BenchError(f"ControlMaster for {p} did not come up")
                time.sleep(0.1)
        # A channel the master cannot open makes the mux client fall back to a new connection
        # ("Session open refused by peer"); a lost exit status makes it exit 255. Both are
        # counted (warm-ups included), and only channels that really went through the master
        # and exited 0 are timed.
        cm = {p: [] for p in PATHS}
        cm_fallback = {p: 0 for p in PATHS}
        cm_failed = {p: 0 for p in PATHS}
        cm_errors = {p: [] for p in PATHS}

        def channel(p, timed):
            t0 = time.perf_counter()
            r = run(w.ssh(p, "-S", masters[p][1]) + ["true"], timeout=30, check=False)
            dt = (time.perf_counter() - t0) * 1000
            err = r.stderr.decode(errors="replace").strip()
            if r.returncode != 0:
                cm_failed[p] += 1
                cm_errors[p].append(f"exit {r.returncode}: {err[-200:]}")
            elif "mux_client" in err or "refused" in err:
                cm_fallback[p] += 1
                cm_errors[p].append(err[-200:])
            elif timed:
                cm[p].append(dt)

        for p in PATHS:
            for _ in range(2):  # an established master: the bastion's upstream is up too
                channel(p, False)
        for order in rotations(reps):
            for p in order:
                channel(p, True)
        for p, (proc, sock) in masters.items():
            if proc.poll() is not None:
                raise BenchError(f"ControlMaster for {p} died during the runs")
    finally:
        for p, (proc, sock) in masters.items():
            run(w.ssh(p, "-S", sock, "-O", "exit"), check=False, timeout=10)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            forget(proc)
    res.raw["ttfo_controlmaster_ms"] = cm
    res.raw["controlmaster_failed"] = cm_failed
    res.raw["controlmaster_fallback"] = cm_fallback
    res.raw["controlmaster_errors"] = cm_errors
    m = {p: median(cm[p]) for p in PATHS}
    ok = m["bastion"] is not None and m["proxyjump"] is not None and m["bastion"] <= m["proxyjump"]
    res.add("ttfo_cm_ms", f"`ssh -S sock … true` over an established ControlMaster (median of the "
            f"runs that went through the master; {reps} tried per path, after 2 warm-up channels)",
            "ms", "lower", m["bastion"], m["proxyjump"], m["direct"], "≤ 1.0×", ok)
    res.add("cm_bad", f"ControlMaster channels that failed (exit 255) or fell back to a new "
            f"connection, of {reps + 2} (warm-ups included)", "runs", "lower", cm_failed["bastion"] + cm_fallback["bastion"],
            cm_failed["proxyjump"] + cm_fallback["proxyjump"], cm_failed["direct"] + cm_fallback["direct"],
            "0", cm_failed["bastion"] + cm_fallback["bastion"] == 0, ratio=False)
    for p in PATHS:
        if cm_failed[p] or cm_fallback[p]:
            res.notes.append(f"ControlMaster, {LABEL[p]}: {cm_failed[p]} channels exited 255, "
                             f"{cm_fallback[p]} fell back to a new connection; first message: "
                             f"{cm_errors[p][0]!r}")


KEYS = b"grep -c ERROR app.log | sort -u; ls -la /var/lib/pgsql/data 2024 tail -n 200 "


class PtySession:
    """`ssh -tt … 'stty raw -echo; printf READY; exec cat'` on a local pty."""

    def __init__(self, cmd):
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.execvp(cmd[0], cmd)
            finally:
                os._exit(127)
        FORKED.append(pid)
        self.pid, self.fd = pid, fd
        buf = b""
        deadline = time.monotonic() + 30
        while b"READY" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"pty session never became ready: {buf[-300:]!r}")
            r, _, _ = select.select([fd], [], [], left)
            if r:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise BenchError(f"pty session ended: {buf[-300:]!r}")
                buf += chunk
        self.errors = 0

    def keystroke(self, ch):
        t0 = time.perf_counter_ns()
        os.write(self.fd, ch)
        got = b""
        while not got:
            left = 2.0 - (time.perf_counter_ns() - t0) / 1e9
            if left <= 0:
                raise BenchError("no echo within 2 s")
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                got = os.read(self.fd, 1024)
        t1 = time.perf_counter_ns()
        if got != ch:
            self.errors += 1
        return (t1 - t0) / 1e6

    def close(self):
        try:
            os.close(self.fd)
        except OSError:
            pass
        try:
            os.kill(self.pid, signal.SIGTERM)
        except OSError:
            pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if os.waitpid(self.pid, os.WNOHANG)[0] == self.pid:
                break
            time.sleep(0.05)
        else:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        FORKED.remove(self.pid)


def phase_keystrokes(w, res, a):
    n = a.keystrokes
    block = 100
    log(f"keystroke echo: {n} keystrokes per path in blocks of {block}, alternating, "
        f"{a.key_gap_ms} ms between keystrokes")
    sessions = {}
    kpaths = PATHS + ("nolive",)
    lat = {p: [] for p in kpaths}
    keys_sent = {p: [] for p in kpaths}
    try:
        for p in kpaths:
            sessions[p] = PtySession(w.ssh(p, "-tt") + ["stty raw -echo; printf READY; exec cat"])
        for s in sessions.values():  # warm-up
            for ch in KEYS[:20]:
                s.keystroke(bytes([ch]))
        i = 0
        rounds = (n + block - 1) // block
        for r in range(rounds):
            for p in kpaths[r % 4:] + kpaths[: r % 4]:
                for k in range(block):
                    ch = bytes([KEYS[(i + k) % len(KEYS)]])
                    lat[p].append(sessions[p].keystroke(ch))
                    keys_sent[p].append(ch[0])
                    time.sleep(a.key_gap_ms / 1000)
            i += block
        errors = {p: s.errors for p, s in sessions.items()}
    finally:
        for s in sessions.values():
            s.close()
    res.raw["keystroke_errors"] = errors
    res.raw["keystroke_ms_by_class"] = {
        p: {cls: median([v for ch, v in zip(keys_sent[p], lat[p]) if (chr(ch).isalnum()) == (cls == "alnum")])
            for cls in ("alnum", "other")} for p in kpaths}
    res.raw["keystroke_ms_summary"] = {
        p: {"p50": pct(lat[p], 50), "p90": pct(lat[p], 90), "p99": pct(lat[p], 99),
            "max": max(lat[p]), "n": len(lat[p])} for p in kpaths}
    p50 = {p: pct(lat[p], 50) for p in kpaths}
    p99 = {p: pct(lat[p], 99) for p in kpaths}
    res.add("key_p50", f"Keystroke echo p50 ({n} keystrokes, pty, `stty raw -echo; cat`)", "ms",
            "lower", p50["bastion"], p50["proxyjump"], p50["direct"])
    res.add("key_p99", f"Keystroke echo p99 ({n} keystrokes)", "ms", "lower", p99["bastion"],
            p99["proxyjump"], p99["direct"])
    added_b = p99["bastion"] - p99["direct"]
    added_j = p99["proxyjump"] - p99["direct"]
    res.add("key_p99_added", "Keystroke echo p99 added over direct", "ms", "lower", added_b, added_j,
            None, "≤ 1 ms added", added_b <= 1.0, ratio=False)
    res.add("key_p50_nolive", "Keystroke echo p50, bastion role with `live_masking = false`", "ms",
            "lower", p50["nolive"], p50["proxyjump"], p50["direct"])
    res.add("key_p99_nolive", "Keystroke echo p99, bastion role with `live_masking = false`", "ms",
            "lower", p99["nolive"], p99["proxyjump"], p99["direct"])
    res.add("key_p99_added_nolive", "Keystroke echo p99 added over direct, `live_masking = false`",
            "ms", "lower", p99["nolive"] - p99["direct"], added_j, None, ratio=False)
    if any(errors.values()):
        res.notes.append(f"keystroke echo mismatches: {errors}")


def open_sessions(w, path, cmd, want, pool, window, timeout, marker, first=None,
                  marker_on="stdout"):
    """Opens sessions until `pool` holds `want`, at most `window` still connecting at once.
    Each session is a Popen with a stdin pipe; it counts once `marker` shows on its stdout (or
    stderr); `first` is written to stdin at once. Returns the number of sessions that failed."""
    sel = selectors.DefaultSelector()
    pending = {}
    failed = 0
    deadline = time.monotonic() + timeout
    pipes = ({"stdout": subprocess.PIPE, "stderr": subprocess.DEVNULL} if marker_on == "stdout"
             else {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE})
    try:
        while len(pool) < want:
            if time.monotonic() > deadline:
                raise BenchError(f"{path}: only {len(pool)} of {want} sessions after {timeout}s")
            if failed > max(10, want // 20):
                raise BenchError(f"{path}: {failed} sessions failed to open")
            while len(pending) < window and len(pool) + len(pending) < want:
                p = spawn(cmd, stdin=subprocess.PIPE, bufsize=0, **pipes)
                p.marker_pipe = p.stdout if marker_on == "stdout" else p.stderr
                if first:
                    p.stdin.write(first)
                os.set_blocking(p.marker_pipe.fileno(), False)
                sel.register(p.marker_pipe, selectors.EVENT_READ, p)
                pending[p] = [time.monotonic(), b""]
            for key, _ in sel.select(timeout=0.5):
                p = key.data
                try:
                    chunk = p.marker_pipe.read(4096)
                except (BlockingIOError, OSError):
                    continue
                if chunk is None:
                    continue
                if chunk == b"":
                    sel.unregister(p.marker_pipe)
                    del pending[p]
                    pool.append(p)  # closed with the others
                    p.dead = True
                    failed += 1
                    continue
                pending[p][1] = (pending[p][1] + chunk)[-256:]
                if marker in pending[p][1]:
                    sel.unregister(p.marker_pipe)
                    del pending[p]
                    pool.append(p)
            now = time.monotonic()
            for p, (t, _) in list(pending.items()):
                if now - t > 60:
                    sel.unregister(p.marker_pipe)
                    del pending[p]
                    p.kill()
                    pool.append(p)
                    p.dead = True
                    failed += 1
    finally:
        for p in pending:
            pool.append(p)
        sel.close()
    # Dead sessions do not count towards `want`; drop them from the count by opening more.
    dead = [p for p in pool if getattr(p, "dead", False)]
    if dead:
        for p in dead:
            pool.remove(p)
        close_sessions(dead, None)
        failed += open_sessions(w, path, cmd, want, pool, window,
                                max(10, deadline - time.monotonic()), marker, first, marker_on)
    return failed


def close_sessions(pool, goodbye, timeout=90):
    for p in pool:
        try:
            if goodbye and p.stdin:
                p.stdin.write(goodbye)
        except OSError:
            pass
        try:
            if p.stdin:
                p.stdin.close()
        except OSError:
            pass
    deadline = time.monotonic() + timeout
    left = list(pool)
    while left and time.monotonic() < deadline:
        left = [p for p in left if p.poll() is None]
        time.sleep(0.1)
    for p in left:
        p.kill()
    for p in pool:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for f in (p.stdout, p.stderr):
            try:
                if f:
                    f.close()
            except OSError:
                pass
        forget(p)
    pool.clear()
    return len(left)


def phase_idle(w, res, a):
    levels = a.sessions
    log(f"concurrency: idle shell sessions {levels}, bastion (fresh process) then ProxyJump")
    w.start_bastion()  # fresh process: memory deltas without earlier phases' allocations
    w.clear_recordings()
    run(w.ssh("bastion") + ["true"], timeout=30)  # first connection's one-time allocations
    time.sleep(1)
    out = {"bastion": {}, "proxyjump": {}}
    for path in ("bastion", "proxyjump"):
        pool = []
        path_levels = levels if path == "bastion" else a.sessions_openssh
        wait_quiet(w.jpid)
        time.sleep(1)
        if path == "bastion":
            base = status_kib(w.bpid, "VmRSS")
        else:
            base = tree_pss_kib(w.jpid)
        t_open = time.monotonic()
        try:
            for n in path_levels:
                t1 = time.monotonic()
                failed = open_sessions(w, path, w.ssh(path, "-tt"), n, pool, a.window,
                                       a.open_timeout, b"R42Y", first=b"echo R$((6*7))Y\n")
                opened_s = time.monotonic() - t1
                time.sleep(a.settle)
                if path == "bastion":
                    mem = status_kib(w.bpid, "VmRSS")
                    c0 = cpu_ticks(w.bpid)
                    time.sleep(a.idle_window)
                    c1 = cpu_ticks(w.bpid)
                else:
                    mem = tree_pss_kib(w.jpid)
                    c0 = tree_cpu_seconds(w.jpid) * TICK
                    time.sleep(a.idle_window)
                    c1 = tree_cpu_seconds(w.jpid) * TICK
                per = (mem - base) / n
                cpu_pct = (c1 - c0) / TICK / a.idle_window * 100
                out[path][n] = {"mem_kib": mem, "base_kib": base, "per_session_kib": per,
                                "idle_cpu_pct": cpu_pct, "failed": failed,
                                "open_s": opened_s}
                log(f"  {path} N={n}: {per:.0f} KiB/session (Δ{(mem - base) / 1024:.1f} MiB), "
                    f"idle CPU {cpu_pct:.2f}% of a core, opened in {opened_s:.1f}s, failed {failed}")
        finally:
            stuck = close_sessions(pool, b"exit\n")
            out[path]["close_stuck"] = stuck
            out[path]["total_s"] = time.monotonic() - t_open
            if path == "bastion":
                time.sleep(a.settle)
                out[path]["rss_after_close_kib"] = status_kib(w.bpid, "VmRSS")
                out[path]["rss_before_kib"] = base
                log(f"  bastion RSS after closing them all: {out[path]['rss_after_close_kib'] / 1024:.1f} MiB "
                    f"(before: {base / 1024:.1f} MiB)")
    res.raw["idle_sessions"] = out
    for n in levels:
        b, j = out["bastion"][n], out["proxyjump"].get(n, {})
        last = n == levels[-1]
        res.add(f"idle_mem_{n}", f"Memory per idle shell session, N = {n} (bastion RSS Δ/N; "
                f"jump sshd PSS Δ/N)", "KiB", "lower", b["per_session_kib"], j.get("per_session_kib"),
                None, "≤ 128 KiB" if last else None, (b["per_session_kib"] <= 128) if last else None)
    b = out["bastion"]
    if "rss_after_close_kib" in b:
        res.add("rss_after_close", f"Bastion RSS after all {levels[-1]} sessions closed (before "
                f"they opened: {b['rss_before_kib'] / 1024:.1f} MiB)", "MiB", "lower",
                b["rss_after_close_kib"] / 1024, None, ratio=False)
    for n in levels:
        b, j = out["bastion"][n], out["proxyjump"].get(n, {})
        res.add(f"idle_cpu_{n}", f"CPU while {n} sessions idle ({a.idle_window:.0f} s window)",
                "% of a core", "lower", b["idle_cpu_pct"], j.get("idle_cpu_pct"), ratio=False)
    time.sleep(2)
    w.clear_recordings()


def phase_streaming(w, res, a):
    n, size = a.stream_sessions, a.stream_bytes
    log(f"concurrency: {n} sessions streaming {size / MiB:.0f} MiB each at once, bastion then ProxyJump")
    out = {}
    w.start_bastion()  # fresh process: the idle phase's retained heap would hide the peak
    run(w.ssh("bastion") + ["true"], timeout=30)
    time.sleep(1)
    for path in ("bastion", "proxyjump"):
        w.clear_recordings()
        wait_quiet(w.jpid)
        pool = []
        base = status_kib(w.bpid, "VmRSS") if path == "bastion" else tree_pss_kib(w.jpid)
        cmd = w.ssh(path) + [f"echo ready >&2; read go; exec head -c {size} {w.big_log}"]
        # stderr carries the marker; the stream itself goes to stdout (/dev/null locally)
        if path == "bastion":
            with open(f"/proc/{w.bpid}/clear_refs", "w") as f:
                f.write("5")  # reset VmHWM
        try:
            failed = open_sessions(w, path, cmd, n, pool, a.window, a.open_timeout, b"ready",
                                   marker_on="stderr")
            time.sleep(1)
            if path == "bastion":
                c0 = cpu_ticks(w.bpid) / TICK
            else:
                c0 = tree_cpu_seconds(w.jpid)
            peak_pss = 0
            t0 = time.perf_counter()
            for p in pool:
                p.stdin.write(b"go\n")
                p.stdin.close()
            deadline = time.monotonic() + a.op_timeout
            left = list(pool)
            last_sample = 0
            while left:
                if time.monotonic() > deadline:
                    raise BenchError(f"{path}: streaming sessions still running after {a.op_timeout}s")
                left = [p for p in left if p.poll() is None]
                if path == "proxyjump" and time.monotonic() - last_sample > 1.0:
                    last_sample = time.monotonic()
                    peak_pss = max(peak_pss, tree_pss_kib(w.jpid))
                time.sleep(0.02)
            dt = time.perf_counter() - t0
            bad = sum(1 for p in pool if p.returncode != 0)
            if path == "bastion":
                cpu = cpu_ticks(w.bpid) / TICK - c0
                peak = status_kib(w.bpid, "VmHWM")
            else:
                wait_quiet(w.jpid)
                cpu = tree_cpu_seconds(w.jpid) - c0
                peak = peak_pss
        finally:
            close_sessions(pool, None)
        total = n * size
        out[path] = {"seconds": dt, "mibs": total / MiB / dt, "cpu_s_per_gib": cpu / (total / GiB),
                     "peak_kib": peak, "base_kib": base, "failed_open": failed, "nonzero_exit": bad}
        log(f"  {path}: {total / MiB / dt:.0f} MiB/s aggregate, peak {peak / 1024:.1f} MiB "
            f"(before: {base / 1024:.1f} MiB), "
            f"{cpu / (total / GiB):.2f} CPU-s/GiB, nonzero exits {bad}")
    res.raw["streaming"] = out
    b, j = out["bastion"], out["proxyjump"]
    res.add("stream_mibs", f"{n} sessions streaming at once, aggregate ({n} × {size // MiB} MiB)",
            "MiB/s", "higher", b["mibs"], j["mibs"], None, "≥ 0.9×", b["mibs"] / j["mibs"] >= 0.9)
    res.add("stream_peak", f"Peak memory while {n} sessions stream (bastion VmHWM, fresh process; "
            f"jump sshd Σ PSS, 1 s samples)", "MiB", "lower", b["peak_kib"] / 1024, j["peak_kib"] / 1024)
    res.add("stream_peak_per", f"… of which per streaming session ((peak − before) ÷ {n})", "KiB",
            "lower", (b["peak_kib"] - b["base_kib"]) / n, (j["peak_kib"] - j["base_kib"]) / n)
    res.add("stream_cpu", f"Server CPU per GiB, {n} streams (bastion vs jump sshd + children)",
            "CPU-s/GiB", "lower", b["cpu_s_per_gib"], j["cpu_s_per_gib"])
    w.clear_recordings()


def phase_soak(w, res, a):
    """Sessions opening, streaming and closing in a loop for `a.soak_minutes`; the bastion's RSS
    sampled every 2 s. Flat means the mean of the last ten minutes within 10 % of the mean of the
    first ten after a warm-up of a sixth (for 30 minutes: minutes 20-30 against 5-15; shorter
    soaks compare halves of what follows the warm-up)."""
    minutes = a.soak_minutes
    log(f"soak: {minutes:.0f} min of rounds of {a.soak_shells} shells opened, "
        f"{a.soak_streams} × {a.soak_stream_bytes // MiB} MiB streamed, {a.soak_execs} execs, "
        f"all closed; RSS every 2 s")
    w.start_bastion()
    w.clear_recordings()
    run(w.ssh("bastion") + ["true"], timeout=30)
    samples = []
    stop = threading.Event()

    def sample():
        t0 = time.monotonic()
        while not stop.is_set():
            try:
                samples.append((time.monotonic() - t0, status_kib(w.bpid, "VmRSS")))
            except (OSError, ValueError):
                pass
            stop.wait(2.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t_start = time.monotonic()
    deadline = t_start + minutes * 60
    rounds = opened = streamed = execs = failures = 0
    stream_cmd = w.ssh("bastion") + [f"exec head -c {a.soak_stream_bytes} {w.big_log}"]
    try:
        while time.monotonic() < deadline:
            pool = []
            try:
                try:
                    failures += open_sessions(w, "bastion", w.ssh("bastion", "-tt"),
                                              a.soak_shells, pool, a.window, a.open_timeout,
                                              b"R42Y", first=b"echo R$((6*7))Y\n")
                except BenchError as e:
                    # Counted and reported with the samples so far, not thrown away.
                    failures += 1
                    log(f"  soak stopped: {e}")
                    break
                opened += len(pool)
                streams = [spawn(stream_cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL) for _ in range(a.soak_streams)]
                for p in streams:
                    try:
                        rc = p.wait(timeout=a.op_timeout)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait()
                        rc = -1
                    failures += rc != 0
                    streamed += rc == 0
                    forget(p)
                for _ in range(a.soak_execs):
                    try:
                        r = run(w.ssh("bastion") + ["true"], timeout=60, check=False)
                        failures += r.returncode != 0
                    except subprocess.TimeoutExpired:
                        failures += 1  # a hung exec is what a soak is for
                    execs += 1
            finally:
                close_sessions(pool, b"exit\n")
            rounds += 1
            if rounds % 20 == 0 and samples:
                w.clear_recordings()
                log(f"  soak: {(time.monotonic() - t_start) / 60:.1f} min, {rounds} rounds, "
                    f"RSS {samples[-1][1] / 1024:.1f} MiB, failures {failures}")
    finally:
        stop.set()
        sampler.join(timeout=5)
    total = time.monotonic() - t_start
    warm = total / 6
    third = min(600.0, (total - warm) / 2)  # the ten minutes, or less in a short soak
    first = [k for t, k in samples if warm <= t < warm + third]
    last = [k for t, k in samples if t >= total - third]
    if not first or not last:
        raise BenchError("soak: too few RSS samples")
    m1, m2 = sum(first) / len(first) / 1024, sum(last) / len(last) / 1024
    peak = max(k for _, k in samples) / 1024
    res.raw["soak"] = {"minutes": total / 60, "rounds": rounds, "shells": opened,
                       "streams": streamed, "execs": execs, "failures": failures,
                       "samples": [(round(t, 1), k) for t, k in samples]}
    log(f"  soak: {total / 60:.1f} min, {rounds} rounds; RSS mean {m1:.1f} MiB in minutes "
        f"{warm / 60:.1f}-{(warm + third) / 60:.1f}, {m2:.1f} MiB in the last {third / 60:.1f}; "
        f"peak {peak:.1f} MiB; failures {failures}")
    res.add("soak_first", f"Soak ({total / 60:.0f} min, {rounds} rounds: {opened} shells, {streamed} "
            f"streams, {execs} execs): mean RSS, minutes {warm / 60:.1f}-{(warm + third) / 60:.1f}",
            "MiB", "lower", m1, None, ratio=False)
    res.add("soak_last", f"… mean RSS, last {third / 60:.1f} minutes (within 10 % of the above)",
            "MiB", "lower", m2, None, None, "≤ 1.10×", m2 <= m1 * 1.10, ratio=False)
    res.add("soak_peak", "… peak RSS during the soak", "MiB", "lower", peak, None, ratio=False)
    res.add("soak_failures", "… sessions, streams or execs that failed", "runs", "lower", failures,
            None, None, "0", failures == 0, ratio=False)


def phase_hang(w, res, a):
    n = a.hang_runs
    paths = ("bastion", "proxyjump")
    every = a.hang_openssh_every
    log(f"exec close: {n} back-to-back `ssh … 'head -c 100k /dev/zero'` through the bastion, "
        f"one through ProxyJump after every {every}, 10 s limit each")
    out = {}
    durations = {p: [] for p in paths}
    slow = {p: 0 for p in paths}
    wrong = {p: 0 for p in paths}
    fds0 = len(os.listdir(f"/proc/{w.bpid}/fd"))
    deadline = time.monotonic() + a.hang_budget
    done = 0
    for i in range(n):
        if time.monotonic() > deadline:
            res.notes.append(f"exec-close loop stopped at {i} of {n} runs (time budget)")
            break
        for p in (paths if i % every == 0 else paths[:1]):
            t0 = time.perf_counter()
            try:
                r = subprocess.run(w.ssh(p) + ["head -c 100k /dev/zero"], stdin=subprocess.DEVNULL,
                                   capture_output=True, timeout=10)
                dt = time.perf_counter() - t0
                if r.returncode != 0 or len(r.stdout) != 102400:
                    wrong[p] += 1
            except subprocess.TimeoutExpired:
                dt = time.perf_counter() - t0
                slow[p] += 1
            durations[p].append(dt * 1000)
        done = i + 1
        if done % 200 == 0:
            log(f"  {done} runs")
            w.clear_recordings()
    time.sleep(2)
    leftover_target = len(descendants(w.tpid))
    fds1 = len(os.listdir(f"/proc/{w.bpid}/fd"))
    for p in paths:
        out[p] = {"runs": len(durations[p]), "over_10s": slow[p], "wrong_output_or_status": wrong[p],
                  "median_ms": median(durations[p]), "p99_ms": pct(durations[p], 99),
                  "max_ms": max(durations[p]) if durations[p] else None}
    out["target_sessions_left"] = leftover_target
    out["bastion_fds_before_after"] = [fds0, fds1]
    res.raw["exec_close"] = out
    log(f"  {out}")
    op = lambda k: out["proxyjump"][k]  # noqa: E731
    res.add("hang", f"Exec runs over 10 s (bastion: of {done} back-to-back `head -c 100k`; "
            f"OpenSSH: of {out['proxyjump']['runs']})", "runs", "lower",
            slow["bastion"], op("over_10s"), None, "0", slow["bastion"] == 0, ratio=False)
    res.add("hang_wrong", "Exec runs with wrong output or exit status", "runs", "lower",
            wrong["bastion"], op("wrong_output_or_status"), None, "0", wrong["bastion"] == 0,
            ratio=False)
    res.add("exec_ms", "Exec run (`head -c 100k`), connect to exit, median", "ms", "lower",
            out["bastion"]["median_ms"], op("median_ms"))
    res.add("exec_p99_ms", "Exec run, p99", "ms", "lower", out["bastion"]["p99_ms"], op("p99_ms"))
    if leftover_target:
        res.notes.append(f"{leftover_target} target sshd processes still alive 2 s after the exec loop")
    w.clear_recordings()


# --------------------------------------------------------------------------------------------
# Report


def machine_info(w):
    def cmd(args):
        try:
            r = subprocess.run(args, capture_output=True, text=True, timeout=10)
            return (r.stdout + r.stderr).strip()
        except Exception as e:  # noqa: BLE001
            return f"? ({e})"

    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    if w.args.bin_label:
        head, dirty = w.args.bin_label, ""
    else:
        head = cmd(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
        dirty = cmd(["git", "-C", ROOT, "status", "--porcelain", "--", "bastion", "recorder",
                     "config", "cert-authority", "Cargo.lock"])
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "memory_mib": mem,
        "openssh": cmd(["ssh", "-V"]),
        "python": platform.python_version(),
        "bastion_commit": head + (" (with uncommitted changes)" if dirty else ""),
        "bastion_binary": w.bin,
        "bastion_binary_mtime": datetime.datetime.fromtimestamp(
            os.path.getmtime(w.bin), datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "loadavg_start": loadavg(),
        "login": w.login,
    }


def write_report(res, info, a, elapsed, out_md, out_json, failure=None):
    info["loadavg_end"] = loadavg()
    info["run_seconds"] = round(elapsed, 1)
    rows = res.rows
    lines = [
        "# bastion vs OpenSSH: benchmark results",
        "",
        f"Written by `bench/run{' --quick' if a.quick else ''}` on {info['date']}; the run took "
        f"{elapsed / 60:.1f} min.",
        "",
        f"- Machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory_mib']:,} MiB RAM, "
        f"Linux {info['kernel']}; load average {info['loadavg_start']} at start, "
        f"{info['loadavg_end']} at end (the machine is shared).",
        f"- OpenSSH: {info['openssh']} (client, jump sshd and target sshd).",
        f"- bastion: release build of {info['bastion_commit']}, binary from "
        f"{info['bastion_binary_mtime']}. Recording and PHI masking are always on (recordings are "
        "masked; the role's default `live_masking = true` masks the screen too); recordings are "
        "written to a directory on /dev/shm.",
        f"- Paths: **bastion** = `ssh {info['login']}@t1@bastion` (bastion → target sshd, certificate login); "
        "**OpenSSH** = `ssh -J jump target` through a second sshd; **direct** = `ssh target`. All "
        "on 127.0.0.1, default client settings. Cipher the client negotiates: "
        + "; ".join(f"{LABEL.get(p, p)}: {', '.join(v)}" for p, v in res.raw.get("ciphers_client_side", {}).items())
        + " (the bastion offers only AES-GCM where the CPU has AES instructions, so that clients do "
        "not pick ChaCha20-Poly1305, which costs several times more here). Key exchange the client negotiates: "
        + "; ".join(f"{LABEL.get(p, p)}: {', '.join(v)}" for p, v in res.raw.get("kex_client_side", {}).items())
        + " (OpenSSH 9.2 prefers the post-quantum sntrup761x25519, which the bastion does not offer; "
        "one row repeats the cold figure with curve25519-sha256 everywhere).",
        "- Ratio = bastion ÷ OpenSSH ProxyJump. Throughput: higher is better; times, memory, CPU: "
        "lower is better. Paths are run alternately (rotating which goes first); medians.",
        "",
    ]
    if failure:
        lines += [f"**The run did not finish:** {failure}", ""]
    lines += [
        "| figure | unit | bastion | OpenSSH ProxyJump | ratio | direct | target | met |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        met = "" if r["ok"] is None else ("yes" if r["ok"] else "**no**")
        lines.append(
            f"| {r['figure']} | {r['unit']} | {fmt(r['bastion'])} | {fmt(r['openssh'])} | "
            f"{fmt(r['ratio'], 2) if r['ratio'] is not None else '–'} | {fmt(r['direct'])} | "
            f"{r['target'] or ''} | {met} |")
    lines += ["", "## Notes", ""]
    notes = [
        "Throughput: `ssh … 'cat big.log' > /dev/null` of a generated log (timestamps, services, "
        "HTTP lines; about 8 % of lines carry an SSN, e-mail address, phone number, MRN or date "
        "of birth), and `scp` (SFTP protocol, OpenSSH 9 default) of a random binary to /dev/shm. "
        "Every process (client, jump sshd, bastion, target sshd) shares the same CPUs, so the "
        "figures measure total work per byte as much as relay speed.",
        "Server CPU per GiB: bastion = utime+stime of the bastion process; jump sshd = the "
        "listener's own, reaped-children and live-descendant utime+stime (from /proc/PID/stat). "
        "The ProxyJump hop only forwards ciphertext (one decrypt, no re-encrypt at the jump host "
        "for the inner stream); the bastion decrypts, records, masks and re-encrypts.",
        "Time to first output: wall time of the whole `ssh … true` process (connection set-up, "
        "authentication, channel, exit), an upper bound on time to first output. ControlMaster: "
        "after two warm-up channels, so the bastion's upstream connection is already up.",
        f"Target login `{info['login']}`: a /bin/sh system account created for the run (root's "
        "login shell on this machine runs `pyenv init` from ~/.bashrc for every session, ~150 ms, "
        "which would hide the differences between paths). The jump host is entered as root "
        "(it only forwards, no shell runs there).",
        "`live_masking = false` rows: a second role and certificate on the same bastion whose "
        "screen output is not masked (recordings are); informational, to separate the live "
        "masker's cost from the relay's.",
        "Keystroke echo: one byte written to the local pty of `ssh -tt`, time until the same byte "
        f"is read back; the remote side runs `stty raw -echo; cat`; {a.key_gap_ms} ms pause "
        "between keystrokes; the four sessions (bastion, bastion without live masking, "
        "ProxyJump, direct) are open together and used in rotating blocks of 100. Keys: a "
        "shell-like line of letters, digits, spaces and punctuation.",
        "Idle sessions: `ssh -tt` shells (separate connections, no ControlMaster), opened at most "
        f"{a.window} at a time; figures after a 3 s settle, CPU over a {a.idle_window:.0f} s window. "
        f"OpenSSH levels: {a.sessions_openssh} (ProxyJump needs two client processes per session; "
        "the larger level would not fit the time budget). "
        "The bastion is restarted before this phase. Bastion = VmRSS growth ÷ N of the one "
        "process; OpenSSH = growth of the summed PSS of the jump sshd listener and its session "
        "processes ÷ N (PSS, so shared pages are not counted once per process).",
        "Streaming: N sessions `head -c SIZE big.log` started together once all are connected; "
        "aggregate = N × SIZE ÷ wall time from the start signal to the last exit. Bastion peak = "
        "VmHWM of a freshly restarted process (also reset via /proc/PID/clear_refs).",
        "Exec close: each `ssh … 'head -c 100k /dev/zero'` must exit within 10 s with 102,400 "
        "bytes and status 0; afterwards the target's sshd must have no session processes left. "
        f"The OpenSSH figure comes from one ProxyJump run after every {a.hang_openssh_every} "
        "bastion runs (the time budget does not allow 1,000 of each).",
    ]
    notes += res.notes
    lines += [f"- {n}" for n in notes]
    lines += ["", f"Raw numbers: `{os.path.relpath(out_json, ROOT)}`.", ""]
    with open(out_md, "w") as f:
        f.write("\n".join(lines))
    with open(out_json, "w") as f:
        json.dump({"machine": info, "params": vars(a), "failure": failure, "figures": rows,
                   "notes": res.notes, "raw": res.raw}, f, indent=2, default=str)
        f.write("\n")
    log(f"wrote {out_md} and {out_json}")


# --------------------------------------------------------------------------------------------


def parse_args():
    ap = argparse.ArgumentParser(prog="bench/run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes and counts (development)")
    ap.add_argument("--no-build", action="store_true",
                    help="use target/release/bastion as it is (default: cargo build --release -p bastion)")
    ap.add_argument("--bin", help="bastion binary to use (implies --no-build)")
    ap.add_argument("--bin-label", help="how the report names that binary's source, e.g. a commit")
    ap.add_argument("--phases", default="throughput,scp,ttfo,keys,idle,stream,hang",
                    help="comma-separated subset of throughput,scp,ttfo,keys,idle,stream,hang; "
                         "and soak (not in the default set: --soak-minutes long)")
    ap.add_argument("--soak-minutes", type=float, default=None,
                    help="length of the soak phase (default 30, 3 with --quick; at most 120)")
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--json", default=os.path.join(HERE, "results.json"))
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories")
    ap.add_argument("--login", default="bastion-bench",
                    help="login on the target (a /bin/sh system account, created for the run and "
                         "removed afterwards if missing; 'root' uses root's own shell and dotfiles)")
    ap.add_argument("--hold", type=float, default=0,
                    help="set up, print how to reach the three paths, wait this many seconds "
                         "(at most 3600) for manual runs or profiling, then clean up")
    a = ap.parse_args()
    full = not a.quick
    a.big_log_bytes = GiB if full else 64 * MiB
    a.big_bin_bytes = 512 * MiB if full else 32 * MiB
    a.reps = 3 if full else 2
    a.ttfo_reps = 15 if full else 5
    a.ttfo_reps_kex = 7 if full else 3
    a.keystrokes = 2000 if full else 300
    a.key_gap_ms = 2
    a.sessions = [100, 500, 1000] if full else [20, 50]
    a.sessions_openssh = [100, 500] if full else [20, 50]
    a.settle = 3.0
    a.idle_window = 6.0 if full else 3.0
    a.window = 24
    a.open_timeout = 300
    a.stream_sessions = 100 if full else 20
    a.stream_bytes = 16 * MiB if full else 4 * MiB
    a.hang_runs = 1000 if full else 60
    a.hang_openssh_every = 20
    a.total_budget = 870 if full else 600  # seconds; later phases are skipped past it
    a.hang_budget = 330 if full else 60
    a.op_timeout = 300
    a.phase_budget = 300
    a.hold = min(max(a.hold, 0), 3600)
    a.soak_minutes = min(max(a.soak_minutes if a.soak_minutes is not None else
                             (30 if full else 3), 1), 120)
    a.soak_shells = 16
    a.soak_streams = 8
    a.soak_stream_bytes = 4 * MiB
    a.soak_execs = 4
    if a.bin:
        a.bin = os.path.abspath(a.bin)
        a.no_build = True
    return a


def main():
    a = parse_args()
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    if not a.no_build:
        log("cargo build --release -p bastion")
        r = subprocess.run(["cargo", "build", "--release", "-p", "bastion"], cwd=ROOT)
        if r.returncode != 0:
            sys.exit("bench/run: the release build failed")
    res = Results()
    w = World(a)
    failure = None
    info = None
    try:
        if not os.access(w.bin, os.X_OK):
            raise BenchError(f"{w.bin} is missing; build it or drop --no-build")
        log(f"setting up in {w.dir} (recordings in {w.recdir})")
        w.setup()
        info = machine_info(w)
        log("writing test data on the target")
        make_big_log(w.big_log, a.big_log_bytes)
        make_big_bin(w.big_bin, a.big_bin_bytes)
        phase_sanity(w, res)
        if a.hold:
            print(f"bastion pid {w.bpid}; jump sshd pid {w.jpid}; target sshd pid {w.tpid}\n"
                  f"  {' '.join(w.ssh('bastion'))} CMD\n  {' '.join(w.ssh('proxyjump'))} CMD\n"
                  f"  {' '.join(w.ssh('direct'))} CMD\n  big files: {w.big_log} {w.big_bin}\n"
                  f"holding for {a.hold:.0f}s (Ctrl-C to end)", flush=True)
            deadline = time.monotonic() + a.hold
            while time.monotonic() < deadline:
                time.sleep(1)
            return 0
        phases = [p.strip() for p in a.phases.split(",") if p.strip()]
        table = {"throughput": phase_throughput, "scp": phase_scp, "ttfo": phase_ttfo,
                 "keys": phase_keystrokes, "idle": phase_idle, "stream": phase_streaming,
                 "hang": phase_hang, "soak": phase_soak}
        for ph in phases:
            if ph not in table:
                raise BenchError(f"unknown phase {ph}")
        for ph in phases:
            if time.monotonic() - T0 > a.total_budget:
                res.notes.append(f"phase {ph} skipped: the run was past its {a.total_budget} s budget")
                log(f"skipping {ph}: past the time budget")
                continue
            t_phase = time.monotonic()
            table[ph](w, res, a)
            res.raw.setdefault("phase_seconds", {})[ph] = round(time.monotonic() - t_phase, 1)
    except BenchError as e:
        failure = str(e)
        log(f"FAILED: {e}")
    finally:
        elapsed = time.monotonic() - T0
        log("cleaning up")
        kill_all()
        if info is not None and not a.hold:
            write_report(res, info, a, elapsed, a.out, a.json, failure)
        w.cleanup_dirs()
    log(f"done in {(time.monotonic() - T0) / 60:.1f} min")
    return 1 if failure else 0


if __name__ == "__main__":
    sys.exit(main())
