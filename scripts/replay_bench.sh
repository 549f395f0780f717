#!/usr/bin/env bash
# Builds tokenpass_replay_bench (Release, build/bench) and runs it against a redis-server
# started here on a free loopback port (no persistence, stopped at the end): ES256 verify
# plain, with single use in memory and in Redis, 1 and 4 threads, and the Redis round
# trip. Extra arguments go to the program (--rounds=N --time=SECONDS).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
tokenpass_setup libbenchmark-dev

build=${TOKENPASS_BENCH_BUILD_DIR:-build/bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTOKENPASS_BUILD_BENCHMARKS=ON \
  -DTOKENPASS_BUILD_TESTS=OFF -DTOKENPASS_BUILD_EXAMPLES=OFF -DTOKENPASS_BUILD_CLI=OFF \
  -DTOKENPASS_WITH_HTTPLIB=OFF -DTOKENPASS_WITH_REDIS=ON -DTOKENPASS_INSTALL=OFF >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target tokenpass_replay_bench >/dev/null

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning >/dev/null &
redis=$!
trap 'kill $redis 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  redis-cli -p "$port" PING 2>/dev/null | grep -q PONG && break
  sleep 0.1
done
echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg); redis-server $(redis-server --version | awk '{print $3}')"
"$build/bench/tokenpass_replay_bench" "redis://127.0.0.1:$port" "$@"
