// The Paho options of the MQTT link, from the configuration, and its journal (mqtt_options.hpp).
#include "mqtt_options.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <spdlog/spdlog.h>

namespace ykc::bridge {

namespace {

// The first line of a secret's file (secrets are never logged).
std::string read_secret(const char* key, const std::string& path) {
    std::ifstream in(path);
    if (!in) throw ConfigError(std::string(key) + ": cannot read " + path);
    std::string s;
    std::getline(in, s);
    return s;
}

// The folders Paho's own file store (used before the journal) left: <client id>-<host>-<port>.
void warn_about_paho_store(const std::string& dir, const std::string& client_id) {
    std::error_code ec;
    for (const auto& d : std::filesystem::directory_iterator(dir, ec)) {
        if (!d.is_directory() || d.path().filename().string().rfind(client_id + "-", 0) != 0) continue;
        std::size_t n = 0;
        for (const auto& f : std::filesystem::directory_iterator(d.path(), ec)) n += f.path().extension() == ".msg";
        if (n)
            spdlog::warn(
                "mqtt: {} holds {} message(s) of Paho's file store, which this version does not use or send: "
                "subscriptions there are not restored; remove the folder once it is not needed",
                d.path().string(), n);
    }
}

}  // namespace

// The outbox's journal in mqtt.persistence_dir, or none.
std::unique_ptr<Journal> open_journal(const Config& config) {
    if (!config.persistent()) {
        spdlog::warn("mqtt: no persistence (mqtt.persistence_dir is \"{}\"): what waits for the broker is lost on a restart",
                     config.mqtt.persistence_dir);
        return nullptr;
    }
    warn_about_paho_store(config.mqtt.persistence_dir, config.mqtt.client_id);
    return std::make_unique<Journal>(std::filesystem::path(config.mqtt.persistence_dir) / (config.client_file_stem() + ".journal"));
}

mqtt::create_options create_options(const Config& config) {
    // Paho keeps nothing itself: no persistence, no session, nothing sent while disconnected
    // Paho refuses a publish (MQTTASYNC_MAX_BUFFERED_MESSAGES) when this many wait in its own
    // queue for the socket, connected or not: QoS>=1 stays within the window, but QoS 0 has no
    // window and a burst would be refused at Paho's default of 100
    return mqtt::create_options_builder()
        .send_while_disconnected(false)
        .max_buffered_messages(std::max(10000, config.mqtt.inflight_window + 1000))
        .mqtt_version(config.mqtt.version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1)
        .finalize();
}

nlohmann::json bridge_state(const Config& config, const char* state) { return {{"state", state}, {"bridge", config.mqtt.client_id}}; }

mqtt::connect_options connect_options(const Config& config) {
    const std::string state_topic = config.mqtt.base_topic + "/bridge/state";
    mqtt::connect_options_builder builder;
    builder.mqtt_version(config.mqtt.version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1);
    builder.keep_alive_interval(std::chrono::seconds(config.mqtt.keepalive))
        .will(mqtt::message(state_topic, bridge_state(config, "offline").dump(), 1, true));
    // no session: the link re-sends what was not acknowledged itself, and a command published
    // while the bridge was away is not executed minutes later (its sender got no answer)
    if (config.mqtt.version == 5) builder.clean_start(true);
    else builder.clean_session(true);
    if (!config.mqtt.username.empty()) builder.user_name(config.mqtt.username);
    std::string password = config.mqtt.password;
    if (!config.mqtt.password_file.empty()) password = read_secret("mqtt.password_file", config.mqtt.password_file);
    if (!password.empty()) builder.password(password);
    // the failover brokers after mqtt.url: Paho tries them in turn on every connect
    std::vector<std::string> urls = {config.mqtt.url};
    urls.insert(urls.end(), config.mqtt.failover_urls.begin(), config.mqtt.failover_urls.end());
    if (urls.size() > 1) builder.servers(std::make_shared<mqtt::string_collection>(urls));
    const bool ssl_url = std::any_of(urls.begin(), urls.end(),
                                     [](const std::string& u) { return u.rfind("ssl://", 0) == 0 || u.rfind("mqtts://", 0) == 0; });
    if (config.mqtt.tls.enabled || ssl_url) {
        auto ssl = mqtt::ssl_options_builder();
        if (!config.mqtt.tls.ca_file.empty()) ssl.trust_store(config.mqtt.tls.ca_file);
        if (!config.mqtt.tls.cert_file.empty()) ssl.key_store(config.mqtt.tls.cert_file);
        if (!config.mqtt.tls.key_file.empty()) ssl.private_key(config.mqtt.tls.key_file);
        std::string key_password = config.mqtt.tls.key_password;
        if (!config.mqtt.tls.key_password_file.empty())
            key_password = read_secret("mqtt.tls.key_password_file", config.mqtt.tls.key_password_file);
        if (!key_password.empty()) ssl.private_keypassword(key_password);
        ssl.enable_server_cert_auth(config.mqtt.tls.verify).verify(config.mqtt.tls.verify);
        if (!config.mqtt.tls.verify)
            spdlog::warn(
                "mqtt: the broker's certificate is not verified (mqtt.tls.verify false): the link is encrypted but anyone in "
                "between can pose as the broker");
        builder.ssl(ssl.finalize());
    }
    return builder.finalize();
}

}  // namespace ykc::bridge
