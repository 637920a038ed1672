#include "options.hpp"

#include <algorithm>
#include <charconv>
#include <iterator>
#include <cmath>
#include <stdexcept>
#include <string_view>

#include "ykc/cp56.hpp"

namespace ykc::sim {
namespace {

struct BadOption : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::uint64_t to_uint(std::string_view name, std::string_view v, std::uint64_t lo, std::uint64_t hi) {
    std::uint64_t n = 0;
    auto r = std::from_chars(v.data(), v.data() + v.size(), n);
    if (r.ec != std::errc() || r.ptr != v.data() + v.size() || n < lo || n > hi)
        throw BadOption(std::string(name) + " needs a whole number from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got \"" +
                        std::string(v) + "\"");
    return n;
}

double to_double(std::string_view name, std::string_view v, double lo, double hi) {
    double d = 0;
    auto r = std::from_chars(v.data(), v.data() + v.size(), d);
    if (r.ec != std::errc() || r.ptr != v.data() + v.size() || !std::isfinite(d) || d < lo || d > hi)
        throw BadOption(std::string(name) + " needs a number from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got \"" +
                        std::string(v) + "\"");
    return d;
}

// Seconds, fractions allowed ("0.5"), as milliseconds; at least `min_ms`.
Millis to_seconds(std::string_view name, std::string_view v, double min_ms = 1) {
    const double s = to_double(name, v, 0, 365.0 * 24 * 3600);
    const auto ms = static_cast<std::int64_t>(std::llround(s * 1000));
    if (static_cast<double>(ms) < min_ms) throw BadOption(std::string(name) + " is too short: \"" + std::string(v) + "\" seconds");
    return Millis(ms);
}

void add_hostile(Hostile& h, std::string_view list) {
    while (!list.empty()) {
        const auto comma = list.find(',');
        const std::string_view m = list.substr(0, comma);
        if (m == "garbage") h.garbage = true;
        else if (m == "split") h.split = true;
        else if (m == "bad-crc") h.bad_crc = true;
        else if (m == "wrong-pile") h.wrong_pile = true;
        else throw BadOption("--hostile needs garbage, split, bad-crc or wrong-pile, got \"" + std::string(m) + "\"");
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    }
}

void add_events(std::vector<std::string>& events, std::string_view list) {
    static constexpr std::string_view known[] = {"connected",   "connect_failed",        "login",        "rx",    "tx",    "session_start",
                                                 "session_end", "transaction_confirmed", "disconnected", "error", "stats", "exit"};
    while (!list.empty()) {
        const auto comma = list.find(',');
        const std::string_view e = list.substr(0, comma);
        if (std::find(std::begin(known), std::end(known), e) == std::end(known))
            throw BadOption("--events: unknown event \"" + std::string(e) + "\" (see --help)");
        events.emplace_back(e);
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    }
}

}  // namespace

std::string usage() {
    return R"(Usage: ykc-sim [options]

Simulates YKC V1.6 chargers (N piles x M guns) against a platform or ykc-bridge: login, billing
model verify/request, heartbeats, real-time data, plausible answers to every platform command,
charging sessions and transaction records retried until confirmed (0x40), also across reconnects.
One thread; thousands of piles per process.

Connection
  --host HOST               platform address (default 127.0.0.1)
  --port PORT               platform port (default 8768)
  --source-address LIST     local addresses to bind before connecting, round robin over the
                            piles; comma list and/or ranges like 127.0.0.2-127.0.0.50; repeatable
  --connect-rate N          piles connecting per second at start-up (default 200; 0 = all at once)
  --connect-timeout S       give up a TCP connect after S seconds (default 10)
  --login-timeout S         reconnect when no login_reply within S seconds (default 15)
  --reconnect-min S         first back-off after a lost connection (default 1)
  --reconnect-max S         longest back-off, doubled from the first with jitter (default 30)

Piles
  --piles N                 number of piles (default 1)
  --pile-start NUMBER       first 14-digit pile number; the others follow (default 32010200000001)
  --guns M                  guns per pile, 1..99 (default 2)
  --pile-type dc|ac         pile type sent in login (default dc)
  --seq-order le|be         byte order of the per-connection sequence counter (default le);
                            replies always echo the request's two bytes
  --utc-offset OFFSET       the piles' clock zone for times in frames (default +08:00)

Rates
  --heartbeat S             heartbeat (0x03) period per gun (default 10)
  --heartbeat-misses N      unanswered heartbeat rounds before reconnecting (default 3; 0 = never)
  --realtime-charging S     real-time data (0x13) period while charging (default 15)
  --realtime-idle S         real-time data period when idle (default 300)
  --transaction-retry S     transaction record (0x3B) repeat period until 0x40 (default 30)
  --bms                     also send bms_demand (0x23) and bms_info (0x25) while charging,
                            every --realtime-charging seconds
  --record FORMAT           the transaction record: standard (0x3B, 158 bytes; default),
                            five_segment (0x3B, 174 bytes: a deep-valley segment after valley)
                            or v17 (0x3D with the meter's number and reading)
  --power KW                charging power per gun (default 60)
  --battery KWH             vehicle battery; a session ends with soc_full when full (default 60)

Hostile mode (repeatable, or a comma list)
  --hostile garbage         random bytes (never 0x68) before some frames
  --hostile split           every frame written one byte at a time, --split-pause apart
  --hostile bad-crc         some frames are preceded by a copy with a broken CRC
  --hostile wrong-pile      after login, some frames are preceded by a copy for another pile
  --hostile-rate P          probability per frame for garbage, bad-crc, wrong-pile (default 0.2)
  --split-pause MS          pause between the pieces of a split frame, ms (default 2)
  --seed N                  random seed (default: from the clock)

Running
  --duration S              exit after S seconds (default: until "quit", end of standard input
                            when no --duration is given, SIGINT or SIGTERM); exit status 0
  --no-stdin                do not read commands from standard input (for load runs)
  --verbose                 also print a "tx" event for every frame sent
  --quiet                   print only a stats line every --stats seconds
  --events LIST             print only these events (comma list, repeatable), plus stats and
                            exit lines, e.g. session_end,transaction_confirmed
  --stats S                 stats line period (default 10 with --quiet, otherwise none)
  --help                    this text

Commands on standard input, one per line
  swipe PILE GUN CARD-HEX   card swipe: card_auth (0x31); charging starts on a successful 0x32
  stop PILE GUN             local stop: 0x19 and a 0x3B (stop_reason manual_stop)
  raw PILE HEX              write bytes to the pile's connection verbatim
  disconnect PILE           drop the connection (it reconnects after the back-off)
  stats                     print a stats line now
  quit                      exit
  PILE is the 14-digit pile number.

Events on standard output, one JSON object per line (flushed each):
  {"event":"connected","pile":…}   {"event":"login","pile":…,"result":…}
  {"event":"rx","pile":…,"frame":{…}} for every frame received (the decoded envelope)
  {"event":"tx","pile":…,"type":…,"seq":…,"hex":…} (--verbose)
  {"event":"session_start","pile":…,"gun":…,"serial":…}
  {"event":"session_end","pile":…,"gun":…,"serial":…,"reason":…,"energy":…,"amount":…}
  {"event":"transaction_confirmed","pile":…,"serial":…,"result":…}
  {"event":"disconnected","pile":…,"reason":…}   {"event":"connect_failed","pile":…,"error":…}
  {"event":"error",…}   {"event":"stats","connected":…,"logged_in":…,"frames_in":…,
  "frames_out":…,"transactions_pending":…,"transactions_confirmed":…,…,
  "written":{"heartbeat":…,…}} (frames per type handed to the kernel in full)
  {"event":"exit","reason":…}
)";
}

ParseResult parse_options(int argc, char** argv) {
    Options o;
    ParseResult result;
    try {
        for (int i = 1; i < argc; ++i) {
            std::string arg = argv[i];
            std::string value;
            bool has_value = false;
            if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
                value = arg.substr(eq + 1);
                arg = arg.substr(0, eq);
                has_value = true;
            }
            auto need = [&]() -> std::string_view {
                if (!has_value) {
                    if (i + 1 >= argc) throw BadOption(arg + " needs a value");
                    value = argv[++i];
                    has_value = true;
                }
                return value;
            };
            auto flag = [&] {
                if (has_value) throw BadOption(arg + " takes no value");
            };
            const std::string& a = arg;
            if (a == "--help" || a == "-h") {
                result.message = usage();
                return result;
            } else if (a == "--host") {
                o.host = need();
                if (o.host.empty()) throw BadOption("--host needs an address");
            } else if (a == "--port") {
                o.port = static_cast<std::uint16_t>(to_uint(a, need(), 1, 65535));
            } else if (a == "--source-address") {
                o.source_addresses.emplace_back(need());
            } else if (a == "--connect-rate") {
                o.connect_rate = to_double(a, need(), 0, 1e6);
            } else if (a == "--connect-timeout") {
                o.connect_timeout = to_seconds(a, need(), 10);
            } else if (a == "--login-timeout") {
                o.login_timeout = to_seconds(a, need(), 10);
            } else if (a == "--reconnect-min") {
                o.reconnect_min = to_seconds(a, need(), 10);
            } else if (a == "--reconnect-max") {
                o.reconnect_max = to_seconds(a, need(), 10);
            } else if (a == "--piles") {
                o.piles = to_uint(a, need(), 1, 1'000'000);
            } else if (a == "--pile-start") {
                const std::string_view v = need();
                if (v.size() != 14) throw BadOption("--pile-start needs 14 digits, got \"" + std::string(v) + "\"");
                o.pile_start = to_uint(a, v, 0, 99'999'999'999'999ULL);
            } else if (a == "--guns") {
                o.guns = static_cast<unsigned>(to_uint(a, need(), 1, 99));
            } else if (a == "--pile-type") {
                const std::string_view v = need();
                if (v != "dc" && v != "ac") throw BadOption("--pile-type needs dc or ac");
                o.ac = v == "ac";
            } else if (a == "--seq-order") {
                const std::string_view v = need();
                if (v != "le" && v != "be") throw BadOption("--seq-order needs le or be");
                o.seq_order = v == "le" ? SeqOrder::le : SeqOrder::be;
            } else if (a == "--utc-offset") {
                auto m = parse_utc_offset(need());
                if (!m) throw BadOption("--utc-offset needs an offset like +08:00, 8 or -05:30");
                o.utc_offset_minutes = *m;
            } else if (a == "--heartbeat") {
                o.heartbeat = to_seconds(a, need(), 50);
            } else if (a == "--heartbeat-misses") {
                o.heartbeat_misses = static_cast<unsigned>(to_uint(a, need(), 0, 1000));
            } else if (a == "--realtime-charging") {
                o.realtime_charging = to_seconds(a, need(), 50);
            } else if (a == "--realtime-idle") {
                o.realtime_idle = to_seconds(a, need(), 50);
            } else if (a == "--transaction-retry") {
                o.transaction_retry = to_seconds(a, need(), 50);
            } else if (a == "--bms") {
                flag();
                o.bms = true;
            } else if (a == "--record") {
                const std::string_view v = need();
                if (v == "standard") o.record = RecordFormat::standard;
                else if (v == "five_segment") o.record = RecordFormat::five_segment;
                else if (v == "v17") o.record = RecordFormat::v17;
                else throw BadOption("--record needs standard, five_segment or v17");
            } else if (a == "--power") {
                o.power_kw = static_cast<unsigned>(to_uint(a, need(), 1, 1000));
            } else if (a == "--battery") {
                o.battery_kwh = static_cast<unsigned>(to_uint(a, need(), 1, 10000));
            } else if (a == "--hostile") {
                add_hostile(o.hostile, need());
            } else if (a == "--hostile-rate") {
                o.hostile_rate = to_double(a, need(), 0, 1);
            } else if (a == "--split-pause") {
                o.split_pause = Millis(to_uint(a, need(), 0, 10'000));
            } else if (a == "--seed") {
                o.seed = to_uint(a, need(), 0, UINT64_MAX);
            } else if (a == "--duration") {
                o.duration = to_seconds(a, need(), 1);
            } else if (a == "--no-stdin") {
                flag();
                o.stdin_commands = false;
            } else if (a == "--verbose" || a == "-v") {
                flag();
                o.verbose = true;
            } else if (a == "--quiet" || a == "-q") {
                flag();
                o.quiet = true;
            } else if (a == "--events") {
                add_events(o.events, need());
            } else if (a == "--stats") {
                o.stats = to_seconds(a, need(), 0);
                if (o.stats->count() == 0) o.stats.reset();
                else if (o.stats->count() < 100) throw BadOption("--stats needs at least 0.1 seconds (or 0 for none)");
            } else {
                throw BadOption("unknown option " + a + " (see --help)");
            }
        }
        if (o.pile_start + o.piles - 1 > 99'999'999'999'999ULL) throw BadOption("--pile-start + --piles goes past 99999999999999");
        if (o.reconnect_max < o.reconnect_min) o.reconnect_max = o.reconnect_min;
        if (o.quiet && o.verbose) throw BadOption("--quiet and --verbose exclude each other");
        if (o.quiet && !o.events.empty()) throw BadOption("--quiet and --events exclude each other");
        if (o.quiet && !o.stats) o.stats = Millis(10'000);
    } catch (const BadOption& e) {
        result.exit_code = 2;
        result.message = std::string("ykc-sim: ") + e.what() + "\n";
        return result;
    }
    result.options = std::move(o);
    return result;
}

}  // namespace ykc::sim
