// SPDX-License-Identifier: Apache-2.0
#include "proxy/cluster/tickets.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cerrno>
#include <cstring>
#include <memory>

#include "config/values.hpp"
#include "tls/crypto.hpp"

namespace ward::cluster {

namespace json = boost::json;

namespace {

constexpr std::int64_t kVersion = 1;
constexpr std::size_t kKeyBytes = 16 + 32 + 32;
constexpr std::size_t kPlainBytes = 3 * kKeyBytes;
constexpr std::size_t kIvBytes = crypto::kGcmIv;
constexpr std::size_t kTagBytes = crypto::kGcmTag;

// A buffer that is cleansed when it goes.
struct Secret {
    std::array<unsigned char, kPlainBytes> bytes{};
    ~Secret() { crypto::cleanse(bytes.data(), bytes.size()); }
};

void put_key(const tls::TicketKey& k, unsigned char* out) {
    std::copy(k.name.begin(), k.name.end(), out);
    std::copy(k.aes.begin(), k.aes.end(), out + 16);
    std::copy(k.hmac.begin(), k.hmac.end(), out + 48);
}

void get_key(const unsigned char* in, tls::TicketKey& k) {
    std::copy(in, in + 16, k.name.begin());
    std::copy(in + 16, in + 48, k.aes.begin());
    std::copy(in + 48, in + 80, k.hmac.begin());
}

// What the seal authenticates besides the keys: where the value lives, who made it and when.
std::string associated(const std::string& path, const std::string& by, std::int64_t when) {
    return "ward cluster ticket keys v1\n" + path + "\n" + by + "\n" + std::to_string(when);
}

}  // namespace

Result<TicketSeal> TicketSeal::derive(std::string_view secret, std::string path) {
    if (secret.size() < 32) return Error{"the ticket secret is shorter than 32 bytes"};
    TicketSeal out;
    out.path_ = std::move(path);
    // HMAC-SHA256 keyed with the secret over the value's place: one key per cluster and prefix.
    const std::string label = "ward cluster ticket keys v1\n" + out.path_;
    auto key = crypto::hmac_sha256(crypto::bytes(secret), {crypto::bytes(label)});
    if (!key) return Error{"deriving the ticket seal failed"};
    out.key_ = *key;
    crypto::cleanse(key->data(), key->size());
    return out;
}

Result<std::string> TicketSeal::seal(const TicketKeySet& set) const {
    Secret plain;
    put_key(set.previous, plain.bytes.data());
    put_key(set.current, plain.bytes.data() + kKeyBytes);
    put_key(set.next, plain.bytes.data() + 2 * kKeyBytes);
    const auto aad = associated(path_, set.rotated_by, set.rotated);
    std::string sealed;
    if (!crypto::aes_256_gcm_seal(key_, crypto::bytes(aad), plain.bytes, sealed))
        return Error{"sealing the ticket keys failed"};
    return json::serialize(json::object{
        {"version", kVersion}, {"rotated_by", set.rotated_by}, {"rotated", set.rotated}, {"sealed", base64(sealed)}});
}

Result<TicketKeySet> TicketSeal::open(std::string_view value) const {
    if (value.size() > 4096) return Error{"the ticket key set is too large"};
    boost::system::error_code ec;
    auto parsed = json::parse(value, ec);
    if (ec || !parsed.is_object()) return Error{"the ticket key set is not a JSON object"};
    const auto& o = parsed.as_object();
    const auto* version = o.if_contains("version");
    if (!version || !version->is_int64() || version->as_int64() != kVersion)
        return Error{"the ticket key set is not of version 1"};
    const auto* by = o.if_contains("rotated_by");
    const auto* when = o.if_contains("rotated");
    const auto* sealed = o.if_contains("sealed");
    if (!by || !by->is_string() || !config::is_cluster_name(std::string_view(by->as_string().data(), by->as_string().size())))
        return Error{"the ticket key set does not name the node that made it"};
    if (!when || !when->is_int64() || when->as_int64() <= 0) return Error{"the ticket key set has no rotation time"};
    std::optional<std::string> bytes;
    if (o.size() == 4 && sealed && sealed->is_string())
        bytes = unbase64(std::string_view(sealed->as_string().data(), sealed->as_string().size()));
    if (!bytes || bytes->size() != kIvBytes + kPlainBytes + kTagBytes)
        return Error{"the ticket key set does not hold three sealed keys"};
    TicketKeySet out;
    out.rotated_by = std::string(by->as_string().data(), by->as_string().size());
    out.rotated = when->as_int64();
    const auto aad = associated(path_, out.rotated_by, out.rotated);
    Secret plain;
    if (!crypto::aes_256_gcm_open(key_, crypto::bytes(aad), crypto::bytes(*bytes), plain.bytes))
        return Error{"the ticket key set does not open with this node's cluster.ticket_secret_file (another secret, "
                     "another cluster's value, or altered)"};
    get_key(plain.bytes.data(), out.previous);
    get_key(plain.bytes.data() + kKeyBytes, out.current);
    get_key(plain.bytes.data() + 2 * kKeyBytes, out.next);
    if (out.previous.name == out.current.name || out.current.name == out.next.name || out.previous.name == out.next.name)
        return Error{"the ticket key set names two keys alike"};
    return out;
}

Result<std::string> read_ticket_secret(const std::string& file) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return Error{"the ticket secret " + file + ": " + std::strerror(errno)};
    struct stat st {};
    std::string why;
    if (::fstat(fd, &st) != 0) why = std::strerror(errno);
    else if (!S_ISREG(st.st_mode)) why = "not a regular file";
    else if (st.st_uid != ::geteuid()) why = "not owned by the user ward runs as";
    else if ((st.st_mode & 077) != 0) why = "readable by others than its owner (chmod 600)";
    else if (st.st_size < 32 || st.st_size > 4096) why = "not 32 to 4096 bytes";
    std::string out;
    if (why.empty()) {
        std::array<char, 4096> buffer{};
        const auto n = ::read(fd, buffer.data(), buffer.size());
        if (n < 32) why = "fewer than 32 bytes could be read";
        else out.assign(buffer.data(), static_cast<std::size_t>(n));
        crypto::cleanse(buffer.data(), buffer.size());
    }
    ::close(fd);
    if (!why.empty()) return Error{"the ticket secret " + file + ": " + why};
    return out;
}

Result<TicketKeySet> rotate_ticket_keys(const std::optional<TicketKeySet>& was, const std::string& node,
                                        std::int64_t now) {
    TicketKeySet out;
    out.rotated_by = node;
    out.rotated = now;
    bool ok = tls::random_ticket_key(out.next);
    if (was) {
        out.previous = was->current;
        out.current = was->next;
    } else {
        ok = ok && tls::random_ticket_key(out.previous) && tls::random_ticket_key(out.current);
    }
    if (!ok) return Error{"the random generator failed"};
    return out;
}

awaitable<Result<Rotation>> rotate_in_etcd(EtcdClient& client, TicketSeal seal, std::string node, std::int64_t now,
                                           std::int64_t expected, std::optional<TicketKeySet> was) {
    auto fresh = rotate_ticket_keys(was, node, now);
    if (!fresh) co_return Error{fresh.error()};
    auto value = seal.seal(*fresh);
    if (!value) co_return Error{value.error()};
    auto put_op = client.put_if_revision(seal.path(), std::move(*value), 0, expected);
    auto put = co_await std::move(put_op);
    if (!put) co_return Error{put.error()};
    Rotation out;
    if (put->succeeded) {
        out.won = true;
        out.set = std::move(*fresh);
        out.revision = put->revision;
        co_return out;
    }
    if (put->range.kvs.empty()) co_return Error{"the ticket key set changed and then went away"};
    auto there = seal.open(put->range.kvs.front().value);
    if (!there) co_return Error{there.error()};
    out.set = std::move(*there);
    out.revision = put->range.kvs.front().mod_revision;
    co_return out;
}

}  // namespace ward::cluster
