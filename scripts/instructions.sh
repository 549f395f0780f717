#!/usr/bin/env bash
# Counts instructions with callgrind, which machine noise does not move: for each
# algorithm, N verifies and the same N raw OpenSSL floor operations (bench/floor.h),
# each in its own run of tokenpass_instructions, counting only the measured loop.
# Prints instructions per operation and the ratio floor / tokenpass (1.00: no
# overhead), and one line per comparison:
#   instructions: OP ALG tokenpass=I floor=I ratio=R
# OP is verify (floor: the signature check), verify-cached (floor: the HS256 check),
# verify-observed (verify with a PrometheusMetrics as Policy::observer; floor: the
# signature check) or sign; and, for the observer's own cost, one line per algorithm:
#   instructions: observer ALG with=I without=I ratio=R   (without / with)
# Keys and randomised signatures are fixed in the program, so that a build gives the
# same counts on every run.
#   scripts/instructions.sh [N] [ALG...]    (default: 200 HS256 RS256 PS256 ES256 EdDSA)
# Environment: TOKENPASS_BENCH_BUILD_DIR (default build/bench), TOKENPASS_BENCH_JOBS.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
tokenpass_setup libbenchmark-dev valgrind

n=${1:-200}
shift || true
algs=("$@")
[ ${#algs[@]} -eq 0 ] && algs=(HS256 RS256 PS256 ES256 EdDSA)

build=${TOKENPASS_BENCH_BUILD_DIR:-build/bench}
jobs=${TOKENPASS_BENCH_JOBS:-$(nproc 2>/dev/null || echo 2)}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTOKENPASS_BUILD_BENCHMARKS=ON \
  -DTOKENPASS_BUILD_TESTS=OFF -DTOKENPASS_BUILD_EXAMPLES=OFF -DTOKENPASS_BUILD_CLI=OFF \
  -DTOKENPASS_WITH_HTTPLIB=OFF -DTOKENPASS_INSTALL=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target tokenpass_instructions >/dev/null
bin="$build/bench/tokenpass_instructions"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# count MODE ALG: instructions per operation in the measured loop.
count() {
  local out="$tmp/cg.$1.$2"
  valgrind --tool=callgrind --toggle-collect=tokenpass_measured --callgrind-out-file="$out" \
    "$bin" "$1" "$2" "$n" >/dev/null 2>"$tmp/log" || { cat "$tmp/log" >&2; exit 1; }
  awk -v n="$n" '/^(summary|totals):/ { printf "%d\n", $2 / n; exit }' "$out"
}
ratio() { awk -v f="$1" -v t="$2" 'BEGIN { printf "%.3f", f / t }'; }

hs_floor=$(count floor-verify HS256)
lines=()
printf '%-8s %12s %12s %7s | %12s %7s | %12s %12s %7s | %12s %7s\n' alg verify floor ratio \
  cached "vs HS256" sign floor ratio observed "w/o / w"
for alg in "${algs[@]}"; do
  fv=$(count floor-verify "$alg")
  v=$(count verify "$alg")
  c=$(count verify-cached "$alg")
  fs=$(count floor-sign "$alg")
  s=$(count sign "$alg")
  o=$(count verify-observed "$alg")
  printf '%-8s %12d %12d %7s | %12d %7s | %12d %12d %7s | %12d %7s\n' "$alg" "$v" "$fv" \
    "$(ratio "$fv" "$v")" "$c" "$(ratio "$hs_floor" "$c")" "$s" "$fs" "$(ratio "$fs" "$s")" \
    "$o" "$(ratio "$v" "$o")"
  lines+=("instructions: verify $alg tokenpass=$v floor=$fv ratio=$(ratio "$fv" "$v")")
  lines+=("instructions: verify-cached $alg tokenpass=$c floor=$hs_floor ratio=$(ratio "$hs_floor" "$c")")
  lines+=("instructions: sign $alg tokenpass=$s floor=$fs ratio=$(ratio "$fs" "$s")")
  lines+=("instructions: verify-observed $alg tokenpass=$o floor=$fv ratio=$(ratio "$fv" "$o")")
  lines+=("instructions: observer $alg with=$o without=$v ratio=$(ratio "$v" "$o")")
done
printf '%s\n' "${lines[@]}"
