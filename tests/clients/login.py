"""Logs in with a key and its certificate, optionally with one signature algorithm or one key
exchange only (stock OpenSSH clients no longer sign with ssh-rsa), runs `echo ok` and prints
its output, or `refused: REASON`.
Usage: login.py PORT USER KEY CERT [--signature ALG] [--kex ALG]"""
import argparse
import asyncio

import asyncssh


async def main(args):
    options = {}
    if args.signature:
        options["signature_algs"] = [args.signature]
    if args.kex:
        options["kex_algs"] = [args.kex]
    client_key = asyncssh.read_private_key(args.key)
    certificate = asyncssh.read_certificate(args.cert)
    try:
        async with asyncssh.connect(
            "127.0.0.1", args.port, username=args.user,
            client_keys=[(client_key, certificate)], known_hosts=None, agent_path=None,
            kbdint_auth=False, password_auth=False, **options,
        ) as conn:
            result = await conn.run("echo ok", check=False)
            print(result.stdout.strip(), flush=True)
    except asyncssh.PermissionDenied as e:
        print(f"refused: {e}", flush=True)


parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("user")
parser.add_argument("key")
parser.add_argument("cert")
parser.add_argument("--signature")
parser.add_argument("--kex")
asyncio.run(main(parser.parse_args()))
