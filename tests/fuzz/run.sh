#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer harnesses with clang (in build-fuzz) and runs each for N executions
# (default 100000) from its seed corpus (and its dictionary, tests/fuzz/<harness>.dict, if any);
# prints libFuzzer's final stats. A crash fails the run (exit 1) with the reproducer saved in
# build-fuzz/crashes/<harness>/; the other harnesses still run.
set -euo pipefail
runs=${1:-100000}
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${WARD_FUZZ_BUILD_DIR:-$top/build-fuzz}
# Optimised but with assertions on (no -DNDEBUG): a library's own BOOST_ASSERT is a finding too.
cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g" \
  -DCMAKE_CXX_COMPILER=clang++ \
  -DWARD_FUZZ=ON -DWARD_BENCH=OFF -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" --target fuzz_sip_framer fuzz_sip_edge fuzz_xmpp_stream fuzz_config fuzz_admin_input fuzz_web_input fuzz_ntlm_challenge \
  fuzz_proxy_header fuzz_ocsp_response fuzz_xmpp_negotiation fuzz_certificate fuzz_etcd_answer
status=0
for h in sip_framer sip_edge xmpp_stream xmpp_negotiation config admin_input web_input ntlm_challenge proxy_header \
  ocsp_response certificate etcd_answer; do
  corpus="$build/corpus/$h"
  mkdir -p "$corpus" "$build/crashes/$h"
  cp -n "$top/tests/fuzz/corpus/$h/"* "$corpus/" 2>/dev/null || true
  echo "== $h: $runs runs"
  dict=(); [ -f "$top/tests/fuzz/$h.dict" ] && dict=(-dict="$top/tests/fuzz/$h.dict")
  # The negotiation machines read the same XML as the tokenizer: its dictionary.
  [ "$h" = xmpp_negotiation ] && dict=(-dict="$top/tests/fuzz/xmpp_stream.dict")
  log="$build/fuzz-$h.log"
  rc=0
  "$build/tests/fuzz/fuzz_$h" "${dict[@]}" -runs="$runs" -max_len=16384 -print_final_stats=1 \
    -artifact_prefix="$build/crashes/$h/" "$corpus" >"$log" 2>&1 || rc=$?
  grep -E "stat::|Done|ERROR|SUMMARY|crash" "$log" || true
  if [ "$rc" -ne 0 ]; then
    # A crash, a leak or a failed invariant: the whole report, and the reproducer's place.
    echo "== $h FAILED (exit $rc); reproducer in $build/crashes/$h/"
    tail -60 "$log"
    status=1
  fi
done
exit $status
