// SPDX-License-Identifier: Apache-2.0
#pragma once
// The admin API's request and reply, and the strict JSON reading every resource shares:
// malformed JSON is a 400 with the byte offset, an unknown field a 400 naming it.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "proxy/ops/accounts.hpp"

namespace ward::proxy::admin {

namespace json = boost::json;

struct Request {
    std::string method;
    std::string target;  // as sent
    std::string path;    // target without the query
    std::map<std::string, std::string> query;
    std::vector<std::string> params;  // the {name} segments of the matched route, decoded
    std::string content_type;         // media type, lower case, without parameters
    std::string if_match;
    std::string body;
    std::string source;  // client address:port
    std::string source_key;  // what limits count by: the IPv4 address, or the IPv6 /64
    std::string host;    // the Host header
    std::string origin;  // the Origin header ("" when absent)
    std::string bearer;  // Authorization: Bearer <token>
    std::string cookie;  // the __Host-ward_session cookie
    int cookies = 0;     // how many such cookies came (more than one is refused)
    std::string browser_key;  // X-Ward-Session-Key: the console's half of a cookie session
    std::string certificate_cn;  // the verified client certificate's CN ("" without one)
    // Filled by authentication.
    std::string account;
    ops::Role role = ops::Role::auditor;
    std::string session_key;  // SHA-256 of the token in use
};

struct Reply {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string message;  // an error's words (what the audit record says of a refusal)

    static Reply json_body(int status, const json::value& v);
    // {"error": message} (and more fields when given).
    static Reply error(int status, std::string message, json::object more = {});
    static Reply text(int status, std::string text);
};

// A JSON object from `body`, every key in `allowed`; otherwise the reply that refuses it.
struct ParsedObject {
    json::object object;
    std::optional<Reply> refusal;
};
ParsedObject parse_object(std::string_view body, const std::vector<std::string_view>& allowed);

// Optional typed fields; a field of the wrong type is a refusal naming it.
std::optional<Reply> get_bool(const json::object& o, std::string_view key, std::optional<bool>& out);
std::optional<Reply> get_string(const json::object& o, std::string_view key, std::optional<std::string>& out);
std::optional<Reply> get_string_list(const json::object& o, std::string_view key,
                                     std::optional<std::vector<std::string>>& out);

// Decodes %XX in a path segment; nullopt for a bad escape, an empty segment, "." or "..", one
// holding '/', '\\' or a control character (path traversal and log injection), or one that is
// not UTF-8.
std::optional<std::string> decode_segment(std::string_view segment);

}  // namespace ward::proxy::admin
