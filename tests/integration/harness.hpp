#pragma once
// Integration harness: a real mosquitto on a free loopback port, the real ykc-bridge binary,
// chargers as raw TCP sockets, and a Paho MQTT client recording what arrives. Every wait is
// bounded; every process is stopped when its owner goes out of scope.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <mqtt/async_client.h>
#include <nlohmann/json.hpp>

#include "ykc/codec.hpp"
#include "ykc/hex.hpp"

namespace it {

using json = nlohmann::json;
using ykc::Message;
using namespace std::chrono_literals;

inline int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

inline int connect_to(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

inline bool wait_port(int port, std::chrono::milliseconds timeout = 5000ms) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
        const int fd = connect_to(port);
        if (fd >= 0) {
            ::close(fd);
            return true;
        }
        std::this_thread::sleep_for(20ms);
    }
    return false;
}

class TempDir {
public:
    TempDir() {
        char tmpl[] = "/tmp/ykc-it-XXXXXX";
        path_ = ::mkdtemp(tmpl);
        std::filesystem::permissions(path_, std::filesystem::perms::all);  // mosquitto drops to its own user
    }
    ~TempDir() {
        if (!std::getenv("IT_KEEP_LOGS")) std::filesystem::remove_all(path_);  // IT_KEEP_LOGS=1 keeps the logs
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

class Process {
public:
    // posix_spawn, not fork: a forked child of this multi-threaded test (Paho's threads) that
    // allocates before exec can hang forever on an allocator lock another thread held at the fork
    // (seen under ASan: an empty log and "did not start").
    Process(std::vector<std::string> argv, const std::string& log) {
        std::vector<char*> args;
        for (auto& a : argv) args.push_back(a.data());
        args.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        ::posix_spawn_file_actions_init(&actions);
        ::posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::posix_spawn_file_actions_adddup2(&actions, 1, 2);
        pid_t pid = -1;
        const int err = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
        ::posix_spawn_file_actions_destroy(&actions);
        if (err != 0) {
            std::ofstream(log, std::ios::app) << "cannot start " << argv[0] << ": " << std::strerror(err) << "\n";
            return;
        }
        pid_ = pid;
    }
    ~Process() { stop(); }
    // SIGTERM (repeated: a process may not handle signals yet), then SIGKILL. Returns the status.
    int stop(std::chrono::milliseconds grace = 5000ms, int signal = SIGTERM) {
        if (pid_ <= 0) return status_;
        const auto end = std::chrono::steady_clock::now() + grace;
        int st = 0;
        while (std::chrono::steady_clock::now() < end) {
            ::kill(pid_, signal);
            for (int i = 0; i < 50; ++i) {  // resend after 1 s: a process may not handle signals yet
                if (::waitpid(pid_, &st, WNOHANG) == pid_) {
                    pid_ = -1;
                    return status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                }
                std::this_thread::sleep_for(20ms);
            }
        }
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &st, 0);
        pid_ = -1;
        return status_ = -9;
    }
    pid_t pid() const { return pid_; }
    void kill9() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        int st;
        ::waitpid(pid_, &st, 0);
        pid_ = -1;
    }
    bool running() {
        if (pid_ <= 0) return false;
        int st;
        return ::waitpid(pid_, &st, WNOHANG) == 0;
    }

private:
    pid_t pid_ = -1;
    int status_ = -1;
};

// The offset of the first line of `text` that contains every one of `parts`, or npos.
inline std::size_t find_line(const std::string& text, std::initializer_list<std::string> parts) {
    for (std::size_t begin = 0; begin < text.size();) {
        std::size_t end = text.find('\n', begin);
        if (end == std::string::npos) end = text.size();
        const std::string_view line(text.data() + begin, end - begin);
        if (std::all_of(parts.begin(), parts.end(), [&](const std::string& p) { return line.find(p) != std::string_view::npos; }))
            return begin;
        begin = end + 1;
    }
    return std::string::npos;
}

// A private mosquitto on loopback; `port` to bring one back where an earlier one was,
// `extra_conf` for more configuration lines.
struct Mosquitto {
    TempDir dir;
    int port;
    std::unique_ptr<Process> proc;
    explicit Mosquitto(int port_ = 0, const std::string& extra_conf = "") : port(port_ ? port_ : free_port()) {
        std::ofstream(dir.path() + "/mosquitto.conf") << "listener " << port << " 127.0.0.1\nallow_anonymous true\n"
                                                      << "max_queued_messages 0\npersistence false\n"
                                                      << extra_conf;
        proc = std::make_unique<Process>(std::vector<std::string>{"mosquitto", "-c", dir.path() + "/mosquitto.conf"},
                                         dir.path() + "/mosquitto.log");
        REQUIRE_MESSAGE(wait_port(port), "mosquitto did not start");
    }
    std::string url() const { return "tcp://127.0.0.1:" + std::to_string(port); }
    std::string read_log() const {
        std::ifstream in(dir.path() + "/mosquitto.log");
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
};

struct Received {
    std::string topic, payload;
    bool retained;
    int qos;
    std::string correlation;  // MQTT 5 correlation data, when present
    // The payload parsed (once per copy: waits look at every message again and again).
    json j() const {
        if (!parsed) parsed = std::make_shared<const json>(json::parse(payload));
        return *parsed;
    }
    mutable std::shared_ptr<const json> parsed = {};
};

// An MQTT client that records every message on ykc/#.
class Subscriber {
public:
    using Tune = std::function<void(mqtt::connect_options_builder&)>;  // e.g. TLS, user name
    explicit Subscriber(const std::string& url, const std::string& filter = "ykc/#", bool v5 = false, const Tune& tune = {})
        : client_(url, "it-sub-" + std::to_string(::getpid()) + "-" + std::to_string(++count()),
                  mqtt::create_options(v5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1)),
          v5_(v5) {
        client_.set_message_callback([this](mqtt::const_message_ptr m) {
            std::lock_guard lock(mu_);
            Received r{m->get_topic(), m->get_payload_str(), m->is_retained(), m->get_qos(), {}};
            if (m->get_properties().contains(mqtt::property::CORRELATION_DATA))
                r.correlation = mqtt::get<std::string>(m->get_properties(), mqtt::property::CORRELATION_DATA);
            got_.push_back(std::move(r));
            cv_.notify_all();
        });
        mqtt::connect_options_builder opts;
        opts.mqtt_version(v5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1);
        if (v5) opts.clean_start(true);
        else opts.clean_session(true);
        if (tune) tune(opts);
        client_.connect(opts.finalize())->wait();
        client_.subscribe(filter, 1)->wait();
    }
    ~Subscriber() {
        try {
            client_.disconnect()->wait_for(2s);
        } catch (...) {}
    }
    // The first message (from the start) on `topic` for which pred holds.
    std::optional<Received> wait(const std::string& topic, std::function<bool(const Received&)> pred = {},
                                 std::chrono::milliseconds timeout = 5000ms) {
        std::unique_lock lock(mu_);
        std::optional<Received> found;
        std::size_t seen = 0;  // each wake-up looks only at what arrived since the last
        cv_.wait_for(lock, timeout, [&] {
            for (; seen < got_.size(); ++seen)
                if (const auto& r = got_[seen]; r.topic == topic && (!pred || pred(r))) {
                    found = r;
                    return true;
                }
            return false;
        });
        return found;
    }
    // The message number `n` (from 0) on `topic`, waiting for it.
    std::optional<Received> nth_on(const std::string& topic, std::size_t n, std::chrono::milliseconds timeout = 5000ms) {
        std::unique_lock lock(mu_);
        std::optional<Received> found;
        std::size_t seen = 0, i = 0;
        cv_.wait_for(lock, timeout, [&] {
            for (; seen < got_.size(); ++seen)
                if (const auto& r = got_[seen]; r.topic == topic && i++ == n) {
                    found = r;
                    return true;
                }
            return false;
        });
        return found;
    }
    // Waits until pred holds for every message received so far on `topic` (in arrival order);
    // returns them (what arrived by the timeout when it never held).
    std::vector<Received> wait_all(const std::string& topic, std::function<bool(const std::vector<Received>&)> pred,
                                   std::chrono::milliseconds timeout = 5000ms) {
        return wait_where([&](const std::string& t) { return t == topic; }, pred, timeout);
    }
    // Waits until pred holds for every message so far whose topic starts with `prefix` (in arrival
    // order); returns them (what arrived by the timeout when it never held).
    std::vector<Received> wait_prefix(const std::string& prefix, std::function<bool(const std::vector<Received>&)> pred,
                                      std::chrono::milliseconds timeout = 5000ms) {
        return wait_where([&](const std::string& t) { return t.rfind(prefix, 0) == 0; }, pred, timeout);
    }
    // Everything received so far, in arrival order.
    std::vector<Received> snapshot() {
        std::lock_guard lock(mu_);
        return got_;
    }
    std::size_t count_on(const std::string& topic) {
        std::lock_guard lock(mu_);
        std::size_t n = 0;
        for (const auto& r : got_) n += r.topic == topic;
        return n;
    }
    void publish(const std::string& topic, const std::string& payload, bool retain = false) {
        client_.publish(mqtt::message::create(topic, payload, 1, retain))->wait_for(5s);
    }
    // MQTT 5 request/response: the answer goes to `response_topic` with `correlation`.
    void request(const std::string& topic, const std::string& payload, const std::string& response_topic, const std::string& correlation) {
        mqtt::properties props;
        props.add({mqtt::property::RESPONSE_TOPIC, response_topic});
        props.add({mqtt::property::CORRELATION_DATA, correlation});
        client_.publish(mqtt::message::create(topic, payload, 1, false, props))->wait_for(5s);
    }

private:
    std::vector<Received> wait_where(const std::function<bool(const std::string&)>& match,
                                     const std::function<bool(const std::vector<Received>&)>& pred, std::chrono::milliseconds timeout) {
        std::unique_lock lock(mu_);
        std::vector<Received> on;
        std::size_t seen = 0;
        cv_.wait_for(lock, timeout, [&] {
            for (; seen < got_.size(); ++seen)
                if (match(got_[seen].topic)) on.push_back(got_[seen]);
            return pred(on);
        });
        return on;
    }
    static int& count() {
        static int n = 0;
        return n;
    }
    mqtt::async_client client_;
    bool v5_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Received> got_;
};

struct Bridge {
    TempDir dir;
    int port = free_port();
    std::unique_ptr<Process> proc;
    std::string log;
    // `state` keeps Paho's persistence (and the client id) across a restart; by default its own.
    Bridge(const Mosquitto& broker, std::vector<std::string> extra = {}, const std::string& state = "", int listen_port = 0)
        : Bridge(broker.url(), std::move(extra), state, listen_port) {}
    // `env`: NAME=value entries for the bridge's environment (YKC_… overrides); `wrap`: a command
    // the bridge runs under (e.g. prlimit)
    Bridge(const std::string& mqtt_url, std::vector<std::string> extra, const std::string& state, int listen_port,
           const std::vector<std::string>& env = {}, const std::vector<std::string>& wrap = {}) {
        if (listen_port) port = listen_port;
        const std::string data = state.empty() ? dir.path() + "/data" : state;
        log = dir.path() + "/bridge.log";
        std::ofstream(dir.path() + "/config.yaml") << "# defaults\n";  // not the repository's config.yaml
        std::vector<std::string> argv = {YKC_BRIDGE_BIN, "run",
                                         "-c",           dir.path() + "/config.yaml",
                                         "--listen",     "127.0.0.1:" + std::to_string(port),
                                         "--mqtt-url",   mqtt_url,
                                         "--set",        "mqtt.persistence_dir=" + data,
                                         "--set",        "mqtt.client_id=it-bridge-" + std::to_string(port),
                                         "--log-level",  "debug"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        if (!env.empty()) {
            std::vector<std::string> with_env = {"env"};
            with_env.insert(with_env.end(), env.begin(), env.end());
            argv.insert(argv.begin(), with_env.begin(), with_env.end());
        }
        argv.insert(argv.begin(), wrap.begin(), wrap.end());
        proc = std::make_unique<Process>(argv, log);
        REQUIRE_MESSAGE(wait_port(port), "ykc-bridge did not start: " << read_log());
    }
    std::string read_log() const {
        std::ifstream in(log);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    // Waits until the log contains `text`.
    bool log_shows(const std::string& text, std::chrono::milliseconds timeout = 5000ms) const {
        const auto end = std::chrono::steady_clock::now() + timeout;
        while (read_log().find(text) == std::string::npos) {
            if (std::chrono::steady_clock::now() >= end) return false;
            std::this_thread::sleep_for(20ms);
        }
        return true;
    }
};

inline const ykc::Codec& codec() {
    static const ykc::Codec c;
    return c;
}

// A sequence number that echoes neither `frame` (one the bridge sent) nor the frames the bridge
// sent shortly before or after it: a session numbers its frames on from a random start, so this
// is half the range away (+ k, for several). For the replies of a charger that does not echo.
inline std::string not_echo(const json& frame, unsigned k = 0) {
    const std::string s = frame["seq"];  // low byte first
    unsigned v = (std::stoul(s.substr(2, 2), nullptr, 16) << 8 | std::stoul(s.substr(0, 2), nullptr, 16)) + 0x8000 + k;
    v &= 0xFFFF;
    char out[5];
    std::snprintf(out, sizeof out, "%02X%02X", v & 0xFF, v >> 8);
    return out;
}

// The data of a login 0x01 of a 2-gun DC pile.
inline json login_data() {
    return {{"pile_type", "dc"}, {"gun_count", 2}, {"protocol_version", 1.6}, {"program_version", "IT1.0"},
            {"network", "lan"},  {"sim", "0"},     {"carrier", "other"}};
}

// The data of a realtime 0x13 of an idle gun 1 reporting `voltage`.
inline json idle_realtime(int voltage) {
    return {{"serial", "0"},
            {"gun", 1},
            {"status", "idle"},
            {"gun_returned", "yes"},
            {"plugged", false},
            {"voltage", voltage},
            {"current", 0},
            {"gun_temperature", 20},
            {"gun_line_code", "0"},
            {"soc", 0},
            {"battery_max_temperature", 20},
            {"charging_minutes", 0},
            {"remaining_minutes", 0},
            {"energy", 0},
            {"energy_with_loss", 0},
            {"amount", 0},
            {"hardware_faults", json::array()}};
}

// A charger: a TCP socket speaking frames.
class Charger {
public:
    Charger(int port, std::string pile) : pile_(std::move(pile)) {
        fd_ = connect_to(port);
        REQUIRE(fd_ >= 0);
    }
    ~Charger() { close(); }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    void write_bytes(const std::vector<std::uint8_t>& b) { REQUIRE(try_write(b)); }
    // false when the bridge closed the connection (or stopped reading) meanwhile
    bool try_write(const std::vector<std::uint8_t>& b) {
        std::size_t done = 0;
        while (done < b.size()) {
            pollfd p{fd_, POLLOUT, 0};
            if (::poll(&p, 1, 5000) <= 0) return false;
            const ssize_t n = ::send(fd_, b.data() + done, b.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (n <= 0) return false;
            done += static_cast<std::size_t>(n);
        }
        return true;
    }
    int fd() const { return fd_; }
    // Sends a message of the catalogue; returns the frame.
    std::vector<std::uint8_t> send(const std::string& type, json data, std::string seq = "", const std::string& pile = "") {
        if (seq.empty()) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "%02X%02X", seq_ & 0xFF, seq_ >> 8);
            ++seq_;
            seq = buf;
        }
        auto frame = codec().encode({{"type", type}, {"pile", pile.empty() ? pile_ : pile}, {"seq", seq}, {"data", std::move(data)}});
        write_bytes(frame);
        return frame;
    }
    // The next frame from the bridge (decoded), or nullopt after the timeout / on close.
    std::optional<json> receive(std::chrono::milliseconds timeout = 5000ms) {
        auto f = receive_frame(timeout);
        if (!f) return std::nullopt;
        return codec().decode(f->view());
    }
    // The same, as it came (bytes and CRC byte order).
    std::optional<ykc::Frame> receive_frame(std::chrono::milliseconds timeout = 5000ms) {
        const auto end = std::chrono::steady_clock::now() + timeout;
        while (true) {
            if (auto e = reader_.next()) {
                if (auto* f = std::get_if<ykc::Frame>(&*e)) return std::move(*f);
                continue;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now()).count();
            if (left <= 0 || fd_ < 0) return std::nullopt;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left)) <= 0) return std::nullopt;
            std::uint8_t buf[4096];
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) {
                closed_ = true;
                return std::nullopt;
            }
            reader_.feed(std::span(buf, static_cast<std::size_t>(n)));
        }
    }
    // The next frame of `type`, skipping others (time sync and the like).
    std::optional<json> receive_type(const std::string& type, std::chrono::milliseconds timeout = 5000ms) {
        const auto end = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < end) {
            auto f = receive(std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now()));
            if (!f) return std::nullopt;
            if ((*f)["type"] == type) return f;
        }
        return std::nullopt;
    }
    // True when the bridge closed the connection within the timeout.
    bool closed_by_peer(std::chrono::milliseconds timeout = 5000ms) {
        const auto end = std::chrono::steady_clock::now() + timeout;
        while (!closed_ && std::chrono::steady_clock::now() < end) receive(50ms);
        return closed_;
    }
    void login() {
        send("login", login_data(), "0000");
        auto reply = receive_type("login_reply");
        REQUIRE(reply);
        REQUIRE((*reply)["data"]["result"] == "success");
    }
    const std::string& pile() const { return pile_; }

private:
    std::string pile_;
    int fd_ = -1;
    std::uint16_t seq_ = 1;
    bool closed_ = false;
    ykc::FrameReader reader_;
};

// A broker, a subscriber to everything, a bridge (with `extra` options) and a charger of `pile`
// logged in and announced online.
struct Online {
    Mosquitto broker;
    Subscriber sub{broker.url()};
    Bridge bridge;
    Charger c;
    explicit Online(const std::string& pile, std::vector<std::string> extra = {}) : bridge(broker, std::move(extra)), c(bridge.port, pile) {
        c.login();
        REQUIRE(sub.wait("ykc/" + pile + "/availability"));
    }
};

// ---- what the tests of the bridge share (the pile, a transaction record, rigs) ----------------

inline const std::string pile = "32010200000001";
inline const std::string serial = "32010200000001012411241030000001";
inline bool has_state(const Received& r, const std::string& s) { return r.j().value("state", "") == s; }

// A transaction record 0x3B of gun 1: 20.5 kWh, 26.65 yuan.
inline json transaction_data(const std::string& serial) {
    return {{"serial", serial},
            {"gun", 1},
            {"start_time", "2024-11-24T10:30:00+08:00"},
            {"end_time", "2024-11-24T11:00:00+08:00"},
            {"sharp_price", 1.3},
            {"sharp_energy", 0},
            {"sharp_energy_with_loss", 0},
            {"sharp_amount", 0},
            {"peak_price", 1.3},
            {"peak_energy", 0},
            {"peak_energy_with_loss", 0},
            {"peak_amount", 0},
            {"flat_price", 1.3},
            {"flat_energy", 20.5},
            {"flat_energy_with_loss", 20.5},
            {"flat_amount", 26.65},
            {"valley_price", 1.3},
            {"valley_energy", 0},
            {"valley_energy_with_loss", 0},
            {"valley_amount", 0},
            {"meter_start", 1000},
            {"meter_end", 1020.5},
            {"total_energy", 20.5},
            {"total_energy_with_loss", 20.5},
            {"total_amount", 26.65},
            {"vin", ""},
            {"trade_type", "app"},
            {"trade_time", "2024-11-24T11:00:00+08:00"},
            {"stop_reason", "app_stop"},
            {"card", "0"}};
}
// A broker, a subscriber to everything, a bridge and a charger of `pile` logged in and announced online.
struct OnlinePile : Online {
    explicit OnlinePile(std::vector<std::string> extra = {}) : Online(pile, std::move(extra)) {}
};
// A logged-in charger on a bridge whose broker has gone away. The bridge reconnects every 2 s,
// so a test's subscriber is on the broker that comes back (on mqtt_port) before the bridge.
struct BrokerGone {
    std::unique_ptr<Mosquitto> broker = std::make_unique<Mosquitto>();
    const int mqtt_port = broker->port;
    Bridge bridge{*broker, {"--set", "mqtt.reconnect_min=2", "--set", "mqtt.reconnect_max=2"}};
    Charger c{bridge.port, pile};
    BrokerGone() {
        c.login();
        REQUIRE_MESSAGE(bridge.log_shows("mqtt: connected"), bridge.read_log());
        broker.reset();
        REQUIRE_MESSAGE(bridge.log_shows("mqtt: connection lost"), bridge.read_log());
    }
};
// n realtime frames of `pile` back to back (voltage i, seq i), for one write
inline std::vector<std::uint8_t> realtime_burst(int n) {
    std::vector<std::uint8_t> burst;
    for (int i = 0; i < n; ++i) {
        char seq[16];
        std::snprintf(seq, sizeof seq, "%02X%02X", static_cast<unsigned>(i & 0xFF), static_cast<unsigned>((i >> 8) & 0xFF));
        const auto f = codec().encode({{"type", "realtime"}, {"pile", pile}, {"seq", seq}, {"data", idle_realtime(i)}});
        burst.insert(burst.end(), f.begin(), f.end());
    }
    return burst;
}

}  // namespace it
