// The floor under the bridge's CPU at 10,000 piles (bench/run.sh piles10k): a bare MQTT client
// publishes what the bridge publishes for that fleet — QoS 1 realtime messages and QoS 0
// heartbeats, the bridge's payloads — one message at a time, paced, and reports its own CPU.
// Shared by `ykc_bench_load paho` (Paho C++ async_client, as the bridge's link is set up) and
// `ykc_bench_paho_sync` (Paho C's synchronous MQTTClient, which writes in the caller's thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <sys/resource.h>
#include <nlohmann/json.hpp>

namespace floor_bench {

struct Mix {
    double rate = 0;       // QoS 1 realtime messages per second
    double qos0_rate = 0;  // QoS 0 heartbeats per second
    double duration = 10;  // seconds
    int piles = 50;        // topics cycled over
    std::uint64_t pile_start = 32010200000001ULL;
    std::string base = "bench";
    int burst = 1;              // messages back to back per wake-up of the pacing loop
    std::size_t inflight = 16;  // unacknowledged QoS 1 publishes, at most (the bridge's window)
    bool pacing_only = false;   // the loop without publishing: what the pacing itself costs
};

inline std::string pile(const Mix& m, std::uint64_t i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%014llu", static_cast<unsigned long long>(m.pile_start + i));
    return buf;
}

// the bridge's envelopes of a decoded 0x13 and 0x03, "ts" included
inline std::string realtime_payload(const std::string& p) {
    using nlohmann::json;
    return json{{"pile", p},
                {"type", "realtime"},
                {"code", "0x13"},
                {"seq", "0000"},
                {"data",
                 {{"serial", p + "012411241030000001"},
                  {"gun", 1},
                  {"status", "idle"},
                  {"gun_returned", "yes"},
                  {"plugged", false},
                  {"voltage", 0.0},
                  {"current", 0.0},
                  {"gun_temperature", 25},
                  {"gun_line_code", "0000000000000000"},
                  {"soc", 0},
                  {"battery_max_temperature", 0},
                  {"charging_minutes", 0},
                  {"remaining_minutes", 0},
                  {"energy", 0.0},
                  {"energy_with_loss", 0.0},
                  {"amount", 0.0},
                  {"hardware_faults", json::array()}}},
                {"ts", "2026-12-01T12:00:00.000+08:00"}}
        .dump();
}
inline std::string heartbeat_payload(const std::string& p) {
    return nlohmann::json{{"pile", p},
                          {"type", "heartbeat"},
                          {"code", "0x03"},
                          {"seq", "0000"},
                          {"data", {{"gun", 1}, {"gun_status", "normal"}}},
                          {"ts", "2026-12-01T12:00:00.000+08:00"}}
        .dump();
}

inline double cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Result {
    std::uint64_t sent1 = 0, sent0 = 0, stalls = 0;
    double wall = 0, cpu = 0;
};

// Runs the mix for m.duration. publish(topic, payload, qos) hands one message to the client;
// in_flight() is the client's unacknowledged QoS 1 count (a QoS 1 message is skipped and counted
// as a stall while it is at m.inflight: the bridge would queue it, the broker is behind).
template <class Publish, class InFlight>
Result run(const Mix& m, Publish&& publish, InFlight&& in_flight) {
    using Clock = std::chrono::steady_clock;
    const std::string realtime = realtime_payload(pile(m, 0)), heartbeat = heartbeat_payload(pile(m, 0));
    const double total_rate = m.rate + m.qos0_rate;
    const auto gap = std::chrono::nanoseconds(static_cast<std::int64_t>(1e9 * m.burst / total_rate));
    Result r;
    double share = 0;  // QoS 1 messages owed by the mix
    const double c0 = cpu_seconds();
    const auto t0 = Clock::now(), end = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(m.duration));
    auto due = t0;
    for (std::uint64_t k = 0; due < end; ++k) {
        if (k % static_cast<std::uint64_t>(m.burst) == 0) {
            std::this_thread::sleep_until(due);
            due += gap;
        }
        const std::string topic = m.base + "/" + pile(m, k % static_cast<std::uint64_t>(m.piles));
        share += m.rate / total_rate;
        if (share >= 1) {
            share -= 1;
            if (in_flight() >= static_cast<std::int64_t>(m.inflight)) {
                ++r.stalls;
                continue;
            }
            if (!m.pacing_only) publish(topic + "/realtime", realtime, 1);
            ++r.sent1;
        } else {
            if (!m.pacing_only) publish(topic + "/heartbeat", heartbeat, 0);
            ++r.sent0;
        }
    }
    r.wall = std::chrono::duration<double>(Clock::now() - t0).count();
    r.cpu = cpu_seconds() - c0;
    return r;
}

// the line bench/run.sh parses
inline void print(const Result& r, std::uint64_t failed) {
    std::printf("qos1_rate=%.0f qos0_rate=%.0f sent_qos1=%llu sent_qos0=%llu failed=%llu stalls=%llu cpu_pct=%.1f us_per_msg=%.1f\n",
                static_cast<double>(r.sent1) / r.wall, static_cast<double>(r.sent0) / r.wall, static_cast<unsigned long long>(r.sent1),
                static_cast<unsigned long long>(r.sent0), static_cast<unsigned long long>(failed),
                static_cast<unsigned long long>(r.stalls), r.cpu / r.wall * 100, r.cpu / static_cast<double>(r.sent1 + r.sent0) * 1e6);
    std::fflush(stdout);
}

}  // namespace floor_bench
