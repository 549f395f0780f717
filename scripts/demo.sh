#!/usr/bin/env bash
# Installs what is missing (Debian/Ubuntu), builds tokenpass and runs the demo shop on
# 127.0.0.1: a token service, a gateway, a billing and a product service (examples/).
# A user logs in at the gateway and buys something: the gateway forwards her token to
# billing with its own service token, billing calls product with her token and a
# single-use service token of its own (a new one per call). Product runs as two
# replicas sharing a redis-server (started here, on a free loopback port, no
# persistence), so a captured service token replayed at the other replica is refused.
# Then a request with no token, an expired one, one lacking a scope and a forged one,
# each with the status and WWW-Authenticate it got. Every process it starts is stopped
# at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
tokenpass_setup curl

build=build/demo
echo "building (Release, in $build) ..."
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTOKENPASS_BUILD_TESTS=OFF \
  -DTOKENPASS_BUILD_EXAMPLES=ON -DTOKENPASS_BUILD_CLI=ON -DTOKENPASS_WITH_HTTPLIB=ON \
  -DTOKENPASS_WITH_REDIS=ON >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" \
  --target token_service shop_service tokenpass_cli >/dev/null
bin="$PWD/$build/examples"
tp="$PWD/$build/tools/tokenpass"

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
  for name in token_service gateway billing product product2; do
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
  status=$(curl -s -o "$work/body" -D "$work/headers" -w '%{http_code}' -X POST \
    "${auth[@]}" -H 'Content-Type: application/json' -d '{"item":42}' "$gateway/orders")
  echo "  HTTP $status"
  grep -i '^WWW-Authenticate:' "$work/headers" | tr -d '\r' | sed 's/^/  /' || true
  echo "  body: $(cat "$work/body")"
  narrate
}

login() {  # login USER PASSWORD: the access token from the gateway's /login
  curl -s -X POST -d "username=$1&password=$2" "$gateway/login" |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

echo
echo "== starting the shop on 127.0.0.1"
redis_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
  --loglevel warning >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  redis-cli -p "$redis_port" PING 2>/dev/null | grep -q PONG && break
  sleep 0.1
done
replays="redis://127.0.0.1:$redis_port"
start token_service "$bin/token_service" examples/token_service.json
issuer=$url
start product "$bin/shop_service" product "$issuer" --replay-store "$replays"
product=$url
start product2 "$bin/shop_service" product "$issuer" --replay-store "$replays"
product2=$url
start billing "$bin/shop_service" billing "$issuer" "$product" --fresh-service-tokens
billing=$url
start gateway "$bin/shop_service" gateway "$issuer" "$billing"
gateway=$url
printf '  token service %s\n  product       %s and %s (replicas; used service tokens in %s)\n  billing       %s\n  gateway       %s\n' \
  "$issuer" "$product" "$product2" "$replays" "$billing" "$gateway"
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

printf '\n== a service token captured and replayed at the other product replica\n'
svc=$(curl -s -u billing:billing-secret -d grant_type=client_credentials -d audience=product \
  -d scope=product:reserve "$issuer/token" |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
for target in "$product" "$product2"; do
  printf '$ curl -X POST %s/reserve -H "Authorization: Bearer <alice>" -H "X-MS-TOKEN: %s..."\n' \
    "$target" "${svc:0:24}"
  status=$(curl -s -o "$work/body" -D "$work/headers" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $alice" -H "X-MS-TOKEN: $svc" \
    -H 'Content-Type: application/json' -d '{"item":42}' "$target/reserve")
  echo "  HTTP $status"
  grep -i '^WWW-Authenticate' "$work/headers" | tr -d '\r' | sed 's/^/  /' || true
  echo "  body: $(cat "$work/body")"
  narrate
done
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
