#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs every build and test dependency of ward from Debian packages, then builds the
# OpenSSL FIPS provider (Debian ships none). Both README Quick start commands and .ci/run
# call this script; it is idempotent and skips what is already in place.
# `--bench` adds what the side-by-side benchmark runs (HAProxy, nginx, stunnel, wrk, ab, gnuplot).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

packages=(
  # build
  build-essential cmake ninja-build ccache pkg-config git
  libboost1.81-dev libssl-dev libpugixml-dev libyaml-cpp-dev libspdlog-dev doctest-dev
  libexpat1-dev libbenchmark-dev
  # the fuzzing stage (libFuzzer ships in clang's runtime)
  clang libclang-rt-14-dev
  # tools the tests drive (real, independent peers)
  openssl ca-certificates curl sip-tester stunnel4 sslscan testssl.sh
  prosody lua-unbound python3-slixmpp go-sendxmpp
  # an independent NTLMv2 implementation for the Exchange egress stand-in
  python3-ntlm-auth
  # the cluster store (the tests start their own etcd)
  etcd-server
  # the PROXY protocol's independent ends (and the side-by-side benchmark's peers)
  haproxy nginx-light libnginx-mod-stream kamailio
  # the Debian package's checker (deploy/package.sh) and the unit file's (systemd-analyze)
  lintian systemd
  # the admin console's browser tests (playwright-core from npm drives this chromium)
  chromium
  # building the FIPS provider from Debian's OpenSSL source
  perl make dpkg-dev
  # building wolfSSL from Debian's source (deploy/wolfssl/build-wolfssl.sh, the wolfSSL flavour)
  autoconf automake libtool patch
)

# Node.js and npm build the admin console (esbuild) and run its browser tests. Debian's
# nodejs (18) is enough; a newer one already installed is kept.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

if [ "${1:-}" = "--bench" ]; then
  packages+=(apache2-utils wrk gnuplot-nox util-linux procps)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_=; [ "$(id -u)" -eq 0 ] || sudo_=sudo
  $sudo_ apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y --no-install-recommends "${missing[@]}"
fi

"$here/fips/build-provider.sh"
# wolfSSL for the wolfSSL flavour (WARD_TLS=wolfssl), from Debian's source; once per machine.
"$here/wolfssl/build-wolfssl.sh"
