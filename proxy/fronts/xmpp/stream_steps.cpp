// SPDX-License-Identifier: Apache-2.0
// The XMPP steps both directions of the front share: the negotiation loop, the other server's
// opening passed on, refusals, and the bytes between <proceed/> and TLS.
#include "proxy/fronts/xmpp/stream_steps.hpp"

#include <openssl/rand.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <stdexcept>

#include "xmpp/features.hpp"

// GCC 12 warns that Asio's coroutine frames are freed by a mismatched operator delete when a
// frame grows past a size it inlines differently; Asio pairs its own new and delete, and the
// warning is a GCC 12 false positive on coroutine frames.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace ward::proxy::xmpp_front {

std::string new_stream_id() {
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed");
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (const unsigned char b : bytes) {
        out += hex[b >> 4];
        out += hex[b & 15];
    }
    return out;
}

xmpp::TokenizerLimits relay_limits() {
    // The header's caps stay the negotiation's (the defaults): the guard may go on with the
    // tokenizer that parsed the header under them.
    xmpp::TokenizerLimits limits;
    limits.max_element_size = 512 * 1024;
    return limits;
}

namespace {

// An adapter: the StreamGuard as the relay's filter on the peer's direction.
class GuardFilter final : public StreamFilter {
public:
    explicit GuardFilter(std::unique_ptr<xmpp::StreamGuard> guard) : guard_(std::move(guard)) {}
    Output feed(const char* data, std::size_t size) override {
        Output out;
        if (size == 0) return out;
        auto g = guard_->feed(std::string_view(data, size));
        out.forward = std::move(g.forward);
        out.reply = std::move(g.reply);
        out.close = g.close;
        out.reason = std::move(g.reason);
        return out;
    }

private:
    std::unique_ptr<xmpp::StreamGuard> guard_;
};

class BackendWatch final : public StreamFilter {
public:
    explicit BackendWatch(std::unique_ptr<xmpp::StreamBoundary> watch) : watch_(std::move(watch)) {}
    bool watches_only() const override { return true; }
    void observe(const char* data, std::size_t size) override { watch_->feed(std::string_view(data, size)); }
    Output feed(const char*, std::size_t) override { return {}; }
    std::string source_gone(bool) override {
        return watch_->error(xmpp::condition_name(xmpp::StreamCondition::remote_connection_failed));
    }

private:
    std::unique_ptr<xmpp::StreamBoundary> watch_;
};

}  // namespace

std::unique_ptr<StreamFilter> backend_watch_filter(std::unique_ptr<xmpp::StreamBoundary> watch) {
    return std::make_unique<BackendWatch>(std::move(watch));
}

std::unique_ptr<StreamFilter> guard_filter(std::unique_ptr<xmpp::StreamGuard> guard) {
    return std::make_unique<GuardFilter>(std::move(guard));
}

bool drop_whitespace(tcp::socket& socket, std::size_t& budget) {
    std::array<char, 64> peek;
    while (budget > 0) {
        const auto n = ::recv(socket.native_handle(), peek.data(), peek.size(), MSG_PEEK | MSG_DONTWAIT);
        if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
        if (n == 0) return true;
        std::size_t spaces = 0;
        while (spaces < static_cast<std::size_t>(n) &&
               (peek[spaces] == ' ' || peek[spaces] == '\t' || peek[spaces] == '\r' || peek[spaces] == '\n'))
            ++spaces;
        if (spaces == 0) return true;
        spaces = std::min(spaces, budget);
        if (::recv(socket.native_handle(), peek.data(), spaces, MSG_DONTWAIT) <= 0) return true;
        budget -= spaces;
    }
    return true;
}

// Everything a peer may send before its stream is negotiated (header, whitespace, the one
// element that decides): beyond it, policy-violation. Also bounds how long a flood keeps the
// worker reading without a wait.
constexpr std::size_t kMaxNegotiationBytes = 128 * 1024;

awaitable<bool> skip_whitespace_before_tls(Connection& side) {
    std::size_t budget = kWhitespaceBeforeTls;
    while (!drop_whitespace(side.socket(), budget)) {
        auto [ec] = co_await side.socket().async_wait(tcp::socket::wait_read, use_tuple);
        if (ec) co_return false;
    }
    co_return true;
}

awaitable<std::optional<xmpp::NegotiationActions>> negotiate(Session& s, Connection& side, xmpp::Negotiation& negotiation,
                                                              std::string* seen) {
    // (std::array: GCC 12 cannot keep a C array in a coroutine frame.)
    std::array<char, 4096> buffer;
    std::size_t total = 0;
    for (;;) {
        auto [ec, n] = co_await side.read_some(buffer.data(), buffer.size());
        if (s.negotiation_expired()) co_return negotiation.fail(xmpp::StreamCondition::connection_timeout, s.summary().detail);
        if (ec) {
            if (!s.summary().reason) s.summary().reason = ec;
            s.summary().detail = ec == asio::error::eof ? "peer closed during the stream negotiation" : ec.message();
            co_return std::nullopt;
        }
        total += n;
        if (total > kMaxNegotiationBytes) {
            co_return negotiation.fail(xmpp::StreamCondition::policy_violation,
                                       "over 128 KiB before the stream was negotiated");
        }
        if (seen) seen->append(buffer.data(), n);
        auto actions = negotiation.feed(std::string_view(buffer.data(), n));
        if (actions.close || actions.proceed || actions.relay_plaintext || actions.need_backend ||
            actions.header_done)
            co_return actions;
        if (!actions.send.empty()) {
            if (auto wec = co_await side.write_all(actions.send.data(), actions.send.size())) {
                if (!s.summary().reason) s.summary().reason = wec;
                co_return std::nullopt;
            }
        }
    }
}

awaitable<bool> read_header(Session& s, xmpp::Negotiation& negotiation, std::string& seen) {
    auto actions = co_await negotiate(s, s.client(), negotiation, &seen);
    const bool passed = actions && actions->header_done;
    if (actions && !passed) co_await refuse_stream(s, std::move(*actions));
    co_return passed;
}

awaitable<void> refuse_stream(Session& s, xmpp::NegotiationActions actions) {
    if (!s.summary().reason) s.summary().reason = make_error_code(Errc::protocol_error);
    if (!s.negotiation_expired()) s.summary().detail = std::move(actions.reason);  // else the deadline's words stand
    co_await s.last_word(s.client(), std::move(actions.send));
}

awaitable<bool> pass_opening(Session& s, Connection& from, Connection& to, bool offer_starttls,
                             xmpp::StreamBoundary* watch) {
    xmpp::StreamTokenizer tokenizer;
    std::string seen;
    std::size_t header_size = 0;
    std::array<char, 4096> buffer;
    for (;;) {
        auto [ec, n] = co_await from.read_some(buffer.data(), buffer.size());
        if (ec) {
            if (!s.summary().reason) s.summary().reason = s.negotiation_expired() ? make_error_code(Errc::timed_out) : ec;
            s.summary().detail = "the other server's stream did not open";
            co_return false;
        }
        seen.append(buffer.data(), n);
        if (watch) watch->feed(std::string_view(buffer.data(), n));
        if (seen.size() > 128 * 1024) {  // the tokenizer caps header and element; this, the rest
            s.summary().reason = make_error_code(Errc::protocol_error);
            s.summary().detail = "the other server sent over 128 KiB without opening its stream";
            co_return false;
        }
        for (auto& event : tokenizer.feed(std::string_view(buffer.data(), n))) {
            if (auto* header = std::get_if<xmpp::StreamHeader>(&event)) {
                header_size = header->raw.size();
                continue;
            }
            std::string out;
            if (auto* element = std::get_if<xmpp::StreamElement>(&event)) {
                // The header verbatim (its id: dialback keys depend on it), the features as
                // ward offers them, then whatever followed.
                out = seen.substr(0, header_size);
                out += xmpp::rewrite_features(element->raw, offer_starttls).text;
                out += seen.substr(static_cast<std::size_t>(element->end_offset));
            } else if (std::holds_alternative<xmpp::StreamClosed>(event)) {
                out = std::move(seen);  // an empty stream, closed: passed on as it is
            } else {
                s.summary().reason = make_error_code(Errc::protocol_error);
                s.summary().detail = "the other server's stream is not XMPP";
                co_return false;
            }
            if (auto wec = co_await to.write_all(out.data(), out.size())) {
                s.summary().reason = wec;
                co_return false;
            }
            s.summary().bytes_to_client += &to == &s.client() ? out.size() : 0;
            co_return true;
        }
    }
}

}  // namespace ward::proxy::xmpp_front
