#pragma once
// The broker side: a Paho MQTT C++ async client, and the link's own outbox.
//
// Threading rule (enforced here): every public method runs on the io_context thread, and every
// Paho callback (Paho's own threads) does nothing but hand its outcome to the io_context (a post;
// outcomes of requests and the connection's loss are queued under a lock, in Paho's order, and
// run in one post per batch). Nothing waits on a token on either side, except stop() after the
// io_context has finished.
//
// Outbox (outbox.hpp, the order and the records, without Paho): every QoS>=1 publish goes into a journal (journal.hpp, mqtt.persistence_dir) before
// publish() returns (what the bridge answers a charger for next must survive kill -9) and
// leaves it only when the broker has acknowledged it (removes are written in batches; while it
// waits, its payload is kept once, in the journal's record, not also in the queue); the next
// process sends again what an earlier one left there (kill -9, broker down). Until then it waits
// in memory in one of two lanes: control (availability, responses, transaction records, errors,
// anything a backend waits for) is handed to Paho before telemetry (periodic frames such as
// realtime), so a command's answer does not queue behind a burst of realtime data. Latest-value topics (a gun's
// retained state) are coalesced: while one is still queued, a newer payload replaces it.
//
// Paho gets neither persistence nor a session (clean start): Paho C 1.3.12 re-sends in-flight
// messages after a reconnect with their topic gone, which the broker answers by closing the
// connection, for ever (docs/RELIABILITY.md). When the connection drops, what was handed to Paho
// and not acknowledged goes back to the front of its lane and is sent again on the next
// connection (at least once: the broker may see a message twice).
//
// In-flight window: Debian's Paho C 1.3.12 nearly stalls under MQTT 5 when more QoS>=1
// messages are outstanding than the broker's receive-maximum (Mosquitto: 20). The link hands
// Paho at most `inflight_window` unacknowledged QoS>=1 messages, or the receive-maximum of the
// broker's CONNACK when that is lower (read on every connection: the link reconnects itself).
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "config.hpp"
#include "earliest_timer.hpp"
#include "outbox.hpp"

namespace mqtt {
class async_client;
class connect_options;
}  // namespace mqtt

namespace ykc::bridge {

struct IncomingMessage {
    std::string topic, payload;
    std::string response_topic, correlation_data;  // MQTT 5, empty when absent
    bool retained = false;                         // kept by the broker, not sent just now
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
    using Lane = Outbox::Lane;
    // `done` runs on the io_context once the broker acknowledged (QoS>=1) or once Paho took the
    // message (QoS 0); ok=false when it could not be published: the outbox is full
    // (mqtt.max_buffered), the journal cannot be written, or the broker refused it. While the
    // broker is away QoS>=1 messages wait (also across a restart); QoS 0 ones are dropped.
    void publish(const std::string& topic, std::string payload, int qos, bool retain, Done done = {},
                 const std::string& correlation_data = {}, Lane lane = Lane::control);
    // A retained latest value (telemetry lane, not journaled: the next value replaces it):
    // replaces the payload of a publish to the same topic that is still queued here.
    void publish_latest(const std::string& topic, std::string payload, int qos);
    // `ready` runs on the io_context after every SUBACK for this filter (the first and each one
    // after a reconnect; at once when it is already in place); ok=false when the broker refused
    // it. Nothing runs while disconnected. `qos` 0 for what may come in bulk and need not be
    // acknowledged (Paho C 1.3.12 under MQTT 5 stalls its publishes when many inbound QoS 1
    // messages are being acknowledged at once).
    void subscribe(const std::string& filter, Done ready = {}, int qos = 1);
    void unsubscribe(const std::string& filter);
    // Publishes the last words and disconnects, waiting at most `timeout` for outstanding
    // publishes. Call after the io_context has stopped.
    void stop(std::chrono::milliseconds timeout);

    bool connected() const noexcept { return connected_; }
    // whether the broker acknowledged `filter` on the current connection
    bool subscribed(const std::string& filter) const;
    std::size_t queued() const noexcept { return outbox_.queued(); }
    std::uint64_t coalesced() const noexcept { return outbox_.coalesced(); }
    std::size_t inflight() const noexcept { return outbox_.in_flight(); }
    // QoS>=1 publishes outstanding at once: mqtt.inflight_window, or the broker's
    // receive-maximum from CONNACK when that is lower (MQTT 5)
    std::size_t window() const noexcept;
    std::size_t journaled() const noexcept { return outbox_.journaled(); }
    std::uint64_t published() const noexcept { return published_; }
    std::uint64_t failed() const noexcept { return failed_; }

private:
    using Pending = Outbox::Message;
    class Listener;
    class ConnectListener;
    // what Paho's threads report: a publish's or a subscription's outcome, or the connection lost
    struct Report {
        enum class Kind : std::uint8_t { publish, subscribe, lost } kind;
        std::uint64_t id;
        int rc, reason;
        std::string why;  // the failure, or the cause of the loss
    };
    void deliver(Report r);  // from any thread
    void run_inbox();
    void connection_lost(const std::string& cause);

    void pump();
    // Hands one message to Paho; false when Paho says it is disconnected (the message is back
    // at the front of its lane).
    bool send(Pending p);
    void completed(std::uint64_t id, int rc, int reason, const std::string& why);
    void suback(std::uint64_t id, int rc, int reason, const std::string& why);
    void refuse(Pending& p, const std::string& why);
    void fail(Pending& p);                // counted as failed, out of the journal, done(false)
    void forget(const std::string& key);  // out of the journal
    void schedule_flush();
    void flush_journal();
    void requeue_inflight();
    void release_heap();
    static constexpr std::size_t trim_after_backlog = 4096;  // queued publishes, at the peak
    void put_back(Pending p, bool was_sent);
    void given_up(Pending& p);
    void connect_failed(const std::string& why);
    void connect();
    void reconnect_later();
    void send_subscribe(const std::string& filter);
    template <typename F>
    void request(const char* what, const std::string& filter, F&& f);
    bool window_open() const noexcept;
    bool can_send_now() const noexcept;

    boost::asio::io_context& io_;
    const Config& config_;
    Handlers handlers_;
    Outbox outbox_;  // what waits and what is in flight; its journal on disk (none with persistence_dir none)
    std::unique_ptr<mqtt::async_client> client_;
    std::unique_ptr<Listener> listener_, sub_listener_;
    std::mutex inbox_mu_;
    std::vector<Report> inbox_;  // guarded by inbox_mu_; a run_inbox() is posted while it is not empty
    std::unique_ptr<ConnectListener> connect_listener_;
    std::string last_connect_failure_;
    std::string server_;                   // the broker of the connection (mqtt.url or a failover URL)
    std::size_t receive_maximum_ = 65535;  // the broker's, from the last CONNACK (MQTT 5; 65535 when absent)
    // The link reconnects itself (not Paho's automatic reconnect, whose retries never report
    // the CONNACK's properties): back-off from reconnect_min doubling to reconnect_max.
    std::unique_ptr<mqtt::connect_options> connect_options_;
    boost::asio::steady_timer reconnect_timer_;
    bool reconnect_pending_ = false;  // reconnect_timer_ is armed
    std::chrono::seconds backoff_{0};
    bool stopping_ = false;
    bool flush_posted_ = false;  // a journal flush is posted
    struct Subscription {
        Done ready;
        bool active = false;  // acknowledged on the current connection
        int qos = 1;
        std::chrono::seconds retry{0};                // refused: the wait before asking again (5 s doubling to 60 s)
        std::chrono::steady_clock::time_point due{};  // refused: when it is asked again
    };
    // A refused subscription is asked for again (a cluster broker refuses while it elects a
    // leader, NATS while JetStream recovers); one timer for all of them.
    void arm_resubscribe();
    EarliestTimer resubscribe_timer_;  // the next refused subscription to ask for again
    std::map<std::string, Subscription> subscriptions_;

    std::unordered_map<std::uint64_t, std::string> sub_requests_;  // id -> filter, SUBSCRIBE sent
    std::uint64_t next_id_ = 1;
    bool connected_ = false;
    std::uint64_t published_ = 0, failed_ = 0;
    std::chrono::steady_clock::time_point last_failure_log_{};
    std::uint64_t failures_unlogged_ = 0;
};

}  // namespace ykc::bridge
