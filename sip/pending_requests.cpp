// SPDX-License-Identifier: Apache-2.0
#include "sip/pending_requests.hpp"

#include <algorithm>

#include "sip/grammar.hpp"

namespace ward::sip {

namespace {

// The transaction a message belongs to, as far as a relay can tell: Call-ID and CSeq (number
// and method; a CANCEL is its own transaction). Empty when either is missing or repeated.
std::string transaction_key(std::string_view head, const MessageHead& parsed) {
    const Field* call_id = nullptr;
    const Field* cseq = nullptr;
    for (const auto& f : parsed.fields) {
        const Field** slot = f.kind == FieldKind::call_id ? &call_id : f.kind == FieldKind::cseq ? &cseq : nullptr;
        if (!slot) continue;
        if (*slot) return {};
        *slot = &f;
    }
    if (!call_id || !cseq) return {};
    // CSeq = 1*DIGIT LWS Method: compared as a number and a method (a stack that writes the
    // number back without its leading zeros, or with other whitespace, still matches).
    std::string key(header_value(head, *call_id));
    key += '\r';
    auto cseq_text = header_value(head, *cseq);
    std::size_t digits = 0;
    while (digits < cseq_text.size() && is_digit(cseq_text[digits])) ++digits;
    auto number = cseq_text.substr(0, digits);
    while (number.size() > 1 && number.front() == '0') number.remove_prefix(1);
    auto method = cseq_text.substr(digits);
    while (!method.empty() && (is_wsp(method.front()) || method.front() == '\r' || method.front() == '\n'))
        method.remove_prefix(1);
    if (number.empty() || method.empty()) return {};
    key.append(number).append(" ").append(method);
    return key;
}

}  // namespace

PendingRequests::PendingRequests(std::chrono::milliseconds timeout, std::size_t capacity, std::size_t max_bytes)
    : timeout_(timeout), capacity_(capacity), max_bytes_(max_bytes) {}

void PendingRequests::forwarded(std::string_view head, const MessageHead& parsed, clock::time_point now) {
    if (parsed.start.kind != MessageKind::request || parsed.start.method == "ACK") return;
    if (waiting_.size() >= capacity_) return;
    auto key = transaction_key(head, parsed);
    if (key.empty()) return;
    // A retransmission (same transaction) keeps the first one's clock.
    if (std::any_of(waiting_.begin(), waiting_.end(), [&](const Waiting& w) { return w.key == key; })) return;
    auto answer = error_response(408, head, parsed);
    if (answer.empty() || bytes_ + key.size() + answer.size() > max_bytes_) return;
    bytes_ += key.size() + answer.size();
    waiting_.push_back(Waiting{std::move(key), std::move(answer), now + timeout_});
}

void PendingRequests::returned(std::string_view head, const MessageHead& parsed) {
    if (parsed.start.kind != MessageKind::response || waiting_.empty()) return;
    const auto key = transaction_key(head, parsed);
    if (key.empty()) return;
    const auto it = std::find_if(waiting_.begin(), waiting_.end(), [&](const Waiting& w) { return w.key == key; });
    if (it == waiting_.end()) return;
    bytes_ -= it->key.size() + it->answer.size();
    waiting_.erase(it);
}

std::optional<PendingRequests::clock::time_point> PendingRequests::due() const {
    if (waiting_.empty()) return std::nullopt;
    return waiting_.front().due;
}

std::string PendingRequests::expire(clock::time_point now) {
    std::string out;
    while (!waiting_.empty() && waiting_.front().due <= now) {
        out += waiting_.front().answer;
        bytes_ -= waiting_.front().key.size() + waiting_.front().answer.size();
        waiting_.pop_front();
    }
    return out;
}

}  // namespace ward::sip
