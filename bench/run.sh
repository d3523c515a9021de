#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One command for the side-by-side comparison: installs the peers (HAProxy, nginx, stunnel),
# builds ward in both TLS flavours (OpenSSL: build-bench, with the load generator; wolfSSL:
# build-bench-wolfssl) in Release, runs bench/compare.py (arguments pass through, e.g. --reps 5
# --duration 10), and writes bench/results/latest.{md,json,png}.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$top/deploy/install-deps.sh" --bench
# Debian starts the services on install on a normal machine; the benchmark runs its own.
systemctl stop nginx haproxy 2>/dev/null || true
cmake -S "$top" -B "$top/build-bench" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$top/build-bench" --target ward ward-loadgen ward-handshake-bench
cmake -S "$top" -B "$top/build-bench-wolfssl" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF -DWARD_TLS=wolfssl >/dev/null
cmake --build "$top/build-bench-wolfssl" --target ward
exec /usr/bin/python3 "$top/bench/compare.py" "$@"
