#!/usr/bin/python3
"""Generate interop test vectors with PyJWT 2.6 + cryptography.

Usage (from the repository root):

    /usr/bin/python3 tests/data/pyjwt/make_vectors.py > tests/data/pyjwt/vectors.json

Every run makes fresh random keys, so the keys and tokens differ between runs;
the structure of the output does not. Before printing, every token is verified
with jwt.decode (against the public PEM, and against the public JWK), and the
script exits non-zero if any check fails.

Output: {"generator": {...}, "claims": {...}, "vectors": [entry, ...]} with one
entry per algorithm:

    {"alg", "crv" (Ed25519/Ed448 for EdDSA, else null), "kid",
     "private_pem" (PKCS#8), "public_pem" (SPKI)       -- null for HS*,
     "private_jwk", "public_jwk" (null for HS*), "token", "claims"}

JWKs come from jwt.algorithms.*Algorithm.to_jwk, with "kid" and "alg" added.
PyJWT 2.6's ECAlgorithm.to_jwk writes x, y and d with the minimum number of
octets; RFC 7518 section 6.2.1.2/6.2.2.1 requires the full coordinate length
(32/48/66 octets for P-256/P-384/P-521, 32 for secp256k1), so those three
members are re-encoded at full length (same integers). For P-521 the short
form would appear in about half of all keys.
"""

import json
import os
import sys

import cryptography
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from jwt.algorithms import ECAlgorithm, HMACAlgorithm, OKPAlgorithm, RSAAlgorithm
from jwt.utils import base64url_decode, base64url_encode

AUDIENCE = "orders-api"

BASE_CLAIMS = {
    "iss": "https://issuer.example",
    "sub": "user-42",
    "aud": AUDIENCE,
    "iat": 1700000000,
    "exp": 4102444800,
    "scope": "orders:read orders:write",
    "jti": None,  # filled in per vector
    "name": "Zo\u00eb \u00dcn\u00efcode \u2713",
    "big": 9007199254740993,
}

# (alg, crv for EdDSA else None)
ALGORITHMS = [
    ("HS256", None), ("HS384", None), ("HS512", None),
    ("RS256", None), ("RS384", None), ("RS512", None),
    ("PS256", None), ("PS384", None), ("PS512", None),
    ("ES256", None), ("ES384", None), ("ES512", None), ("ES256K", None),
    ("EdDSA", "Ed25519"), ("EdDSA", "Ed448"),
]

HS_LEN = {"HS256": 32, "HS384": 48, "HS512": 64}
EC_CURVE = {
    "ES256": (ec.SECP256R1, 32),
    "ES384": (ec.SECP384R1, 48),
    "ES512": (ec.SECP521R1, 66),
    "ES256K": (ec.SECP256K1, 32),
}


def fixed_len(member: str, size: int) -> str:
    raw = base64url_decode(member)
    if len(raw) > size:
        raise ValueError("EC member longer than the curve size")
    return base64url_encode(raw.rjust(size, b"\x00")).decode()


def pems(private_key):
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo,
    ).decode()
    return private_pem, public_pem


def with_kid_alg(jwk_json: str, kid: str, alg: str) -> dict:
    jwk = json.loads(jwk_json)
    jwk["kid"] = kid
    jwk["alg"] = alg
    return jwk


def make_entry(alg: str, crv):
    kid = f"pyjwt-{alg}" + (f"-{crv}" if crv else "")
    claims = dict(BASE_CLAIMS)
    claims["jti"] = f"{alg}-{crv}-vector" if crv else f"{alg}-vector"

    if alg.startswith("HS"):
        secret = os.urandom(HS_LEN[alg])
        signing_key = secret
        private_pem = public_pem = None
        private_jwk = with_kid_alg(HMACAlgorithm.to_jwk(secret), kid, alg)
        public_jwk = None
    else:
        if alg[:2] in ("RS", "PS"):
            private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            private_jwk = with_kid_alg(RSAAlgorithm.to_jwk(private_key), kid, alg)
            public_jwk = with_kid_alg(RSAAlgorithm.to_jwk(private_key.public_key()), kid, alg)
        elif alg.startswith("ES"):
            curve, size = EC_CURVE[alg]
            private_key = ec.generate_private_key(curve())
            private_jwk = with_kid_alg(ECAlgorithm.to_jwk(private_key), kid, alg)
            public_jwk = with_kid_alg(ECAlgorithm.to_jwk(private_key.public_key()), kid, alg)
            for jwk in (private_jwk, public_jwk):
                for member in ("x", "y", "d"):
                    if member in jwk:
                        jwk[member] = fixed_len(jwk[member], size)
        elif alg == "EdDSA":
            gen = {"Ed25519": ed25519.Ed25519PrivateKey, "Ed448": ed448.Ed448PrivateKey}[crv]
            private_key = gen.generate()
            private_jwk = with_kid_alg(OKPAlgorithm.to_jwk(private_key), kid, alg)
            public_jwk = with_kid_alg(OKPAlgorithm.to_jwk(private_key.public_key()), kid, alg)
            if private_jwk.get("crv") != crv or public_jwk.get("crv") != crv:
                raise RuntimeError(f"OKPAlgorithm.to_jwk gave the wrong crv for {crv}")
        else:
            raise RuntimeError(alg)
        signing_key = private_key
        private_pem, public_pem = pems(private_key)

    token = jwt.encode(claims, signing_key, algorithm=alg, headers={"kid": kid})

    return {
        "alg": alg,
        "crv": crv,
        "private_pem": private_pem,
        "public_pem": public_pem,
        "private_jwk": private_jwk,
        "public_jwk": public_jwk,
        "kid": kid,
        "token": token,
        "claims": claims,
    }


def verify(entry) -> list:
    """Return a list of failure messages (empty when everything verifies)."""
    alg, token, errors = entry["alg"], entry["token"], []
    label = alg + (f"/{entry['crv']}" if entry["crv"] else "")
    if alg.startswith("HS"):
        keys = {"secret from private_jwk": base64url_decode(entry["private_jwk"]["k"])}
        if len(keys["secret from private_jwk"]) != HS_LEN[alg]:
            errors.append(f"{label}: secret length")
    else:
        keys = {
            "public_pem": serialization.load_pem_public_key(entry["public_pem"].encode()),
            "public_jwk": jwt.PyJWK(dict(entry["public_jwk"]), algorithm=alg).key,
        }
        # the private PEM and private JWK must describe the same key as the public PEM
        priv = serialization.load_pem_private_key(entry["private_pem"].encode(), password=None)
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        want = keys["public_pem"].public_bytes(serialization.Encoding.DER, spki)
        if priv.public_key().public_bytes(serialization.Encoding.DER, spki) != want:
            errors.append(f"{label}: private_pem does not match public_pem")
        pj = jwt.PyJWK(dict(entry["private_jwk"]), algorithm=alg).key
        if pj.public_key().public_bytes(serialization.Encoding.DER, spki) != want:
            errors.append(f"{label}: private_jwk does not match public_pem")
    for how, key in keys.items():
        try:
            got = jwt.decode(token, key, algorithms=[alg], audience=AUDIENCE)
            if got != entry["claims"]:
                errors.append(f"{label}: claims differ after decode with {how}")
        except Exception as ex:  # noqa: BLE001 - report anything
            errors.append(f"{label}: jwt.decode with {how} failed: {ex!r}")
    header = jwt.get_unverified_header(token)
    if header.get("kid") != entry["kid"] or header.get("alg") != alg:
        errors.append(f"{label}: header {header}")
    return errors


def main() -> int:
    vectors = [make_entry(alg, crv) for alg, crv in ALGORITHMS]
    errors = [msg for entry in vectors for msg in verify(entry)]
    if errors:
        for msg in errors:
            print("FAIL " + msg, file=sys.stderr)
        return 1
    out = {
        "generator": {
            "script": "tests/data/pyjwt/make_vectors.py",
            "pyjwt": jwt.__version__,
            "cryptography": cryptography.__version__,
            "audience": AUDIENCE,
        },
        "vectors": vectors,
    }
    json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    print(f"verified {len(vectors)} tokens", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
