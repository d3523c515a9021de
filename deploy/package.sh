#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds ward's Debian package (build/package/ward_<version>_amd64.deb: the stripped binary,
# the systemd unit and system user, /etc/ward/ward.yaml and banner.txt as conffiles, the
# manual page and the docs) with CPack, then checks it with lintian (errors fail the build).
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$top/deploy/install-deps.sh"
cmake -S "$top" -B "$top/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$top/build"
(cd "$top/build" && cpack -G DEB -B "$top/build/package")
deb=$(ls "$top"/build/package/ward_*.deb)
lintian --fail-on error --info "$deb"
echo "package: $deb"
