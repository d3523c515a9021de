// SPDX-License-Identifier: Apache-2.0
#include "xmpp/initiator.hpp"

#include <utility>
#include <variant>

#include "xmpp/features.hpp"
#include "xmpp/negotiation.hpp"

namespace ward::xmpp {

namespace {
constexpr std::string_view kStarttls = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
}

Initiator::Initiator(InitiatorConfig config) : config_(std::move(config)), tokenizer_(config_.limits) {}

std::string Initiator::opening() const {
    // xmlns:db announces dialback support (XEP-0220 section 2.1): the backends authenticate
    // each other with it over the stream ward carries.
    return "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
           "xmlns:db='jabber:server:dialback' from='" +
           escape_attribute(config_.from) + "' to='" + escape_attribute(config_.to) + "' version='1.0'>";
}

InitiatorActions Initiator::feed(std::string_view bytes) {
    InitiatorActions out;
    if (state_ == State::done) {
        if (!bytes.empty()) {
            out.close = true;
            out.reason = "bytes after the negotiation ended";
        }
        return out;
    }
    bool proceed = false;
    for (const TokenizerEvent& event : tokenizer_.feed(bytes)) {
        if (const auto* element = std::get_if<StreamElement>(&event);
            element != nullptr && state_ == State::expect_proceed && element->ns == kTlsNs &&
            element->local_name == "proceed") {
            // TLS starts only when no byte followed <proceed/> in this feed.
            proceed = true;
            state_ = State::done;
            continue;
        }
        on_event(event, out);
        if (out.close) return out;
    }
    if (proceed) out.start_tls = true;
    return out;
}

void Initiator::on_event(const TokenizerEvent& event, InitiatorActions& out) {
    if (const auto* header = std::get_if<StreamHeader>(&event)) {
        if (header->ns != kStreamsNs || header->local_name != "stream" ||
            header->attribute("xmlns").value_or("") != "jabber:server") {
            fail(out, "remote's stream header is not an s2s stream", StreamCondition::invalid_namespace);
            return;
        }
        const auto version = header->attribute("version");
        if (!version || !version_supported(*version)) {
            fail(out, "remote's stream has no version 1.0 (no STARTTLS)", StreamCondition::unsupported_version);
            return;
        }
        state_ = State::expect_features;
    } else if (const auto* element = std::get_if<StreamElement>(&event)) {
        if (element->ns == kStreamsNs && element->local_name == "error") {
            out.close = true;
            out.reason = "remote sent a stream error before TLS";
            state_ = State::done;
            return;
        }
        if (state_ == State::expect_features && element->ns == kStreamsNs && element->local_name == "features") {
            if (!offers_starttls(element->raw)) {
                // Never fall back to plaintext: the backend's stream would cross in the clear.
                out.send += "</stream:stream>";
                out.close = true;
                out.reason = "remote does not offer STARTTLS";
                state_ = State::done;
                return;
            }
            out.send += kStarttls;
            state_ = State::expect_proceed;
            return;
        }
        if (state_ == State::expect_proceed && element->ns == kTlsNs && element->local_name == "failure") {
            out.close = true;
            out.reason = "remote answered <starttls/> with <failure/>";
            state_ = State::done;
            return;
        }
        fail(out, "unexpected <" + element->local_name + "> from the remote before TLS",
             StreamCondition::undefined_condition);
    } else if (std::holds_alternative<StreamClosed>(event)) {
        out.send += "</stream:stream>";
        out.close = true;
        out.reason = "remote closed the stream before TLS";
        state_ = State::done;
    } else if (const auto* error = std::get_if<TokenizerError>(&event)) {
        fail(out, "remote's stream: " + error->detail, error->condition);
    } else if (std::holds_alternative<TrailingAfterStarttls>(event)) {
        out.close = true;
        out.reason = "bytes after <proceed/> before TLS (injection attempt)";
        state_ = State::done;
    }
}

void Initiator::fail(InitiatorActions& out, std::string reason, StreamCondition condition) {
    out.send += "<stream:error><";
    out.send += condition_name(condition);
    out.send += " xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>";
    out.close = true;
    out.reason = std::move(reason);
    state_ = State::done;
}

}  // namespace ward::xmpp
