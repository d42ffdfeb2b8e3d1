#!/usr/bin/env python3
"""Submit one message over plain SMTP (no AUTH, no TLS), by default to pf-out's
injection port, and print its Message-ID.

    send-mail.py [--host H] [--port N] --from ADDR --to ADDR --subject TEXT [--body TEXT]

The port defaults to $PF_OUT_PORT (from DIR/stack.env), else 2527.
Exit 0 when the server accepted the message (250 after DATA), 1 otherwise.
"""

import argparse
import email.message
import email.utils
import os
import smtplib
import sys


def main():
    ap = argparse.ArgumentParser(description="submit one test message")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=int(os.environ.get("PF_OUT_PORT", "2527")))
    ap.add_argument("--from", dest="sender", default="sender@client.example.test")
    ap.add_argument("--to", dest="rcpt", default=os.environ.get("TEST_USER", "user@example.test"))
    ap.add_argument("--subject", required=True)
    ap.add_argument("--body", default="sasl-oauth2 end-to-end test message\n")
    ap.add_argument("--timeout", type=float, default=15.0)
    args = ap.parse_args()

    msg = email.message.EmailMessage()
    msg["From"] = args.sender
    msg["To"] = args.rcpt
    msg["Subject"] = args.subject
    msg["Date"] = email.utils.formatdate(localtime=False)
    msg["Message-ID"] = email.utils.make_msgid(domain="client.example.test")
    msg.set_content(args.body)

    try:
        with smtplib.SMTP(args.host, args.port, timeout=args.timeout) as smtp:
            smtp.ehlo("client.example.test")
            refused = smtp.send_message(msg, from_addr=args.sender, to_addrs=[args.rcpt])
    except (OSError, smtplib.SMTPException) as e:
        print(f"send-mail: {e}", file=sys.stderr)
        return 1
    if refused:
        print(f"send-mail: refused recipients: {refused}", file=sys.stderr)
        return 1
    print(msg["Message-ID"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
