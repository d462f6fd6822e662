#!/usr/bin/env bash
# scripts/test.sh: the whole test suite, as `make test` and CI run it.
#
# 1. install missing Debian packages (scripts/deps.sh test)
# 2. lint: clang-format and module include boundaries (scripts/lint.sh)
# 3. build with -Werror and run every ctest test (unit, integration, fuzz corpus replay)
# 4. build with ASan+UBSan (LeakSanitizer on) and run the suite again
# 5. run every libFuzzer target briefly (scripts/fuzz.sh, FUZZ_SECONDS=5) when clang is there
# Exits non-zero on the first failure. --no-sanitize skips step 4.
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=1
[ "${1:-}" = "--no-sanitize" ] && sanitize=0
jobs=$(nproc 2>/dev/null || echo 2)
build=${BUILD:-build}

scripts/deps.sh test
scripts/lint.sh

run_suite() {
  local dir=$1; shift
  echo "== configure $dir ($*)"
  cmake -S . -B "$dir" "$@" >/dev/null
  echo "== build $dir"
  cmake --build "$dir" -j"$jobs" 2>&1 | grep -E 'warning|error|Error' || true
  cmake --build "$dir" -j"$jobs" >/dev/null
  echo "== test $dir"
  (cd "$dir" && ctest --output-on-failure -j"$jobs" --timeout 600)
}

start=$(date +%s)
run_suite "$build/test" -DCMAKE_BUILD_TYPE=Debug -DSTRATA_WERROR=ON
if [ "$sanitize" = 1 ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  run_suite "$build/asan" -DCMAKE_BUILD_TYPE=Debug -DSTRATA_WERROR=ON -DSTRATA_SANITIZE=ON
fi
# 5. every libFuzzer target for a few seconds (FUZZ_SECONDS, default 5) from its corpus
if command -v clang >/dev/null 2>&1; then
  FUZZ_SECONDS=${FUZZ_SECONDS:-5} BUILD=$build scripts/fuzz.sh
else
  echo "== fuzz: skipped (clang not installed)"
fi
echo "== all tests passed in $(( $(date +%s) - start ))s"
