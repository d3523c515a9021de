#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds OpenSSL's FIPS provider (fips.so) plus the fipsmodule.cnf that `openssl fipsinstall`
# writes for it, and installs both into one directory for ward's security.fips_module_dir.
#
# Why build at all: Debian 12 ships no FIPS provider (its openssl is configured without
# enable-fips). We build one from Debian's own openssl source package, configured like Debian's
# package plus enable-fips. The result is NOT a validated module: good for development and CI,
# not for a FIPS claim. For production, install a validated fips.so and point
# security.fips_module_dir at it instead.
#
# Called by deploy/install-deps.sh on every machine, so it must be cheap when the work is done:
# if the target already holds a fips.so whose fipsmodule.cnf verifies, it exits at once.
# It never touches the system's apt configuration (apt runs against a private source list,
# list dir and cache dir) and never writes into the source tree.
#
# A validated provider: OpenSSL's FIPS 140 validations cover the provider built from one release
# tarball (3.0.8 and 3.0.9 under FIPS 140-2 certificate #4282, 3.1.2 under FIPS 140-3 certificate
# #4985) with `./Configure enable-fips`, as their security policies say. Give that tarball and the
# SHA-256 you checked it against (OpenSSL publishes both); any other tarball is refused, and the
# build uses exactly `Configure enable-fips`:
#   WARD_FIPS_SOURCE=/path/openssl-3.0.9.tar.gz WARD_FIPS_SOURCE_SHA256=<64 hex> build-provider.sh
# The provider then replaces whatever is installed. A provider of a validated version loads into
# Debian 12's libcrypto (the same 3.x series).
#
# Environment:
#   WARD_FIPS_SOURCE         an OpenSSL release tarball to build from instead of Debian's source
#   WARD_FIPS_SOURCE_SHA256  its SHA-256 (required with WARD_FIPS_SOURCE)
#   WARD_FIPS_DIR        install dir (default /usr/local/lib/ward/fips)
#   WARD_FIPS_CACHE_DIR  private apt state, source tarball, build log (default
#                        /var/cache/ward-fips-build as root, ~/.cache/ward-fips-build otherwise)
#   WARD_FIPS_JOBS       make parallelism (default 2)
set -euo pipefail
umask 022

prog=build-provider
fips_dir=${WARD_FIPS_DIR:-/usr/local/lib/ward/fips}
jobs=${WARD_FIPS_JOBS:-2}

say() { printf '%s: %s\n' "$prog" "$*"; }
warn() { printf '%s: warning: %s\n' "$prog" "$*" >&2; }
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }

command -v openssl >/dev/null || die "the openssl command is missing (apt-get install openssl)"
[[ $fips_dir == /* ]] || fips_dir=$PWD/$fips_dir

# An operator's release tarball: checked before anything else happens.
operator_source=${WARD_FIPS_SOURCE:-}
if [[ -n $operator_source || -n ${WARD_FIPS_SOURCE_SHA256:-} ]]; then
    [[ -n $operator_source ]] || die "WARD_FIPS_SOURCE_SHA256 is set but WARD_FIPS_SOURCE (the tarball) is not"
    want=${WARD_FIPS_SOURCE_SHA256:-}
    [[ -n $want ]] || die "WARD_FIPS_SOURCE needs WARD_FIPS_SOURCE_SHA256: the SHA-256 you checked the tarball against"
    want=${want,,}
    [[ $want =~ ^[0-9a-f]{64}$ ]] || die "WARD_FIPS_SOURCE_SHA256 is not 64 hex digits"
    [[ $operator_source == /* ]] || operator_source=$PWD/$operator_source
    [[ -f $operator_source ]] || die "$operator_source is not a file"
    got=$(sha256sum "$operator_source" | cut -d' ' -f1)
    [[ $got == "$want" ]] ||
        die "refusing $operator_source: its SHA-256 is $got, not the $want given in WARD_FIPS_SOURCE_SHA256"
    say "$(basename "$operator_source"): SHA-256 matches WARD_FIPS_SOURCE_SHA256"
fi

# `fipsinstall -verify` recomputes the module's HMAC and checks it (and the install status)
# against fipsmodule.cnf, so a truncated, replaced or half-installed provider does not pass.
installed_and_verified() {
    [[ -f $fips_dir/fips.so && -f $fips_dir/fipsmodule.cnf ]] || return 1
    openssl fipsinstall -module "$fips_dir/fips.so" -in "$fips_dir/fipsmodule.cnf" -verify \
        >/dev/null 2>&1
}

if [[ -z $operator_source ]] && installed_and_verified; then
    say "FIPS provider already present and verified in $fips_dir"
    exit 0
fi

start=$SECONDS

# --- privileges and cache ----------------------------------------------------------------------

if [[ -z ${WARD_FIPS_CACHE_DIR:-} ]]; then
    if ((EUID == 0)); then
        cache_dir=/var/cache/ward-fips-build
    else
        cache_dir=${XDG_CACHE_HOME:-$HOME/.cache}/ward-fips-build
    fi
else
    cache_dir=$WARD_FIPS_CACHE_DIR
fi
[[ $cache_dir == /* ]] || cache_dir=$PWD/$cache_dir

# Only installing into the target needs root; the download and build run as the caller.
nearest_existing=$fips_dir
while [[ ! -e $nearest_existing ]]; do nearest_existing=$(dirname "$nearest_existing"); done
as_target_owner=()
if [[ ! -w $nearest_existing ]]; then
    command -v sudo >/dev/null || die "$nearest_existing is not writable and sudo is missing; run as root"
    as_target_owner=(sudo)
fi
target() { "${as_target_owner[@]}" "$@"; }

mkdir -p "$cache_dir"
# Two concurrent callers (e.g. parallel CI steps) must not share one build tree.
exec 9>"$cache_dir/lock"
if ! flock -n 9; then
    say "another build holds $cache_dir/lock; waiting for it"
    flock 9
    if [[ -z $operator_source ]] && installed_and_verified; then
        say "FIPS provider now present and verified in $fips_dir"
        exit 0
    fi
fi

missing_tools=()
for tool in apt-get apt-cache apt-config perl make cc tar gzip sha256sum; do
    command -v "$tool" >/dev/null || missing_tools+=("$tool")
done
((${#missing_tools[@]} == 0)) ||
    die "missing tools: ${missing_tools[*]} (install build-essential perl make, e.g. via deploy/install-deps.sh)"

if [[ -e $fips_dir/fips.so || -e $fips_dir/fipsmodule.cnf ]]; then
    say "$fips_dir holds a fips.so/fipsmodule.cnf pair that does not verify; rebuilding it"
else
    say "no FIPS provider in $fips_dir; building one from Debian's openssl source (cache: $cache_dir)"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ward-fips.XXXXXX")
stage=
cleanup() {
    rm -rf "$tmp"
    if [[ -n $stage ]]; then target rm -rf "$stage"; fi
}
trap cleanup EXIT

show_log_tail() {
    printf '%s: last lines of %s:\n' "$prog" "$1" >&2
    tail -n "${2:-25}" "$1" | sed 's/^/    /' >&2
}

# Debian's openssl source package, through a private apt state (the default source).
fetch_debian_source() {
# --- private deb-src list derived from the machine's Debian apt sources ------------------------

eval "$(apt-config shell sys_lists Dir::State::lists/d src_list Dir::Etc::sourcelist/f \
    src_parts Dir::Etc::sourceparts/d)"
sys_lists=${sys_lists:-/var/lib/apt/lists/}
src_list=${src_list:-/etc/apt/sources.list}
src_parts=${src_parts:-/etc/apt/sources.list.d/}

# Prints "uri<US>suite<US>components<US>signed-by" for every enabled "deb" entry of a deb822
# .sources file. Inline Signed-By key blocks are dropped: the system keyrings
# (/etc/apt/trusted.gpg.d) still cover Debian's own archives.
deb822_entries() {
    awk -v OFS=$'\x1f' '
        function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
        function flush(  n, m, i, j, U, S) {
            if (types ~ /(^|[ \t])deb([ \t]|$)/ && tolower(enabled) != "no") {
                n = split(uris, U, /[ \t]+/); m = split(suites, S, /[ \t]+/)
                for (i = 1; i <= n; i++) for (j = 1; j <= m; j++)
                    if (U[i] != "" && S[j] != "") print U[i], S[j], trim(comps), signed
            }
            types = uris = suites = comps = signed = enabled = key = ""
        }
        /^[ \t]*#/ { next }
        /^[ \t]*$/ { flush(); next }
        /^[ \t]/ {
            if (key == "signed-by") signed = ""      # an inline key block
            else if (key == "uris") uris = uris " " trim($0)
            else if (key == "suites") suites = suites " " trim($0)
            else if (key == "components") comps = comps " " trim($0)
            next
        }
        {
            key = tolower(trim(substr($0, 1, index($0, ":") - 1)))
            val = trim(substr($0, index($0, ":") + 1))
            if (key == "types") types = val
            else if (key == "uris") uris = val
            else if (key == "suites") suites = val
            else if (key == "components") comps = val
            else if (key == "enabled") enabled = val
            else if (key == "signed-by") { signed = val; gsub(/[ \t]+/, ",", signed)
                                           if (signed ~ /^-----BEGIN/) signed = "" }
        }
        END { flush() }
    ' "$1"
}

# Same for one-line "deb [options] uri suite components..." files.
one_line_entries() {
    awk -v OFS=$'\x1f' '
        { sub(/#.*/, "") }
        $1 == "deb" {
            rest = substr($0, index($0, "deb") + 3); opts = ""
            if (rest ~ /^[ \t]*\[/) {
                opts = substr(rest, index(rest, "[") + 1, index(rest, "]") - index(rest, "[") - 1)
                rest = substr(rest, index(rest, "]") + 1)
            }
            n = split(rest, f, /[ \t]+/); k = 0
            for (i = 1; i <= n; i++) if (f[i] != "") w[++k] = f[i]
            if (k < 2) next
            comps = ""; for (i = 3; i <= k; i++) comps = comps (i > 3 ? " " : "") w[i]
            signed = ""
            if (match(opts, /signed-by=[^ \t]+/)) signed = substr(opts, RSTART + 10, RLENGTH - 10)
            print w[1], w[2], comps, signed
        }
    ' "$1"
}

# A source counts as Debian's when the Release file apt already fetched for it says
# "Origin: Debian" (mirrors and proxies included, third-party repos excluded whatever their
# path). On a machine whose lists were never fetched, fall back to the URI: a debian.org host or
# a mirror path ending in /debian or /debian-security. A third-party repo that slips through that
# only costs a failed Sources fetch, which the update step tolerates.
is_debian_source() {
    local uri=$1 suite=$2 base host release
    base=${uri#*://}; base=${base%/}; base=${base//\//_}
    for release in "$sys_lists${base}_dists_${suite//\//_}_InRelease" \
                   "$sys_lists${base}_dists_${suite//\//_}_Release"; do
        if [[ -f $release ]]; then
            grep -qE '^Origin: Debian( Backports)?$' "$release"
            return
        fi
    done
    host=${uri#*://}; host=${host%%/*}; host=${host##*@}; host=${host%%:*}
    [[ $host == debian.org || $host == *.debian.org || ${uri%/} =~ /debian(-security)?$ ]]
}

apt_dir=$cache_dir/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/cache" "$cache_dir/src"
{
    for f in "$src_parts"*.sources; do
        if [[ -f $f ]]; then deb822_entries "$f"; fi
    done
    for f in "$src_list" "$src_parts"*.list; do
        if [[ -f $f ]]; then one_line_entries "$f"; fi
    done
} >"$tmp/entries"

: >"$tmp/sources.list"
while IFS=$'\x1f' read -r uri suite comps signed; do
    [[ $uri == cdrom:* ]] && continue
    if ! is_debian_source "$uri" "$suite"; then
        say "skipping non-Debian apt source $uri $suite"
        continue
    fi
    printf 'deb-src %s%s %s %s\n' "${signed:+[signed-by=$signed] }" "$uri" "$suite" "$comps" \
        >>"$tmp/sources.list"
done <"$tmp/entries"
sort -u "$tmp/sources.list" >"$apt_dir/sources.list"
[[ -s $apt_dir/sources.list ]] ||
    die "found no Debian entries in $src_list or $src_parts (need a deb.debian.org or Debian-mirror source)"
say "private deb-src list $apt_dir/sources.list:"
sed 's/^/    /' "$apt_dir/sources.list"

apt_opts=(
    -o "Dir::Etc::SourceList=$apt_dir/sources.list"
    -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache=$apt_dir/cache"
    -o "Dir::Cache::Archives=$apt_dir/archives"
)
# As root, apt downloads as the unprivileged _apt user; give it the private download dirs so it
# does not fall back to unsandboxed downloads (and warn about it).
if ((EUID == 0)) && id _apt >/dev/null 2>&1; then
    chown _apt "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$cache_dir/src"
fi

say "updating the private apt lists"
apt_log=$cache_dir/apt.log
if ! apt-get "${apt_opts[@]}" -q update >"$apt_log" 2>&1; then
    # Partial failures (one mirror down) still leave usable Sources indexes; judged below.
    warn "apt-get update reported errors (full output: $apt_log)"
    grep -E '^(E|W):' "$apt_log" | sed 's/^/    /' >&2 || true
fi

apt-cache "${apt_opts[@]}" showsrc --only-source openssl >"$tmp/showsrc" 2>>"$apt_log" || true
[[ -s $tmp/showsrc ]] || { show_log_tail "$apt_log"; die "no openssl source package in the private apt lists"; }

# The SHA-256 the signed Sources index lists for a file, so a cached or partly downloaded
# tarball is checked the same way apt checks it.
indexed_sha256() {
    awk -v name="$1" '/^Checksums-Sha256:/ { f = 1; next } /^[^ ]/ { f = 0 }
                      f && $3 == name { print $1; exit }' "$tmp/showsrc"
}

orig_ok() {
    local file=$1 want
    want=$(indexed_sha256 "$(basename "$file")")
    [[ -n $want ]] && [[ $(sha256sum "$file" | cut -d' ' -f1) == "$want" ]]
}

# Newest verified upstream tarball already in the cache, if any.
find_orig() {
    local f candidates
    mapfile -t candidates < <(compgen -G "$cache_dir/src/openssl_*.orig.tar.[gx]z" | sort -rV)
    for f in "${candidates[@]}"; do
        if orig_ok "$f"; then echo "$f"; return 0; fi
        warn "dropping $f: its SHA-256 does not match the Sources index"
        rm -f "$f"
    done
    return 1
}

fetch_source() {
    # The newest version's .dsc/.debian.tar.xz can 404 on the mirror (apt-get then exits 100)
    # while its orig tarball downloads fine, and the tarball is all this build needs, so the
    # result is judged by the tarball, not the exit status.
    (cd "$cache_dir/src" && apt-get "${apt_opts[@]}" -q source --download-only --only-source "$1") \
        >>"$apt_log" 2>&1 || true
}

orig=$(find_orig) || orig=
if [[ -n $orig ]]; then
    say "using cached $(basename "$orig")"
else
    say "downloading the openssl source package"
    fetch_source openssl
    orig=$(find_orig) || orig=
    if [[ -z $orig ]]; then
        mapfile -t versions < <(sed -n 's/^Version: //p' "$tmp/showsrc" | sort -u | sort -rV)
        for version in "${versions[@]}"; do
            say "no orig tarball yet; trying openssl=$version"
            fetch_source "openssl=$version"
            orig=$(find_orig) && break
            orig=
        done
    fi
    [[ -n $orig ]] || { show_log_tail "$apt_log"; die "could not download any openssl orig tarball (see $apt_log)"; }
    say "downloaded $(basename "$orig") (SHA-256 matches the signed Sources index)"
fi
# Other versions' tarballs are of no further use.
for f in "$cache_dir/src"/openssl_*; do
    [[ $f == "$orig" ]] || rm -f "$f"
done
}

if [[ -n $operator_source ]]; then
    orig=$operator_source
else
    fetch_debian_source
fi

# --- build ------------------------------------------------------------------------------------

build_dir=$cache_dir/build
build_log=$cache_dir/build.log
rm -rf "$build_dir"
mkdir -p "$build_dir/obj"
tar -xf "$orig" -C "$build_dir"
src_dir=$(find "$build_dir" -mindepth 1 -maxdepth 1 -type d -name 'openssl-*' | head -n 1)
[[ -n $src_dir && -x $src_dir/Configure ]] || die "$(basename "$orig") holds no openssl-*/Configure"
if [[ -n $operator_source ]]; then
    say "building from $(basename "$src_dir") (the operator's tarball)"
fi

# Debian's CONFARGS (debian/rules) plus enable-fips; only the target differs per architecture,
# and an unknown architecture lets Configure guess.
case $(dpkg --print-architecture 2>/dev/null || uname -m) in
    amd64 | x86_64) target=(enable-ec_nistp_64_gcc_128 linux-x86_64) ;;
    arm64 | aarch64) target=(enable-ec_nistp_64_gcc_128 linux-aarch64) ;;
    *) target=() ;;
esac

if [[ -n $operator_source ]]; then
    # Exactly what the validated modules' security policies say: Configure enable-fips.
    configure_args=(enable-fips)
else
    configure_args=(shared enable-fips --prefix=/usr --openssldir=/usr/lib/ssl --libdir="lib/$(cc -dumpmachine)"
        no-idea no-mdc2 no-rc5 no-zlib no-ssl3 no-ssl3-method enable-rfc3779 enable-cms no-capieng no-rdrand
        "${target[@]}")
fi
say "configuring $(basename "$src_dir") with ${configure_args[*]} (log: $build_log)"
if ! (cd "$build_dir/obj" && "$src_dir/Configure" "${configure_args[@]}") >"$build_log" 2>&1; then
    show_log_tail "$build_log"
    die "Configure failed (full log: $build_log)"
fi

say "building providers/fips.so with make -j$jobs"
if ! (cd "$build_dir/obj" && make -j"$jobs" build_generated && make -j"$jobs" providers/fips.so) \
        >>"$build_log" 2>&1; then
    show_log_tail "$build_log"
    die "make failed (full log: $build_log)"
fi
[[ -f $build_dir/obj/providers/fips.so ]] || die "make succeeded but produced no providers/fips.so"

# --- install ----------------------------------------------------------------------------------

# Stage next to the target and rename into place, so a running process or a concurrent reader
# never sees a half-written fips.so.
say "installing into $fips_dir"
target mkdir -p "$fips_dir"
stage=$(target mktemp -d "$fips_dir/.staging.XXXXXX")
target install -m 0644 "$build_dir/obj/providers/fips.so" "$stage/fips.so"
# fipsinstall loads the module, runs its self tests and records the module's HMAC; the file's
# path is not recorded, so the staged config stays valid after the rename.
if ! target openssl fipsinstall -module "$stage/fips.so" -out "$stage/fipsmodule.cnf" \
        >"$tmp/fipsinstall.log" 2>&1; then
    show_log_tail "$tmp/fipsinstall.log"
    die "openssl fipsinstall failed for the freshly built fips.so"
fi
target mv -f "$stage/fips.so" "$fips_dir/fips.so"
target mv -f "$stage/fipsmodule.cnf" "$fips_dir/fipsmodule.cnf"
target rmdir "$stage"
stage=

installed_and_verified || die "fipsinstall -verify fails on the installed $fips_dir"

# Load it the way ward does (fips + base, fips=yes) through a throwaway config and require
# SHA-256 to work and MD5 to be refused.
cat >"$tmp/openssl-fips.cnf" <<EOF
openssl_conf = openssl_init
.include $fips_dir/fipsmodule.cnf
[openssl_init]
providers = provider_sect
alg_section = algorithm_sect
[provider_sect]
fips = fips_sect
base = base_sect
[base_sect]
activate = 1
[algorithm_sect]
default_properties = fips=yes
EOF
with_fips() { OPENSSL_CONF=$tmp/openssl-fips.cnf OPENSSL_MODULES=$fips_dir "$@"; }
providers=$(with_fips openssl list -providers 2>&1) || true
if ! awk '/^  fips$/ { f = 1 } f && /status: active/ { ok = 1 } END { exit !ok }' <<<"$providers"; then
    printf '%s\n' "$providers" | sed 's/^/    /' >&2
    die "the installed provider does not load through a fips=yes config"
fi
echo abc | with_fips openssl dgst -sha256 >/dev/null 2>&1 || die "SHA-256 fails under the FIPS provider"
if echo abc | with_fips openssl dgst -md5 >/dev/null 2>&1; then
    die "MD5 still works under the FIPS config: the provider is not restricting fetches"
fi
version=$(awk '/^  fips$/ { f = 1 } f && /version:/ { print $2; exit }' <<<"$providers")

rm -rf "$build_dir"
say "FIPS provider ${version:-?} installed and verified in $fips_dir ($((SECONDS - start)) s)"
case $version in
    3.0.8 | 3.0.9) say "version $version: validated under FIPS 140-2 certificate #4282 when built as its security policy says" ;;
    3.1.2) say "version $version: validated under FIPS 140-3 certificate #4985 when built as its security policy says" ;;
    *) say "note: version ${version:-?} is not a FIPS 140 validated one; use a validated version for a FIPS claim" ;;
esac
