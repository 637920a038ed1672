// EarliestTimer: fires once at the earliest time it was armed for, and can be armed again after.
#include <doctest/doctest.h>

#include <vector>

#include "earliest_timer.hpp"

using ykc::bridge::EarliestTimer;
using namespace std::chrono_literals;

TEST_CASE("EarliestTimer fires once at the earliest of its times - a later time changes nothing, it re-arms after firing") {
    boost::asio::io_context io;
    std::vector<EarliestTimer::Clock::time_point> fired;
    const auto t0 = EarliestTimer::Clock::now();
    EarliestTimer timer(io, [&] { fired.push_back(EarliestTimer::Clock::now()); });
    CHECK_FALSE(timer.armed());
    timer.arm(t0 + 200ms);
    timer.arm(t0 + 20ms);   // earlier: replaces it
    timer.arm(t0 + 500ms);  // later: nothing
    CHECK(timer.armed());
    timer.arm(EarliestTimer::Clock::time_point::max());  // nothing to wait for: nothing
    io.run();
    REQUIRE(fired.size() == 1);
    CHECK(fired[0] >= t0 + 20ms);
    CHECK_FALSE(timer.armed());
    // free again: a later time is waited for now
    timer.arm(t0 + 40ms);
    io.restart();
    io.run();
    CHECK(fired.size() == 2);
    // cancelled: nothing fires
    timer.arm(EarliestTimer::Clock::now() + 10ms);
    timer.cancel();
    io.restart();
    io.run();
    CHECK(fired.size() == 2);
    CHECK_FALSE(timer.armed());
}
