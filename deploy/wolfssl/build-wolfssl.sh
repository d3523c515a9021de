#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds wolfSSL for ward's wolfSSL flavour (-DWARD_TLS=wolfssl) from Debian's own source
# package, with all of Debian's patches, into a prefix of ward's own.
#
# Why build at all: Debian 12's libwolfssl (5.5.4) is configured with --enable-distro, which is
# --enable-all without the assembly and SP math that make wolfSSL fast, and with SESSION_CERTS,
# which puts two fixed 9-certificate chains into every session (37-56 KB each). Built here with
# the options that measured best for a proxy (../shared/notes/tls-libraries.md): about 2.2x
# OpenSSL 3.0's server handshakes per CPU-second, 8.9 KB per idle TLS 1.3 connection.
#
# Which source: Debian 13's wolfssl (5.7.x), the newest Debian publishes, through a deb-src
# entry for the suite given below, on the machine's own Debian mirror, passed to apt with -o
# options: the system's apt configuration is never touched. apt checks the source files against
# the signed Sources index; dpkg-source applies Debian's patches. Nothing else is fetched.
#
# wolfSSL is GPL-2.0-or-later: a ward linked with it is distributed under the GPL.
#
# Cheap when the work is done: a prefix whose stamp names this source version and these
# options exits at once.
#
# Environment:
#   WARD_WOLFSSL_DIR        install prefix (default /usr/local/lib/ward/wolfssl)
#   WARD_WOLFSSL_SUITE      the Debian suite to take the source from (default trixie)
#   WARD_WOLFSSL_CACHE_DIR  private apt state and build tree (default /var/cache/ward-wolfssl-build
#                           as root, ~/.cache/ward-wolfssl-build otherwise)
#   WARD_WOLFSSL_JOBS       make parallelism (default 2)
set -euo pipefail
umask 022

prog=build-wolfssl
prefix=${WARD_WOLFSSL_DIR:-/usr/local/lib/ward/wolfssl}
suite=${WARD_WOLFSSL_SUITE:-trixie}
jobs=${WARD_WOLFSSL_JOBS:-2}
[[ $prefix == /* ]] || prefix=$PWD/$prefix

say() { printf '%s: %s\n' "$prog" "$*"; }
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }

# The options that measured best (tls-libraries.md); not --enable-all, --enable-haproxy or
# SESSION_CERTS. opensslextra is the OpenSSL compatibility layer ward's tls/ uses. Then what
# ward's features need, none of them on the handshake's path: opensslall (the X509_STORE_CTX,
# stack and extension calls of ward's verifier), ocsp and ocspstapling (revocation checks and
# stapling), certgen, certreq, certext and keygen (`ward cert` and the admin PKI make keys and
# certificates), md4 and arc4 (NTLMv2 for the Exchange egress), aesccm (the TLS 1.3 CCM suites
# OpenSSL has, so a configuration names the same suites in both flavours).
options=(--enable-sp --enable-sp-asm --enable-intelasm --enable-aesni --enable-tls13 --enable-session-ticket
    --enable-curve25519 --enable-ecc --enable-opensslextra --enable-alpn --enable-sni --enable-crl
    --enable-opensslall --enable-ocsp --enable-ocspstapling --enable-certgen --enable-certreq --enable-certext
    --enable-keygen --enable-md4 --enable-arc4 --enable-aesccm
    --disable-examples --disable-crypttests --disable-benchmark)
# Per-object application data (SSL_get_ex_data and the like), which ward's per-connection state
# and the peer verifier hang on, freed with its owner (no configure option gives it without
# SESSION_CERTS); and the verify callback for every certificate of the peer's chain, passing or
# not, where ward applies its security mode and the selected peer subjects
# (tls/peer_verifier_wolfssl.cpp).
# Eight slots per object: ward uses five per connection (MAX_EX_DATA is 5 by default). And the
# server name a client sent kept on the connection even where no SNI callback chose a certificate
# (one certificate in the context): ward reads it for XMPP's STARTTLS domain rule and the PROXY
# header's authority. And room for a ClientHello of up to 512 cipher suites: wolfSSL refuses one
# with more than 150 as malformed (WOLFSSL_MAX_SUITE_SZ, 300 bytes), and scanners (sslscan's
# TLS 1.2 probe, testssl) offer every suite there is: they reported TLS 1.2 disabled.
# And each connection's random generator seeded by getrandom(2), the kernel's generator as
# /dev/urandom is, in one system call instead of three (open, read, close of /dev/urandom per
# connection). And one random generator per thread for that thread's connections, as OpenSSL
# has, instead of a generator instantiated, health-tested and seeded for every connection: ward's
# own patch over Debian's source (patches/thread-rng.patch says why and the one rule it asks).
cppflags="-DHAVE_EX_DATA -DHAVE_EX_DATA_CLEANUP_HOOKS -DMAX_EX_DATA=8 -DWOLFSSL_ALWAYS_VERIFY_CB -DWOLFSSL_VERIFY_CB_ALL_CERTS -DWOLFSSL_ALWAYS_KEEP_SNI -DWOLFSSL_MAX_SUITE_SZ=1024 -DWOLFSSL_GETRANDOM -DWOLFSSL_WARD_THREAD_RNG"
# ward's patches, applied in name order after Debian's.
patch_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/patches
patches=("$patch_dir"/*.patch)
if [[ $(uname -m) != x86_64 ]]; then
    # (Intel assembly and AES-NI are x86-64 only.)
    kept=()
    for o in "${options[@]}"; do [[ $o == --enable-intelasm || $o == --enable-aesni ]] || kept+=("$o"); done
    options=("${kept[@]}")
fi

if [[ -z ${WARD_WOLFSSL_CACHE_DIR:-} ]]; then
    if ((EUID == 0)); then cache_dir=/var/cache/ward-wolfssl-build; else cache_dir=${XDG_CACHE_HOME:-$HOME/.cache}/ward-wolfssl-build; fi
else
    cache_dir=$WARD_WOLFSSL_CACHE_DIR
fi
[[ $cache_dir == /* ]] || cache_dir=$PWD/$cache_dir

missing=()
for tool in apt-get apt-cache dpkg-source autoreconf libtoolize make cc sha256sum patch; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
((${#missing[@]} == 0)) || die "missing tools: ${missing[*]} (apt-get install dpkg-dev autoconf automake libtool build-essential patch)"

mkdir -p "$cache_dir"
exec 9>"$cache_dir/lock"
flock 9

# --- the source: a private deb-src list for $suite on the machine's Debian mirror ---------------

apt_dir=$cache_dir/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/cache" "$cache_dir/src"
mirror=
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }' "$f")
    if [[ -n $uri ]]; then mirror=$uri; break; fi
done
if [[ -z $mirror && -f /etc/apt/sources.list ]]; then
    mirror=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\/.*\/debian\/?$/) { print $i; exit } }' \
        /etc/apt/sources.list)
fi
[[ -n $mirror ]] || die "found no Debian mirror (a .../debian URI) in the apt sources"
[[ -f $keyring ]] || die "$keyring is missing (apt-get install debian-archive-keyring)"
printf 'deb-src [signed-by=%s] %s %s main\n' "$keyring" "$mirror" "$suite" >"$apt_dir/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "Dir::Cache::Archives=$apt_dir/archives")
if ((EUID == 0)) && id _apt >/dev/null 2>&1; then
    chown _apt "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$cache_dir/src"
fi

say "reading $suite's Sources from $mirror"
apt-get "${apt_opts[@]}" -q update >"$cache_dir/apt.log" 2>&1 || { tail -5 "$cache_dir/apt.log" >&2; die "apt-get update failed"; }
version=$(apt-cache "${apt_opts[@]}" showsrc --only-source wolfssl 2>/dev/null | sed -n 's/^Version: //p' | sort -rV | head -n 1)
[[ -n $version ]] || die "no wolfssl source package in $suite"
stamp="wolfssl $version: ${options[*]} CPPFLAGS=$cppflags patches: $(cd "$patch_dir" && sha256sum -- *.patch | tr -s ' \n' ' ')"

if [[ -f $prefix/lib/libwolfssl.so && -f $prefix/ward-build-stamp && $(cat "$prefix/ward-build-stamp") == "$stamp" ]]; then
    say "wolfSSL $version already built into $prefix"
    exit 0
fi

say "downloading wolfssl $version (checked against the signed Sources index)"
(cd "$cache_dir/src" && apt-get "${apt_opts[@]}" -q source --download-only "wolfssl=$version") >>"$cache_dir/apt.log" 2>&1 ||
    { tail -5 "$cache_dir/apt.log" >&2; die "apt-get source failed"; }
dsc=$(compgen -G "$cache_dir/src/wolfssl_${version#*:}.dsc" | head -n 1)
[[ -n $dsc ]] || die "no .dsc for wolfssl $version in $cache_dir/src"

# --- build ----------------------------------------------------------------------------------

build=$cache_dir/build
log=$cache_dir/build.log
rm -rf "$build"
mkdir -p "$build"
say "unpacking with Debian's patches"
dpkg-source -x "$dsc" "$build/wolfssl" >"$log" 2>&1 || { tail -5 "$log" >&2; die "dpkg-source -x failed"; }
cd "$build/wolfssl"
for p in "${patches[@]}"; do
    say "applying ward's $(basename "$p")"
    patch -p1 --forward --no-backup-if-mismatch <"$p" >>"$log" 2>&1 || { tail -5 "$log" >&2; die "$(basename "$p") does not apply to wolfssl $version"; }
done
say "configuring: ${options[*]} (log: $log)"
{ autoreconf -fi && ./configure --prefix="$prefix" "${options[@]}" CPPFLAGS="$cppflags"; } >>"$log" 2>&1 ||
    { tail -20 "$log" >&2; die "configure failed (full log: $log)"; }
# The memory per session the flavour counts on: no fixed certificate chains in sessions.
! grep -q 'SESSION_CERTS' wolfssl/options.h || die "the configuration enables SESSION_CERTS (37-56 KB per session)"
# The SSLv2-compatible ClientHello parser reads past its record (it never checks the length),
# more so with the larger WOLFSSL_MAX_SUITE_SZ above: it must not be compiled in.
! grep -q 'OLD_HELLO_ALLOWED' wolfssl/options.h || die "the configuration enables OLD_HELLO_ALLOWED (SSLv2 hellos)"
say "building with make -j$jobs"
make -j"$jobs" >>"$log" 2>&1 || { tail -20 "$log" >&2; die "make failed (full log: $log)"; }

# Staged next to the prefix and renamed into place.
mkdir -p "$(dirname "$prefix")"
stage=$(mktemp -d "$(dirname "$prefix")/.wolfssl-stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
make install DESTDIR="$stage" >>"$log" 2>&1 || { tail -20 "$log" >&2; die "make install failed"; }
printf '%s\n' "$stamp" >"$stage$prefix/ward-build-stamp"
rm -rf "$prefix.old"
[[ -e $prefix ]] && mv "$prefix" "$prefix.old"
mv "$stage$prefix" "$prefix"
rm -rf "$prefix.old" "$build"
[[ -f $prefix/lib/libwolfssl.so ]] || die "no libwolfssl.so in $prefix after the install"
say "wolfSSL $version built into $prefix (GPL-2.0-or-later)"
