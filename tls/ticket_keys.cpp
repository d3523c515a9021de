// SPDX-License-Identifier: Apache-2.0
#include "tls/ticket_keys.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <mutex>

namespace ward::tls {

namespace {

using Clock = std::chrono::steady_clock;

struct Key {
    std::array<unsigned char, 16> name{};
    std::array<unsigned char, 32> aes{};
    std::array<unsigned char, 32> hmac{};
    Clock::time_point created{};
    bool valid = false;
};

class TicketKeys {
public:
    static TicketKeys& instance() {
        static TicketKeys keys;
        return keys;
    }

    // Sealing: the current key (made or rotated as due; a shared set is not rotated here).
    bool current(Key& out) {
        std::lock_guard lock(mutex_);
        const auto now = Clock::now() + offset_;
        if (!shared_ && (!current_.valid || now - current_.created >= rotation_)) {
            Key fresh;
            if (RAND_bytes(fresh.name.data(), static_cast<int>(fresh.name.size())) != 1 ||
                RAND_bytes(fresh.aes.data(), static_cast<int>(fresh.aes.size())) != 1 ||
                RAND_bytes(fresh.hmac.data(), static_cast<int>(fresh.hmac.size())) != 1)
                return false;
            fresh.created = now;
            fresh.valid = true;
            OPENSSL_cleanse(&previous_, sizeof previous_);
            previous_ = current_;
            current_ = fresh;
            OPENSSL_cleanse(&fresh, sizeof fresh);
        }
        out = current_;
        return true;
    }

    // Opening: 1 with the current key, 2 with the previous one (still valid, renew), 0 unknown
    // or expired.
    int find(const unsigned char* name, Key& out) {
        std::lock_guard lock(mutex_);
        if (shared_) {
            // The set is the cluster's to age: any of its keys opens, the current one without renewal.
            for (const Key* k : {&current_, &previous_, &next_}) {
                if (k->valid && std::memcmp(name, k->name.data(), k->name.size()) == 0) {
                    out = *k;
                    return k == &current_ ? 1 : 2;
                }
            }
            return 0;
        }
        const auto now = Clock::now() + offset_;
        if (current_.valid && std::memcmp(name, current_.name.data(), current_.name.size()) == 0 &&
            now - current_.created < 2 * rotation_) {
            out = current_;
            return now - current_.created < rotation_ ? 1 : 2;
        }
        if (previous_.valid && std::memcmp(name, previous_.name.data(), previous_.name.size()) == 0 &&
            now - previous_.created < 2 * rotation_) {
            out = previous_;
            return 2;
        }
        return 0;
    }

    const EVP_CIPHER* cipher() {
        std::call_once(fetched_, [this] {
            cipher_ = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
        });
        return cipher_;
    }

    void share(const TicketKey& previous, const TicketKey& current, const TicketKey& next) {
        std::lock_guard lock(mutex_);
        const auto now = Clock::now() + offset_;
        auto set = [&](Key& k, const TicketKey& from) {
            OPENSSL_cleanse(&k, sizeof k);
            k.name = from.name;
            k.aes = from.aes;
            k.hmac = from.hmac;
            k.created = now;
            k.valid = true;
        };
        set(previous_, previous);
        set(current_, current);
        set(next_, next);
        shared_ = true;
    }

    void own(Clock::duration grace) {
        std::lock_guard lock(mutex_);
        if (!shared_) {
            // Already own keys: no grace at all drops what is left of the last shared key.
            if (grace <= Clock::duration::zero() && last_shared_valid_) {
                for (Key* k : {&current_, &previous_}) {
                    if (k->valid && k->name == last_shared_) OPENSSL_cleanse(k, sizeof *k);
                }
                last_shared_valid_ = false;
            }
            return;
        }
        shared_ = false;
        last_shared_ = current_.name;
        last_shared_valid_ = true;
        OPENSSL_cleanse(&next_, sizeof next_);
        OPENSSL_cleanse(&previous_, sizeof previous_);
        // Due now: the next seal rotates, and the shared current key becomes the previous one,
        // which opens tickets until `grace` from now (a previous key opens until two periods
        // after it was made).
        grace = std::clamp(grace, Clock::duration::zero(), rotation_);
        current_.created = Clock::now() + offset_ - (2 * rotation_ - grace);
    }

    bool shared() {
        std::lock_guard lock(mutex_);
        return shared_;
    }

    void set_rotation(std::chrono::seconds r) {
        std::lock_guard lock(mutex_);
        rotation_ = r;
    }
    void advance(std::chrono::seconds by) {
        std::lock_guard lock(mutex_);
        offset_ += by;
    }

private:
    std::mutex mutex_;
    Key current_;
    Key previous_;
    Key next_;  // shared sets only
    bool shared_ = false;
    std::array<unsigned char, 16> last_shared_{};  // the name of the shared key kept for a grace
    bool last_shared_valid_ = false;
    Clock::duration rotation_ = std::chrono::hours(12);
    Clock::duration offset_{};
    std::once_flag fetched_;
    EVP_CIPHER* cipher_ = nullptr;
};

bool set_mac_key(EVP_MAC_CTX* hctx, Key& key) {
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac.data(), key.hmac.size()),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    return EVP_MAC_CTX_set_params(hctx, params) == 1;
}

int ticket_key_callback(SSL* ssl, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* ctx, EVP_MAC_CTX* hctx,
                        int enc) {
    TicketKeys& keys = TicketKeys::instance();
    const EVP_CIPHER* cipher = keys.cipher();
    if (cipher == nullptr) return -1;
    Key key;
    int result = 1;
    if (enc == 1) {
        if (!keys.current(key)) return -1;
        std::memcpy(key_name, key.name.data(), key.name.size());
        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(cipher)) != 1 ||
            EVP_EncryptInit_ex(ctx, cipher, nullptr, key.aes.data(), iv) != 1)
            result = -1;
    } else {
        result = keys.find(key_name, key);
        if (result != 0 && EVP_DecryptInit_ex(ctx, cipher, nullptr, key.aes.data(), iv) != 1) result = -1;
        // TLS 1.3 clients use a ticket once (RFC 8446 appendix C.4): a resumption must bring
        // a fresh one, which OpenSSL sends only when the ticket is "to be renewed".
        if (result == 1 && SSL_version(ssl) >= TLS1_3_VERSION) result = 2;
    }
    if (result > 0 && !set_mac_key(hctx, key)) result = -1;
    OPENSSL_cleanse(&key, sizeof key);
    return result;
}

}  // namespace

void install_ticket_keys(SSL_CTX* ctx) { SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, &ticket_key_callback); }

bool random_ticket_key(TicketKey& out) {
    return RAND_bytes(out.name.data(), static_cast<int>(out.name.size())) == 1 &&
           RAND_bytes(out.aes.data(), static_cast<int>(out.aes.size())) == 1 &&
           RAND_bytes(out.hmac.data(), static_cast<int>(out.hmac.size())) == 1;
}

void share_ticket_keys(const TicketKey& previous, const TicketKey& current, const TicketKey& next) {
    TicketKeys::instance().share(previous, current, next);
}

void own_ticket_keys(std::chrono::seconds grace) { TicketKeys::instance().own(grace); }

bool ticket_keys_shared() { return TicketKeys::instance().shared(); }

void set_ticket_key_rotation(std::chrono::seconds rotation) { TicketKeys::instance().set_rotation(rotation); }

void advance_ticket_key_clock(std::chrono::seconds by) { TicketKeys::instance().advance(by); }

}  // namespace ward::tls
