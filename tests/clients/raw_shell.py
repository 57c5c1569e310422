"""Sends raw bytes to an interactive shell through the bastion, as a scripted client can, and
prints everything the shell showed. Usage: raw_shell.py PORT USER KEY CERT WHEN TEXT SECONDS

WHEN: `before` sends TEXT after the pty request but before the shell request (OpenSSH never
does; the protocol allows it); `after` sends it once the shell's first output has settled.
TEXT is a Python string literal body (`\\n`, `\\r`, `\\x0f` are the bytes they name). The
session stays open SECONDS seconds, then the output is printed."""
import sys
import time

import paramiko


def main(port, user, key_path, cert_path, when, text, seconds):
    key = paramiko.Ed25519Key.from_private_key_file(key_path)
    key.load_certificate(cert_path)
    transport = paramiko.Transport(("127.0.0.1", port))
    transport.connect()
    transport.auth_publickey(user, key)
    chan = transport.open_session()
    chan.get_pty(term="xterm", width=100, height=30)
    data = text.encode("latin-1").decode("unicode_escape").encode("latin-1")
    if when == "before":
        chan.send(data)
    chan.invoke_shell()
    out = b""
    end = time.time() + seconds
    quiet_since = time.time()
    sent = when == "before"
    while time.time() < end:
        if chan.recv_ready():
            out += chan.recv(65536)
            quiet_since = time.time()
        elif chan.exit_status_ready():
            break
        else:
            if not sent and out and time.time() - quiet_since > 0.5:
                chan.send(data)
                sent = True
            time.sleep(0.02)
    sys.stdout.write(out.decode("utf-8", "replace"))
    sys.stdout.flush()
    transport.close()


main(int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6],
     float(sys.argv[7]))
