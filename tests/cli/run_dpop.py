#!/usr/bin/python3
"""`tokenpass verify --dpop` (cli-contract "verify: single-use, certificate-bound and
DPoP-bound tokens", RFC 9449) through the built tool, with proofs made by PyJWT (an
implementation other than tokenpass): one case per refusal the contract lists, `htu`
normalisation both ways, the nonce, the order of checks (token rules, proof, binding,
replay), and proof replay against a real redis-server started here.

Prints one line per failed check, then `N passed, M failed`.
usage: run_dpop.py PATH/TO/tokenpass
"""
import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from jose_util import Runner, jws, main_binary, make_key, write  # noqa: E402

NOW = 1_900_000_000
HTU = "https://api.example/orders"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jkt(public_jwk):
    """RFC 7638 thumbprint of an EC public JWK (computed here)."""
    canon = json.dumps({k: public_jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canon.encode()).digest())


class Client:
    """A DPoP client: its own EC key; proofs signed by PyJWT."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.jwk = json.loads(ECAlgorithm.to_jwk(self.key.public_key()))
        self.serial = 0

    def proof(self, token, htm="POST", htu=HTU, iat=NOW, header=None, drop=(), extra=None, jwk=None, key=None,
              alg="ES256"):
        self.serial += 1
        claims = {"jti": "proof-%d-%d" % (os.getpid(), self.serial), "htm": htm, "htu": htu, "iat": iat,
                  "ath": b64url(hashlib.sha256(token.encode()).digest())}
        claims.update(extra or {})
        for d in drop:
            claims.pop(d, None)
        h = {"typ": "dpop+jwt", "jwk": jwk if jwk is not None else self.jwk}
        h.update(header or {})
        h = {k: v for k, v in h.items() if v is not None}
        return jwt.encode(claims, key if key is not None else self.key, algorithm=alg, headers=h)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    r = Runner(main_binary())
    tmp = tempfile.mkdtemp()
    issuer_key = make_key("ES256")
    keyfile = write(tmp, "issuer.jwk", issuer_key.jwk(private=False))
    client = Client()

    def token(cnf_jkt=None, exp=NOW + 60, jti="t-1"):
        claims = {"iss": "https://as.example", "sub": "alice", "exp": exp, "jti": jti}
        if cnf_jkt is not None:
            claims["cnf"] = {"jkt": cnf_jkt}
        return jws(issuer_key, "ES256", claims)

    base = ["verify", "--key", keyfile, "--now", str(NOW)]
    bound = token(jkt(client.jwk))

    def run(name, proof, exit, code=None, tok=None, htm="POST", htu=HTU, more=()):
        r.check(name, base + list(more) + ["--dpop", proof, "--htm", htm, "--htu", htu, tok or bound], exit, code)

    run("a good proof", client.proof(bound), 0)
    run("typ not exactly dpop+jwt", client.proof(bound, header={"typ": "DPoP+jwt"}), 1, "bad_proof")
    run("no typ", client.proof(bound, header={"typ": None}), 1, "bad_proof")
    other = ec.generate_private_key(ec.SECP256R1())
    run("signed by another key than the header's", client.proof(bound, key=other), 1, "bad_proof")
    priv = json.loads(ECAlgorithm.to_jwk(client.key))
    run("a private key in the header", client.proof(bound, jwk=priv), 1, "bad_proof")
    run("crit in the proof", client.proof(bound, header={"crit": ["exp"], "exp": 1}), 1, "bad_proof")
    run("HS256 (symmetric) proof", jwt.encode({"jti": "x", "htm": "POST", "htu": HTU, "iat": NOW, "ath": "x"},
                                             "k" * 32, algorithm="HS256",
                                             headers={"typ": "dpop+jwt", "jwk": client.jwk}), 1, "bad_proof")
    for claim in ("jti", "htm", "htu", "iat", "ath"):
        run("no %s" % claim, client.proof(bound, drop=(claim,)), 1, "bad_proof")
    run("iat not a number", client.proof(bound, iat=str(NOW)), 1, "bad_proof")
    run("another method", client.proof(bound, htm="GET"), 1, "bad_proof")
    run("htm is case-sensitive", client.proof(bound, htm="post"), 1, "bad_proof")
    run("another URI", client.proof(bound, htu="https://api.example/other"), 1, "bad_proof")
    run("another host", client.proof(bound, htu="https://evil.example/orders"), 1, "bad_proof")
    run("htu normalised (proof side)", client.proof(bound, htu="HTTPS://API.EXAMPLE:443/x/../orders?q=1#f"), 0)
    run("htu normalised (request side)", client.proof(bound), 0, htu="https://Api.Example:443/./orders?page=2")
    run("htu percent-encoding normalised", client.proof(bound, htu="https://api.example/%6Frders"), 0)
    run("ath of another token", client.proof(token(jkt(client.jwk), jti="t-other")), 1, "bad_proof")
    run("iat too old", client.proof(bound, iat=NOW - 61), 1, "bad_proof")
    run("iat within --dpop-max-age", client.proof(bound, iat=NOW - 100), 0, more=("--dpop-max-age", "120"))
    run("iat in the future", client.proof(bound, iat=NOW + 1), 1, "bad_proof")
    run("... within --leeway", client.proof(bound, iat=NOW + 5), 0, more=("--leeway", "5"))
    run("--leeway does not widen the past side", client.proof(bound, iat=NOW - 62), 1, "bad_proof",
        more=("--leeway", "5"))
    run("nonce missing", client.proof(bound), 1, "use_dpop_nonce", more=("--dpop-nonce", "n-1"))
    run("nonce wrong", client.proof(bound, extra={"nonce": "n-0"}), 1, "use_dpop_nonce",
        more=("--dpop-nonce", "n-1"))
    run("nonce right", client.proof(bound, extra={"nonce": "n-1"}), 0, more=("--dpop-nonce", "n-1"))
    run("a bad proof is bad_proof before the nonce", client.proof(bound, htm="GET"), 1, "bad_proof",
        more=("--dpop-nonce", "n-1"))
    # Binding: cnf.jkt against the proof's key.
    other_client = Client()
    run("the token bound to another key", other_client.proof(bound), 1, "bad_binding")
    unbound = token()
    run("a proof with an unbound token", client.proof(unbound), 1, "bad_binding", tok=unbound)
    r.check("a DPoP-bound token without --dpop", base + [bound], 1, "bad_binding")
    # Order: the token's own rules first.
    expired = token(jkt(client.jwk), exp=NOW - 1, jti="t-expired")
    run("an expired token is expired, whatever its proof", "not-a-proof", 1, "expired", tok=expired)
    # Usage.
    r.check("--htm without --dpop", base + ["--htm", "POST", bound], 2)
    r.check("--dpop without --htu", base + ["--dpop", client.proof(bound), "--htm", "POST", bound], 2)

    # Proof replay through a real redis-server: a proof's jti once, for any method and URI.
    port = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        store = ("--replay-store", "redis://127.0.0.1:%d" % port)
        p = client.proof(bound)
        run("with a store: first use of a proof", p, 0, more=store)
        run("with a store: the same proof again", p, 1, "replayed", more=store)
        # A proof refused at the binding records nothing: the token's own key then passes.
        t3 = token(jkt(other_client.jwk), jti="t-3")
        p3 = client.proof(t3)
        run("bound to another key, with a store", p3, 1, "bad_binding", tok=t3, more=store)
        other_p3 = other_client.proof(t3)
        run("... the token's own key then passes", other_p3, 0, tok=t3, more=store)
        run("... and client's refused proof was not recorded either", p3, 1, "bad_binding", tok=t3, more=store)
        # Proof jti, then the token's: single use of the token with a fresh proof each time.
        single = store + ("--single-use",)
        t4 = token(jkt(client.jwk), jti="t-4")
        run("single use: first", client.proof(t4), 0, tok=t4, more=single)
        run("single use: the token again with a fresh proof", client.proof(t4), 1, "replayed", tok=t4, more=single)
    finally:
        redis.terminate()
        redis.wait(timeout=10)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
