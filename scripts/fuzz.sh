#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz/ (clang, ASan + UBSan, library included)
# and runs each for SECONDS (default 60) on a fresh copy of its seed corpus with
# tests/fuzz/jose.dict. Prints one line per harness (executions, result) and fails on
# any crash, leak, timeout or out-of-memory.
#   scripts/fuzz.sh [SECONDS]
# Environment: TOKENPASS_FUZZ_BUILD_DIR (default build/fuzz); TOKENPASS_FUZZERS, a
# space-separated subset of harness names to run; TOKENPASS_FUZZ_OPT, the optimisation
# flags (default "-O1 -g"; the ctest smoke run uses -O0, which builds faster);
# TOKENPASS_FUZZ_JOBS, build jobs (default 1; the smoke run uses 2). Per
# harness, BUILD/run/NAME/ keeps the log, the grown corpus and any reproducer
# (artifacts/crash-*, leak-*, timeout-*); run one again with BUILD/tests/fuzz/fuzz_NAME FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

seconds=${1:-60}
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS]" >&2
  exit 2
fi
tokenpass_setup "${TOKENPASS_FUZZ_PACKAGES[@]}"

# Harness name and -max_len: room for the largest valid input of its kind (an RSA JWK
# set, a PEM certificate chain), small enough to keep the executions fast.
harnesses=(
  "token_decode 8192"
  "verify 8192"
  "jwk 8192"
  "pem_der 8192"
  "jwks_response 16384"
  "discovery 4096"
  "http_parsers 1024"
  "token_endpoint 4200"
  "token_request 4096"
)

build=${TOKENPASS_FUZZ_BUILD_DIR:-build/fuzz}
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS=$flags" "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=${TOKENPASS_FUZZ_OPT:--O1 -g}" \
  -DTOKENPASS_BUILD_FUZZERS=ON -DTOKENPASS_BUILD_TESTS=OFF -DTOKENPASS_BUILD_EXAMPLES=OFF \
  -DTOKENPASS_BUILD_CLI=OFF -DTOKENPASS_WITH_HTTPLIB=OFF -DTOKENPASS_INSTALL=OFF >/dev/null
cmake --build "$build" -j "${TOKENPASS_FUZZ_JOBS:-1}"

seeds="$build/seeds"
rm -rf "$seeds"
"$build/tests/fuzz/fuzz_make_seeds" "$seeds"

export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1:handle_abort=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
failed=0
for entry in "${harnesses[@]}"; do
  read -r name max_len <<<"$entry"
  if [ -n "${TOKENPASS_FUZZERS:-}" ] && [[ " $TOKENPASS_FUZZERS " != *" $name "* ]]; then
    continue
  fi
  run="$build/run/$name"
  rm -rf "$run"
  mkdir -p "$run/corpus" "$run/artifacts"
  cp "$seeds/$name/"* "$run/corpus/"
  set +e
  "$build/tests/fuzz/fuzz_$name" "$run/corpus" -dict=tests/fuzz/jose.dict \
    -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -max_len="$max_len" \
    -print_final_stats=1 -artifact_prefix="$run/artifacts/" >"$run/log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$run/log" | tail -n 1)
  [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$run/log" | tail -n 1 | tr -d '#')
  result=ok
  if grep -q 'ERROR: libFuzzer: timeout' "$run/log"; then result=timeout
  elif grep -q 'ERROR: LeakSanitizer' "$run/log"; then result=leak
  elif grep -q 'out-of-memory' "$run/log"; then result=out-of-memory
  elif grep -qE 'ERROR: AddressSanitizer|runtime error:|deadly signal|uncaught exception' "$run/log"; then
    result=crash
  elif [ "$rc" -ne 0 ]; then result="failed (exit $rc)"
  fi
  printf '%-14s %12s execs in %ss  %s\n' "$name" "${execs:-?}" "$seconds" "$result"
  if [ "$result" != ok ]; then
    failed=1
    echo "--- $run/log (tail); reproducers: $(ls "$run/artifacts" | tr '\n' ' ')" >&2
    tail -n 40 "$run/log" >&2
  fi
done
exit "$failed"
