#!/usr/bin/env python3
"""Drive the *user* half of an OAuth 2.0 device authorization (RFC 8628) at the
test authorization server, as a person with a browser would.

    device-approve.py [--ca CA_FILE] [--abort] URI_OR_USER_CODE

URI_OR_USER_CODE is the verification_uri_complete from the device
authorization response, or a bare user code (then $IDP_URL/device is used).
The pages are the provider's own: the user-code form, the confirmation form,
then the login/consent interactions (which the test server approves by itself),
up to the success page.  --abort presses the confirmation page's Abort button.

Exit 0 when the provider shows its success page (or, with --abort, when it
reports the request as aborted/denied), 1 otherwise.  Prints one status line,
never a token.
"""

import argparse
import html.parser
import http.cookiejar
import os
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request


class FormParser(html.parser.HTMLParser):
    """Collects the first POST form's action and its hidden inputs."""

    def __init__(self):
        super().__init__()
        self.action = None
        self.fields = {}
        self.has_abort = False
        self._in_form = False
        self._done = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and not self._done and (a.get("method") or "").lower() == "post":
            self.action = a.get("action")
            self._in_form = True
        elif tag == "input" and self._in_form and (a.get("type") or "").lower() == "hidden":
            if a.get("name"):
                self.fields[a["name"]] = a.get("value") or ""
        elif tag == "button" and a.get("name") == "abort":
            self.has_abort = True

    def handle_endtag(self, tag):
        if tag == "form" and self._in_form:
            self._in_form = False
            self._done = True


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ca", default=os.environ.get("CA_FILE"), help="CA bundle (default $CA_FILE)")
    ap.add_argument("--abort", action="store_true", help="press Abort on the confirmation page")
    ap.add_argument("target", help="verification_uri_complete or a user code")
    args = ap.parse_args()

    if args.target.startswith("https://"):
        url = args.target
    else:
        idp = os.environ.get("IDP_URL")
        if not idp:
            sys.exit("device-approve: IDP_URL is not set and no URI given")
        url = f"{idp}/device?user_code={urllib.parse.quote(args.target)}"

    ctx = ssl.create_default_context(cafile=args.ca) if args.ca else ssl.create_default_context()
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=ctx),
        urllib.request.HTTPCookieProcessor(jar),
        NoRedirect(),
    )

    data = None
    sent_abort = False
    for _ in range(16):
        req = urllib.request.Request(url, data=data, headers={"Accept": "text/html"})
        try:
            with opener.open(req, timeout=10) as resp:
                status, body, location = resp.status, resp.read().decode("utf-8", "replace"), None
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read().decode("utf-8", "replace")
            location = e.headers.get("Location")
        if status in (301, 302, 303, 307) and location:
            url = urllib.parse.urljoin(url, location)
            data = None
            continue
        if sent_abort:
            # The provider re-renders its user-code page with this message.
            if "interrupted" in body or "access_denied" in body:
                print("device-approve: aborted")
                return 0
            print(f"device-approve: abort not confirmed (HTTP {status})", file=sys.stderr)
            return 1
        if 'class="red"' in body:
            # The provider re-rendered its user-code form with an error.
            print(f"device-approve: refused (HTTP {status}): wrong, expired or used code", file=sys.stderr)
            return 1
        if status != 200:
            print(f"device-approve: HTTP {status}: {body[:300]}", file=sys.stderr)
            return 1
        form = FormParser()
        form.feed(body)
        if form.action is None:
            if "Sign-in Success" in body and not args.abort:
                print("device-approve: approved")
                return 0
            print(f"device-approve: unexpected page: {body[:300]}", file=sys.stderr)
            return 1
        fields = dict(form.fields)
        if args.abort and form.has_abort:
            fields["abort"] = "yes"
            sent_abort = True
        url = urllib.parse.urljoin(url, form.action)
        data = urllib.parse.urlencode(fields).encode()
    print("device-approve: too many steps", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
