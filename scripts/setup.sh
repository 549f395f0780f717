# Sourced by test.sh and demo.sh: makes sure the Debian/Ubuntu packages tokenpass
# needs are installed (with apt-get when root; otherwise it names them and stops).
# shellcheck shell=bash

TOKENPASS_PACKAGES=(
  cmake make g++ pkg-config            # build
  libssl-dev nlohmann-json3-dev        # library dependencies
  libcpp-httplib-dev                   # the tokenpass::httplib adapter, HTTP tests
  catch2                               # tests
  redis-server libhiredis-dev          # tokenpass::redis and its tests (a real Redis)
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc  # tokenpass::grpc, tests, demo
  python3 python3-jwt python3-cryptography  # interop vectors (PyJWT)
  python3-authlib python3-requests     # a real OAuth client against the token endpoint
  curl openssl                         # the demo (openssl: its throwaway CA)
  nginx haproxy                        # TLS-terminating proxies in front of services (tests, demo)
  prometheus wrk                       # promtool checks /metrics; wrk drives the load runs
  doxygen                              # the API reference (ctest docs.reference)
)
# Installed only by scripts/fuzz.sh (passed to tokenpass_setup): clang and libFuzzer.
TOKENPASS_FUZZ_PACKAGES=(clang libclang-rt-14-dev)

tokenpass_missing_packages() {
  local missing=() pkg
  for pkg in "${TOKENPASS_PACKAGES[@]}" "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  echo "${missing[@]}"
}

tokenpass_setup() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "setup: not a Debian/Ubuntu system; install: ${TOKENPASS_PACKAGES[*]} $*" >&2
    return 0
  fi
  local missing
  missing=$(tokenpass_missing_packages "$@")
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing $missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >&2
  else
    echo "setup: missing packages: $missing" >&2
    echo "setup: run: sudo apt-get install -y $missing" >&2
    return 1
  fi
}
