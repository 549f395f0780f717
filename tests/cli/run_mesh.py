#!/usr/bin/python3
"""`tokenpass verify` for tokens behind a proxy and in a mesh, with tokens made by PyJWT:
claims by JSON Pointer (--claim, --claim-contains), roles (--role, --roles-path),
SPIFFE JWT-SVIDs (--jwt-svid, keys from a bundle with "use": "jwt-svid") and a
certificate binding checked against a forwarded certificate (--cnf-forwarded in the
three formats, made from a certificate by Python's cryptography).

Prints one line per failed check, then `N passed, M failed`.
usage: run_mesh.py PATH/TO/tokenpass
"""
import base64
import hashlib
import json
import os
import sys
import tempfile
import time
import urllib.parse

import jwt
from cryptography.hazmat.primitives import serialization

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from jose_util import Runner, main_binary, make_key, write  # noqa: E402


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main():
    r = Runner(main_binary())
    tmp = tempfile.mkdtemp()
    key = make_key("ES256")
    priv = key.priv.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
    pub = key.jwk(private=False)
    pub["kid"] = "k1"
    keyfile = write(tmp, "jwks.json", {"keys": [pub]})
    now = int(time.time())

    def token(claims, headers=None):
        h = {"kid": "k1"}
        h.update(headers or {})
        return jwt.encode(claims, priv, algorithm="ES256", headers=h)

    # Claims by path, names with slashes and dots.
    t = token({"https://example.com/tenant": "acme", "org": {"unit.name": "sales"}, "amr": ["pwd", "otp"]})
    base = ["verify", "--key", keyfile]
    r.check("--claim on a namespaced claim", base + ["--claim", '/https:~1~1example.com~1tenant="acme"', t], 0)
    r.check("--claim with another value", base + ["--claim", '/https:~1~1example.com~1tenant="evil"', t], 1,
            "bad_claim")
    r.check("--claim through a dotted name", base + ["--claim", '/org/unit.name="sales"', t], 0)
    r.check("--claim on an absent path", base + ["--claim", '/org/team="x"', t], 1, "missing_claim")
    r.check("--claim-contains", base + ["--claim-contains", '/amr="otp"', t], 0)
    r.check("--claim-contains a value not there", base + ["--claim-contains", '/amr="hwk"', t], 1, "bad_claim")
    r.check("--claim without JSON is a usage error", base + ["--claim", "/org/unit.name=sales", t], 2)
    r.check("--claim without a pointer is a usage error", base + ["--claim", 'tenant="acme"', t], 2)

    # Roles: Keycloak realm roles by default, or the paths given.
    kc = token({"realm_access": {"roles": ["shopper"]},
                "resource_access": {"shop-api": {"roles": ["orders:admin"]}}, "groups": ["/staff"]})
    r.check("--role from realm_access", base + ["--role", "shopper", kc], 0)
    r.check("--role from groups", base + ["--role", "/staff", "--role", "shopper", kc], 0)
    r.check("--role not carried", base + ["--role", "orders:admin", kc], 1, "insufficient_role")
    r.check("--role with --roles-path (client roles)",
            base + ["--role", "orders:admin", "--roles-path", "/resource_access/shop-api/roles", kc], 0)
    r.check("--roles-path alone is a usage error", base + ["--roles-path", "/roles", kc], 2)

    # SPIFFE: a bundle's jwt-svid key verifies JWT-SVIDs only.
    svid_key = dict(pub)
    svid_key["use"] = "jwt-svid"
    svid_key.pop("alg", None)
    bundle = write(tmp, "bundle.json", {"spiffe_sequence": 3, "keys": [svid_key]})
    svid = token({"sub": "spiffe://shop/ns/billing", "aud": "spiffe://shop/product", "exp": now + 300})
    sv = ["verify", "--key", bundle, "--aud", "spiffe://shop/product"]
    r.check("--jwt-svid: a JWT-SVID from PyJWT", sv + ["--jwt-svid", "spiffe://shop/ns", svid], 0,
            expect=lambda out: json.loads(out)["sub"] == "spiffe://shop/ns/billing")
    r.check("--jwt-svid: another trust domain", sv + ["--jwt-svid", "spiffe://bank", svid], 1, "bad_subject")
    r.check("--jwt-svid: a path prefix that is not a segment", sv + ["--jwt-svid", "spiffe://shop/ns/bill", svid],
            1, "bad_subject")
    r.check("the bundle's key without --jwt-svid", ["verify", "--key", bundle, svid], 1, "key_unusable")
    r.check("--jwt-svid: an extra header member", sv + ["--jwt-svid", "spiffe://shop",
                                                        token({"sub": "spiffe://shop/x",
                                                               "aud": "spiffe://shop/product", "exp": now + 300},
                                                              {"x5u": "https://evil.example/k"})], 1, "malformed")
    r.check("--jwt-svid: no exp", sv + ["--jwt-svid", "spiffe://shop",
                                        token({"sub": "spiffe://shop/x", "aud": "spiffe://shop/product"})], 1,
            "missing_claim")
    r.check("--jwt-svid without --aud is a usage error", ["verify", "--key", bundle, "--jwt-svid", "spiffe://shop",
                                                          svid], 2)
    r.check("--jwt-svid with no SPIFFE ID is a usage error", sv + ["--jwt-svid", "shop", svid], 2)

    # A certificate as a proxy forwards it, binding a token (cnf.x5t#S256).
    cert_pem = make_key("ES256").certificate_pem()
    from cryptography import x509
    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    bound = token({"sub": "billing", "cnf": {"x5t#S256": b64u(hashlib.sha256(der).digest())}})
    forms = {
        "client-cert": ":" + base64.b64encode(der).decode() + ":",
        "xfcc": 'By=spiffe://shop/product;Hash=%s;Cert="%s"' % (hashlib.sha256(der).hexdigest(),
                                                               urllib.parse.quote(cert_pem.decode(), safe="")),
        "escaped-pem": urllib.parse.quote(cert_pem.decode(), safe=""),
    }
    for form, value in forms.items():
        r.check("--cnf-forwarded %s: the bound token" % form, base + ["--cnf-forwarded", "%s=%s" % (form, value),
                                                                      bound], 0)
    other = make_key("ES256").certificate_pem()
    r.check("--cnf-forwarded: another certificate", base + ["--cnf-forwarded", "escaped-pem=" +
                                                            urllib.parse.quote(other.decode(), safe=""), bound],
            1, "bad_binding")
    r.check("--cnf-forwarded: an unknown format", base + ["--cnf-forwarded", "pem=x", bound], 2)
    r.check("--cnf-forwarded: a malformed value", base + ["--cnf-forwarded", "client-cert=:AAAA:", bound], 2)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
