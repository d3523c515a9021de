// SPDX-License-Identifier: Apache-2.0
#include "bench/loadgen/establish.hpp"

#include "bench/loadgen/openssl_error.hpp"

namespace ward::loadgen {

awaitable<std::unique_ptr<Stream>> establish(Worker& w) {
    Stats& st = w.stats();
    auto s = std::make_unique<Stream>(w.io(), w.watchdog(), w.timeout());
    const auto t0 = Worker::Clock::now();
    if (co_await s->connect(w.target(), w.options().from) != Outcome::ok) {
        st.add_failure(s->failure());
        co_return nullptr;
    }
    const auto t1 = Worker::Clock::now();
    st.connect_ns.record(static_cast<std::uint64_t>((t1 - t0).count()));
    if (w.tls()) {
        UniqueSsl ssl = w.tls()->new_ssl();
        if (!ssl) {
            st.add_failure(openssl_error("SSL_new", "out of memory"));
            co_return nullptr;
        }
        s->attach_tls(std::move(ssl));
        const Outcome o = co_await s->handshake();
        if (o != Outcome::ok) {
            st.add_failure(o == Outcome::failed ? s->failure() : "handshake: interrupted");
            co_return nullptr;
        }
        st.handshake_ns.record(static_cast<std::uint64_t>((Worker::Clock::now() - t1).count()));
        st.note_negotiated(s->ssl());
    }
    ++st.established;
    co_return s;
}

awaitable<std::vector<std::unique_ptr<Stream>>> establish_all(Worker& w, std::size_t n) {
    std::vector<std::unique_ptr<Stream>> streams;
    TaskGroup setup(w);
    for (std::size_t i = 0; i < n; ++i)
        setup.spawn([](Worker& wk, std::vector<std::unique_ptr<Stream>>& out) -> awaitable<void> {
            if (auto s = co_await establish(wk)) out.push_back(std::move(s));
        }(w, streams));
    co_await setup.join();
    co_return streams;
}

std::vector<unsigned char> make_payload(std::size_t size, unsigned seed) {
    std::vector<unsigned char> out(size);
    std::uint32_t x = 2463534242u ^ (seed * 0x9e3779b9u);
    for (auto& b : out) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b = static_cast<unsigned char>(x);
    }
    return out;
}

}  // namespace ward::loadgen
