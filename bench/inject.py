#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""inject.py PORT COUNT SUBJECT_PREFIX [FROM] [TO]

Submit COUNT small messages over one SMTP session to 127.0.0.1:PORT (bench/run
p3 and s2: the sending Postfix's injection port, which puts them on hold until
the timed release; tests/e2e/sender-relay.sh).  FROM may be a comma-separated
list: message i is then from its (i mod length)-th address.  Prints the
number submitted.
"""
import smtplib
import sys


def main():
    port, count, prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    senders = (sys.argv[4] if len(sys.argv) > 4 else "bench@example.test").split(",")
    rcpt = sys.argv[5] if len(sys.argv) > 5 else "user@example.test"
    body = "x" * 60 + "\r\n"
    done = 0
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        for i in range(count):
            sender = senders[i % len(senders)]
            msg = (f"From: <{sender}>\r\nTo: <{rcpt}>\r\n"
                   f"Subject: {prefix} {i}\r\n\r\n" + body * 5)
            s.sendmail(sender, [rcpt], msg)
            done += 1
    print(done)


if __name__ == "__main__":
    main()
