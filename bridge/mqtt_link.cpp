#include "mqtt_link.hpp"

#include <fstream>
#include <thread>

#include <boost/asio/post.hpp>
#include <mqtt/async_client.h>
#include <spdlog/spdlog.h>

namespace ykc::bridge {

namespace asio = boost::asio;

namespace {
// What a failed token says: CONNACK / PUBACK / SUBACK reason, or Paho's own error.
std::string describe(int rc, int reason, int version) {
    // MQTT 5 CONNACK reason codes (Paho reports them as the return code or the reason code)
    if (version == 5 && (reason >= 0x80 || rc >= 0x80)) return mqtt::exception::reason_code_str(reason >= 0x80 ? reason : rc);
    // MQTT 3.1.1 CONNACK return codes
    static const char* const connack[] = {"", "unacceptable protocol version", "client identifier rejected", "server unavailable",
                                          "bad user name or password", "not authorized"};
    if (rc >= 1 && rc <= 5) return connack[rc];
    std::string s = mqtt::exception::error_str(rc);
    return s.empty() ? "error " + std::to_string(rc) + " (no connection, or the TLS handshake failed)" : s;
}
}  // namespace

// Paho calls listeners on its own threads: they only post the outcome into the io_context.
// The token's user context carries the request id; `outcome` is completed() for publishes and
// suback() for subscriptions, with the reason when it failed.
class MqttLink::Listener : public mqtt::iaction_listener {
public:
    using Outcome = void (MqttLink::*)(std::uint64_t, bool, const std::string&);
    Listener(MqttLink& link, Outcome outcome) : link_(link), outcome_(outcome) {}
    void on_success(const mqtt::token& tok) override { post(tok, true, {}); }
    void on_failure(const mqtt::token& tok) override {
        post(tok, false, describe(tok.get_return_code(), tok.get_reason_code(), link_.config_.mqtt.version));
    }

private:
    void post(const mqtt::token& tok, bool ok, std::string why) {
        const auto id = reinterpret_cast<std::uintptr_t>(tok.get_user_context());
        asio::post(link_.io_, [&link = link_, outcome = outcome_, id, ok, why = std::move(why)] { (link.*outcome)(id, ok, why); });
    }
    MqttLink& link_;
    Outcome outcome_;
};

// Why a connection attempt failed (the first one and every automatic retry): posted as a log
// line, since nothing else would tell the operator about a wrong password or certificate.
class MqttLink::ConnectListener : public mqtt::iaction_listener {
public:
    explicit ConnectListener(MqttLink& link) : link_(link) {}
    void on_success(const mqtt::token&) override {}
    void on_failure(const mqtt::token& tok) override {
        std::string why = describe(tok.get_return_code(), tok.get_reason_code(), link_.config_.mqtt.version);
        asio::post(link_.io_, [&link = link_, why = std::move(why)] { link.connect_failed(why); });
    }

    MqttLink& link_;
};

namespace {

// The first line of a secret's file (secrets are never logged).
std::string read_secret(const char* key, const std::string& path) {
    std::ifstream in(path);
    if (!in) throw ConfigError(std::string(key) + ": cannot read " + path);
    std::string s;
    std::getline(in, s);
    return s;
}

}  // namespace

MqttLink::MqttLink(asio::io_context& io, const Config& config, Handlers handlers)
    : io_(io), config_(config), handlers_(std::move(handlers)), listener_(std::make_unique<Listener>(*this, &MqttLink::completed)),
      sub_listener_(std::make_unique<Listener>(*this, &MqttLink::suback)) {
    auto create = mqtt::create_options_builder()
                      .send_while_disconnected(true, true)
                      .max_buffered_messages(config.mqtt.max_buffered)
                      .mqtt_version(config.mqtt.version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1)
                      .restore_messages(true)
                      .persist_qos0(false)  // heartbeats: the next one replaces a lost one
                      .finalize();
    if (config.persistent()) persistence_ = std::make_unique<JournalPersistence>(config.mqtt.persistence_dir);
    else spdlog::warn("mqtt: no persistence (mqtt.persistence_dir is \"{}\"): what is buffered while the broker is down is lost on a restart",
                      config.mqtt.persistence_dir);
    client_ = std::make_unique<mqtt::async_client>(config.mqtt.url, config.mqtt.client_id, create, persistence_.get());
    client_->set_connected_handler([this](const std::string&) {
        asio::post(io_, [this] {
            connected_ = true;
            last_connect_failure_.clear();
            spdlog::info("mqtt: connected to {}", config_.mqtt.url);
            for (const auto& [f, ready] : subscriptions_) send_subscribe(f);
            if (handlers_.connected) handlers_.connected();
            pump();
        });
    });
    client_->set_connection_lost_handler([this](const std::string& cause) {
        asio::post(io_, [this, cause] {
            connected_ = false;
            for (auto& [f, sub] : subscriptions_) sub.active = false;
            spdlog::warn("mqtt: connection lost{}{}", cause.empty() ? "" : ": ", cause);
            if (handlers_.lost) handlers_.lost();
        });
    });
    client_->set_message_callback([this](mqtt::const_message_ptr msg) {
        IncomingMessage m{msg->get_topic(), msg->get_payload_str(), {}, {}};
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

// The client first: its threads may still call the listeners and the store until it is gone.
MqttLink::~MqttLink() { client_.reset(); }

void MqttLink::start() {
    const std::string state_topic = config_.mqtt.base_topic + "/bridge/state";
    mqtt::connect_options_builder builder;
    builder.mqtt_version(config_.mqtt.version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1);
    builder.keep_alive_interval(std::chrono::seconds(config_.mqtt.keepalive))
        .automatic_reconnect(std::chrono::seconds(config_.mqtt.reconnect_min), std::chrono::seconds(config_.mqtt.reconnect_max))
        .will(mqtt::message(state_topic, std::string(R"({"state":"offline"})"), 1, true));
    if (config_.mqtt.version == 5) {
        builder.clean_start(false).properties({{mqtt::property::SESSION_EXPIRY_INTERVAL, 86400}});
    } else {
        builder.clean_session(false);
    }
    if (!config_.mqtt.username.empty()) builder.user_name(config_.mqtt.username);
    std::string password = config_.mqtt.password;
    if (!config_.mqtt.password_file.empty()) password = read_secret("mqtt.password_file", config_.mqtt.password_file);
    if (!password.empty()) builder.password(password);
    if (config_.mqtt.tls.enabled || config_.mqtt.url.rfind("ssl://", 0) == 0 || config_.mqtt.url.rfind("mqtts://", 0) == 0) {
        auto ssl = mqtt::ssl_options_builder();
        if (!config_.mqtt.tls.ca_file.empty()) ssl.trust_store(config_.mqtt.tls.ca_file);
        if (!config_.mqtt.tls.cert_file.empty()) ssl.key_store(config_.mqtt.tls.cert_file);
        if (!config_.mqtt.tls.key_file.empty()) ssl.private_key(config_.mqtt.tls.key_file);
        std::string key_password = config_.mqtt.tls.key_password;
        if (!config_.mqtt.tls.key_password_file.empty())
            key_password = read_secret("mqtt.tls.key_password_file", config_.mqtt.tls.key_password_file);
        if (!key_password.empty()) ssl.private_keypassword(key_password);
        ssl.enable_server_cert_auth(config_.mqtt.tls.verify).verify(config_.mqtt.tls.verify);
        builder.ssl(ssl.finalize());
    }
    connect_listener_ = std::make_unique<ConnectListener>(*this);
    client_->connect(builder.finalize(), nullptr, *connect_listener_);  // asynchronous; the connected handler takes over
}

void MqttLink::connect_failed(const std::string& why) {
    // one line per distinct failure, not one per retry
    if (why == last_connect_failure_) return spdlog::debug("mqtt: cannot connect to {}: {}", config_.mqtt.url, why);
    last_connect_failure_ = why;
    spdlog::error("mqtt: cannot connect to {}: {} (retrying every {}..{} s)", config_.mqtt.url, why, config_.mqtt.reconnect_min, config_.mqtt.reconnect_max);
}

bool MqttLink::window_open() const noexcept {
    return connected_ && inflight_ < static_cast<std::size_t>(config_.mqtt.inflight_window);
}

void MqttLink::publish(const std::string& topic, std::string payload, int qos, bool retain, Done done,
                       const std::string& correlation_data, Lane lane) {
    Pending p{topic, std::move(payload), correlation_data, qos, retain, std::move(done)};
    if (qos == 0 || !connected_ || (control_.empty() && telemetry_.empty() && window_open())) return send(std::move(p));
    (lane == Lane::control ? control_ : telemetry_).push_back(std::move(p));
}

void MqttLink::publish_latest(const std::string& topic, std::string payload, int qos) {
    if (auto it = latest_.find(topic); it != latest_.end()) {
        it->second = std::move(payload);  // the queued one goes out with the newest value
        ++coalesced_;
        return;
    }
    if (qos == 0 || (control_.empty() && telemetry_.empty() && window_open())) return send({topic, std::move(payload), {}, qos, true, {}});
    // queued, also while disconnected: a newer value will replace it before the broker is back
    latest_.emplace(topic, std::move(payload));
    telemetry_.push_back({topic, {}, {}, qos, true, {}, true});
}

void MqttLink::send(Pending p) {
    if (p.latest) {
        auto it = latest_.find(p.topic);
        p.payload = std::move(it->second);
        latest_.erase(it);
    }
    auto msg = mqtt::message::create(p.topic, p.payload, p.qos, p.retain);
    if (!p.correlation_data.empty() && config_.mqtt.version == 5) {
        mqtt::properties props;
        props.add({mqtt::property::CORRELATION_DATA, p.correlation_data});
        msg->set_properties(props);
    }
    const std::uint64_t id = next_id_++;
    try {
        if (p.qos == 0) {
            client_->publish(msg);
            ++published_;
            if (p.done) asio::post(io_, [done = std::move(p.done)] { done(true); });
            return;
        }
        waiting_.emplace(id, Waiting{p.topic, std::move(p.done)});
        ++inflight_;
        client_->publish(msg, reinterpret_cast<void*>(static_cast<std::uintptr_t>(id)), *listener_);
    } catch (const mqtt::exception& e) {
        if (waiting_.count(id)) return completed(id, false, e.what());
        spdlog::error("mqtt: publish to {} failed: {}", p.topic, e.what());  // QoS 0
        ++failed_;
        if (p.done) asio::post(io_, [done = std::move(p.done)] { done(false); });
    }
}

void MqttLink::completed(std::uint64_t id, bool ok, const std::string& why) {
    auto it = waiting_.find(id);
    if (it == waiting_.end()) return;
    Done done = std::move(it->second.done);
    if (!ok) spdlog::error("mqtt: publish to {} failed: {}", it->second.topic, why);
    waiting_.erase(it);
    --inflight_;
    ok ? ++published_ : ++failed_;
    if (done) done(ok);
    pump();
}

void MqttLink::pump() {
    while (window_open() && !(control_.empty() && telemetry_.empty())) {
        auto& lane = control_.empty() ? telemetry_ : control_;
        Pending p = std::move(lane.front());
        lane.pop_front();
        send(std::move(p));
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

void MqttLink::subscribe(const std::string& filter, Done ready) {
    auto [it, added] = subscriptions_.try_emplace(filter);
    it->second.ready = std::move(ready);
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

// Only on a live connection: Paho would otherwise queue the SUBSCRIBE in its persistence, where
// it outlives this process (see JournalPersistence::drop_restored_subscriptions). Subscriptions are renewed
// after every connect anyway.
void MqttLink::send_subscribe(const std::string& filter) {
    if (!client_->is_connected()) return;
    const std::uint64_t id = next_id_++;
    sub_requests_.emplace(id, filter);
    request("subscribe", filter, [&] { client_->subscribe(filter, 1, reinterpret_cast<void*>(static_cast<std::uintptr_t>(id)), *sub_listener_); });
}

void MqttLink::suback(std::uint64_t id, bool ok, const std::string& why) {
    auto req = sub_requests_.find(id);
    if (req == sub_requests_.end()) return;
    const std::string filter = std::move(req->second);
    sub_requests_.erase(req);
    auto it = subscriptions_.find(filter);
    if (it == subscriptions_.end()) return;  // unsubscribed meanwhile
    if (!ok) spdlog::error("mqtt: the broker refused the subscription to {}: {}", filter, why);
    it->second.active = ok;
    if (it->second.ready) it->second.ready(ok);
}

void MqttLink::unsubscribe(const std::string& filter) {
    if (subscriptions_.erase(filter) == 0) return;
    if (connected_ && client_->is_connected()) request("unsubscribe", filter, [&] { client_->unsubscribe(filter); });
}

void MqttLink::stop(std::chrono::milliseconds timeout) {
    // The io_context has stopped: hand Paho what is still queued, then disconnect with a
    // bounded wait so outstanding publishes can complete.
    for (auto* lane : {&control_, &telemetry_})
        for (; !lane->empty(); lane->pop_front()) send(std::move(lane->front()));
    try {
        client_->publish(mqtt::message::create(config_.mqtt.base_topic + "/bridge/state", std::string(R"({"state":"offline"})"), 1, true));
        // Wait for the broker's acknowledgements ourselves: Paho's own disconnect timeout only
        // notices completed deliveries on its next 1 s tick. What is still unacknowledged at the
        // deadline stays in the file persistence and goes out after the next start.
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (client_->is_connected() && !client_->get_pending_delivery_tokens().empty() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (client_->is_connected()) client_->disconnect(0)->wait_for(timeout);
    } catch (const mqtt::exception& e) {
        spdlog::warn("mqtt: disconnect: {}", e.what());
    }
}

}  // namespace ykc::bridge
