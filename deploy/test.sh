#!/usr/bin/env bash
# Builds ward with warnings as errors and runs every test tier (unit, integration, fips, e2e).
# Installs what it needs first. `.ci/run` calls this.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${WARD_BUILD_DIR:-$top/build}
"$top/deploy/install-deps.sh"
cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWARD_WERROR=ON >/dev/null
cmake --build "$build" -j "$(nproc)"
ctest --test-dir "$build" -j "$(nproc)" --output-on-failure --timeout 900 "$@"
