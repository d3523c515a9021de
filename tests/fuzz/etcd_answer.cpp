// SPDX-License-Identifier: Apache-2.0
// libFuzzer: what ward reads from etcd's JSON gateway (proxy/cluster/etcd_json): every answer
// reader on the same bytes, and a watch stream cut into lines as the client cuts it.
// Invariants: no crash, no ASan/UBSan report; a refusal says why; a range read back holds
// what a body ward wrote for the same key names (the base64 both ways agree).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proxy/cluster/etcd_json.hpp"

using namespace ward::cluster;

namespace {

template <class R>
void refusal_says_why(const R& r) {
    if (!r && r.error().empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    refusal_says_why(etcd_answer::lease_grant(in));
    refusal_says_why(etcd_answer::lease_keep_alive(in));
    refusal_says_why(etcd_answer::lease_revoke(in));
    refusal_says_why(etcd_answer::lease_time_to_live(in));
    refusal_says_why(etcd_answer::put(in));
    refusal_says_why(etcd_answer::range(in));
    refusal_says_why(etcd_answer::delete_range(in));
    refusal_says_why(etcd_answer::txn(in));
    (void)etcd_answer::error_of(in);
    for (std::size_t at = 0; at <= in.size();) {
        const auto eol = std::min(in.find('\n', at), in.size());
        refusal_says_why(etcd_answer::watch(in.substr(at, eol - at)));
        at = eol + 1;
    }
    // The input as a key and a value: what ward writes reads back the same.
    const auto half = in.substr(0, size / 2);
    const auto body = etcd_body::put(half, in.substr(size / 2), 7);
    const std::string answer = "{\"header\":{\"revision\":\"9\"},\"kvs\":[" +
                               body.substr(0, body.size() - 1) + ",\"mod_revision\":\"9\"}]}";
    auto r = etcd_answer::range(answer);
    if (!r || r->kvs.size() != 1 || r->kvs[0].key != half || r->kvs[0].value != in.substr(size / 2) ||
        r->kvs[0].lease != 7)
        std::abort();
    if (prefix_end(half) <= std::string(half) && !half.empty() && half.find_first_not_of('\xff') != std::string_view::npos)
        std::abort();
    return 0;
}
