#pragma once
// The daemon: charger sessions on one side, the MQTT link on the other. What each frame a charger
// sends does is in its uplink handler (uplink/), what waits for an answer in the pairing engine
// (pairing.hpp), the commands a backend sends are in commands.cpp, and which of several bridges
// holds a pile in availability.cpp (ownership.hpp). Threading rule: everything
// here runs on the single io_context thread; the MQTT link posts Paho's callbacks into it (see
// mqtt_link.hpp).
#include <array>
#include <deque>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "config.hpp"
#include "earliest_timer.hpp"
#include "homeassistant.hpp"
#include "ledger.hpp"
#include "mqtt_link.hpp"
#include "ownership.hpp"
#include "pairing.hpp"
#include "session.hpp"
#include "uplink/uplink.hpp"
#include "ykc/codec.hpp"

namespace ykc::bridge {

class Bridge final : public SessionOwner, private Platform {
public:
    Bridge(boost::asio::io_context& io, const Config& config, std::shared_ptr<const Catalogue> catalogue);
    ~Bridge() override;

    void start();
    // Stops accepting, marks every pile offline and closes the sessions (on the io thread).
    void shutdown();
    // After the io_context has stopped: flush publishes (bounded) and disconnect.
    void finish(std::chrono::milliseconds timeout);

    void on_frame(const SessionPtr& s, const Frame& frame) override;
    void on_frame_failed(const SessionPtr& s, const Frame& frame, const std::exception& e) override;
    void on_dropped(const SessionPtr& s, const DroppedBytes& dropped) override;
    void on_closed(const SessionPtr& s, const std::string& reason) override;

private:
    // Platform: what the uplink handlers use
    const Config& config() const override { return config_; }
    const Codec& codec() const override { return codec_; }
    boost::asio::io_context& io() override { return io_; }
    MqttLink& mqtt() override { return mqtt_; }
    Pairing& pairing() override { return pairing_; }
    Ledger& ledger() override { return ledger_; }
    void deadlines_changed() override;
    SessionPtr session_of(const std::string& pile) const override;
    SessionPtr session_by_id(std::uint64_t id) const override;
    void send(const SessionPtr& s, const std::string& type, nlohmann::json data, std::optional<Seq> seq = std::nullopt) override;
    void logged_in(const SessionPtr& s, const nlohmann::json& data, bool first) override;
    std::string topic(const std::string& pile, const std::string& suffix) const override;
    void publish_frame(const std::string& pile, const std::string& name, std::string text, int qos, MqttLink::Done done = {},
                       MqttLink::Lane lane = MqttLink::Lane::control) override;
    void publish_error(const std::string& pile, nlohmann::json error) override;
    void report(const SessionPtr& s, MakeError make) override;
    nlohmann::json frame_error(const SessionPtr& s, const Frame& frame, std::string why) const override;
    void listen_commands(const std::string& pile, const std::string& suffix, MqttLink::Done ready = {}) override;
    void unlisten_commands(const std::string& pile, const std::string& suffix) override;
    std::string now_iso() const override;

    // charger side
    void accept();
    void time_sync(const SessionPtr& s);
    Seq next_seq(Session& s);
    // a rate-limited error report (ErrorBudget); `make` builds it when it is published
    void report(ErrorBudget& budget, const std::string& pile, MakeError make);
    void expire_pending();  // pairing entries whose deadline has come

    // commands (commands.cpp)
    void on_message(IncomingMessage m);
    void command(const std::string& pile, const std::string& name, IncomingMessage& m);
    void raw_command(const SessionPtr& s, CommandCall& c);
    void match_command(const SessionPtr& s, Seq seq, const nlohmann::json& env);
    void command_expired(Pending& c);
    void respond(const std::string& pile, const std::string& command, nlohmann::json resp, const std::string& response_topic,
                 const std::string& correlation);

    // MQTT side
    void on_connected();
    void publish_availability(const SessionPtr& s, bool online);
    // several bridges (availability.cpp, ownership.hpp): what <base>/+/availability says, and
    // this bridge's claims left "online" by a crash
    void on_availability(const std::string& pile, const std::string& payload);
    void on_bridge_state(const std::string& payload);
    void publish_left_offline(const std::string& pile, std::string_view bridge, std::uint64_t claim, const std::string& reason);
    void publish_state();
    void arm_orphans();
    std::uint64_t new_claim(const std::string& pile);
    void publish_health();
    void housekeeping();
    void time_sync_tick();

    boost::asio::io_context& io_;
    const Config& config_;
    Codec codec_;
    boost::asio::ip::tcp::acceptor acceptor_;
    MqttLink mqtt_;
    boost::asio::steady_timer accept_backoff_, housekeeping_, time_sync_timer_;
    EarliestTimer pairing_timer_;                             // the pairing engine's next deadline
    std::uint64_t accept_failures_ = 0;                       // accepts failed in a row (EMFILE …)
    std::unordered_map<std::string, SessionPtr> piles_;       // logged-in piles
    std::unordered_map<std::uint64_t, SessionPtr> sessions_;  // every open socket
    Pairing pairing_;
    Ownership ownership_;
    EarliestTimer orphan_timer_;  // the next claim left online by a crash that is due
    // "offline" answers that wait Ownership::offline_wait while other bridges are alive (commands.cpp)
    struct Deferred {
        std::string pile, name, response_topic, correlation;
        nlohmann::json id;
        std::uint64_t arrived_us;
        Clock::time_point due;
    };
    std::deque<Deferred> deferred_;
    EarliestTimer deferred_timer_;
    void answer_deferred();
    Clock::time_point grace_until_{};  // the first connection to the broker + limits.heartbeat_timeout: claims left from before
    std::vector<std::unique_ptr<Uplink>> uplinks_;
    std::array<Uplink*, 256> uplink_of_{};  // frame code -> its handler (null: published as it is)
    std::uint64_t next_session_id_ = 1;
    std::minstd_rand seq_random_{std::random_device{}()};  // a session's first sequence number
    ErrorBudget command_errors_;                           // ykc/bridge/error for commands MQTT clients send to malformed piles
    unsigned serials_ = 0;                                 // the counter of the transaction serials the bridge makes up
    bool stopping_ = false;
    struct {
        std::uint64_t frames_in = 0, frames_out = 0, errors = 0, commands = 0, dropped_bytes = 0;
    } counters_;
    Ledger ledger_;                      // meters, last sessions, work parameters (ledger.hpp)
    std::unique_ptr<HomeAssistant> ha_;  // discovery, when homeassistant is on (declared last: it uses mqtt_)
};

}  // namespace ykc::bridge
