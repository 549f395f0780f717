#!/usr/bin/python3
"""cli-contract rule 18 through the built tool: every network exchange under one deadline
(`--timeout`, connect to last byte), response headers over 64 KiB and a JWKS body over
1 MiB refused without reading the rest, no redirects: each is exit 2, against a
misbehaving server on 127.0.0.1 (tests/support/hostile_server.py). The control: the same
command against a server that answers properly gets past the fetch. No timing is
asserted; a hang would end in the harness's own timeout (a failure).

Prints one line per failed check, then `N passed, M failed`.
usage: run_network_rules.py PATH/TO/tokenpass
"""
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from jose_util import Runner, jws, main_binary, make_key  # noqa: E402

SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support", "hostile_server.py")


def start(mode):
    proc = subprocess.Popen(["/usr/bin/python3", SERVER, mode], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().split()
    if len(line) != 2 or line[0] != "PORT":
        proc.kill()
        raise RuntimeError("hostile_server did not start")
    return proc, int(line[1])


def main():
    r = Runner(main_binary())
    key = make_key("ES256")
    token = jws(key, "ES256", {"sub": "x"})
    for mode, why in [("trickle-body", "a body trickled past --timeout"),
                      ("trickle-headers", "headers trickled past --timeout"),
                      ("endless-headers", "headers over 64 KiB"),
                      ("huge-length", "a Content-Length of 100 GB"),
                      ("big-body", "a JWKS body over 1 MiB"),
                      ("redirect", "a redirect, not followed")]:
        proc, port = start(mode)
        try:
            url = "http://127.0.0.1:%d/jwks" % port
            rc, _, err = r.check("%s: exit 2" % why, ["verify", "--jwks-url", url, "--allow-http",
                                                      "--timeout", "1", token], 2)
            r.ok("%s: says the set could not be fetched" % why, "could not be fetched" in err, err)
            if mode == "redirect":
                r.ok("the redirect: the message says why (its status)", "302" in err, err)
            # Discovery is an exchange of its own, under the same rules.
            r.check("%s (discovery): exit 2" % why, ["verify", "--issuer-url", "http://127.0.0.1:%d" % port,
                                                     "--allow-http", "--timeout", "1", token], 2)
        finally:
            proc.kill()
            proc.wait()
    # The control: the same command against a server that answers properly is accepted.
    jwks = json.dumps({"keys": [key.jwk(private=False)]}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the name http.server calls
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(jwks)))
            self.end_headers()
            self.wfile.write(jwks)

        def log_message(self, *args):
            pass

    good = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=good.serve_forever, daemon=True).start()
    try:
        url = "http://127.0.0.1:%d/jwks" % good.server_address[1]
        r.check("the control: a server that answers in time", ["verify", "--jwks-url", url, "--allow-http",
                                                               "--timeout", "1", token], 0)
        # --metrics: the verify and the fetch in the Prometheus text format, which
        # promtool accepts; written for a refusal too (exit 1).
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "tokenpass.prom")
            r.check("--metrics FILE: exit 0", ["verify", "--jwks-url", url, "--allow-http", "--metrics", path,
                                               token], 0)
            text = open(path).read()
            r.ok("--metrics: the verify was counted",
                 'tokenpass_verify_total{issuer="other",result="allowed",reason="ok"} 1' in text, text)
            r.ok("--metrics: the fetch was counted",
                 'tokenpass_jwks_fetch_total{issuer="%s",outcome="success"} 1' % url in text, text)
            r.ok("--metrics: a duration histogram", "tokenpass_verify_duration_seconds_count" in text, text)
            lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
            r.ok("--metrics: promtool check metrics passes", lint.returncode == 0, lint.stdout + lint.stderr)
            other = jws(make_key("ES256"), "ES256", {"sub": "x"})
            r.check("--metrics with a refused token: exit 1", ["verify", "--jwks-url", url, "--allow-http",
                                                               "--metrics", path, other], 1, code="bad_signature")
            text = open(path).read()
            r.ok("--metrics: the refusal was counted with its code",
                 'result="denied",reason="bad_signature"' in text, text)
            r.check("--metrics - writes to stderr", ["verify", "--jwks-url", url, "--allow-http", "--metrics", "-",
                                                     token], 0,
                    expect=lambda out: b"tokenpass_verify_total" not in out)
            r.check("--metrics with --payload-only: a usage error", ["verify", "--jwks-url", url, "--allow-http",
                                                                     "--metrics", path, "--payload-only", token], 2)
    finally:
        good.shutdown()
    r.check("--timeout 0 is a usage error", ["verify", "--jwks-url", "https://x.example/jwks", "--timeout", "0",
                                             token], 2)
    r.check("--timeout must be a number", ["verify", "--jwks-url", "https://x.example/jwks", "--timeout", "soon",
                                           token], 2)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
