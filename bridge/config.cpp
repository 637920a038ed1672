#include "config.hpp"
#include "config_schema.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
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

// A setting from text (environment, command line): lists are comma-separated.
void apply(Config& c, const Where& w, const std::string& key, const std::string& value) {
    const Setting<Config>* s = find_setting(key);
    if (!s) fail(w, key, "unknown key");
    s->set(c, w, key, s->list ? split_list(value) : std::vector<std::string>{value});
}

Where at(const std::string& source, const YAML::Node& n) { return {source, n.Mark().line + 1}; }

// One YAML value into one setting: a sequence for a list (null for none), a scalar otherwise.
template <typename T>
void set_from_yaml(const Setting<T>& s, T& target, const YAML::Node& v, const std::string& key, const std::string& source) {
    std::vector<std::string> items;
    if (s.list) {
        if (v.IsSequence()) {
            for (const auto& x : v) items.push_back(x.Scalar());
        } else if (!v.IsNull()) {
            fail(at(source, v), key, "expected a list");
        }
    } else {
        if (!v.IsScalar()) fail(at(source, v), key, "expected a single value");
        items.push_back(v.Scalar());
    }
    s.set(target, at(source, v), key, items);
}

void load_override(BillingModel& b, const YAML::Node& map, const std::string& source, const std::string& prefix) {
    if (!map.IsMap()) fail(at(source, map), prefix, "expected a map of billing model keys");
    const auto& settings = billing_settings();
    for (const auto& kv : map) {
        const std::string k = kv.first.Scalar(), key = prefix + "." + k;
        auto s = std::find_if(settings.begin(), settings.end(), [&](const auto& x) { return x.key == k; });
        if (s == settings.end()) fail(at(source, kv.first), key, "unknown key");
        set_from_yaml(*s, b, kv.second, key, source);
    }
}

void walk(Config& c, const YAML::Node& node, const std::string& prefix, const std::string& source) {
    for (const auto& kv : node) {
        const std::string k = kv.first.Scalar();
        const std::string key = prefix.empty() ? k : prefix + "." + k;
        const YAML::Node& v = kv.second;
        if (key == "billing_model_overrides") {
            if (!v.IsMap()) fail(at(source, v), key, "expected a map of pile number to billing model");
            for (const auto& pile : v) {
                const std::string p = pile.first.Scalar();
                if (!is_pile_number(p)) fail(at(source, pile.first), key, "a pile number is 14 digits, got \"" + p + "\"");
                BillingModel b = c.billing_model;  // an override starts from the default model
                load_override(b, pile.second, source, key + "." + p);
                c.billing_model_overrides[p] = b;
            }
            continue;
        }
        if (v.IsMap()) {
            walk(c, v, key, source);
            continue;
        }
        const Setting<Config>* s = find_setting(key);
        if (!s) fail(at(source, kv.first), key, "unknown key");
        set_from_yaml(*s, c, v, key, source);
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
    // YKC_MQTT_URL -> mqtt.url: compare with the names of the known keys (underscores inside key
    // names are ambiguous with the dots).
    for (char** e = envp; *e; ++e) {
        const std::string entry = *e;
        if (entry.rfind("YKC_", 0) != 0 || entry.rfind("YKC_CONFIG=", 0) == 0) continue;  // YKC_CONFIG names the file itself
        const auto eq = entry.find('=');
        const std::string name = entry.substr(0, eq), value = eq == std::string::npos ? "" : entry.substr(eq + 1);
        bool matched = false;
        for (const auto& o : config_settings()) {
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
