// SPDX-License-Identifier: Apache-2.0
#include "proxy/fronts/admin/api.hpp"

#include <boost/json.hpp>

#include "config/values.hpp"

namespace ward::proxy::admin {

Reply Reply::json_body(int status, const json::value& v) {
    Reply r;
    r.status = status;
    r.body = json::serialize(v) + "\n";
    return r;
}

Reply Reply::error(int status, std::string message, json::object more) {
    more["error"] = message;
    auto r = json_body(status, more);
    r.message = std::move(message);
    return r;
}

Reply Reply::text(int status, std::string text) {
    Reply r;
    r.status = status;
    r.content_type = "text/plain; charset=utf-8";
    r.body = std::move(text);
    return r;
}

ParsedObject parse_object(std::string_view body, const std::vector<std::string_view>& allowed) {
    ParsedObject out;
    json::stream_parser parser;
    json::error_code ec;
    const auto used = parser.write(body.data(), body.size(), ec);
    if (!ec) parser.finish(ec);
    if (ec) {
        const auto at = ec == json::error::incomplete || !used ? body.size() : used;
        out.refusal = Reply::error(400, "malformed JSON at byte " + std::to_string(at) + ": " + ec.message(),
                                   {{"offset", at}});
        return out;
    }
    auto v = parser.release();
    if (!v.is_object()) {
        out.refusal = Reply::error(400, "expected a JSON object");
        return out;
    }
    json::array unknown;
    for (const auto& kv : v.as_object()) {
        bool known = false;
        for (auto a : allowed) known = known || kv.key() == a;
        if (!known) unknown.emplace_back(kv.key());
    }
    if (!unknown.empty()) {
        std::string names;
        for (const auto& u : unknown) names += (names.empty() ? "" : ", ") + std::string(u.as_string());
        std::string expected;
        for (auto a : allowed) expected += (expected.empty() ? "" : ", ") + std::string(a);
        out.refusal = Reply::error(400, "unknown field" + std::string(unknown.size() == 1 ? "" : "s") + ": " + names +
                                            " (expected: " + expected + ")",
                                   {{"unknown_fields", unknown}});
        return out;
    }
    out.object = std::move(v.as_object());
    return out;
}

namespace {
Reply wrong_type(std::string_view key, const char* what) {
    return Reply::error(400, "field '" + std::string(key) + "' must be " + what, {{"field", key}});
}
}  // namespace

std::optional<Reply> get_bool(const json::object& o, std::string_view key, std::optional<bool>& out) {
    const auto* v = o.if_contains(key);
    if (!v) return std::nullopt;
    if (!v->is_bool()) return wrong_type(key, "true or false");
    out = v->as_bool();
    return std::nullopt;
}

std::optional<Reply> get_string(const json::object& o, std::string_view key, std::optional<std::string>& out) {
    const auto* v = o.if_contains(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) return wrong_type(key, "a string");
    out = std::string(v->as_string());
    return std::nullopt;
}

std::optional<Reply> get_string_list(const json::object& o, std::string_view key,
                                     std::optional<std::vector<std::string>>& out) {
    const auto* v = o.if_contains(key);
    if (!v) return std::nullopt;
    if (!v->is_array()) return wrong_type(key, "a list of strings");
    std::vector<std::string> list;
    for (const auto& x : v->as_array()) {
        if (!x.is_string()) return wrong_type(key, "a list of strings");
        list.emplace_back(x.as_string());
    }
    out = std::move(list);
    return std::nullopt;
}

std::optional<std::string> decode_segment(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= s.size()) return std::nullopt;
            auto nib = [](char h) -> int {
                if (h >= '0' && h <= '9') return h - '0';
                if (h >= 'a' && h <= 'f') return h - 'a' + 10;
                if (h >= 'A' && h <= 'F') return h - 'A' + 10;
                return -1;
            };
            const int hi = nib(s[i + 1]), lo = nib(s[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            c = static_cast<char>(hi * 16 + lo);
            i += 2;
        }
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f || c == '/' || c == '\\') return std::nullopt;
        out += c;
    }
    if (out.empty() || out == "." || out == "..") return std::nullopt;
    // Names are UTF-8 text: they go into JSON answers, the audit log and the configuration.
    if (config::first_invalid_utf8(out) != std::string::npos) return std::nullopt;
    for (std::size_t i = 0; i + 1 < out.size(); ++i)
        if (static_cast<unsigned char>(out[i]) == 0xC2 && static_cast<unsigned char>(out[i + 1]) >= 0x80 &&
            static_cast<unsigned char>(out[i + 1]) <= 0x9F)
            return std::nullopt;  // C1 controls
    return out;
}

}  // namespace ward::proxy::admin
