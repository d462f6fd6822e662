#!/usr/bin/env bash
# scripts/fuzz.sh: build the libFuzzer targets (fuzz/fuzz_*.c) with clang and run each.
#
#   scripts/fuzz.sh [NAME...]      NAME = line_protocol, promql, ... (default: every target)
#
# Environment:
#   FUZZ_SECONDS  seconds each target runs (default 60; `make test` uses 5)
#   FUZZ_JOBS     fuzzer processes per target, run in parallel (default 1)
#   FUZZ_MERGE=1  merge the new coverage-increasing inputs into fuzz/corpus/<name>/
#                 (minimized with -merge=1; default 0: they stay in the work corpus)
#   BUILD         build root (default build): targets in $BUILD/fuzz, work corpora in
#                 $BUILD/fuzz/work/<name>/ (kept between runs, so long runs accumulate)
#
# Each target starts from its seed corpus fuzz/corpus/<name>/ plus its work corpus, and for
# the text parsers fresh slices of the real datasets in ../shared/data (when present). A
# crash, leak, timeout or sanitizer report is kept as fuzz/corpus/<name>/found_<sha1> (the
# regression input ctest then replays through fuzz/replay.c) and makes the script exit 1
# after every target ran. docs/FUZZING.md says how to run them for hours.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}
build=${BUILD:-build}/fuzz
merge=${FUZZ_MERGE:-0}
data=../shared/data

if ! command -v clang >/dev/null 2>&1; then
  echo "fuzz: clang is not installed (scripts/deps.sh test installs it)" >&2
  exit 1
fi

echo "== build the fuzz targets in $build (clang, -fsanitize=fuzzer,address,undefined)"
CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTRATA_FUZZ=ON \
  -DSTRATA_TESTS=OFF >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/fuzz_*.c; do
    n=$(basename "$f" .c)
    targets+=("${n#fuzz_}")
  done
fi
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" \
  --target $(printf 'fuzz_%s ' "${targets[@]}") >"$build/build.log" 2>&1 ||
  { tail -n 40 "$build/build.log"; exit 1; }

# data_seeds NAME DIR: slices of the shared datasets for the text parsers.
data_seeds() {
  local name=$1 dir=$2 k src
  [ -d "$data" ] || return 0
  case "$name" in
    line_protocol) src=("$data/nab/nab.lp" "$data/node_exporter/node_exporter_10m.lp.gz" \
                        "$data/devops/devops_100h_1h.lp.gz") ;;
    exposition) src=("$data/node_exporter/node_exporter_scrape.prom" "$data/nab/nab.om" \
                     "$data/node_exporter/node_exporter_10m.om.gz") ;;
    *) return 0 ;;
  esac
  local tmp
  tmp=$(mktemp)
  for k in "${!src[@]}"; do
    [ -f "${src[$k]}" ] || continue
    # 4 slices of 4 KiB starting at random lines of the first 2 MB (the parsers cap
    # inputs at 64 KiB)
    { case "${src[$k]}" in *.gz) gzip -dc "${src[$k]}" ;; *) cat "${src[$k]}" ;; esac } 2>/dev/null |
      head -c 2000000 >"$tmp" || true
    local lines
    lines=$(wc -l <"$tmp")
    [ "$lines" -gt 0 ] || continue
    for s in 1 2 3 4; do
      tail -n +$(((RANDOM * 32768 + RANDOM) % lines + 1)) "$tmp" | head -c 4096 >"$dir/data_${k}_$s" || true
    done
  done
  rm -f "$tmp"
}

failed=()
for name in "${targets[@]}"; do
  bin="$build/fuzz/fuzz_$name"
  seeds="fuzz/corpus/$name"
  work="$build/work/$name"
  art="$build/artifacts/$name"
  mkdir -p "$work" "$art" "$seeds"
  data_seeds "$name" "$work"
  echo "== fuzz_$name for ${seconds}s (seeds: $(ls "$seeds" | wc -l), work corpus: $(ls "$work" | wc -l))"
  rc=0
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536
        -print_final_stats=1 -artifact_prefix="$art/")
  if [ "$jobs" -gt 1 ]; then
    args+=(-jobs="$jobs" -workers="$jobs")
  fi
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin" "${args[@]}" "$work" "$seeds" >"$build/fuzz_$name.log" 2>&1 || rc=$?
  grep -E "^(stat::number_of_executed_units|stat::new_units_added|#[0-9]+ +DONE)" \
    "$build/fuzz_$name.log" | tr '\n' ' ' || true
  echo
  found=0
  for f in "$art"/crash-* "$art"/leak-* "$art"/timeout-* "$art"/oom-* "$art"/slow-unit-*; do
    [ -e "$f" ] || continue
    sha=$(sha1sum "$f" | cut -d' ' -f1)
    kind=$(basename "$f" | cut -d- -f1)
    if [ "$kind" = slow ]; then rm -f "$f"; continue; fi
    cp "$f" "$seeds/found_$sha"
    rm -f "$f"
    echo "fuzz_$name: $kind kept as $seeds/found_$sha"
    found=1
  done
  if [ "$rc" -ne 0 ] || [ "$found" = 1 ]; then
    echo "fuzz_$name FAILED (exit $rc); last lines of $build/fuzz_$name.log:"
    grep -A30 -m1 "ERROR:\|runtime error\|==ERROR\|deadly signal" "$build/fuzz_$name.log" | head -n 40 || tail -n 30 "$build/fuzz_$name.log"
    failed+=("$name")
  elif [ "$merge" = 1 ]; then
    "$bin" -merge=1 -max_len=65536 "$seeds" "$work" >"$build/merge_$name.log" 2>&1 || true
    echo "merged: $(ls "$seeds" | wc -l) inputs in $seeds"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "== fuzzing found problems in: ${failed[*]} (inputs kept in fuzz/corpus/<name>/found_*)"
  exit 1
fi
echo "== every fuzz target ran ${seconds}s without a finding"
