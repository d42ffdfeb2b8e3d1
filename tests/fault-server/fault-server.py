#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""fault-server: an OAuth 2.0 token endpoint of ours that misbehaves on cue.

Tests only.  Listens on loopback only (127.0.0.1 or ::1), each listener on a
port the kernel picks; when all of them are ready it writes STATE/ports.json:

  https      TLS with --cert/--key; the HTTP faults below, chosen by path
  wrongname  TLS with --wrong-cert/--wrong-key (a trusted CA, another name)
  unknownca  TLS with --unknown-cert/--unknown-key (a CA nobody trusts)
  nohandshake  accepts TCP and never says a word: the TLS handshake hangs
  backlog    listen(0) with its accept queue filled by ourselves and never
             accepted: the kernel drops further SYNs, so connect() hangs
             (an honest connect timeout on loopback)

Token requests go to https://HOST:PORT/f/FLAGS/token, FLAGS a comma list:

  google     a refresh_token grant server that does not rotate: a known
             refresh token gets an access token and stays valid
  ms         rotates (a new refresh token every time) but the old one stays
             valid (no reuse detection), as Microsoft's
  strict     rotates and consumes; reusing a consumed refresh token is
             invalid_grant and revokes the whole grant (as oidc-provider)
  pass       relays the request to --upstream (the real token endpoint)
  switch     behaves as the mode last POSTed to /__control/switch
  500        HTTP 500, an HTML body          503  HTTP 503 + Retry-After, HTML
  server_error  HTTP 500 with {"error":"server_error"}
  invalid_grant HTTP 400 invalid_grant       invalid_client  HTTP 401
  notjson    200 with an HTML page            truncated  200, JSON cut short
  cut        200, Content-Length larger than what is sent, then close
  huge       200 with a 10 MB JSON body       noaccess   200 without access_token
  hang       reads the request, never answers
  trickle    answers 200 and then one byte every 200 ms, forever
  reset      reads the request, then resets the connection (RST)
  delay=MS   wait MS milliseconds before acting (before a grant is committed)
  ttl=S      expires_in of issued access tokens (default 3600)

Control and inspection (same https listener):
  POST /__control/grant        -> {"refresh_token": new grant's token}
  POST /__control/switch       body: the mode "switch" is to act as
  GET  /__stats                -> {"total": N, "paths": {path: N}}
  STATE/requests.log           one JSON line per token request: realtime ns
                               of arrival and of the answer, the path, the
                               status, and sha256 prefixes (never a token)
                               of the refresh token received and issued.
"""
import argparse
import hashlib
import http.server
import json
import os
import secrets
import signal
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

LOOPBACK = ("127.0.0.1", "::1")


def h(token):
    """A short fingerprint of a token for logs: never the token itself."""
    if not token:
        return None
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class Grants:
    """Refresh tokens of the local token server (google, ms, strict)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rt = {}          # token -> [grant id, "active"|"consumed"]
        self.revoked = set()  # grant ids
        self.next_id = 1

    def new_grant(self):
        with self.lock:
            gid = self.next_id
            self.next_id += 1
            tok = secrets.token_urlsafe(32)
            self.rt[tok] = [gid, "active"]
            return tok

    def refresh(self, token, mode):
        """(status, body dict, new refresh token or None)."""
        with self.lock:
            ent = self.rt.get(token)
            if ent is None or ent[0] in self.revoked:
                return 400, {"error": "invalid_grant",
                             "error_description": "unknown or revoked refresh token"}, None
            gid, state = ent
            if state == "consumed":
                # strict: replay detected, the whole grant dies
                self.revoked.add(gid)
                return 400, {"error": "invalid_grant",
                             "error_description": "refresh token reused: grant revoked"}, None
            new = None
            if mode in ("ms", "strict"):
                new = secrets.token_urlsafe(32)
                self.rt[new] = [gid, "active"]
                if mode == "strict":
                    ent[1] = "consumed"
            return 200, None, new


class State:
    def __init__(self, args):
        self.args = args
        self.grants = Grants()
        self.switch = "503"
        self.lock = threading.Lock()
        self.paths = {}
        self.total = 0
        self.log = open(os.path.join(args.state, "requests.log"), "a", buffering=1)

    def count(self, path):
        with self.lock:
            self.total += 1
            self.paths[path] = self.paths.get(path, 0) + 1

    def record(self, **kw):
        with self.lock:
            self.log.write(json.dumps(kw, sort_keys=True) + "\n")


STATE = None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fault-server"
    sys_version = ""

    def log_message(self, fmt, *args):  # quiet: the request log is ours
        pass

    def handle(self):
        try:
            super().handle()
        except (OSError, ValueError, ssl.SSLError):
            pass

    def finish(self):
        try:
            super().finish()
        except (OSError, ValueError, ssl.SSLError):
            pass

    # -- helpers --------------------------------------------------------
    def send(self, status, body, ctype="application/json", extra=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def raw_socket(self):
        return self.connection

    def reset(self):
        """Close with RST: SO_LINGER 0, no TLS close_notify."""
        s = self.raw_socket()
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            fd = s.detach() if hasattr(s, "detach") else None
            if fd is not None:
                os.close(fd)
            else:
                s.close()
        except OSError:
            pass
        self.close_connection = True

    def wait_for_eof(self, limit):
        """Hold the connection until the client goes away (or limit s)."""
        s = self.raw_socket()
        end = time.time() + limit
        s.settimeout(0.2)
        while time.time() < end:
            try:
                if s.recv(1) == b"":
                    return
            except socket.timeout:
                continue
            except (OSError, ssl.SSLError):
                return

    # -- routes ---------------------------------------------------------
    def do_GET(self):
        if self.path == "/__stats":
            with STATE.lock:
                return self.send(200, {"total": STATE.total, "paths": dict(STATE.paths),
                                       "switch": STATE.switch})
        self.send(404, {"error": "not_found"})

    def do_POST(self):
        arrived = time.time_ns()
        path = urllib.parse.urlsplit(self.path).path
        if path == "/__control/grant":
            self.read_body()
            return self.send(200, {"refresh_token": STATE.grants.new_grant()})
        if path == "/__control/switch":
            mode = self.read_body().decode().strip()
            STATE.switch = mode
            return self.send(200, {"switch": mode})
        parts = path.split("/")
        if len(parts) != 4 or parts[1] != "f" or parts[3] != "token":
            return self.send(404, {"error": "not_found"})
        STATE.count(path)
        flags = {}
        for f in parts[2].split(","):
            k, _, v = f.partition("=")
            flags[k] = v
        if "switch" in flags:
            flags = {STATE.switch: ""}
        body = self.read_body()
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        rt_in = (form.get("refresh_token") or [None])[0]
        if "delay" in flags:
            time.sleep(int(flags["delay"] or 0) / 1000.0)
        status, rt_out = self.act(flags, body, form, rt_in)
        STATE.record(t_in=arrived, t_out=time.time_ns(), path=path, status=status,
                     rt_in=h(rt_in), rt_out=h(rt_out))

    def act(self, flags, body, form, rt_in):
        """Do what the flags say; (HTTP status or a word, new refresh token)."""
        html = "<html><head><title>%s</title></head><body>%s</body></html>"
        for mode in ("google", "ms", "strict"):
            if mode in flags:
                return self.grant(mode, flags, form, rt_in)
        if "pass" in flags:
            return self.relay(body), None
        if "500" in flags:
            self.send(500, html % ("500", "Internal Server Error"), "text/html")
            return 500, None
        if "503" in flags:
            self.send(503, html % ("503", "Service Unavailable"), "text/html",
                      {"Retry-After": "120"})
            return 503, None
        if "server_error" in flags:
            self.send(500, {"error": "server_error",
                            "error_description": "try again later"})
            return 500, None
        if "invalid_grant" in flags:
            self.send(400, {"error": "invalid_grant",
                            "error_description": "Token has been expired or revoked."})
            return 400, None
        if "invalid_client" in flags:
            self.send(401, {"error": "invalid_client",
                            "error_description": "The OAuth client was not found."},
                      extra={"WWW-Authenticate": 'Basic realm="token"'})
            return 401, None
        if "notjson" in flags:
            self.send(200, html % ("Sign in", "Please sign in to continue"), "text/html")
            return 200, None
        if "truncated" in flags:
            self.send(200, '{"access_token": "ya29.a0AfH6SMC", "expires_in": 35')
            return 200, None
        if "noaccess" in flags:
            self.send(200, {"token_type": "Bearer", "expires_in": 3599,
                            "scope": "https://mail.google.com/"})
            return 200, None
        if "cut" in flags:
            full = json.dumps({"access_token": "x" * 64, "expires_in": 3600,
                               "token_type": "Bearer"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(full)))
            self.end_headers()
            self.wfile.write(full[:20])
            self.wfile.flush()
            self.close_connection = True
            return "cut", None
        if "huge" in flags:
            return self.huge(), None
        if "hang" in flags:
            self.wait_for_eof(60)
            self.close_connection = True
            return "hang", None
        if "trickle" in flags:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            self.wfile.flush()
            try:
                for _ in range(300):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.2)
            except (OSError, ssl.SSLError):
                pass
            self.close_connection = True
            return "trickle", None
        if "reset" in flags:
            self.reset()
            return "reset", None
        self.send(400, {"error": "invalid_request", "error_description": "no such fault"})
        return 400, None

    def grant(self, mode, flags, form, rt_in):
        if (form.get("grant_type") or [""])[0] != "refresh_token" or not rt_in:
            self.send(400, {"error": "invalid_request"})
            return 400, None
        status, err, new = STATE.grants.refresh(rt_in, mode)
        if status != 200:
            self.send(status, err)
            return status, None
        doc = {"access_token": "fs." + secrets.token_urlsafe(32),
               "token_type": "Bearer",
               "expires_in": int(flags.get("ttl") or 3600),
               "scope": "mail"}
        if new:
            doc["refresh_token"] = new
        self.send(200, doc)
        return 200, new

    def huge(self):
        size = 10 * 1024 * 1024
        head = b'{"access_token": "abc", "padding": "'
        tail = b'"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        sent = 0
        try:
            self.wfile.write(head)
            sent = len(head)
            chunk = b"A" * 65536
            while sent < size - len(tail):
                n = min(len(chunk), size - len(tail) - sent)
                self.wfile.write(chunk[:n])
                sent += n
            self.wfile.write(tail)
            self.wfile.flush()
        except (OSError, ssl.SSLError):
            pass
        self.close_connection = True
        return 200

    def relay(self, body):
        a = STATE.args
        req = urllib.request.Request(a.upstream, data=body, method="POST")
        for k in ("Content-Type", "Authorization", "Accept"):
            if self.headers.get(k):
                req.add_header(k, self.headers.get(k))
        ctx = ssl.create_default_context(cafile=a.upstream_ca)
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=20) as r:
                status, data, ctype = r.status, r.read(), r.headers.get("Content-Type")
        except urllib.error.HTTPError as e:
            status, data, ctype = e.code, e.read(), e.headers.get("Content-Type")
        except (urllib.error.URLError, OSError) as e:
            self.send(502, {"error": "server_error", "error_description": "upstream: %s" % e})
            return 502
        self.send(status, data, ctype or "application/json")
        return status


class TLSServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """The TLS handshake happens in the request's own thread, so a client
    that stalls it cannot block the listener."""
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, host, ctx):
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.ctx = ctx
        super().__init__((host, 0), Handler)

    def finish_request(self, request, client_address):
        try:
            request.settimeout(30)
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        self.RequestHandlerClass(tls, client_address, self)

    def handle_error(self, request, client_address):
        pass


def tls_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def serve_forever_thread(server):
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    return t


def silent_listener(host):
    """Accept TCP connections and never send a byte."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, 0))
    s.listen(64)
    held = []

    def loop():
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            held.append((time.time(), c))
            while held and time.time() - held[0][0] > 120:
                held.pop(0)[1].close()
    threading.Thread(target=loop, daemon=True).start()
    return s


def full_backlog_listener(host):
    """A listener whose accept queue is full: new SYNs are dropped."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((host, 0))
    s.listen(0)
    port = s.getsockname()[1]
    fillers = []
    for _ in range(8):
        c = socket.socket(fam, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect((host, port))
        except BlockingIOError:
            pass
        fillers.append(c)
    time.sleep(0.1)
    return s, fillers


def main():
    global STATE
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--state", required=True, help="directory for ports.json and requests.log")
    p.add_argument("--host", default="127.0.0.1", choices=LOOPBACK)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--wrong-cert")
    p.add_argument("--wrong-key")
    p.add_argument("--unknown-cert")
    p.add_argument("--unknown-key")
    p.add_argument("--upstream", help="real token endpoint for the pass mode")
    p.add_argument("--upstream-ca", help="CA file to verify the upstream")
    args = p.parse_args()
    STATE = State(args)

    ports = {}
    main_srv = TLSServer(args.host, tls_context(args.cert, args.key))
    ports["https"] = main_srv.server_address[1]
    serve_forever_thread(main_srv)
    if args.wrong_cert:
        srv = TLSServer(args.host, tls_context(args.wrong_cert, args.wrong_key))
        ports["wrongname"] = srv.server_address[1]
        serve_forever_thread(srv)
    if args.unknown_cert:
        srv = TLSServer(args.host, tls_context(args.unknown_cert, args.unknown_key))
        ports["unknownca"] = srv.server_address[1]
        serve_forever_thread(srv)
    silent = silent_listener(args.host)
    ports["nohandshake"] = silent.getsockname()[1]
    backlog, _fillers = full_backlog_listener(args.host)
    ports["backlog"] = backlog.getsockname()[1]

    tmp = os.path.join(args.state, "ports.json.tmp")
    with open(tmp, "w") as f:
        json.dump(ports, f)
    os.rename(tmp, os.path.join(args.state, "ports.json"))

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    while not stop.wait(1):
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
