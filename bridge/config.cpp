#include "config.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace ykc::bridge {

nlohmann::json BillingModel::to_data() const {
    auto price = [](const std::string& s) { return nlohmann::json(s); };  // decimal text: exact
    return {{"model_id", model_id},
            {"sharp_energy_price", price(sharp_energy_price)},
            {"sharp_service_price", price(sharp_service_price)},
            {"peak_energy_price", price(peak_energy_price)},
            {"peak_service_price", price(peak_service_price)},
            {"flat_energy_price", price(flat_energy_price)},
            {"flat_service_price", price(flat_service_price)},
            {"valley_energy_price", price(valley_energy_price)},
            {"valley_service_price", price(valley_service_price)},
            {"loss_ratio", loss_ratio},
            {"periods", periods}};
}

namespace {

struct Where {
    std::string source;
    int line = 0;  // 0: not from a file
    std::string text() const { return line ? source + ":" + std::to_string(line) : source; }
};

[[noreturn]] void fail(const Where& w, const std::string& key, const std::string& what) {
    throw ConfigError(w.text() + ": " + key + ": " + what);
}

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

std::string one_of(const Where& w, const std::string& key, const std::string& v, std::initializer_list<const char*> allowed) {
    std::string list;
    for (const char* a : allowed) {
        if (v == a) return v;
        list += (list.empty() ? "" : ", ") + std::string(a);
    }
    fail(w, key, "expected one of " + list + ", got \"" + v + "\"");
}

std::vector<std::string> split_list(const std::string& v) {
    std::vector<std::string> out;
    std::stringstream ss(v);
    std::string item;
    while (std::getline(ss, item, ',')) {
        item.erase(0, item.find_first_not_of(" \t"));
        item.erase(item.find_last_not_of(" \t") + 1);
        if (!item.empty()) out.push_back(item);
    }
    return out;
}

// One option: how to set it from text. Lists take comma-separated text (or a YAML sequence).
struct Option {
    const char* key;
    bool list;
    std::function<void(Config&, const Where&, const std::string& key, const std::string& value)> set;
    std::function<void(Config&, const Where&, const std::string& key, const std::vector<std::string>& values)> set_list;
};

template <typename F>
Option scalar(const char* key, F f) {
    return Option{key, false, f, nullptr};
}

template <typename F>
Option list(const char* key, F f) {
    return Option{key, true, nullptr, f};
}

// Billing model keys, relative to a model.
void set_billing(BillingModel& b, const Where& w, const std::string& full_key, const std::string& key, const std::string& v) {
    static const std::map<std::string, std::string BillingModel::*> prices = {
        {"model_id", &BillingModel::model_id},
        {"sharp_energy_price", &BillingModel::sharp_energy_price},
        {"sharp_service_price", &BillingModel::sharp_service_price},
        {"peak_energy_price", &BillingModel::peak_energy_price},
        {"peak_service_price", &BillingModel::peak_service_price},
        {"flat_energy_price", &BillingModel::flat_energy_price},
        {"flat_service_price", &BillingModel::flat_service_price},
        {"valley_energy_price", &BillingModel::valley_energy_price},
        {"valley_service_price", &BillingModel::valley_service_price}};
    if (auto it = prices.find(key); it != prices.end()) {
        b.*(it->second) = v;
        return;
    }
    if (key == "loss_ratio") {
        b.loss_ratio = to_int(w, full_key, v, 0, 255);
        return;
    }
    fail(w, full_key, "unknown key");
}

void set_periods(BillingModel& b, const Where& w, const std::string& key, const std::vector<std::string>& v) {
    if (v.size() != 48) fail(w, key, "expected 48 half-hour periods, got " + std::to_string(v.size()));
    for (const auto& p : v) one_of(w, key, p, {"sharp", "peak", "flat", "valley"});
    b.periods = v;
}

const std::vector<Option>& options() {
    static const std::vector<Option> all = {
        scalar("listen.address", [](Config& c, const Where&, const std::string&, const std::string& v) { c.listen.address = v; }),
        scalar("listen.port", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.listen.port = to_int(w, k, v, 1, 65535); }),
        scalar("mqtt.url", [](Config& c, const Where& w, const std::string& k, const std::string& v) {
            if (v.rfind("tcp://", 0) && v.rfind("mqtt://", 0) && v.rfind("ssl://", 0) && v.rfind("mqtts://", 0) && v.rfind("ws://", 0) && v.rfind("wss://", 0))
                fail(w, k, "expected a URL like tcp://host:1883 or ssl://host:8883, got \"" + v + "\"");
            c.mqtt.url = v;
        }),
        scalar("mqtt.client_id", [](Config& c, const Where& w, const std::string& k, const std::string& v) {
            if (v.empty()) fail(w, k, "must not be empty");
            c.mqtt.client_id = v;
        }),
        scalar("mqtt.username", [](Config& c, const Where&, const std::string&, const std::string& v) { c.mqtt.username = v; }),
        scalar("mqtt.password", [](Config& c, const Where&, const std::string&, const std::string& v) { c.mqtt.password = v; }),
        scalar("mqtt.password_file", [](Config& c, const Where&, const std::string&, const std::string& v) { c.mqtt.password_file = v; }),
        scalar("mqtt.version", [](Config& c, const Where& w, const std::string& k, const std::string& v) {
            c.mqtt.version = one_of(w, k, v, {"5", "3", "3.1.1"}) == "5" ? 5 : 3;
        }),
        scalar("mqtt.keepalive", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.mqtt.keepalive = to_int(w, k, v, 5, 3600); }),
        scalar("mqtt.base_topic", [](Config& c, const Where& w, const std::string& k, const std::string& v) {
            if (v.empty() || v.find_first_of("#+") != std::string::npos || v.back() == '/') fail(w, k, "must be a topic prefix without wildcards or a trailing /");
            c.mqtt.base_topic = v;
        }),
        scalar("mqtt.qos", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.mqtt.qos = to_int(w, k, v, 0, 2); }),
        scalar("mqtt.persistence_dir", [](Config& c, const Where&, const std::string&, const std::string& v) { c.mqtt.persistence_dir = v; }),
        scalar("mqtt.max_buffered", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.mqtt.max_buffered = to_int(w, k, v, 100, 10000000); }),
        scalar("mqtt.commands", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.mqtt.commands = one_of(w, k, v, {"all", "connected"}); }),
        scalar("mqtt.inflight_window", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.mqtt.inflight_window = to_int(w, k, v, 1, 65535); }),
        scalar("mqtt.reconnect_min", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.mqtt.reconnect_min = to_int(w, k, v, 1, 3600); }),
        scalar("mqtt.reconnect_max", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.mqtt.reconnect_max = to_int(w, k, v, 1, 3600); }),
        scalar("mqtt.tls.enabled", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.mqtt.tls.enabled = to_bool(w, k, v); }),
        scalar("mqtt.tls.ca_file", [](Config& c, const Where&, const std::string&, const std::string& v) { c.mqtt.tls.ca_file = v; }),
        scalar("mqtt.tls.cert_file", [](Config& c, const Where&, const std::string&, const std::string& v) { c.mqtt.tls.cert_file = v; }),
        scalar("mqtt.tls.key_file", [](Config& c, const Where&, const std::string&, const std::string& v) { c.mqtt.tls.key_file = v; }),
        scalar("mqtt.tls.key_password", [](Config& c, const Where&, const std::string&, const std::string& v) { c.mqtt.tls.key_password = v; }),
        scalar("mqtt.tls.key_password_file", [](Config& c, const Where&, const std::string&, const std::string& v) { c.mqtt.tls.key_password_file = v; }),
        scalar("mqtt.tls.verify", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.mqtt.tls.verify = to_bool(w, k, v); }),
        scalar("publish.heartbeats", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.publish.heartbeats = to_bool(w, k, v); }),
        scalar("publish.heartbeat_qos", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.publish.heartbeat_qos = to_int(w, k, v, 0, 2); }),
        scalar("protocol.utc_offset", [](Config& c, const Where&, const std::string&, const std::string& v) { c.protocol.utc_offset = v; }),
        scalar("protocol.catalogue_overlay", [](Config& c, const Where&, const std::string&, const std::string& v) { c.protocol.catalogue_overlay = v; }),
        scalar("limits.max_connections", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.limits.max_connections = to_int(w, k, v, 1, 1000000); }),
        scalar("limits.pre_login_timeout", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.limits.pre_login_timeout = to_int(w, k, v, 1, 3600); }),
        scalar("limits.pre_login_max_frames", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.limits.pre_login_max_frames = to_int(w, k, v, 0, 1000); }),
        scalar("limits.heartbeat_timeout", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.limits.heartbeat_timeout = to_int(w, k, v, 1, 86400); }),
        scalar("limits.output_queue", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.limits.output_queue = to_int(w, k, v, 1, 100000); }),
        scalar("limits.command_timeout", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.limits.command_timeout = to_int(w, k, v, 1, 3600); }),
        scalar("limits.max_command_bytes", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.limits.max_command_bytes = to_int(w, k, v, 256, 16 << 20); }),
        scalar("limits.error_reports_per_second", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.limits.error_reports_per_second = to_int(w, k, v, 1, 100000); }),
        scalar("limits.max_commands_in_flight", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.limits.max_commands_in_flight = to_int(w, k, v, 1, 10000); }),
        scalar("policies.login", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.policies.login = one_of(w, k, v, {"accept", "allowlist", "forward"}); }),
        list("policies.allowlist", [](Config& c, const Where& w, const std::string& k, const std::vector<std::string>& v) {
            for (const auto& p : v)
                if (p.size() != 14 || p.find_first_not_of("0123456789") != std::string::npos) fail(w, k, "a pile number is 14 digits, got \"" + p + "\"");
            c.policies.allowlist = v;
        }),
        scalar("policies.login_timeout", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.policies.login_timeout = to_int(w, k, v, 1, 3600); }),
        scalar("policies.transaction", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.policies.transaction = one_of(w, k, v, {"after_publish", "forward"}); }),
        scalar("policies.card_auth_timeout", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.policies.card_auth_timeout = to_int(w, k, v, 1, 3600); }),
        scalar("policies.time_sync", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.policies.time_sync = to_bool(w, k, v); }),
        scalar("policies.time_sync_interval", [](Config& c, const Where& w, const std::string& k, const std::string& v) { c.policies.time_sync_interval = to_int(w, k, v, 60, 30 * 86400); }),
        scalar("policies.balance", [](Config& c, const Where&, const std::string&, const std::string& v) { c.policies.balance = v; }),
        scalar("homeassistant.enabled", [](Config& c, const Where& w, const std::string& k, const std::string& v) {
            if (v == "auto") c.homeassistant.enabled.reset();
            else if (v == "true" || v == "false" || v == "yes" || v == "no" || v == "on" || v == "off" || v == "1" || v == "0")
                c.homeassistant.enabled = to_bool(w, k, v);
            else fail(w, k, "expected true, false or auto, got \"" + v + "\"");
        }),
        scalar("homeassistant.discovery_prefix", [](Config& c, const Where& w, const std::string& k, const std::string& v) {
            if (!v.empty() && (v.find_first_of("+#") != std::string::npos || v.front() == '/' || v.back() == '/' || v.find("//") != std::string::npos))
                fail(w, k, "expected a topic prefix without wildcards or empty levels, like homeassistant, got \"" + v + "\"");
            c.homeassistant.discovery_prefix = v;
        }),
        scalar("homeassistant.forget_after", [](Config& c, const Where& w, const std::string& k, const std::string& v) {
            c.homeassistant.forget_after = to_int(w, k, v, 0, 10 * 365 * 86400);
        }),
        scalar("logging.level", [](Config& c, const Where& w, const std::string& k, const std::string& v) {
            c.logging.level = one_of(w, k, v, {"trace", "debug", "info", "warn", "error", "off"});
        }),
    };
    return all;
}

const Option* find_option(const std::string& key) {
    for (const auto& o : options())
        if (key == o.key) return &o;
    return nullptr;
}

void apply(Config& c, const Where& w, const std::string& key, const std::string& value) {
    if (key.rfind("billing_model.", 0) == 0) {
        const std::string sub = key.substr(14);
        if (sub == "periods") return set_periods(c.billing_model, w, key, split_list(value));
        return set_billing(c.billing_model, w, key, sub, value);
    }
    const Option* o = find_option(key);
    if (!o) fail(w, key, "unknown key");
    if (o->list) o->set_list(c, w, key, split_list(value));
    else o->set(c, w, key, value);
}

Where at(const std::string& source, const YAML::Node& n) { return {source, n.Mark().line + 1}; }

void load_billing(BillingModel& b, const YAML::Node& map, const std::string& source, const std::string& prefix) {
    if (!map.IsMap()) fail(at(source, map), prefix, "expected a map of billing model keys");
    for (const auto& kv : map) {
        const std::string k = kv.first.Scalar();
        const std::string key = prefix + "." + k;
        if (k == "periods") {
            if (!kv.second.IsSequence()) fail(at(source, kv.second), key, "expected a list of 48 tariffs");
            std::vector<std::string> v;
            for (const auto& x : kv.second) v.push_back(x.Scalar());
            set_periods(b, at(source, kv.second), key, v);
        } else {
            if (!kv.second.IsScalar()) fail(at(source, kv.second), key, "expected a value");
            set_billing(b, at(source, kv.first), key, k, kv.second.Scalar());
        }
    }
}

void walk(Config& c, const YAML::Node& node, const std::string& prefix, const std::string& source) {
    for (const auto& kv : node) {
        const std::string k = kv.first.Scalar();
        const std::string key = prefix.empty() ? k : prefix + "." + k;
        const YAML::Node& v = kv.second;
        if (key == "billing_model") {
            load_billing(c.billing_model, v, source, key);
            continue;
        }
        if (key == "billing_model_overrides") {
            if (!v.IsMap()) fail(at(source, v), key, "expected a map of pile number to billing model");
            for (const auto& pile : v) {
                const std::string p = pile.first.Scalar();
                if (p.size() != 14 || p.find_first_not_of("0123456789") != std::string::npos)
                    fail(at(source, pile.first), key, "a pile number is 14 digits, got \"" + p + "\"");
                BillingModel b = c.billing_model;  // an override starts from the default model
                load_billing(b, pile.second, source, key + "." + p);
                c.billing_model_overrides[p] = b;
            }
            continue;
        }
        if (v.IsMap()) {
            walk(c, v, key, source);
            continue;
        }
        const Option* o = find_option(key);
        if (!o) fail(at(source, kv.first), key, "unknown key");
        if (o->list) {
            std::vector<std::string> items;
            if (v.IsSequence()) {
                for (const auto& x : v) items.push_back(x.Scalar());
            } else if (!v.IsNull()) {
                fail(at(source, v), key, "expected a list");
            }
            o->set_list(c, at(source, v), key, items);
        } else {
            if (!v.IsScalar()) fail(at(source, v), key, "expected a single value");
            o->set(c, at(source, v), key, v.Scalar());
        }
    }
}

}  // namespace

Config load_config_text(const std::string& text, const std::string& source) {
    Config c;
    c.source = source;
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        throw ConfigError(source + ":" + std::to_string(e.mark.line + 1) + ": YAML syntax: " + e.msg);
    }
    if (root.IsNull()) return c;
    if (!root.IsMap()) throw ConfigError(source + ": expected a map of settings");
    walk(c, root, "", source);
    if (c.mqtt.reconnect_min > c.mqtt.reconnect_max) throw ConfigError(source + ": mqtt.reconnect_min is larger than mqtt.reconnect_max");
    return c;
}

Config load_config_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw ConfigError(path + ": cannot open: " + std::strerror(errno));
    std::stringstream ss;
    ss << in.rdbuf();
    return load_config_text(ss.str(), path);
}

void apply_override(Config& c, const std::string& key, const std::string& value, const std::string& source) {
    apply(c, Where{source, 0}, key, value);
}

std::vector<std::string> apply_environment(Config& c, char** envp) {
    std::vector<std::string> unknown;
    if (!envp) return unknown;
    // YKC_MQTT_URL -> mqtt.url: match against the known keys (underscores inside key names are
    // ambiguous with the dots, so compare the upper-cased, underscored forms).
    auto env_name = [](std::string key) {
        for (auto& ch : key) ch = ch == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        return "YKC_" + key;
    };
    for (char** e = envp; *e; ++e) {
        const std::string entry = *e;
        if (entry.rfind("YKC_", 0) != 0 || entry.rfind("YKC_CONFIG=", 0) == 0) continue;  // YKC_CONFIG names the file itself
        const auto eq = entry.find('=');
        const std::string name = entry.substr(0, eq), value = eq == std::string::npos ? "" : entry.substr(eq + 1);
        bool matched = false;
        for (const auto& o : options()) {
            if (env_name(o.key) == name) {
                apply(c, Where{"environment " + name, 0}, o.key, value);
                matched = true;
                break;
            }
        }
        if (!matched) unknown.push_back(name);
    }
    return unknown;
}

}  // namespace ykc::bridge
