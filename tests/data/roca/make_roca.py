#!/usr/bin/python3
"""Generate ROCA (CVE-2017-15361, Infineon RSALib) test keys.

Usage (from the repository root, or from anywhere; paths are relative to this file):

    /usr/bin/python3 tests/data/roca/make_roca.py

Writes, next to this script, only after every check below has passed:

    roca_keys.json   {"description", "seed", "fingerprinted": [jwk, ...], "controls": [jwk, ...]}
                     jwk = {"kty": "RSA", "n", "e", "d", "p", "q", "dp", "dq", "qi", "bits"}
                     (RFC 7517/7518 RSA members: base64url without padding, big-endian,
                     minimal octets; "bits" is the bit length of n)
    roca_public.pem  SubjectPublicKeyInfo of fingerprinted[0]
    roca_cert.pem    self-signed X.509 certificate for fingerprinted[0] (fixed dates and
                     serial; RSA PKCS#1 v1.5 signatures are deterministic, so the file is
                     the same on every run)

The output is deterministic (fixed seed). Key generation uses only the standard
library (own Miller-Rabin); the PEM files and the final consistency check use
the `cryptography` package.

Fingerprinted keys: both primes have the RSALib form
    p = k * M + (65537^a mod M),
M = product of the first 126 primes (2..701, 971 bits) for 2048-bit keys and of
the first 225 primes (2..1427, 1963 bits) for the 4096-bit key; k and a random,
k chosen so that p has exactly bits/2 bits and p > sqrt(2) * 2^(bits/2 - 1),
which makes n = p*q exactly `bits` bits long.
Controls: ordinary random primes of the same size.

Fingerprint test (same as RocaFingerprinter.has_fingerprint_moduli in
crocs-muni/roca detect.py): for each of the 38 primes r in 3..167, bit
(n mod r) of marker[r] must be set, where marker[r] is the set of powers of
65537 mod r as a bitmask. The markers are computed here, not copied; they are
equal to the `prints` list of detect.py. Every fingerprinted n must pass, every
control must fail; otherwise the script exits non-zero and writes nothing.
Only 17 of the 38 primes (11, 13, 17, 19, 37, 53, 61, 71, 73, 79, 97, 103,
107, 109, 127, 151, 157) actually filter: for the other 21, 65537 generates
all of Z_r^*.
"""

import base64
import datetime
import json
import math
import os
import random
import sys
import time

SEED = 0x15361  # CVE-2017-15361
E = 65537
OUT_DIR = os.path.dirname(os.path.abspath(__file__))


def first_primes(count):
    ps = []
    n = 2
    while len(ps) < count:
        if all(n % p for p in ps if p * p <= n):
            ps.append(n)
        n += 1
    return ps


SMALL_PRIMES = first_primes(400)  # up to 2741, for trial division of controls
ROCA_PRIMES = [r for r in SMALL_PRIMES if 3 <= r <= 167]
assert len(ROCA_PRIMES) == 38


def marker(r):
    """Bitmask with bit x set for every x in <65537 mod r> (multiplicative subgroup)."""
    m = 0
    for k in range(r - 1):
        m |= 1 << pow(E, k, r)
    return m


MARKERS = {r: marker(r) for r in ROCA_PRIMES}


def has_roca_fingerprint(n):
    return all((1 << (n % r)) & MARKERS[r] for r in ROCA_PRIMES)


def is_probable_prime(n, rng, rounds=32):
    if n < 2:
        return False
    for p in SMALL_PRIMES:
        if n == p:
            return True
        if n % p == 0:
            return False
    d = n - 1
    s = 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(rounds):
        a = rng.randrange(2, n - 1)
        x = pow(a, d, n)
        if x == 1 or x == n - 1:
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def lower_bound(half_bits):
    # smallest p with p*p > 2^(2*half_bits - 1), so a product of two such
    # primes below 2^half_bits has exactly 2*half_bits bits
    return math.isqrt(1 << (2 * half_bits - 1)) + 1


def roca_prime(half_bits, m_count, rng):
    m = math.prod(SMALL_PRIMES[:m_count])
    lo, hi = lower_bound(half_bits), 1 << half_bits
    kmin = -(-lo // m)           # k*M >= lo
    kmax = (hi - m) // m         # k*M + M <= hi
    assert kmin < kmax, "primorial too large for this prime size"
    while True:
        k = rng.randint(kmin, kmax)
        a = rng.randrange(1, m)  # exponent; any integer works, 65537^a mod M is a unit
        p = k * m + pow(E, a, m)
        assert lo <= p < hi and p.bit_length() == half_bits
        if math.gcd(p - 1, E) == 1 and is_probable_prime(p, rng):
            return p


def random_prime(half_bits, rng):
    lo, hi = lower_bound(half_bits), 1 << half_bits
    while True:
        p = rng.randrange(lo, hi) | 1
        if math.gcd(p - 1, E) == 1 and is_probable_prime(p, rng):
            return p


def b64u(x):
    raw = x.to_bytes(max(1, (x.bit_length() + 7) // 8), "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64u_int(s):
    return int.from_bytes(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)), "big")


def make_key(bits, prime_fn):
    half = bits // 2
    p = prime_fn(half)
    while True:
        q = prime_fn(half)
        if q != p:
            break
    if p < q:  # conventional order p > q; qi = q^-1 mod p
        p, q = q, p
    n = p * q
    assert n.bit_length() == bits
    lam = (p - 1) * (q - 1) // math.gcd(p - 1, q - 1)
    d = pow(E, -1, lam)
    key = {"kty": "RSA", "n": n, "e": E, "d": d, "p": p, "q": q,
           "dp": d % (p - 1), "dq": d % (q - 1), "qi": pow(q, -1, p)}
    # self-check of the RSA arithmetic
    assert (E * d) % lam == 1 and (key["qi"] * q) % p == 1
    msg = 0x1234567890ABCDEF
    assert pow(pow(msg, E, n), d, n) == msg
    return key


def to_jwk(key, bits):
    out = {"kty": "RSA"}
    for name in ("n", "e", "d", "p", "q", "dp", "dq", "qi"):
        out[name] = b64u(key[name])
    out["bits"] = bits
    return out


def check_with_cryptography(jwk):
    from cryptography.hazmat.primitives.asymmetric import rsa
    ints = {k: b64u_int(jwk[k]) for k in ("n", "e", "d", "p", "q", "dp", "dq", "qi")}
    priv = rsa.RSAPrivateNumbers(
        p=ints["p"], q=ints["q"], d=ints["d"], dmp1=ints["dp"], dmq1=ints["dq"],
        iqmp=ints["qi"], public_numbers=rsa.RSAPublicNumbers(ints["e"], ints["n"]),
    ).private_key()
    assert priv.key_size == jwk["bits"]
    return priv


def write_pems(priv):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    pub_pem = priv.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "ROCA fingerprint test key (CVE-2017-15361)"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tokenpass test data"),
    ])
    utc = datetime.timezone.utc
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(priv.public_key())
        .serial_number(0x15361)
        .not_valid_before(datetime.datetime(2024, 1, 1, tzinfo=utc))
        .not_valid_after(datetime.datetime(2099, 12, 31, 23, 59, 59, tzinfo=utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(priv, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)

    # load back and compare
    n = priv.private_numbers().public_numbers.n
    loaded_pub = serialization.load_pem_public_key(pub_pem)
    loaded_cert = x509.load_pem_x509_certificate(cert_pem)
    assert loaded_pub.public_numbers().n == n and loaded_pub.public_numbers().e == E
    assert loaded_cert.public_key().public_numbers().n == n
    from cryptography.hazmat.primitives.asymmetric import padding
    loaded_cert.public_key().verify(loaded_cert.signature, loaded_cert.tbs_certificate_bytes,
                                    padding.PKCS1v15(), loaded_cert.signature_hash_algorithm)
    return pub_pem, cert_pem


def main():
    t0 = time.monotonic()
    rng = random.Random(SEED)

    # (bits, number of primes in M)
    plan = [(2048, 126), (2048, 126), (2048, 126), (4096, 225)]
    fingerprinted, controls = [], []
    for bits, m_count in plan:
        key = make_key(bits, lambda h, mc=m_count: roca_prime(h, mc, rng))
        if not has_roca_fingerprint(key["n"]):
            sys.exit("fingerprinted %d-bit key fails the 38-prime test" % bits)
        # each prime on its own also has the form (residues in <65537> mod every r)
        assert has_roca_fingerprint(key["p"]) and has_roca_fingerprint(key["q"])
        fingerprinted.append(to_jwk(key, bits))
        print("fingerprinted %d-bit key done (%.1fs)" % (bits, time.monotonic() - t0), file=sys.stderr)
    for _ in range(3):
        key = make_key(2048, lambda h: random_prime(h, rng))
        if has_roca_fingerprint(key["n"]):
            sys.exit("control key passes the 38-prime test")
        controls.append(to_jwk(key, 2048))
    print("controls done (%.1fs)" % (time.monotonic() - t0), file=sys.stderr)

    privs = [check_with_cryptography(j) for j in fingerprinted + controls]
    pub_pem, cert_pem = write_pems(privs[0])

    doc = {
        "description": (
            "ROCA (CVE-2017-15361, Infineon RSALib) test keys, generated by make_roca.py "
            "(seed 0x15361). 'fingerprinted': both primes are k*M + (65537^a mod M) with M the "
            "product of the first 126 primes (2048-bit keys) or 225 primes (4096-bit key); n passes "
            "the 38-prime test of crocs-muni/roca detect.py (n mod r in <65537> mod r for every "
            "prime 3 <= r <= 167). 'controls': random primes, n fails that test. Members are RFC 7517 "
            "RSA JWK members (base64url, no padding, big-endian minimal octets); 'bits' is the bit "
            "length of n. fingerprinted[0] is also in roca_public.pem and roca_cert.pem. "
            "Private keys are test data only."
        ),
        "seed": SEED,
        "fingerprinted": fingerprinted,
        "controls": controls,
    }
    text = json.dumps(doc, indent=2) + "\n"

    # round trip before writing
    back = json.loads(text)
    for j in back["fingerprinted"]:
        assert has_roca_fingerprint(b64u_int(j["n"]))
    for j in back["controls"]:
        assert not has_roca_fingerprint(b64u_int(j["n"]))

    with open(os.path.join(OUT_DIR, "roca_keys.json"), "w") as f:
        f.write(text)
    with open(os.path.join(OUT_DIR, "roca_public.pem"), "wb") as f:
        f.write(pub_pem)
    with open(os.path.join(OUT_DIR, "roca_cert.pem"), "wb") as f:
        f.write(cert_pem)
    print("wrote roca_keys.json, roca_public.pem, roca_cert.pem in %.1fs" % (time.monotonic() - t0),
          file=sys.stderr)


if __name__ == "__main__":
    main()
