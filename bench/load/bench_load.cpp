// ykc_bench_load: load generator and measuring subscriber in one process, so every latency is
// taken with one clock (steady_clock).
//
//   uplink   piles send 0x13 realtime frames over TCP to the bridge (--via bridge), or the same
//            JSON is published straight to the broker by a Paho client (--via direct); a Paho
//            subscriber on <base>/+/realtime matches every delivery by pile and seq.
//            --rate 0: as fast as the end-to-end window (--window frames sent and not yet
//            delivered) allows = the sustained ceiling; --rate R: paced (open loop) at R frames/s.
//   watch    counts piles whose retained <base>/<pile>/availability turns "online" (login storm).
//   paho     the floor under the bridge's CPU: a bare Paho client (as the bridge's link is set
//            up) publishes what the bridge publishes for a fleet, one message at a time, paced:
//            --rate QoS 1 realtime messages/s and --qos0-rate QoS 0 heartbeats/s over --piles
//            topics, for --duration s; prints its own CPU (getrusage) per message and in % of a core.
//            --pacing-only: the same loop without publishing (what the pacing itself costs).
//   command  publishes <base>/<pile>/cmd/remote_stop at --rate per second over --piles piles and
//            matches <base>/<pile>/resp/remote_stop by id (command round trip).
//
// Every mode prints one line of key=value pairs on standard output (bench/run.sh parses it);
// progress and errors go to standard error. Every wait is bounded.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <utility>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <mqtt/async_client.h>
#include <nlohmann/json.hpp>

#include "floor.hpp"
#include "ykc/codec.hpp"
#include "ykc/cp56.hpp"
#include "ykc/frame.hpp"

namespace {

namespace asio = boost::asio;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

std::int64_t now_ns() { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count(); }
std::int64_t epoch_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct Options {
    std::string mode;
    std::string via = "bridge";  // bridge | direct
    std::string bridge_host = "127.0.0.1";
    unsigned short bridge_port = 0;
    std::string broker = "tcp://127.0.0.1:1883";
    std::string base = "ykc";
    std::string direct_base = "bench";
    std::string direct_persist;  // empty: no persistence for the direct publisher
    bool direct_state = false;   // direct publisher also publishes the retained gun state, as the bridge does
    int piles = 50;
    std::uint64_t pile_start = 32010200000001ULL;
    int qos = 1;
    int mqtt_version = 5;       // of the direct publisher
    double rate = 0;            // frames (commands) per second; 0 = window-limited
    double qos0_rate = 0;       // paho: QoS 0 heartbeats per second besides --rate
    int burst = 1;              // paho: messages handed to Paho back to back per wake-up
    bool pacing_only = false;   // paho: the paced loop without publishing (its own cost)
    std::size_t window = 500;   // frames sent and not yet delivered, at most
    std::size_t inflight = 16;  // direct publisher: unacknowledged QoS>=1 publishes
    double warmup = 2, duration = 10, drain = 10, timeout = 60;
    std::string id = "bench-load";
};

[[noreturn]] void usage(const std::string& why) {
    std::cerr << "ykc_bench_load: " << why << "\n"
              << "usage: ykc_bench_load uplink|watch|command|paho [--via bridge|direct] [--bridge HOST:PORT] [--broker URL]\n"
                 "       [--base ykc] [--piles N] [--pile-start NUMBER] [--qos 0|1] [--mqtt-version 5|3]\n"
                 "       [--rate R] [--qos0-rate R] [--window W] [--inflight N] [--burst N] [--warmup S] [--duration S] [--drain S] "
                 "[--timeout S]\n"
                 "       [--direct-persist DIR] [--direct-state] [--pacing-only] [--id CLIENT_ID]\n";
    std::exit(2);
}

Options parse(int argc, char** argv) {
    Options o;
    if (argc < 2) usage("no mode");
    o.mode = argv[1];
    if (o.mode != "uplink" && o.mode != "watch" && o.mode != "command" && o.mode != "paho") usage("unknown mode " + o.mode);
    for (int i = 2; i < argc; ++i) {
        const std::string a = argv[i];
        auto v = [&]() -> std::string {
            if (i + 1 >= argc) usage(a + " needs a value");
            return argv[++i];
        };
        if (a == "--via") o.via = v();
        else if (a == "--bridge") {
            const std::string s = v();
            const auto c = s.rfind(':');
            if (c == std::string::npos) usage("--bridge HOST:PORT");
            o.bridge_host = s.substr(0, c);
            o.bridge_port = static_cast<unsigned short>(std::stoi(s.substr(c + 1)));
        } else if (a == "--broker") o.broker = v();
        else if (a == "--base") o.base = v();
        else if (a == "--piles") o.piles = std::stoi(v());
        else if (a == "--pile-start") o.pile_start = std::stoull(v());
        else if (a == "--qos") o.qos = std::stoi(v());
        else if (a == "--mqtt-version") o.mqtt_version = std::stoi(v());
        else if (a == "--rate") o.rate = std::stod(v());
        else if (a == "--qos0-rate") o.qos0_rate = std::stod(v());
        else if (a == "--window") o.window = std::stoul(v());
        else if (a == "--inflight") o.inflight = std::stoul(v());
        else if (a == "--burst") o.burst = std::max(1, std::stoi(v()));
        else if (a == "--warmup") o.warmup = std::stod(v());
        else if (a == "--duration") o.duration = std::stod(v());
        else if (a == "--drain") o.drain = std::stod(v());
        else if (a == "--timeout") o.timeout = std::stod(v());
        else if (a == "--direct-persist") o.direct_persist = v();
        else if (a == "--direct-state") o.direct_state = true;
        else if (a == "--pacing-only") o.pacing_only = true;
        else if (a == "--id") o.id = v();
        else usage("unknown option " + a);
    }
    if (o.via != "bridge" && o.via != "direct") usage("--via bridge|direct");
    if (o.mode == "uplink" && o.via == "bridge" && o.bridge_port == 0) usage("--bridge HOST:PORT is needed");
    if (o.piles < 1 || o.piles > 100000) usage("--piles 1..100000");
    if (o.qos < 0 || o.qos > 1) usage("--qos 0|1");
    if (o.mqtt_version != 5 && o.mqtt_version != 3) usage("--mqtt-version 5|3");
    return o;
}

std::string pile_number(const Options& o, int i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%014llu", static_cast<unsigned long long>(o.pile_start + static_cast<std::uint64_t>(i)));
    return buf;
}

// The pile index from "<base>/<pile>/...", -1 when it is not one of ours.
int pile_index(const Options& o, std::string_view topic) {
    const auto a = topic.find('/');
    if (a == std::string_view::npos || a + 15 > topic.size()) return -1;
    std::uint64_t n = 0;
    auto r = std::from_chars(topic.data() + a + 1, topic.data() + a + 15, n);
    if (r.ec != std::errc() || n < o.pile_start || n >= o.pile_start + static_cast<std::uint64_t>(o.piles)) return -1;
    return static_cast<int>(n - o.pile_start);
}

struct Percentiles {
    double p50 = 0, p90 = 0, p99 = 0, max = 0;
    std::size_t n = 0;
};
Percentiles percentiles(std::vector<std::int64_t> v) {  // ns in, µs out
    Percentiles p;
    p.n = v.size();
    if (v.empty()) return p;
    std::sort(v.begin(), v.end());
    auto at = [&](double q) {
        return static_cast<double>(v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))]) / 1000.0;
    };
    p.p50 = at(0.50);
    p.p90 = at(0.90);
    p.p99 = at(0.99);
    p.max = static_cast<double>(v.back()) / 1000.0;
    return p;
}

// ---- MQTT helpers -----------------------------------------------------------------------------

std::unique_ptr<mqtt::async_client> make_client(const std::string& url, const std::string& id, int version) {
    auto create = mqtt::create_options_builder().mqtt_version(version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1).finalize();
    return std::make_unique<mqtt::async_client>(url, id, create);
}

void connect(mqtt::async_client& c, int version) {
    auto b = mqtt::connect_options_builder();
    b.mqtt_version(version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1).keep_alive_interval(std::chrono::seconds(30));
    if (version == 5) b.clean_start(true);
    else b.clean_session(true);
    if (!c.connect(b.finalize())->wait_for(std::chrono::seconds(10))) throw std::runtime_error("cannot connect to " + c.get_server_uri());
}

void subscribe(mqtt::async_client& c, const std::string& filter, int qos) {
    if (!c.subscribe(filter, qos)->wait_for(std::chrono::seconds(10))) throw std::runtime_error("no SUBACK for " + filter);
}

// ---- uplink -----------------------------------------------------------------------------------

constexpr std::size_t seq_slots = 65536;

struct Uplink {
    const Options& o;
    ykc::Codec codec;
    // send time (ns, 0 = nothing outstanding) per pile and seq
    std::unique_ptr<std::atomic<std::int64_t>[]> stamps;
    std::atomic<std::uint64_t> received{0}, duplicates{0}, foreign{0}, in_window{0};
    std::int64_t window_from = 0, window_to = 0;  // the measuring window (ns), set before sending
    std::mutex mu;
    std::vector<std::int64_t> latencies;  // of frames sent inside the measuring window
    std::atomic<std::int64_t> direct_inflight{0};

    explicit Uplink(const Options& opt) : o(opt), stamps(new std::atomic<std::int64_t>[static_cast<std::size_t>(opt.piles) * seq_slots]()) {
        latencies.reserve(1 << 20);
    }

    // A charging DC gun's 0x13 body for pile i. Like a charging gun's, each frame differs from the
    // one before: frame_body() writes the frame's sequence number into charging_minutes, so the
    // bridge's gun state changes with every frame.
    std::vector<std::uint8_t> realtime_body(int i, int minutes = 17) {
        const int gun = 1 + i % 2;
        char serial[40];
        std::snprintf(serial, sizeof serial, "%s%02d2411241030000001", pile_number(o, i).c_str(), gun);
        const json data = {{"serial", serial},
                           {"gun", gun},
                           {"status", "charging"},
                           {"gun_returned", "no"},
                           {"plugged", true},
                           {"voltage", 650.3 + i % 50},
                           {"current", 120.5},
                           {"gun_temperature", 41},
                           {"gun_line_code", "0000000000000000"},
                           {"soc", 10 + i % 80},
                           {"battery_max_temperature", 33},
                           {"charging_minutes", minutes},
                           {"remaining_minutes", 45},
                           {"energy", 18.2345},
                           {"energy_with_loss", 18.5080},
                           {"amount", 21.8814},
                           {"hardware_faults", json::array()}};
        return codec.encode_body(*codec.catalogue().find("realtime"), data, pile_number(o, i));
    }

    std::vector<std::vector<std::uint8_t>> bodies;
    std::size_t minutes_at = 0;  // offset of charging_minutes (BIN 2, little-endian) in a body
    void make_bodies() {
        for (int i = 0; i < o.piles; ++i) bodies.push_back(realtime_body(i));
        const auto a = realtime_body(0, 1), b = realtime_body(0, 2);
        minutes_at = static_cast<std::size_t>(std::mismatch(a.begin(), a.end(), b.begin()).first - a.begin());
    }
    const std::vector<std::uint8_t>& frame_body(int pile, std::uint16_t seq) {
        auto& body = bodies[static_cast<std::size_t>(pile)];
        body[minutes_at] = static_cast<std::uint8_t>(seq & 0xFF);
        body[minutes_at + 1] = static_cast<std::uint8_t>(seq >> 8);
        return body;
    }

    void on_message(const mqtt::const_message_ptr& m) {
        const std::int64_t t = now_ns();
        const int pile = pile_index(o, m->get_topic());
        const std::string& p = m->get_payload_str();
        const auto k = p.find("\"seq\":\"");
        unsigned seq = 0;
        if (pile < 0 || k == std::string::npos || k + 11 > p.size() ||
            std::from_chars(p.data() + k + 7, p.data() + k + 11, seq, 16).ec != std::errc()) {
            ++foreign;
            return;
        }
        const std::int64_t sent = stamps[static_cast<std::size_t>(pile) * seq_slots + seq].exchange(0);
        if (sent == 0) {
            ++duplicates;
            return;
        }
        if (t >= window_from && t < window_to) ++in_window;
        if (sent >= window_from && sent < window_to) {
            std::lock_guard lock(mu);
            latencies.push_back(t - sent);
        }
        ++received;
    }

    int run() {
        const bool direct = o.via == "direct";
        // subscriber
        auto sub = make_client(o.broker, o.id + "-sub", 3);
        sub->set_message_callback([this](mqtt::const_message_ptr m) { on_message(m); });
        connect(*sub, 3);
        const std::string base = direct ? o.direct_base : o.base;
        subscribe(*sub, base + "/+/realtime", o.qos);

        make_bodies();

        // the load side
        asio::io_context io;
        std::vector<asio::ip::tcp::socket> socks;
        std::unique_ptr<mqtt::async_client> pub;
        struct Listener : mqtt::iaction_listener {
            std::atomic<std::int64_t>* n;
            std::atomic<std::uint64_t> failed{0};
            void on_success(const mqtt::token&) override { --*n; }
            void on_failure(const mqtt::token&) override {
                --*n;
                ++failed;
            }
        } listener;
        listener.n = &direct_inflight;
        if (direct) {
            // as the bridge's link: a large buffer (QoS 0 publishes are queued in Paho, 100 by default)
            auto create = mqtt::create_options_builder()
                              .mqtt_version(o.mqtt_version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1)
                              .send_while_disconnected(true, true)
                              .max_buffered_messages(100000)
                              .finalize();
            pub = o.direct_persist.empty() ? std::make_unique<mqtt::async_client>(o.broker, o.id + "-pub", create)
                                           : std::make_unique<mqtt::async_client>(o.broker, o.id + "-pub", create, o.direct_persist);
            connect(*pub, o.mqtt_version);
        } else {
            const asio::ip::tcp::endpoint ep(asio::ip::make_address(o.bridge_host), o.bridge_port);
            for (int i = 0; i < o.piles; ++i) {
                asio::ip::tcp::socket s(io);
                s.connect(ep);
                s.set_option(asio::ip::tcp::no_delay(true));
                const json login = {{"type", "login"},
                                    {"pile", pile_number(o, i)},
                                    {"seq", "0000"},
                                    {"data",
                                     {{"pile_type", "dc"},
                                      {"gun_count", 2},
                                      {"protocol_version", 1.6},
                                      {"program_version", "BENCH1.0"},
                                      {"network", "lan"},
                                      {"sim", "0"},
                                      {"carrier", "other"}}}};
                asio::write(s, asio::buffer(codec.encode(login)));
                socks.push_back(std::move(s));
            }
            // every login answered (0x02), bounded by --timeout
            const auto deadline = Clock::now() + std::chrono::duration<double>(o.timeout);
            for (auto& s : socks) {
                ykc::FrameReader reader;
                bool ok = false;
                std::uint8_t buf[512];
                s.non_blocking(true);
                while (!ok && Clock::now() < deadline) {
                    boost::system::error_code ec;
                    const std::size_t n = s.read_some(asio::buffer(buf), ec);
                    if (ec == asio::error::would_block) {
                        std::this_thread::sleep_for(std::chrono::milliseconds(1));
                        continue;
                    }
                    if (ec) throw std::runtime_error("login: " + ec.message());
                    reader.feed(std::span<const std::uint8_t>(buf, n));
                    while (auto e = reader.next())
                        if (auto* f = std::get_if<ykc::Frame>(&*e); f && f->type() == 0x02) ok = true;
                }
                s.non_blocking(false);
                if (!ok) throw std::runtime_error("no login reply within --timeout");
            }
        }

        // paced sending; a short sleep between rounds leaves the cores to the broker and bridge
        const std::int64_t t0 = now_ns();
        window_from = t0 + static_cast<std::int64_t>(o.warmup * 1e9);
        window_to = window_from + static_cast<std::int64_t>(o.duration * 1e9);
        std::vector<std::uint16_t> seqs(static_cast<std::size_t>(o.piles), 0);
        std::uint64_t sent = 0, window_stalls = 0;
        int next_pile = 0;
        struct Queued {
            int pile;
            std::uint16_t seq;
        };
        std::deque<Queued> direct_queue;  // generated, waiting for the publisher's in-flight window
        std::string text;
        char ts[ykc::max_cp56_json_chars + 8];
        std::int64_t ts_ms = -1;
        std::size_t ts_len = 0;
        auto publish_direct = [&](const Queued& q) {
            const auto frame = ykc::write_frame(0x13, {static_cast<std::uint8_t>(q.seq >> 8), static_cast<std::uint8_t>(q.seq & 0xFF)}, 0,
                                                frame_body(q.pile, q.seq));
            text.clear();
            codec.decode_to(ykc::FrameView{frame}, text);
            const std::int64_t ms = epoch_ms();
            if (ms != ts_ms) {  // the bridge's "ts" (ms resolution)
                ts_ms = ms;
                const auto cp = ykc::cp56_from_epoch_ms(ms, 480);
                ts_len = static_cast<std::size_t>(ykc::format_cp56_json(ts, cp, 480) - ts);
            }
            text.pop_back();
            text += ",\"ts\":";
            text.append(ts, ts_len);
            text += '}';
            auto put = [&](mqtt::message_ptr msg) {
                if (o.qos > 0) {
                    ++direct_inflight;
                    pub->publish(msg, nullptr, listener);
                } else {
                    pub->publish(msg);
                }
            };
            put(mqtt::message::create(o.direct_base + "/" + pile_number(o, q.pile) + "/realtime", text, o.qos, false));
            if (o.direct_state) {  // what the bridge adds per 0x13: <pile>/gun/<n>/state, retained, data + ts
                const auto d = text.find("\"data\":");
                std::string state = text.substr(d + 7, text.size() - d - 7 - ts_len - 7);
                state.pop_back();
                state += ",\"ts\":";
                state.append(ts, ts_len);
                state += '}';
                put(mqtt::message::create(
                    o.direct_base + "/" + pile_number(o, q.pile) + "/gun/" + std::to_string(1 + q.pile % 2) + "/state", state, o.qos,
                    true));
            }
        };
        // like the bridge's link: at most --inflight unacknowledged publishes (messages, not frames)
        auto pump_direct = [&] {
            const std::int64_t per_frame = o.direct_state ? 2 : 1;
            while (!direct_queue.empty() && (o.qos == 0 || direct_inflight.load() + per_frame <= static_cast<std::int64_t>(o.inflight))) {
                publish_direct(direct_queue.front());
                direct_queue.pop_front();
            }
        };
        const std::int64_t send_end = window_to;
        while (true) {
            const std::int64_t now = now_ns();
            if (now >= send_end) break;
            const std::uint64_t allowed =
                o.rate > 0 ? static_cast<std::uint64_t>(o.rate * static_cast<double>(now - t0) / 1e9) + 1 : UINT64_MAX;
            while (sent < allowed) {
                if (sent - received.load(std::memory_order_relaxed) >= o.window) {
                    ++window_stalls;
                    break;
                }
                const int i = next_pile;
                next_pile = (next_pile + 1) % o.piles;
                const std::uint16_t seq = seqs[static_cast<std::size_t>(i)]++;
                auto& slot = stamps[static_cast<std::size_t>(i) * seq_slots + seq];
                if (direct) {
                    slot.store(now_ns());
                    direct_queue.push_back({i, seq});
                } else {
                    const auto frame = ykc::write_frame(0x13, {static_cast<std::uint8_t>(seq >> 8), static_cast<std::uint8_t>(seq & 0xFF)},
                                                        0, frame_body(i, seq));
                    slot.store(now_ns());
                    asio::write(socks[static_cast<std::size_t>(i)], asio::buffer(frame));
                }
                ++sent;
            }
            pump_direct();
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
        // drain: what is still outstanding may arrive until --drain
        const std::int64_t drain_end = now_ns() + static_cast<std::int64_t>(o.drain * 1e9);
        while (received.load() < sent && now_ns() < drain_end) {
            pump_direct();
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        std::vector<std::int64_t> lat;
        {
            std::lock_guard lock(mu);
            lat = latencies;
        }
        const auto p = percentiles(std::move(lat));
        const double rate = static_cast<double>(in_window.load()) / o.duration;
        std::printf(
            "via=%s qos=%d mqtt=%d piles=%d offered=%.0f window=%zu sent=%llu received=%llu lost=%llu dup=%llu foreign=%llu "
            "rate=%.0f lat_n=%zu p50_us=%.0f p90_us=%.0f p99_us=%.0f max_us=%.0f window_stalls=%llu\n",
            o.via.c_str(), o.qos, direct ? o.mqtt_version : 0, o.piles, o.rate, o.window, static_cast<unsigned long long>(sent),
            static_cast<unsigned long long>(received.load()),
            static_cast<unsigned long long>(sent - std::min<std::uint64_t>(sent, received.load())),
            static_cast<unsigned long long>(duplicates.load()), static_cast<unsigned long long>(foreign.load()), rate, p.n, p.p50, p.p90,
            p.p99, p.max, static_cast<unsigned long long>(window_stalls));
        std::fflush(stdout);
        try {
            if (pub) pub->disconnect()->wait_for(std::chrono::seconds(2));
            sub->disconnect()->wait_for(std::chrono::seconds(2));
        } catch (const std::exception&) {}
        for (auto& s : socks) {
            boost::system::error_code ec;
            s.close(ec);
        }
        return received.load() == sent ? 0 : 1;
    }
};

// ---- watch (login storm) ----------------------------------------------------------------------

int watch(const Options& o) {
    std::mutex mu;
    std::vector<char> online(static_cast<std::size_t>(o.piles), 0);
    std::atomic<int> count{0};
    std::atomic<std::int64_t> first{0}, half{0}, p90{0}, last{0};
    auto sub = make_client(o.broker, o.id + "-watch", 3);
    sub->set_message_callback([&](mqtt::const_message_ptr m) {
        const int i = pile_index(o, m->get_topic());
        if (i < 0 || m->get_payload_str().find("\"state\":\"online\"") == std::string::npos) return;
        const std::int64_t t = epoch_ms();
        std::lock_guard lock(mu);
        if (online[static_cast<std::size_t>(i)]) return;
        online[static_cast<std::size_t>(i)] = 1;
        const int n = ++count;
        if (n == 1) first = t;
        if (n == (o.piles + 1) / 2) half = t;
        if (n == (o.piles * 9 + 9) / 10) p90 = t;
        if (n == o.piles) last = t;
    });
    connect(*sub, 3);
    subscribe(*sub, o.base + "/+/availability", 1);
    std::cerr << "ready" << std::endl;
    std::printf("ready epoch_ms=%lld\n", static_cast<long long>(epoch_ms()));
    std::fflush(stdout);
    const auto deadline = Clock::now() + std::chrono::duration<double>(o.timeout);
    while (count.load() < o.piles && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::printf("online=%d of=%d first_ms=%lld half_ms=%lld p90_ms=%lld last_ms=%lld\n", count.load(), o.piles,
                static_cast<long long>(first.load()), static_cast<long long>(half.load()), static_cast<long long>(p90.load()),
                static_cast<long long>(last.load()));
    std::fflush(stdout);
    try {
        sub->disconnect()->wait_for(std::chrono::seconds(2));
    } catch (const std::exception&) {}
    return count.load() == o.piles ? 0 : 1;
}

// ---- command round trip -----------------------------------------------------------------------

int command(const Options& o) {
    std::mutex mu;
    std::unordered_map<std::uint64_t, std::int64_t> pending;  // id -> publish time
    std::vector<std::int64_t> lat;
    std::map<std::string, int> statuses;
    std::atomic<std::uint64_t> answered{0};
    auto sub = make_client(o.broker, o.id + "-resp", 3);
    sub->set_message_callback([&](mqtt::const_message_ptr m) {
        const std::int64_t t = now_ns();
        json r = json::parse(m->get_payload_str(), nullptr, false);
        if (!r.is_object() || !r.contains("id") || !r["id"].is_string()) return;
        const std::string id = r["id"];
        if (id.rfind("b", 0) != 0) return;
        const std::uint64_t n = std::strtoull(id.c_str() + 1, nullptr, 10);
        std::lock_guard lock(mu);
        auto it = pending.find(n);
        if (it == pending.end()) return;
        lat.push_back(t - it->second);
        pending.erase(it);
        ++statuses[r.value("status", std::string("?"))];
        ++answered;
    });
    connect(*sub, 3);
    subscribe(*sub, o.base + "/+/resp/remote_stop", 1);
    auto pub = make_client(o.broker, o.id + "-cmd", 3);
    connect(*pub, 3);
    const double rate = o.rate > 0 ? o.rate : 100;
    const std::int64_t t0 = now_ns();
    const std::int64_t end = t0 + static_cast<std::int64_t>(o.duration * 1e9);
    std::uint64_t sent = 0;
    while (now_ns() < end) {
        const auto allowed = static_cast<std::uint64_t>(rate * static_cast<double>(now_ns() - t0) / 1e9) + 1;
        while (sent < allowed) {
            // piles in a scrambled order, so consecutive commands go to different piles
            const int pile = static_cast<int>((sent * 7919) % static_cast<std::uint64_t>(o.piles));
            const std::string payload = "{\"id\":\"b" + std::to_string(sent) + "\",\"gun\":1}";
            {
                std::lock_guard lock(mu);
                pending[sent] = now_ns();
            }
            pub->publish(mqtt::message::create(o.base + "/" + pile_number(o, pile) + "/cmd/remote_stop", payload, 1, false));
            ++sent;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const std::int64_t drain_end = now_ns() + static_cast<std::int64_t>(o.drain * 1e9);
    while (answered.load() < sent && now_ns() < drain_end) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::vector<std::int64_t> l;
    std::string st;
    {
        std::lock_guard lock(mu);
        l = lat;
        for (const auto& [k, v] : statuses) st += (st.empty() ? "" : ",") + k + ":" + std::to_string(v);
    }
    const auto p = percentiles(std::move(l));
    std::printf("sent=%llu answered=%llu statuses=%s p50_us=%.0f p90_us=%.0f p99_us=%.0f max_us=%.0f\n",
                static_cast<unsigned long long>(sent), static_cast<unsigned long long>(answered.load()), st.empty() ? "-" : st.c_str(),
                p.p50, p.p90, p.p99, p.max);
    std::fflush(stdout);
    try {
        pub->disconnect()->wait_for(std::chrono::seconds(2));
        sub->disconnect()->wait_for(std::chrono::seconds(2));
    } catch (const std::exception&) {}
    return answered.load() == sent ? 0 : 1;
}

}  // namespace

// ---- paho (the floor) --------------------------------------------------------------------------

int paho_floor(const Options& o) {
    floor_bench::Mix m;
    m.rate = o.rate;
    m.qos0_rate = o.qos0_rate;
    m.duration = o.duration;
    m.piles = o.piles;
    m.pile_start = o.pile_start;
    m.base = o.direct_base;
    m.burst = o.burst;
    m.inflight = o.inflight;
    m.pacing_only = o.pacing_only;
    if (m.rate + m.qos0_rate <= 0) usage("paho needs --rate or --qos0-rate");
    auto create = mqtt::create_options_builder()
                      .mqtt_version(o.mqtt_version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1)
                      .send_while_disconnected(false)
                      .max_buffered_messages(10000)
                      .finalize();
    mqtt::async_client pub(o.broker, o.id + "-paho", create, nullptr);
    connect(pub, o.mqtt_version);
    std::atomic<std::int64_t> inflight{0};
    std::atomic<std::uint64_t> failed{0};
    struct Listener : mqtt::iaction_listener {
        std::atomic<std::int64_t>* n;
        std::atomic<std::uint64_t>* failed;
        void on_success(const mqtt::token&) override { --*n; }
        void on_failure(const mqtt::token&) override {
            --*n;
            ++*failed;
        }
    } listener;
    listener.n = &inflight;
    listener.failed = &failed;
    const auto r = floor_bench::run(
        m,
        [&](const std::string& topic, const std::string& payload, int qos) {
            if (qos == 0) {
                pub.publish(mqtt::message::create(topic, payload, 0, false));
                return;
            }
            ++inflight;
            pub.publish(mqtt::message::create(topic, payload, 1, false), nullptr, listener);
        },
        [&] { return inflight.load(); });
    for (int i = 0; i < 1000 && inflight.load() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    floor_bench::print(r, failed.load());
    try {
        pub.disconnect()->wait_for(std::chrono::seconds(2));
    } catch (const std::exception&) {}
    return failed.load() == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    try {
        if (o.mode == "uplink") return Uplink(o).run();
        if (o.mode == "watch") return watch(o);
        if (o.mode == "paho") return paho_floor(o);
        return command(o);
    } catch (const std::exception& e) {
        std::cerr << "ykc_bench_load: " << e.what() << "\n";
        std::printf("error=\"%s\"\n", e.what());
        return 1;
    }
}
