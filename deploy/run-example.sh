#!/usr/bin/env bash
# Builds ward and runs it on the bundled example setup (deploy/examples): installs the
# dependencies, makes the development PKI in deploy/examples/pki (once), validates the
# configuration with `ward check`, adds the first admin account (printing its password once),
# then runs ward in the foreground (Ctrl-C stops it). The admin API is on https://127.0.0.1:9443/.
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$top/deploy/install-deps.sh"
cmake -S "$top" -B "$top/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$top/build" --target ward
ward="$top/build/proxy/ward"
examples="$top/deploy/examples"
[ -f "$examples/pki/ca.pem" ] || "$ward" pki init "$examples/pki"
"$ward" check -c "$examples/ward.yaml"
# The first admin account, once: its password is printed here and nowhere else.
[ -f "$examples/admin-users.json" ] || "$ward" admin user add -c "$examples/ward.yaml" admin --role admin --generate
echo "admin console: https://127.0.0.1:9443/ (account admin; certificate from $examples/pki/ca.pem)"
exec "$ward" run -c "$examples/ward.yaml"
