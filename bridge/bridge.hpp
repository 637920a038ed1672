#pragma once
// The daemon: charger sessions on one side, the MQTT link on the other, the platform policies in
// between. Threading rule: everything here runs on the single io_context thread; the MQTT link
// posts Paho's callbacks into it (see mqtt_link.hpp).
#include <chrono>
#include <cstdint>
#include <map>
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
#include "homeassistant.hpp"
#include "mqtt_link.hpp"
#include "session.hpp"
#include "ykc/codec.hpp"

namespace ykc::bridge {

class Bridge : public SessionOwner {
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
    struct Command;  // a downlink command waiting for the charger's reply
    struct Waiting;  // a charger request waiting for the backend (login, card auth, transaction)

    // charger side
    void accept();
    nlohmann::json frame_error(const SessionPtr& s, const Frame& frame, std::string why) const;
    void handle_login(const SessionPtr& s, const Frame& frame, const nlohmann::json& env, std::string text);
    void publish_record(const SessionPtr& s, const Frame& frame, const Message& m, const nlohmann::json& env, std::string text);
    void refuse_record(const SessionPtr& s, const Frame& frame, const Message& m, const std::string& serial, std::string text,
                       const std::vector<std::string>& why);
    void unreadable_record(const SessionPtr& s, const Frame& frame, const Message& m, const std::string& why);
    void wait_for_confirm(const SessionPtr& s, const Message& m, const std::string& serial, Seq seq);
    void finish_login(const SessionPtr& s, const Frame& frame, const nlohmann::json& env, bool accepted, const std::string& why);
    void auto_reply(const SessionPtr& s, const Frame& frame, const nlohmann::json& env);
    bool match_command(const SessionPtr& s, Seq seq, const nlohmann::json& env);
    void expect_unpaired(Session& s, Seq seq, const std::string& reply_type);
    bool take_unpaired(Session& s, Seq seq, std::uint8_t code);
    bool awaits_reply(const std::string& pile, const std::string& type) const;
    void send(const SessionPtr& s, const std::string& type, nlohmann::json data, std::optional<Seq> seq = std::nullopt);
    void time_sync(const SessionPtr& s);

    // MQTT side
    void on_message(IncomingMessage m);
    void on_connected();
    void listen_commands(const std::string& pile, const std::string& suffix, MqttLink::Done ready = {});
    void unlisten_commands(const std::string& pile, const std::string& suffix);
    void command(const std::string& pile, const std::string& name, IncomingMessage& m);
    void respond(const std::string& pile, const std::string& command, nlohmann::json resp, const std::string& response_topic,
                 const std::string& correlation);
    void publish_frame(const std::string& pile, const std::string& type, std::string text, int qos, MqttLink::Done done = {},
                       MqttLink::Lane lane = MqttLink::Lane::control);
    void publish_error(const std::string& pile, nlohmann::json error);
    // An error a charger caused, rate-limited per session; `make` builds its JSON when it is published.
    template <typename Make>
    void report(const SessionPtr& s, Make&& make);
    template <typename Make>
    void report(ErrorBudget& budget, const std::string& pile, Make&& make);
    void publish_availability(const SessionPtr& s, bool online);
    void publish_health();
    // `state`: the frame's data object (text), `n`: its gun
    void publish_gun_state(Session& s, const std::string& n, std::string state);
    void flush_held_states();
    void housekeeping();
    void time_sync_tick();

    std::string topic(const std::string& pile, const std::string& suffix) const;
    std::string now_iso() const;

    boost::asio::io_context& io_;
    const Config& config_;
    Codec codec_;
    boost::asio::ip::tcp::acceptor acceptor_;
    MqttLink mqtt_;
    boost::asio::steady_timer accept_backoff_, housekeeping_, time_sync_timer_;
    std::uint64_t accept_failures_ = 0;  // accepts failed in a row (EMFILE …)
    struct HeldState {
        std::string payload, pile, gun;
    };
    std::unordered_map<std::string, HeldState> held_states_;  // gun state topic -> newest state waiting for state_flush_
    boost::asio::steady_timer state_flush_;
    bool flush_armed_ = false;
    std::unordered_map<std::string, SessionPtr> piles_;              // logged-in piles
    std::unordered_map<std::uint64_t, SessionPtr> sessions_;         // every open socket
    std::multimap<std::string, std::shared_ptr<Command>> commands_;  // pile -> waiting commands
    std::multimap<std::string, std::shared_ptr<Waiting>> waiting_;   // pile -> waiting for the backend
    std::unordered_map<std::uint64_t, std::chrono::steady_clock::time_point> last_time_sync_;
    std::uint64_t next_session_id_ = 1;
    std::minstd_rand seq_random_{std::random_device{}()};  // a session's first sequence number
    ErrorBudget command_errors_;                           // ykc/bridge/error for commands MQTT clients send to malformed piles
    unsigned serials_ = 0;                                 // the counter of the transaction serials the bridge makes up
    bool stopping_ = false;
    struct {
        std::uint64_t frames_in = 0, frames_out = 0, errors = 0, commands = 0, dropped_bytes = 0, states_unchanged = 0;
    } counters_;
    std::unique_ptr<HomeAssistant> ha_;  // discovery, when homeassistant is on (declared last: it uses mqtt_)
};

}  // namespace ykc::bridge
