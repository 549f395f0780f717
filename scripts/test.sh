#!/usr/bin/env bash
# Installs what is missing (Debian/Ubuntu), configures, builds and runs the test suite.
#   scripts/test.sh            Debug build with assertions, every test
#   scripts/test.sh --asan     AddressSanitizer + UndefinedBehaviorSanitizer build
#   scripts/test.sh --tsan     ThreadSanitizer build
# Extra arguments after the options go to ctest (e.g. -R jws).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh

mode=default
ctest_args=()
for arg in "$@"; do
  case "$arg" in
    --asan) mode=asan ;;
    --tsan) mode=tsan ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) ctest_args+=("$arg") ;;
  esac
done

tokenpass_setup

build="build/test-$mode"
# Debug (assertions on) with line-table debug information only (-g1: backtraces still
# name files and lines; against full -g it saves a tenth of each compile, e.g.
# token_endpoint.cpp 9.5 -> 8.5 s, claims_test.cpp 5.0 -> 4.2 s, and the run has 15 minutes).
cmake_args=(-DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-g1" -DTOKENPASS_BUILD_TESTS=ON
            -DTOKENPASS_BUILD_EXAMPLES=ON -DTOKENPASS_WITH_REDIS=ON -DTOKENPASS_WITH_GRPC=ON)
case "$mode" in
  asan) cmake_args+=("-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all")
        export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 ;;
  tsan) cmake_args+=("-DCMAKE_CXX_FLAGS=-fsanitize=thread -fno-omit-frame-pointer")
        export TSAN_OPTIONS=halt_on_error=1 ;;
esac
if [ "$mode" != default ]; then
  # The install-tree consumer builds are about packaging, not memory safety, and the
  # fuzz smoke run builds its own ASan + UBSan library with clang.
  ctest_args+=(-LE 'package|fuzz')
fi

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$build" "${cmake_args[@]}"
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" --output-on-failure -j "$jobs" "${ctest_args[@]}"
