#!/usr/bin/env bash
# Builds ward and runs it on the bundled example setup (deploy/examples): installs the
# dependencies, makes the development PKI in deploy/examples/pki (once), validates the
# configuration with `ward check`, then runs ward in the foreground (Ctrl-C stops it).
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$top/deploy/install-deps.sh"
cmake -S "$top" -B "$top/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$top/build" --target ward
ward="$top/build/proxy/ward"
examples="$top/deploy/examples"
[ -f "$examples/pki/ca.pem" ] || "$ward" pki init "$examples/pki"
"$ward" check -c "$examples/ward.yaml"
exec "$ward" run -c "$examples/ward.yaml"
