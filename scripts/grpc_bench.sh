#!/usr/bin/env bash
# Builds tokenpass_grpc_bench (Release, build/bench) and runs it: a unary gRPC call on
# 127.0.0.1 with ES256 token verification beside the same call without it, same run;
# prints calls/s, mean latency, the latency verification adds and the throughput ratio.
# Extra arguments go to the program (--threads=N --time=SECONDS --rounds=N).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
tokenpass_setup libbenchmark-dev

build=${TOKENPASS_BENCH_BUILD_DIR:-build/bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTOKENPASS_BUILD_BENCHMARKS=ON \
  -DTOKENPASS_BUILD_TESTS=OFF -DTOKENPASS_BUILD_EXAMPLES=OFF -DTOKENPASS_BUILD_CLI=OFF \
  -DTOKENPASS_WITH_HTTPLIB=OFF -DTOKENPASS_WITH_GRPC=ON -DTOKENPASS_INSTALL=OFF >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target tokenpass_grpc_bench >/dev/null
echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$build/bench/tokenpass_grpc_bench" "$@"
