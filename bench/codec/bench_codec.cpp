// Codec throughput, one thread, std::chrono only.
//
// Workloads: (a) 0x13 realtime frames, (b) 0x3B transaction frames, (c) the mix a fleet of DC
// chargers in the middle of charging sessions sends (see mix_description below).
// Measurements, per workload:
//   decode -> JSON text    codec.decode_to(frame.view(), out), `out` cleared and reused
//   reader only            a long stream of concatenated frames fed to ykc::FrameReader in 4 KB
//                          chunks, events drained after each chunk (framing + CRC + Frame copy)
//   reader + decode        the same, and every frame decoded to JSON text
//   encode (parsed JSON)   codec.encode(envelope) from pre-parsed nlohmann::json envelopes
//   parse + encode         nlohmann::json::parse(text) then codec.encode
// Frames are built with codec.encode from JSON carrying realistic, varying values, and every
// frame is checked once before timing: encode(parse(decode(frame))) == frame.
//
// Each measurement runs a fixed number of passes over its data set, chosen once by calibration
// so that one repetition lasts at least --min-time (0.5 s by default); the best of --reps (3)
// repetitions is reported. Every loop folds its output into a checksum that is printed at the end,
// so no work can be optimized away.
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "ykc/codec.hpp"
#include "ykc/frame.hpp"

namespace {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

constexpr std::size_t chunk_size = 4096;           // bytes per FrameReader::feed
constexpr std::size_t min_stream_bytes = 1 << 20;  // reader stream: the frame set repeated up to >= 1 MiB

const char* const mix_description =
    "per charging DC gun per 15 s: 1.5 heartbeat 0x03 (every 10 s), 1 realtime 0x13, 1 bms_demand 0x23, "
    "1 bms_info 0x25; once per ~1 h session: 0x33 remote_start_reply, 0x35 remote_stop_reply, 0x3B transaction; "
    "0x01 login once per ~3 sessions. Set of 2000 frames, shuffled: 0x03 660, 0x13 440, 0x23 440, 0x25 440, "
    "0x3B 6, 0x33 6, 0x35 6, 0x01 2 (33% / 22% / 22% / 22% / 0.3% / 0.3% / 0.3% / 0.1%)";

// ---------------------------------------------------------------------------------------------
// Realistic field values

struct Rng {
    std::mt19937_64 g;
    explicit Rng(std::uint64_t seed) : g(seed) {}
    std::uint64_t range(std::uint64_t lo, std::uint64_t hi) { return lo + g() % (hi - lo + 1); }  // inclusive
    bool chance(unsigned percent) { return g() % 100 < percent; }
};

std::string digits(std::uint64_t v, int width) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%0*" PRIu64, width, v);
    return buf;
}

std::string hex_digits(Rng& r, int bytes) {
    static const char* const hx = "0123456789ABCDEF";
    std::string s;
    for (int i = 0; i < 2 * bytes; ++i) s.push_back(hx[r.range(0, 15)]);
    return s;
}

// A charging gun: one charger (pile) and its gun, the session it is in and where that session is.
struct Gun {
    std::string pile;  // 14 digits
    int gun = 1;
    std::string serial;  // 32 digits: pile, gun, start time, counter
    int start_hour = 0, start_minute = 0;
    int minutes = 0;              // into the session
    std::uint64_t energy_e4 = 0;  // kWh * 10^4
    std::uint64_t meter_start_e4 = 0;
};

Gun make_gun(Rng& r, unsigned charger) {
    Gun g;
    g.pile = "3201060" + digits(10000 + charger * 7 % 90000, 5) + "01";
    g.pile.resize(14, '0');
    g.gun = static_cast<int>(r.range(1, 2));
    g.start_hour = static_cast<int>(r.range(0, 21));
    g.start_minute = static_cast<int>(r.range(0, 59));
    g.serial = g.pile + digits(static_cast<std::uint64_t>(g.gun), 2) + "251018" + digits(static_cast<std::uint64_t>(g.start_hour), 2) +
               digits(static_cast<std::uint64_t>(g.start_minute), 2) + digits(r.range(0, 59), 2) + digits(r.range(0, 9999), 4);
    g.minutes = static_cast<int>(r.range(1, 110));
    g.energy_e4 = static_cast<std::uint64_t>(g.minutes) * r.range(6000, 16000);  // 36 .. 96 kW
    g.meter_start_e4 = r.range(100000, 9999999) * 100;
    return g;
}

double e1(std::uint64_t v) { return static_cast<double>(v) / 10.0; }
double e2(std::uint64_t v) { return static_cast<double>(v) / 100.0; }
double e4(std::uint64_t v) { return static_cast<double>(v) / 10000.0; }
double e5(std::uint64_t v) { return static_cast<double>(v) / 100000.0; }

json envelope(const char* type, const Gun& g, Rng& r, json data) {
    return json{{"type", type}, {"pile", g.pile}, {"seq", hex_digits(r, 2)}, {"data", std::move(data)}};
}

json realtime(const Gun& g, Rng& r) {
    json faults = json::array();
    if (r.chance(3)) faults.push_back("door_open");
    if (r.chance(1)) faults.push_back("fan_board_fault");
    const std::uint64_t energy = g.energy_e4 + r.range(0, 999);
    return envelope("realtime", g, r,
                    {{"serial", g.serial},
                     {"gun", g.gun},
                     {"status", "charging"},
                     {"gun_returned", "no"},
                     {"plugged", true},
                     {"voltage", e1(r.range(3500, 7500))},
                     {"current", e1(r.range(100, 2500))},
                     {"gun_temperature", static_cast<int>(r.range(20, 65))},
                     {"gun_line_code", r.chance(80) ? std::string(16, '0') : hex_digits(r, 8)},
                     {"soc", static_cast<int>(r.range(10, 99))},
                     {"battery_max_temperature", static_cast<int>(r.range(15, 48))},
                     {"charging_minutes", g.minutes},
                     {"remaining_minutes", static_cast<int>(r.range(5, 120))},
                     {"energy", e4(energy)},
                     {"energy_with_loss", e4(energy * 1015 / 1000)},
                     {"amount", e4(energy * 12 / 10)},
                     {"hardware_faults", faults}});
}

json heartbeat(const Gun& g, Rng& r) {
    return envelope("heartbeat", g, r, {{"gun", g.gun}, {"gun_status", r.chance(2) ? "fault" : "normal"}});
}

json bms_demand(const Gun& g, Rng& r) {
    const std::uint64_t v = r.range(3500, 7500), i = r.range(100, 2500);
    return envelope("bms_demand", g, r,
                    {{"serial", g.serial},
                     {"gun", g.gun},
                     {"demand_voltage", e1(v + r.range(0, 100))},
                     {"demand_current", e1(i + r.range(0, 50))},
                     {"charge_mode", r.chance(70) ? "constant_current" : "constant_voltage"},
                     {"measured_voltage", e1(v)},
                     {"measured_current", e1(i)},
                     {"cell_max_voltage", e2(r.range(330, 420))},
                     {"cell_max_group", static_cast<int>(r.range(1, 15))},
                     {"soc", static_cast<int>(r.range(10, 99))},
                     {"remaining_minutes", static_cast<int>(r.range(5, 120))},
                     {"output_voltage", e1(v + r.range(0, 30))},
                     {"output_current", e1(i + r.range(0, 10))},
                     {"charging_minutes", g.minutes}});
}

json bms_info(const Gun& g, Rng& r) {
    return envelope("bms_info", g, r,
                    {{"serial", g.serial},
                     {"gun", g.gun},
                     {"cell_max_voltage_number", static_cast<int>(r.range(1, 200))},
                     {"battery_max_temperature", static_cast<int>(r.range(20, 48))},
                     {"max_temperature_point", static_cast<int>(r.range(1, 32))},
                     {"battery_min_temperature", static_cast<int>(r.range(10, 30))},
                     {"min_temperature_point", static_cast<int>(r.range(1, 32))},
                     {"cell_voltage_state", "normal"},
                     {"soc_state", r.chance(5) ? "high" : "normal"},
                     {"overcurrent", "normal"},
                     {"overtemperature", "normal"},
                     {"insulation", "normal"},
                     {"connector", "normal"},
                     {"charging_allowed", "allowed"}});
}

std::string time_text(int hour, int minute, int second, int ms) {
    char buf[48];
    if (ms) std::snprintf(buf, sizeof buf, "2025-10-18T%02d:%02d:%02d.%03d+08:00", hour, minute, second, ms);
    else std::snprintf(buf, sizeof buf, "2025-10-18T%02d:%02d:%02d+08:00", hour, minute, second);
    return buf;
}

json transaction(const Gun& g, Rng& r) {
    // Four tariff periods with their prices (energy + service, yuan/kWh, 5 decimals).
    static const char* const periods[] = {"sharp", "peak", "flat", "valley"};
    json data = {{"serial", g.serial}, {"gun", g.gun}};
    const int end_minutes = g.start_hour * 60 + g.start_minute + g.minutes;
    data["start_time"] = time_text(g.start_hour, g.start_minute, static_cast<int>(r.range(0, 59)), 0);
    data["end_time"] = time_text(end_minutes / 60 % 24, end_minutes % 60, static_cast<int>(r.range(0, 59)), 0);
    std::uint64_t total = 0, total_loss = 0, total_amount = 0;
    for (const char* p : periods) {
        const std::uint64_t price = r.range(40000, 180000);                  // 0.4 .. 1.8 yuan/kWh
        const std::uint64_t energy = r.chance(60) ? r.range(0, 300000) : 0;  // kWh * 10^4
        const std::uint64_t loss = energy * 1015 / 1000;
        const std::uint64_t amount = energy * price / 100000;  // yuan * 10^4
        total += energy;
        total_loss += loss;
        total_amount += amount;
        const std::string s(p);
        data[s + "_price"] = e5(price);
        data[s + "_energy"] = e4(energy);
        data[s + "_energy_with_loss"] = e4(loss);
        data[s + "_amount"] = e4(amount);
    }
    data["meter_start"] = e4(g.meter_start_e4);
    data["meter_end"] = e4(g.meter_start_e4 + total);
    data["total_energy"] = e4(total);
    data["total_energy_with_loss"] = e4(total_loss);
    data["total_amount"] = e4(total_amount);
    data["vin"] = "LGAG4PY3" + digits(r.range(0, 999999999), 9);
    data["trade_type"] = r.chance(80) ? "app" : "card";
    data["trade_time"] = data["end_time"];
    data["stop_reason"] = r.chance(60) ? "soc_full" : "app_stop";
    data["card"] = hex_digits(r, 8);
    return envelope("transaction", g, r, std::move(data));
}

json login(const Gun& g, Rng& r) {
    return envelope("login", g, r,
                    {{"pile_type", "dc"},
                     {"gun_count", 2},
                     {"protocol_version", 1.6},
                     {"program_version", "V2.3." + digits(r.range(0, 99), 2)},
                     {"network", "sim"},
                     {"sim", "8986" + digits(r.range(0, 999999999), 9) + digits(r.range(0, 9999999), 7)},
                     {"carrier", "china_mobile"}});
}

json remote_start_reply(const Gun& g, Rng& r) {
    return envelope("remote_start_reply", g, r, {{"serial", g.serial}, {"gun", g.gun}, {"result", "success"}, {"failure_reason", "none"}});
}

json remote_stop_reply(const Gun& g, Rng& r) {
    return envelope("remote_stop_reply", g, r, {{"gun", g.gun}, {"result", "success"}, {"failure_reason", "none"}});
}

// ---------------------------------------------------------------------------------------------
// Workloads

struct Workload {
    std::string name;
    std::vector<ykc::Frame> frames;
    std::vector<std::string> texts;    // decode output of each frame
    std::vector<json> envelopes;       // the same, parsed
    std::vector<std::uint8_t> stream;  // frames concatenated, the set repeated
    std::size_t stream_frames = 0;
    std::size_t wire_bytes = 0, json_bytes = 0;  // over `frames`
};

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "ykc_bench_codec: %s\n", what.c_str());
    std::exit(1);
}

Workload make_workload(const ykc::Codec& codec, std::string name, const std::vector<json>& envs) {
    Workload w;
    w.name = std::move(name);
    for (const json& env : envs) {
        ykc::Frame f;
        try {
            f.bytes = codec.encode(env);
        } catch (const std::exception& e) {
            die("cannot encode " + env.dump() + ": " + e.what());
        }
        std::string text = codec.decode_text(f.view());
        json parsed = json::parse(text);
        if (codec.encode(parsed) != f.bytes) die("round trip differs: " + text);
        w.wire_bytes += f.bytes.size();
        w.json_bytes += text.size();
        w.frames.push_back(std::move(f));
        w.texts.push_back(std::move(text));
        w.envelopes.push_back(std::move(parsed));
    }
    while (w.stream.size() < min_stream_bytes)
        for (const auto& f : w.frames) {
            w.stream.insert(w.stream.end(), f.bytes.begin(), f.bytes.end());
            ++w.stream_frames;
        }
    return w;
}

Workload realtime_workload(const ykc::Codec& codec) {
    Rng r(13);
    std::vector<json> envs;
    for (unsigned c = 0; c < 256; ++c) {
        Gun g = make_gun(r, c);
        for (int k = 0; k < 4; ++k, g.minutes += 1, g.energy_e4 += r.range(1500, 4000)) envs.push_back(realtime(g, r));
    }
    return make_workload(codec, "0x13 realtime", envs);
}

Workload transaction_workload(const ykc::Codec& codec) {
    Rng r(0x3B);
    std::vector<json> envs;
    for (unsigned c = 0; c < 256; ++c) {
        Gun g = make_gun(r, c);
        envs.push_back(transaction(g, r));
    }
    return make_workload(codec, "0x3B transaction", envs);
}

Workload mix_workload(const ykc::Codec& codec) {
    Rng r(2024);
    std::vector<Gun> guns;
    for (unsigned c = 0; c < 220; ++c) guns.push_back(make_gun(r, c));
    std::vector<json> envs;
    auto add = [&](int count, json (*make)(const Gun&, Rng&)) {
        for (int i = 0; i < count; ++i) {
            Gun& g = guns[r.range(0, guns.size() - 1)];
            g.minutes += 1;
            g.energy_e4 += r.range(1500, 4000);
            envs.push_back(make(g, r));
        }
    };
    add(660, heartbeat);
    add(440, realtime);
    add(440, bms_demand);
    add(440, bms_info);
    add(6, transaction);
    add(6, remote_start_reply);
    add(6, remote_stop_reply);
    add(2, login);
    std::shuffle(envs.begin(), envs.end(), r.g);
    return make_workload(codec, "mix", envs);
}

// ---------------------------------------------------------------------------------------------
// Timing

struct Options {
    double min_time = 0.5;  // seconds per repetition
    int reps = 3;
    std::string filter;
    bool quick = false;
    std::uint64_t passes = 0;  // fixed passes per repetition, no calibration (0: calibrate)
};

struct Result {
    std::string workload, measurement;
    std::uint64_t frames = 0;  // per repetition
    double best = 0, worst = 0;
    std::size_t wire_bytes = 0;  // per repetition
};

std::uint64_t checksum = 0;

inline void fold(std::uint64_t v) { checksum = checksum * 1099511628211ull + v; }

// `pass(n)` runs n passes over the data set and returns the frames it handled.
Result measure(const Options& opt, const Workload& w, const char* what, double wire_per_frame,
               const std::function<std::uint64_t(std::uint64_t)>& pass) {
    Result res{w.name, what};
    auto timed = [&](std::uint64_t n, std::uint64_t& frames) {
        const auto t0 = clock_type::now();
        frames = pass(n);
        return std::chrono::duration<double>(clock_type::now() - t0).count();
    };
    // Calibration (also the warm-up): grow until a run takes a tenth of the target, take the
    // fastest of three runs of that size (a shared machine may be slow for a moment), then scale
    // with a margin so that a repetition lasts at least the target even when it runs faster.
    std::uint64_t n = opt.passes, frames = 0;
    if (n == 0) {
        n = 1;
        double t = timed(n, frames);
        while (t < opt.min_time / 10 && n < (1u << 30)) {
            n *= 2;
            t = timed(n, frames);
        }
        for (int k = 0; k < 2; ++k) t = std::min(t, timed(n, frames));
        n = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(static_cast<double>(n) * opt.min_time / t * 1.25 + 0.999));
    }
    res.best = 1e300;
    for (int rep = 0; rep < opt.reps; ++rep) {
        const double t = timed(n, frames);
        res.best = std::min(res.best, t);
        res.worst = std::max(res.worst, t);
    }
    res.frames = frames;
    res.wire_bytes = static_cast<std::size_t>(wire_per_frame * static_cast<double>(frames));
    return res;
}

void print_row(const Result& r) {
    const double fps = static_cast<double>(r.frames) / r.best;
    std::printf("| %-16s | %-22s | %10" PRIu64 " | %7.3f | %12.0f | %8.1f | %7.1f | %5.1f%% |\n", r.workload.c_str(), r.measurement.c_str(),
                r.frames, r.best, fps, 1e9 / fps, static_cast<double>(r.wire_bytes) / r.best / 1e6, 100.0 * (r.worst - r.best) / r.best);
    std::fflush(stdout);
}

void usage() {
    std::printf(
        "usage: ykc_bench_codec [--quick] [--min-time SECONDS] [--reps N] [--passes N] [--filter TEXT]\n"
        "  --quick          short run: 0.05 s per repetition, 1 repetition (for profilers)\n"
        "  --min-time S     seconds per repetition (default 0.5)\n"
        "  --reps N         repetitions, the best is reported (default 3)\n"
        "  --passes N       exactly N passes over each data set per repetition, no calibration and no\n"
        "                   warm-up (fixed work, for instruction counts under valgrind --tool=callgrind)\n"
        "  --filter TEXT    only rows whose \"workload / measurement\" contains TEXT\n");
}

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) die(a + " needs a value");
            return argv[++i];
        };
        if (a == "--quick") {
            opt.quick = true;
            opt.min_time = 0.05;
            opt.reps = 1;
        } else if (a == "--min-time") {
            opt.min_time = std::atof(value().c_str());
        } else if (a == "--reps") {
            opt.reps = std::max(1, std::atoi(value().c_str()));
        } else if (a == "--passes") {
            opt.passes = std::strtoull(value().c_str(), nullptr, 10);
        } else if (a == "--filter") {
            opt.filter = value();
        } else if (a == "--help" || a == "-h") {
            usage();
            return 0;
        } else {
            usage();
            return 2;
        }
    }

    static const char* const measurements[] = {"decode -> JSON text", "reader only", "reader + decode", "encode (parsed JSON)",
                                               "parse + encode"};
    auto wanted = [&](const std::string& workload, const char* what) {
        return opt.filter.empty() || (workload + " / " + what).find(opt.filter) != std::string::npos;
    };
    auto any_wanted = [&](const std::string& workload) {
        return std::any_of(std::begin(measurements), std::end(measurements), [&](const char* m) { return wanted(workload, m); });
    };

    const ykc::Codec codec;
    std::vector<Workload> workloads;  // only those the filter selects: setup stays out of profiles
    if (any_wanted("0x13 realtime")) workloads.push_back(realtime_workload(codec));
    if (any_wanted("0x3B transaction")) workloads.push_back(transaction_workload(codec));
    if (any_wanted("mix")) workloads.push_back(mix_workload(codec));

#if defined(__OPTIMIZE__) && defined(NDEBUG)
    const char* build = "optimized, NDEBUG";
#elif defined(__OPTIMIZE__)
    const char* build = "optimized, assertions on";
#else
    const char* build = "NOT OPTIMIZED";
#endif
    std::printf("ykc_bench_codec: compiler %s (%s); one thread; %.2f s per repetition, best of %d%s\n", __VERSION__, build, opt.min_time,
                opt.reps, opt.quick ? " (--quick)" : "");
    std::printf("mix: %s\n\n", mix_description);
    std::printf("| workload         | frames in set | wire bytes/frame | JSON bytes/frame | reader stream |\n");
    std::printf("|---|--:|--:|--:|--:|\n");
    for (const auto& w : workloads)
        std::printf("| %-16s | %13zu | %16.1f | %16.1f | %7zu frames, %zu KiB |\n", w.name.c_str(), w.frames.size(),
                    static_cast<double>(w.wire_bytes) / static_cast<double>(w.frames.size()),
                    static_cast<double>(w.json_bytes) / static_cast<double>(w.frames.size()), w.stream_frames, w.stream.size() / 1024);
    std::printf("\n| workload         | measurement            | frames/rep |  best s |     frames/s | ns/frame | wire MB/s | spread |\n");
    std::printf("|---|---|--:|--:|--:|--:|--:|--:|\n");

    std::string out;
    out.reserve(4096);
    for (const auto& w : workloads) {
        const double wire = static_cast<double>(w.wire_bytes) / static_cast<double>(w.frames.size());
        auto wanted_here = [&](const char* what) { return wanted(w.name, what); };

        if (wanted_here("decode -> JSON text"))
            print_row(measure(opt, w, "decode -> JSON text", wire, [&](std::uint64_t passes) {
                std::uint64_t sum = 0;
                for (std::uint64_t p = 0; p < passes; ++p)
                    for (const auto& f : w.frames) {
                        codec.decode_to(f.view(), out);
                        sum += out.size() + static_cast<unsigned char>(out[out.size() / 2]);
                        out.clear();
                    }
                fold(sum);
                return passes * w.frames.size();
            }));

        auto read_stream = [&](std::uint64_t passes, bool decode) {
            std::uint64_t sum = 0, frames = 0, dropped = 0;
            const std::span<const std::uint8_t> s(w.stream);
            for (std::uint64_t p = 0; p < passes; ++p) {
                ykc::FrameReader reader;
                for (std::size_t off = 0; off < s.size(); off += chunk_size) {
                    reader.feed(s.subspan(off, std::min(chunk_size, s.size() - off)));
                    while (auto e = reader.next()) {
                        if (const auto* f = std::get_if<ykc::Frame>(&*e)) {
                            ++frames;
                            if (decode) {
                                codec.decode_to(f->view(), out);
                                sum += out.size() + static_cast<unsigned char>(out[out.size() / 2]);
                                out.clear();
                            } else {
                                sum += f->bytes.size() + f->bytes[f->bytes.size() - 1];
                            }
                        } else {
                            ++dropped;
                        }
                    }
                }
            }
            if (dropped || frames != passes * w.stream_frames) die("the reader lost frames in " + w.name);
            fold(sum);
            return frames;
        };
        if (wanted_here("reader only"))
            print_row(measure(opt, w, "reader only", wire, [&](std::uint64_t passes) { return read_stream(passes, false); }));
        if (wanted_here("reader + decode"))
            print_row(measure(opt, w, "reader + decode", wire, [&](std::uint64_t passes) { return read_stream(passes, true); }));

        if (wanted_here("encode (parsed JSON)"))
            print_row(measure(opt, w, "encode (parsed JSON)", wire, [&](std::uint64_t passes) {
                std::uint64_t sum = 0;
                for (std::uint64_t p = 0; p < passes; ++p)
                    for (const auto& env : w.envelopes) {
                        const auto bytes = codec.encode(env);
                        sum += bytes.size() + bytes[bytes.size() - 2];
                    }
                fold(sum);
                return passes * w.envelopes.size();
            }));

        if (wanted_here("parse + encode"))
            print_row(measure(opt, w, "parse + encode", wire, [&](std::uint64_t passes) {
                std::uint64_t sum = 0;
                for (std::uint64_t p = 0; p < passes; ++p)
                    for (const auto& text : w.texts) {
                        const auto bytes = codec.encode(json::parse(text));
                        sum += bytes.size() + bytes[bytes.size() - 2];
                    }
                fold(sum);
                return passes * w.texts.size();
            }));
    }
    std::printf("\nwire MB/s: frame bytes (in for decode and reader, out for encode) per second, 10^6 bytes.\n");
    std::printf("spread: slowest repetition relative to the best.\n");
    std::printf("checksum %016" PRIx64 "\n", checksum);
    return 0;
}
