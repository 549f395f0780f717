#!/usr/bin/env bash
# Installs what is missing (Debian/Ubuntu), builds tokenpass and runs the demo:
#  1. the library: generate a key, issue a token, verify it, and watch a tampered and
#     an expired token be rejected with their error codes (examples/demo.cpp);
#  2. the same with the `tokenpass` command-line tool: keygen, pubkey, sign, verify
#     with issuer, audience and scope, inspect, and rejected tokens with their codes.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
tokenpass_setup

build=build/demo
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTOKENPASS_BUILD_TESTS=OFF \
  -DTOKENPASS_BUILD_EXAMPLES=ON -DTOKENPASS_BUILD_CLI=ON >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target demo tokenpass_cli >/dev/null

echo "== the library (examples/demo.cpp) =="
"$build/examples/demo"

tp="$PWD/$build/tools/tokenpass"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
show() { printf '\n$ %s\n' "$*"; }
now=$(date +%s)

echo
echo "== the command-line tool =="
show "tokenpass keygen --alg ES256 --kid demo-1 > key.jwk"
"$tp" keygen --alg ES256 --kid demo-1 > key.jwk
echo "(a private JWK: $(wc -c < key.jwk) bytes, kty $(grep -o '"kty":"[A-Z]*"' key.jwk))"

show "tokenpass pubkey key.jwk > jwks.json"
"$tp" pubkey key.jwk > jwks.json
cat jwks.json

cat > claims.json <<JSON
{"iss":"https://auth.example.com","sub":"user-4711","aud":"orders-api","scope":"orders:read"}
JSON
show "tokenpass sign --key key.jwk --ttl 300 claims.json > token"
"$tp" sign --key key.jwk --ttl 300 claims.json > token
cut -c1-100 token | sed 's/$/.../'

show "tokenpass verify --key jwks.json --iss https://auth.example.com --aud orders-api --scope orders:read < token"
"$tp" verify --key jwks.json --iss https://auth.example.com --aud orders-api --scope orders:read < token

show "tokenpass inspect < token"
"$tp" inspect < token

expect_reject() {  # run a verify that must fail, show its error line and exit code
  set +e
  "$@"
  local rc=$?
  set -e
  echo "(exit $rc)"
  [ "$rc" -eq 1 ] || { echo "demo: expected exit 1" >&2; exit 1; }
}

show "tokenpass verify --key jwks.json --aud orders-api --scope orders:write < token"
expect_reject "$tp" verify --key jwks.json --aud orders-api --scope orders:write < token

show "tokenpass verify --key jwks.json --aud billing-api < token"
expect_reject "$tp" verify --key jwks.json --aud billing-api < token

show "tokenpass verify --key jwks.json --now $((now + 301)) < token     # five minutes later"
expect_reject "$tp" verify --key jwks.json --now $((now + 301)) < token

t=$(cat token)
sig=${t##*.}
if [ "${sig:0:1}" = A ]; then c=B; else c=A; fi
printf '%s.%s%s\n' "${t%.*}" "$c" "${sig:1}" > tampered
show "tokenpass verify --key jwks.json < tampered     # one signature character changed"
expect_reject "$tp" verify --key jwks.json < tampered
