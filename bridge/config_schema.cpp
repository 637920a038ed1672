#include "config_schema.hpp"

#include <cctype>
#include <map>

#include <nlohmann/json.hpp>

#include "ykc/cp56.hpp"

namespace ykc::bridge {

void fail(const Where& w, const std::string& key, const std::string& what) { throw ConfigError(w.text() + ": " + key + ": " + what); }

std::string env_name(const std::string& key) {
    std::string name = "YKC_";
    for (char ch : key) name += ch == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return name;
}

namespace {

using Values = std::vector<std::string>;

int to_int(const Where& w, const std::string& key, const std::string& v, int lo, int hi) {
    std::size_t used = 0;
    long n = 0;
    try {
        n = std::stol(v, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != v.size()) fail(w, key, "expected a whole number, got \"" + v + "\"");
    if (n < lo || n > hi) fail(w, key, "out of range " + std::to_string(lo) + " … " + std::to_string(hi) + ": " + v);
    return static_cast<int>(n);
}

bool to_bool(const Where& w, const std::string& key, const std::string& v) {
    if (v == "true" || v == "yes" || v == "on" || v == "1") return true;
    if (v == "false" || v == "no" || v == "off" || v == "0") return false;
    fail(w, key, "expected true or false, got \"" + v + "\"");
}

std::string join(const Values& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
}

const std::string& one_of(const Where& w, const std::string& key, const std::string& v, const Values& allowed) {
    for (const auto& a : allowed)
        if (v == a) return a;
    fail(w, key, "expected one of " + join(allowed) + ", got \"" + v + "\"");
}

// Text as a YAML scalar: quoted when YAML could read it as something else (a number, a time).
std::string yaml_text(const std::string& s) {
    if (!s.empty() && std::isalpha(static_cast<unsigned char>(s[0])) && s.find(": ") == std::string::npos &&
        s.find(" #") == std::string::npos)
        return s;
    return nlohmann::json(s).dump();
}

std::string yaml_list(const Values& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + yaml_text(x);
    return "[" + s + "]";
}

using Check = void (*)(const Where&, const std::string& key, const std::string& value);

// The table's entries. `ref` is a generic lambda giving the member (const or not), see YKC_AT.
template <typename T, typename Ref>
Setting<T> text(std::string key, Ref ref, std::string doc, std::string allowed = "", Check check = nullptr) {
    return {std::move(key),
            "text",
            std::move(allowed),
            std::move(doc),
            false,
            [ref](const T& c) { return yaml_text(ref(c)); },
            [ref, check](T& c, const Where& w, const std::string& k, const Values& v) {
                if (check) check(w, k, v.at(0));
                ref(c) = v.at(0);
            }};
}

template <typename T, typename Ref>
Setting<T> integer(std::string key, int lo, int hi, Ref ref, std::string doc) {
    return {std::move(key),
            "integer",
            std::to_string(lo) + " … " + std::to_string(hi),
            std::move(doc),
            false,
            [ref](const T& c) { return std::to_string(ref(c)); },
            [ref, lo, hi](T& c, const Where& w, const std::string& k, const Values& v) { ref(c) = to_int(w, k, v.at(0), lo, hi); }};
}

template <typename T, typename Ref>
Setting<T> boolean(std::string key, Ref ref, std::string doc) {
    return {std::move(key),
            "boolean",
            "true, false",
            std::move(doc),
            false,
            [ref](const T& c) { return std::string(ref(c) ? "true" : "false"); },
            [ref](T& c, const Where& w, const std::string& k, const Values& v) { ref(c) = to_bool(w, k, v.at(0)); }};
}

template <typename T, typename Ref>
Setting<T> choice(std::string key, Values values, Ref ref, std::string doc) {
    const std::string allowed = join(values);
    return {std::move(key),
            "one of",
            allowed,
            std::move(doc),
            false,
            [ref](const T& c) { return yaml_text(ref(c)); },
            [ref, values](T& c, const Where& w, const std::string& k, const Values& v) { ref(c) = one_of(w, k, v.at(0), values); }};
}

#define YKC_AT(member) \
    [](auto& c) -> auto& { return c.member; }

template <typename Ref>
Setting<BillingModel> price(const std::string& tariff, const std::string& what, Ref ref) {
    return text<BillingModel>(
        tariff + "_" + what + "_price", ref,
        (what == "energy" ? "energy" : "service fee") + std::string(" price of the ") + tariff + " tariff, yuan per kWh",
        "decimal text, up to 5 decimals");
}

void check_url(const Where& w, const std::string& k, const std::string& v) {
    for (const char* scheme : {"tcp://", "mqtt://", "ssl://", "mqtts://", "ws://", "wss://"})
        if (v.rfind(scheme, 0) == 0) return;
    fail(w, k, "expected a URL like tcp://host:1883 or ssl://host:8883, got \"" + v + "\"");
}

void check_utc_offset(const Where& w, const std::string& k, const std::string& v) {
    if (!parse_utc_offset(v)) fail(w, k, "expected an offset like +08:00, got \"" + v + "\"");
}

void check_not_empty(const Where& w, const std::string& k, const std::string& v) {
    if (v.empty()) fail(w, k, "must not be empty");
}

void check_topic_prefix(const Where& w, const std::string& k, const std::string& v) {
    if (v.empty() || v.find_first_of("#+") != std::string::npos || v.back() == '/')
        fail(w, k, "must be a topic prefix without wildcards or a trailing /");
}

Setting<Config> mqtt_version() {
    return {"mqtt.version",
            "one of",
            "5, 3.1.1 (or 3)",
            "MQTT protocol version",
            false,
            [](const Config& c) { return std::string(c.mqtt.version == 5 ? "5" : "3.1.1"); },
            [](Config& c, const Where& w, const std::string& k, const Values& v) {
                c.mqtt.version = one_of(w, k, v.at(0), {"5", "3", "3.1.1"}) == "5" ? 5 : 3;
            }};
}

Setting<Config> allowlist() {
    return {"policies.allowlist",
            "list",
            "14-digit pile numbers",
            "pile numbers for login: allowlist",
            true,
            [](const Config& c) { return yaml_list(c.policies.allowlist); },
            [](Config& c, const Where& w, const std::string& k, const Values& v) {
                for (const auto& p : v)
                    if (!is_pile_number(p)) fail(w, k, "a pile number is 14 digits, got \"" + p + "\"");
                c.policies.allowlist = v;
            }};
}

Setting<Config> failover_urls() {
    return {"mqtt.failover_urls",
            "list",
            "URLs like mqtt.url",
            "other brokers (the other nodes of a cluster), tried in turn after mqtt.url whenever the bridge connects; what waits in "
            "the outbox goes to whichever it reaches",
            true,
            [](const Config& c) { return yaml_list(c.mqtt.failover_urls); },
            [](Config& c, const Where& w, const std::string& k, const Values& v) {
                for (const auto& u : v) check_url(w, k, u);
                c.mqtt.failover_urls = v;
            }};
}

Setting<Config> homeassistant_enabled() {
    return {"homeassistant.enabled",
            "one of",
            "true, false, auto",
            "MQTT discovery: true (under discovery_prefix) | false | auto (the default: on when discovery_prefix is set)",
            false,
            [](const Config& c) {
                return std::string(!c.homeassistant.enabled ? "auto" : *c.homeassistant.enabled ? "true" : "false");
            },
            [](Config& c, const Where& w, const std::string& k, const Values& v) {
                const std::string& s = v.at(0);
                if (s == "auto") return c.homeassistant.enabled.reset();
                for (const char* b : {"true", "false", "yes", "no", "on", "off", "1", "0"})
                    if (s == b) return void(c.homeassistant.enabled = to_bool(w, k, s));
                fail(w, k, "expected true, false or auto, got \"" + s + "\"");
            }};
}

void check_discovery_prefix(const Where& w, const std::string& k, const std::string& v) {
    if (!v.empty() &&
        (v.find_first_of("+#") != std::string::npos || v.front() == '/' || v.back() == '/' || v.find("//") != std::string::npos))
        fail(w, k, "expected a topic prefix without wildcards or empty levels, like homeassistant, got \"" + v + "\"");
}

Setting<BillingModel> periods() {
    static const Values tariffs = {"sharp", "peak", "flat", "valley"};
    return {"periods",
            "list",
            "48 of " + join(tariffs),
            "tariff of each half hour from 00:00: sharp | peak | flat | valley (48 entries)",
            true,
            [](const BillingModel& b) { return yaml_list(b.periods); },
            [](BillingModel& b, const Where& w, const std::string& k, const Values& v) {
                if (v.size() != 48) fail(w, k, "expected 48 half-hour periods, got " + std::to_string(v.size()));
                for (const auto& p : v) one_of(w, k, p, tariffs);
                b.periods = v;
            }};
}

// billing_model.<key>: a billing model setting applied to the default model.
Setting<Config> default_model(const Setting<BillingModel>& b) {
    return {"billing_model." + b.key,
            b.type,
            b.allowed,
            b.doc,
            b.list,
            [show = b.show](const Config& c) { return show(c.billing_model); },
            [set = b.set](Config& c, const Where& w, const std::string& k, const Values& v) { set(c.billing_model, w, k, v); }};
}

std::vector<Setting<Config>> make_config_settings() {
    using C = Config;
    std::vector<Setting<C>> all = {
        text<C>("listen.address", YKC_AT(listen.address), "where chargers connect", "an IPv4 or IPv6 address"),
        integer<C>("listen.port", 1, 65535, YKC_AT(listen.port), "the spec's platform port"),
        text<C>("mqtt.url", YKC_AT(mqtt.url), "tcp://host:port, or ssl://host:8883 for TLS",
                "tcp://, mqtt://, ssl://, mqtts://, ws://, wss://", check_url),
        failover_urls(),
        text<C>(
            "mqtt.client_id", YKC_AT(mqtt.client_id),
            "unique per bridge instance: it names the persistence folder, and this bridge in each pile's availability (\"bridge\"; several "
            "bridges: README)",
            "not empty", check_not_empty),
        text<C>("mqtt.username", YKC_AT(mqtt.username), "user name at the broker, empty for none"),
        text<C>("mqtt.password", YKC_AT(mqtt.password), "better: password_file or YKC_MQTT_PASSWORD (never logged)"),
        text<C>("mqtt.password_file", YKC_AT(mqtt.password_file), "the first line of this file is the password"),
        mqtt_version(),
        integer<C>("mqtt.keepalive", 5, 3600, YKC_AT(mqtt.keepalive), "seconds"),
        text<C>("mqtt.base_topic", YKC_AT(mqtt.base_topic), "topics are <base_topic>/<pile>/...", "no wildcards, no trailing /",
                check_topic_prefix),
        integer<C>("mqtt.qos", 0, 2, YKC_AT(mqtt.qos), "QoS of uplink frames, states and responses"),
        text<C>("mqtt.persistence_dir", YKC_AT(mqtt.persistence_dir),
                "the outbox: every QoS>=1 publish waits in a journal here (<client_id>.journal) until the broker acknowledged it, so "
                "what the broker has not got yet is delivered after a broker outage, a restart or kill -9; none: in memory only"),
        integer<C>("mqtt.max_buffered", 100, 10000000, YKC_AT(mqtt.max_buffered),
                   "QoS>=1 publishes waiting for the broker (queued or in flight); beyond it a publish fails (a transaction record is then "
                   "not confirmed)"),
        choice<C>(
            "mqtt.commands", {"all", "connected"}, YKC_AT(mqtt.commands),
            "all: subscribe <base>/+/cmd/#, so a command for a pile that is not connected is answered status \"offline\" (with several "
            "bridges, only the holder executes, and one bridge answers for a pile nobody holds); connected: subscribe only "
            "<base>/<pile>/cmd/# of piles "
            "connected here (a command for an absent pile gets no answer)"),
        integer<C>("mqtt.commands_qos", 0, 1, YKC_AT(mqtt.commands_qos),
                   "QoS of the command subscriptions: 1, the broker resends a command the bridge has not acknowledged on its "
                   "connection; 0 on a NATS cluster, where each QoS 1 subscription is a JetStream consumer that cannot be made while a "
                   "node is down (README: Running several bridges). Either way a command published while the bridge is away is "
                   "not kept for it (clean session)"),
        integer<C>("mqtt.inflight_window", 1, 65535, YKC_AT(mqtt.inflight_window),
                   "unacknowledged QoS>=1 publishes at once; under MQTT 5 the broker's receive-maximum (from its CONNACK, read on every "
                   "connection) lowers it, since Paho C 1.3.12 stalls above it; under 3.1.1 keep it below the broker's limit "
                   "(Mosquitto: max_inflight_messages 20)"),
        integer<C>("mqtt.reconnect_min", 1, 3600, YKC_AT(mqtt.reconnect_min),
                   "seconds, the first reconnect back-off; it doubles after each failed attempt"),
        integer<C>("mqtt.reconnect_max", 1, 3600, YKC_AT(mqtt.reconnect_max), "seconds, the longest back-off (not below reconnect_min)"),
        boolean<C>("mqtt.tls.enabled", YKC_AT(mqtt.tls.enabled), "also implied by an ssl:// URL"),
        text<C>("mqtt.tls.ca_file", YKC_AT(mqtt.tls.ca_file), "CA that signed the broker's certificate"),
        text<C>("mqtt.tls.cert_file", YKC_AT(mqtt.tls.cert_file), "client certificate (for certificate authentication)"),
        text<C>("mqtt.tls.key_file", YKC_AT(mqtt.tls.key_file), "private key of cert_file"),
        text<C>("mqtt.tls.key_password", YKC_AT(mqtt.tls.key_password),
                "passphrase of key_file; better: key_password_file or YKC_MQTT_TLS_KEY_PASSWORD (never logged)"),
        text<C>("mqtt.tls.key_password_file", YKC_AT(mqtt.tls.key_password_file), "the first line of this file is the passphrase"),
        boolean<C>("mqtt.tls.verify", YKC_AT(mqtt.tls.verify),
                   "verify the broker's certificate and host name (false: still encrypted, but unauthenticated; logged as a warning)"),
        boolean<C>("publish.heartbeats", YKC_AT(publish.heartbeats), "publish 0x03 heartbeats to <base>/<pile>/heartbeat"),
        integer<C>("publish.heartbeat_qos", 0, 2, YKC_AT(publish.heartbeat_qos), "QoS of published heartbeats"),
        integer<C>("publish.gun_state_min_interval_ms", 0, 60000, YKC_AT(publish.gun_state_min_interval_ms),
                   "a gun's state is published at most about once per this many ms: values that come sooner wait and go out "
                   "(the newest only) within it; chargers send 0x13 every few seconds at most, so this only thins out bursts; "
                   "0: every change at once"),
        integer<C>("publish.health_interval", 1, 3600, YKC_AT(publish.health_interval),
                   "seconds between two <base>/bridge/health reports (retained, QoS 0)"),
        choice<C>("publish.gun_state", {"on_change", "every_frame"}, YKC_AT(publish.gun_state),
                  "<base>/<pile>/gun/<n>/state: on_change publishes when a 0x13 carries values that differ from the last one "
                  "published for the gun in this connection (an idle gun's repeated frames publish nothing; ts is the time of the "
                  "change); every_frame publishes every 0x13 (ts: the frame's arrival)"),
        text<C>("protocol.utc_offset", YKC_AT(protocol.utc_offset), "the chargers' clock zone (CP56Time2a carries none)",
                "+HH:MM, -HH:MM, Z", check_utc_offset),
        text<C>("protocol.catalogue_overlay", YKC_AT(protocol.catalogue_overlay), "a vendor catalogue overlay (see README), empty for none",
                "a file path"),
        integer<C>("limits.max_connections", 1, 1000000, YKC_AT(limits.max_connections), "further TCP connections are closed at once"),
        integer<C>("limits.pre_login_timeout", 1, 3600, YKC_AT(limits.pre_login_timeout), "seconds from connect to login"),
        integer<C>("limits.pre_login_max_frames", 0, 1000, YKC_AT(limits.pre_login_max_frames),
                   "frames before login tolerated, then the socket closes"),
        integer<C>(
            "limits.heartbeat_timeout", 1, 86400, YKC_AT(limits.heartbeat_timeout),
            "seconds without a frame (3 heartbeats + slack) closes the session; also how long after a start the bridge waits for the "
            "piles it held before it publishes them offline (a crash left them online)"),
        integer<C>("limits.output_queue", 1, 100000, YKC_AT(limits.output_queue),
                   "frames waiting for a charger's socket once its 32 KB kernel send buffer is full; a full queue closes it (commands get "
                   "busy beyond half of it)"),
        integer<C>("limits.command_timeout", 1, 3600, YKC_AT(limits.command_timeout), "seconds to wait for a charger's reply to a command"),
        integer<C>("limits.max_command_bytes", 256, 16 << 20, YKC_AT(limits.max_command_bytes), "largest command payload"),
        integer<C>("limits.max_commands_in_flight", 1, 10000, YKC_AT(limits.max_commands_in_flight),
                   "per pile; more get status \"error\", error \"busy\""),
        integer<C>("limits.error_reports_per_second", 1, 100000, YKC_AT(limits.error_reports_per_second),
                   "per connection (bursts of 4 s worth): errors a charger causes beyond it are counted, and the next report carries "
                   "\"suppressed\"; commands for malformed pile numbers share one such budget for their ykc/bridge/error reports (each "
                   "is still answered on its resp topic)"),
        choice<C>("policies.login", {"accept", "allowlist", "forward"}, YKC_AT(policies.login),
                  "accept any pile, only those in allowlist, or forward (publish, wait for cmd/login_reply)"),
        allowlist(),
        integer<C>("policies.login_timeout", 1, 3600, YKC_AT(policies.login_timeout),
                   "forward: seconds to wait for cmd/login_reply, then refuse"),
        choice<C>(
            "policies.transaction", {"after_publish", "forward"}, YKC_AT(policies.transaction),
            "after_publish: 0x40 once the broker acknowledged the record; forward: 0x40 when the backend sends cmd/transaction_confirm"),
        choice<C>("policies.transaction_check", {"strict", "off"}, YKC_AT(policies.transaction_check),
                  "strict: a record that does not add up (segments vs totals, meter readings, times, gun, serial) is published with "
                  "\"check\":\"failed\" and its reasons, reported on ykc/<pile>/error and not confirmed by the bridge; off: no check"),
        integer<C>("policies.card_auth_timeout", 1, 3600, YKC_AT(policies.card_auth_timeout),
                   "seconds to wait for cmd/card_auth_reply, then refuse (0x32 failure)"),
        boolean<C>("policies.time_sync", YKC_AT(policies.time_sync), "send 0x56 after login and every time_sync_interval"),
        integer<C>("policies.time_sync_interval", 5, 30 * 86400, YKC_AT(policies.time_sync_interval),
                   "seconds between two time syncs of a pile"),
        text<C>("policies.balance", YKC_AT(policies.balance), "yuan; remote_start's balance when the command gives none", "decimal text"),
        homeassistant_enabled(),
        text<C>("homeassistant.discovery_prefix", YKC_AT(homeassistant.discovery_prefix),
                "Home Assistant's discovery prefix, homeassistant when empty; with enabled auto, setting it turns discovery on",
                "no wildcards or empty levels", check_discovery_prefix),
        integer<C>("homeassistant.forget_after", 0, 10 * 365 * 86400, YKC_AT(homeassistant.forget_after),
                   "seconds: the configs of a pile unseen this long, or no longer in policies.allowlist (login: allowlist), are removed; "
                   "0: never"),
    };
    for (const auto& b : billing_settings()) all.push_back(default_model(b));
    all.push_back(choice<C>("logging.level", {"trace", "debug", "info", "warn", "error", "off"}, YKC_AT(logging.level),
                            "trace | debug (hex dumps) | info | warn | error | off"));
    return all;
}

}  // namespace

const std::vector<Setting<BillingModel>>& billing_settings() {
    using B = BillingModel;
    static const std::vector<Setting<B>> all = {
        text<B>("model_id", YKC_AT(model_id), "billing model number, sent in 0x0A / 0x58 and compared with the charger's in 0x05",
                "4 digits"),
        price("sharp", "energy", YKC_AT(sharp_energy_price)),
        price("sharp", "service", YKC_AT(sharp_service_price)),
        price("peak", "energy", YKC_AT(peak_energy_price)),
        price("peak", "service", YKC_AT(peak_service_price)),
        price("flat", "energy", YKC_AT(flat_energy_price)),
        price("flat", "service", YKC_AT(flat_service_price)),
        price("valley", "energy", YKC_AT(valley_energy_price)),
        price("valley", "service", YKC_AT(valley_service_price)),
        integer<B>("loss_ratio", 0, 255, YKC_AT(loss_ratio), "计损比例, the loss ratio in percent"),
        periods(),
    };
    return all;
}

#undef YKC_AT

const std::vector<Setting<Config>>& config_settings() {
    static const std::vector<Setting<Config>> all = make_config_settings();
    return all;
}

const Setting<Config>* find_setting(const std::string& key) {
    for (const auto& s : config_settings())
        if (s.key == key) return &s;
    return nullptr;
}

const std::string& section_doc(const std::string& section) {
    static const std::map<std::string, std::string> docs = {
        {"listen", "The TCP port the chargers connect to."},
        {"mqtt", "The broker connection."},
        {"publish", "What is published besides every decoded frame."},
        {"protocol", "How frames are read."},
        {"limits", "What one charger or one backend client can cost (see README, \"Running it exposed\")."},
        {"policies", "How the bridge answers what the protocol needs answered at once, and what it forwards to the backend."},
        {"billing_model",
         "The billing model sent for 0x09 and used to answer 0x05 (per-pile overrides below). Prices in yuan per kWh with up to 5 "
         "decimals, written as text so nothing is rounded."},
        {"billing_model_overrides",
         "Piles with their own billing model: a 14-digit pile number, then billing_model keys; what an override leaves out comes from "
         "billing_model. Not settable from the environment."},
        {"homeassistant",
         "Home Assistant MQTT discovery: a device per pile with its guns' sensors, switches and buttons, and one for the bridge (see "
         "README). Off by default: `enabled: true` alone turns it on."},
        {"logging", "The log on standard error."},
    };
    static const std::string none;
    auto it = docs.find(section);
    return it == docs.end() ? none : it->second;
}

}  // namespace ykc::bridge
