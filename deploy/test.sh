#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds ward with warnings as errors and runs every test tier (unit, integration, fips, e2e);
# then an AddressSanitizer + UndefinedBehaviorSanitizer build runs the unit, integration and fips
# tiers, a ThreadSanitizer build the integration tier, and every libFuzzer harness runs a short
# fixed number of executions (tests/fuzz/run.sh); and ward is built in the wolfSSL flavour, its
# unit, integration and e2e tiers run.
# Installs what it needs first. `.ci/run` calls this. Arguments go to the first ctest run.
# WARD_SKIP_SANITIZERS=1 (ASan and TSan), WARD_SKIP_WOLFSSL=1 (the wolfSSL flavour's build) and
# WARD_SKIP_FUZZ=1 leave those stages out; WARD_FUZZ_RUNS sets the executions per harness
# (default 20000).
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${WARD_BUILD_DIR:-$top/build}
# Compiler cache hits across clones: paths relative to the checkout, and the build folder
# (written into debug information) left out of the hash.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$top} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-true}
"$top/deploy/install-deps.sh"
stage() { echo "== $1 ($(date -u +%H:%M:%S))"; }

stage "release build, every tier"
cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWARD_WERROR=ON >/dev/null
cmake --build "$build" -j "$(nproc)"
ctest --test-dir "$build" -j "$(nproc)" --output-on-failure --timeout 900 "$@"

if [ "${WARD_SKIP_SANITIZERS:-}" != 1 ]; then
  stage "ASan + UBSan build: unit, integration and fips tiers"
  asan=${WARD_ASAN_BUILD_DIR:-$top/build-asan}
  cmake -S "$top" -B "$asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DWARD_SANITIZE=ON -DWARD_BENCH=OFF -DWARD_WERROR=ON >/dev/null
  cmake --build "$asan" -j "$(nproc)" --target ward ward_unit_tests ward_integration_tests ward_fips_tests
  ctest --test-dir "$asan" -j "$(nproc)" --output-on-failure --timeout 900 -L 'unit|integration|fips'
fi

if [ "${WARD_SKIP_SANITIZERS:-}" != 1 ]; then
  stage "TSan build: the integration tier (the engine's workers, in process)"
  tsan=${WARD_TSAN_BUILD_DIR:-$top/build-tsan}
  # (No -Werror here: GCC 12 warns that TSan does not model std::atomic_thread_fence, in
  # libstdc++'s own headers.)
  cmake -S "$top" -B "$tsan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS="-fsanitize=thread -O1 -Wno-tsan" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" -DWARD_BENCH=OFF >/dev/null
  cmake --build "$tsan" -j "$(nproc)" --target ward_integration_tests
  ctest --test-dir "$tsan" -j "$(nproc)" --output-on-failure --timeout 900 -L integration
fi

if [ "${WARD_SKIP_WOLFSSL:-}" != 1 ]; then
  # The wolfSSL flavour: ward must build and link on it and name its library and the GPL, and the
  # whole suite passes on it (the fips tier is the OpenSSL flavour's: it has the FIPS provider).
  stage "wolfSSL flavour: build ward, the unit, integration and e2e tiers"
  wolf=${WARD_WOLFSSL_BUILD_DIR:-$top/build-wolfssl}
  cmake -S "$top" -B "$wolf" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWARD_TLS=wolfssl \
    -DWARD_WERROR=ON -DWARD_BENCH=OFF >/dev/null
  cmake --build "$wolf" -j "$(nproc)"
  "$wolf/proxy/ward" --version | grep -q '^TLS: wolfSSL 5\.7\.2, GPL-2\.0-or-later' ||
    { echo "the wolfSSL build of ward does not name wolfSSL and the GPL" >&2; exit 1; }
  ctest --test-dir "$wolf" -j "$(nproc)" --output-on-failure --timeout 900 -L 'unit|integration|e2e'
fi

if [ "${WARD_SKIP_FUZZ:-}" != 1 ]; then
  stage "fuzzing: every harness, ${WARD_FUZZ_RUNS:-20000} runs"
  "$top/tests/fuzz/run.sh" "${WARD_FUZZ_RUNS:-20000}"
fi
stage "done"
