// SPDX-License-Identifier: Apache-2.0
// The relay: both directions at once, each read only into a buffer taken from the worker's
// pool while data is in flight (backpressure: never read more than was written), through the
// direction's filter if it has one, with half-close passed on.
//
// A direction that only moves bytes (no filter, or one that only watches) is a plain handler,
// pump_plain: while it waits it holds one readiness wait on its source and nothing else, no
// coroutine frame (an idle session is what a worker holds most of). What needs to wait in the
// middle of a step (a write the other side has no room for, the source's end or failure, with
// a filter's last word) is a coroutine made for that step, which hands back to the handler.
// A transforming filter's direction is the pump coroutine throughout.
#include "proxy/engine/log.hpp"
#include "proxy/engine/session.hpp"
#include "proxy/engine/worker.hpp"

namespace ward::proxy {

void Session::direction_failed(error_code ec) {
    // While one side lingers after ward's last word, the other direction's failure (its write
    // to the lingering side is refused, for one) ends only that direction: the lingering side
    // is closed by its drain or the closing second, and the reason stays the first one.
    if (!lingering_) abort(ec);
}

void Session::count_relayed(bool from_client, std::size_t n) {
    auto& relay = metrics_->relay_of(worker_.id());
    if (from_client) {
        summary_.bytes_from_client += n;
        RelayCounters::add(relay.bytes_from_client, n);
    } else {
        summary_.bytes_to_client += n;
        RelayCounters::add(relay.bytes_to_client, n);
    }
}

namespace {

// Reads and writes that complete at once never return to the event loop: after this many
// bytes in a row, a direction yields, so two fast peers cannot keep a worker's other sessions
// (and their timers) waiting.
constexpr std::size_t kYieldAfter = 256 * 1024;

}  // namespace

Session::Ends Session::ends(bool from_client) {
    if (from_client) return {client_, *backend_, filter_from_client_.get()};
    return {*backend_, client_, filter_from_backend_.get()};
}

void Session::start_direction(bool from_client) {
    try {
        const auto [from, to, filter] = ends(from_client);
        if (filter && !filter->watches_only()) {
            asio::co_spawn(worker_.io(), pump(from, to, *filter, from_client),
                           [self = shared_from_this(), from_client](std::exception_ptr e) {
                               if (e) self->relay_failed(from_client, e);
                               self->direction_ended();
                           });
            return;
        }
        pump_plain(from_client);
    } catch (...) {
        relay_failed(from_client, std::current_exception());
        direction_ended();
    }
}

void Session::pump_plain(bool from_client) {
    try {
        const auto [from, to, watcher] = ends(from_client);  // (a filter here only watches)
        std::size_t& since_yield = since_yield_[from_client ? 1 : 0];
        const std::size_t size = listener_.limits.buffer_size;
        for (;;) {
            if (since_yield >= kYieldAfter) {
                since_yield = 0;
                asio::post(worker_.io(), [self = shared_from_this(), from_client] { self->pump_plain(from_client); });
                return;
            }
            // Read first, wait only when the socket is empty (edge-triggered readiness), and
            // hold no buffer while waiting.
            auto buffer = worker_.pool().take(size);
            const auto [ec, n] = from.try_read(buffer.data(), buffer.size());
            if (Connection::must_wait(ec)) {
                buffer = {};
                from.async_wait_for(ec, [self = shared_from_this(), from_client](error_code wec) {
                    if (wec) {
                        self->direction_failed(wec);
                        self->direction_ended();
                        return;
                    }
                    self->pump_plain(from_client);
                });
                return;
            }
            if (ec) {
                spawn_step(end_step(from_client, ec), from_client);
                return;
            }
            last_activity_ = clock::now();
            if (watcher) watcher->observe(buffer.data(), n);
            since_yield += n;
            std::size_t written = 0;
            const auto wec = to.try_write(buffer.data(), n, written);
            if (!wec) {
                count_relayed(from_client, n);
                continue;
            }
            if (Connection::must_wait(wec) || wec == asio::error::in_progress) {
                // The rest waits for room, or for another write to this side (an answer of a
                // filter's): a step of its own, with the buffer.
                spawn_step(write_step(from_client, std::move(buffer), n, written, wec), from_client);
                return;
            }
            direction_failed(wec);
            direction_ended();
            return;
        }
    } catch (...) {
        relay_failed(from_client, std::current_exception());
        direction_ended();
    }
}

void Session::spawn_step(awaitable<bool> step, bool from_client) {
    asio::co_spawn(worker_.io(), std::move(step),
                   [self = shared_from_this(), from_client](std::exception_ptr e, bool go_on) {
                       if (e) {
                           self->relay_failed(from_client, e);
                       } else if (go_on) {
                           self->pump_plain(from_client);
                           return;
                       }
                       self->direction_ended();
                   });
}

awaitable<bool> Session::write_step(bool from_client, BufferPool::Buffer buffer, std::size_t n, std::size_t written,
                                    error_code tried) {
    Connection& to = ends(from_client).to;
    error_code ec;
    if (tried == asio::error::in_progress) {
        ec = co_await to.write_all(buffer.data(), n);  // (behind the other writer; nothing written)
    } else {
        ec = co_await to.write_rest(buffer.data(), n, written, tried);  // (its lock held since try_write)
    }
    if (ec) {
        direction_failed(ec);
        co_return false;
    }
    count_relayed(from_client, n);
    co_return true;
}

awaitable<bool> Session::end_step(bool from_client, error_code ec) {
    const auto [from, to, watcher] = ends(from_client);
    if (ec == asio::error::eof) {
        co_await end_of_stream(to, watcher, nullptr, from_client);
    } else {
        co_await source_failed(from, to, watcher, ec, from_client);
    }
    co_return false;
}

void Session::direction_ended() {
    if (--directions_running_ > 0) return;
    if (pump_joined_) pump_joined_->cancel();
    if (relay_owns_end_) {
        leave_worker();  // (first: finish() logs, which may throw)
        finish();
    }
}

awaitable<void> Session::pump(Connection& from, Connection& to, StreamFilter& transform, bool from_client) {
    // The direction of a transforming filter (start_direction): a filter's steps are
    // coroutines of their own, made while a chunk passes through one.
    const std::size_t size = listener_.limits.buffer_size;
    std::size_t since_yield = 0;  // (see kYieldAfter)
    for (;;) {
        if (since_yield >= kYieldAfter) {
            since_yield = 0;
            co_await asio::post(worker_.io(), asio::use_awaitable);
        }
        // Read first, wait only when the socket is empty (edge-triggered readiness), and hold
        // no buffer while waiting.
        auto buffer = worker_.pool().take(size);
        auto [ec, n] = from.try_read(buffer.data(), buffer.size());
        if (Connection::must_wait(ec)) {
            buffer = {};
            if (const auto wec = co_await from.wait_for(ec)) {
                direction_failed(wec);
                co_return;
            }
            continue;
        }
        if (ec == asio::error::eof) {
            co_await end_of_stream(to, &transform, &transform, from_client);
            co_return;
        }
        if (ec) {
            co_await source_failed(from, to, &transform, ec, from_client);
            co_return;
        }
        last_activity_ = clock::now();
        // (Counted as read, not as forwarded: input a filter swallows or answers costs the
        // worker as much, and must not keep it from its other sessions either.)
        since_yield += n;
        const bool go_on = co_await filtered(from, to, transform, std::move(buffer), n, from_client);
        if (!go_on) co_return;
    }
}

awaitable<void> Session::end_of_stream(Connection& to, StreamFilter* filter, StreamFilter* transform,
                                       bool from_client) {
    if (transform && transform->feed(nullptr, 0).mid_message) {
        // A message cut short by the end of the stream is dropped, never forwarded.
        summary_.detail = "stream ended inside a message";
    }
    if (filter) {
        auto word = filter->source_gone(false);
        auto say = last_word_for(to, std::move(word), from_client);
        co_await std::move(say);
    }
    co_await to.shutdown_send();
}

awaitable<void> Session::source_failed(Connection& from, Connection& to, StreamFilter* filter, error_code ec,
                                       bool from_client) {
    // The source failed on its own (not closed by this session): the other side hears it in
    // its protocol where the filter knows how.
    if (filter && from.is_open() && to.is_open()) {
        summary_.fail(ec, std::string(from_client ? "client" : "backend") + " failed mid-stream");
        auto word = filter->source_gone(true);
        auto say = last_word_for(to, std::move(word), from_client);
        const bool said = co_await std::move(say);
        if (said) co_await to.shutdown_send();
    }
    direction_failed(ec);
}

awaitable<bool> Session::filtered(Connection& from, Connection& to, StreamFilter& filter, BufferPool::Buffer buffer,
                                  std::size_t n, bool from_client) {
    auto out = filter.feed(buffer.data(), n);
    buffer = {};  // the filter holds what it still needs
    if (out.close && !lingering_) {
        // The closing second starts now, before ward's answer is written: a sender that does
        // not read it is not waited for. The reason is the protocol error, whatever the other
        // direction meets while this side lingers.
        if (!summary_.reason) summary_.reason = make_error_code(Errc::protocol_error);
        enter(Phase::closing);
        set_deadline(std::chrono::seconds(1));
    }
    // Forward first, then answer the sender: the pings or the broken message came after what
    // is forwarded.
    if (!out.forward.empty()) {
        if (auto wec = co_await to.write_all(out.forward.data(), out.forward.size()); wec) {
            direction_failed(wec);
            co_return false;
        }
        count_relayed(from_client, out.forward.size());
    }
    if (!out.reply.empty()) {
        if (auto wec = co_await from.write_all(out.reply.data(), out.reply.size()); wec) {
            direction_failed(wec);
            co_return false;
        }
    }
    if (out.close) {
        summary_.detail = std::string(from_client ? "client" : "backend") + ": " + out.reason;
        co_await from.shutdown_send();
        // (What the sender still sends is dropped, so that the close does not reset the answer
        // away before it has read it.)
        co_await linger(from);
        abort(make_error_code(Errc::protocol_error));
        co_return false;
    }
    if (out.mid_message && !message_deadline_) {
        message_deadline_ = clock::now() + filter.message_timeout();
        if (*message_deadline_ < deadline_) {
            deadline_ = *message_deadline_;
            arm_timer();
        }
    } else if (!out.mid_message) {
        message_deadline_.reset();
    }
    if (const auto due = filter.due(); due && *due < deadline_) {
        deadline_ = *due;
        arm_timer();
    }
    co_return true;
}

awaitable<bool> Session::last_word_for(Connection& to, std::string word, bool from_client) {
    if (word.empty()) co_return false;
    const auto failed = co_await to.write_all(word.data(), word.size());
    if (failed) co_return false;
    if (from_client) {
        summary_.bytes_from_client += word.size();
    } else {
        summary_.bytes_to_client += word.size();
    }
    co_return true;
}

std::optional<Session::clock::time_point> Session::filters_due() const {
    std::optional<clock::time_point> due;
    for (const auto* filter : {filter_from_client_.get(), filter_from_backend_.get()}) {
        if (!filter) continue;
        if (const auto d = filter->due(); d && (!due || *d < *due)) due = d;
    }
    return due;
}

bool Session::answer_for_silent_side(clock::time_point now) {
    // Each direction's filter answers its own sender for the requests the other side left
    // unanswered. One writer per sender, behind the relay's own writes on that connection;
    // a sender that does not read them is not given more than kMaxQueuedAnswers.
    constexpr std::size_t kMaxQueuedAnswers = 64 * 1024;
    const auto answer = [&](StreamFilter* filter, Connection* sender, AnswerQueue& queue) {
        if (!filter || !sender || !sender->is_open()) return true;
        const auto d = filter->due();
        if (!d || *d > now) return true;
        auto answers = filter->expire(now);
        if (answers.empty()) return true;
        if (queue.queued.size() + queue.in_flight + answers.size() > kMaxQueuedAnswers) {
            summary_.fail(make_error_code(Errc::protocol_error),
                          std::string(sender == &client_ ? "client" : "backend") + " does not read ward's answers");
            abort(make_error_code(Errc::protocol_error));
            return false;
        }
        queue.queued += answers;
        if (!queue.writing) {
            queue.writing = true;
            asio::co_spawn(worker_.io(), write_answers(shared_from_this(), sender, &queue),
                           [id = id_](std::exception_ptr e) {
                               if (e) proxy_log().error("[c{}] writing ward's answers failed: {}", id, exception_text(e));
                           });
        }
        return true;
    };
    if (!answer(filter_from_client_.get(), &client_, answers_to_client_)) return false;
    return answer(filter_from_backend_.get(), backend_ ? &*backend_ : nullptr, answers_to_backend_);
}

awaitable<void> Session::write_answers(std::shared_ptr<Session> self, Connection* to, AnswerQueue* queue) {
    while (!queue->queued.empty()) {
        std::string bytes = std::move(queue->queued);
        queue->queued.clear();
        queue->in_flight = bytes.size();
        const auto failed = co_await to->write_all(bytes.data(), bytes.size());
        queue->in_flight = 0;
        if (failed) break;
        if (to == &self->client_) self->summary_.bytes_to_client += bytes.size();
    }
    queue->queued.clear();
    queue->writing = false;
}

void Session::set_filters(std::unique_ptr<StreamFilter> from_client, std::unique_ptr<StreamFilter> from_backend) {
    filter_from_client_ = std::move(from_client);
    filter_from_backend_ = std::move(from_backend);
}

void Session::start_directions(bool owns_end) {
    enter(Phase::relay);
    last_activity_ = clock::now();
    deadline_ = last_activity_ + listener_.limits.idle_timeout;
    arm_timer();
    // Nothing from here on throws (start_direction catches for its direction): the relay is
    // sure to end both directions, and with them the session when it owns the end.
    relay_owns_end_ = owns_end;
    directions_running_ = 2;
    start_direction(false);
    start_direction(true);
}

awaitable<void> Session::relay() {
    // Both directions run on their own (start_direction); this coroutine waits until both have
    // ended, on a timer cancelled by the last one.
    pump_joined_ = std::make_unique<asio::steady_timer>(worker_.io(), asio::steady_timer::time_point::max());
    start_directions(false);
    while (directions_running_ > 0) co_await pump_joined_->async_wait(use_tuple);
    pump_joined_.reset();
}

void Session::start_relay() { start_directions(true); }

void Session::leave_worker() {
    if (left_worker_) return;
    left_worker_ = true;
    worker_.session_ended(id_);
}

void Session::relay_failed(bool from_client, std::exception_ptr e) noexcept {
    // (Called in handlers and catch blocks: whatever fails here, the session is aborted.)
    try {
        report_relay_failure(from_client, e);
    } catch (...) {
    }
    try {
        abort(make_error_code(Errc::internal));
    } catch (...) {
    }
}

void Session::report_relay_failure(bool from_client, std::exception_ptr e) {
    // Either direction alike: one error line, the session aborted, and relay() returns, so the
    // front finishes as after any other end (its summary line, its flow closed).
    const auto what = exception_text(e);
    const char* side = from_client ? "client" : "backend";
    proxy_log().error("[c{}] relay from the {} ended by an exception: {}", id_, side, what);
    // (An earlier reason keeps its words too: the error line has these.)
    if (!summary_.reason)
        summary_.fail(make_error_code(Errc::internal), std::string("relay from the ") + side + " failed: " + what);
}

}  // namespace ward::proxy
