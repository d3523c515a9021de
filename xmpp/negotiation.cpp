// SPDX-License-Identifier: Apache-2.0
#include "xmpp/negotiation.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <utility>
#include <variant>

namespace ward::xmpp {

namespace {

constexpr std::string_view kClientNs = "jabber:client";
constexpr std::string_view kServerNs = "jabber:server";

// Section 5.3.1: in secure mode the features are exactly this, nothing else (no SASL
// mechanisms, ejabberd PR #325; no compression, ejabberd PR #316).
constexpr std::string_view kFeaturesRequired =
    "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>";
constexpr std::string_view kProceed = "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
constexpr std::string_view kSaslEncryptionRequired =
    "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><encryption-required/></failure>";
constexpr std::string_view kStreamClose = "</stream:stream>";

}  // namespace

std::string escape_attribute(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (const char c : value) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '\'': out += "&apos;"; break;
        case '"': out += "&quot;"; break;
        default: out += c;
        }
    }
    return out;
}

bool iequals_ascii(std::string_view a, std::string_view b) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) { return lower(x) == lower(y); });
}

bool version_supported(std::string_view version) {
    const auto dot = version.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 == version.size()) return false;
    unsigned long major = 0;
    const char* first = version.data();
    const char* split = first + dot;
    const char* last = first + version.size();
    const auto [major_end, major_ec] = std::from_chars(first, split, major);
    if (major_ec != std::errc() || major_end != split) {
        // A major number too big for unsigned long is still "later than 1".
        return major_ec == std::errc::result_out_of_range && major_end == split;
    }
    unsigned long minor = 0;
    const auto [minor_end, minor_ec] = std::from_chars(split + 1, last, minor);
    const bool minor_ok = (minor_ec == std::errc() || minor_ec == std::errc::result_out_of_range) && minor_end == last;
    return minor_ok && major >= 1;
}

Negotiation::Negotiation(NegotiationConfig config)
    : config_(std::move(config)), tokenizer_(std::in_place, config_.limits) {
    if (!config_.make_stream_id) throw std::invalid_argument("Negotiation: make_stream_id is required");
}

NegotiationActions Negotiation::feed(std::string_view bytes) {
    if (state_ == State::done) {
        NegotiationActions out;
        // The engine stops feeding after proceed / relay / close; a byte here after <proceed/>
        // is the injection case the tokenizer would also report.
        if (!bytes.empty()) {
            out.close = true;
            out.reason = "bytes after the pre-TLS negotiation ended";
        }
        return out;
    }
    if (!pending_.empty()) {
        // The engine has not resumed yet: keep the order.
        auto events = tokenizer_->feed(bytes);
        for (auto& e : events) pending_.push_back(std::move(e));
        return {};
    }
    return process(tokenizer_->feed(bytes));
}

std::optional<StreamTokenizer> Negotiation::take_tokenizer() {
    std::optional<StreamTokenizer> taken;
    // (header_passed_: after TLS, the header accepted, and the negotiation done with it.)
    if (!header_passed_ || !tokenizer_ || tokenizer_->finished() ||
        tokenizer_->bytes_fed() != client_header_.raw.size())
        return taken;
    taken.swap(tokenizer_);
    return taken;
}

NegotiationActions Negotiation::resume() {
    header_sent_ = true;  // the backend's, passed on by the engine
    auto events = std::move(pending_);
    pending_.clear();
    return process(std::move(events));
}

NegotiationActions Negotiation::process(std::vector<TokenizerEvent> events) {
    NegotiationActions out;
    bool starttls = false;
    for (std::size_t i = 0; i < events.size(); ++i) {
        const TokenizerEvent& event = events[i];
        if (const auto* element = std::get_if<StreamElement>(&event);
            element != nullptr && state_ == State::expect_starttls && element->ns == kTlsNs &&
            element->local_name == "starttls") {
            // <proceed/> waits until this feed's events are all seen: a trailing byte after
            // <starttls/> in the same feed must close without it.
            starttls = true;
            state_ = State::done;
            continue;
        }
        on_event(event, out);
        if (out.need_backend) {
            pending_.assign(std::make_move_iterator(events.begin() + static_cast<std::ptrdiff_t>(i) + 1),
                            std::make_move_iterator(events.end()));
            return out;
        }
        if (out.close || out.relay_plaintext || out.header_done) {
            state_ = State::done;
            return out;
        }
    }
    if (starttls) {
        out.send += kProceed;
        out.proceed = true;
    }
    return out;
}

NegotiationActions Negotiation::fail(StreamCondition condition, std::string reason) {
    NegotiationActions out;
    stream_error(out, condition, std::move(reason));
    pending_.clear();
    return out;
}

void Negotiation::on_event(const TokenizerEvent& event, NegotiationActions& out) {
    if (const auto* header = std::get_if<StreamHeader>(&event)) {
        on_header(*header, out);
    } else if (const auto* element = std::get_if<StreamElement>(&event)) {
        on_element(*element, out);
    } else if (std::holds_alternative<StreamClosed>(event)) {
        if (!header_sent_) send_header(out, {}, false);
        out.send += kStreamClose;
        finish(out, "client closed the stream before TLS");
    } else if (const auto* error = std::get_if<TokenizerError>(&event)) {
        stream_error(out, error->condition, error->detail);
    } else if (std::holds_alternative<TrailingAfterStarttls>(event)) {
        // CVE-2011-0411 class: bytes after <starttls/> would be read as TLS or post-TLS XML.
        // No <proceed/>, no stream error: the peer is attacking, just close.
        finish(out, "bytes after <starttls/> before TLS (injection attempt)");
    }
}

// RFC 6120 section 4.2 / 4.3: validate the initiating entity's header, answer with ours and the
// features (section 5.3.1), in this order so each failure gets its own condition.
void Negotiation::on_header(const StreamHeader& header, NegotiationActions& out) {
    const std::string_view content_ns = config_.kind == StreamKind::c2s ? kClientNs : kServerNs;
    client_header_ = header;
    header_received_ = true;
    const std::string_view peer_from = header.attribute("from").value_or("");
    const bool echo_dialback =
        config_.kind == StreamKind::s2s && header.attribute("xmlns:db").value_or("") == kDialbackNs;

    const auto to = header.attribute("to");
    if (to) {
        const auto it = std::find_if(config_.domains.begin(), config_.domains.end(),
                                     [&](const std::string& d) { return iequals_ascii(d, *to); });
        if (it != config_.domains.end()) domain_ = *it;
    }
    // Ward's own header goes out with the features (secure mode) or with a stream error; a
    // header that passes is answered by the backend in secure mode off and after TLS.

    if (header.ns != kStreamsNs || header.local_name != "stream") {
        stream_error(out, StreamCondition::invalid_namespace, "stream element not in the streams namespace");
        return;
    }
    if (header.attribute("xmlns").value_or("") != content_ns) {
        stream_error(out, StreamCondition::invalid_namespace, "wrong content namespace for this listener");
        return;
    }
    const auto version = header.attribute("version");
    if (!version || !version_supported(*version)) {
        stream_error(out, StreamCondition::unsupported_version, "version missing or below 1.0");
        return;
    }
    if (!to) {
        // Section 4.7.2: 'to' is required; prosody answers improper-addressing too.
        stream_error(out, StreamCondition::improper_addressing, "no 'to' on the stream header");
        return;
    }
    if (domain_.empty()) {
        stream_error(out, StreamCondition::host_unknown, "'to' is not a served domain");
        return;
    }
    if (config_.after_tls) {
        if (!config_.expected_to.empty() && !iequals_ascii(*to, config_.expected_to)) {
            stream_error(out, StreamCondition::host_unknown, "'to' after TLS differs from 'to' before TLS");
            return;
        }
        if (!config_.server_name.empty() && !iequals_ascii(*to, config_.server_name)) {
            stream_error(out, StreamCondition::host_unknown, "'to' differs from the TLS server name (SNI)");
            return;
        }
        if (config_.check_from) {
            if (auto why = config_.check_from(peer_from); !why.empty()) {
                stream_error(out, StreamCondition::not_authorized, std::move(why));
                return;
            }
        }
        out.header_done = true;
        header_passed_ = true;
        return;
    }
    if (!config_.secure) {
        // The backend's header and features go to the client (with <starttls/> added); until
        // resume() says they did, a failure still needs ward's own header.
        out.need_backend = true;
        state_ = State::expect_starttls;
        return;
    }
    send_header(out, peer_from, echo_dialback);
    out.send += kFeaturesRequired;
    state_ = State::expect_starttls;
}

// RFC 6120 section 5.4.2 / 6.4 before TLS. <starttls/> itself is handled in feed().
void Negotiation::on_element(const StreamElement& element, NegotiationActions& out) {
    if (!config_.secure) {
        // Secure mode off: the client chose plaintext; the backend negotiates from here.
        out.relay_plaintext = true;
        state_ = State::done;
        return;
    }
    if (element.ns == kSaslNs && element.local_name == "auth") {
        // Section 6.4.5 / 6.5.4: SASL before TLS when TLS is mandatory.
        out.send += kSaslEncryptionRequired;
        out.send += kStreamClose;
        finish(out, "SASL <auth> before TLS");
        return;
    }
    if (element.ns == kDialbackNs && element.local_name == "result") {
        // ejabberd #95: dialback must not bypass required TLS.
        stream_error(out, StreamCondition::not_authorized, "dialback before TLS");
        return;
    }
    // Section 4.9.3.12: stanzas (and anything else) before the stream is secured.
    stream_error(out, StreamCondition::not_authorized, "element before TLS");
}

void Negotiation::send_header(NegotiationActions& out, std::string_view peer_from, bool echo_dialback) {
    const std::string_view content_ns = config_.kind == StreamKind::c2s ? kClientNs : kServerNs;
    // Before the 'to' is known (or when it is not served), speak as the first served domain,
    // as RFC 6120's host-unknown example does.
    const std::string_view from = !domain_.empty()             ? std::string_view(domain_)
                                  : !config_.domains.empty() ? std::string_view(config_.domains.front())
                                                             : std::string_view();
    out.send += "<?xml version='1.0'?><stream:stream xmlns='";
    out.send += content_ns;
    out.send += "' xmlns:stream='http://etherx.jabber.org/streams'";
    if (echo_dialback) out.send += " xmlns:db='jabber:server:dialback'";
    out.send += " id='";
    out.send += escape_attribute(config_.make_stream_id());
    out.send += "'";
    if (!from.empty()) {
        out.send += " from='";
        out.send += escape_attribute(from);
        out.send += "'";
    }
    if (!peer_from.empty()) {
        // Section 4.7.2: 'to' SHOULD be the initiating entity's 'from'.
        out.send += " to='";
        out.send += escape_attribute(peer_from);
        out.send += "'";
    }
    out.send += " version='1.0'>";
    header_sent_ = true;
}

// Section 4.9.1.2: ward's header first if not yet sent, then the error, then the close tag.
void Negotiation::stream_error(NegotiationActions& out, StreamCondition condition, std::string reason) {
    if (!header_sent_) {
        const std::string_view peer_from =
            header_received_ ? client_header_.attribute("from").value_or("") : std::string_view();
        send_header(out, peer_from, false);
    }
    out.send += "<stream:error><";
    out.send += condition_name(condition);
    out.send += " xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>";
    out.send += kStreamClose;
    finish(out, std::string(condition_name(condition)) + ": " + reason);
}

void Negotiation::finish(NegotiationActions& out, std::string reason) {
    out.close = true;
    out.reason = std::move(reason);
    state_ = State::done;
}

}  // namespace ward::xmpp
