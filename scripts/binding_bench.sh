#!/usr/bin/env bash
# Builds tokenpass_binding_bench (Release, build/bench) and runs it: ES256 verify of an
# unbound and of a certificate-bound token (with its certificate presented) beside the
# raw OpenSSL floor, and the once-per-connection cost of reading the client certificate.
# Extra arguments go to the program (--rounds=N --time=SECONDS).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
tokenpass_setup libbenchmark-dev

build=${TOKENPASS_BENCH_BUILD_DIR:-build/bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTOKENPASS_BUILD_BENCHMARKS=ON \
  -DTOKENPASS_BUILD_TESTS=OFF -DTOKENPASS_BUILD_EXAMPLES=OFF -DTOKENPASS_BUILD_CLI=OFF \
  -DTOKENPASS_WITH_HTTPLIB=OFF -DTOKENPASS_INSTALL=OFF >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target tokenpass_binding_bench >/dev/null
echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$build/bench/tokenpass_binding_bench" tests/data/tls/client_billing.pem "$@"
