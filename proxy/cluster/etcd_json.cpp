// SPDX-License-Identifier: Apache-2.0
#include "proxy/cluster/etcd_json.hpp"

#include <charconv>
#include <optional>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace ward::cluster {

namespace json = boost::json;

namespace {

std::string number(std::int64_t v) { return std::to_string(v); }

// A 64-bit field: the gateway writes them as strings; absent means zero.
std::optional<std::int64_t> int_field(const json::object& o, std::string_view name) {
    const auto* v = o.if_contains(name);
    if (v == nullptr) return 0;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
        return static_cast<std::int64_t>(v->as_uint64());
    if (!v->is_string()) return std::nullopt;
    const auto& s = v->as_string();
    std::int64_t out = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
    return out;
}

std::optional<std::string> bytes_field(const json::object& o, std::string_view name) {
    const auto* v = o.if_contains(name);
    if (v == nullptr) return std::string();
    if (!v->is_string()) return std::nullopt;
    return unbase64(std::string_view(v->as_string().data(), v->as_string().size()));
}

bool bool_field(const json::object& o, std::string_view name) {
    const auto* v = o.if_contains(name);
    return v != nullptr && v->is_bool() && v->as_bool();
}

Error malformed(std::string_view what) { return Error{"etcd's answer is not understood: " + std::string(what)}; }

// The answer as an object, or why not (an error answer says its reason).
Result<json::object> object_of(std::string_view text) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec || !v.is_object()) return malformed("not a JSON object");
    auto& o = v.as_object();
    if (const auto* e = o.if_contains("error")) {
        std::string why = "etcd refused: ";
        if (e->is_string()) why += std::string(e->as_string());
        else if (e->is_object() && e->as_object().if_contains("message") && e->as_object().at("message").is_string())
            why += std::string(e->as_object().at("message").as_string());
        else why += "(no reason given)";
        return Error{why};
    }
    return std::move(o);
}

Result<std::int64_t> header_revision(const json::object& o) {
    const auto* h = o.if_contains("header");
    if (h == nullptr || !h->is_object()) return malformed("no header");
    auto r = int_field(h->as_object(), "revision");
    // (A revision is positive, and one past it must be one too: a watch starts there.)
    if (!r || *r < 0 || *r == INT64_MAX) return malformed("header.revision");
    return *r;
}

Result<EtcdKv> kv_of(const json::value& v) {
    if (!v.is_object()) return malformed("a key-value is not an object");
    const auto& o = v.as_object();
    EtcdKv kv;
    auto key = bytes_field(o, "key");
    auto value = bytes_field(o, "value");
    auto created = int_field(o, "create_revision");
    auto modified = int_field(o, "mod_revision");
    auto lease = int_field(o, "lease");
    if (!key || !value || !created || !modified || !lease) return malformed("a key-value's fields");
    kv.key = std::move(*key);
    kv.value = std::move(*value);
    kv.create_revision = *created;
    kv.mod_revision = *modified;
    kv.lease = *lease;
    return kv;
}

Result<EtcdRange> range_of(const json::object& o) {
    EtcdRange out;
    auto revision = header_revision(o);
    if (!revision) return Error{revision.error()};
    out.revision = *revision;
    if (const auto* kvs = o.if_contains("kvs")) {
        if (!kvs->is_array()) return malformed("kvs is not a list");
        for (const auto& v : kvs->as_array()) {
            auto kv = kv_of(v);
            if (!kv) return Error{kv.error()};
            out.kvs.push_back(std::move(*kv));
        }
    }
    return out;
}

// Streaming methods wrap each message in {"result": ...}.
Result<json::object> result_of(std::string_view text) {
    auto o = object_of(text);
    if (!o) return o;
    const auto* r = o->if_contains("result");
    if (r == nullptr || !r->is_object()) return malformed("no result");
    return r->as_object();
}

}  // namespace

std::string prefix_end(std::string_view prefix) {
    std::string end(prefix);
    while (!end.empty()) {
        auto& last = reinterpret_cast<unsigned char&>(end.back());
        if (last < 0xff) {
            ++last;
            return end;
        }
        end.pop_back();
    }
    return std::string(1, '\0');  // every key: etcd's "\0" range end
}

namespace etcd_body {

std::string lease_grant(std::int64_t ttl_seconds) { return json::serialize(json::object{{"TTL", number(ttl_seconds)}}); }
std::string lease_keep_alive(std::int64_t lease) { return json::serialize(json::object{{"ID", number(lease)}}); }
std::string lease_revoke(std::int64_t lease) { return json::serialize(json::object{{"ID", number(lease)}}); }
std::string lease_time_to_live(std::int64_t lease) { return json::serialize(json::object{{"ID", number(lease)}}); }

std::string put(std::string_view key, std::string_view value, std::int64_t lease) {
    json::object o{{"key", base64(key)}, {"value", base64(value)}};
    if (lease != 0) o["lease"] = number(lease);
    return json::serialize(o);
}

std::string range(std::string_view key, bool prefix) {
    json::object o{{"key", base64(key)}};
    if (prefix) o["range_end"] = base64(prefix_end(key));
    return json::serialize(o);
}

std::string delete_range(std::string_view key) { return json::serialize(json::object{{"key", base64(key)}}); }

std::string put_if_revision(std::string_view key, std::string_view value, std::int64_t lease, std::int64_t expected) {
    json::object put_request{{"key", base64(key)}, {"value", base64(value)}};
    if (lease != 0) put_request["lease"] = number(lease);
    // MOD revision EQUAL expected; expected 0 matches a key that does not exist.
    json::object compare{{"key", base64(key)}, {"target", "MOD"}, {"result", "EQUAL"}, {"mod_revision", number(expected)}};
    json::object o{{"compare", json::array{compare}},
                   {"success", json::array{json::object{{"request_put", put_request}}}},
                   {"failure", json::array{json::object{{"request_range", json::object{{"key", base64(key)}}}}}}};
    return json::serialize(o);
}

std::string watch_create(std::string_view prefix, std::int64_t start_revision) {
    json::object create{{"key", base64(prefix)}, {"range_end", base64(prefix_end(prefix))}};
    if (start_revision > 0) create["start_revision"] = number(start_revision);
    return json::serialize(json::object{{"create_request", create}});
}

}  // namespace etcd_body

namespace etcd_answer {

std::string error_of(std::string_view text) {
    auto o = object_of(text);
    if (o) return {};
    return o.error().rfind("etcd refused: ", 0) == 0 ? o.error() : std::string();
}

Result<std::int64_t> lease_grant(std::string_view text) {
    auto o = object_of(text);
    if (!o) return Error{o.error()};
    auto id = int_field(*o, "ID");
    if (!id || *id == 0) return malformed("no lease ID");
    return *id;
}

Result<std::int64_t> lease_keep_alive(std::string_view text) {
    auto o = result_of(text);
    if (!o) return Error{o.error()};
    auto ttl = int_field(*o, "TTL");
    if (!ttl) return malformed("TTL");
    return *ttl > 0 ? *ttl : 0;
}

Status lease_revoke(std::string_view text) {
    auto o = object_of(text);
    if (!o) return Error{o.error()};
    auto revision = header_revision(*o);
    if (!revision) return Error{revision.error()};
    return {};
}

Result<std::int64_t> lease_time_to_live(std::string_view text) {
    auto o = object_of(text);
    if (!o) return Error{o.error()};
    auto revision = header_revision(*o);
    if (!revision) return Error{revision.error()};
    auto ttl = int_field(*o, "TTL");
    if (!ttl) return malformed("TTL");
    return *ttl > 0 ? *ttl : 0;  // etcd says -1 for a lease that is gone
}

Result<std::int64_t> put(std::string_view text) {
    auto o = object_of(text);
    if (!o) return Error{o.error()};
    return header_revision(*o);
}

Result<EtcdRange> range(std::string_view text) {
    auto o = object_of(text);
    if (!o) return Error{o.error()};
    return range_of(*o);
}

Result<std::int64_t> delete_range(std::string_view text) {
    auto o = object_of(text);
    if (!o) return Error{o.error()};
    auto revision = header_revision(*o);
    if (!revision) return Error{revision.error()};
    auto deleted = int_field(*o, "deleted");
    if (!deleted) return malformed("deleted");
    return *deleted;
}

Result<EtcdTxnResult> txn(std::string_view text) {
    auto o = object_of(text);
    if (!o) return Error{o.error()};
    EtcdTxnResult out;
    auto revision = header_revision(*o);
    if (!revision) return Error{revision.error()};
    out.revision = *revision;
    out.succeeded = bool_field(*o, "succeeded");
    if (const auto* responses = o->if_contains("responses"); responses != nullptr && responses->is_array()) {
        for (const auto& r : responses->as_array()) {
            if (!r.is_object()) return malformed("a transaction response");
            const auto* range = r.as_object().if_contains("response_range");
            if (range == nullptr) continue;
            if (!range->is_object()) return malformed("response_range");
            json::object with_header = range->as_object();
            if (!with_header.contains("header")) with_header["header"] = json::object{{"revision", number(out.revision)}};
            auto read = range_of(with_header);
            if (!read) return Error{read.error()};
            out.range = std::move(*read);
        }
    }
    return out;
}

Result<EtcdWatchMessage> watch(std::string_view text) {
    auto o = result_of(text);
    if (!o) return Error{o.error()};
    EtcdWatchMessage out;
    auto revision = header_revision(*o);
    if (!revision) return Error{revision.error()};
    out.revision = *revision;
    out.created = bool_field(*o, "created");
    out.canceled = bool_field(*o, "canceled");
    auto compact = int_field(*o, "compact_revision");
    if (!compact) return malformed("compact_revision");
    out.compact_revision = *compact;
    if (const auto* reason = o->if_contains("cancel_reason"); reason != nullptr && reason->is_string())
        out.cancel_reason = std::string(reason->as_string());
    if (const auto* events = o->if_contains("events")) {
        if (!events->is_array()) return malformed("events is not a list");
        for (const auto& e : events->as_array()) {
            if (!e.is_object()) return malformed("an event");
            const auto& eo = e.as_object();
            EtcdEvent event;
            if (const auto* type = eo.if_contains("type")) {
                if (!type->is_string()) return malformed("an event's type");
                if (type->as_string() == "DELETE") event.deleted = true;
                else if (type->as_string() != "PUT") return malformed("an event's type");
            }
            const auto* kv = eo.if_contains("kv");
            if (kv == nullptr) return malformed("an event without kv");
            auto read = kv_of(*kv);
            if (!read) return Error{read.error()};
            event.kv = std::move(*read);
            out.events.push_back(std::move(event));
        }
    }
    return out;
}

}  // namespace etcd_answer

}  // namespace ward::cluster
