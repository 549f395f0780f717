"""Shared helpers of the CLI black-box checks: running the binary, counting checks,
making keys and JWS independently of tokenpass (with `cryptography`), base64url.

Standard library plus `cryptography` only; the PyJWT interop script adds `jwt`.
"""
import base64
import hashlib
import hmac as hmac_mod
import json
import os
import re
import subprocess
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

ERROR_CODES = [
    "malformed", "unsupported_alg", "alg_not_allowed", "key_not_found", "key_unusable",
    "bad_signature", "expired", "not_yet_valid", "issued_in_future", "too_old", "bad_issuer",
    "bad_audience", "bad_subject", "bad_type", "missing_claim", "bad_claim",
    "insufficient_scope", "unknown_crit", "too_large", "replayed",
]
CODE_LINE = re.compile(r"^error: (%s): " % "|".join(ERROR_CODES), re.M)


# ---- base64url -------------------------------------------------------------------

def b64e(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64d(text):
    if isinstance(text, bytes):
        text = text.decode()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def int_b64(n, width=None):
    if width is None:
        width = max(1, (n.bit_length() + 7) // 8)
    return b64e(n.to_bytes(width, "big"))


# ---- running the binary and counting ----------------------------------------------

class Runner:
    def __init__(self, binary):
        self.binary = binary
        self.passed = 0
        self.failed = 0

    def run(self, args, stdin=None):
        if isinstance(stdin, str):
            stdin = stdin.encode()
        p = subprocess.run([self.binary] + [str(a) for a in args], input=stdin if stdin is not None
                           else b"", stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")

    def ok(self, name, cond, detail=""):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL %s%s" % (name, (": " + detail) if detail else ""), flush=True)
        return cond

    def check(self, name, args, exit=0, code=None, stdin=None, expect=None, secret=None):
        """Runs the binary and checks the exit status; for exit 1 that stderr is exactly
        one `error: CODE: ...` line; for exit 2 that it holds no such line. `expect`
        is called with stdout (bytes) and must return True. `secret` must never appear
        on stderr. Returns (rc, stdout, stderr)."""
        rc, out, err = self.run(args, stdin)
        problems = []
        if rc != exit:
            problems.append("exit %d, wanted %d" % (rc, exit))
        if exit == 1:
            lines = err.splitlines()
            if len(lines) != 1 or not lines[0].startswith("error: %s: " % code):
                problems.append("stderr %r, wanted one line 'error: %s: ...'" % (err[:300], code))
        elif exit == 2:
            if CODE_LINE.search(err):
                problems.append("exit 2 printed a token error line: %r" % err[:300])
            if not err.strip():
                problems.append("exit 2 with an empty stderr")
        for s in secret or []:
            if s and s in err:
                problems.append("stderr leaks a secret or the token")
        if expect is not None and rc == exit and not problems:
            try:
                good = expect(out)
            except Exception as e:  # noqa: BLE001 - any failure of the predicate is a failure
                good = False
                problems.append("output check raised %r" % e)
            if not good:
                problems.append("unexpected stdout %r" % out[:300])
        self.ok(name, not problems, "; ".join(problems) + ("" if rc == exit else
                                                           " | stderr: %r" % err[:200]))
        return rc, out, err

    def finish(self):
        print("%d passed, %d failed" % (self.passed, self.failed), flush=True)
        return 1 if self.failed else 0


# ---- keys --------------------------------------------------------------------------

HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
EC_CURVES = {
    "ES256": (ec.SECP256R1, "P-256", 32),
    "ES384": (ec.SECP384R1, "P-384", 48),
    "ES512": (ec.SECP521R1, "P-521", 66),
    "ES256K": (ec.SECP256K1, "secp256k1", 32),
}
CRV_WIDTH = {"P-256": 32, "P-384": 48, "P-521": 66, "secp256k1": 32}
CURVE_BY_NAME = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1,
                 "secp256k1": ec.SECP256K1}


class TestKey:
    """A key made with `cryptography`: the private object, its JWKs and PEMs."""

    def __init__(self, alg, priv, crv=None):
        self.alg = alg  # the algorithm this key signs with
        self.priv = priv  # cryptography private key, or bytes for HMAC
        self.crv = crv

    @property
    def is_hmac(self):
        return isinstance(self.priv, bytes)

    def public(self):
        return None if self.is_hmac else self.priv.public_key()

    def jwk(self, private=True, **extra):
        if self.is_hmac:
            j = {"kty": "oct", "k": b64e(self.priv)}
        elif isinstance(self.priv, rsa.RSAPrivateKey):
            pn = self.priv.private_numbers()
            j = {"kty": "RSA", "n": int_b64(pn.public_numbers.n), "e": int_b64(pn.public_numbers.e)}
            if private:
                j.update(d=int_b64(pn.d), p=int_b64(pn.p), q=int_b64(pn.q), dp=int_b64(pn.dmp1),
                         dq=int_b64(pn.dmq1), qi=int_b64(pn.iqmp))
        elif isinstance(self.priv, ec.EllipticCurvePrivateKey):
            w = CRV_WIDTH[self.crv]
            pn = self.priv.private_numbers()
            j = {"kty": "EC", "crv": self.crv, "x": int_b64(pn.public_numbers.x, w),
                 "y": int_b64(pn.public_numbers.y, w)}
            if private:
                j["d"] = int_b64(pn.private_value, w)
        else:
            raw = serialization.Encoding.Raw
            pub = self.priv.public_key().public_bytes(raw, serialization.PublicFormat.Raw)
            j = {"kty": "OKP", "crv": self.crv, "x": b64e(pub)}
            if private:
                j["d"] = b64e(self.priv.private_bytes(raw, serialization.PrivateFormat.Raw,
                                                      serialization.NoEncryption()))
        j.update(extra)
        return j

    def pem_public(self):
        return self.public().public_bytes(serialization.Encoding.PEM,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)

    def pem_private(self, traditional=False):
        fmt = (serialization.PrivateFormat.TraditionalOpenSSL if traditional
               else serialization.PrivateFormat.PKCS8)
        return self.priv.private_bytes(serialization.Encoding.PEM, fmt,
                                       serialization.NoEncryption())

    def certificate_pem(self):
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tokenpass test")])
        import datetime
        now = datetime.datetime(2020, 1, 1)
        algo = None if isinstance(self.priv, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)) \
            else hashes.SHA256()
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self.public()).serial_number(1).not_valid_before(now)
                .not_valid_after(now + datetime.timedelta(days=36500)).sign(self.priv, algo))
        return cert.public_bytes(serialization.Encoding.PEM)

    def sign(self, alg, data):
        """Signs `data` as JWS `alg` says (raw R||S for ECDSA)."""
        if alg.startswith("HS"):
            return hmac_mod.new(self.priv, data, getattr(hashlib, "sha" + alg[2:])).digest()
        if alg.startswith("RS"):
            return self.priv.sign(data, padding.PKCS1v15(), HASHES[alg[2:]]())
        if alg.startswith("PS"):
            h = HASHES[alg[2:]]
            return self.priv.sign(data, padding.PSS(mgf=padding.MGF1(h()),
                                                    salt_length=h.digest_size), h())
        if alg.startswith("ES"):
            h = HASHES[alg[2:5]]
            r, s = decode_dss_signature(self.priv.sign(data, ec.ECDSA(h())))
            w = CRV_WIDTH[self.crv]
            return r.to_bytes(w, "big") + s.to_bytes(w, "big")
        return self.priv.sign(data)  # EdDSA, Ed25519, Ed448


def make_key(alg, bits=2048, crv=None, secret_len=None):
    if alg.startswith("HS"):
        return TestKey(alg, os.urandom(secret_len or int(alg[2:]) // 8))
    if alg[:2] in ("RS", "PS"):
        return TestKey(alg, rsa.generate_private_key(65537, bits))
    if alg in EC_CURVES:
        cls, name, _ = EC_CURVES[alg]
        return TestKey(alg, ec.generate_private_key(cls()), name)
    crv = crv or ("Ed448" if alg == "Ed448" else "Ed25519")
    priv = ed448.Ed448PrivateKey.generate() if crv == "Ed448" else \
        ed25519.Ed25519PrivateKey.generate()
    return TestKey(alg, priv, crv)


def key_from_jwk(j):
    """A TestKey from a private JWK (as printed by `tokenpass keygen`)."""
    kty = j["kty"]
    if kty == "oct":
        return TestKey(j.get("alg"), b64d(j["k"]))
    n2i = lambda m: int.from_bytes(b64d(j[m]), "big")  # noqa: E731
    if kty == "RSA":
        pub = rsa.RSAPublicNumbers(n2i("e"), n2i("n"))
        priv = rsa.RSAPrivateNumbers(n2i("p"), n2i("q"), n2i("d"), n2i("dp"), n2i("dq"),
                                     n2i("qi"), pub).private_key()
        return TestKey(j.get("alg"), priv)
    if kty == "EC":
        priv = ec.derive_private_key(n2i("d"), CURVE_BY_NAME[j["crv"]]())
        return TestKey(j.get("alg"), priv, j["crv"])
    cls = ed448.Ed448PrivateKey if j["crv"] == "Ed448" else ed25519.Ed25519PrivateKey
    return TestKey(j.get("alg"), cls.from_private_bytes(b64d(j["d"])), j["crv"])


def thumbprint(jwk):
    """RFC 7638 SHA-256 thumbprint."""
    required = {"RSA": ["e", "kty", "n"], "EC": ["crv", "kty", "x", "y"],
                "OKP": ["crv", "kty", "x"], "oct": ["k", "kty"]}[jwk["kty"]]
    canon = json.dumps({m: jwk[m] for m in required}, sort_keys=True, separators=(",", ":"))
    return b64e(hashlib.sha256(canon.encode()).digest())


def jws(key, alg, payload, header=None, raw_header=None):
    """A compact JWS signed independently of tokenpass. `payload`: bytes, str or a dict
    (dumped as JSON); `raw_header`: header bytes used as they are."""
    if isinstance(payload, dict):
        payload = json.dumps(payload).encode()
    elif isinstance(payload, str):
        payload = payload.encode()
    if raw_header is None:
        h = {"alg": alg, "typ": "JWT"}
        h.update(header or {})
        h = {k: v for k, v in h.items() if v is not None}
        raw_header = json.dumps(h).encode()
    signing_input = (b64e(raw_header) + "." + b64e(payload)).encode()
    return signing_input.decode() + "." + b64e(key.sign(alg, signing_input))


def parts(token):
    h, p, s = token.strip().split(".")
    return json.loads(b64d(h)), b64d(p), b64d(s)


def flip_signature_bit(token, bit=0):
    """The token with one bit of its decoded signature flipped."""
    h, p, s = token.strip().split(".")
    sig = bytearray(b64d(s))
    sig[bit // 8] ^= 1 << (bit % 8)
    return h + "." + p + "." + b64e(bytes(sig))


def write(tmp, name, content):
    path = os.path.join(tmp, name)
    if isinstance(content, (dict, list)):
        content = json.dumps(content)
    if isinstance(content, str):
        content = content.encode()
    with open(path, "wb") as f:
        f.write(content)
    return path


def main_binary():
    if len(sys.argv) != 2:
        print("usage: %s PATH/TO/tokenpass" % sys.argv[0], file=sys.stderr)
        sys.exit(2)
    return sys.argv[1]
