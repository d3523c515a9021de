// SPDX-License-Identifier: Apache-2.0
// The random generator behind each connection, in both flavours. OpenSSL keeps one DRBG per
// thread for all its connections; ward's wolfSSL is patched to do the same
// (deploy/wolfssl/patches/thread-rng.patch) instead of seeding one per connection. What must
// hold either way: no two connections draw the same randoms, a forked child never repeats its
// parent's, and a connection never draws from a generator another thread may be using.
#include <doctest/doctest.h>
#include <openssl/err.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/tls_test_support.hpp"

namespace {

using ward::test::PeerOptions;
using ward::test::TempDir;
using ward::test::TestPki;

using Random = std::array<unsigned char, 32>;

struct Peers {
    ward::tls::UniqueSslCtx server;
    ward::tls::UniqueSslCtx client;
};

Peers make_peers(const TestPki& pki, int version, const char* tls12_cipher = nullptr) {
    PeerOptions s;
    s.cert = pki.server().cert;
    s.key = pki.server().key;
    s.min_version = version;
    s.max_version = version;
    PeerOptions c;
    c.trust_ca = pki.ca().cert;
    c.min_version = version;
    c.max_version = version;
    if (tls12_cipher) s.cipher_list = c.cipher_list = tls12_cipher;
    return {ward::test::make_peer_server_ctx(s), ward::test::make_peer_ctx(c)};
}

// A throw-away PKI and a server and client context on it.
struct Setup {
    explicit Setup(int version, const char* tls12_cipher = nullptr) : peers(make_peers(pki, version, tls12_cipher)) {}
    TempDir dir{"tls-random"};
    TestPki pki{dir.path()};
    Peers peers;
};

struct Connection {
    ward::tls::UniqueSsl server;
    ward::tls::UniqueSsl client;
    Random server_random{};
    Random client_random{};
};

Connection connect(const Peers& peers) {
    Connection c{ward::test::make_peer_server(peers.server.get()), ward::test::make_peer_client(peers.client.get())};
#if defined(WARD_TLS_WOLFSSL)
    // (wolfSSL frees the handshake's randoms when it ends unless told to keep them.)
    wolfSSL_KeepArrays(c.server.get());
    wolfSSL_KeepArrays(c.client.get());
#endif
    const auto r = ward::test::handshake(c.server.get(), c.client.get());
    INFO(r.describe());
    REQUIRE(r.server_ok);
    REQUIRE(r.client_ok);
    REQUIRE(SSL_get_server_random(c.server.get(), c.server_random.data(), c.server_random.size()) == 32);
    REQUIRE(SSL_get_client_random(c.client.get(), c.client_random.data(), c.client_random.size()) == 32);
    return c;
}

// An SSL_get_error answer that is neither success nor a wait (wolfSSL passes its own negative
// codes through where OpenSSL says SSL_ERROR_SSL).
bool hard_error(int e) {
    return e != SSL_ERROR_NONE && e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_ZERO_RETURN;
}

// `n` connections on the calling thread: their server and client randoms.
std::vector<Random> randoms_of(const Peers& peers, int n) {
    std::vector<Random> out;
    for (int i = 0; i < n; ++i) {
        auto c = connect(peers);
        out.push_back(c.server_random);
        out.push_back(c.client_random);
    }
    return out;
}

}  // namespace

TEST_CASE("tls random: no two connections draw the same randoms on one thread or across threads") {
    const Setup setup(TLS1_3_VERSION);
    const auto& peers = setup.peers;
    std::vector<Random> a;
    std::vector<Random> b;
    std::vector<Random> here;
    {
        // (A failed REQUIRE throws: caught on the thread, seen as a short list below.)
        std::thread ta([&] {
            try {
                a = randoms_of(peers, 100);
            } catch (...) {
            }
        });
        std::thread tb([&] {
            try {
                b = randoms_of(peers, 100);
            } catch (...) {
            }
        });
        here = randoms_of(peers, 100);
        ta.join();
        tb.join();
    }
    std::set<Random> all;
    for (const auto* v : {&a, &b, &here}) {
        REQUIRE(v->size() == 200);
        all.insert(v->begin(), v->end());
    }
    CHECK(all.size() == 600);
}

TEST_CASE("tls random: a forked child never draws its parent's randoms") {
    // The parent's thread has drawn before the fork; then each side makes the same handshakes.
    // A child that carried on from its parent's generator state would draw the very same bytes.
    const Setup setup(TLS1_3_VERSION);
    const auto& peers = setup.peers;
    (void)randoms_of(peers, 2);

    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        // The child: no doctest from here on, only the pipe and _exit.
        close(fds[0]);
        int status = 1;
        try {
            const auto drawn = randoms_of(peers, 4);
            std::string bytes;
            for (const auto& r : drawn) bytes.append(reinterpret_cast<const char*>(r.data()), r.size());
            if (write(fds[1], bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size())) status = 0;
        } catch (...) {
        }
        _exit(status);
    }
    close(fds[1]);
    const auto mine = randoms_of(peers, 4);
    std::string theirs;
    char buffer[4096];
    for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;) theirs.append(buffer, static_cast<std::size_t>(n));
    close(fds[0]);
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    REQUIRE(theirs.size() == mine.size() * 32);

    std::set<Random> all(mine.begin(), mine.end());
    for (std::size_t i = 0; i < mine.size(); ++i) {
        Random r;
        std::memcpy(r.data(), theirs.data() + i * 32, 32);
        all.insert(r);
    }
    CHECK(all.size() == mine.size() * 2);
}

TEST_CASE("tls random: a connection whose thread has ended is refused by wolfSSL and goes on with OpenSSL") {
    // TLS 1.2 with a CBC suite: every record the server writes draws its explicit IV. OpenSSL
    // lets a connection move between threads (its generators are per thread, looked up at each
    // draw). ward's wolfSSL binds a connection to the generator of the thread that made it, so
    // on any other thread the connection fails rather than draw; freeing it anywhere is safe.
    const Setup setup(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA256");
    const auto& peers = setup.peers;
    std::vector<Connection> made;
    std::thread maker([&] {
        try {
            for (int i = 0; i < 3; ++i) made.push_back(connect(peers));
        } catch (...) {
        }
    });
    maker.join();
    REQUIRE(made.size() == 3);

    for (auto& c : made) {
        CHECK(std::string(SSL_get_cipher_name(c.server.get())) == "ECDHE-ECDSA-AES128-SHA256");
        const std::string message = "after the thread";
        const int written = SSL_write(c.server.get(), message.data(), static_cast<int>(message.size()));
        if (ward::test::kLibrary.openssl) {
            REQUIRE(written == static_cast<int>(message.size()));
            char got[64] = {};
            REQUIRE(SSL_read(c.client.get(), got, sizeof got) == static_cast<int>(message.size()));
            CHECK(std::string(got, message.size()) == message);
        } else {
            CHECK(written <= 0);
            CHECK(hard_error(SSL_get_error(c.server.get(), written)));
            char got[64] = {};
            CHECK(SSL_read(c.client.get(), got, sizeof got) <= 0);  // nothing was sent
        }
    }
    ERR_clear_error();
    made.clear();  // freed on this thread, after their thread has ended
}

#if defined(WARD_TLS_WOLFSSL)
TEST_CASE("tls random: wolfSSL connections share their thread's generator, which is replaced in time") {
    // ward's patch (deploy/wolfssl/patches/thread-rng.patch) is in the library: connections
    // made on one thread draw from one generator, another thread's from another; the thread's
    // generator gives way to a freshly seeded one after 1,024 connections, and in a forked child.
    const Setup setup(TLS1_3_VERSION);
    const auto& peers = setup.peers;
    auto first = ward::test::make_peer_server(peers.server.get());
    auto second = ward::test::make_peer_server(peers.server.get());
    WC_RNG* const mine = wolfSSL_GetRNG(first.get());
    REQUIRE(mine != nullptr);
    CHECK(wolfSSL_GetRNG(second.get()) == mine);

    WC_RNG* theirs = nullptr;
    std::thread other([&] {
        auto ssl = ward::test::make_peer_server(peers.server.get());
        theirs = wolfSSL_GetRNG(ssl.get());
    });
    other.join();
    CHECK(theirs != nullptr);
    CHECK(theirs != mine);

    // `first` and `second` keep the generator alive, so a new one cannot take its address.
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        auto ssl = ward::test::make_peer_server(peers.server.get());
        _exit(ssl && wolfSSL_GetRNG(ssl.get()) != nullptr && wolfSSL_GetRNG(ssl.get()) != mine ? 0 : 1);
    }
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
    auto after_fork = ward::test::make_peer_server(peers.server.get());
    CHECK(wolfSSL_GetRNG(after_fork.get()) == mine);  // the parent keeps its own

    // Whatever this thread has drawn before, a replacement comes within 1,024 connections; the
    // one after it comes after exactly 1,024 more. Every connection is kept, so no generator
    // is freed and no new one can take an old one's address.
    std::vector<ward::tls::UniqueSsl> held;
    auto next_generator = [&](WC_RNG* current) {
        int uses = 0;
        while (uses < 1100) {
            held.push_back(ward::test::make_peer_server(peers.server.get()));
            WC_RNG* rng = wolfSSL_GetRNG(held.back().get());
            if (rng != current) return std::make_pair(rng, uses);
            ++uses;
        }
        return std::make_pair(static_cast<WC_RNG*>(nullptr), uses);
    };
    const auto [replaced, before] = next_generator(mine);
    REQUIRE(replaced != nullptr);
    CHECK(before <= 1024 - 3);  // first, second and after_fork were three of its uses
    const auto [again, uses] = next_generator(replaced);
    REQUIRE(again != nullptr);
    CHECK(again != mine);
    CHECK(uses + 1 == 1024);  // the one that found it counted too
    // An old generator still serves the connections that hold it.
    CHECK(wolfSSL_GetRNG(first.get()) == mine);
    auto c = connect(peers);
    CHECK(wolfSSL_GetRNG(c.server.get()) == again);
}

TEST_CASE("tls random: a thread's failed wolfSSL generator is replaced and its connections fail cleanly") {
    // A generator whose health test or reseed failed refuses every draw. The connections that
    // hold it fail their handshakes (no crash, no randoms from a broken generator), and the
    // next connection on the thread takes a freshly seeded one.
    const Setup setup(TLS1_3_VERSION);
    const auto& peers = setup.peers;
    auto broken = ward::test::make_peer_server(peers.server.get());
    WC_RNG* const failed = wolfSSL_GetRNG(broken.get());
    REQUIRE(failed != nullptr);
    failed->status = 2;  // wolfcrypt/src/random.c's DRBG_FAILED

    auto fresh = connect(peers);
    CHECK(wolfSSL_GetRNG(fresh.server.get()) != failed);
    CHECK(wolfSSL_GetRNG(fresh.client.get()) == wolfSSL_GetRNG(fresh.server.get()));

    auto client = ward::test::make_peer_client(peers.client.get());
    const auto r = ward::test::handshake(broken.get(), client.get());
    INFO(r.describe());
    CHECK_FALSE(r.server_ok);
    CHECK_FALSE(r.client_ok);
    broken.reset();  // the last reference to the failed generator
    auto after = connect(peers);
    CHECK(wolfSSL_GetRNG(after.server.get()) == wolfSSL_GetRNG(fresh.server.get()));
}

TEST_CASE("tls random: a wolfSSL connection refuses to run on a thread other than its own") {
    // Its own thread is alive and may draw from the same generator at any moment: on another
    // thread each entry point that can draw fails with BAD_STATE_E before it does (a read or a
    // handshake that merely waited would say WANT_READ), nothing is sent, and the connection
    // still works on its own thread afterwards.
    const Setup setup(TLS1_3_VERSION);
    const auto& peers = setup.peers;
    auto c = connect(peers);
    auto fresh_server = ward::test::make_peer_server(peers.server.get());
    auto fresh_client = ward::test::make_peer_client(peers.client.get());
    BIO* client_bio = nullptr;
    BIO* server_bio = nullptr;
    REQUIRE(BIO_new_bio_pair(&client_bio, 0, &server_bio, 0) == 1);
    SSL_set_bio(fresh_client.get(), client_bio, client_bio);
    SSL_set_bio(fresh_server.get(), server_bio, server_bio);

    struct Call {
        const char* what;
        int result = 1;
        int error = 0;
    };
    std::vector<Call> calls{{"write"}, {"read"}, {"peek"}, {"server handshake"}, {"client handshake"}, {"shutdown"}};
    std::thread elsewhere([&] {
        auto note = [&](std::size_t i, SSL* ssl, int r) {
            calls[i].result = r;
            calls[i].error = SSL_get_error(ssl, r);
        };
        const char one = 'x';
        char got[8];
        note(0, c.server.get(), SSL_write(c.server.get(), &one, 1));
        note(1, c.server.get(), SSL_read(c.server.get(), got, sizeof got));
        note(2, c.server.get(), SSL_peek(c.server.get(), got, sizeof got));
        note(3, fresh_server.get(), SSL_do_handshake(fresh_server.get()));
        note(4, fresh_client.get(), SSL_do_handshake(fresh_client.get()));
        note(5, c.server.get(), SSL_shutdown(c.server.get()));
        ERR_clear_error();
    });
    elsewhere.join();
    for (const auto& call : calls) {
        INFO(std::string(call.what));
        CHECK(call.result <= 0);
        CHECK(call.error == BAD_STATE_E);
    }
    CHECK(BIO_ctrl_pending(server_bio) == 0);  // the client's handshake sent no ClientHello
    char none[8];
    CHECK(SSL_read(c.client.get(), none, sizeof none) <= 0);  // no byte, no close_notify came
    CHECK(SSL_get_error(c.client.get(), -1) == SSL_ERROR_WANT_READ);
    ERR_clear_error();

    const std::string message = "at home";
    REQUIRE(SSL_write(c.server.get(), message.data(), static_cast<int>(message.size())) ==
            static_cast<int>(message.size()));
    char got[64] = {};
    REQUIRE(SSL_read(c.client.get(), got, sizeof got) == static_cast<int>(message.size()));
    CHECK(std::string(got, message.size()) == message);
}
#endif
