#!/usr/bin/env bash
# Runs the demo shop (examples/: token service, gateway, billing, product; plain HTTP on
# 127.0.0.1) under load with wrk: POST /orders at the gateway with valid user tokens,
# each one gateway -> billing -> product, both tokens verified at every hop. Prints
# requests/s, p50/p99 latency, non-2xx counts and each service's RSS at start and end,
# then checks every service's /metrics with promtool.
#
# Faults (--faults LIST, comma-separated, or "all"), each during its own wrk run and
# each judged by counts, never by times:
#   outage    the token service is stopped for --outage seconds (default 30) and
#             started again with the same key: no request with a valid token fails
#             (keys served stale, service tokens from the cache), and the services did
#             serve stale keys (tokenpass_jwks_stale_serves_total went up)
#   rotation  the token service rotates its signing key (SIGHUP) mid-run, while new
#             logins bring tokens signed with the new key: no request fails
#   flood     beside the valid traffic, a second wrk sends tokens with random kids: no
#             valid request fails, every flood request is refused, and the gateway
#             fetched its key set for unknown kids at most once per 30 s window
#   redis     a second chain (gateway2 -> billing2 -> product2 with single-use service
#             tokens in Redis, redis-server with an append-only file) while Redis is
#             stopped and started again: non-2xx answers only from the outage's start to
#             a few seconds after it ends (the store's reconnection back-off), and a
#             service token used before the outage is refused as replayed after it
# Exit status 1 when a check fails.
#
# Usage: scripts/load.sh [--duration SECONDS] [--connections N] [--threads N]
#                        [--faults all|outage,rotation,flood,redis] [--outage SECONDS]
#                        [--short] [--soak SECONDS]
#   --short        what the test suite runs: 5 s runs (more around faults), a 10 s outage
#   --soak S       one long run of S seconds; RSS sampled every tenth of it
# TOKENPASS_LOAD_BUILD=DIR: use the programs of a build tree made already (the test run
# does) instead of building build/load (Release). TOKENPASS_LOAD_KEEP=1: keep the logs.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
tokenpass_setup

duration=30
connections=16
threads=2
faults=""
outage=30
soak=0
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --faults) faults=$2; shift 2 ;;
    --outage) outage=$2; shift 2 ;;
    --soak) soak=$2; shift 2 ;;
    --short) duration=5; outage=10; connections=8; shift ;;
    -h|--help) sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "load.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$faults" = all ] && faults="outage,rotation,flood,redis"
has_fault() { [[ ",$faults," == *",$1,"* ]]; }

if [ -n "${TOKENPASS_LOAD_BUILD:-}" ]; then
  build=$TOKENPASS_LOAD_BUILD
else
  build=build/load
  echo "building (Release, in $build) ..."
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTOKENPASS_BUILD_TESTS=OFF \
    -DTOKENPASS_BUILD_EXAMPLES=ON -DTOKENPASS_BUILD_CLI=OFF -DTOKENPASS_WITH_HTTPLIB=ON \
    -DTOKENPASS_WITH_REDIS=ON >/dev/null
  cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target token_service shop_service >/dev/null
fi
bin="$(cd "$build" && pwd)/examples"

work=$(mktemp -d)
pids=()
failed=0
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${TOKENPASS_LOAD_KEEP:-}" ]; then
    echo "load: the services' logs and wrk's output are in $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

check() {  # check CONDITION-TEXT RESULT(0|1)
  if [ "$2" -eq 0 ]; then
    echo "  ok    $1"
  else
    echo "  FAIL  $1"
    failed=1
  fi
}

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start NAME CMD...: runs a service (again, for a restart), waits for its new "listening
# URL" line; sets service_pid[NAME] and service_url[NAME].
declare -A service_pid service_url
start() {
  local name=$1 before
  shift
  before=$(grep -c '^listening ' "$work/$name.log" 2>/dev/null || true)
  "$@" >>"$work/$name.log" 2>&1 &
  service_pid[$name]=$!
  pids+=("$!")
  for _ in $(seq 150); do
    if [ "$(grep -c '^listening ' "$work/$name.log")" -gt "${before:-0}" ]; then
      service_url[$name]=$(awk '/^listening /{u=$2} END{print u}' "$work/$name.log")
      return 0
    fi
    sleep 0.1
  done
  echo "load: $name did not start:" >&2
  cat "$work/$name.log" >&2
  exit 1
}

rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# metric URL NAME [LABEL-FILTER]: the sum of a family's samples at URL/metrics.
metric() {
  curl -s "$1/metrics" | awk -v name="$2" -v filter="${3:-}" '
    $1 ~ "^"name"([{]|$)" && index($1, filter) { sum += $2 } END { printf "%d\n", sum }'
}

login() {  # login GATEWAY: one access token for alice, or nothing
  curl -s -m 5 -X POST -d "username=alice&password=wonderland" "$1/login" |
    /usr/bin/python3 -c 'import json,sys
try: print(json.load(sys.stdin)["access_token"])
except Exception: pass' 2>/dev/null
}

# refresher GATEWAY FILE: keeps FILE holding 4 fresh tokens (new logins every 3 s);
# while logins fail (the token service is down), the tokens it has stay.
refresher() {
  local gateway=$1 file=$2 t
  while :; do
    : >"$file.new"
    for _ in 1 2 3 4; do
      t=$(login "$gateway")
      [ -n "$t" ] && echo "$t" >>"$file.new"
    done
    [ -s "$file.new" ] && mv "$file.new" "$file"
    sleep 3
  done
}

# run_wrk NAME SECONDS URL TOKENS [ENV=VALUE...]: one wrk run; its summary in $work/NAME.wrk.
run_wrk() {
  local name=$1 seconds=$2 target=$3 tokens=$4
  shift 4
  env TOKENPASS_LOAD_TOKENS="$tokens" "$@" wrk -t "$threads" -c "$connections" -d "${seconds}s" \
    --timeout 10s -s scripts/load/orders.lua "$target" >"$work/$name.wrk" 2>&1
}
field() { sed -n "s/.*[ :]$2=\([^ ]*\).*/\1/p" "$work/$1.wrk" | head -1; }
report() {  # report NAME TITLE
  printf '  %-34s %8s req/s  p50 %7s ms  p99 %7s ms  requests %7s  non-2xx %s  socket errors %s\n' "$2" \
    "$(field "$1" rps)" "$(field "$1" p50_ms)" "$(field "$1" p99_ms)" "$(field "$1" requests)" \
    "$(field "$1" non2xx)" "$(field "$1" socket_errors)"
  local statuses
  statuses=$(field "$1" statuses | tr -s ',' | sed 's/^,//; s/,$//')
  [ -n "$statuses" ] && echo "    non-2xx by status: $statuses"
  return 0
}

echo "== the shop on 127.0.0.1 (plain HTTP), $(nproc) CPUs"
/usr/bin/python3 - examples/token_service.json "$work/token_service.json" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config["user_token_lifetime"] = 900  # outlives an outage without new logins
# Service tokens live 300 s and are refreshed at 80 %: a cached one bridges an outage of
# up to 50 s (the demo's billing takes 30 s single-use tokens, which cannot).
config["single_use_token_lifetime"] = config["service_token_lifetime"] = 300
json.dump(config, open(sys.argv[2], "w"))
PY
ts_port=$(free_port)
start_token_service() {
  start token_service "$bin/token_service" "$work/token_service.json" "$ts_port" --key "$work/signing.jwk"
}
start_token_service
issuer=${service_url[token_service]}
ttl=(--jwks-max-ttl 5)  # keys fresh for 5 s: an outage of the token service is bridged by stale keys
start product "$bin/shop_service" product "$issuer" "${ttl[@]}"
start billing "$bin/shop_service" billing "$issuer" "${service_url[product]}" "${ttl[@]}"
start gateway "$bin/shop_service" gateway "$issuer" "${service_url[billing]}" "${ttl[@]}"
gateway=${service_url[gateway]}
services=(product billing gateway)

if has_fault redis; then
  redis_port=$(free_port)
  mkdir -p "$work/redis"
  start_redis() {
    redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work/redis" --appendonly yes \
      --appendfsync always --save "" --loglevel warning >>"$work/redis.log" 2>&1 &
    redis_pid=$!
    pids+=("$redis_pid")
    for _ in $(seq 100); do
      redis-cli -p "$redis_port" PING 2>/dev/null | grep -q PONG && return 0
      sleep 0.1
    done
    echo "load: redis-server did not start" >&2
    exit 1
  }
  start_redis
  start product2 "$bin/shop_service" product "$issuer" --replay-store "redis://127.0.0.1:$redis_port" "${ttl[@]}"
  start billing2 "$bin/shop_service" billing "$issuer" "${service_url[product2]}" --fresh-service-tokens "${ttl[@]}"
  start gateway2 "$bin/shop_service" gateway "$issuer" "${service_url[billing2]}" "${ttl[@]}"
  services+=(product2 billing2 gateway2)
fi

tokens="$work/tokens"
refresher "$gateway" "$tokens" &
pids+=($!)
for _ in $(seq 100); do [ -s "$tokens" ] && break; sleep 0.1; done
[ -s "$tokens" ] || { echo "load: no user token from $gateway/login" >&2; exit 1; }

declare -A rss_start
for s in token_service "${services[@]}"; do rss_start[$s]=$(rss_kib "${service_pid[$s]}"); done

echo
echo "== load: $connections connections, $threads wrk threads, POST /orders at the gateway"
if [ "$soak" -gt 0 ]; then
  step=$((soak / 10 > 0 ? soak / 10 : 1))
  run_wrk soak "$soak" "$gateway" "$tokens" &
  wrk_pid=$!
  echo "  RSS (KiB) every $step s:   $(printf '%-10s ' token_service "${services[@]}")"
  for i in $(seq 0 10); do
    printf '  t=%5ss               ' "$((i * step))"
    for s in token_service "${services[@]}"; do printf '%-10s ' "$(rss_kib "${service_pid[$s]}")"; done
    echo
    [ "$i" -lt 10 ] && sleep "$step"
  done
  wait "$wrk_pid" || true
  report soak "soak ($soak s)"
  check "soak: no non-2xx answer" "$([ "$(field soak non2xx)" = 0 ] && echo 0 || echo 1)"
else
  run_wrk baseline "$duration" "$gateway" "$tokens"
  report baseline "baseline ($duration s)"
  check "baseline: no non-2xx answer" "$([ "$(field baseline non2xx)" = 0 ] && echo 0 || echo 1)"
fi

if has_fault outage; then
  echo
  echo "== fault: the token service stopped for $outage s"
  stale_before=0
  for s in "${services[@]}"; do stale_before=$((stale_before + $(metric "${service_url[$s]}" tokenpass_jwks_stale_serves_total))); done
  run_wrk outage $((outage + 10)) "$gateway" "$tokens" &
  wrk_pid=$!
  sleep 5
  kill "${service_pid[token_service]}"
  wait "${service_pid[token_service]}" 2>/dev/null || true
  echo "  stopped the token service"
  sleep "$outage"
  start_token_service
  echo "  started it again on the same port with the same key"
  wait "$wrk_pid" || true
  report outage "during and after the outage"
  stale_after=0
  failures=0
  for s in "${services[@]}"; do
    stale_after=$((stale_after + $(metric "${service_url[$s]}" tokenpass_jwks_stale_serves_total)))
    failures=$((failures + $(metric "${service_url[$s]}" tokenpass_jwks_fetch_total 'outcome="failure"')))
  done
  echo "  key lookups served stale during the outage: $((stale_after - stale_before)); failed key-set fetches: $failures"
  check "outage: no request with a valid token failed" "$([ "$(field outage non2xx)" = 0 ] && [ "$(field outage requests)" -gt 0 ] && echo 0 || echo 1)"
  check "outage: keys were served stale while the token service was down" "$([ $((stale_after - stale_before)) -gt 0 ] && echo 0 || echo 1)"
fi

if has_fault rotation; then
  echo
  echo "== fault: the token service rotates its signing key mid-run"
  kid_of() { head -1 "$1" | cut -d. -f1 | /usr/bin/python3 -c 'import base64,json,sys; h=sys.stdin.read().strip(); print(json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))["kid"])'; }
  old_kid=$(kid_of "$tokens")
  run_wrk rotation $((duration + 10)) "$gateway" "$tokens" &
  wrk_pid=$!
  sleep 5
  kill -HUP "${service_pid[token_service]}"
  sleep 5
  new_kid=$(kid_of "$tokens")
  wait "$wrk_pid" || true
  report rotation "across the rotation"
  echo "  user tokens before: kid $old_kid; after: kid $new_kid"
  check "rotation: tokens signed with the new key reached the services" "$([ "$old_kid" != "$new_kid" ] && echo 0 || echo 1)"
  check "rotation: no request failed" "$([ "$(field rotation non2xx)" = 0 ] && [ "$(field rotation requests)" -gt 0 ] && echo 0 || echo 1)"
fi

if has_fault flood; then
  echo
  echo "== fault: tokens with random kids beside the valid traffic"
  # 500 well-formed tokens of the right issuer, signed by a key no one published, each
  # with a kid of its own (PyJWT).
  /usr/bin/python3 - "$issuer" "$work/flood" <<'PY'
import secrets, sys, time, jwt
from cryptography.hazmat.primitives.asymmetric import ec
key = ec.generate_private_key(ec.SECP256R1())
now = int(time.time())
with open(sys.argv[2], "w") as f:
    for _ in range(500):
        claims = {"iss": sys.argv[1], "sub": "mallory", "aud": ["gateway"], "client_id": "shop-web",
                  "iat": now, "exp": now + 900, "jti": secrets.token_hex(8), "scope": "orders:write"}
        f.write(jwt.encode(claims, key, algorithm="ES256", headers={"kid": secrets.token_hex(8), "typ": "at+jwt"}) + "\n")
PY
  misses_before=$(metric "$gateway" tokenpass_jwks_kid_miss_total)
  limited_before=$(metric "$gateway" tokenpass_jwks_rate_limited_total)
  fetches_before=$(metric "$gateway" tokenpass_jwks_kid_fetches_total)
  flood_seconds=$((duration + 10))
  run_wrk flood_valid "$flood_seconds" "$gateway" "$tokens" &
  valid_pid=$!
  run_wrk flood "$flood_seconds" "$gateway" "$work/flood" &
  flood_pid=$!
  wait "$valid_pid" || true
  wait "$flood_pid" || true
  report flood_valid "valid traffic during the flood"
  report flood "the flood"
  misses=$(($(metric "$gateway" tokenpass_jwks_kid_miss_total) - misses_before))
  limited=$(($(metric "$gateway" tokenpass_jwks_rate_limited_total) - limited_before))
  fetches=$(($(metric "$gateway" tokenpass_jwks_kid_fetches_total) - fetches_before))
  allowed=$(( (flood_seconds + 29) / 30 + 1 ))
  echo "  gateway: $misses unknown kids seen, $limited refused a fetch by the rate limit, $fetches fetches for them (at most $allowed allowed)"
  check "flood: no valid request failed" "$([ "$(field flood_valid non2xx)" = 0 ] && echo 0 || echo 1)"
  check "flood: every flood request was refused" "$([ "$(field flood ok)" = 0 ] && [ "$(field flood requests)" -gt 0 ] && echo 0 || echo 1)"
  check "flood: at most one key-set fetch per 30 s window for unknown kids" "$([ "$fetches" -le "$allowed" ] && [ "$misses" -gt 0 ] && echo 0 || echo 1)"
fi

if has_fault redis; then
  echo
  echo "== fault: Redis (the replay store of product2) stopped and started again"
  alice=$(head -1 "$tokens")
  svc=$(curl -s -u billing:billing-secret -d grant_type=client_credentials -d audience=product \
    -d scope=product:reserve "$issuer/token" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  reserve() {
    curl -s -o "$work/reserve.body" -w '%{http_code}' -X POST -H "Authorization: Bearer $alice" \
      -H "X-MS-TOKEN: $svc" -H 'Content-Type: application/json' -d '{"item":42}' "${service_url[product2]}/reserve"
  }
  first=$(reserve)
  run_wrk redis $((duration + 15)) "${service_url[gateway2]}" "$tokens" &
  wrk_pid=$!
  sleep 4
  down_at=$(date +%s)
  kill "$redis_pid"
  wait "$redis_pid" 2>/dev/null || true
  echo "  stopped redis-server"
  sleep 6
  start_redis
  up_at=$(date +%s)
  echo "  started it again (its append-only file kept the used tokens)"
  sleep 7
  replay=$(reserve)
  wait "$wrk_pid" || true
  report redis "gateway2 -> billing2 -> product2"
  seconds=$(field redis non2xx_seconds | tr ',' '\n' | sed -n 's/^\([0-9]*\):.*/\1/p' | sort -n | uniq)
  outside=0
  for s in $seconds; do
    if [ "$s" -lt $((down_at - 1)) ] || [ "$s" -gt $((up_at + 6)) ]; then outside=$((outside + 1)); fi
  done
  echo "  non-2xx answers in the seconds $(for s in $seconds; do printf '%+d ' $((s - down_at)); done)(from the stop; Redis back at +$((up_at - down_at)))"
  echo "  a service token used before the outage: HTTP $first; replayed after it: HTTP $replay $(cat "$work/reserve.body")"
  check "redis: non-2xx answers only during the outage (and the store's reconnection back-off)" "$([ "$outside" = 0 ] && echo 0 || echo 1)"
  check "redis: the outage was felt (some requests refused while Redis was down)" "$([ "$(field redis non2xx)" -gt 0 ] && echo 0 || echo 1)"
  check "redis: a token used before the outage is refused as replayed after it" "$([ "$first" = 200 ] && [ "$replay" = 401 ] && grep -q replayed "$work/reserve.body" && echo 0 || echo 1)"
fi

echo
echo "== memory (RSS, KiB) at start and end"
for s in token_service "${services[@]}"; do
  printf '  %-14s %8s -> %8s\n' "$s" "${rss_start[$s]}" "$(rss_kib "${service_pid[$s]}")"
done

echo
echo "== /metrics of each service, checked with promtool"
for s in token_service "${services[@]}"; do
  curl -s "${service_url[$s]}/metrics" >"$work/$s.prom"
  if promtool check metrics <"$work/$s.prom" >"$work/$s.promtool" 2>&1; then
    check "$s: $(grep -c '^tokenpass_' "$work/$s.prom") samples pass promtool check metrics" 0
  else
    check "$s: promtool check metrics: $(head -3 "$work/$s.promtool" | tr '\n' ' ')" 1
  fi
done
printf '  gateway verifies: %s allowed, %s denied\n' "$(metric "$gateway" tokenpass_verify_total 'result="allowed"')" \
  "$(metric "$gateway" tokenpass_verify_total 'result="denied"')"

exit "$failed"
