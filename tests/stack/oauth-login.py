#!/usr/bin/env python3
"""Log in to IMAP or SMTP with XOAUTH2 / OAUTHBEARER built here (no SASL
library, no plugin): the reference client of the test stack.

    oauth-login.py imap|smtp --port N [--tls implicit|starttls] --user U
                   (--token T | --token-env VAR) [--mech XOAUTH2|OAUTHBEARER]
                   [--ca CA_FILE] [--send-subject S [--send-to ADDR]]

The access token is taken from --token or, to keep it out of ps, from the
environment variable named by --token-env.  The server's certificate is
verified against --ca (default $CA_FILE).

On a refusal the server first sends an error challenge (base64 JSON); this
client answers it as the specifications say (XOAUTH2: empty response,
OAUTHBEARER: a single 0x01), then the server says NO / 535.

Output: "OK" or "REFUSED <challenge-json>" on stdout (never the token).
With --send-subject (smtp only) a message is sent after AUTH; its Message-ID
is printed on a second line.
Exit: 0 authenticated (and sent), 1 refused, 2 other error.
"""

import argparse
import base64
import email.message
import email.utils
import imaplib
import os
import smtplib
import ssl
import sys


def initial_response(mech, user, token, host, port):
    if mech == "XOAUTH2":
        return f"user={user}\x01auth=Bearer {token}\x01\x01"
    authzid = user.replace("=", "=3D").replace(",", "=2C")
    return f"n,a={authzid},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01"


class Auth:
    """SASL state: the initial response, then the answer to an error challenge."""

    def __init__(self, mech, ir):
        self.mech = mech
        self.ir = ir
        self.step = 0
        self.challenge = None

    def next(self, challenge):
        self.step += 1
        if self.step == 1 and not challenge:
            return self.ir
        self.challenge = challenge
        return "" if self.mech == "XOAUTH2" else "\x01"


def imap_login(args, token, ctx):
    if args.tls == "implicit":
        conn = imaplib.IMAP4_SSL(args.host, args.port, ssl_context=ctx, timeout=args.timeout)
    else:
        conn = imaplib.IMAP4(args.host, args.port, timeout=args.timeout)
        conn.starttls(ssl_context=ctx)
    auth = Auth(args.mech, initial_response(args.mech, args.user, token, args.host, args.port))

    def cb(data):
        return auth.next(data.decode("utf-8", "replace") if data else "").encode("utf-8")

    try:
        conn.authenticate(args.mech, cb)
    except imaplib.IMAP4.error:
        return False, auth.challenge
    finally:
        try:
            conn.logout()
        except (OSError, imaplib.IMAP4.error):
            pass
    return True, None


def smtp_login(args, token, ctx):
    if args.tls == "implicit":
        conn = smtplib.SMTP_SSL(args.host, args.port, context=ctx, timeout=args.timeout)
    else:
        conn = smtplib.SMTP(args.host, args.port, timeout=args.timeout)
        conn.ehlo("client.example.test")
        conn.starttls(context=ctx)
    conn.ehlo("client.example.test")
    auth = Auth(args.mech, initial_response(args.mech, args.user, token, args.host, args.port))

    def cb(challenge=None):
        if challenge is None:
            return auth.next("")
        return auth.next(challenge.decode("utf-8", "replace"))

    msgid = None
    try:
        conn.auth(args.mech, cb, initial_response_ok=True)
    except smtplib.SMTPAuthenticationError:
        conn.close()
        return False, auth.challenge, None
    if args.send_subject:
        msg = email.message.EmailMessage()
        msg["From"] = args.user
        msg["To"] = args.send_to or args.user
        msg["Subject"] = args.send_subject
        msg["Date"] = email.utils.formatdate()
        msg["Message-ID"] = msgid = email.utils.make_msgid(domain="client.example.test")
        msg.set_content("sasl-oauth2 end-to-end test message\n")
        conn.send_message(msg)
    conn.quit()
    return True, None, msgid


def main():
    ap = argparse.ArgumentParser(description="XOAUTH2/OAUTHBEARER reference login")
    ap.add_argument("proto", choices=["imap", "smtp"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tls", choices=["implicit", "starttls"], default=None)
    ap.add_argument("--user", default=os.environ.get("TEST_USER", "user@example.test"))
    ap.add_argument("--token")
    ap.add_argument("--token-env")
    ap.add_argument("--mech", type=str.upper, choices=["XOAUTH2", "OAUTHBEARER"], default="XOAUTH2")
    ap.add_argument("--ca", default=os.environ.get("CA_FILE"))
    ap.add_argument("--send-subject")
    ap.add_argument("--send-to")
    ap.add_argument("--timeout", type=float, default=15.0)
    args = ap.parse_args()

    token = args.token if args.token is not None else os.environ.get(args.token_env or "", None)
    if token is None:
        print("oauth-login: give --token or --token-env", file=sys.stderr)
        return 2
    if args.tls is None:
        args.tls = "implicit" if args.port in (993, 1993, 465) else "starttls"
    ctx = ssl.create_default_context(cafile=args.ca) if args.ca else ssl.create_default_context()

    try:
        if args.proto == "imap":
            ok, challenge = imap_login(args, token, ctx)
            msgid = None
        else:
            ok, challenge, msgid = smtp_login(args, token, ctx)
    except (OSError, ssl.SSLError, imaplib.IMAP4.error, smtplib.SMTPException) as e:
        print(f"oauth-login: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    if ok:
        print("OK")
        if msgid:
            print(msgid)
        return 0
    print(f"REFUSED {challenge or ''}".rstrip())
    return 1


if __name__ == "__main__":
    sys.exit(main())
