#!/usr/bin/python3
"""Black-box checks of the `tokenpass` binary against shared/cli-contract.md: every
command and every numbered rule. Each check asserts the exit status and, for exit 1,
the exact `error: CODE:` line. Prints one line per failed check, then `N passed, M failed`.

usage: run_cli_tests.py PATH/TO/tokenpass
"""
import http.server
import json
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from jose_util import (Runner, b64d, b64e, flip_signature_bit, jws, key_from_jwk,  # noqa: E402
                       main_binary, make_key, parts, thumbprint, write)

NOW = 1700000000
ALL_ALGS = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
            "ES256", "ES384", "ES512", "ES256K", "EdDSA"]


# RFC 7515 Appendix A.5 (RFC 7519 §6.1): an unsecured JWS, its signature part empty.
RFC7515_A5 = ("eyJhbGciOiJub25lIn0"
              ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
              ".")


def is_json(pred=lambda j: True):
    return lambda out: pred(json.loads(out))


def main():
    t = Runner(main_binary())
    with tempfile.TemporaryDirectory(prefix="tokenpass-cli-") as tmp:
        keys = Keys(tmp)
        sections = [general, keygen, pubkey, sign, rule1_keys, rule2_selection, rule3_algorithms,
                    rule4_time, rule5_iss_aud_sub, rule6_scopes, rule7_typ, rule8_input,
                    rule9_header, inspect, rule13_14_15, remote]
        for section in sections:
            # A binary that misbehaves badly must not stop the other sections.
            try:
                if section in (general, keygen):
                    section(t, tmp)
                else:
                    section(t, tmp, keys)
            except Exception as e:  # noqa: BLE001
                t.ok("section %s ran to the end" % section.__name__, False, repr(e))
    return t.finish()


class Keys:
    """The fixtures: a key per algorithm, as files in every format."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.k = {alg: make_key(alg) for alg in ALL_ALGS}
        self.k["Ed448"] = make_key("EdDSA", crv="Ed448")
        self.files = {}
        for alg, key in self.k.items():
            self.files[alg + ".jwk"] = write(tmp, alg + ".jwk", key.jwk(alg=alg, kid=alg))
            if not key.is_hmac:
                self.files[alg + ".pub.jwk"] = write(tmp, alg + ".pub.jwk",
                                                     key.jwk(False, alg=alg, kid=alg))
                self.files[alg + ".pub.pem"] = write(tmp, alg + ".pub.pem", key.pem_public())
                self.files[alg + ".pem"] = write(tmp, alg + ".pem", key.pem_private())

    def jwk(self, alg):
        return self.files[alg + ".jwk"]

    def pub(self, alg):
        return self.files.get(alg + ".pub.jwk", self.files[alg + ".jwk"])

    def pem(self, alg):
        return self.files[alg + ".pub.pem"]

    def token(self, alg="ES256", claims=None, header=None, kid="default", signer=None, **kw):
        """A token by `signer` (default the alg's key), with kid = the alg name."""
        key = signer or self.k[alg if alg in self.k else "EdDSA"]
        h = {"kid": (alg if kid == "default" else kid)}
        h.update(header or {})
        c = {"sub": "alice", "exp": NOW + 3600} if claims is None else claims
        return jws(key, alg, c, header=h, **kw)


def verify(t, name, token, keyfile, *opts, exit=0, code=None, expect=None, stdin=None):
    args = ["verify", "--key", keyfile] + ([] if "--now" in opts else ["--now", str(NOW)])
    args += list(opts)
    if stdin is None:
        args.append(token)
    return t.check(name, args, exit, code, stdin=stdin, expect=expect,
                   secret=[token.strip()] if exit != 0 and token.strip() else None)


# ---- general ---------------------------------------------------------------------

def general(t, tmp):
    t.check("no arguments is a usage error", [], 2)
    t.check("unknown command", ["frobnicate"], 2)
    t.check("--version prints the version", ["--version"], 0,
            expect=lambda o: o.decode().strip().split()[-1].count(".") == 2)
    t.check("--help", ["--help"], 0, expect=lambda o: b"verify" in o and b"keygen" in o)
    t.check("-h", ["-h"], 0, expect=lambda o: b"usage" in o)
    for cmd in ["keygen", "pubkey", "sign", "verify", "inspect"]:
        t.check("%s --help" % cmd, [cmd, "--help"], 0, expect=lambda o: o.startswith(b"usage"))
        t.check("%s -h" % cmd, [cmd, "-h"], 0, expect=lambda o: o.startswith(b"usage"))
        t.check("%s unknown option" % cmd, [cmd, "--no-such-option"], 2)


# ---- keygen (rule 11, 17) ----------------------------------------------------------

def keygen(t, tmp):
    sizes = {"ES256": ("P-256", 32), "ES384": ("P-384", 48), "ES512": ("P-521", 66),
             "ES256K": ("secp256k1", 32), "EdDSA": ("Ed25519", 32)}
    for alg in ALL_ALGS:
        def good(out, alg=alg):
            j = json.loads(out)
            assert j["alg"] == alg and j["kid"] == thumbprint(j), j
            if alg.startswith("HS"):
                return j["kty"] == "oct" and len(b64d(j["k"])) >= int(alg[2:]) // 8
            assert j["use"] == "sig" and "d" in j
            if alg[:2] in ("RS", "PS"):
                return j["kty"] == "RSA" and len(b64d(j["n"])) == 256
            crv, width = sizes[alg]
            return j["crv"] == crv and len(b64d(j["x"])) == width
        rc, out, _ = t.check("keygen %s: private JWK, thumbprint kid (rule 11)" % alg,
                             ["keygen", "--alg", alg], 0, expect=good)
        if rc == 0 and out:
            # The key works: sign with it through an independent implementation.
            key = key_from_jwk(json.loads(out))
            path = write(tmp, "kg-%s.jwk" % alg, out)
            verify(t, "keygen %s key verifies an independent token" % alg,
                   jws(key, alg, {"exp": NOW + 10}, header={"kid": json.loads(out)["kid"]}), path)
    t.check("keygen EdDSA --crv Ed448", ["keygen", "--alg", "EdDSA", "--crv", "Ed448"], 0,
            expect=is_json(lambda j: j["crv"] == "Ed448" and len(b64d(j["x"])) == 57
                           and j["alg"] == "EdDSA"))
    t.check("keygen EdDSA --crv Ed25519", ["keygen", "--alg", "EdDSA", "--crv", "Ed25519"], 0,
            expect=is_json(lambda j: j["crv"] == "Ed25519"))
    t.check("keygen --kid", ["keygen", "--alg", "ES256", "--kid", "k-2024"], 0,
            expect=is_json(lambda j: j["kid"] == "k-2024"))
    t.check("keygen RS256 --bits 3072", ["keygen", "--alg", "RS256", "--bits", "3072"], 0,
            expect=is_json(lambda j: len(b64d(j["n"])) == 384))
    for bits in ["1024", "2047", "0", "-5", "abc"]:
        t.check("keygen --bits %s refused (rule 17)" % bits,
                ["keygen", "--alg", "RS256", "--bits", bits], 2)
    for alg, crv in [("EdDSA", "P-256"), ("ES256", "Ed448"), ("ES256", "P-384"),
                     ("ES384", "secp256k1"), ("RS256", "P-256"), ("HS256", "Ed25519"),
                     ("EdDSA", "Ed999")]:
        t.check("keygen --alg %s --crv %s refused (rule 17)" % (alg, crv),
                ["keygen", "--alg", alg, "--crv", crv], 2)
    t.check("keygen ES256 --crv P-256 fits", ["keygen", "--alg", "ES256", "--crv", "P-256"], 0)
    for alg in ["none", "NONE", "None", "XS256", "rs256", ""]:
        t.check("keygen --alg %r refused" % alg, ["keygen", "--alg", alg], 2)
    t.check("keygen without --alg", ["keygen"], 2)
    t.check("keygen --bits without value", ["keygen", "--alg", "RS256", "--bits"], 2)


# ---- pubkey (rule 11, 16) ----------------------------------------------------------

def pubkey(t, tmp, keys):
    private_members = {"d", "p", "q", "dp", "dq", "qi", "k"}
    for alg in [a for a in ALL_ALGS if not a.startswith("HS")] + ["Ed448"]:
        def good(out, alg=alg):
            j = json.loads(out)
            (k,) = j["keys"]
            return not (private_members & set(k)) and k["kid"] == alg and k["alg"] == alg \
                and k == keys.k[alg].jwk(False, alg=alg, kid=alg)
        t.check("pubkey %s JWK keeps kid, alg (rule 11)" % alg, ["pubkey", keys.jwk(alg)], 0,
                expect=good)
        t.check("pubkey %s PKCS#8 PEM" % alg, ["pubkey", keys.files[alg + ".pem"]], 0,
                expect=is_json(lambda j, alg=alg: len(j["keys"]) == 1 and "d" not in j["keys"][0]
                               and j["keys"][0]["x" if "x" in j["keys"][0] else "n"]
                               == keys.k[alg].jwk(False)["x" if "x" in j["keys"][0] else "n"]))
    use_key = write(tmp, "use.jwk", keys.k["ES256"].jwk(alg="ES256", kid="u1", use="sig"))
    t.check("pubkey keeps use (rule 11)", ["pubkey", use_key], 0,
            expect=is_json(lambda j: j["keys"][0]["use"] == "sig" and j["keys"][0]["kid"] == "u1"))
    t.check("pubkey from stdin (-)", ["pubkey", "-"], 0,
            stdin=open(keys.jwk("RS256"), "rb").read(), expect=is_json(lambda j: len(j["keys"]) == 1))
    t.check("pubkey from stdin (no argument)", ["pubkey"], 0,
            stdin=open(keys.jwk("EdDSA"), "rb").read(), expect=is_json(lambda j: len(j["keys"]) == 1))
    t.check("pubkey of a traditional EC PEM", ["pubkey", write(
        tmp, "trad-ec.pem", keys.k["ES256"].pem_private(traditional=True))], 0)
    jwks = write(tmp, "priv-set.jwks", {"keys": [keys.k["RS256"].jwk(kid="a"),
                                                 keys.k["ES384"].jwk(kid="b")]})
    t.check("pubkey of a private JWK set", ["pubkey", jwks], 0,
            expect=is_json(lambda j: [k["kid"] for k in j["keys"]] == ["a", "b"]
                           and all("d" not in k for k in j["keys"])))
    hs = keys.k["HS256"].priv
    t.check("pubkey of an oct key is exit 2", ["pubkey", keys.jwk("HS256")], 2, secret=[b64e(hs)])
    small = make_key("RS256", bits=1024)
    t.check("pubkey of RSA-1024 is key_unusable (rule 16)",
            ["pubkey", write(tmp, "rsa1024.jwk", small.jwk())], 1, "key_unusable")
    t.check("pubkey of RSA-1024 PEM is key_unusable (rule 16)",
            ["pubkey", write(tmp, "rsa1024.pem", small.pem_private())], 1, "key_unusable")
    t.check("pubkey of an off-curve EC key is key_unusable",
            ["pubkey", write(tmp, "offcurve-priv.jwk", off_curve(keys.k["ES256"].jwk()))], 1,
            "key_unusable")
    t.check("pubkey of a missing file is exit 2", ["pubkey", os.path.join(tmp, "nope")], 2)
    t.check("pubkey of garbage is exit 2", ["pubkey", write(tmp, "garbage", b"\x00\x01hello")], 2)
    t.check("pubkey of a bad JSON file is exit 2", ["pubkey", write(tmp, "bad.json", "{nope")], 2)
    t.check("pubkey extra argument", ["pubkey", keys.jwk("ES256"), "x"], 2)


def off_curve(jwk):
    j = dict(jwk)
    y = bytearray(b64d(j["y"]))
    y[-1] ^= 1
    j["y"] = b64e(bytes(y))
    return j


# ---- sign (rules 10, 15, 16, 17) --------------------------------------------------

def sign(t, tmp, keys):
    claims = write(tmp, "claims.json", {"sub": "alice", "exp": NOW + 3600})

    def header_is(pred):
        return lambda out: pred(parts(out.decode())[0])

    for alg in ALL_ALGS + ["Ed448"]:
        key_alg = "EdDSA" if alg == "Ed448" else alg
        rc, out, _ = t.check(
            "sign %s with a JWK: alg, kid, typ JWT (rule 15)" % alg,
            ["sign", "--key", keys.jwk(alg), claims], 0,
            expect=header_is(lambda h, k=alg: h == {"alg": k, "kid": k, "typ": "JWT"}))
        if rc == 0:
            verify(t, "sign %s token verifies" % alg, out.decode(), keys.pub(alg))
            if not alg.startswith("HS"):
                verify(t, "sign %s token verifies with the public PEM" % alg, out.decode(),
                       keys.pem(alg))
                t.ok("sign %s token checks with cryptography" % alg,
                     independent_verify(keys.k[alg], key_alg, out.decode()))
    # PEM forms (rule 10).
    for alg in ["RS256", "ES256", "ES384", "ES512", "EdDSA", "Ed448"]:
        pem = keys.files[alg + ".pem"]
        rc, out, _ = t.check("sign with a PKCS#8 PEM (%s)" % alg, ["sign", "--key", pem, claims], 0,
                             expect=header_is(lambda h: "kid" not in h and h["typ"] == "JWT"))
        if rc == 0:
            verify(t, "PKCS#8 %s token verifies" % alg, out.decode(), keys.pem(alg))
    for alg in ["RS256", "ES256"]:
        trad = write(tmp, "trad-%s.pem" % alg, keys.k[alg].pem_private(traditional=True))
        rc, out, _ = t.check("sign with a traditional %s PEM" % alg,
                             ["sign", "--key", trad, claims], 0)
        if rc == 0:
            verify(t, "traditional %s PEM token verifies" % alg, out.decode(), keys.pem(alg))
    rc, out, _ = t.check("sign PS256 with an RSA PEM and --alg",
                         ["sign", "--key", keys.files["RS256.pem"], "--alg", "PS256", claims], 0,
                         expect=header_is(lambda h: h["alg"] == "PS256"))
    if rc == 0:
        verify(t, "PS256 from a PEM verifies", out.decode(), keys.pem("RS256"))
    # JWK sets.
    two = write(tmp, "two-priv.jwks", {"keys": [keys.k["ES256"].jwk(alg="ES256", kid="e1"),
                                                keys.k["RS256"].jwk(alg="RS256", kid="r1")]})
    t.check("sign: a set with two private keys needs --kid (rule 17)", ["sign", "--key", two,
                                                                         claims], 2)
    t.check("sign: --kid picks from the set (rule 10)", ["sign", "--key", two, "--kid", "r1",
                                                          claims], 0,
            expect=header_is(lambda h: h["kid"] == "r1" and h["alg"] == "RS256"))
    t.check("sign: unknown --kid is exit 2 (rule 17)", ["sign", "--key", two, "--kid", "zz",
                                                        claims], 2)
    mixed = write(tmp, "mixed.jwks", {"keys": [keys.k["ES256"].jwk(False, alg="ES256", kid="p1"),
                                               keys.k["EdDSA"].jwk(alg="EdDSA", kid="s1")]})
    t.check("sign: the only private key of a set", ["sign", "--key", mixed, claims], 0,
            expect=header_is(lambda h: h["kid"] == "s1" and h["alg"] == "EdDSA"))
    t.check("sign: --kid of a public key in the set is key_unusable",
            ["sign", "--key", mixed, "--kid", "p1", claims], 1, "key_unusable")
    pubs = write(tmp, "pubs.jwks", {"keys": [keys.k["ES256"].jwk(False, kid="p1")]})
    t.check("sign: a set of public keys only is key_unusable", ["sign", "--key", pubs, claims], 1,
            "key_unusable")
    t.check("sign: --kid overrides the key's kid (rule 15)",
            ["sign", "--key", keys.jwk("ES256"), "--kid", "other", claims], 0,
            expect=header_is(lambda h: h["kid"] == "other"))
    # Rule 16: unusable keys.
    t.check("sign with a public JWK is key_unusable", ["sign", "--key", keys.pub("ES256"), claims],
            1, "key_unusable")
    t.check("sign with a public PEM is key_unusable", ["sign", "--key", keys.pem("ES256"), claims],
            1, "key_unusable")
    small = make_key("RS256", bits=1024)
    t.check("sign with RSA-1024 is key_unusable (rule 16)",
            ["sign", "--key", write(tmp, "s1024.pem", small.pem_private()), claims], 1,
            "key_unusable")
    short = write(tmp, "short.jwk", {"kty": "oct", "k": b64e(b"0123456789abcdef")})
    t.check("sign with a 16-byte HMAC secret is key_unusable", ["sign", "--key", short, claims], 1,
            "key_unusable", secret=[b64e(b"0123456789abcdef")])
    enc = write(tmp, "enc.jwk", keys.k["ES256"].jwk(use="enc"))
    t.check("sign with use=enc is key_unusable", ["sign", "--key", enc, claims], 1, "key_unusable")
    t.check("sign with a missing key file is exit 2",
            ["sign", "--key", os.path.join(tmp, "none.jwk"), claims], 2)
    # --alg (rule 17).
    t.check("sign --alg the key does not fit is exit 2",
            ["sign", "--key", keys.jwk("ES256"), "--alg", "RS256", claims], 2)
    t.check("sign --alg ES384 with a P-256 key is exit 2",
            ["sign", "--key", keys.files["ES256.pem"], "--alg", "ES384", claims], 2)
    t.check("sign --alg HS512 with a 32-byte secret is exit 2",
            ["sign", "--key", write(tmp, "hs32.jwk", keys.k["HS256"].jwk()), "--alg", "HS512",
             claims], 2, secret=[b64e(keys.k["HS256"].priv)])
    t.check("sign --alg none is exit 2", ["sign", "--key", keys.jwk("ES256"), "--alg", "none",
                                          claims], 2)
    # --typ, --header (rule 10).
    t.check("sign --typ", ["sign", "--key", keys.jwk("ES256"), "--typ", "at+jwt", claims], 0,
            expect=header_is(lambda h: h["typ"] == "at+jwt"))
    t.check("sign --header merges kid, typ, cty and private members",
            ["sign", "--key", keys.jwk("ES256"), "--header",
             '{"cty":"JWT","x-private":{"a":[1,2]},"kid":"hk","typ":"dpop+jwt"}', claims], 0,
            expect=header_is(lambda h: h == {"alg": "ES256", "kid": "hk", "typ": "dpop+jwt",
                                             "cty": "JWT", "x-private": {"a": [1, 2]}}))
    for bad in ['{"alg":"HS256"}', '{"crit":["exp"]}', '{"b64":false}', '[1]', 'nope', '"s"',
                '{"a":1,"a":2}']:
        t.check("sign --header %s is exit 2" % bad,
                ["sign", "--key", keys.jwk("ES256"), "--header", bad, claims], 2)
    # Claims input (rules 15, 17).
    for bad in [b"[1,2]", b'"text"', b"42", b"not json", b"", b'{"a":1,"a":2}', b'{"a":1']:
        t.check("sign claims %r is exit 2 (rule 17)" % bad,
                ["sign", "--key", keys.jwk("ES256"), "-"], 2, stdin=bad)
    exact = ('{"i63":9223372036854775807,"u64":18446744073709551615,"neg":-9223372036854775808,'
             '"f":1.5,"tiny":1e-7,"s":"gr\u00fc\u00df \u2603 \U0001F600","esc":"a\\"b\\\\c\\u0001",'
             '"nested":{"n":[1,2.25,true,null]}}')
    want = json.loads(exact)
    rc, out, _ = t.check("sign keeps 64-bit integers, floats and Unicode (rule 15)",
                         ["sign", "--key", keys.jwk("ES256"), "-"], 0, stdin=exact.encode(),
                         expect=lambda o: json.loads(parts(o.decode())[1]) == want)
    if rc == 0:
        verify(t, "verify prints the claims exactly (rule 15)", out.decode(), keys.pub("ES256"),
               expect=lambda o: json.loads(o) == want and type(json.loads(o)["f"]) is float
               and "\u2603".encode() in o)
        inner = parts(out.decode())[1]
        t.ok("sign writes UTF-8, not escapes", "\u2603".encode() in inner)
    rc, out, _ = t.check("sign --payload-raw signs the bytes as they are",
                         ["sign", "--key", keys.jwk("HS256"), "--payload-raw", "-"], 0,
                         stdin=b"not json \x00\xff at all\n",
                         expect=lambda o: parts(o.decode())[1] == b"not json \x00\xff at all\n")
    if rc == 0:
        verify(t, "verify --payload-only writes the raw payload exactly", out.decode(),
               keys.jwk("HS256"), "--payload-only",
               expect=lambda o: o == b"not json \x00\xff at all\n")
    before = int(time.time())
    rc, out, _ = t.check("sign --ttl sets iat=now, exp=now+TTL",
                         ["sign", "--key", keys.jwk("ES256"), "--ttl", "300", "-"], 0,
                         stdin=b'{"sub":"x","exp":1,"iat":1}')
    if rc == 0:
        c = json.loads(parts(out.decode())[1])
        t.ok("sign --ttl values", before - 2 <= c["iat"] <= time.time() + 2 and
             c["exp"] == c["iat"] + 300 and c["sub"] == "x", str(c))
        t.check("verify a --ttl token with the real clock", ["verify", "--key", keys.pub("ES256"),
                                                             out.decode()], 0)
    t.check("sign --ttl not a number", ["sign", "--key", keys.jwk("ES256"), "--ttl", "soon",
                                        claims], 2)
    t.check("sign reads claims from stdin without an argument",
            ["sign", "--key", keys.jwk("ES256")], 0, stdin=b'{"a":1}',
            expect=lambda o: json.loads(parts(o.decode())[1]) == {"a": 1})
    t.check("sign: missing claims file is exit 2",
            ["sign", "--key", keys.jwk("ES256"), os.path.join(tmp, "missing.json")], 2)
    t.check("sign without --key is exit 2", ["sign", claims], 2)
    t.check("sign keeps a claims file's values",
            ["sign", "--key", keys.jwk("EdDSA"), write(tmp, "c2.json", '{"n":12345678901234567890}')],
            0, expect=lambda o: json.loads(parts(o.decode())[1]) == {"n": 12345678901234567890})


def independent_verify(key, alg, token):
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    from jose_util import HASHES, CRV_WIDTH
    try:
        h, p, s = token.strip().split(".")
        data, sig, pub = (h + "." + p).encode(), b64d(s), key.public()
        if alg.startswith("RS"):
            pub.verify(sig, data, padding.PKCS1v15(), HASHES[alg[2:]]())
        elif alg.startswith("PS"):
            hh = HASHES[alg[2:]]
            pub.verify(sig, data, padding.PSS(mgf=padding.MGF1(hh()), salt_length=hh.digest_size),
                       hh())
        elif alg.startswith("ES"):
            w = CRV_WIDTH[key.crv]
            der = encode_dss_signature(int.from_bytes(sig[:w], "big"),
                                       int.from_bytes(sig[w:], "big"))
            pub.verify(der, data, ec.ECDSA(HASHES[alg[2:5]]()))
        else:
            pub.verify(sig, data)
        return True
    except (InvalidSignature, ValueError):
        return False


# ---- rule 1: keys ------------------------------------------------------------------

def rule1_keys(t, tmp, keys):
    tok = keys.token("ES256")
    verify(t, "rule 1: missing key file is exit 2", tok, os.path.join(tmp, "missing"), exit=2)
    verify(t, "rule 1: directory as key file is exit 2", tok, tmp, exit=2)
    verify(t, "rule 1: garbage key file is exit 2", tok, write(tmp, "g.bin", os.urandom(64)),
           exit=2)
    verify(t, "rule 1: text key file is exit 2", tok, write(tmp, "g.txt", "hello world\n"), exit=2)
    verify(t, "rule 1: empty key file is exit 2", tok, write(tmp, "empty", ""), exit=2)
    verify(t, "rule 1: invalid JSON key file is exit 2", tok, write(tmp, "bad.jwk", '{"kty":'),
           exit=2)
    verify(t, "rule 1: PEM with no key is exit 2", tok,
           write(tmp, "nokey.pem", "-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n"), exit=2)
    small = make_key("RS256", bits=1024)
    stok = jws(small, "RS256", {"exp": NOW + 10})
    for name, content in [("JWK", small.jwk(False)), ("private JWK", small.jwk()),
                          ("PEM", small.pem_public()), ("certificate", small.certificate_pem())]:
        verify(t, "rule 1: RSA-1024 %s is key_unusable" % name, stok,
               write(tmp, "small-" + name.replace(" ", "_"), content), exit=1, code="key_unusable")
    short = make_key("HS256", secret_len=16)
    verify(t, "rule 1: HMAC secret shorter than the hash is key_unusable",
           jws(short, "HS256", {"exp": NOW + 10}),
           write(tmp, "short16.jwk", short.jwk()), exit=1, code="key_unusable")
    hs512_short = make_key("HS256", secret_len=32)
    verify(t, "rule 1: HS512 key with a 32-byte secret is key_unusable",
           jws(hs512_short, "HS512", {"exp": NOW + 10}),
           write(tmp, "hs512short.jwk", hs512_short.jwk(alg="HS512")), exit=1, code="key_unusable")
    verify(t, "rule 1: point off its curve is key_unusable", tok,
           write(tmp, "offcurve.jwk", off_curve(keys.k["ES256"].jwk(False, kid="ES256"))), exit=1,
           code="key_unusable")
    verify(t, "rule 1: use=enc is key_unusable", tok,
           write(tmp, "enc-pub.jwk", keys.k["ES256"].jwk(False, kid="ES256", use="enc")), exit=1,
           code="key_unusable")
    verify(t, "rule 1: key_ops without verify is key_unusable", tok,
           write(tmp, "ops.jwk", keys.k["ES256"].jwk(False, kid="ES256", key_ops=["sign"])),
           exit=1, code="key_unusable")
    verify(t, "rule 1: key_ops [] is key_unusable", tok,
           write(tmp, "ops0.jwk", keys.k["ES256"].jwk(False, kid="ES256", key_ops=[])),
           exit=1, code="key_unusable")
    verify(t, "rule 1: key_ops [] on an oct key is key_unusable", keys.token("HS256"),
           write(tmp, "ops0-oct.jwk", keys.k["HS256"].jwk(kid="HS256", key_ops=[])),
           exit=1, code="key_unusable")
    jwk_text = open(keys.pub("ES256"), "rb").read()
    verify(t, "rule 1: a key file with a NUL byte after its JSON is exit 2", tok,
           write(tmp, "nul.jwk", jwk_text.rstrip() + b"\x00"), exit=2)
    verify(t, "rule 1: key_ops with verify is fine", tok,
           write(tmp, "ops2.jwk", keys.k["ES256"].jwk(False, kid="ES256", key_ops=["verify"])))
    verify(t, "rule 1: use=sig is fine", tok,
           write(tmp, "sig.jwk", keys.k["ES256"].jwk(False, kid="ES256", use="sig")))
    verify(t, "rule 1: unknown kty is key_unusable", tok,
           write(tmp, "kty.jwk", {"kty": "XYZ", "x": "AA"}), exit=1, code="key_unusable")
    verify(t, "rule 1: JWK alg none is key_unusable", tok,
           write(tmp, "algnone.jwk", keys.k["ES256"].jwk(False, alg="none")), exit=1,
           code="key_unusable")
    roca = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "roca",
                        "roca_public.pem")
    verify(t, "rule 1: an RSA key with the ROCA fingerprint is key_unusable", keys.token("RS256"),
           roca, exit=1, code="key_unusable")
    verify(t, "rule 1: a JWK set whose every key is refused is key_unusable", tok,
           write(tmp, "allbad.jwks", {"keys": [small.jwk(False, kid="ES256")]}), exit=1,
           code="key_unusable")
    for alg in ["RS256", "PS384", "ES256", "ES512", "ES256K", "EdDSA", "Ed448"]:
        atok = keys.token(alg)
        verify(t, "rule 1: private JWK given to verify (%s)" % alg, atok, keys.jwk(alg))
        verify(t, "rule 1: PKCS#8 private PEM given to verify (%s)" % alg, atok,
               keys.files[alg + ".pem"])
        verify(t, "rule 1: PEM public key (%s)" % alg, atok, keys.pem(alg))
        verify(t, "rule 1: PEM certificate (%s)" % alg, atok,
               write(tmp, alg + ".crt", keys.k[alg].certificate_pem()))
    verify(t, "rule 1: traditional RSA PEM given to verify", keys.token("RS256"),
           write(tmp, "trad-v.pem", keys.k["RS256"].pem_private(traditional=True)))
    verify(t, "rule 1: oct JWK", keys.token("HS256"), keys.jwk("HS256"))
    t.check("rule 1: key file from stdin with the token as argument",
            ["verify", "--key", "-", "--now", str(NOW), keys.token("ES256")], 0,
            stdin=open(keys.pub("ES256"), "rb").read())
    t.check("rule 1: key and token both from stdin is exit 2",
            ["verify", "--key", "-", "--now", str(NOW)], 2, stdin=b"x")


# ---- rule 2: key selection ---------------------------------------------------------

def rule2_selection(t, tmp, keys):
    a, b = make_key("ES256"), make_key("ES256")
    set_ab = write(tmp, "ab.jwks", {"keys": [a.jwk(False, kid="a"), b.jwk(False, kid="b")]})
    verify(t, "rule 2: kid picks the key", jws(b, "ES256", {"exp": NOW + 9}, {"kid": "b"}), set_ab)
    verify(t, "rule 2: kid picks only that key (wrong key is bad_signature)",
           jws(b, "ES256", {"exp": NOW + 9}, {"kid": "a"}), set_ab, exit=1, code="bad_signature")
    verify(t, "rule 2: unknown kid is key_not_found",
           jws(b, "ES256", {"exp": NOW + 9}, {"kid": "zz"}), set_ab, exit=1, code="key_not_found")
    verify(t, "rule 2: no kid tries every key in order",
           jws(b, "ES256", {"exp": NOW + 9}), set_ab)
    verify(t, "rule 2: no kid, no key matches is bad_signature",
           jws(make_key("ES256"), "ES256", {"exp": NOW + 9}), set_ab, exit=1, code="bad_signature")
    single = write(tmp, "single-kid.jwk", a.jwk(False, kid="a"))
    verify(t, "rule 2: single key with another kid is key_not_found",
           jws(a, "ES256", {"exp": NOW + 9}, {"kid": "other"}), single, exit=1,
           code="key_not_found")
    nokid = write(tmp, "nokid.jwks", {"keys": [a.jwk(False, kid="a"), b.jwk(False)]})
    verify(t, "rule 2: a key without kid serves any token",
           jws(b, "ES256", {"exp": NOW + 9}, {"kid": "whatever"}), nokid)
    verify(t, "rule 2: a PEM key (no kid) serves a token with a kid",
           jws(a, "ES256", {"exp": NOW + 9}, {"kid": "x"}),
           write(tmp, "a.pem", a.pem_public()))
    r = make_key("RS256")
    typed = write(tmp, "typed.jwks", {"keys": [r.jwk(False), a.jwk(False)]})
    verify(t, "rule 2: no kid: only keys whose type fits are tried",
           jws(a, "ES256", {"exp": NOW + 9}), typed)
    skipped = write(tmp, "skipped.jwks", {"keys": [make_key("RS256", 1024).jwk(False, kid="old"),
                                                   a.jwk(False, kid="a")]})
    verify(t, "rule 2: a set with one refused key still serves the others",
           jws(a, "ES256", {"exp": NOW + 9}, {"kid": "a"}), skipped)
    verify(t, "rule 2/1: the token's kid names a refused key: key_unusable",
           jws(a, "ES256", {"exp": NOW + 9}, {"kid": "old"}), skipped, exit=1, code="key_unusable")


# ---- rule 3: algorithms ------------------------------------------------------------

def rule3_algorithms(t, tmp, keys):
    for alg in ALL_ALGS + ["Ed448"]:
        verify(t, "rule 3: %s token, key with alg" % alg, keys.token(alg), keys.pub(alg))
    rsa_noalg = write(tmp, "rsa-noalg.jwk", keys.k["RS256"].jwk(False))
    for alg in ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]:
        verify(t, "rule 3: RSA key without alg accepts %s" % alg,
               jws(keys.k["RS256"], alg, {"exp": NOW + 9}), rsa_noalg)
    verify(t, "rule 3: RSA key without alg refuses ES256",
           jws(keys.k["ES256"], "ES256", {"exp": NOW + 9}), rsa_noalg, exit=1,
           code="alg_not_allowed")
    verify(t, "rule 3: key alg RS256, token PS256 is alg_not_allowed",
           jws(keys.k["RS256"], "PS256", {"exp": NOW + 9}), keys.pub("RS256"), exit=1,
           code="alg_not_allowed")
    verify(t, "rule 3: key alg RS256, token RS512 is alg_not_allowed",
           jws(keys.k["RS256"], "RS512", {"exp": NOW + 9}), keys.pub("RS256"), exit=1,
           code="alg_not_allowed")
    verify(t, "rule 3: --alg narrows (RS384 token, --alg RS256)",
           jws(keys.k["RS256"], "RS384", {"exp": NOW + 9}), rsa_noalg, "--alg", "RS256", exit=1,
           code="alg_not_allowed")
    verify(t, "rule 3: repeated --alg means any of them",
           jws(keys.k["RS256"], "RS384", {"exp": NOW + 9}), rsa_noalg, "--alg", "RS256", "--alg",
           "RS384")
    verify(t, "rule 3: --alg outside the key's alg is alg_not_allowed", keys.token("ES256"),
           keys.pub("ES256"), "--alg", "ES384", exit=1, code="alg_not_allowed")
    hs32 = make_key("HS256", secret_len=32)
    oct_noalg = write(tmp, "oct32.jwk", hs32.jwk())
    verify(t, "rule 3: 32-byte oct key without alg accepts HS256",
           jws(hs32, "HS256", {"exp": NOW + 9}), oct_noalg)
    verify(t, "rule 3: 32-byte oct key without alg refuses HS512 (size)",
           jws(hs32, "HS512", {"exp": NOW + 9}), oct_noalg, exit=1, code="alg_not_allowed")
    # Key confusion: HMAC keyed with the RSA public key's PEM.
    pem = open(keys.pem("RS256"), "rb").read()
    from jose_util import TestKey
    confused = jws(TestKey("HS256", pem), "HS256", {"exp": NOW + 9})
    verify(t, "rule 3: HS256 signed with the RSA public PEM is alg_not_allowed", confused,
           keys.pem("RS256"), exit=1, code="alg_not_allowed")
    for bad in ["none", "None", "NONE", "nOnE"]:
        tok = b64e(json.dumps({"alg": bad, "typ": "JWT"})) + "." + b64e('{"exp":%d}' % (NOW + 9)) + "."
        verify(t, "rule 3: alg %r (empty signature) is unsupported_alg" % bad, tok,
               keys.pub("ES256"), exit=1, code="unsupported_alg")
        tok2 = tok + b64e(b"sig")
        verify(t, "rule 3: alg %r is unsupported_alg" % bad, tok2, keys.pub("ES256"), exit=1,
               code="unsupported_alg")
    for bad in ["HS999", "es256", "RSA-OAEP", "EdDSA448", ""]:
        tok = jws(keys.k["ES256"], "ES256", {"exp": NOW + 9},
                  raw_header=json.dumps({"alg": bad}).encode())
        verify(t, "rule 3: alg %r is unsupported_alg" % bad, tok, keys.pub("ES256"), exit=1,
               code="unsupported_alg")
    ec_set = write(tmp, "kid-ec.jwks", {"keys": [keys.k["ES256"].jwk(False, kid="shared")]})
    verify(t, "rule 3: kid names a key whose type the alg does not fit: alg_not_allowed",
           jws(make_key("HS256"), "HS256", {"exp": NOW + 9}, {"kid": "shared"}), ec_set, exit=1,
           code="alg_not_allowed")
    k1, k2 = make_key("ES256"), make_key("ES256")
    same = write(tmp, "samekid.jwks", {"keys": [k1.jwk(False, kid="x"), k2.jwk(False, kid="x")]})
    verify(t, "rule 3: several keys with the same kid are tried in order",
           jws(k2, "ES256", {"exp": NOW + 9}, {"kid": "x"}), same)
    for bad in ["none", "NONE", "XS256", "", "hs256"]:
        verify(t, "rule 3: --alg %r is exit 2" % bad, keys.token("ES256"), keys.pub("ES256"),
               "--alg", bad, exit=2)
    ed = keys.k["EdDSA"]
    ed_eddsa = keys.pub("EdDSA")
    ed_full = write(tmp, "ed-full.jwk", ed.jwk(False, alg="Ed25519"))
    ed_noalg = write(tmp, "ed-noalg.jwk", ed.jwk(False))
    for tok_alg, key_file, name in [("Ed25519", ed_eddsa, "key EdDSA, token Ed25519"),
                                    ("EdDSA", ed_full, "key Ed25519, token EdDSA"),
                                    ("Ed25519", ed_full, "key Ed25519, token Ed25519"),
                                    ("EdDSA", ed_noalg, "key without alg, token EdDSA"),
                                    ("Ed25519", ed_noalg, "key without alg, token Ed25519")]:
        verify(t, "rule 3: " + name, jws(ed, tok_alg, {"exp": NOW + 9}), key_file)
    verify(t, "rule 3: Ed25519 key refuses token alg Ed448",
           jws(ed, "Ed448", {"exp": NOW + 9}), ed_eddsa, exit=1, code="alg_not_allowed")
    e448 = keys.k["Ed448"]
    verify(t, "rule 3: Ed448 key EdDSA, token Ed448", jws(e448, "Ed448", {"exp": NOW + 9}),
           keys.pub("Ed448"))
    verify(t, "rule 3: --alg Ed25519 accepts an EdDSA token on an Ed25519 key",
           jws(ed, "EdDSA", {"exp": NOW + 9}), ed_eddsa, "--alg", "Ed25519")
    verify(t, "rule 3: --alg Ed448 refuses an EdDSA token on an Ed25519 key",
           jws(ed, "EdDSA", {"exp": NOW + 9}), ed_eddsa, "--alg", "Ed448", exit=1,
           code="alg_not_allowed")


# ---- rule 4: time ------------------------------------------------------------------

def rule4_time(t, tmp, keys):
    k = keys.pub("ES256")

    def tok(claims):
        return keys.token("ES256", claims=claims)

    verify(t, "rule 4: exp in the future", tok({"exp": NOW + 1}), k)
    verify(t, "rule 4: exp == now is expired", tok({"exp": NOW}), k, exit=1, code="expired")
    verify(t, "rule 4: exp in the past is expired", tok({"exp": NOW - 1}), k, exit=1,
           code="expired")
    verify(t, "rule 4: leeway defaults to 0", tok({"exp": NOW - 1}), k, exit=1, code="expired")
    verify(t, "rule 4: exp within leeway", tok({"exp": NOW - 5}), k, "--leeway", "10")
    verify(t, "rule 4: now == exp + leeway is expired", tok({"exp": NOW - 10}), k, "--leeway",
           "10", exit=1, code="expired")
    verify(t, "rule 4: fractional exp", tok({"exp": NOW + 0.5}), k)
    verify(t, "rule 4: fractional exp passed", tok({"exp": NOW - 0.5}), k, exit=1, code="expired")
    verify(t, "rule 4: fractional --now", tok({"exp": NOW + 1}), k, "--now", str(NOW + 0.5))
    verify(t, "rule 4: nbf == now passes", tok({"nbf": NOW}), k)
    verify(t, "rule 4: nbf in the future is not_yet_valid", tok({"nbf": NOW + 1}), k, exit=1,
           code="not_yet_valid")
    verify(t, "rule 4: nbf within leeway", tok({"nbf": NOW + 5}), k, "--leeway", "5")
    verify(t, "rule 4: nbf beyond leeway", tok({"nbf": NOW + 6}), k, "--leeway", "5", exit=1,
           code="not_yet_valid")
    verify(t, "rule 4: iat == now passes", tok({"iat": NOW}), k)
    verify(t, "rule 4: iat in the future is issued_in_future", tok({"iat": NOW + 1}), k, exit=1,
           code="issued_in_future")
    verify(t, "rule 4: iat within leeway", tok({"iat": NOW + 3}), k, "--leeway", "3")
    for name, v in [("a string", "1700000100"), ("negative", -1), ("2^53", 2 ** 53),
                    ("true", True), ("null", None), ("an array", [NOW + 9]),
                    ("an object", {"t": 1}), ("huge", 10 ** 30)]:
        for claim in ["exp", "nbf", "iat"]:
            verify(t, "rule 4: %s %s is bad_claim" % (claim, name), tok({claim: v}), k, exit=1,
                   code="bad_claim")
    verify(t, "rule 4: 2^53-1 exp is a number", tok({"exp": 2 ** 53 - 1}), k)
    verify(t, "rule 4: no exp passes without --require exp", tok({"sub": "x"}), k)
    verify(t, "rule 4: --require exp makes missing exp missing_claim", tok({"sub": "x"}), k,
           "--require", "exp", exit=1, code="missing_claim")
    verify(t, "rule 4: --require exp with exp", tok({"exp": NOW + 9}), k, "--require", "exp")
    verify(t, "rule 4: --max-age needs iat", tok({"exp": NOW + 9}), k, "--max-age", "60",
           exit=1, code="missing_claim")
    verify(t, "rule 4: --max-age, iat just old enough", tok({"iat": NOW - 60}), k, "--max-age",
           "60")
    verify(t, "rule 4: --max-age, too_old", tok({"iat": NOW - 61}), k, "--max-age", "60",
           exit=1, code="too_old")
    verify(t, "rule 4: --max-age with leeway", tok({"iat": NOW - 65}), k, "--max-age", "60",
           "--leeway", "5")
    verify(t, "rule 4: --max-age beyond leeway", tok({"iat": NOW - 66}), k, "--max-age", "60",
           "--leeway", "5", exit=1, code="too_old")
    for opt, val in [("--leeway", "-1"), ("--leeway", "601"), ("--leeway", "x"),
                     ("--now", "yesterday"), ("--now", "-5"), ("--max-age", "-1"),
                     ("--max-age", "1h")]:
        verify(t, "rule 4: %s %s is exit 2" % (opt, val), tok({"exp": NOW + 9}), k, opt, val,
               exit=2)
    t.check("rule 4: the real clock is the default",
            ["verify", "--key", k, tok({"exp": int(time.time()) + 600})], 0)
    t.check("rule 4: the real clock, expired",
            ["verify", "--key", k, tok({"exp": int(time.time()) - 600})], 1, "expired")


# ---- rule 5: iss, aud, sub ---------------------------------------------------------

def rule5_iss_aud_sub(t, tmp, keys):
    k = keys.pub("ES256")

    def tok(claims):
        c = {"exp": NOW + 9}
        c.update(claims)
        return keys.token("ES256", claims={n: v for n, v in c.items() if v is not None})

    verify(t, "rule 5: iss not checked without --iss", tok({"iss": "anyone"}), k)
    verify(t, "rule 5: aud not checked without --aud", tok({"aud": "anything"}), k)
    verify(t, "rule 5: no aud, no --aud", tok({}), k)
    verify(t, "rule 5: --iss matches", tok({"iss": "https://a"}), k, "--iss", "https://a")
    verify(t, "rule 5: repeated --iss is any of them", tok({"iss": "https://b"}), k, "--iss",
           "https://a", "--iss", "https://b")
    verify(t, "rule 5: other iss is bad_issuer", tok({"iss": "https://c"}), k, "--iss",
           "https://a", exit=1, code="bad_issuer")
    verify(t, "rule 5: missing iss is bad_issuer", tok({}), k, "--iss", "https://a", exit=1,
           code="bad_issuer")
    verify(t, "rule 5: iss compares exactly", tok({"iss": "https://a/"}), k, "--iss", "https://a",
           exit=1, code="bad_issuer")
    verify(t, "rule 5: aud string matches", tok({"aud": "api"}), k, "--aud", "api")
    verify(t, "rule 5: aud array contains", tok({"aud": ["x", "api"]}), k, "--aud", "api")
    verify(t, "rule 5: repeated --aud", tok({"aud": ["x", "api2"]}), k, "--aud", "api",
           "--aud", "api2")
    verify(t, "rule 5: aud mismatch is bad_audience", tok({"aud": ["x", "y"]}), k, "--aud", "api",
           exit=1, code="bad_audience")
    verify(t, "rule 5: missing aud is bad_audience", tok({}), k, "--aud", "api", exit=1,
           code="bad_audience")
    verify(t, "rule 5: empty aud array is bad_audience", tok({"aud": []}), k, "--aud", "api",
           exit=1, code="bad_audience")
    verify(t, "rule 5: aud not a string is bad_claim", tok({"aud": 5}), k, exit=1,
           code="bad_claim")
    verify(t, "rule 5: aud array with a number is bad_claim", tok({"aud": ["api", 5]}), k,
           "--aud", "api", exit=1, code="bad_claim")
    verify(t, "rule 5: --sub matches", tok({"sub": "alice"}), k, "--sub", "alice")
    verify(t, "rule 5: other sub is bad_subject", tok({"sub": "bob"}), k, "--sub", "alice",
           exit=1, code="bad_subject")
    verify(t, "rule 5: missing sub is bad_subject", tok({"sub": None}), k, "--sub", "alice",
           exit=1, code="bad_subject")


# ---- rule 6: scopes ----------------------------------------------------------------

def rule6_scopes(t, tmp, keys):
    k = keys.pub("ES256")

    def tok(claims):
        c = {"exp": NOW + 9}
        c.update(claims)
        return keys.token("ES256", claims=c)

    verify(t, "rule 6: scope string grants", tok({"scope": "a b c"}), k, "--scope", "a",
           "--scope", "c")
    verify(t, "rule 6: every --scope must be granted", tok({"scope": "a b"}), k, "--scope", "a",
           "--scope", "d", exit=1, code="insufficient_scope")
    verify(t, "rule 6: no scope claim is insufficient_scope", tok({}), k, "--scope", "a", exit=1,
           code="insufficient_scope")
    verify(t, "rule 6: scp array", tok({"scp": ["a", "b"]}), k, "--scope", "b")
    verify(t, "rule 6: scp string", tok({"scp": "a b"}), k, "--scope", "b")
    verify(t, "rule 6: scope wins over scp", tok({"scope": "x", "scp": ["a"]}), k, "--scope", "a",
           exit=1, code="insufficient_scope")
    verify(t, "rule 6: scope not a string is bad_claim", tok({"scope": ["a"]}), k, "--scope", "a",
           exit=1, code="bad_claim")
    verify(t, "rule 6: scope not a string is bad_claim without --scope", tok({"scope": 5}), k,
           exit=1, code="bad_claim")
    verify(t, "rule 6: scp with a number is bad_claim", tok({"scp": ["a", 1]}), k, exit=1,
           code="bad_claim")
    verify(t, "rule 6: scope match is exact", tok({"scope": "ab"}), k, "--scope", "a", exit=1,
           code="insufficient_scope")
    verify(t, "rule 6: --scope '' is exit 2", tok({"scope": "a"}), k, "--scope", "", exit=2)


# ---- rule 7: typ -------------------------------------------------------------------

def rule7_typ(t, tmp, keys):
    k = keys.pub("ES256")

    def tok(typ):
        return keys.token("ES256", header={"typ": typ})

    verify(t, "rule 7: --typ matches", tok("at+jwt"), k, "--typ", "at+jwt")
    verify(t, "rule 7: --typ case-insensitive", tok("AT+JWT"), k, "--typ", "at+jwt")
    verify(t, "rule 7: application/ prefix on the token", tok("application/at+jwt"), k, "--typ",
           "at+jwt")
    verify(t, "rule 7: application/ prefix on --typ", tok("at+jwt"), k, "--typ",
           "application/AT+JWT")
    verify(t, "rule 7: other typ is bad_type", tok("JWT"), k, "--typ", "at+jwt", exit=1,
           code="bad_type")
    verify(t, "rule 7: missing typ is bad_type", tok(None), k, "--typ", "at+jwt", exit=1,
           code="bad_type")
    verify(t, "rule 7: typ not checked without --typ", tok("whatever"), k)


# ---- rule 8: input -----------------------------------------------------------------

def rule8_input(t, tmp, keys):
    k = keys.pub("ES256")
    tok = keys.token("ES256")
    verify(t, "rule 8: trailing newline on stdin", tok, k, stdin=tok + "\n")
    verify(t, "rule 8: white space around the token on stdin", tok, k, stdin="\r\n  " + tok + " \t\n")
    verify(t, "rule 8: white space around the token argument", "  " + tok + "\n", k)
    h, p, s = tok.split(".")
    for name, bad in [("space inside", h + "." + p[:5] + " " + p[5:] + "." + s),
                      ("newline inside", h + ".\n" + p + "." + s),
                      ("padding", tok + "=="),
                      ("padding in header", h + "=." + p + "." + s),
                      ("+ outside the alphabet", h + "." + p + "." + s[:-2] + "+" + s[-1:]),
                      ("/ outside the alphabet", h + "." + p.replace(p[3], "/", 1) + "." + s),
                      ("two parts", h + "." + p),
                      ("four parts", tok + ".x"),
                      ("five parts (JWE)", "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d"),
                      ("JSON serialization", json.dumps({"payload": p, "protected": h,
                                                         "signature": s})),
                      ("empty", ""), ("only dots", ".."), ("empty signature", h + "." + p + "."),
                      ("not base64 header", "!!!." + p + "." + s),
                      ("header not JSON", b64e("not json") + "." + p + "." + s),
                      ("header a JSON array", b64e("[1]") + "." + p + "." + s)]:
        verify(t, "rule 8: %s is malformed" % name, bad, k, exit=1, code="malformed")
    verify(t, "rule 8: empty token on stdin is malformed", "", k, stdin="", exit=1,
           code="malformed")
    # Non-zero trailing bits: ES256 signatures are 64 bytes (86 chars, 4 spare bits).
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    v = last.index(s[-1])
    bad_bits = h + "." + p + "." + s[:-1] + last[v ^ 1]
    t.ok("rule 8: trailing-bit variant decodes to the same bytes",
         b64d(s[:-1] + last[v ^ 1]) == b64d(s))
    verify(t, "rule 8: non-zero trailing bits are malformed", bad_bits, k, exit=1,
           code="malformed")
    # Nothing but JSON white space after the header's or the claims' JSON.
    header, claims = b'{"alg":"ES256","kid":"ES256"}', b'{"exp":%d}' % (NOW + 9)
    for name, hdr in [("NUL after the header", header + b"\x00"),
                      ("NUL and more after the header", header + b"\x00{}"),
                      ("text after the header", header + b" x")]:
        bad = jws(keys.k["ES256"], "ES256", claims, raw_header=hdr)
        verify(t, "rule 8: %s is malformed" % name, bad, k, exit=1, code="malformed")
        verify(t, "rule 8: %s is malformed (--payload-only)" % name, bad, k, "--payload-only",
               exit=1, code="malformed")
    for name, body in [("NUL after the claims", claims + b"\x00"),
                       ("NUL and more after the claims", claims + b'\x00{"sub":"x"}')]:
        bad = jws(keys.k["ES256"], "ES256", body, raw_header=header)
        verify(t, "rule 8: %s is malformed" % name, bad, k, exit=1, code="malformed")
        verify(t, "rule 8: %s: --payload-only gives the bytes as they are" % name, bad, k,
               "--payload-only", expect=lambda o, body=body: o == body)
    verify(t, "rule 8: white space after the JSON is fine",
           jws(keys.k["ES256"], "ES256", b'{"exp":%d} \r\n' % (NOW + 9),
               raw_header=b'{"alg":"ES256","kid":"ES256"}\n'), k)
    # One size limit: a long claim string is fine while the token is within the limit.
    long_claim = keys.token("ES256", claims={"exp": NOW + 9, "note": "x" * 40000})
    t.ok("rule 8: the 40 KB claim token is under 64 KiB", len(long_claim) < 65536, len(long_claim))
    verify(t, "rule 8: a 40 KB claim string within 64 KiB verifies", long_claim, k)
    seventy = keys.token("ES256", claims={"exp": NOW + 9, "note": "x" * 52000})
    t.ok("rule 8: the 70,000-byte token", 65536 < len(seventy) < 100000, len(seventy))
    verify(t, "rule 8: a 70,000-byte token under --max-size 100000 verifies", seventy, k,
           "--max-size", "100000")
    big = keys.token("ES256", claims={"exp": NOW + 9, "pad": ["x" * 10000] * 5})
    verify(t, "rule 8: over 64 KiB is too_large", big, k, exit=1, code="too_large")
    verify(t, "rule 8: --max-size raises the limit", big, k, "--max-size", "200000")
    verify(t, "rule 8: --max-size lowers the limit", tok, k, "--max-size", str(len(tok) - 1),
           exit=1, code="too_large")
    verify(t, "rule 8: --max-size equal to the size", tok, k, "--max-size", str(len(tok)))
    verify(t, "rule 8: too_large before any decoding", "!" * 70000, k, exit=1, code="too_large")
    verify(t, "rule 8: --max-size 0 is exit 2", tok, k, "--max-size", "0", exit=2)
    exact = exact_size_token(keys, 65536)
    verify(t, "rule 8: exactly 64 KiB is accepted", exact, keys.pem("ES256"))
    verify(t, "rule 8: 64 KiB + 1 is too_large", exact_size_token(keys, 65537), keys.pem("ES256"),
           exit=1, code="too_large")
    dup_h = b'{"alg":"ES256","kid":"ES256","alg":"ES256"}'
    verify(t, "rule 8: duplicate header member is malformed",
           jws(keys.k["ES256"], "ES256", {"exp": NOW + 9}, raw_header=dup_h), k, exit=1,
           code="malformed")
    verify(t, "rule 8: duplicate claim is malformed",
           jws(keys.k["ES256"], "ES256", b'{"exp":%d,"sub":"a","sub":"b"}' % (NOW + 9),
               header={"kid": "ES256"}), k, exit=1, code="malformed")
    verify(t, "rule 8: claims not JSON is malformed",
           jws(keys.k["ES256"], "ES256", b"not json", header={"kid": "ES256"}), k, exit=1,
           code="malformed")
    verify(t, "rule 8: claims a JSON array is malformed",
           jws(keys.k["ES256"], "ES256", b"[1,2]", header={"kid": "ES256"}), k, exit=1,
           code="malformed")
    verify(t, "rule 8: tampered payload is bad_signature",
           h + "." + b64e(json.dumps({"sub": "mallory", "exp": NOW + 3600})) + "." + s, k,
           exit=1, code="bad_signature")
    for bit in [0, 100, 511]:
        verify(t, "rule 8: flipped signature bit %d is bad_signature" % bit,
               flip_signature_bit(tok, bit), k, exit=1, code="bad_signature")
    verify(t, "rule 8: truncated signature is bad_signature", h + "." + p + "." + b64e(b64d(s)[:-1]),
           k, exit=1, code="bad_signature")


def exact_size_token(keys, size):
    """An ES256 token of exactly `size` characters (kid padding makes every size reachable)."""
    def make(r, kid_len):
        c = {"exp": NOW + 9, "pad": ["x" * 10000] * 4 + ["x" * r]}
        return keys.token("ES256", claims=c, kid="k" * kid_len)
    for kid_len in range(1, 4):
        r = max(0, (size - len(make(0, kid_len))) * 3 // 4 - 8)
        tok = make(r, kid_len)
        while len(tok) < size:
            r += 1
            tok = make(r, kid_len)
        if len(tok) == size:
            return tok
    raise AssertionError("no token of %d characters" % size)


# ---- rule 9: header rules ----------------------------------------------------------

def rule9_header(t, tmp, keys):
    k = keys.pub("ES256")
    key = keys.k["ES256"]
    for mode in [[], ["--payload-only"]]:
        sfx = " (--payload-only)" if mode else ""
        verify(t, "rule 9: crit naming anything is unknown_crit" + sfx,
               keys.token("ES256", header={"crit": ["exp"], "exp": NOW + 9}), k, *mode, exit=1,
               code="unknown_crit")
        verify(t, "rule 9: b64:false is unknown_crit" + sfx,
               keys.token("ES256", header={"crit": ["b64"], "b64": False}), k, *mode, exit=1,
               code="unknown_crit")
        verify(t, "rule 9: --typ mismatch is bad_type" + sfx,
               keys.token("ES256", header={"typ": "JWT"}), k, "--typ", "at+jwt", *mode, exit=1,
               code="bad_type")
        verify(t, "rule 9: alg none is unsupported_alg" + sfx,
               b64e('{"alg":"none"}') + "." + b64e("{}") + "." + b64e("x"), k, *mode, exit=1,
               code="unsupported_alg")
        for none in ["none", "None", "NONE"]:
            verify(t, "rule 3: alg %s with an empty signature is unsupported_alg%s" % (none, sfx),
                   b64e('{"alg":"%s"}' % none) + "." + b64e('{"exp":%d}' % (NOW + 9)) + ".", k,
                   *mode, exit=1, code="unsupported_alg")
        verify(t, "rule 3: RFC 7515 A.5 (unsecured JWS) is unsupported_alg" + sfx, RFC7515_A5, k,
               *mode, exit=1, code="unsupported_alg")
        verify(t, "rule 9: alg not allowed" + sfx, keys.token("ES256"), k, "--alg", "ES384",
               *mode, exit=1, code="alg_not_allowed")
        verify(t, "rule 9: bad signature" + sfx, flip_signature_bit(keys.token("ES256")), k,
               *mode, exit=1, code="bad_signature")
        verify(t, "rule 9: key_not_found" + sfx,
               keys.token("ES256", kid="nope"), k, *mode, exit=1, code="key_not_found")
        verify(t, "rule 9: too_large" + sfx, keys.token("ES256"), k, "--max-size", "10", *mode,
               exit=1, code="too_large")
    # --payload-only does not look at the claims.
    expired = keys.token("ES256", claims={"exp": NOW - 100, "aud": 5})
    verify(t, "verify --payload-only ignores claims", expired, k, "--payload-only", "--aud", "x",
           expect=lambda o: json.loads(o) == {"exp": NOW - 100, "aud": 5})
    verify(t, "verify --payload-only writes the payload bytes exactly",
           jws(key, "ES256", b'{ "a" : 1 }', header={"kid": "ES256"}), k, "--payload-only",
           expect=lambda o: o == b'{ "a" : 1 }')
    # jwk, jku, x5u, x5c are never used to find the key.
    attacker = make_key("ES256")
    for member, value in [("jwk", attacker.jwk(False)), ("jku", "https://evil.example/jwks"),
                          ("x5u", "https://evil.example/cert"),
                          ("x5c", [b64e(b"not a cert")])]:
        verify(t, "rule 9: header %s is never used" % member,
               jws(attacker, "ES256", {"exp": NOW + 9}, header={member: value, "kid": "ES256"}),
               k, exit=1, code="bad_signature")
    cert = make_key("ES256")
    import base64
    der = base64.b64encode(b"".join(
        l for l in cert.certificate_pem().splitlines() if not l.startswith(b"-----"))).decode()
    verify(t, "rule 9: a real x5c is not used either",
           jws(cert, "ES256", {"exp": NOW + 9}, header={"x5c": [der]}), k, exit=1,
           code="bad_signature")


# ---- inspect (rule 12) -------------------------------------------------------------

def inspect(t, tmp, keys):
    tok = keys.token("ES256", claims={"sub": "alice", "n": 18446744073709551615})
    rc, out, err = t.check("inspect prints header and payload", ["inspect", tok], 0,
                           expect=is_json(lambda j: j == {
                               "header": {"alg": "ES256", "kid": "ES256", "typ": "JWT"},
                               "payload": {"sub": "alice", "n": 18446744073709551615}}))
    t.ok("inspect warns on stderr that nothing is verified",
         "warning" in err.lower() and "not" in err.lower() and "verif" in err.lower(), err)
    t.check("inspect reads stdin", ["inspect"], 0, stdin=tok + "\n",
            expect=is_json(lambda j: j["payload"]["sub"] == "alice"))
    t.check("inspect reads stdin with -", ["inspect", "-"], 0, stdin=tok,
            expect=is_json(lambda j: j["header"]["alg"] == "ES256"))
    t.check("inspect does not verify (expired, bad signature)", ["inspect", flip_signature_bit(
        keys.token("ES256", claims={"exp": 1}))], 0)
    raw = jws(keys.k["ES256"], "ES256", b"plain text payload")
    t.check("inspect shows a non-JSON payload as a string", ["inspect", raw], 0,
            expect=is_json(lambda j: j["payload"] == "plain text payload"))
    rc, out, err = t.check("inspect shows an unsecured JWS (RFC 7515 A.5)", ["inspect", RFC7515_A5], 0,
                           expect=is_json(lambda j: j["header"] == {"alg": "none"} and
                                          j["payload"]["iss"] == "joe"))
    t.ok("inspect warns about an unsecured JWS too", "warning" in err.lower(), err)
    t.check("inspect of alg none still decodes",
            ["inspect", b64e('{"alg":"none"}') + "." + b64e('{"a":1}') + "." + b64e("x")], 0,
            expect=is_json(lambda j: j["header"] == {"alg": "none"}))
    for name, bad in [("garbage", "garbage"), ("two parts", "a.b"), ("bad base64", "e!.e.e"),
                      ("header not JSON", b64e("nope") + "." + b64e("{}") + ".c2ln"),
                      ("empty", ""),
                      ("dup header member", b64e('{"alg":"ES256","alg":"ES256"}') + ".e30.c2ln"),
                      ("JWE", "a.b.c.d.e")]:
        t.check("inspect: %s is malformed (rule 12)" % name, ["inspect", bad], 1, "malformed")
    t.check("inspect: too many arguments", ["inspect", tok, tok], 2)


# ---- rules 13, 14, 15 --------------------------------------------------------------

def rule13_14_15(t, tmp, keys):
    k = keys.pub("ES256")
    for claim, v in [("iss", 5), ("sub", ["a"]), ("jti", 1), ("client_id", {"a": 1})]:
        verify(t, "rule 13: %s ill-typed is bad_claim" % claim,
               keys.token("ES256", claims={claim: v}), k, exit=1, code="bad_claim")
    verify(t, "rule 13: there is no replay option", keys.token("ES256"), k, "--replay", exit=2)
    tok = keys.token("ES256")
    verify(t, "rule 14: TOKEN argument is the text", tok, k)
    verify(t, "rule 14: - reads stdin", tok, k, "-", stdin=tok)
    verify(t, "rule 14: no argument reads stdin", tok, k, stdin=tok)
    verify(t, "rule 14: a file name is not a token", write(tmp, "tokfile", tok), k, exit=1,
           code="malformed")
    verify(t, "rule 14: too many arguments", tok, k, tok, exit=2)
    claims = {"sub": "\u00e9l\u00e8ve \u2603", "big": 2 ** 63 - 1, "ubig": 2 ** 64 - 1,
              "neg": -2 ** 63, "f": 1.5, "exp": NOW + 9}
    verify(t, "rule 15: verify keeps values from an independent signer",
           keys.token("ES256", claims=claims), k,
           expect=lambda o: json.loads(o) == claims and "\u2603".encode() in o)


# ---- remote key sets ---------------------------------------------------------------

class _Issuer(http.server.BaseHTTPRequestHandler):
    """A JWKS and discovery server on 127.0.0.1 for the remote checks."""
    routes = {}

    def do_GET(self):  # noqa: N802 (http.server's name)
        status, body = self.routes.get(self.path, (404, b"{}"))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def remote(t, tmp, keys):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Issuer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d" % server.server_address[1]
    jwks = json.dumps({"keys": [keys.k["ES256"].jwk(False, alg="ES256", kid="ES256")]})
    _Issuer.routes = {
        "/jwks.json": (200, jwks.encode()),
        "/broken": (500, b"oops"),
        "/.well-known/openid-configuration":
            (200, json.dumps({"issuer": base, "jwks_uri": base + "/jwks.json"}).encode()),
        "/other/.well-known/openid-configuration":
            (200, json.dumps({"issuer": "https://elsewhere.example",
                              "jwks_uri": base + "/jwks.json"}).encode()),
    }
    try:
        good = keys.token("ES256", claims={"iss": base, "sub": "alice", "exp": NOW + 3600})
        foreign = keys.token("ES256", claims={"iss": "https://evil.example", "exp": NOW + 3600})
        now = ["--now", str(NOW)]
        url = base + "/jwks.json"
        t.check("--jwks-url http:// without --allow-http is exit 2",
                ["verify", "--jwks-url", url] + now + [good], 2)
        t.check("--jwks-url verifies against the fetched set",
                ["verify", "--jwks-url", url, "--allow-http"] + now + [good], 0,
                expect=is_json(lambda j: j["sub"] == "alice"))
        t.check("--jwks-url: a tampered token is rejected",
                ["verify", "--jwks-url", url, "--allow-http"] + now + [flip_signature_bit(good)],
                1, "bad_signature")
        t.check("--jwks-url: the other verify options apply",
                ["verify", "--jwks-url", url, "--allow-http", "--aud", "x"] + now + [good],
                1, "bad_audience")
        t.check("--jwks-url: an unknown kid is key_not_found",
                ["verify", "--jwks-url", url, "--allow-http"] + now +
                [keys.token("ES256", kid="nope")], 1, "key_not_found")
        t.check("--jwks-url: a fetch answered 500 is exit 2",
                ["verify", "--jwks-url", base + "/broken", "--allow-http"] + now + [good], 2)
        t.check("--jwks-url: a refused connection is exit 2",
                ["verify", "--jwks-url", "https://127.0.0.1:1/jwks"] + now + [good], 2)
        t.check("--issuer-url finds the keys through discovery",
                ["verify", "--issuer-url", base, "--allow-http"] + now + [good], 0,
                expect=is_json(lambda j: j["iss"] == base))
        t.check("--issuer-url: the token's iss must equal URL",
                ["verify", "--issuer-url", base, "--allow-http"] + now + [foreign], 1, "bad_issuer")
        t.check("--issuer-url: metadata naming another issuer is exit 2",
                ["verify", "--issuer-url", base + "/other", "--allow-http"] + now + [good], 2)
        t.check("--issuer-url http:// without --allow-http is exit 2",
                ["verify", "--issuer-url", base] + now + [good], 2)
        for opt in ["--jwks-url", "--issuer-url"]:
            t.check("%s and --key together is exit 2" % opt,
                    ["verify", opt, "https://a/", "--key", k_path(keys), good], 2)
        t.check("verify without any key is exit 2", ["verify", good], 2)
    finally:
        server.shutdown()
        server.server_close()


def k_path(keys):
    return keys.pub("ES256")


if __name__ == "__main__":
    sys.exit(main())
