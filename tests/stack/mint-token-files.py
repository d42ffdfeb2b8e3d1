#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""mint-token-files.py [--owner USER] [--ca PATH] [--prefix P] [--public] DIR COUNT

COUNT token files, DIR/P<i>@example.test.json for i = 0..COUNT-1, as an admin
writes one before the first use (refresh token, user, token endpoint, client
id and secret, client_auth basic; no access token yet: the first use
refreshes), with grants minted at the test provider's /__test/mint-grants:
no login or consent pages, so a thousand accounts take a second instead of
minutes.

--owner   chown the files to USER (and its group); mode 0600 (default: ours)
--ca      the ca_bundle_file member: the CA path as the plugin will see it
          (inside the chroot for pf-out: $PF_OUT_CA_IN_CHROOT; default
          $CA_FILE)
--prefix  the accounts' prefix (default "s")
--public  grants of the provider's public client (CLIENT_ID_PUBLIC): the
          files hold its client id, no secret, no client_auth
Reads the stack's environment (source DIR/stack.env first): TEST_MINT_GRANTS_URL,
CA_FILE, TOKEN_ENDPOINT, CLIENT_ID, CLIENT_SECRET (CLIENT_ID_PUBLIC with
--public).  Prints the number of
files written; exit 1 with one line on stderr when the provider refuses.
"""
import argparse
import json
import os
import pwd
import ssl
import sys
import urllib.parse
import urllib.request


def mint(url, ctx, client_id, prefix, count):
    body = urllib.parse.urlencode(
        {"count": count, "client_id": client_id, "account_prefix": prefix}).encode()
    req = urllib.request.Request(url, data=body, method="POST")
    with urllib.request.urlopen(req, context=ctx, timeout=300) as r:
        return json.load(r)["refresh_tokens"]


def write_file(path, doc, uid, gid):
    tmp = f"{path}.tmp.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (json.dumps(doc, indent=2) + "\n").encode())
        if uid is not None:
            os.fchown(fd, uid, gid)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--owner")
    ap.add_argument("--ca")
    ap.add_argument("--prefix", default="s")
    ap.add_argument("--public", action="store_true")
    ap.add_argument("dir")
    ap.add_argument("count", type=int)
    a = ap.parse_args()
    env = os.environ
    try:
        url, ca_file = env["TEST_MINT_GRANTS_URL"], env["CA_FILE"]
        endpoint = env["TOKEN_ENDPOINT"]
        if a.public:
            client_id, secret = env["CLIENT_ID_PUBLIC"], None
        else:
            client_id, secret = env["CLIENT_ID"], env["CLIENT_SECRET"]
    except KeyError as e:
        sys.exit(f"mint-token-files: {e.args[0]} is not set: source the stack's stack.env first")
    uid = gid = None
    if a.owner:
        pw = pwd.getpwnam(a.owner)
        uid, gid = pw.pw_uid, pw.pw_gid
    ctx = ssl.create_default_context(cafile=ca_file)
    try:
        tokens = mint(url, ctx, client_id, a.prefix, a.count)
    except Exception as e:  # one line, no traceback
        sys.exit(f"mint-token-files: {url}: {e}")
    for i, rt in enumerate(tokens):
        account = f"{a.prefix}{i}@example.test"
        doc = {
            "refresh_token": rt,
            "user": account,
            "token_endpoint": endpoint,
            "ca_bundle_file": a.ca or ca_file,
            "client_id": client_id,
        }
        if secret is not None:
            doc.update(client_secret=secret, client_auth="basic")
        write_file(os.path.join(a.dir, account + ".json"), doc, uid, gid)
    print(len(tokens))


if __name__ == "__main__":
    main()
