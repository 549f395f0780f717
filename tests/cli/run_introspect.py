#!/usr/bin/python3
"""`tokenpass introspect` (cli-contract "introspect", RFC 7662) through the built tool,
against a real HTTP server on 127.0.0.1 that records each request and answers as the
path says: active, inactive, no `active`, 500, a body that is not JSON, a body over
1 MiB, a slow body (past --timeout). Checks the request the tool sends (POST, form body
`token=...&token_type_hint=access_token`, HTTP Basic with form-encoded id and secret),
and the member checks (exp, nbf, iss, aud, scope as verify; iat not checked).

Prints one line per failed check, then `N passed, M failed`.
usage: run_introspect.py PATH/TO/tokenpass
"""
import base64
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from jose_util import Runner, main_binary  # noqa: E402

NOW = 1_900_000_000
seen = []

ACTIVE = {"active": True, "iss": "https://as.example", "aud": "orders", "scope": "orders:read orders:write",
          "sub": "alice", "exp": NOW + 60, "nbf": NOW - 10, "iat": NOW + 3600, "client_id": "web"}
ANSWERS = {
    "/active": (200, json.dumps(ACTIVE).encode()),
    "/inactive": (200, json.dumps({"active": False, "sub": "alice", "exp": NOW + 60}).encode()),
    "/no-active": (200, json.dumps({"sub": "alice"}).encode()),
    "/active-string": (200, json.dumps({"active": "true"}).encode()),
    "/expired": (200, json.dumps({"active": True, "exp": NOW - 1}).encode()),
    "/not-yet": (200, json.dumps({"active": True, "nbf": NOW + 30}).encode()),
    "/bare": (200, json.dumps({"active": True}).encode()),
    "/server-error": (500, b'{"error":"oops"}'),
    "/not-json": (200, b"<html>hello</html>"),
    "/array": (200, b"[true]"),
    "/huge": (200, b'{"active":true,"pad":"' + b"x" * (1024 * 1024 + 10) + b'"}'),
}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 - the name http.server calls
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode()
        seen.append({"path": self.path, "auth": self.headers.get("Authorization"),
                     "type": self.headers.get("Content-Type"), "body": body})
        if self.path == "/slow":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "100")
            self.end_headers()
            try:
                for _ in range(200):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                pass
            return
        status, payload = ANSWERS[self.path]
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def main():
    r = Runner(main_binary())
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d" % server.server_address[1]
    base = ["introspect", "--allow-http", "--now", str(NOW), "--timeout", "2"]
    token = "opaque-token+/=&é"
    try:
        rc, out, _ = r.check("active: exit 0 and the answer printed", base + ["--url", url + "/active", token], 0,
                             expect=lambda o: json.loads(o) == ACTIVE)
        req = seen[-1]
        form = urllib.parse.parse_qs(req["body"], strict_parsing=True)
        r.ok("POST form body: the token and the hint", form == {"token": [token], "token_type_hint": ["access_token"]},
             req["body"])
        r.ok("form content type", (req["type"] or "").startswith("application/x-www-form-urlencoded"), str(req["type"]))
        r.ok("no Authorization without a client id", req["auth"] is None, str(req["auth"]))
        r.check("with client credentials", base + ["--url", url + "/active", "--client-id", "rs:1 x",
                                                   "--client-secret", "s3+cr%t", token], 0)
        auth = seen[-1]["auth"] or ""
        decoded = base64.b64decode(auth.split(" ", 1)[1]).decode() if auth.startswith("Basic ") else ""
        ident, _, secret = decoded.partition(":")
        r.ok("Basic with form-encoded id and secret (RFC 6749 2.3.1)",
             urllib.parse.unquote_plus(ident) == "rs:1 x" and urllib.parse.unquote_plus(secret) == "s3+cr%t"
             and ":" not in ident, auth)
        r.check("--client-id without --client-secret: exit 2", base + ["--url", url + "/active", "--client-id", "x",
                                                                       token], 2)
        r.check("https only without --allow-http", ["introspect", "--url", url + "/active", token], 2)
        # Member checks, as verify.
        r.check("--iss, --aud, --scope granted", base + ["--url", url + "/active", "--iss", "https://as.example",
                                                         "--aud", "orders", "--scope", "orders:read", token], 0)
        r.check("another issuer", base + ["--url", url + "/active", "--iss", "https://other", token], 1, "bad_issuer")
        r.check("another audience", base + ["--url", url + "/active", "--aud", "billing", token], 1, "bad_audience")
        r.check("a scope not granted", base + ["--url", url + "/active", "--scope", "admin", token], 1,
                "insufficient_scope")
        r.check("iat is not checked (in the future here)", base + ["--url", url + "/active", token], 0)
        r.check("exp passed", base + ["--url", url + "/expired", token], 1, "expired")
        r.check("... within --leeway", base + ["--url", url + "/expired", "--leeway", "5", token], 0)
        r.check("nbf ahead", base + ["--url", url + "/not-yet", token], 1, "not_yet_valid")
        r.check("omitted iss grants nothing", base + ["--url", url + "/bare", "--iss", "https://as.example", token],
                1, "bad_issuer")
        r.check("omitted aud grants nothing", base + ["--url", url + "/bare", "--aud", "orders", token], 1,
                "bad_audience")
        r.check("omitted scope grants nothing", base + ["--url", url + "/bare", "--scope", "orders:read", token], 1,
                "insufficient_scope")
        r.check("bare active answer", base + ["--url", url + "/bare", token], 0)
        # Inactive and broken answers.
        r.check("active false", base + ["--url", url + "/inactive", token], 1, "inactive")
        r.check("no active member", base + ["--url", url + "/no-active", token], 1, "inactive")
        r.check("active not a boolean", base + ["--url", url + "/active-string", token], 1, "inactive")
        r.check("HTTP 500: exit 2", base + ["--url", url + "/server-error", token], 2)
        r.check("not JSON: exit 2", base + ["--url", url + "/not-json", token], 2)
        r.check("not an object: exit 2", base + ["--url", url + "/array", token], 2)
        r.check("a body over 1 MiB: exit 2", base + ["--url", url + "/huge", token], 2)
        r.check("a slow body past --timeout: exit 2", base + ["--url", url + "/slow", "--timeout", "1", token], 2)
        r.check("no server: exit 2", base + ["--url", "http://127.0.0.1:1/x", token], 2)
    finally:
        server.shutdown()
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
