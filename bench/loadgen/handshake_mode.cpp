// SPDX-License-Identifier: Apache-2.0
// handshake and resume: a new TCP connection and TLS handshake per operation.
#include <algorithm>
#include <vector>

#include "bench/loadgen/establish.hpp"
#include "bench/loadgen/modes.hpp"
#include "bench/loadgen/openssl_error.hpp"
#include "bench/loadgen/protocol.hpp"
#include "bench/loadgen/worker.hpp"

namespace ward::loadgen {

namespace {

using Clock = Worker::Clock;

std::uint64_t ns(Clock::duration d) { return static_cast<std::uint64_t>(d.count()); }

// XEP-0368: a Direct TLS XMPP client offers ALPN xmpp-client.
void offer_alpn(Worker& w, SSL* ssl) {
    if (w.options().protocol != Protocol::xmpp_tls) return;
    static constexpr unsigned char alpn[] = "\x0bxmpp-client";
    SSL_set_alpn_protos(ssl, alpn, sizeof alpn - 1);
}

// One operation: connect, [XMPP STARTTLS negotiation,] handshake (a resumption attempt if the
// context has a session), [the protocol's exchange after TLS,] optional request/echo,
// close_notify and close. The handshake is timed from TCP connected
// to SSL_do_handshake done; a TLS 1.3 client is done after sending its Finished.
awaitable<void> one_connection(Worker& w, const Ticket t, const std::vector<unsigned char>& request,
                               std::vector<unsigned char>& reply) {
    Stats& st = w.stats();
    Stream s(w.io(), w.watchdog(), w.timeout());
    const auto t0 = Clock::now();
    if (co_await s.connect(w.target(), w.options().from) != Outcome::ok) {
        w.fail(t, s.failure());
        co_return;
    }
    const Protocol protocol = w.options().protocol;
    std::string failure;
    if (protocol == Protocol::xmpp_starttls &&
        co_await xmpp_before_tls(s, w.options().xmpp_domain, failure) != Outcome::ok) {
        w.fail(t, failure);
        co_return;
    }
    const auto t1 = Clock::now();
    UniqueSsl ssl = w.tls()->new_ssl();
    if (!ssl) {
        w.fail(t, openssl_error("SSL_new", "out of memory"));
        co_return;
    }
    offer_alpn(w, ssl.get());
    s.attach_tls(std::move(ssl));
    if (co_await s.handshake() != Outcome::ok) {
        w.fail(t, s.failure());
        co_return;  // no close_notify after a failed handshake: OpenSSL has sent its alert
    }
    const auto t2 = Clock::now();
    st.note_negotiated(s.ssl());
    const bool resumed = SSL_session_reused(s.ssl()) == 1;

    auto t3 = t2;
    if (protocol != Protocol::tls) {
        // (if/else, not ?: : GCC 12 miscompiles co_await in a conditional expression)
        Outcome o = Outcome::ok;
        if (protocol == Protocol::sip)
            o = co_await sip_options(s, static_cast<unsigned>(st.completed), failure);
        else
            o = co_await xmpp_after_tls(s, w.options().xmpp_domain, failure);
        if (o != Outcome::ok) {
            w.fail(t, failure);
            co_return;
        }
        t3 = Clock::now();
    }
    if (!request.empty()) {
        const Outcome echoed = co_await s.exchange(request.data(), reply.data(), request.size());
        if (echoed != Outcome::ok) {
            w.fail(t, s.failure());
            co_return;
        }
        t3 = Clock::now();
        if (reply != request) {
            w.fail(t, "read: the reply differs from the request");
            co_return;
        }
    }
    // With TLS 1.3 the server's tickets arrive after the handshake: the drain in
    // close_gracefully lets OpenSSL process them (resume keeps them for later connections).
    // A refused client certificate arrives then too, as an alert: that connection failed.
    const CloseResult closed = co_await s.close_gracefully(w.linger());
    if (closed == CloseResult::tls_error) {
        w.fail(t, s.failure());
        co_return;
    }
    if (w.counts(t)) {
        ++st.completed;
        if (resumed) ++st.resumed;
        st.connect_ns.record(ns(t1 - t0));
        st.handshake_ns.record(ns(t2 - t1));
        if (!request.empty() || protocol != Protocol::tls) st.exchange_ns.record(ns(t3 - t2));
        st.closes.add(closed);
        w.completed(t3);
    }
}

awaitable<void> slot(Worker& w, unsigned seed) {
    const auto request = make_payload(w.options().request, seed);
    std::vector<unsigned char> reply(request.size());
    while (const Ticket t = w.begin_op()) {
        co_await one_connection(w, t, request, reply);
    }
}

awaitable<void> run_slots(Worker& w) {
    TaskGroup slots(w);
    const std::size_t n = w.share(w.options().concurrency);
    for (std::size_t i = 0; i < n; ++i) slots.spawn(slot(w, static_cast<unsigned>(w.index() * 100003 + i)));
    co_await slots.join();
}

// One full handshake to obtain sessions. TLS 1.2 hands the session over in the handshake;
// TLS 1.3 sends NewSessionTicket afterwards, so read (application data dropped) until OpenSSL
// has processed one; the close's drain takes any further ones. Returns the version
// negotiated, 0 on failure.
awaitable<int> prime_once(Worker& w) {
    Stats& st = w.stats();
    Stream s(w.io(), w.watchdog(), w.timeout());
    if (co_await s.connect(w.target(), w.options().from) != Outcome::ok) {
        st.add_failure("prime: " + s.failure());
        co_return 0;
    }
    std::string failure;
    if (w.options().protocol == Protocol::xmpp_starttls &&
        co_await xmpp_before_tls(s, w.options().xmpp_domain, failure) != Outcome::ok) {
        st.add_failure("prime: " + failure);
        co_return 0;
    }
    UniqueSsl ssl = w.tls()->new_ssl(/*full=*/true);
    if (!ssl) {
        st.add_failure(openssl_error("prime: SSL_new", "out of memory"));
        co_return 0;
    }
    offer_alpn(w, ssl.get());
    s.attach_tls(std::move(ssl));
    ClientContext& tls = *w.tls();
    const std::uint64_t before = tls.sessions_received();  // TLS 1.2 delivers it in the handshake
    if (co_await s.handshake() != Outcome::ok) {
        st.add_failure("prime: " + s.failure());
        co_return 0;
    }
    st.note_negotiated(s.ssl());
    const int version = SSL_version(s.ssl());
    const Outcome o = co_await s.read_until([&tls, before] { return tls.sessions_received() > before; });
    if (o == Outcome::failed) st.add_failure("prime: waiting for a session ticket: " + s.failure());
    if (o == Outcome::closed) st.add_failure("prime: the server closed without issuing a session");
    co_await s.close_gracefully(w.linger());
    co_return o == Outcome::ok ? version : 0;
}

// Fills the session pool before measuring: one session suffices for TLS 1.2 (reusable); for
// TLS 1.3 every connection in flight needs a ticket of its own (servers send one or two per
// handshake), after which each resumption brings the next.
awaitable<void> prime(Worker& w) {
    const std::size_t wanted = std::max<std::size_t>(1, w.share(w.options().concurrency));
    for (std::size_t attempt = 0; attempt < wanted + 2 && w.tls()->pool_size() < wanted; ++attempt) {
        const int version = co_await prime_once(w);
        if (version == 0 || (version < TLS1_3_VERSION && w.tls()->pool_size() > 0)) break;
    }
}

}  // namespace

awaitable<void> handshake_main(Worker& w) {
    co_await w.ready();
    co_await run_slots(w);
}

awaitable<void> resume_main(Worker& w) {
    co_await prime(w);
    co_await w.ready();
    co_await run_slots(w);
}

}  // namespace ward::loadgen
