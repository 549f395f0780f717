#!/usr/bin/python3
"""`tokenpass verify` with single-use and certificate-bound tokens (cli-contract "verify:
single-use, certificate-bound and DPoP-bound tokens"), through the built tool:

* --single-use --replay-store redis://... against a real redis-server started here: two
  runs of one token (the second `replayed`), 16 concurrent runs (exactly one exit 0), a
  forged token burns nothing, --now and leeway, Redis stopped (exit 2, not accepted), a
  wrong password (exit 2 with a clear message), --single-use without a store (exit 2),
  no jti or exp (`missing_claim`);
* --cnf-cert with certificates made by the `openssl` command: matching, another, missing
  (`bad_binding`), text before the PEM block, an unreadable file (exit 2); --require-binding;
  `cnf` of the wrong types (`bad_claim`); `cnf.jkt` without --dpop (`bad_binding`); the
  order: binding before replay (a refused binding records nothing).

Tokens are signed by this script (python3-cryptography), not by tokenpass.
Prints one line per failed check, then `N passed, M failed`.
usage: run_single_use_binding.py PATH/TO/tokenpass
"""
import base64
import concurrent.futures
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from jose_util import Runner, flip_signature_bit, jws, main_binary, make_key, write  # noqa: E402

NOW = 1_900_000_000  # --now for every run: tokens below are valid at this time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_redis(tmp, password=None):
    port = free_port()
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", tmp, "--loglevel", "warning"]
    if password:
        args += ["--requirepass", password]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_certs(tmp):
    """A CA and two client certificates (openssl command); returns {name: pem path}."""
    ca_key, ca = os.path.join(tmp, "ca.key"), os.path.join(tmp, "ca.pem")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
            "-subj", "/CN=test CA", "-keyout", ca_key, "-out", ca)
    out = {}
    for name in ("billing", "gateway"):
        key, csr, pem = (os.path.join(tmp, name + ext) for ext in (".key", ".csr", ".pem"))
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=" + name,
                "-keyout", key, "-out", csr)
        openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-days", "1",
                "-out", pem)
        out[name] = pem
    return out


def x5t_s256(pem_path):
    """RFC 8705 §3.1: base64url SHA-256 of the certificate's DER (computed here)."""
    der = subprocess.run(["openssl", "x509", "-in", pem_path, "-outform", "DER"], check=True,
                         stdout=subprocess.PIPE).stdout
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


def main():
    r = Runner(main_binary())
    tmp = tempfile.mkdtemp()
    key = make_key("ES256")
    keyfile = write(tmp, "key.jwk", key.jwk(private=False))
    serial = [0]

    def token(extra=None, jti=True, exp=NOW + 60):
        serial[0] += 1
        claims = {"iss": "https://issuer.test", "sub": "svc", "iat": NOW}
        if exp is not None:
            claims["exp"] = exp
        if jti:
            claims["jti"] = "jti-%d-%d" % (os.getpid(), serial[0])
        claims.update(extra or {})
        return jws(key, "ES256", claims)

    base = ["verify", "--key", keyfile, "--now", str(NOW)]
    redis, port = start_redis(tmp)
    store = "redis://127.0.0.1:%d" % port
    single = base + ["--single-use", "--replay-store", store]
    try:
        # -- single use ----------------------------------------------------------------
        t = token()
        r.check("single use: first run", single + [t], 0)
        r.check("single use: second run is replayed", single + [t], 1, "replayed")
        r.check("without --single-use the store is not asked", base + ["--replay-store", store, t], 0)
        t = token()
        r.check("a forged token (the same claims, one signature bit flipped) is refused first",
                single + [flip_signature_bit(t)], 1, "bad_signature")
        r.check("... and burned nothing", single + [t], 0)
        r.check("no jti: missing_claim", single + [token(jti=False)], 1, "missing_claim")
        r.check("no exp: missing_claim", single + [token(exp=None)], 1, "missing_claim")
        expired = token(exp=NOW - 10)
        r.check("an expired token never reaches the store", single + [expired], 1, "expired")
        r.check("... and within the leeway it is accepted once", single + ["--leeway", "30", expired], 0)
        r.check("... then replayed", single + ["--leeway", "30", expired], 1, "replayed")
        r.check("--single-use without a store: exit 2", base + ["--single-use", token()], 2)
        r.check("a bad store URL: exit 2", base + ["--single-use", "--replay-store", "http://x", token()], 2)

        # 16 concurrent runs of one token: exactly one is accepted.
        t = token()
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            codes = list(pool.map(lambda _: r.run(single + [t])[0], range(16)))
        r.ok("16 concurrent runs: exactly one exit 0", codes.count(0) == 1 and codes.count(1) == 15, str(codes))

        # -- certificate binding ---------------------------------------------------------
        certs = make_certs(tmp)
        thumb = x5t_s256(certs["billing"])
        bound = token({"cnf": {"x5t#S256": thumb}})
        r.check("bound token with its certificate", base + ["--cnf-cert", certs["billing"], bound], 0)
        r.check("bound token with another certificate", base + ["--cnf-cert", certs["gateway"], bound], 1,
                "bad_binding")
        r.check("bound token without --cnf-cert", base + [bound], 1, "bad_binding")
        with open(certs["billing"]) as f:
            leading = write(tmp, "leading.pem", "Subject: billing\nsome text first\n" + f.read())
        r.check("text before the PEM block is ignored", base + ["--cnf-cert", leading, bound], 0)
        r.check("an unreadable --cnf-cert: exit 2", base + ["--cnf-cert", os.path.join(tmp, "none.pem"), bound], 2)
        r.check("a --cnf-cert that is no certificate: exit 2", base + ["--cnf-cert", keyfile, bound], 2)
        plain = token()
        r.check("an unbound token is a bearer token", base + ["--cnf-cert", certs["billing"], plain], 0)
        r.check("--require-binding refuses it", base + ["--require-binding", plain], 1, "bad_binding")
        r.check("--require-binding with a bound token", base + ["--require-binding", "--cnf-cert", certs["billing"],
                                                                bound], 0)
        r.check("cnf not an object: bad_claim", base + [token({"cnf": "x"})], 1, "bad_claim")
        r.check("cnf.x5t#S256 not a string: bad_claim", base + [token({"cnf": {"x5t#S256": 1}})], 1, "bad_claim")
        r.check("cnf.jkt not a string: bad_claim", base + [token({"cnf": {"jkt": []}})], 1, "bad_claim")
        r.check("cnf.jkt without --dpop: bad_binding", base + [token({"cnf": {"jkt": "abc"}})], 1, "bad_binding")
        r.check("other cnf members are not checked", base + [token({"cnf": {"kid": "k"}})], 0)
        r.check("claim rules first: expired before bad_binding", base + [token({"cnf": {"x5t#S256": "x"}},
                                                                             exp=NOW - 1)], 1, "expired")
        # Binding before replay: a refused binding records nothing.
        bound_once = token({"cnf": {"x5t#S256": thumb}})
        r.check("single use + wrong certificate", single + ["--cnf-cert", certs["gateway"], bound_once], 1,
                "bad_binding")
        r.check("... recorded nothing: the right certificate is accepted", single + ["--cnf-cert", certs["billing"],
                                                                                     bound_once], 0)
        r.check("... once", single + ["--cnf-cert", certs["billing"], bound_once], 1, "replayed")

        # -- the store down, and a wrong password ----------------------------------------
        redis.terminate()
        redis.wait(timeout=10)
        rc, out, err = r.check("Redis stopped: exit 2", single + [token()], 2)
        r.ok("... and nothing printed as accepted", out == b"", repr(out[:100]))
    finally:
        if redis.poll() is None:
            redis.terminate()
            redis.wait(timeout=10)

    locked, lport = start_redis(tmp, password="s3cret")
    try:
        rc, _, err = r.check("wrong password: exit 2", base + ["--single-use", "--replay-store",
                                                                "redis://:wrong@127.0.0.1:%d" % lport, token()], 2)
        r.ok("wrong password: a clear message", "--replay-store" in err and ("auth" in err.lower() or
                                                                            "password" in err.lower()), err)
        r.check("the right password", base + ["--single-use", "--replay-store", "redis://:s3cret@127.0.0.1:%d" % lport,
                                              token()], 0)
    finally:
        locked.terminate()
        locked.wait(timeout=10)
    shutil.rmtree(tmp, ignore_errors=True)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
