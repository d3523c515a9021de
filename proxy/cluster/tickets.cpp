// SPDX-License-Identifier: Apache-2.0
#include "proxy/cluster/tickets.hpp"

#include <openssl/crypto.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "config/values.hpp"

namespace ward::cluster {

namespace json = boost::json;

namespace {

constexpr std::int64_t kVersion = 1;

template <std::size_t N>
std::string text_of(const std::array<unsigned char, N>& bytes) {
    return base64(std::string_view(reinterpret_cast<const char*>(bytes.data()), N));
}

json::object key_object(const tls::TicketKey& k) {
    return json::object{{"name", text_of(k.name)}, {"aes", text_of(k.aes)}, {"hmac", text_of(k.hmac)}};
}

template <std::size_t N>
bool bytes_of(const json::object& o, std::string_view field, std::array<unsigned char, N>& out) {
    const auto* v = o.if_contains(field);
    if (!v || !v->is_string()) return false;
    auto decoded = unbase64(std::string_view(v->as_string().data(), v->as_string().size()));
    if (!decoded || decoded->size() != N) return false;
    std::copy(decoded->begin(), decoded->end(), out.begin());
    OPENSSL_cleanse(decoded->data(), decoded->size());
    return true;
}

bool key_of(const json::object& set, std::string_view field, tls::TicketKey& out) {
    const auto* v = set.if_contains(field);
    return v && v->is_object() && v->as_object().size() == 3 && bytes_of(v->as_object(), "name", out.name) &&
           bytes_of(v->as_object(), "aes", out.aes) && bytes_of(v->as_object(), "hmac", out.hmac);
}

}  // namespace

std::string encode_ticket_keys(const TicketKeySet& set) {
    return json::serialize(json::object{{"version", kVersion},
                                        {"rotated_by", set.rotated_by},
                                        {"rotated", set.rotated},
                                        {"previous", key_object(set.previous)},
                                        {"current", key_object(set.current)},
                                        {"next", key_object(set.next)}});
}

Result<TicketKeySet> decode_ticket_keys(std::string_view value) {
    if (value.size() > 4096) return Error{"the ticket key set is too large"};
    boost::system::error_code ec;
    auto parsed = json::parse(value, ec);
    if (ec || !parsed.is_object()) return Error{"the ticket key set is not a JSON object"};
    const auto& o = parsed.as_object();
    const auto* version = o.if_contains("version");
    if (!version || !version->is_int64() || version->as_int64() != kVersion)
        return Error{"the ticket key set is not of version 1"};
    TicketKeySet out;
    const auto* by = o.if_contains("rotated_by");
    const auto* when = o.if_contains("rotated");
    if (!by || !by->is_string() || !config::is_cluster_name(std::string_view(by->as_string().data(), by->as_string().size())))
        return Error{"the ticket key set does not name the node that made it"};
    if (!when || !when->is_int64() || when->as_int64() <= 0) return Error{"the ticket key set has no rotation time"};
    out.rotated_by = std::string(by->as_string().data(), by->as_string().size());
    out.rotated = when->as_int64();
    if (o.size() != 6 || !key_of(o, "previous", out.previous) || !key_of(o, "current", out.current) ||
        !key_of(o, "next", out.next))
        return Error{"the ticket key set does not hold three whole keys"};
    if (out.previous.name == out.current.name || out.current.name == out.next.name || out.previous.name == out.next.name)
        return Error{"the ticket key set names two keys alike"};
    return out;
}

Result<TicketKeySet> rotate_ticket_keys(const std::optional<TicketKeySet>& was, const std::string& node,
                                        std::int64_t now) {
    TicketKeySet out;
    out.rotated_by = node;
    out.rotated = now;
    bool ok = tls::random_ticket_key(out.next);
    if (was) {
        out.previous = was->current;
        out.current = was->next;
    } else {
        ok = ok && tls::random_ticket_key(out.previous) && tls::random_ticket_key(out.current);
    }
    if (!ok) return Error{"the random generator failed"};
    return out;
}

awaitable<Result<Rotation>> rotate_in_etcd(EtcdClient& client, std::string key, std::string node, std::int64_t now,
                                           std::int64_t expected, std::optional<TicketKeySet> was) {
    auto fresh = rotate_ticket_keys(was, node, now);
    if (!fresh) co_return Error{fresh.error()};
    auto value = encode_ticket_keys(*fresh);
    auto put_op = client.put_if_revision(key, value, 0, expected);
    auto put = co_await std::move(put_op);
    OPENSSL_cleanse(value.data(), value.size());
    if (!put) co_return Error{put.error()};
    Rotation out;
    if (put->succeeded) {
        out.won = true;
        out.set = std::move(*fresh);
        out.revision = put->revision;
        co_return out;
    }
    if (put->range.kvs.empty()) co_return Error{"the ticket key set changed and then went away"};
    auto there = decode_ticket_keys(put->range.kvs.front().value);
    if (!there) co_return Error{there.error()};
    out.set = std::move(*there);
    out.revision = put->range.kvs.front().mod_revision;
    co_return out;
}

}  // namespace ward::cluster
