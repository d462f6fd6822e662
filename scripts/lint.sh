#!/usr/bin/env bash
# scripts/lint.sh: style checks CI enforces (STYLE.md sections 1 and 11).
# - clang-format --dry-run -Werror on every C source and header
# - module boundaries: outside its own module, a file includes only the module's public
#   header (common/common.h, tsdb/tsdb.h, ingest/ingest.h, query/query.h, alert/alert.h,
#   web/web.h); tests, fuzz targets and benchmarks may include internals
# - banned functions (sprintf, strcpy, strcat, strtok, gets, atoi, atol, localtime, gmtime)
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0

files=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.c' -o -name '*.h')
if command -v clang-format >/dev/null; then
  if ! clang-format --dry-run -Werror $files 2>/tmp/strata-format.log; then
    echo "lint: clang-format differences (run: clang-format -i <file>):" >&2
    grep -E '^[^ ]+:[0-9]+:[0-9]+: error' /tmp/strata-format.log | cut -d: -f1 | sort -u | head -20 >&2
    fail=1
  fi
else
  echo "lint: clang-format not installed; skipping format check" >&2
fi

public_header() {
  case $1 in
    common) echo common/common.h ;; tsdb) echo tsdb/tsdb.h ;; ingest) echo ingest/ingest.h ;;
    query) echo query/query.h ;; alert) echo alert/alert.h ;; web) echo web/web.h ;;
  esac
}
for f in $files; do
  case $f in
    tests/*|fuzz/*|bench/*) continue ;;  # tests, fuzz targets and benchmarks may use internals
    common/*|tsdb/*|ingest/*|query/*|alert/*|web/*) own=${f%%/*} ;;
    *) own="" ;;
  esac
  while IFS= read -r inc; do
    mod=${inc%%/*}
    [ "$mod" = "$own" ] && continue
    pub=$(public_header "$mod")
    [ -z "$pub" ] && continue
    # common's sub-headers are part of its public surface only through common.h
    if [ "$inc" != "$pub" ]; then
      echo "lint: $f includes $inc; outside $mod/ include only $pub" >&2
      fail=1
    fi
  done < <(grep -oE '^#include "[a-z]+/[a-z_0-9.-]+\.h"' "$f" | sed -E 's/#include "(.*)"/\1/')
done

banned='\b(sprintf|strcpy|strcat|strtok|gets|atoi|atol|localtime|gmtime)\s*\('
if grep -nE "$banned" $files | grep -v '^fuzz/' ; then
  echo "lint: banned functions used (STYLE.md section 11)" >&2
  fail=1
fi
[ $fail = 0 ] && echo "lint: ok"
exit $fail
