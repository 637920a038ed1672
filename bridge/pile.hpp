#pragma once
// What the bridge knows of the charger on one connection: who it is once it has logged in, how
// it speaks, and the per-pile state of the uplink handlers. Held by its Session (session.hpp),
// filled and read on the io_context thread only.
#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ykc/frame.hpp"

namespace ykc::bridge {

// The `connector` of gun/<n>/state (gun_state in uplink.hpp), and the options of Home
// Assistant's connector sensor; "unknown" for a status the catalogue does not name.
enum class Connector { idle, preparing, charging, finished, fault, offline };
inline constexpr std::array<std::string_view, 6> connector_names = {"idle", "preparing", "charging", "finished", "fault", "offline"};
inline constexpr std::string_view connector_name(Connector c) { return connector_names[static_cast<std::size_t>(c)]; }

// A token bucket for error reports (Bridge::report): what it holds back is counted.
struct ErrorBudget {
    double tokens = 0;
    std::chrono::steady_clock::time_point time{};
    std::uint64_t suppressed = 0;
};

struct Pile {
    std::string number;  // empty until logged in
    bool logged_in = false;
    int frames_before_login = 0;
    ErrorBudget errors;                        // Bridge::report's rate limit
    CrcOrder crc_order = CrcOrder::low_first;  // answer in the order the pile uses
    std::string firmware, protocol_version, since;
    int gun_count = 0;                                       // the login's (0: not said)
    std::uint64_t claim = 0;                                 // this bridge's claim on the pile, once logged in (ownership.hpp)
    bool announced = false;                                  // its "online" was published (once its commands can be heard)
    std::uint16_t next_seq = 0;                              // of the frames the bridge sends (Bridge::send)
    std::chrono::steady_clock::time_point last_time_sync{};  // policies.time_sync_interval
    // per gun (uplink/realtime.cpp): the hash of its last values (publish.gun_state on_change)
    // and when its gun/<n>/state was last published (publish.gun_state_min_interval_ms); a new
    // connection publishes its first frame again; what its connector does (connector in the state)
    struct GunState {
        std::string gun;
        std::size_t hash = 0;
        std::chrono::steady_clock::time_point published{};
        bool charged = false;  // it charged since the car was plugged in (its connector: finished)
    };
    std::vector<GunState> gun_states;
};

}  // namespace ykc::bridge
