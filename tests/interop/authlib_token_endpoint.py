#!/usr/bin/python3
"""The token endpoint (tokenpass::TokenEndpoint, served by examples/token_service) seen
by OAuth software nobody here wrote:

* Authlib's OAuth 2.0 client (requests integration) gets tokens with the client
  credentials grant, authenticating with client_secret_basic and client_secret_post,
  and with RFC 8693 token exchange; the endpoint's refusals reach it as OAuthError
  with the RFC 6749 §5.2 codes (invalid_client, invalid_scope, invalid_target,
  unsupported_grant_type, invalid_request);
* Authlib's RFC 8414 model validates the metadata document;
* PyJWT verifies every issued token against the published JWKS (PyJWKClient), with
  the issuer and audience checked.

Prints one line per failed check, then `N passed, M failed`; exit 1 on any failure.
usage: authlib_token_endpoint.py PATH/TO/token_service CONFIG.json
"""
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import jwt
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"

passed = 0
failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)


def refused(fn, code, what):
    """fn() must raise Authlib's OAuthError with error == code."""
    try:
        fn()
    except OAuthError as e:
        check(e.error == code, f"{what}: error {e.error!r}, want {code!r}")
        return
    except Exception as e:  # noqa: BLE001 - anything else is a failure to report
        check(False, f"{what}: {type(e).__name__}: {e}")
        return
    check(False, f"{what}: no error, want {code!r}")


def main():
    service, config_path = sys.argv[1], sys.argv[2]
    # The shop's configuration plus a client of this test's own, which may not exchange
    # tokens; its secret hashed as the config format says (PBKDF2-HMAC-SHA256).
    with open(config_path) as f:
        config = json.load(f)
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", b"interop-secret", salt, config["iterations"])
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    config["clients"].append({"id": "interop", "salt": b64(salt), "hash": b64(digest),
                              "scopes": ["reports:read"], "audiences": ["product", "billing"]})
    work = tempfile.mkdtemp()
    path = os.path.join(work, "token_service.json")
    with open(path, "w") as f:
        json.dump(config, f)
    proc = subprocess.Popen([service, path, "0"], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "listening":
            print("FAIL: token_service did not start")
            return 1
        run(line[1])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def run(issuer):
    token_url = issuer + "/token"

    # RFC 8414 metadata, as Authlib's model of it reads and validates it.
    doc = requests.get(issuer + "/.well-known/oauth-authorization-server", timeout=5).json()
    meta = AuthorizationServerMetadata(doc)
    # Every rule of Authlib's RFC 8414 model, with two allowances: this run is on
    # loopback http, where the model wants https URLs; and response_types_supported is
    # present but empty (there is no authorization endpoint, so no response type works),
    # which the model takes for absent.
    for rule in sorted(n for n in dir(meta) if n.startswith("validate_")):
        try:
            getattr(meta, rule)()
            check(True, rule)
        except Exception as e:  # noqa: BLE001
            allowed = 'MUST use "https" scheme' in str(e) or (
                rule == "validate_response_types_supported" and doc.get("response_types_supported") == [])
            check(allowed, f"metadata: {rule}: {e}")
    check(meta["issuer"] == issuer, "metadata issuer")
    check(meta["token_endpoint"] == token_url, "metadata token_endpoint")
    check("password" not in meta["grant_types_supported"], "metadata lists no password grant")
    check(set(meta["grant_types_supported"]) == {"client_credentials", TOKEN_EXCHANGE},
          "metadata grant types")
    check(meta["response_types_supported"] == [], "response_types_supported: none")
    jwks = jwt.PyJWKClient(meta["jwks_uri"])

    def verified(token, audience):
        key = jwks.get_signing_key_from_jwt(token)
        return jwt.decode(token, key.key, algorithms=["ES256"], audience=audience, issuer=issuer)

    # Client credentials, client_secret_basic (Authlib's default) and client_secret_post.
    for method in ("client_secret_basic", "client_secret_post"):
        s = OAuth2Session("billing", "billing-secret", token_endpoint_auth_method=method)
        tok = s.fetch_token(token_url, grant_type="client_credentials", audience="product")
        check(tok.get("token_type") == "Bearer", f"{method}: token_type")
        check(tok.get("expires_in") == 30, f"{method}: expires_in (single-use lifetime)")
        claims = verified(tok["access_token"], "product")
        check(claims["sub"] == "billing" and claims["client_id"] == "billing", f"{method}: sub, client_id")
        check(claims["scope"] == "product:reserve", f"{method}: scope")
        check(jwt.get_unverified_header(tok["access_token"])["typ"] == "svc+jwt", f"{method}: typ")

    # A plain RFC 6749 client names no audience: the client's registered one.
    s = OAuth2Session("billing", "billing-secret")
    tok = s.fetch_token(token_url, grant_type="client_credentials")
    check(verified(tok["access_token"], "product")["aud"] == "product", "no audience: the default")
    # RFC 8707: a resource the client may not have.
    refused(lambda: OAuth2Session("billing", "billing-secret").fetch_token(
        token_url, grant_type="client_credentials", resource="https://elsewhere.example/"),
        "invalid_target", "resource not registered")

    # Refusals surface as Authlib's OAuthError with the RFC 6749 §5.2 code.
    refused(lambda: OAuth2Session("billing", "wrong").fetch_token(token_url, grant_type="client_credentials"),
            "invalid_client", "wrong secret (basic)")
    refused(lambda: OAuth2Session("billing", "wrong", token_endpoint_auth_method="client_secret_post")
            .fetch_token(token_url, grant_type="client_credentials"),
            "invalid_client", "wrong secret (post)")
    refused(lambda: OAuth2Session("nobody", "x").fetch_token(token_url, grant_type="client_credentials"),
            "invalid_client", "unknown client")
    refused(lambda: OAuth2Session("billing", "billing-secret", scope="admin")
            .fetch_token(token_url, grant_type="client_credentials"),
            "invalid_scope", "scope not allowed")
    refused(lambda: OAuth2Session("billing", "billing-secret").fetch_token(
        token_url, grant_type="client_credentials", audience="billing"),
        "invalid_target", "audience not allowed")
    refused(lambda: OAuth2Session("billing", "billing-secret").fetch_token(
        token_url, grant_type="password", username="alice", password="wonderland"),
        "unsupported_grant_type", "password grant")
    refused(lambda: OAuth2Session("interop", "interop-secret").fetch_token(
        token_url, grant_type=TOKEN_EXCHANGE, subject_token="x", subject_token_type=ACCESS_TOKEN),
        "unauthorized_client", "token exchange for a client without it")
    # Several registered audiences and none asked for: a token for all of them.
    tok = OAuth2Session("interop", "interop-secret").fetch_token(token_url, grant_type="client_credentials")
    check(verified(tok["access_token"], "billing")["aud"] == ["billing", "product"], "default: every audience")

    # RFC 8693 token exchange: alice's user token (from the shop's /login) traded by the
    # gateway for one meant for billing.
    login = requests.post(issuer + "/login", data={"username": "alice", "password": "wonderland"}, timeout=5)
    user = login.json()["access_token"]
    gw = OAuth2Session("gateway", "gateway-secret")
    tok = gw.fetch_token(token_url, grant_type=TOKEN_EXCHANGE, subject_token=user,
                         subject_token_type=ACCESS_TOKEN, audience="billing", scope="orders:write")
    check(tok.get("issued_token_type") == ACCESS_TOKEN, "exchange: issued_token_type")
    claims = verified(tok["access_token"], "billing")
    check(claims["sub"] == "alice", "exchange: sub is the user")
    check(claims["act"] == {"sub": "gateway"}, "exchange: act names the gateway")
    check(claims["scope"] == "orders:write", "exchange: scope narrowed")
    check(claims["exp"] <= verified(user, "gateway")["exp"], "exchange: never outlives the subject")
    refused(lambda: gw.fetch_token(token_url, grant_type=TOKEN_EXCHANGE, subject_token=user, audience="billing"),
            "invalid_request", "exchange without subject_token_type")
    refused(lambda: gw.fetch_token(token_url, grant_type=TOKEN_EXCHANGE, subject_token=user + "x",
                                   subject_token_type=ACCESS_TOKEN, audience="billing"),
            "invalid_request", "exchange of a forged subject token")
    refused(lambda: gw.fetch_token(token_url, grant_type=TOKEN_EXCHANGE, subject_token=user,
                                   subject_token_type=ACCESS_TOKEN, audience="billing", scope="admin"),
            "invalid_scope", "exchange for a scope the user lacks")

    # Raw HTTP details a client library smooths over.
    r = requests.get(token_url, timeout=5)
    check(r.status_code == 405 and r.headers.get("Allow") == "POST", f"GET /token: {r.status_code}")
    r = requests.post(token_url, data="grant_type=client_credentials", auth=("billing", "billing-secret"),
                      headers={"Content-Type": "text/plain"}, timeout=5)
    check(r.status_code == 400 and r.json()["error"] == "invalid_request", "text/plain body refused")
    r = requests.post(token_url, data={"grant_type": "client_credentials"}, auth=("billing", "billing-secret"),
                      timeout=5)
    check(r.headers.get("Cache-Control") == "no-store" and r.headers.get("Pragma") == "no-cache",
          "no-store and no-cache on a token")


if __name__ == "__main__":
    sys.exit(main())
