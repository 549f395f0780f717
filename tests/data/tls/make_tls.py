#!/usr/bin/python3
"""Generate the TLS test fixtures for tokenpass.

Run from anywhere:  /usr/bin/python3 tests/data/tls/make_tls.py
Outputs are written next to this script. Keys and serials are random on each
run (content is not deterministic), but validity periods are fixed.

All private keys produced here are TEST-ONLY and must never be trusted.
"""
import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

OUT = os.path.dirname(os.path.abspath(__file__))

NOT_BEFORE = datetime.datetime(2024, 1, 1, 0, 0, 0)
NOT_AFTER = datetime.datetime(2099, 12, 31, 23, 59, 59)
EXPIRED_NOT_BEFORE = datetime.datetime(2020, 1, 1, 0, 0, 0)
EXPIRED_NOT_AFTER = datetime.datetime(2021, 1, 1, 0, 0, 0)


def new_key():
    return ec.generate_private_key(ec.SECP256R1())


def write(name, key, cert):
    with open(os.path.join(OUT, name + ".key"), "wb") as f:
        f.write(key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
    with open(os.path.join(OUT, name + ".pem"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))


def name(cn, org=None):
    attrs = []
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def make_ca(cn):
    key = new_key()
    subj = name(cn)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subj)
        .issuer_name(subj)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False,
            key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_leaf(ca_key, ca_cert, subject, sans, eku,
              not_before=NOT_BEFORE, not_after=NOT_AFTER):
    key = new_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def server_sans():
    return [x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]


def client_sans(svc):
    return [x509.UniformResourceIdentifier("spiffe://shop/" + svc),
            x509.DNSName(svc + ".shop.internal")]


def main():
    SERVER = ExtendedKeyUsageOID.SERVER_AUTH
    CLIENT = ExtendedKeyUsageOID.CLIENT_AUTH

    ca_key, ca = make_ca("tokenpass test CA")
    write("ca", ca_key, ca)

    write("server", *make_leaf(ca_key, ca, name("localhost"), server_sans(), SERVER))
    write("other_host", *make_leaf(ca_key, ca, name("other.example"),
                                   [x509.DNSName("other.example")], SERVER))
    write("expired_server", *make_leaf(ca_key, ca, name("localhost"), server_sans(),
                                       SERVER, EXPIRED_NOT_BEFORE, EXPIRED_NOT_AFTER))
    for svc in ("billing", "gateway"):
        write("client_" + svc, *make_leaf(ca_key, ca, name(svc, "shop"),
                                          client_sans(svc), CLIENT))

    rogue_key, rogue = make_ca("tokenpass rogue CA")
    write("rogue_ca", rogue_key, rogue)
    write("rogue_client", *make_leaf(rogue_key, rogue, name("billing", "shop"),
                                     client_sans("billing"), CLIENT))


if __name__ == "__main__":
    main()
