#!/usr/bin/env bash
# Installs what is missing (Debian/Ubuntu), builds tokenpass and runs the demo:
# generate a key, issue a token, verify it, and watch a tampered and an expired token
# be rejected with their error codes.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
tokenpass_setup

build=build/demo
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTOKENPASS_BUILD_TESTS=OFF \
  -DTOKENPASS_BUILD_EXAMPLES=ON >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target demo >/dev/null
echo
"$build/examples/demo"
