#pragma once
// Every configuration key in one table: its type, what it allows, its description and how to
// set it. The defaults are the initial values in config.hpp. The parser (config.cpp), the
// environment (YKC_…), docs/configuration.md and config.yaml (`ykc-bridge docs config-yaml`)
// all come from this table, so none of them can say something the others do not.
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "config.hpp"
#include "ykc/pile.hpp"  // is_pile_number: allowlist entries, billing_model_overrides keys

namespace ykc::bridge {

// Where a value came from, for error messages.
struct Where {
    std::string source;
    int line = 0;  // 0: not from a file
    std::string text() const { return line ? source + ":" + std::to_string(line) : source; }
};

[[noreturn]] void fail(const Where& w, const std::string& key, const std::string& what);

template <typename T>
struct Setting {
    std::string key;      // dotted path, e.g. "mqtt.url"
    std::string type;     // for the docs: integer, text, boolean, one of, list
    std::string allowed;  // for the docs: "1 … 65535", "accept, allowlist, forward", …
    std::string doc;
    bool list = false;                          // takes a YAML sequence or comma-separated text
    std::function<std::string(const T&)> show;  // the current value as YAML text
    // Sets it from text: one item for a scalar. Throws ConfigError naming `key`.
    std::function<void(T&, const Where&, const std::string& key, const std::vector<std::string>& values)> set;
};

// Keys of a billing model, relative to it (billing_model.<key>, billing_model_overrides.<pile>.<key>).
const std::vector<Setting<BillingModel>>& billing_settings();
// Every key of the configuration, billing_model.* included, in config.yaml's order.
const std::vector<Setting<Config>>& config_settings();
const Setting<Config>* find_setting(const std::string& key);

// The comment above a top-level section of config.yaml (and its paragraph in the docs), or "".
const std::string& section_doc(const std::string& section);

// YKC_ + the key in upper case with "_" for "." (mqtt.tls.ca_file -> YKC_MQTT_TLS_CA_FILE).
std::string env_name(const std::string& key);

}  // namespace ykc::bridge
