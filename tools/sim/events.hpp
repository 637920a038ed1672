#pragma once
// Standard output: one JSON object per line, flushed after each, so tests can wait for events.
// With --quiet only the periodic stats lines are printed, with --events only the events named
// (and stats and exit); the counters are kept either way.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace ykc::sim {

using Event = nlohmann::ordered_json;  // keys in insertion order: "event" first

struct Stats {
    std::uint64_t connected = 0;  // TCP connections up now
    std::uint64_t logged_in = 0;  // of which past login_reply success
    std::uint64_t frames_in = 0;
    std::uint64_t frames_out = 0;
    std::uint64_t transactions_pending = 0;
    std::uint64_t transactions_confirmed = 0;
    std::uint64_t charging = 0;  // guns charging now
    std::uint64_t sessions = 0;  // sessions started
    std::uint64_t connects = 0;  // successful TCP connects
    std::uint64_t disconnects = 0;
    std::uint64_t errors = 0;                                   // error events (decode errors, dropped bytes, bad commands, …)
    std::uint64_t dropped_frames = 0;                           // not sent: write queue full
    std::map<std::string, std::uint64_t, std::less<>> written;  // frames per type handed to the kernel in full
};

class EventLog {
public:
    // `only` non-empty: print just these events (stats and exit lines always).
    EventLog(bool quiet, bool verbose, std::set<std::string, std::less<>> only = {})
        : quiet_(quiet), verbose_(verbose), only_(std::move(only)) {}

    bool wants(std::string_view event) const noexcept {  // lines of this event wanted
        return !quiet_ && (only_.empty() || event == "exit" || only_.contains(event));
    }
    bool verbose() const noexcept { return verbose_ && wants("tx"); }  // tx lines wanted

    void event(const Event& j);                                          // printed if wanted
    void raw_event(std::string_view event, std::string_view json_text);  // already-serialised object, printed if wanted
    void error(Event j);                                                 // counts; printed if wanted ("event":"error" added)
    void stats_line(bool final);                                         // always printed

    Stats stats;

private:
    void line(std::string_view text);
    bool quiet_, verbose_;
    std::set<std::string, std::less<>> only_;
};

// JSON text that never throws on bytes that are not UTF-8.
std::string dump(const Event& j);
std::string dump(const nlohmann::json& j);

}  // namespace ykc::sim
