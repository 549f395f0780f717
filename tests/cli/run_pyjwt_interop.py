#!/usr/bin/python3
"""PyJWT interop of the `tokenpass` binary, for every algorithm PyJWT 2.6 supports
(HS256/384/512, RS*, PS*, ES256/384/512, ES256K, EdDSA with Ed25519 and Ed448):

* PyJWT signs, `tokenpass verify` accepts (keys as JWK and as PEM);
* `tokenpass keygen` + `sign`, PyJWT `jwt.decode` accepts (public key from
  `tokenpass pubkey`, loaded with `jwt.algorithms.*.from_jwk`); and `tokenpass sign`
  with a PEM key, PyJWT accepts with the public PEM;
* a token with one signature bit flipped is rejected by the other side (tokenpass:
  exit 1 bad_signature; PyJWT: InvalidSignatureError).

Prints one line per failed check, then `N passed, M failed`.
usage: run_pyjwt_interop.py PATH/TO/tokenpass
"""
import json
import os
import sys
import tempfile
import time

import jwt
from jwt import algorithms as ja

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from jose_util import Runner, flip_signature_bit, main_binary, make_key, write  # noqa: E402

# (name, JWS alg, curve for EdDSA, PyJWT key class with from_jwk)
CASES = [
    ("HS256", "HS256", None, ja.HMACAlgorithm),
    ("HS384", "HS384", None, ja.HMACAlgorithm),
    ("HS512", "HS512", None, ja.HMACAlgorithm),
    ("RS256", "RS256", None, ja.RSAAlgorithm),
    ("RS384", "RS384", None, ja.RSAAlgorithm),
    ("RS512", "RS512", None, ja.RSAAlgorithm),
    ("PS256", "PS256", None, ja.RSAPSSAlgorithm),
    ("PS384", "PS384", None, ja.RSAPSSAlgorithm),
    ("PS512", "PS512", None, ja.RSAPSSAlgorithm),
    ("ES256", "ES256", None, ja.ECAlgorithm),
    ("ES384", "ES384", None, ja.ECAlgorithm),
    ("ES512", "ES512", None, ja.ECAlgorithm),
    ("ES256K", "ES256K", None, ja.ECAlgorithm),
    ("EdDSA-Ed25519", "EdDSA", "Ed25519", ja.OKPAlgorithm),
    ("EdDSA-Ed448", "EdDSA", "Ed448", ja.OKPAlgorithm),
]


def claims():
    now = int(time.time())
    return {"iss": "https://issuer.example", "sub": "svc \u2603", "iat": now, "exp": now + 600,
            "n": 2 ** 64 - 1, "neg": -2 ** 63, "f": 1.5, "scope": "a b"}


def pyjwt_to_tokenpass(t, tmp, name, alg, crv):
    key = make_key(alg, crv=crv)
    c = claims()
    pyjwt_key = key.priv  # bytes for HMAC, a cryptography key otherwise
    token = jwt.encode(c, pyjwt_key, algorithm=alg, headers={"kid": "py-" + name})
    if isinstance(token, bytes):
        token = token.decode()
    files = [("JWK", write(tmp, "py-%s.jwk" % name,
                           key.jwk(private=False, kid="py-" + name, alg=alg)))]
    if not key.is_hmac:
        files.append(("PEM", write(tmp, "py-%s.pem" % name, key.pem_public())))
        files.append(("JWK without alg", write(tmp, "py-%s-noalg.jwk" % name,
                                               key.jwk(private=False))))
    else:
        files.append(("JWK without alg", write(tmp, "py-%s-noalg.jwk" % name, key.jwk())))
    for form, path in files:
        t.check("%s: PyJWT signs, tokenpass verifies (%s)" % (name, form),
                ["verify", "--key", path, "--alg", alg, token], 0,
                expect=lambda out, c=c: json.loads(out) == c)
        t.check("%s: PyJWT token, tampered, tokenpass refuses (%s)" % (name, form),
                ["verify", "--key", path, flip_signature_bit(token, 3)], 1, "bad_signature")
    t.check("%s: PyJWT token with --iss/--scope checks" % name,
            ["verify", "--key", files[0][1], "--iss", "https://issuer.example", "--scope", "b",
             "--require", "exp", "--max-age", "60", token], 0)


def tokenpass_to_pyjwt(t, tmp, name, alg, crv, algo_cls):
    args = ["keygen", "--alg", alg, "--kid", "tp-" + name] + (["--crv", crv] if crv else [])
    rc, out, _ = t.check("%s: tokenpass keygen" % name, args, 0)
    if rc != 0:
        return
    priv_path = write(tmp, "tp-%s.jwk" % name, out)
    c = claims()
    rc, out, _ = t.check("%s: tokenpass sign" % name,
                         ["sign", "--key", priv_path, "-"], 0, stdin=json.dumps(c))
    if rc != 0:
        return
    token = out.decode().strip()
    if algo_cls is ja.HMACAlgorithm:
        t.check("%s: tokenpass pubkey refuses an HMAC key" % name, ["pubkey", priv_path], 2)
        jwk_text = open(priv_path).read()
    else:
        rc, out, _ = t.check("%s: tokenpass pubkey" % name, ["pubkey", priv_path], 0)
        if rc != 0:
            return
        (jwk_obj,) = json.loads(out)["keys"]
        t.ok("%s: public JWK has no private member" % name,
             not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk_obj))
        jwk_text = json.dumps(jwk_obj)
    try:
        pyjwt_key = algo_cls.from_jwk(jwk_text)
    except Exception as e:  # noqa: BLE001
        t.ok("%s: PyJWT loads the tokenpass JWK" % name, False, repr(e))
        return
    t.ok("%s: PyJWT loads the tokenpass JWK" % name, True)
    header = jwt.get_unverified_header(token)
    t.ok("%s: header alg, kid, typ" % name,
         header == {"alg": alg, "kid": "tp-" + name, "typ": "JWT"}, str(header))
    try:
        got = jwt.decode(token, pyjwt_key, algorithms=[alg])
        t.ok("%s: tokenpass signs, PyJWT decodes (JWK)" % name, got == c, str(got))
    except Exception as e:  # noqa: BLE001
        t.ok("%s: tokenpass signs, PyJWT decodes (JWK)" % name, False, repr(e))
    try:
        jwt.decode(flip_signature_bit(token, 3), pyjwt_key, algorithms=[alg])
        t.ok("%s: tampered tokenpass token, PyJWT refuses" % name, False, "accepted")
    except jwt.exceptions.InvalidSignatureError:
        t.ok("%s: tampered tokenpass token, PyJWT refuses" % name, True)
    except Exception as e:  # noqa: BLE001
        t.ok("%s: tampered tokenpass token, PyJWT refuses" % name, False, repr(e))

    if algo_cls is ja.HMACAlgorithm:
        return
    # PEM: tokenpass signs with a PEM private key; PyJWT checks with the public PEM.
    key = make_key(alg, crv=crv)
    pem_path = write(tmp, "tp-%s.pem" % name, key.pem_private())
    rc, out, _ = t.check("%s: tokenpass sign with a PEM key" % name,
                         ["sign", "--key", pem_path, "--alg", alg, "-"], 0, stdin=json.dumps(c))
    if rc != 0:
        return
    token = out.decode().strip()
    try:
        got = jwt.decode(token, key.pem_public(), algorithms=[alg])
        t.ok("%s: tokenpass signs (PEM), PyJWT decodes (PEM)" % name, got == c, str(got))
    except Exception as e:  # noqa: BLE001
        t.ok("%s: tokenpass signs (PEM), PyJWT decodes (PEM)" % name, False, repr(e))
    try:
        jwt.decode(flip_signature_bit(token, 3), key.pem_public(), algorithms=[alg])
        t.ok("%s: tampered PEM-signed token, PyJWT refuses" % name, False, "accepted")
    except jwt.exceptions.InvalidSignatureError:
        t.ok("%s: tampered PEM-signed token, PyJWT refuses" % name, True)
    except Exception as e:  # noqa: BLE001
        t.ok("%s: tampered PEM-signed token, PyJWT refuses" % name, False, repr(e))


def main():
    t = Runner(main_binary())
    t.ok("PyJWT is 2.x", jwt.__version__.startswith("2."), jwt.__version__)
    with tempfile.TemporaryDirectory(prefix="tokenpass-pyjwt-") as tmp:
        for name, alg, crv, algo_cls in CASES:
            for step in (lambda: pyjwt_to_tokenpass(t, tmp, name, alg, crv),
                         lambda: tokenpass_to_pyjwt(t, tmp, name, alg, crv, algo_cls)):
                # A binary that misbehaves badly must not stop the other checks.
                try:
                    step()
                except Exception as e:  # noqa: BLE001
                    t.ok("%s: interop step ran to the end" % name, False, repr(e))
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
