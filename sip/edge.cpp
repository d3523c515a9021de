// SPDX-License-Identifier: Apache-2.0
#include "sip/edge.hpp"

#include <algorithm>

#include "sip/grammar.hpp"

namespace ward::sip {

namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr int kDefaultMaxForwards = 70;
// Route entries naming ward's return listener in one request: a route set holds two per pass
// through ward (both ends' flows); more is refused before any token is checked.
constexpr std::size_t kMaxInnerEntries = 4;

bool is_lws(char c) { return is_wsp(c) || c == '\r' || c == '\n'; }

std::string_view trim_lws(std::string_view s) {
    while (!s.empty() && is_lws(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_lws(s.back())) s.remove_suffix(1);
    return s;
}

// The text of a field's value: after the colon, without the trailing CRLF.
std::string_view value_of(std::string_view head, const Field& f) { return header_value(head, f); }

// A value as it goes into a header line again: folding (CRLF + whitespace) becomes one space.
std::string unfolded(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
            ++i;
            continue;
        }
        out += text[i];
    }
    return out;
}

std::size_t start_line_end(std::string_view head) { return head.find(kCrlf) + kCrlf.size(); }

// The Call-ID, when there is exactly one (a dialog token is bound to it).
std::optional<std::string_view> call_id_of(std::string_view head, const MessageHead& parsed) {
    std::optional<std::string_view> out;
    for (const auto& f : parsed.fields) {
        if (f.kind != FieldKind::call_id) continue;
        if (out) return std::nullopt;
        out = value_of(head, f);
    }
    return out;
}

bool is_method(const MessageHead& parsed, std::string_view method) { return iequals(parsed.start.method, method); }

HeadPlan answered(int status, std::string_view head, const MessageHead& parsed, std::string why) {
    HeadPlan plan;
    plan.answer = error_response(status, head, parsed);
    plan.drop = plan.answer.empty();  // an ACK gets no answer: it is dropped
    plan.status = status;
    plan.why = std::move(why);
    return plan;
}

// Max-Forwards (RFC 3261 section 16.6 step 3, 16.3 step 2): decremented, added when missing.
// Returns 0, or the status to answer with.
int max_forwards(std::string_view head, const MessageHead& parsed, HeadPlan& plan, std::string& why) {
    const Field* field = nullptr;
    for (const auto& f : parsed.fields) {
        if (f.kind != FieldKind::max_forwards) continue;
        if (field) {
            why = "Max-Forwards given twice";
            return 400;
        }
        field = &f;
    }
    if (!field) {
        const auto at = start_line_end(head);
        plan.edits.push_back({at, at, "Max-Forwards: " + std::to_string(kDefaultMaxForwards) + "\r\n"});
        return 0;
    }
    const auto value = value_of(head, *field);
    if (value.empty() || value.size() > 3 || !std::all_of(value.begin(), value.end(), is_digit)) {
        why = "Max-Forwards is not a number from 0 to 255";
        return 400;
    }
    int n = 0;
    for (const char c : value) n = n * 10 + (c - '0');
    if (n > 255) {
        why = "Max-Forwards is not a number from 0 to 255";
        return 400;
    }
    if (n == 0) {
        why = "Max-Forwards reached 0";
        return 483;
    }
    plan.edits.push_back({field->begin, field->end, "Max-Forwards: " + std::to_string(n - 1) + "\r\n"});
    return 0;
}

enum class Hop { other, outer, inner };

struct Entry {
    RouteValue value;
    Hop hop = Hop::other;
    std::string_view token;  // inner: the URI's user part
};

std::size_t inner_entries(const std::vector<Entry>& list) {
    std::size_t n = 0;
    for (const auto& e : list) n += e.hop == Hop::inner ? 1 : 0;
    return n;
}

Hop hop_of(std::string_view uri, std::string_view outer, std::string_view inner, std::string_view& token) {
    const auto parsed = parse_sip_uri(uri);
    if (!parsed) return Hop::other;
    if (!inner.empty() && iequals(parsed->host_port, inner)) {
        token = parsed->user;
        return Hop::inner;
    }
    if (!outer.empty() && iequals(parsed->host_port, outer)) return Hop::outer;
    return Hop::other;
}

// Every value of the header fields of `kind`, in order; false when one is malformed.
bool collect(std::string_view head, const MessageHead& parsed, FieldKind kind, std::string_view outer,
             std::string_view inner, std::vector<Entry>& out) {
    for (const auto& f : parsed.fields) {
        if (f.kind != kind) continue;
        auto values = split_route_values(value_of(head, f));
        if (!values) return false;
        for (const auto& v : *values) {
            Entry e{v, Hop::other, {}};
            e.hop = hop_of(v.uri, outer, inner, e.token);
            out.push_back(e);
        }
    }
    return true;
}

// Removes the first `drop` Route values: every Route line goes, the rest comes back as one
// line where the first was.
void drop_routes(const MessageHead& parsed, const std::vector<Entry>& routes, std::size_t drop, HeadPlan& plan) {
    if (drop == 0) return;
    bool first = true;
    for (const auto& f : parsed.fields) {
        if (f.kind != FieldKind::route) continue;
        std::string text;
        if (first && drop < routes.size()) {
            text = "Route: ";
            for (std::size_t i = drop; i < routes.size(); ++i) {
                if (i > drop) text += ", ";
                text += unfolded(routes[i].value.text);
            }
            text += kCrlf;
        }
        first = false;
        plan.edits.push_back({f.begin, f.end, std::move(text)});
    }
}

// The RFC 5626 outbound mark: a Contact value with a reg-id parameter.
bool asks_outbound(std::string_view head, const MessageHead& parsed) {
    for (const auto& f : parsed.fields) {
        if (f.kind != FieldKind::contact) continue;
        auto values = split_route_values(value_of(head, f));
        if (!values) continue;
        for (const auto& v : *values) {
            auto params = v.text.substr(v.text.find('>') + 1);
            while (!params.empty()) {
                const auto semi = params.find(';');
                if (semi == std::string_view::npos) break;
                params.remove_prefix(semi + 1);
                const auto name = trim_lws(params.substr(0, std::min(params.find('='), params.find(';'))));
                if (iequals(name, "reg-id")) return true;
            }
        }
    }
    return false;
}

}  // namespace

std::string outer_route(const EdgeAddresses& at) { return "<sip:" + at.outer + ";transport=tls;lr>"; }

std::string inner_route(const EdgeAddresses& at, std::string_view token, bool ob) {
    std::string out = "<sip:";
    out += token;
    out += "@" + at.inner + ";transport=tcp;lr";
    if (ob) out += ";ob";
    out += ">";
    return out;
}

std::optional<std::vector<RouteValue>> split_route_values(std::string_view value) {
    std::vector<RouteValue> out;
    bool quoted = false;
    bool angled = false;
    std::size_t begin = 0;
    const auto take = [&](std::size_t end) -> bool {
        const auto text = trim_lws(value.substr(begin, end - begin));
        // name-addr = [ display-name ] LAQUOT addr-spec RAQUOT, then ;params
        bool q = false;
        std::size_t lt = std::string_view::npos;
        for (std::size_t i = 0; i < text.size() && lt == std::string_view::npos; ++i) {
            if (q) {
                if (text[i] == '\\') ++i;
                else if (text[i] == '"') q = false;
            } else if (text[i] == '"') {
                q = true;
            } else if (text[i] == '<') {
                lt = i;
            }
        }
        if (lt == std::string_view::npos) return false;
        const auto gt = text.find('>', lt);
        if (gt == std::string_view::npos || gt == lt + 1) return false;
        out.push_back({text, text.substr(lt + 1, gt - lt - 1)});
        return true;
    };
    for (std::size_t i = 0; i < value.size(); ++i) {
        const char c = value[i];
        if (quoted) {
            if (c == '\\') ++i;
            else if (c == '"') quoted = false;
        } else if (angled) {
            if (c == '>') angled = false;
        } else if (c == '"') {
            quoted = true;
        } else if (c == '<') {
            angled = true;
        } else if (c == ',') {
            if (!take(i)) return std::nullopt;
            begin = i + 1;
        }
    }
    if (quoted || angled || !take(value.size())) return std::nullopt;
    return out;
}

std::optional<SipUri> parse_sip_uri(std::string_view uri) {
    const auto colon = uri.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    const auto scheme = uri.substr(0, colon);
    if (!iequals(scheme, "sip") && !iequals(scheme, "sips")) return std::nullopt;
    auto rest = uri.substr(colon + 1);
    SipUri out;
    // '@' appears only after the userinfo (parameters and headers cannot hold one unescaped).
    if (const auto at = rest.find('@'); at != std::string_view::npos) {
        out.user = rest.substr(0, at);
        rest.remove_prefix(at + 1);
    }
    out.host_port = rest.substr(0, rest.find_first_of(";?"));
    if (out.host_port.empty()) return std::nullopt;
    return out;
}

std::string_view top_via_branch(std::string_view head, const MessageHead& parsed) {
    for (const auto& f : parsed.fields) {
        if (f.kind != FieldKind::via) continue;
        auto value = value_of(head, f);
        // The first value: up to a comma outside a quoted string (Via has no angle brackets).
        bool quoted = false;
        for (std::size_t i = 0; i < value.size(); ++i) {
            if (quoted) {
                if (value[i] == '\\') ++i;
                else if (value[i] == '"') quoted = false;
            } else if (value[i] == '"') {
                quoted = true;
            } else if (value[i] == ',') {
                value = value.substr(0, i);
                break;
            }
        }
        while (!value.empty()) {
            const auto semi = value.find(';');
            if (semi == std::string_view::npos) break;
            value.remove_prefix(semi + 1);
            const auto param = value.substr(0, value.find(';'));
            const auto eq = param.find('=');
            if (eq != std::string_view::npos && iequals(trim_lws(param.substr(0, eq)), "branch"))
                return trim_lws(param.substr(eq + 1));
        }
        return {};
    }
    return {};
}

HeadPlan plan_from_peer(std::string_view head, const MessageHead& parsed, const EdgeAddresses& at,
                        std::uint64_t own_flow, FlowTokens& tokens) {
    if (parsed.start.kind != MessageKind::request) return {};
    const auto call_id = call_id_of(head, parsed);
    if (!call_id) return answered(400, head, parsed, "a request needs exactly one Call-ID");
    std::vector<Entry> routes;
    std::vector<Entry> paths;
    if (!collect(head, parsed, FieldKind::route, at.outer, at.inner, routes) ||
        !collect(head, parsed, FieldKind::path, at.outer, at.inner, paths))
        return answered(400, head, parsed, "malformed Route or Path");
    if (inner_entries(routes) > kMaxInnerEntries)
        return answered(400, head, parsed, "more Route entries name ward than a route set holds");
    // Only ward writes Path entries of its own, towards the backend.
    for (const auto& e : paths) {
        if (e.hop == Hop::inner) return answered(403, head, parsed, "a Path from a peer names ward");
    }
    // A Route entry naming the return listener must carry a dialog token of ward's for this
    // Call-ID (it may be another flow's: both ends of a dialog see both tokens).
    for (const auto& e : routes) {
        if (e.hop != Hop::inner) continue;
        const auto token = tokens.verify(e.token, *call_id);
        if (!token || token->kind != FlowTokens::Kind::dialog)
            return answered(403, head, parsed, "a Route names ward without a valid flow token for this dialog");
    }
    HeadPlan plan;
    std::string why;
    if (const int status = max_forwards(head, parsed, plan, why)) return answered(status, head, parsed, why);
    std::size_t ours = 0;
    while (ours < routes.size() && routes[ours].hop != Hop::other) ++ours;
    drop_routes(parsed, routes, ours, plan);
    const auto top = start_line_end(head);
    std::string lines;
    if (is_method(parsed, "REGISTER")) {
        const auto token = tokens.make(FlowTokens::Kind::path, own_flow);
        lines = "Path: " + inner_route(at, token, asks_outbound(head, parsed)) + "\r\n";
    } else {
        const auto token = tokens.make(FlowTokens::Kind::dialog, own_flow, *call_id);
        lines = "Record-Route: " + inner_route(at, token) + "\r\nRecord-Route: " + outer_route(at) + "\r\n";
    }
    plan.edits.push_back({top, top, std::move(lines)});
    return plan;
}

HeadPlan plan_from_backend(std::string_view head, const MessageHead& parsed, std::string_view listener,
                           std::string_view inner, FlowTokens& tokens, const FindFlow& find) {
    if (parsed.start.kind != MessageKind::request) {
        HeadPlan plan;
        plan.drop = true;
        plan.why = "a response on the return listener, where ward sends no requests";
        return plan;
    }
    const auto call_id = call_id_of(head, parsed);
    if (!call_id) return answered(400, head, parsed, "a request needs exactly one Call-ID");
    std::vector<Entry> routes;
    if (!collect(head, parsed, FieldKind::route, {}, inner, routes))
        return answered(400, head, parsed, "malformed Route");
    if (routes.empty() || routes.front().hop != Hop::inner)
        return answered(403, head, parsed, "the top Route carries no flow token of ward's");
    if (inner_entries(routes) > kMaxInnerEntries)
        return answered(400, head, parsed, "more Route entries name ward than a route set holds");
    std::uint64_t flow = 0;
    for (std::size_t i = 0; i < routes.size(); ++i) {
        if (routes[i].hop != Hop::inner) continue;
        const auto token = tokens.verify(routes[i].token, *call_id);
        if (!token) return answered(403, head, parsed, "a Route names ward without a valid flow token");
        if (i == 0) flow = token->flow;
    }
    const auto ends = find(flow);
    if (!ends) return answered(430, head, parsed, "flow " + std::to_string(flow) + " is closed");
    if (ends->listener != listener)
        return answered(403, head, parsed, "the flow token names a flow of another listener");
    // ward's values at the top: this flow's inner one, and the outer one that came with it.
    std::size_t ours = 0;
    for (; ours < routes.size(); ++ours) {
        std::string_view token;
        if (hop_of(routes[ours].value.uri, ends->at.outer, inner, token) == Hop::other) break;
    }
    HeadPlan plan;
    std::string why;
    if (const int status = max_forwards(head, parsed, plan, why)) return answered(status, head, parsed, why);
    drop_routes(parsed, routes, ours, plan);
    if (!is_method(parsed, "REGISTER")) {
        const auto top = start_line_end(head);
        const auto token = tokens.make(FlowTokens::Kind::dialog, flow, *call_id);
        plan.edits.push_back({top, top,
                              "Record-Route: " + outer_route(ends->at) + "\r\nRecord-Route: " +
                                  inner_route(ends->at, token) + "\r\n"});
    }
    plan.divert = flow;
    return plan;
}

}  // namespace ward::sip
