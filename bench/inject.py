#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""inject.py PORT COUNT SUBJECT_PREFIX [FROM] [TO]

Submit COUNT small messages over one SMTP session to 127.0.0.1:PORT (bench/run
p3: the sending Postfix's injection port, which puts them on hold until the
timed release).  Prints the number submitted.
"""
import smtplib
import sys


def main():
    port, count, prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    sender = sys.argv[4] if len(sys.argv) > 4 else "bench@example.test"
    rcpt = sys.argv[5] if len(sys.argv) > 5 else "user@example.test"
    body = "x" * 60 + "\r\n"
    done = 0
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        for i in range(count):
            msg = (f"From: <{sender}>\r\nTo: <{rcpt}>\r\n"
                   f"Subject: {prefix} {i}\r\n\r\n" + body * 5)
            s.sendmail(sender, [rcpt], msg)
            done += 1
    print(done)


if __name__ == "__main__":
    main()
