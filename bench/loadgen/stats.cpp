// SPDX-License-Identifier: Apache-2.0
#include "bench/loadgen/stats.hpp"

namespace ward::loadgen {

void CloseCounts::add(CloseResult r) {
    switch (r) {
        case CloseResult::close_notify: ++close_notify; break;
        case CloseResult::eof: ++eof; break;
        case CloseResult::tls_error: ++tls_error; break;
        case CloseResult::error: ++error; break;
        case CloseResult::timeout: ++timeout; break;
        case CloseResult::aborted: ++aborted; break;
    }
}

void CloseCounts::merge(const CloseCounts& o) {
    close_notify += o.close_notify;
    eof += o.eof;
    tls_error += o.tls_error;
    error += o.error;
    timeout += o.timeout;
    aborted += o.aborted;
}

void Stats::add_failure(std::string_view reason) {
    ++failed;
    if (auto it = failures.find(reason); it != failures.end())
        ++it->second;
    else
        failures.emplace(std::string(reason), 1);
}

void Stats::note_negotiated(SSL* ssl) {
    if (negotiated.known || !ssl) return;
    negotiated.known = true;
    negotiated.version = SSL_get_version(ssl);
    negotiated.cipher = SSL_get_cipher_name(ssl);
    if (const int group = SSL_get_negotiated_group(ssl); group != 0)
        if (const char* name = SSL_group_to_name(ssl, group)) negotiated.group = name;
}

void Stats::merge(const Stats& o) {
    completed += o.completed;
    failed += o.failed;
    resumed += o.resumed;
    established += o.established;
    bytes_up += o.bytes_up;
    bytes_down += o.bytes_down;
    closed_by_peer += o.closed_by_peer;
    for (const auto& [reason, n] : o.failures) failures[reason] += n;
    closes.merge(o.closes);
    connect_ns.merge(o.connect_ns);
    handshake_ns.merge(o.handshake_ns);
    exchange_ns.merge(o.exchange_ns);
    if (!negotiated.known) negotiated = o.negotiated;
}

}  // namespace ward::loadgen
