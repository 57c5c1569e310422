"""Opens exec channels through the bastion and abandons them the way careless or hostile
clients do, to check that the bastion still ends every channel.

Usage: abandon.py PORT USER KEY CERT MODE CHANNELS SECONDS
MODE:
  unread     run `yes` on each channel, never read, disconnect after SECONDS
  input      run `sleep 1000`, send input it never reads, disconnect after SECONDS
  halfclose  run `yes`, send EOF at once, never read, disconnect after SECONDS
  flood      run `yes`, send input as fast as the bastion takes it, never read, for SECONDS
  hold       run `yes`, never read, stay connected for SECONDS (the bastion may end it first)
The connection is dropped without a disconnect message (the socket is closed)."""
import asyncio
import sys

import asyncssh

COMMANDS = {"unread": "yes", "input": "sleep 1000", "halfclose": "yes", "flood": "yes",
            "hold": "yes"}


class Silent(asyncssh.SSHClientSession):
    """A session that takes no data: window is never granted back once paused."""


async def main(port, user, key, cert, mode, channels, seconds):
    client_key = asyncssh.read_private_key(key)
    certificate = asyncssh.read_certificate(cert)
    conn = await asyncssh.connect(
        "127.0.0.1", port, username=user, client_keys=[(client_key, certificate)],
        known_hosts=None, agent_path=None,
    )
    chans = []
    for _ in range(channels):
        chan, _session = await conn.create_session(Silent, COMMANDS[mode], encoding=None)
        chan.pause_reading()
        chans.append(chan)
    print("opened", flush=True)
    if mode == "halfclose":
        for chan in chans:
            chan.write_eof()
    if mode in ("input", "flood"):
        block = b"y" * 32768
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while loop.time() < end:
            for chan in chans:
                chan.write(block)
            # Waits while the bastion's window is closed (asyncssh buffers otherwise).
            await asyncio.sleep(0)
            for chan in chans:
                while chan.get_write_buffer_size() > 1 << 20 and loop.time() < end:
                    await asyncio.sleep(0.05)
    elif mode == "hold":
        try:
            await asyncio.wait_for(conn.wait_closed(), seconds)
            print("closed by the bastion", flush=True)
        except asyncio.TimeoutError:
            pass
    else:
        await asyncio.sleep(seconds)
    conn.abort()
    print("abandoned", flush=True)


asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5],
                 int(sys.argv[6]), float(sys.argv[7])))
