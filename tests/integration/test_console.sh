#!/usr/bin/env bash
# test_console.sh: browser tests of the console (tests/console/console.test.mjs): the real
# strata binary driven through Debian's headless Chromium by playwright-core.
#
# playwright-core is pinned by tests/console/package-lock.json and installed with `npm ci`
# into $STRATA_BUILD_DIR/console-test (again only when the lock changes); it never
# downloads a browser. Screenshots go to $STRATA_BUILD_DIR/console-screens/.
# Needs node, npm and chromium (scripts/deps.sh test installs chromium).
set -euo pipefail
: "${STRATA_BIN:?STRATA_BIN must point at the strata binary}"
: "${STRATA_SOURCE_DIR:?STRATA_SOURCE_DIR must point at the source tree}"
build_dir=${STRATA_BUILD_DIR:-$(dirname "$(dirname "$STRATA_BIN")")}
chromium=${STRATA_CHROMIUM:-/usr/bin/chromium}

for cmd in node npm; do
  if ! command -v "$cmd" >/dev/null 2>&1; then
    echo "not ok - $cmd not found: install the Debian package 'npm' (it brings nodejs)"
    exit 1
  fi
done
if [ ! -x "$chromium" ]; then
  echo "not ok - $chromium not found: run scripts/deps.sh test (Debian package 'chromium')"
  exit 1
fi

src=$STRATA_SOURCE_DIR/tests/console
work=$build_dir/console-test
mkdir -p "$work"
if ! cmp -s "$src/package-lock.json" "$work/.installed-lock.json" ||
  [ ! -d "$work/node_modules/playwright-core" ]; then
  cp "$src/package.json" "$src/package-lock.json" "$work/"
  echo "# npm ci (playwright-core) in $work"
  if ! (cd "$work" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error); then
    echo "not ok - npm ci of tests/console failed (is the npm registry or its cache reachable?)"
    exit 1
  fi
  cp "$src/package-lock.json" "$work/.installed-lock.json"
fi
cp "$src/console.test.mjs" "$work/"

export STRATA_SCREENS_DIR=$build_dir/console-screens STRATA_CHROMIUM=$chromium
exec node "$work/console.test.mjs"
