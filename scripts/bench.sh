#!/usr/bin/env bash
# Builds the benchmarks in Release (build/bench; Google Benchmark from libbenchmark-dev)
# and runs tokenpass_bench: throughput of verify (first sight), verify-cached and sign,
# each beside the raw OpenSSL floor measured in the same run, for every algorithm, with
# 1 and 2 threads; with --ops also verify-miss, verify-remote, issue (Issuer::issue
# beside the same token made on raw OpenSSL), issue-norand-floor (the same beside a
# floor whose jti is fixed: no RAND_bytes) and verify-observed (verify with a
# PrometheusMetrics as Policy::observer, then head to head with plain verify). Prints a
# table and, for scripts, one line per measurement:
#   bench: OP ALG THREADS tokenpass=OPS/s floor=OPS/s ratio=R
#   bench: observer ALG THREADS with/without=R cpu=R        (verify-observed only)
# Usage:
#   scripts/bench.sh [--algs=HS256,RS256]
#                    [--ops=verify,verify-cached,sign,issue,issue-norand-floor,verify-observed]
#                    [--threads=1,2] [--rounds=31] [--time=0.05]
#   scripts/bench.sh --gbench [--benchmark_filter=RS256]   Google Benchmark latencies
# It runs at nice -5 where allowed. Other load on the machine still shows in the
# numbers: compare medians of several runs (docs/PERFORMANCE.md), or use
# scripts/instructions.sh, which counts instructions instead.
# Environment: TOKENPASS_BENCH_BUILD_DIR (default build/bench), TOKENPASS_BENCH_JOBS
# (build parallelism, default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
tokenpass_setup libbenchmark-dev

build=${TOKENPASS_BENCH_BUILD_DIR:-build/bench}
jobs=${TOKENPASS_BENCH_JOBS:-$(nproc 2>/dev/null || echo 2)}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTOKENPASS_BUILD_BENCHMARKS=ON \
  -DTOKENPASS_BUILD_TESTS=OFF -DTOKENPASS_BUILD_EXAMPLES=OFF -DTOKENPASS_BUILD_CLI=OFF \
  -DTOKENPASS_WITH_HTTPLIB=OFF -DTOKENPASS_INSTALL=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target tokenpass_bench >/dev/null

run=()
if nice -n -5 true 2>/dev/null; then run=(nice -n -5); fi
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
exec "${run[@]}" "$build/bench/tokenpass_bench" "$@"
