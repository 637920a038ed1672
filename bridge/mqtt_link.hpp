#pragma once
// The broker side: a Paho MQTT C++ async client with offline buffering and a persistence journal
// (journal_persistence.hpp).
//
// Threading rule (enforced here): every public method runs on the io_context thread, and every
// Paho callback (Paho's own threads) does nothing but post into the io_context. Nothing waits
// on a token on either side, except stop() after the io_context has finished.
//
// In-flight window: Debian's Paho C 1.3.12 nearly stalls under MQTT 5 when more QoS>=1
// messages are outstanding than the broker's receive-maximum (Mosquitto: 20). The link hands
// Paho at most `inflight_window` unacknowledged QoS>=1 messages while connected and queues the
// rest itself, in two lanes: control (availability, responses, transaction records, errors,
// anything a backend waits for) is handed to Paho before telemetry (periodic frames such as
// realtime), so a command's answer does not queue behind a burst of realtime data. While
// disconnected, messages go straight to Paho, which persists them (QoS>=1) so they survive a
// restart.
//
// Latest-value topics (a gun's retained state): while one is still queued, a newer payload
// replaces it instead of queuing another, so a backlog costs one message per topic, not one per
// update.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <map>
#include <string>
#include <unordered_map>

#include <boost/asio/io_context.hpp>

#include "config.hpp"
#include "journal_persistence.hpp"

namespace mqtt {
class async_client;
}

namespace ykc::bridge {

struct IncomingMessage {
    std::string topic, payload;
    std::string response_topic, correlation_data;  // MQTT 5, empty when absent
};

class MqttLink {
public:
    using Done = std::function<void(bool ok)>;
    struct Handlers {
        std::function<void()> connected;  // after every (re)connect, subscriptions already renewed
        std::function<void()> lost;
        std::function<void(IncomingMessage)> message;
    };

    MqttLink(boost::asio::io_context& io, const Config& config, Handlers handlers);
    ~MqttLink();

    void start();
    // `done` runs on the io_context once the broker acknowledged (QoS>=1) or once Paho took the
    // message (QoS 0); ok=false when it could not be published (e.g. the offline buffer is full).
    enum class Lane { control, telemetry };
    void publish(const std::string& topic, std::string payload, int qos, bool retain, Done done = {},
                 const std::string& correlation_data = {}, Lane lane = Lane::control);
    // A retained latest value (telemetry lane): replaces the payload of a publish to the same
    // topic that is still queued here.
    void publish_latest(const std::string& topic, std::string payload, int qos);
    // `ready` runs on the io_context after every SUBACK for this filter (the first and each one
    // after a reconnect; at once when it is already in place); ok=false when the broker refused
    // it. Nothing runs while disconnected.
    void subscribe(const std::string& filter, Done ready = {});
    void unsubscribe(const std::string& filter);
    // Publishes the last words and disconnects, waiting at most `timeout` for outstanding
    // publishes. Call after the io_context has stopped.
    void stop(std::chrono::milliseconds timeout);

    bool connected() const noexcept { return connected_; }
    // whether the broker acknowledged `filter` on the current connection
    bool subscribed(const std::string& filter) const;
    std::size_t queued() const noexcept { return control_.size() + telemetry_.size(); }
    std::uint64_t coalesced() const noexcept { return coalesced_; }
    std::size_t inflight() const noexcept { return inflight_; }
    std::uint64_t published() const noexcept { return published_; }
    std::uint64_t failed() const noexcept { return failed_; }

private:
    struct Pending {
        std::string topic, payload, correlation_data;
        int qos;
        bool retain;
        Done done;
        bool latest = false;  // the payload is in latest_[topic] until it is sent
    };
    class Listener;
    class ConnectListener;

    void pump();
    void send(Pending p);
    void completed(std::uint64_t id, bool ok, const std::string& why = {});
    void connect_failed(const std::string& why);
    void send_subscribe(const std::string& filter);
    void suback(std::uint64_t id, bool ok, const std::string& why);
    template <typename F>
    void request(const char* what, const std::string& filter, F&& f);

    boost::asio::io_context& io_;
    const Config& config_;
    Handlers handlers_;
    std::unique_ptr<JournalPersistence> persistence_;  // outlives client_
    std::unique_ptr<mqtt::async_client> client_;
    std::unique_ptr<Listener> listener_, sub_listener_;
    std::unique_ptr<ConnectListener> connect_listener_;
    std::string last_connect_failure_;
    bool window_open() const noexcept;
    std::deque<Pending> control_, telemetry_;
    std::unordered_map<std::string, std::string> latest_;  // topic -> newest payload of a queued latest value
    struct Waiting {
        std::string topic;
        Done done;
    };
    std::unordered_map<std::uint64_t, Waiting> waiting_;  // id -> completion, QoS>=1 handed to Paho
    struct Subscription {
        Done ready;
        bool active = false;  // acknowledged on the current connection
    };
    std::map<std::string, Subscription> subscriptions_;

    std::unordered_map<std::uint64_t, std::string> sub_requests_;  // id -> filter, SUBSCRIBE sent
    std::uint64_t next_id_ = 1;
    std::size_t inflight_ = 0;
    bool connected_ = false;
    std::uint64_t published_ = 0, failed_ = 0, coalesced_ = 0;
};

}  // namespace ykc::bridge
