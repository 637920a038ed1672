#pragma once
// The daemon's configuration: config.yaml, then YKC_* environment variables, then the command
// line. Every option has a default that runs against a broker on localhost:1883. Unknown keys
// and wrong types are errors naming the key and the line.
#include <cctype>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ykc::bridge {

struct BillingModel {
    std::string model_id = "0100";
    // yuan per kWh, as decimal text so nothing is rounded through binary floating point
    std::string sharp_energy_price = "1.2", sharp_service_price = "0.6";
    std::string peak_energy_price = "1.0", peak_service_price = "0.6";
    std::string flat_energy_price = "0.7", flat_service_price = "0.6";
    std::string valley_energy_price = "0.4", valley_service_price = "0.6";
    int loss_ratio = 0;
    // sharp|peak|flat|valley per half hour from 00:00: valley at night, peaks late morning and evening
    std::vector<std::string> periods = {"valley", "valley", "valley", "valley", "valley", "valley", "valley", "valley", "valley", "valley",
                                        "valley", "valley", "valley", "valley", "valley", "valley", "flat",   "flat",   "peak",   "peak",
                                        "peak",   "peak",   "sharp",  "sharp",  "flat",   "flat",   "flat",   "flat",   "flat",   "flat",
                                        "flat",   "flat",   "flat",   "flat",   "peak",   "peak",   "sharp",  "sharp",  "sharp",  "sharp",
                                        "peak",   "peak",   "peak",   "peak",   "flat",   "flat",   "valley", "valley"};

    // The billing model fields of 0x0A / 0x58 (without pile).
    nlohmann::json to_data() const;
};

struct Config {
    std::string source = "(defaults)";  // where it came from, for messages

    struct {
        std::string address = "0.0.0.0";
        int port = 8768;
    } listen;

    struct {
        std::string url = "tcp://127.0.0.1:1883";
        std::vector<std::string> failover_urls;  // tried in turn after url (the other nodes of a cluster)
        std::string client_id = "ykc-bridge";
        std::string username, password, password_file;
        int version = 5;  // 5 or 3 (3.1.1)
        int keepalive = 30;
        std::string base_topic = "ykc";
        int qos = 1;
        std::string persistence_dir = "data";  // "" or "none": nothing kept on disk
        int max_buffered = 100000;
        std::string commands = "all";               // all: one <base>/+/cmd/# subscription | connected: per live pile
        int commands_qos = 1;                       // QoS of the command subscriptions
        int inflight_window = 16;                   // QoS>=1 publishes outstanding at once (below the broker's receive-maximum)
        int reconnect_min = 1, reconnect_max = 30;  // seconds
        struct {
            bool enabled = false;
            std::string ca_file, cert_file, key_file, key_password, key_password_file;
            bool verify = true;
        } tls;
    } mqtt;

    struct {
        bool heartbeats = true;
        int heartbeat_qos = 0;
        std::string gun_state = "on_change";   // on_change | every_frame
        int gun_state_min_interval_ms = 1000;  // 0: no limit
        int health_interval = 30;              // s
    } publish;

    struct {
        std::string utc_offset = "+08:00";
        std::string catalogue_overlay;
    } protocol;

    struct {
        int max_connections = 10000;
        int pre_login_timeout = 30;     // s
        int pre_login_max_frames = 5;   // frames before login, then the socket closes
        int heartbeat_timeout = 35;     // s without any frame
        int output_queue = 64;          // frames waiting for the socket
        int command_timeout = 30;       // s to wait for a charger's reply
        int max_command_bytes = 65536;  // MQTT payload of one command
        int error_reports_per_second = 5;
        int max_commands_in_flight = 16;  // per pile
    } limits;

    struct {
        std::string login = "accept";  // accept | allowlist | forward
        std::vector<std::string> allowlist;
        int login_timeout = 10;                     // forward: s to wait for cmd/login_reply
        std::string transaction = "after_publish";  // after_publish | forward
        std::string transaction_check = "strict";   // strict | off (transaction_check.hpp)
        int card_auth_timeout = 10;                 // s to wait for cmd/card_auth_reply
        bool time_sync = true;
        int time_sync_interval = 86400;  // s
        std::string balance = "100.00";  // yuan, remote_start default
    } policies;

    BillingModel billing_model;
    std::map<std::string, BillingModel> billing_model_overrides;  // per pile

    struct {
        std::string level = "info";
    } logging;

    // Home Assistant MQTT discovery (bridge/homeassistant.hpp)
    struct {
        std::optional<bool> enabled;   // unset ("auto"): on when discovery_prefix is set
        std::string discovery_prefix;  // empty: Home Assistant's default, "homeassistant" (discovery stays off while enabled is auto)
        int forget_after = 7 * 86400;  // s unseen before a pile's configs are removed, 0 = never
        bool on() const { return enabled.value_or(!discovery_prefix.empty()); }
        std::string prefix() const { return discovery_prefix.empty() ? "homeassistant" : discovery_prefix; }
    } homeassistant;

    // Whether anything is kept on disk (mqtt.persistence_dir is neither "" nor "none").
    bool persistent() const { return !mqtt.persistence_dir.empty() && mqtt.persistence_dir != "none"; }
    // mqtt.client_id as a file name (the outbox journal, Home Assistant's state): anything but
    // letters, digits, '-', '_' and '.' becomes '_'.
    std::string client_file_stem() const {
        std::string name = mqtt.client_id;
        for (char& ch : name)
            if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.') ch = '_';
        return name;
    }

    const BillingModel& billing_for(const std::string& pile) const {
        auto it = billing_model_overrides.find(pile);
        return it == billing_model_overrides.end() ? billing_model : it->second;
    }
};

class ConfigError : public std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Reads a config file (throws ConfigError naming file, line and key).
Config load_config_file(const std::string& path);
Config load_config_text(const std::string& text, const std::string& source);
// Applies YKC_* environment variables (YKC_MQTT_URL, YKC_MQTT_PASSWORD, YKC_LISTEN_PORT, …: the
// key path upper-cased with dots as underscores). A bad value is an error; the names of YKC_*
// variables that match no setting are returned (the daemon warns about them).
std::vector<std::string> apply_environment(Config& config, char** envp);
// Applies one "key.path=value" override (command line).
void apply_override(Config& config, const std::string& key, const std::string& value, const std::string& source);

}  // namespace ykc::bridge
