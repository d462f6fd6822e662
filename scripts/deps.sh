#!/usr/bin/env bash
# scripts/deps.sh: install the Debian packages Strata needs, only those missing.
#
#   scripts/deps.sh build   compiler, CMake and the libraries the server links
#   scripts/deps.sh test    build + everything the test suite talks to
#   scripts/deps.sh bench   test + the peers the benchmarks run side by side
#
# Needs root (or passwordless sudo) to install; when packages are missing and neither
# is available it prints the exact apt-get command to run and exits 1.
set -euo pipefail

group=${1:-build}

build_pkgs=(build-essential cmake pkg-config
  libsnappy-dev libmicrohttpd-dev librdkafka-dev libyaml-dev libcmocka-dev
  libcurl4-openssl-dev libpcre2-dev libprotobuf-c-dev protobuf-c-compiler zlib1g-dev
  libgnutls28-dev libcrypt-dev)
# The browser console's build runs `npm ci` and scripts/embed_assets.py (web/CMakeLists.txt);
# Debian's npm and python3 only when none is on PATH (a newer Node.js brings its own npm).
command -v npm >/dev/null 2>&1 || build_pkgs+=(npm)
command -v python3 >/dev/null 2>&1 || build_pkgs+=(python3)
# openssl: tests/integration/test_tls.sh makes a self-signed certificate.
# clang + libclang-rt-dev (libFuzzer): scripts/test.sh runs every fuzz target briefly.
test_pkgs=(clang libclang-rt-dev curl openssl python3 ca-certificates prometheus prometheus-node-exporter chromium python3-aiosmtpd prometheus-alertmanager)
bench_pkgs=(influxdb prometheus linux-perf valgrind)

case "$group" in
  build) pkgs=("${build_pkgs[@]}") ;;
  test) pkgs=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  bench) pkgs=("${build_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "strata: installing missing Debian packages: ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "strata: cannot install packages: not root and no passwordless sudo." >&2
  echo "strata: run as root:  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Services some packages start on install are not wanted (tests start their own).
if ! "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/strata-apt.log 2>&1; then
  "${as_root[@]}" apt-get update -q >>/tmp/strata-apt.log 2>&1 || true
  if ! "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/strata-apt.log 2>&1; then
    echo "strata: apt-get install failed; last lines of /tmp/strata-apt.log:" >&2
    tail -n 20 /tmp/strata-apt.log >&2
    exit 1
  fi
fi
echo "strata: packages installed." >&2
