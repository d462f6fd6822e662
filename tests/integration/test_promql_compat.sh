#!/usr/bin/env bash
# test_promql_compat.sh: Strata's PromQL answers must equal Prometheus 2.42's. Runs
# promql_compat.py (next to this script), which generates fixed-seed data, loads it into
# a local Prometheus (promtool + prometheus from the Debian package, installed by
# scripts/deps.sh test) and into the real strata binary, and compares hundreds of
# instant and range queries over HTTP on 127.0.0.1. Skips (passes) when prometheus is not
# installed, unless STRATA_REQUIRE_PROMETHEUS=1.
set -euo pipefail
: "${STRATA_BIN:?STRATA_BIN must point at the strata binary}"
here=$(cd "$(dirname "$0")" && pwd)
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 0; }
exec timeout 280 python3 "$here/promql_compat.py" --strata "$STRATA_BIN" \
	--shared-data "${STRATA_SHARED_DATA:-}"
