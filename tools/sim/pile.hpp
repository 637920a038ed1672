#pragma once
// One simulated charger: its TCP link to the platform (pile_link.cpp), its session and timers
// (pile_session.cpp) and its answers to platform frames (pile_downlink.cpp).
#include <utility>  // before Boost.Asio with C++20

#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "billing.hpp"
#include "gun.hpp"
#include "sim.hpp"
#include "ykc/frame.hpp"

namespace ykc::sim {

class Pile {
public:
    Pile(Sim& sim, std::uint64_t number, std::optional<boost::asio::ip::address> source);
    Pile(const Pile&) = delete;
    Pile& operator=(const Pile&) = delete;

    void start(Millis delay);  // first connect after `delay`
    void shutdown();           // closes everything; no handler of this pile does anything after it

    // Commands from standard input.
    void swipe(unsigned gun, const std::string& card);
    void local_stop(unsigned gun);
    void write_raw(std::vector<std::uint8_t> bytes);
    void disconnect(const std::string& reason);

    const std::string& id() const noexcept { return id_; }

private:
    enum class State : std::uint8_t { waiting, connecting, login, online, stopped };
    struct Pending {  // a transaction record kept until its 0x40, across reconnects
        std::string serial;
        nlohmann::json envelope;  // without seq: each copy gets a fresh one
        Clock::time_point due;
        unsigned sent = 0;
    };
    struct Chunk {
        std::vector<std::uint8_t> bytes;
        bool split = false;
        std::string type;  // catalogue name of the frame; empty for raw and hostile bytes (not counted)
    };
    using Handler = void (Pile::*)(const nlohmann::json& env, const nlohmann::json& data);

    // pile_link.cpp
    void connect();
    void connect_failed(const std::string& why);
    void on_connected();
    void read();
    void close_link(const std::string& reason);
    bool connected() const noexcept { return state_ == State::login || state_ == State::online; }
    bool send(nlohmann::json envelope);  // fills pile and seq; false when not sent
    bool reply(const nlohmann::json& request, nlohmann::json envelope);
    void decorate(const nlohmann::json& envelope, const std::vector<std::uint8_t>& frame);  // hostile mode
    bool enqueue(std::vector<std::uint8_t> bytes, bool split, std::string type = {});
    void count_written(const std::vector<std::string>& types);  // stats.written
    void pump();
    void write_split();
    std::string next_seq();
    Millis next_backoff();

    // pile_session.cpp
    void arm();
    void tick();
    void logged_in();
    void periodic(Clock::time_point now);
    void advance(Clock::time_point now);
    void send_realtime(Gun& g, const nlohmann::json* request = nullptr);
    void send_bms(Gun& g);
    void send_transaction(Pending& p);
    bool begin_session(Gun& g, std::string serial, std::string trade_type, std::string card);
    void end_session(Gun& g, const std::string& reason);
    ChargeParams params() const noexcept;

    // pile_downlink.cpp
    void on_frame(const Frame& frame);
    void handle(const nlohmann::json& env);
    Gun* gun_of(const nlohmann::json& data);
    static const Handler* handler(const std::string& type);
    void on_login_reply(const nlohmann::json& env, const nlohmann::json& d);
    void on_heartbeat_reply(const nlohmann::json& env, const nlohmann::json& d);
    void on_billing_model_verify_reply(const nlohmann::json& env, const nlohmann::json& d);
    void on_billing_model(const nlohmann::json& env, const nlohmann::json& d);
    void on_read_realtime(const nlohmann::json& env, const nlohmann::json& d);
    void on_remote_start(const nlohmann::json& env, const nlohmann::json& d);
    void on_parallel_remote_start(const nlohmann::json& env, const nlohmann::json& d);
    void on_remote_stop(const nlohmann::json& env, const nlohmann::json& d);
    void on_card_auth_reply(const nlohmann::json& env, const nlohmann::json& d);
    void on_transaction_reply(const nlohmann::json& env, const nlohmann::json& d);
    void on_balance_update(const nlohmann::json& env, const nlohmann::json& d);
    void on_card_sync(const nlohmann::json& env, const nlohmann::json& d);
    void on_card_clear(const nlohmann::json& env, const nlohmann::json& d);
    void on_card_query(const nlohmann::json& env, const nlohmann::json& d);
    void on_work_params_set(const nlohmann::json& env, const nlohmann::json& d);
    void on_time_sync(const nlohmann::json& env, const nlohmann::json& d);
    void on_billing_model_set(const nlohmann::json& env, const nlohmann::json& d);
    void on_lock_control(const nlohmann::json& env, const nlohmann::json& d);
    void on_reboot(const nlohmann::json& env, const nlohmann::json& d);
    void on_firmware_update(const nlohmann::json& env, const nlohmann::json& d);

    void error(const std::string& what);  // an error event for this pile

    Sim& sim_;
    const std::uint64_t number_;
    const std::string id_;
    const std::optional<boost::asio::ip::address> source_;

    // link
    State state_ = State::waiting;
    boost::asio::ip::tcp::socket socket_;
    boost::asio::steady_timer timer_;        // the next deadline, whatever it is (see arm())
    boost::asio::steady_timer split_timer_;  // pauses between the pieces of a split frame
    std::uint64_t gen_ = 0;                  // connection generation: stale completions are ignored
    std::uint64_t tick_token_ = 0;
    bool armed_ = false;
    Clock::time_point armed_at_{};
    Clock::time_point deadline_{};  // waiting: reconnect at; connecting/login: give up at
    Millis backoff_;
    std::uint16_t seq_ = 0;
    std::array<std::uint8_t, 1024> rbuf_{};
    FrameReader reader_;
    std::deque<Chunk> out_;
    std::size_t out_bytes_ = 0;
    std::shared_ptr<std::vector<std::uint8_t>> wbuf_;  // the buffer being written
    std::size_t woff_ = 0;
    std::string wtype_;  // type of the split frame being written
    bool writing_ = false;

    // charger
    std::vector<Gun> guns_;
    std::deque<Pending> pending_;
    BillingModel model_;
    unsigned misses_ = 0;  // heartbeat rounds without a heartbeat_reply
    Clock::time_point heartbeat_due_{};
    Clock::time_point last_tick_{};
    bool enabled_ = true;
    unsigned max_power_ = 100;
    std::set<std::string> offline_cards_;
};

}  // namespace ykc::sim
