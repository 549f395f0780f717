#!/usr/bin/env bash
# Installs what is missing (Debian/Ubuntu), builds tokenpass and runs the demo shop on
# 127.0.0.1: a token service, a gateway, a billing and a product service (examples/).
# A user logs in at the gateway and buys something: the gateway forwards her token to
# billing with its own service token, billing calls product with her token and a
# single-use service token of its own (a new one per call). Product runs as two
# replicas sharing a redis-server (started here, on a free loopback port, no
# persistence), so a captured service token replayed at the other replica is refused.
# Everything runs on mTLS: a throwaway CA made at start-up issues one certificate per
# service (SAN spiffe://shop/NAME); every service-to-service call and the token endpoint
# authenticate by certificate, and service tokens are bound to their service's
# certificate (RFC 8705), so a stolen one is refused from any other client, and a client
# without a valid certificate does not get past the handshake. Then a request with no
# token, an expired one, one lacking a scope and a forged one, each with the status and
# WWW-Authenticate it got. A third product replica runs behind nginx, which terminates
# mTLS and forwards the client's certificate in a header that the replica believes from
# nginx only. Every process it starts is stopped at the end.
# TOKENPASS_DEMO_BUILD=DIR: use the programs of a build tree made already (the test run
# does, ctest demo.mtls) instead of building build/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
tokenpass_setup curl

if [ -n "${TOKENPASS_DEMO_BUILD:-}" ]; then
  build=$TOKENPASS_DEMO_BUILD
  echo "using the programs in $build"
else
  build=build/demo
  echo "building (Release, in $build) ..."
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTOKENPASS_BUILD_TESTS=OFF \
    -DTOKENPASS_BUILD_EXAMPLES=ON -DTOKENPASS_BUILD_CLI=ON -DTOKENPASS_WITH_HTTPLIB=ON \
    -DTOKENPASS_WITH_REDIS=ON -DTOKENPASS_WITH_GRPC=ON >/dev/null
  cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" \
    --target token_service shop_service dpop_client tokenpass_cli >/dev/null
fi
bin="$(cd "$build" && pwd)/examples"
tp="$(cd "$build" && pwd)/tools/tokenpass"

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# start NAME CMD...: runs a service, waits for its "listening URL" line, sets $url.
start() {
  local name=$1
  shift
  "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    url=$(awk '/^listening /{print $2; exit}' "$work/$name.log")
    [ -n "$url" ] && return 0
    sleep 0.1
  done
  echo "demo: $name did not start:" >&2
  cat "$work/$name.log" >&2
  exit 1
}

# narrate: what the services logged since the last call.
declare -A seen
narrate() {
  local name n total
  for name in token_service gateway billing gateway_grpc billing_grpc product product2 product3; do
    n=${seen[$name]:-1}
    total=$(wc -l <"$work/$name.log")
    if [ "$total" -gt "$n" ]; then
      sed -n "$((n + 1)),${total}p" "$work/$name.log" | sed 's/^/    | /'
    fi
    seen[$name]=$total
  done
}

# call TITLE TOKEN: POST /orders at the gateway, show status, challenge and body.
call() {
  local title=$1 token=$2 auth=()
  [ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
  printf '\n== %s\n' "$title"
  printf '$ curl -X POST %s/orders %s\n' "$gateway" "${token:+-H \"Authorization: Bearer ${token:0:24}...\"}"
  local status
  status=$(curl -s "${curl_tls[@]}" -o "$work/body" -D "$work/headers" -w '%{http_code}' -X POST \
    "${auth[@]}" -H 'Content-Type: application/json' -d '{"item":42}' "$gateway/orders")
  echo "  HTTP $status"
  grep -i '^WWW-Authenticate:' "$work/headers" | tr -d '\r' | sed 's/^/  /' || true
  echo "  body: $(cat "$work/body")"
  narrate
}

login() {  # login USER PASSWORD: the access token from the gateway's /login
  curl -s "${curl_tls[@]}" -X POST -d "username=$1&password=$2" "$gateway/login" |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

# A throwaway CA and one certificate per service (EC P-256, one day), plus a "thief":
# a valid certificate of the shop for a name that is none of the services, and a
# "stranger" whose certificate no one issued.
pki="$work/pki"
mkdir -p "$pki"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj "/O=shop/CN=shop demo CA" -keyout "$pki/ca.key" -out "$pki/ca.pem" 2>/dev/null
for name in token_service gateway billing product thief reports; do
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/O=shop/CN=$name" \
    -keyout "$pki/$name.key" -out "$pki/$name.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,URI:spiffe://shop/%s\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n' \
    "$name" >"$pki/$name.ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 1 -extfile "$pki/$name.ext" -out "$pki/$name.pem" 2>/dev/null
done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -subj "/O=shop/CN=billing" -keyout "$pki/stranger.key" -out "$pki/stranger.pem" 2>/dev/null
# The token service's configuration: the shop's, plus its certificate and the identity
# each service client authenticates with (tls_client_auth).
/usr/bin/python3 - examples/token_service.json "$pki" "$work/token_service.json" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
pki = sys.argv[2]
config["tls"] = {"ca": pki + "/ca.pem", "cert": pki + "/token_service.pem", "key": pki + "/token_service.key"}
for client in config["clients"]:
    client["tls_client_auth_san_uri"] = "spiffe://shop/" + client["id"]
json.dump(config, open(sys.argv[3], "w"), indent=1)
PY
curl_tls=(--cacert "$pki/ca.pem")              # a user: trusts the shop CA, has no certificate
as() { echo --cert "$pki/$1.pem" --key "$pki/$1.key"; }  # a client with NAME's certificate

echo
echo "== the shop's throwaway CA and certificates (in $pki)"
for name in token_service gateway billing product thief reports; do
  printf '  %-14s %s\n' "$name" "$(openssl x509 -in "$pki/$name.pem" -noout -ext subjectAltName 2>/dev/null | tail -1 | sed 's/^ *//')"
done
echo "  stranger       self-signed, names itself billing: no one issued it"

echo
echo "== starting the shop on 127.0.0.1 (mTLS)"
redis_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
  --loglevel warning >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  redis-cli -p "$redis_port" PING 2>/dev/null | grep -q PONG && break
  sleep 0.1
done
replays="redis://127.0.0.1:$redis_port"
start token_service "$bin/token_service" "$work/token_service.json"
issuer=$url
start product "$bin/shop_service" product "$issuer" --replay-store "$replays" --tls "$pki" --grpc-port 0
product=$url
product_grpc=$(awk '/^grpc listening /{print $3; exit}' "$work/product.log")
start product2 "$bin/shop_service" product "$issuer" --replay-store "$replays" --tls "$pki"
product2=$url
start billing "$bin/shop_service" billing "$issuer" "$product" --fresh-service-tokens --tls "$pki"
billing=$url
start gateway "$bin/shop_service" gateway "$issuer" "$billing" --tls "$pki"
gateway=$url
# A second billing (and a gateway in front of it) that reserves at product over gRPC:
# shop.v1.Products/Reserve on product's gRPC port, on mTLS too.
start billing_grpc "$bin/shop_service" billing "$issuer" "$product" --product-grpc "$product_grpc" \
  --fresh-service-tokens --tls "$pki"
billing_grpc=$url
start gateway_grpc "$bin/shop_service" gateway "$issuer" "$billing_grpc" --tls "$pki"
gateway_grpc=$url
# A third product replica behind nginx: nginx terminates mTLS (the shop's CA) and
# passes the client's certificate on in X-SSL-Client-Cert ($ssl_client_escaped_cert),
# connecting from 127.0.0.2, the only address the replica believes that header from.
start product3 "$bin/shop_service" product "$issuer" --replay-store "$replays" --tls "$pki" \
  --behind-proxy 127.0.0.2/32
product3_direct=$url
nginx_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/nginx"
cat >"$work/nginx.conf" <<EOF
$([ "$(id -u)" -eq 0 ] && echo "user root;")
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port ssl;
    ssl_certificate $pki/product.pem;
    ssl_certificate_key $pki/product.key;
    ssl_client_certificate $pki/ca.pem;
    ssl_verify_client on;
    location / {
      proxy_pass $product3_direct;
      proxy_bind 127.0.0.2;
      proxy_set_header X-SSL-Client-Cert \$ssl_client_escaped_cert;
    }
  }
}
EOF
nginx -e "$work/nginx.log" -p "$work/nginx" -c "$work/nginx.conf" -g "daemon off;" &
pids+=($!)
for _ in $(seq 100); do
  curl -s -o /dev/null --cacert "$pki/ca.pem" "https://127.0.0.1:$nginx_port/" 2>/dev/null && break
  sleep 0.1
done
product3="https://127.0.0.1:$nginx_port"
printf '  token service %s\n  product       %s and %s (replicas; used service tokens in %s)\n  billing       %s\n  gateway       %s\n' \
  "$issuer" "$product" "$product2" "$replays" "$billing" "$gateway"
printf '  product       %s: a third replica, plain HTTP at %s behind nginx (mTLS ends there)\n' \
  "$product3" "$product3_direct"
printf '  product       gRPC at %s (shop.v1.Products), called by billing %s behind gateway %s\n' \
  "$product_grpc" "$billing_grpc" "$gateway_grpc"
echo "  (each service found the token service's keys through $issuer/.well-known/openid-configuration)"
narrate

printf '\n== alice logs in at the gateway\n'
echo "\$ curl -X POST -d 'username=alice&password=...' $gateway/login"
alice=$(login alice wonderland)
echo "  her access token, decoded (tokenpass inspect):"
"$tp" inspect "$alice" 2>/dev/null | sed 's/^/  /'
narrate

call "alice buys item 42" "$alice"
call "alice buys again (billing gets a new single-use service token)" "$alice"
gateway=$gateway_grpc call "alice buys through the gRPC hop: billing -> product is shop.v1.Products/Reserve" "$alice"

# reserve TARGET AS TOKEN: POST /reserve at a product replica with alice's token and the
# service token TOKEN, over a connection with AS's certificate (none for "").
reserve() {
  local target=$1 who=$2 token=$3 cert=()
  [ -n "$who" ] && read -r -a cert <<<"$(as "$who")"
  printf '$ curl %s-X POST %s/reserve -H "Authorization: Bearer <alice>" -H "X-MS-TOKEN: %s..."\n' \
    "${who:+--cert $who.pem }" "$target" "${token:0:24}"
  local status
  status=$(curl -sS "${curl_tls[@]}" "${cert[@]}" -o "$work/body" -D "$work/headers" -w '%{http_code}' \
    -X POST -H "Authorization: Bearer $alice" -H "X-MS-TOKEN: $token" \
    -H 'Content-Type: application/json' -d '{"item":42}' "$target/reserve" 2>"$work/curl.err") || true
  if [ "$status" = "000" ]; then
    echo "  no HTTP at all: the TLS handshake failed ($(tr -d '\r' <"$work/curl.err" | head -1))"
  else
    echo "  HTTP $status"
    grep -i '^WWW-Authenticate' "$work/headers" | tr -d '\r' | sed 's/^/  /' || true
    echo "  body: $(cat "$work/body")"
  fi
  narrate
}
service_token() {  # service_token: a token for billing, obtained with billing's certificate
  # shellcheck disable=SC2046
  curl -s "${curl_tls[@]}" $(as billing) -d grant_type=client_credentials -d client_id=billing \
    -d audience=product -d scope=product:reserve "$issuer/token" |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

printf '\n== billing'"'"'s service token, bound to billing'"'"'s certificate (tls_client_auth, RFC 8705)\n'
svc=$(service_token)
"$tp" inspect "$svc" 2>/dev/null | /usr/bin/python3 -c 'import json,sys; p=json.load(sys.stdin)["payload"]; print("  cnf:", json.dumps(p["cnf"]), " client_id:", p["client_id"])'
narrate

printf '\n== that token used once, then replayed at the other product replica\n'
for target in "$product" "$product2"; do reserve "$target" billing "$svc"; done

printf '\n== a stolen service token, used from a client with another (valid) certificate\n'
reserve "$product" thief "$(service_token)"

printf '\n== clients without a valid certificate are refused at the handshake\n'
reserve "$product" stranger "$(service_token)"
reserve "$product" "" "$(service_token)"

printf '\n== only the gateway may call billing (its allow list), whatever tokens another caller has\n'
# shellcheck disable=SC2046
status=$(curl -s "${curl_tls[@]}" $(as thief) -o "$work/body" -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $alice" -d '{}' "$billing/charge")
echo "\$ curl --cert thief.pem -X POST $billing/charge -H \"Authorization: Bearer <alice>\""
echo "  HTTP $status"
echo "  body: $(cat "$work/body")"
narrate

printf '\n== behind nginx: the certificate comes in a header, from nginx only\n'
echo "  (nginx checks the client certificate and passes it on as X-SSL-Client-Cert; the replica binds tokens to it)"
reserve "$product3" billing "$(service_token)"
reserve "$product3" thief "$(service_token)"
echo "  around nginx, straight to the replica, a forged header naming billing's certificate:"
escaped=$(/usr/bin/python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(open(sys.argv[1]).read(), safe=""))' \
  "$pki/billing.pem")
echo "\$ curl -X POST $product3_direct/reserve -H \"X-SSL-Client-Cert: <billing.pem, escaped>\" -H \"Authorization: Bearer <alice>\" ..."
status=$(curl -s -o "$work/body" -w '%{http_code}' -X POST -H "X-SSL-Client-Cert: $escaped" \
  -H "Authorization: Bearer $alice" -H "X-MS-TOKEN: $(service_token)" -H 'Content-Type: application/json' \
  -d '{"item":42}' "$product3_direct/reserve")
echo "  HTTP $status"
echo "  body: $(cat "$work/body")"
narrate

printf '\n== a client with a DPoP key (RFC 9449): its token is bound to the key, each request signed\n'
echo "\$ dpop_client $issuer $product/stock reports <secret> --tls ca.pem reports.pem reports.key"
"$bin/dpop_client" "$issuer" "$product/stock" reports reports-secret --tls "$pki/ca.pem" "$pki/reports.pem" \
  "$pki/reports.key" | sed 's/^/  /'
narrate

printf '\n== an opaque token (ledger'"'"'s), explained by the token service'"'"'s introspection endpoint (RFC 7662)\n'
opaque=$(curl -s "${curl_tls[@]}" -u ledger:ledger-secret -d grant_type=client_credentials "$issuer/token" |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
echo "  the token: $opaque (no header, no claims: only its issuer knows)"
echo "\$ tokenpass introspect --url $issuer/introspect --client-id auditor --client-secret ... --aud product -- <token>"
SSL_CERT_FILE="$pki/ca.pem" "$tp" introspect --url "$issuer/introspect" --client-id auditor \
  --client-secret auditor-secret --aud product -- "$opaque" | sed 's/^/  /'
echo "  (exit ${PIPESTATUS[0]}; the same for a token it never issued:)"
SSL_CERT_FILE="$pki/ca.pem" "$tp" introspect --url "$issuer/introspect" --client-id auditor \
  --client-secret auditor-secret "made-up-token" 2>&1 | sed 's/^/  /' || true
narrate

call "a request with no token" ""

carol=$(login carol looking-glass)
narrate >/dev/null
echo
echo "(carol's tokens live 2 seconds; waiting 3)"
sleep 3
call "carol's token has expired" "$carol"

bob=$(login bob builder)
narrate >/dev/null
call "bob may only read orders (no orders:write scope)" "$bob"

# A forgery: alice's claims and key id, signed with a key the token service never had.
"$tp" inspect "$alice" 2>/dev/null |
  /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); json.dump(d["payload"], open(sys.argv[1], "w")); print(d["header"]["kid"])' \
    "$work/claims.json" >"$work/kid"
"$tp" keygen --alg ES256 >"$work/forger.jwk"
forged=$("$tp" sign --key "$work/forger.jwk" --kid "$(cat "$work/kid")" --typ at+jwt "$work/claims.json")
call "a forged token (alice's claims, signed with another key)" "$forged"

printf '\n== stopping the services\n'
