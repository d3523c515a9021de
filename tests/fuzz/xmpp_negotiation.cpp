// SPDX-License-Identifier: Apache-2.0
// libFuzzer: the XMPP machines that answer a stranger: the receiving side's Negotiation (c2s and
// s2s, secure mode on and off, before TLS and after it), the initiating side's Initiator (ward's
// outbound s2s stream, the input playing the remote server), and the StreamGuard that checks the
// peer's stream once the backend answers. The first byte picks the machine and its settings, the
// second the chunk size the input is fed in.
// Invariants:
//   - what ward writes to the peer (`send`, the guard's `reply`), all of it in order, is
//     well-formed XML as far as it goes (one expat parse, never final): whatever the peer put in
//     its header and ward echoes is escaped;
//   - before TLS in secure mode, the negotiation never relays plaintext or asks for a backend;
//   - a machine that said close (or proceed, or start TLS, or relay) is not fed again, as the
//     engine does not feed it; when it did not finish, the engine's deadline failure is
//     well-formed too;
//   - the guard forwards the peer's bytes untouched and in order: a prefix of the input, and
//     on s2s never a <db:result> element for a domain the certificate does not name.
#include <expat.h>
#include <pugixml.hpp>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>

#include "xmpp/initiator.hpp"
#include "xmpp/negotiation.hpp"
#include "xmpp/stream_guard.hpp"

namespace {

using namespace ward::xmpp;

// ward's side of the stream, as the peer would parse it.
class PeerView {
public:
    PeerView() : parser_(XML_ParserCreate(nullptr)) {
        if (parser_ == nullptr) std::abort();
    }
    ~PeerView() { XML_ParserFree(parser_); }
    PeerView(const PeerView&) = delete;
    PeerView& operator=(const PeerView&) = delete;
    void read(std::string_view bytes) {
        if (bytes.empty()) return;
        if (XML_Parse(parser_, bytes.data(), static_cast<int>(bytes.size()), XML_FALSE) != XML_STATUS_OK) std::abort();
    }

private:
    XML_Parser parser_;
};

constexpr std::string_view kBackendHeader =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    "id='b1' version='1.0'>";

bool ends_phase(const NegotiationActions& a) {
    return a.close || a.proceed || a.relay_plaintext || a.header_done;
}

void negotiation(std::uint8_t settings, std::string_view in, std::size_t step) {
    NegotiationConfig config;
    config.domains = {"chat.fuzz", "Example.COM"};
    config.kind = (settings & 4) ? StreamKind::s2s : StreamKind::c2s;
    config.secure = (settings & 8) == 0;
    config.after_tls = (settings & 16) != 0;
    config.make_stream_id = [] { return std::string("fz1"); };
    if (config.after_tls) {
        config.expected_to = (settings & 32) ? "chat.fuzz" : "";
        if (settings & 64) config.server_name = "chat.fuzz";
        config.check_from = [](std::string_view from) {
            return from == "peer.fuzz" ? std::string() : std::string("the certificate does not name it");
        };
    }
    const bool guarded = config.secure && !config.after_tls;
    Negotiation n(config);
    PeerView peer;
    auto handle = [&](NegotiationActions a) {
        if (guarded && (a.relay_plaintext || a.need_backend)) std::abort();
        if (a.close && a.reason.empty()) std::abort();
        peer.read(a.send);
        if (a.need_backend && !ends_phase(a)) {
            peer.read(kBackendHeader);  // the engine sends the backend's header, then resumes
            a = n.resume();
            if (a.need_backend) std::abort();
            if (a.close && a.reason.empty()) std::abort();
            peer.read(a.send);
        }
        return ends_phase(a);
    };
    for (std::size_t pos = 0; pos < in.size(); pos += step) {
        if (handle(n.feed(in.substr(pos, step)))) return;
    }
    // The deadline passed: the engine fails the negotiation.
    const auto a = n.fail(StreamCondition::connection_timeout, "deadline");
    if (!a.close) std::abort();
    peer.read(a.send);
}

void initiator(std::string_view in, std::size_t step) {
    Initiator i({"local.fuzz", "remote.fuzz", {}});
    PeerView remote;
    remote.read(i.opening());
    for (std::size_t pos = 0; pos < in.size(); pos += step) {
        const auto a = i.feed(in.substr(pos, step));
        remote.read(a.send);
        if (a.close && a.reason.empty()) std::abort();
        if (a.close || a.start_tls) return;
    }
}

void guard(std::uint8_t settings, std::string_view in, std::size_t step) {
    const bool s2s = (settings & 4) != 0;
    const std::string header = s2s ? "<stream:stream xmlns='jabber:server' xmlns:db='jabber:server:dialback' "
                                     "xmlns:stream='http://etherx.jabber.org/streams' to='chat.fuzz' from='peer.fuzz' "
                                     "version='1.0'>"
                                   : "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
                                     "to='chat.fuzz' version='1.0'>";
    std::function<bool(std::string_view)> covers;
    if (s2s) covers = [](std::string_view domain) { return domain == "peer.fuzz"; };
    // (Bit 3: the guard goes on with a tokenizer that has parsed the header, as the inbound
    // front hands the negotiation's on.)
    StreamTokenizer primed;
    if ((settings & 8) != 0) primed.feed(header);
    StreamGuard g = (settings & 8) != 0 ? StreamGuard(std::move(primed), covers, {}) : StreamGuard(header, covers, {});
    PeerView peer;
    peer.read(kBackendHeader);  // the guard's replies go into the backend's stream
    std::string forwarded;
    for (std::size_t pos = 0; pos < in.size(); pos += step) {
        const auto out = g.feed(in.substr(pos, step));
        forwarded += out.forward;
        peer.read(out.reply);
        if (out.close && out.reason.empty()) std::abort();
        if (forwarded.size() > in.size() || in.compare(0, forwarded.size(), forwarded) != 0) std::abort();
        if (out.close) break;
    }
    if (!s2s) return;
    // What reached the backend, parsed by its own tokenizer: no dialback for an uncovered domain.
    StreamTokenizer backend;
    for (const auto& event : backend.feed(header + forwarded)) {
        // Nothing went on after the peer's close tag.
        if (const auto* c = std::get_if<StreamClosed>(&event); c && c->end_offset != header.size() + forwarded.size())
            std::abort();
        const auto* e = std::get_if<StreamElement>(&event);
        if (e == nullptr || e->ns != kDialbackNs || e->local_name != "result") continue;
        pugi::xml_document doc;
        if (!doc.load_buffer(e->raw.data(), e->raw.size())) std::abort();  // the tokenizer took it whole
        const auto from = std::string_view(doc.document_element().attribute("from").value());
        if (from != "peer.fuzz") std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::uint8_t settings = data[0];
    const std::size_t step = 1 + data[1] % 64;
    const std::string_view in(reinterpret_cast<const char*>(data + 2), size - 2);
    switch (settings % 3) {
        case 0: negotiation(settings, in, step); break;
        case 1: initiator(in, step); break;
        default: guard(settings, in, step); break;
    }
    return 0;
}
