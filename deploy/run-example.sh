#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds ward and runs the demo stack in the foreground: prosody (XMPP, two demo accounts made
# with prosodyctl), sipp answering SIP (OPTIONS and calls), and ward in front of both with the
# bundled example configuration (deploy/examples/ward.yaml) and its admin console. Then it
# prints how to connect; Ctrl-C stops all of it.
#
# Everything it makes lives in one folder (default build/example): the development PKI, the
# configuration with its ports, prosody's data, the accounts and the logs.
#
# Environment:
#   WARD_BIN=PATH            use this ward binary (no dependency install, no build)
#   WARD_EXAMPLE_DIR=DIR     the folder (default: build/example)
#   WARD_EXAMPLE_PORTS=auto  free ports chosen now instead of the documented ones (15222, ...)
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
examples="$top/deploy/examples"
state=${WARD_EXAMPLE_DIR:-$top/build/example}

if [ -z "${WARD_BIN:-}" ]; then
  "$top/deploy/install-deps.sh"
  cmake -S "$top" -B "$top/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$top/build" --target ward
  WARD_BIN="$top/build/proxy/ward"
fi
ward=$WARD_BIN
for tool in prosody prosodyctl sipp openssl go-sendxmpp; do
  command -v "$tool" >/dev/null || { echo "run-example: $tool is missing (deploy/install-deps.sh installs it)" >&2; exit 1; }
done
mkdir -p "$state"
chmod 700 "$state"

# --- ports: the documented ones, or free ones --------------------------------------------------
names=(c2s c2s_direct s2s s2s_out web https sip admin metrics prosody_c2s prosody_s2s prosody_http sip_backend)
# (The backends on 25xxx: a prosody or SIP server the system already runs keeps 5222, 5060.)
defaults=(15222 15223 15269 15270 15443 18443 15061 9443 9464 25222 25269 25280 25060)
declare -A port
if [ "${WARD_EXAMPLE_PORTS:-}" = auto ]; then
  # Bound together (so all differ), read back, closed: free a moment ago.
  read -r -a free < <(/usr/bin/python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "${#names[@]}")
  for i in "${!names[@]}"; do port[${names[$i]}]=${free[$i]}; done
else
  for i in "${!names[@]}"; do port[${names[$i]}]=${defaults[$i]}; done
fi

# --- the configuration, with the ports in place ----------------------------------------------
sed -e "s/127\.0\.0\.1:15222/127.0.0.1:${port[c2s]}/" \
    -e "s/127\.0\.0\.1:15223/127.0.0.1:${port[c2s_direct]}/" \
    -e "s/127\.0\.0\.1:15269/127.0.0.1:${port[s2s]}/" \
    -e "s/127\.0\.0\.1:15270/127.0.0.1:${port[s2s_out]}/" \
    -e "s/127\.0\.0\.1:15443/127.0.0.1:${port[web]}/" \
    -e "s/127\.0\.0\.1:18443/127.0.0.1:${port[https]}/" \
    -e "s/127\.0\.0\.1:15061/127.0.0.1:${port[sip]}/" \
    -e "s/127\.0\.0\.1:9443/127.0.0.1:${port[admin]}/" \
    -e "s/127\.0\.0\.1:9464/127.0.0.1:${port[metrics]}/" \
    -e "s/127\.0\.0\.1:25222\]/127.0.0.1:${port[prosody_c2s]}]/" \
    -e "s/127\.0\.0\.1:25269\]/127.0.0.1:${port[prosody_s2s]}]/" \
    -e "s/127\.0\.0\.1:25280\]/127.0.0.1:${port[prosody_http]}]/" \
    -e "s/127\.0\.0\.1:25060\]/127.0.0.1:${port[sip_backend]}]/" \
    "$examples/ward.yaml" >"$state/ward.yaml"
cp "$examples/banner.txt" "$state/banner.txt"
[ -f "$state/pki/ca.pem" ] || "$ward" pki init "$state/pki" >/dev/null
"$ward" check -c "$state/ward.yaml"
admin_note="(account admin: its password was printed when it was made, in an earlier run)"
if [ ! -f "$state/admin-users.json" ]; then
  admin_out=$("$ward" admin user add -c "$state/ward.yaml" admin --role admin --generate)
  echo "$admin_out"
  admin_note="(account admin, password above)"
fi

# --- prosody and its demo accounts -------------------------------------------------------------
domain=ward.test
mkdir -p "$state/prosody"
sed -e "s#@DIR@#$state/prosody#g" -e "s/@DOMAIN@/$domain/g" -e "s/@C2S_PORT@/${port[prosody_c2s]}/" \
    -e "s/@S2S_PORT@/${port[prosody_s2s]}/" -e "s/@HTTP_PORT@/${port[prosody_http]}/" \
    "$examples/prosody.cfg.lua.in" >"$state/prosody/prosody.cfg.lua"
accounts="$state/demo-accounts"
if [ ! -f "$accounts" ]; then
  umask 077
  {
    echo "alice=$(openssl rand -hex 12)"
    echo "bob=$(openssl rand -hex 12)"
  } >"$accounts"
  umask 022
fi
declare -A password
while IFS='=' read -r user secret; do password[$user]=$secret; done <"$accounts"
for user in alice bob; do
  prosodyctl --config "$state/prosody/prosody.cfg.lua" register "$user" "$domain" "${password[$user]}" >/dev/null
done

# --- start everything; Ctrl-C (or TERM) stops it all -----------------------------------------
pids=()
stop_all() {
  trap - INT TERM EXIT
  echo
  echo "stopping the demo stack"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  # ward drains established sessions; prosody and sipp stop at once. Ten seconds, then KILL.
  for _ in $(seq 100); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped"
  exit 0
}
trap stop_all INT TERM EXIT

prosody -F --config "$state/prosody/prosody.cfg.lua" >"$state/prosody/stdout.log" 2>&1 &
pids+=($!)
sipp -sn uas -aa -t t1 -i 127.0.0.1 -p "${port[sip_backend]}" -nostdin >"$state/sipp.log" 2>&1 &
pids+=($!)
"$ward" run -c "$state/ward.yaml" >"$state/ward.log" 2>&1 &
ward_pid=$!
pids+=("$ward_pid")

wait_port() {  # host port what
  for _ in $(seq 150); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "run-example: $2 did not start listening on port $1; see $state" >&2
  exit 1
}
wait_port "${port[prosody_c2s]}" prosody
wait_port "${port[sip_backend]}" sipp
wait_port "${port[c2s]}" ward

ca="$state/pki/ca.pem"
sip_request="OPTIONS sip:$domain SIP/2.0\\r\\nVia: SIP/2.0/TLS 127.0.0.1;branch=z9hG4bK-demo\\r\\nMax-Forwards: 70\\r\\nFrom: <sip:demo@$domain>;tag=demo\\r\\nTo: <sip:$domain>\\r\\nCall-ID: demo@127.0.0.1\\r\\nCSeq: 1 OPTIONS\\r\\nContent-Length: 0\\r\\n\\r\\n"
# (Builtins only from here: the stack's processes are this script's only children.)
IFS= read -r -d '' message <<EOF || true

ward is running the demo stack (logs in $state):
  prosody for $domain behind ward's XMPP listeners, accounts alice and bob (passwords in $accounts)
  sipp answering SIP behind ward's mutual-TLS SIP listener
  the admin console at https://127.0.0.1:${port[admin]}/ $admin_note
  metrics at http://127.0.0.1:${port[metrics]}/metrics

Listen as bob (STARTTLS through ward; prints what arrives):
  \$ SSL_CERT_FILE=$ca HOME=$state go-sendxmpp --listen -u bob@$domain -p ${password[bob]} -j 127.0.0.1:${port[c2s]}

Send a message from alice to bob through ward:
  \$ echo 'hello through ward' | SSL_CERT_FILE=$ca HOME=$state go-sendxmpp -u alice@$domain -p ${password[alice]} -j 127.0.0.1:${port[c2s]} bob@$domain

Ask the SIP server for its options over mutual TLS (ward verifies the client certificate sip.$domain):
  \$ printf '$sip_request' | openssl s_client -quiet -connect 127.0.0.1:${port[sip]} -servername sip.$domain -cert $state/pki/sip.pem -key $state/pki/sip.key -CAfile $ca -verify_return_error   # (Ctrl-C ends it)

Ctrl-C stops ward, prosody and sipp.
EOF
printf '%s' "$message"

# In the foreground until ward ends (or Ctrl-C).
wait "$ward_pid" || true
echo "ward exited; see $state/ward.log"
