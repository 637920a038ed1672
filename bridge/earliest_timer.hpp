#pragma once
// A timer for "the next thing that is due": arm() with each due time as it becomes known, and it
// fires once at the earliest of them; re-arming for a later time changes nothing. After it fired
// (or was cancelled) it is free again: the callback arms it for what is due next. The pairing
// deadlines, the orphaned claims, the deferred offline answers, the refused subscriptions and the
// debounced saves all wait this way. On the io_context thread only.
#include <chrono>
#include <functional>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace ykc::bridge {

class EarliestTimer {
public:
    using Clock = std::chrono::steady_clock;

    EarliestTimer(boost::asio::io_context& io, std::function<void()> fire) : timer_(io), fire_(std::move(fire)) {}

    // Fires at `when`, unless it is armed for an earlier time already (Clock::time_point::max():
    // nothing to wait for).
    void arm(Clock::time_point when) {
        if (when >= armed_) return;
        armed_ = when;
        timer_.expires_at(when);  // a wait for a later time ends with operation_aborted
        timer_.async_wait([this](boost::system::error_code ec) {
            if (ec) return;
            armed_ = Clock::time_point::max();
            fire_();
        });
    }
    bool armed() const { return armed_ != Clock::time_point::max(); }
    void cancel() {
        timer_.cancel();
        armed_ = Clock::time_point::max();
    }

private:
    boost::asio::steady_timer timer_;
    std::function<void()> fire_;
    Clock::time_point armed_ = Clock::time_point::max();
};

}  // namespace ykc::bridge
