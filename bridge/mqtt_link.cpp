#include "mqtt_link.hpp"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <mutex>
#include <vector>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <mqtt/async_client.h>
#include <spdlog/spdlog.h>

#include "mqtt_options.hpp"

namespace ykc::bridge {

namespace asio = boost::asio;

namespace {
// What a failed token says: CONNACK / PUBACK / SUBACK reason, or Paho's own error.
std::string describe(int rc, int reason, int version) {
    // MQTT 5 CONNACK reason codes (Paho reports them as the return code or the reason code)
    if (version == 5 && (reason >= 0x80 || rc >= 0x80)) return mqtt::exception::reason_code_str(reason >= 0x80 ? reason : rc);
    // MQTT 3.1.1 CONNACK return codes
    static const char* const connack[] = {"",
                                          "unacceptable protocol version",
                                          "client identifier rejected",
                                          "server unavailable",
                                          "bad user name or password",
                                          "not authorized"};
    if (rc >= 1 && rc <= 5) return connack[rc];
    std::string s = mqtt::exception::error_str(rc);
    return s.empty() ? "error " + std::to_string(rc) + " (no connection, or the TLS handshake failed)" : s;
}
}  // namespace

// Paho calls listeners on its own threads: they only hand the outcome to the link's inbox (see
// deliver()). The token's user context carries the request id; `kind` says whether it answers a
// publish (completed()) or a subscription (suback()), with the reason when it failed.
class MqttLink::Listener : public mqtt::iaction_listener {
public:
    Listener(MqttLink& link, Report::Kind kind) : link_(link), kind_(kind) {}
    void on_success(const mqtt::token& tok) override { add(tok, 0, 0, {}); }
    void on_failure(const mqtt::token& tok) override {
        const int rc = tok.get_return_code() == 0 ? -1 : tok.get_return_code();  // failed, whatever Paho says
        add(tok, rc, tok.get_reason_code(), describe(tok.get_return_code(), tok.get_reason_code(), link_.config_.mqtt.version));
    }

private:
    void add(const mqtt::token& tok, int rc, int reason, std::string why) {
        link_.deliver({kind_, reinterpret_cast<std::uintptr_t>(tok.get_user_context()), rc, reason, std::move(why)});
    }
    MqttLink& link_;
    Report::Kind kind_;
};

// From Paho's threads: the reports are kept under a lock, in Paho's order, and run on the
// io_context in one posted handler per batch - one wake-up of its thread for all the
// acknowledgements that arrived while it was busy, instead of a post each. The connection's
// loss goes through the same queue, so no acknowledgement Paho reported after it runs before it.
void MqttLink::deliver(Report r) {
    bool first;
    {
        std::lock_guard lock(inbox_mu_);
        first = inbox_.empty();
        inbox_.push_back(std::move(r));
    }
    if (first) asio::post(io_, [this] { run_inbox(); });
}

void MqttLink::run_inbox() {
    std::vector<Report> batch;
    {
        std::lock_guard lock(inbox_mu_);
        batch.swap(inbox_);
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const Report& r = batch[i];
        try {
            switch (r.kind) {
                case Report::Kind::publish: completed(r.id, r.rc, r.reason, r.why); break;
                case Report::Kind::subscribe: suback(r.id, r.rc, r.reason, r.why); break;
                case Report::Kind::lost: connection_lost(r.why); break;
            }
        } catch (...) {
            // the rest of the batch goes back in front of what came since, and runs next
            bool first;
            {
                std::lock_guard lock(inbox_mu_);
                first = inbox_.empty();
                inbox_.insert(inbox_.begin(), std::make_move_iterator(batch.begin() + static_cast<std::ptrdiff_t>(i) + 1),
                              std::make_move_iterator(batch.end()));
            }
            if (first && i + 1 < batch.size()) asio::post(io_, [this] { run_inbox(); });
            throw;
        }
    }
}

// Why a connection attempt failed (the first one and every retry): posted as a log
// line, since nothing else would tell the operator about a wrong password or certificate.
class MqttLink::ConnectListener : public mqtt::iaction_listener {
public:
    explicit ConnectListener(MqttLink& link) : link_(link) {}
    // The broker's receive-maximum (MQTT 5): a window above it stalls Paho C 1.3.12. Posted
    // before the connected handler's post (Paho calls this first), so the window is right
    // before the first message of the connection goes out.
    void on_success(const mqtt::token& tok) override {
        std::size_t max = 65535;
        std::string server;  // which of mqtt.url and mqtt.failover_urls
        try {
            server = tok.get_connect_response().get_server_uri();
        } catch (const std::exception&) {}
        try {
            const auto response = tok.get_connect_response();
            const auto& props = response.get_properties();
            if (props.contains(mqtt::property::RECEIVE_MAXIMUM)) max = mqtt::get<std::uint16_t>(props, mqtt::property::RECEIVE_MAXIMUM);
        } catch (const std::exception&) {  // not a connect token, or no properties (MQTT 3.1.1)
        }
        asio::post(link_.io_, [&link = link_, max, server = std::move(server)] {
            // the broker of this connection: Paho names it as listed, or (one URL, no list) as host:port.
            // With a list, Paho C 1.3.12 names mqtt.url after a reconnect whichever it reached: only
            // a failover URL is sure.
            link.server_ = server.find("://") != std::string::npos ? server : link.config_.mqtt.url;
            for (const auto& u : link.config_.mqtt.failover_urls)
                if (!server.empty() && u.ends_with("//" + server)) link.server_ = u;
            if (link.server_ == link.config_.mqtt.url && !link.config_.mqtt.failover_urls.empty())
                link.server_ = "a broker of mqtt.url and mqtt.failover_urls (Paho does not say which after a reconnect)";
            if (max != link.receive_maximum_ && max < static_cast<std::size_t>(link.config_.mqtt.inflight_window))
                spdlog::info("mqtt: the broker's receive-maximum is {}: at most {} publishes in flight (below mqtt.inflight_window {})",
                             max, max, link.config_.mqtt.inflight_window);
            link.receive_maximum_ = max ? max : 65535;
        });
    }
    void on_failure(const mqtt::token& tok) override {
        std::string why = tok.get_return_code() == MQTTASYNC_FAILURE
                              ? std::string("no connection (the broker is down or unreachable, or the TLS handshake failed)")
                              : describe(tok.get_return_code(), tok.get_reason_code(), link_.config_.mqtt.version);
        asio::post(link_.io_, [&link = link_, why = std::move(why)] {
            link.connect_failed(why);
            link.reconnect_later();
        });
    }

    MqttLink& link_;
};

MqttLink::MqttLink(asio::io_context& io, const Config& config, Handlers handlers)
    : io_(io),
      config_(config),
      handlers_(std::move(handlers)),
      outbox_(open_journal(config), static_cast<std::size_t>(config.mqtt.max_buffered)),
      listener_(std::make_unique<Listener>(*this, Report::Kind::publish)),
      sub_listener_(std::make_unique<Listener>(*this, Report::Kind::subscribe)),
      reconnect_timer_(io),
      resubscribe_timer_(io, [this] {
          if (!connected_) return;  // every subscription is asked for on the next connect
          const auto now = std::chrono::steady_clock::now();
          for (const auto& [f, sub] : subscriptions_)
              if (!sub.active && sub.retry.count() > 0 && sub.due <= now) send_subscribe(f);
          arm_resubscribe();
      }) {
    if (const Journal* j = outbox_.journal()) {
        // what an earlier process left goes out first, in its order
        const auto r = outbox_.restore();
        spdlog::info("mqtt: outbox {}: {} message(s) kept from earlier runs{}", j->path().string(), r.kept,
                     r.unreadable ? " (" + std::to_string(r.unreadable) + " unreadable, dropped)" : "");
    }
    client_ = std::make_unique<mqtt::async_client>(config.mqtt.url, config.mqtt.client_id, create_options(config), nullptr);
    client_->set_connected_handler([this](const std::string&) {
        asio::post(io_, [this] {
            connected_ = true;
            backoff_ = std::chrono::seconds(0);
            last_connect_failure_.clear();
            spdlog::info("mqtt: connected to {} ({} message(s) waiting, at most {} in flight)", server_, queued(), window());
            for (const auto& [f, ready] : subscriptions_) send_subscribe(f);
            if (handlers_.connected) handlers_.connected();
            pump();
        });
    });
    client_->set_connection_lost_handler([this](const std::string& cause) { deliver({Report::Kind::lost, 0, 0, 0, cause}); });
    // MQTT 5: a DISCONNECT from the broker (e.g. after a publish it refuses, such as one to a
    // wildcard topic) is reported here, not as a lost connection - the link reconnects all the same
    client_->set_disconnected_handler([this](const mqtt::properties&, mqtt::ReasonCode reason) {
        deliver({Report::Kind::lost, 0, 0, 0, "the broker disconnected: " + mqtt::exception::reason_code_str(reason)});
    });
    client_->set_message_callback([this](mqtt::const_message_ptr msg) {
        IncomingMessage m{msg->get_topic(), msg->get_payload_str(), {}, {}, msg->is_retained()};
        const auto& props = msg->get_properties();
        if (props.contains(mqtt::property::RESPONSE_TOPIC))
            m.response_topic = mqtt::get<std::string>(props, mqtt::property::RESPONSE_TOPIC);
        if (props.contains(mqtt::property::CORRELATION_DATA))
            m.correlation_data = mqtt::get<std::string>(props, mqtt::property::CORRELATION_DATA);
        asio::post(io_, [this, m = std::move(m)]() mutable {
            if (handlers_.message) handlers_.message(std::move(m));
        });
    });
}

// The client first: its threads may still call the listeners until it is gone.
MqttLink::~MqttLink() { client_.reset(); }

void MqttLink::start() {
    connect_options_ = std::make_unique<mqtt::connect_options>(connect_options(config_));
    connect_listener_ = std::make_unique<ConnectListener>(*this);
    connect();
}

// Asynchronous: the connected handler takes over, or the listener's on_failure retries.
void MqttLink::connect() {
    if (stopping_) return;
    try {
        client_->connect(*connect_options_, nullptr, *connect_listener_);
    } catch (const mqtt::exception& e) {
        connect_failed(e.what());
        reconnect_later();
    }
}

void MqttLink::reconnect_later() {
    if (stopping_) return;
    const auto min = std::chrono::seconds(config_.mqtt.reconnect_min), max = std::chrono::seconds(config_.mqtt.reconnect_max);
    backoff_ = backoff_.count() == 0 ? min : std::min(max, backoff_ * 2);
    reconnect_timer_.expires_after(backoff_);
    reconnect_pending_ = true;
    reconnect_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        reconnect_pending_ = false;
        connect();
    });
}

void MqttLink::connect_failed(const std::string& why) {
    // one line per distinct failure, not one per retry
    if (why == last_connect_failure_) return spdlog::debug("mqtt: cannot connect to {}: {}", config_.mqtt.url, why);
    last_connect_failure_ = why;
    spdlog::error("mqtt: cannot connect to {}: {} (retrying every {}..{} s)", config_.mqtt.url, why, config_.mqtt.reconnect_min,
                  config_.mqtt.reconnect_max);
}

std::size_t MqttLink::window() const noexcept { return std::min(static_cast<std::size_t>(config_.mqtt.inflight_window), receive_maximum_); }

bool MqttLink::window_open() const noexcept { return connected_ && outbox_.in_flight() < window(); }

// Nothing queued ahead and room in the window: a new message may go straight to Paho.
bool MqttLink::can_send_now() const noexcept { return outbox_.empty() && window_open(); }

void MqttLink::refuse(Pending& p, const std::string& why) {
    ++failed_;
    if (failed_ == 1 || failed_ % 1000 == 0) spdlog::error("mqtt: publish to {} refused: {} ({} so far)", p.topic, why, failed_);
    if (p.done) asio::post(io_, [done = std::move(p.done)] { done(false); });
}

void MqttLink::fail(Pending& p) {
    ++failed_;
    forget(p.key);
    if (p.done) asio::post(io_, [done = std::move(p.done)] { done(false); });
}

void MqttLink::publish(const std::string& topic, std::string payload, int qos, bool retain, Done done, const std::string& correlation_data,
                       Lane lane) {
    Pending p{topic, std::move(payload), correlation_data, qos, retain, std::move(done), false, lane, {}, 0};
    if (qos == 0) {
        if (!connected_) return refuse(p, "not connected (QoS 0 is not kept)");
        send(std::move(p));
        return;
    }
    if (const std::string why = outbox_.admit(p); !why.empty()) return refuse(p, why);
    if (can_send_now()) send(std::move(p));
    else outbox_.push_back(std::move(p));
}

void MqttLink::publish_latest(const std::string& topic, std::string payload, int qos) {
    if (outbox_.offer_latest(topic, std::move(payload))) return;  // the queued one goes out with it
    Pending p{topic, {}, {}, qos, true, {}, true, Lane::telemetry, {}, 0};
    if (qos > 0 && !can_send_now()) return outbox_.push_back(std::move(p));
    if (connected_) send(std::move(p));
    else outbox_.drop_latest(topic);  // QoS 0 while disconnected: the next value replaces it
}

bool MqttLink::send(Pending p) {
    const auto payload = outbox_.payload(p);
    if (!payload) {
        spdlog::error("mqtt: publish to {} lost its outbox record {}: dropped", p.topic, p.key);
        fail(p);
        return true;
    }
    auto msg = mqtt::message::create(p.topic, payload->data(), payload->size(), p.qos, p.retain);
    if (!p.correlation_data.empty() && config_.mqtt.version == 5) {
        mqtt::properties props;
        props.add({mqtt::property::CORRELATION_DATA, p.correlation_data});
        msg->set_properties(props);
    }
    try {
        if (p.qos == 0) {
            client_->publish(msg);
            ++published_;
            if (p.done) asio::post(io_, [done = std::move(p.done)] { done(true); });
            return true;
        }
        const std::uint64_t id = next_id_++;
        client_->publish(msg, reinterpret_cast<void*>(static_cast<std::uintptr_t>(id)), *listener_);
        outbox_.sent(id, std::move(p));
        return true;
    } catch (const mqtt::exception& e) {
        if (p.qos > 0 && e.get_return_code() == MQTTASYNC_DISCONNECTED) {
            // the connection has just gone (the connection-lost handler is on its way): later
            put_back(std::move(p), false);
            return false;
        }
        // one line a second at most: an overload (e.g. QoS 0 faster than the socket) fails many
        const auto now = std::chrono::steady_clock::now();
        if (now - last_failure_log_ >= std::chrono::seconds(1)) {
            spdlog::error("mqtt: publish to {} failed: {}{}", p.topic, e.what(),
                          failures_unlogged_ ? " (and " + std::to_string(failures_unlogged_) + " more since the last report)" : "");
            last_failure_log_ = now;
            failures_unlogged_ = 0;
        } else {
            ++failures_unlogged_;
        }
        fail(p);
        return true;
    }
}

// Out of the journal: the remove is written with the next put, or once the handlers that are
// ready now have run (one write for a batch of acknowledgements instead of one each).
void MqttLink::forget(const std::string& key) {
    if (outbox_.forget(key)) schedule_flush();
}

void MqttLink::schedule_flush() {
    if (flush_posted_) return;
    flush_posted_ = true;
    asio::post(io_, [this] {
        flush_posted_ = false;
        flush_journal();
    });
}

void MqttLink::flush_journal() {
    try {
        outbox_.flush();
    } catch (const std::exception& e) {
        spdlog::error("mqtt: {} (acknowledged messages stay in the outbox and are sent again after a restart)", e.what());
    }
}

// The broker's answer to a QoS>=1 publish, or Paho giving up on it. A refusal by the broker
// (an MQTT 5 reason code, e.g. not authorized) is final; anything else is the connection going
// away, and the message goes out again on the next one.
void MqttLink::completed(std::uint64_t id, int rc, int reason, const std::string& why) {
    auto settled = outbox_.settle(id);
    if (!settled) return;  // requeued when the connection dropped
    Pending p = std::move(*settled);
    const bool ok = rc == 0, refused = !ok && config_.mqtt.version == 5 && reason >= 0x80;
    if (!ok && !refused) {
        spdlog::debug("mqtt: publish to {} not acknowledged ({}): sent again on the next connection", p.topic, why);
        return put_back(std::move(p), true);
    }
    if (refused) spdlog::error("mqtt: the broker refused the publish to {}: {}", p.topic, why);
    forget(p.key);
    ok ? ++published_ : ++failed_;
    if (p.done) p.done(ok);
    pump();
    if (outbox_.peak() >= trim_after_backlog && queued() == 0 && outbox_.in_flight() == 0) release_heap();
}

// A backlog (a login wave after a restart, a broker outage) has been sent: its messages were
// allocated among the sessions' long-lived objects, and glibc keeps the freed pages in the middle
// of its heap until malloc_trim gives them back (~15 MB after 10,000 logins, bench/RESULTS.md).
void MqttLink::release_heap() {
    const std::size_t peak = outbox_.peak();
    outbox_.reset_peak();
#ifdef __GLIBC__
    const auto t0 = std::chrono::steady_clock::now();
    ::malloc_trim(0);
    spdlog::debug("mqtt: a backlog of {} publishes sent; free heap returned to the system in {} ms", peak,
                  std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count());
#else
    (void)peak;
#endif
}

void MqttLink::connection_lost(const std::string& cause) {
    if (!connected_ && reconnect_pending_) return;  // reported twice (a DISCONNECT, then the socket): one reconnect
    connected_ = false;
    for (auto& [f, sub] : subscriptions_) sub.active = false;
    requeue_inflight();
    spdlog::warn("mqtt: connection lost{}{} ({} message(s) waiting)", cause.empty() ? "" : ": ", cause, queued());
    if (handlers_.lost) handlers_.lost();
    reconnect_later();
}

// The connection dropped: whatever Paho had not had acknowledged goes back to the front of its
// lane, in the order it was sent (Paho keeps nothing; clean start).
void MqttLink::requeue_inflight() {
    for (auto& p : outbox_.requeue_in_flight()) given_up(p);
}

// Back to the front of its lane. A message that was in flight each time the last
// Outbox::max_attempts connections ended is given up (as failed): it may be what ends them.
void MqttLink::put_back(Pending p, bool was_sent) {
    if (auto up = outbox_.put_back(std::move(p), was_sent)) given_up(*up);
}

void MqttLink::given_up(Pending& p) {
    spdlog::error("mqtt: publish to {} given up: {} connections ended while it was in flight", p.topic, p.attempts);
    fail(p);
}

void MqttLink::pump() {
    while (window_open() && !outbox_.empty()) {
        if (!send(std::move(*outbox_.pop()))) return;
    }
}

// Paho throws when the connection has just gone (before our connection-lost handler ran):
// the subscriptions are renewed on the next connect anyway.
template <typename F>
void MqttLink::request(const char* what, const std::string& filter, F&& f) {
    try {
        f();
    } catch (const mqtt::exception& e) {
        spdlog::warn("mqtt: {} {}: {} (renewed on reconnect)", what, filter, e.what());
    }
}

void MqttLink::subscribe(const std::string& filter, Done ready, int qos) {
    auto [it, added] = subscriptions_.try_emplace(filter);
    it->second.ready = std::move(ready);
    it->second.qos = qos;
    if (added) {
        if (connected_) send_subscribe(filter);
    } else if (it->second.active && it->second.ready) {
        asio::post(io_, [this, filter] {
            auto again = subscriptions_.find(filter);
            if (again != subscriptions_.end() && again->second.active && again->second.ready) again->second.ready(true);
        });
    }
}

bool MqttLink::subscribed(const std::string& filter) const {
    auto it = subscriptions_.find(filter);
    return it != subscriptions_.end() && it->second.active;
}

// Only on a live connection: Paho keeps nothing while disconnected (it runs without persistence,
// see the constructor), and every subscription is renewed after each connect anyway. (Paho's file
// store of earlier versions could hold a queued SUBSCRIBE: warn_about_paho_store names it.)
void MqttLink::send_subscribe(const std::string& filter) {
    if (!client_->is_connected()) return;
    const auto sub = subscriptions_.find(filter);
    const int qos = sub == subscriptions_.end() ? 1 : sub->second.qos;
    if (sub != subscriptions_.end()) sub->second.due = std::chrono::steady_clock::time_point::max();  // asked: its SUBACK decides
    const std::uint64_t id = next_id_++;
    sub_requests_.emplace(id, filter);
    request("subscribe", filter,
            [&] { client_->subscribe(filter, qos, reinterpret_cast<void*>(static_cast<std::uintptr_t>(id)), *sub_listener_); });
}

void MqttLink::suback(std::uint64_t id, int rc, int /*reason*/, const std::string& why) {
    auto req = sub_requests_.find(id);
    if (req == sub_requests_.end()) return;
    const std::string filter = std::move(req->second);
    sub_requests_.erase(req);
    auto it = subscriptions_.find(filter);
    if (it == subscriptions_.end()) return;  // unsubscribed meanwhile
    const bool ok = rc == 0;
    if (!ok && !connected_) return;  // the connection went first: renewed on the next one
    Subscription& sub = it->second;
    sub.active = ok;
    if (ok) {
        sub.retry = std::chrono::seconds(0);
    } else {
        sub.retry = std::clamp(sub.retry * 2, std::chrono::seconds(5), std::chrono::seconds(60));
        sub.due = std::chrono::steady_clock::now() + sub.retry;
        spdlog::error("mqtt: the broker refused the subscription to {}: {} (asked again in {} s)", filter, why, sub.retry.count());
        arm_resubscribe();
    }
    if (sub.ready) sub.ready(ok);
}

void MqttLink::arm_resubscribe() {
    auto next = std::chrono::steady_clock::time_point::max();
    for (const auto& [f, sub] : subscriptions_)
        if (!sub.active && sub.retry.count() > 0) next = std::min(next, sub.due);
    resubscribe_timer_.arm(next);
}

void MqttLink::unsubscribe(const std::string& filter) {
    if (subscriptions_.erase(filter) == 0) return;
    if (connected_ && client_->is_connected()) request("unsubscribe", filter, [&] { client_->unsubscribe(filter); });
}

void MqttLink::stop(std::chrono::milliseconds timeout) {
    // The io_context has stopped: run it here for the completions of what is still queued or in
    // flight (each leaves the journal when acknowledged), bounded by `timeout`. What is left
    // stays in the journal and goes out after the next start.
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    stopping_ = true;  // no more connection attempts
    reconnect_timer_.cancel();
    resubscribe_timer_.cancel();
    io_.restart();
    {
        auto busy = asio::make_work_guard(io_);  // run_for waits for Paho's posts instead of returning at once
        while (connected_ && (queued() > 0 || outbox_.in_flight() > 0) && std::chrono::steady_clock::now() < deadline) {
            pump();
            io_.run_for(std::chrono::milliseconds(5));
        }
    }
    try {
        if (client_->is_connected()) {
            auto last = client_->publish(
                mqtt::message::create(config_.mqtt.base_topic + "/bridge/state", bridge_state(config_, "offline").dump(), 1, true));
            last->wait_for(std::max(std::chrono::milliseconds(100),
                                    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())));
            client_->disconnect(0)->wait_for(timeout);
        }
    } catch (const mqtt::exception& e) {
        spdlog::warn("mqtt: disconnect: {}", e.what());
    }
    flush_journal();
    if (queued() + outbox_.in_flight() > 0)
        spdlog::warn("mqtt: stopped with {} message(s) not acknowledged{}", queued() + outbox_.in_flight(),
                     outbox_.journal() ? ": they go out after the next start" : " (lost: no persistence)");
}

}  // namespace ykc::bridge
