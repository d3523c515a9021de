// SPDX-License-Identifier: Apache-2.0
#include "tls/ticket_keys.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <mutex>

#include "tls/crypto.hpp"
#include "tls/ticket_keys_detail.hpp"

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
            if (!crypto::random_bytes(fresh.name) || !crypto::random_bytes(fresh.aes) || !crypto::random_bytes(fresh.hmac))
                return false;
            fresh.created = now;
            fresh.valid = true;
            crypto::cleanse(&previous_, sizeof previous_);
            previous_ = current_;
            current_ = fresh;
            crypto::cleanse(&fresh, sizeof fresh);
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

    void share(const TicketKey& previous, const TicketKey& current, const TicketKey& next) {
        std::lock_guard lock(mutex_);
        const auto now = Clock::now() + offset_;
        auto set = [&](Key& k, const TicketKey& from) {
            crypto::cleanse(&k, sizeof k);
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
                    if (k->valid && k->name == last_shared_) crypto::cleanse(k, sizeof *k);
                }
                last_shared_valid_ = false;
            }
            return;
        }
        shared_ = false;
        last_shared_ = current_.name;
        last_shared_valid_ = true;
        crypto::cleanse(&next_, sizeof next_);
        crypto::cleanse(&previous_, sizeof previous_);
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
};

void copy(const Key& from, TicketKey& to) {
    to.name = from.name;
    to.aes = from.aes;
    to.hmac = from.hmac;
}

}  // namespace

bool detail::sealing_ticket_key(TicketKey& out) {
    Key key;
    const bool ok = TicketKeys::instance().current(key);
    if (ok) copy(key, out);
    crypto::cleanse(&key, sizeof key);
    return ok;
}

int detail::opening_ticket_key(const unsigned char* name, TicketKey& out) {
    Key key;
    const int found = TicketKeys::instance().find(name, key);
    if (found != 0) copy(key, out);
    crypto::cleanse(&key, sizeof key);
    return found;
}


bool random_ticket_key(TicketKey& out) {
    return crypto::random_bytes(out.name) && crypto::random_bytes(out.aes) && crypto::random_bytes(out.hmac);
}

void share_ticket_keys(const TicketKey& previous, const TicketKey& current, const TicketKey& next) {
    TicketKeys::instance().share(previous, current, next);
}

void own_ticket_keys(std::chrono::seconds grace) { TicketKeys::instance().own(grace); }

bool ticket_keys_shared() { return TicketKeys::instance().shared(); }

void set_ticket_key_rotation(std::chrono::seconds rotation) { TicketKeys::instance().set_rotation(rotation); }

void advance_ticket_key_clock(std::chrono::seconds by) { TicketKeys::instance().advance(by); }

}  // namespace ward::tls
