#pragma once
// ykc-sim command line: what to simulate, where to connect, how fast, how hostile.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ykc::sim {

using Millis = std::chrono::milliseconds;

enum class SeqOrder : std::uint8_t { le, be };
// The transaction record a pile sends: 0x3B of 158 bytes, 0x3B of 174 (a fifth, deep-valley
// tariff segment after valley, as real five-segment piles send), or V1.7's 0x3D with meter data.
enum class RecordFormat : std::uint8_t { standard, five_segment, v17 };

struct Hostile {
    bool garbage = false;     // random bytes (never 0x68) before some frames
    bool split = false;       // every frame written one byte at a time with pauses
    bool bad_crc = false;     // some frames preceded by a copy with a broken CRC
    bool wrong_pile = false;  // after login, some frames preceded by a copy for another pile
    bool any() const noexcept { return garbage || split || bad_crc || wrong_pile; }
};

struct Options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8768;
    std::vector<std::string> source_addresses;  // bound before connect, round robin over piles

    std::uint64_t piles = 1;
    std::uint64_t pile_start = 32010200000001ULL;
    unsigned guns = 2;
    bool ac = false;  // pile type in login (default dc)

    Millis heartbeat{10'000};
    unsigned heartbeat_misses = 3;  // unanswered heartbeat rounds before reconnecting; 0 = never
    Millis realtime_charging{15'000};
    Millis realtime_idle{300'000};
    Millis transaction_retry{30'000};
    Millis login_timeout{15'000};
    Millis connect_timeout{10'000};
    Millis reconnect_min{1'000};
    Millis reconnect_max{30'000};
    double connect_rate = 200;  // new piles per second at start; 0 = all at once
    bool bms = false;           // bms_demand / bms_info while charging
    RecordFormat record = RecordFormat::standard;
    unsigned power_kw = 60;     // per gun while charging
    unsigned battery_kwh = 60;  // vehicle battery: the session ends (soc_full) when it is full

    SeqOrder seq_order = SeqOrder::le;
    int utc_offset_minutes = 8 * 60;

    Hostile hostile;
    double hostile_rate = 0.2;  // probability per frame for garbage, bad-crc, wrong-pile
    Millis split_pause{2};

    std::optional<Millis> duration;
    bool stdin_commands = true;
    bool verbose = false;
    bool quiet = false;
    std::vector<std::string> events;  // --events: print only these (and stats, exit); empty = all
    std::optional<Millis> stats;      // summary line period (default 10 s with --quiet, else none)
    std::uint64_t seed = 0;           // 0: from the clock
};

struct ParseResult {
    std::optional<Options> options;  // nullopt: exit with `exit_code` after printing `message`
    int exit_code = 0;
    std::string message;  // usage (stdout) when exit_code is 0, an error (stderr) otherwise
};

ParseResult parse_options(int argc, char** argv);
std::string usage();

}  // namespace ykc::sim
