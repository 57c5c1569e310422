"""Sends a signal request over SSH (stock OpenSSH clients never send one) and prints how the
command ended. Usage: send_signal.py PORT USER KEY CERT SIGNAL [close]; with `close`, the
connection is closed half a second after the signal instead of waiting for the command."""
import asyncio
import sys

import asyncssh


async def main(port, user, key, cert, sig, close):
    client_key = asyncssh.read_private_key(key)
    certificate = asyncssh.read_certificate(cert)
    async with asyncssh.connect(
        "127.0.0.1", port, username=user, client_keys=[(client_key, certificate)],
        known_hosts=None, agent_path=None,
    ) as conn:
        proc = await conn.create_process("echo started; sleep 30; echo not-killed")
        line = await proc.stdout.readline()
        print(line.strip(), flush=True)
        proc.send_signal(sig)
        if close:
            await asyncio.sleep(0.5)
            print("sent", flush=True)
            return
        await proc.wait(check=False)
        print(f"exit_status={proc.exit_status} exit_signal={proc.exit_signal[0] if proc.exit_signal else None}")


asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5],
                 len(sys.argv) > 6 and sys.argv[6] == "close"))
