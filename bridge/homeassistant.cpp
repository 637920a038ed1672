#include "homeassistant.hpp"

#include <algorithm>
#include <cctype>

#include <spdlog/spdlog.h>

#include "json_file.hpp"
#include "pile.hpp"
#include "ykc/pile.hpp"

namespace ykc::bridge {

using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr int max_guns = 32;                 // a login claiming more gets entities for the first 32
constexpr std::size_t max_link_queue = 200;  // announce more piles only while the link's queue is short

std::int64_t now_s() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A lifetime meter (ledger.hpp), a gun's or a pile's: what the Energy dashboard counts.
const json energy_meter = {{"device_class", "energy"}, {"unit_of_measurement", "kWh"}, {"state_class", "total_increasing"}};

// Home Assistant's discovery takes [A-Za-z0-9_-] in a node id.
std::string bridge_id(const Config& config) {
    std::string id = "ykc_bridge_" + config.client_file_stem();
    std::replace(id.begin(), id.end(), '.', '_');
    return id;
}

}  // namespace

int HomeAssistant::Pile::guns() const {
    const json n = login.is_object() ? login.value("gun_count", json()) : json();
    return n.is_number_integer() ? std::clamp(n.get<int>(), 0, max_guns) : 0;
}

HomeAssistant::HomeAssistant(boost::asio::io_context& io, const Config& config, MqttLink& mqtt, const Catalogue& catalogue)
    : config_(config),
      mqtt_(mqtt),
      prefix_(config.homeassistant.prefix()),
      base_(config.mqtt.base_topic),
      bridge_id_(bridge_id(config)),
      pace_(io),
      sweep_(io),
      save_timer_(io, [this] { save(); }),
      started_(std::chrono::steady_clock::now()) {
    // The gun state is realtime's data: every template reads keys of that message, and an entity
    // whose keys a catalogue overlay took away is left out rather than shown as always unknown.
    const Message* rt = catalogue.find("realtime");
    auto options = [&](const char* message, const char* field) {
        json names = json::array();
        const Message* m = catalogue.find(message);
        if (const Field* f = m ? m->field(field) : nullptr; f && f->enums)
            for (const auto& [code, name] : f->enums->entries) names.push_back(name);
        return names;
    };
    const json status_options = options("realtime", "status");
    const json connector_options = connector_names;  // else unknown
    const json stop_options = options("transaction", "stop_reason");
    auto number = [](const char* device_class, const char* unit) {
        return json{{"device_class", device_class}, {"unit_of_measurement", unit}, {"state_class", "measurement"}};
    };
    auto value = [](const char* key) { return std::string("{{ value_json.") + key + " }}"; };
    // what a pile cannot know while no car charges (0 on the wire) is unknown, not 0
    auto charging_only = [](const char* key) {
        return std::string("{{ value_json.") + key + " if value_json.status == 'charging' else None }}";
    };
    auto one_of = [](const char* key, const json& names) {
        return std::string("{{ value_json.") + key + " if value_json." + key + " in " + names.dump() + " else None }}";
    };
    // a session's cost: a new session is a new period (last_reset: its end)
    const std::string last_reset = "{{ value_json.end_time }}";
    const struct Row {
        std::vector<std::string> keys;  // of realtime, for what reads the gun state
        GunSensor sensor;
    } rows[] = {
        {{"status"},
         {"status",
          "status",
          "sensor",
          "state",
          one_of("status", status_options),
          {{"device_class", "enum"}, {"options", status_options}, {"entity_category", "diagnostic"}}}},
        {{"status", "plugged"},
         {"connector",
          "connector",
          "sensor",
          "state",
          one_of("connector", connector_options),
          {{"device_class", "enum"}, {"options", connector_options}, {"icon", "mdi:ev-plug-type2"}}}},
        {{"plugged"},
         {"plugged", "plugged", "binary_sensor", "state", "{{ 'ON' if value_json.plugged else 'OFF' }}", {{"device_class", "plug"}}}},
        {{"status", "hardware_faults"},
         {"problem",
          "problem",
          "binary_sensor",
          "state",
          "{{ 'ON' if value_json.status == 'fault' or value_json.hardware_faults else 'OFF' }}",
          {{"device_class", "problem"}, {"json_attributes_template", "{{ {'faults': value_json.hardware_faults} | tojson }}"}}}},
        {{"voltage"}, {"voltage", "voltage", "sensor", "state", value("voltage"), number("voltage", "V")}},
        {{"current"}, {"current", "current", "sensor", "state", value("current"), number("current", "A")}},
        {{"voltage", "current"},
         {"power", "power", "sensor", "state", "{{ (value_json.voltage * value_json.current / 1000) | round(3) }}", number("power", "kW")}},
        // the session's: it restarts with every session, so no state class (the meter is for statistics)
        {{"energy"},
         {"energy", "session energy", "sensor", "state", value("energy"), {{"device_class", "energy"}, {"unit_of_measurement", "kWh"}}}},
        {{"amount"},
         {"amount", "session amount", "sensor", "state", value("amount"), {{"device_class", "monetary"}, {"unit_of_measurement", "CNY"}}}},
        {{"soc", "status"}, {"soc", "SOC", "sensor", "state", charging_only("soc"), number("battery", "%"), true}},
        {{"battery_max_temperature", "status"},
         {"battery_temperature", "battery temperature", "sensor", "state", charging_only("battery_max_temperature"),
          number("temperature", "°C"), true}},
        {{"remaining_minutes", "status"},
         {"remaining_time", "remaining time", "sensor", "state", charging_only("remaining_minutes"), number("duration", "min"), true}},
        {{"gun_temperature"}, {"temperature", "temperature", "sensor", "state", value("gun_temperature"), number("temperature", "°C")}},
        {{"charging_minutes"}, {"charging_time", "charging time", "sensor", "state", value("charging_minutes"), number("duration", "min")}},
        {{"hardware_faults"},
         {"faults",
          "faults",
          "sensor",
          "state",
          "{{ (value_json.hardware_faults | join(', '))[:255] if value_json.hardware_faults else 'none' }}",
          {{"entity_category", "diagnostic"},
           {"icon", "mdi:alert-circle-outline"},
           {"json_attributes_template", "{{ {'faults': value_json.hardware_faults} | tojson }}"}}}},
        // the lifetime meter (ledger.hpp): what the Energy dashboard counts
        {{}, {"meter", "energy meter", "sensor", "meter", value("energy"), energy_meter}},
        // the last session, from its transaction record
        {{},
         // no state class: the meter is what the Energy dashboard counts (this one too would count twice)
         {"last_energy",
          "last session energy",
          "sensor",
          "last_session",
          value("energy"),
          {{"device_class", "energy"}, {"unit_of_measurement", "kWh"}}}},
        {{},
         {"last_amount",
          "last session cost",
          "sensor",
          "last_session",
          value("amount"),
          {{"device_class", "monetary"},
           {"unit_of_measurement", "CNY"},
           {"state_class", "total"},
           {"last_reset_value_template", last_reset}}}},
        {{},
         {"last_stop_reason",
          "last session stop reason",
          "sensor",
          "last_session",
          one_of("stop_reason", stop_options),
          {{"device_class", "enum"}, {"options", stop_options}}}},
        {{}, {"last_start", "last session start", "sensor", "last_session", value("start_time"), {{"device_class", "timestamp"}}}},
        {{}, {"last_end", "last session end", "sensor", "last_session", value("end_time"), {{"device_class", "timestamp"}}}},
        {{},
         {"last_card",
          "last session card",
          "sensor",
          "last_session",
          "{% set c = value_json.get('card') or '' %}{{ c if c.strip('0') else None }}",
          {{"icon", "mdi:card-account-details"}, {"enabled_by_default", false}}}},
        {{},
         {"last_vin",
          "last session VIN",
          "sensor",
          "last_session",
          "{% set v = value_json.get('vin') or '' %}{{ v if v.strip() else None }}",
          {{"icon", "mdi:car"}, {"enabled_by_default", false}}}},
    };
    for (const auto& row : rows) {
        const auto missing = std::find_if(row.keys.begin(), row.keys.end(), [&](const std::string& k) {
            return !rt || !std::binary_search(rt->keys.begin(), rt->keys.end(), k);
        });
        if (missing == row.keys.end()) gun_sensors_.push_back(row.sensor);
        else spdlog::warn("homeassistant: the realtime message has no field {}: no {} entity", *missing, row.sensor.name);
    }
}

std::string HomeAssistant::state_file() const {
    return config_.mqtt.persistence_dir + "/homeassistant-" + config_.client_file_stem() + ".json";
}

void HomeAssistant::start() {
    load();
    if (config_.policies.login == "allowlist") {
        const auto& list = config_.policies.allowlist;
        std::vector<std::string> gone;
        for (const auto& [pile, p] : piles_)
            if (std::find(list.begin(), list.end(), pile) == list.end()) gone.push_back(pile);
        for (const auto& pile : gone) remove(pile, "no longer in policies.allowlist");
    }
    mqtt_.subscribe(prefix_ + "/status", [this](bool ok) {
        if (!ok)
            spdlog::error(
                "homeassistant: the broker refused the subscription to {}/status: discovery is not re-published when Home Assistant "
                "restarts",
                prefix_);
    });
    spdlog::info(
        "homeassistant: discovery under {}/ ({} piles known{})", prefix_, piles_.size(),
        config_.homeassistant.forget_after ? ", forgotten after " + std::to_string(config_.homeassistant.forget_after) + " s unseen" : "");
    sweep();
}

void HomeAssistant::stop() {
    if (stopped_) return;
    save();
    stopped_ = true;
    pace_.cancel();
    sweep_.cancel();
    save_timer_.cancel();
}

void HomeAssistant::logged_in(const std::string& pile, const json& data) {
    json login = json::object();
    for (const char* k : {"pile_type", "gun_count", "program_version", "protocol_version"})
        if (data.contains(k)) login[k] = data[k];
    auto [it, added] = piles_.try_emplace(pile);
    Pile& p = it->second;
    const bool changed = p.login != login;
    if (changed && !added) {
        // guns it no longer has lose their entities
        const Pile before = p;
        p.login = login;
        std::vector<std::string> now;
        for (auto& [topic, config] : configs(pile)) now.push_back(topic);
        int dropped = 0;
        for (auto& [topic, config] : build(pile, before))
            if (std::find(now.begin(), now.end(), topic) == now.end()) {
                mqtt_.publish(topic, "", 1, true);
                ++dropped;
            }
        spdlog::info("pile {}: login data changed: Home Assistant discovery is re-published{}", pile,
                     dropped ? " (" + std::to_string(dropped) + " entities removed)" : "");
    }
    p.login = std::move(login);
    p.last_seen = now_s();
    const json claimed = data.value("gun_count", json());
    if (claimed.is_number_integer() && claimed.get<int>() > max_guns)
        spdlog::warn("pile {}: login claims {} guns: Home Assistant gets entities for the first {}", pile, claimed.get<int>(), max_guns);
    connected_.insert(pile);
    save_soon(10s);
    if (changed || !announced_.count(pile)) announce(pile);
}

void HomeAssistant::closed(const std::string& pile) {
    connected_.erase(pile);
    if (auto it = piles_.find(pile); it != piles_.end()) it->second.last_seen = now_s();
    save_soon(10s);
}

void HomeAssistant::connected() {
    publish_bridge();
    if (connected_once_) announce_all("reconnected to the broker");
    connected_once_ = true;
    pump();
}

bool HomeAssistant::on_message(const IncomingMessage& m) {
    if (m.topic != prefix_ + "/status") return false;
    if (m.payload == "online") {
        publish_bridge();
        announce_all("Home Assistant is online");
    }
    return true;
}

void HomeAssistant::publish_bridge() {
    for (const auto& [topic, config] : bridge_configs()) mqtt_.publish(topic, config.dump(), 1, true);
}

void HomeAssistant::announce(const std::string& pile) {
    if (queued_.insert(pile).second) to_announce_.push_back(pile);
    pump();
}

void HomeAssistant::announce_all(const char* why) {
    spdlog::info("homeassistant: {}: re-publishing the discovery of {} piles", why, piles_.size());
    for (const auto& [pile, p] : piles_)
        if (queued_.insert(pile).second) to_announce_.push_back(pile);
    pump();
}

// Discovery goes out only while connected (a reconnect announces everything again anyway), a pile
// at a time while the link's queue is short: uplink frames are not held behind thousands of configs.
void HomeAssistant::pump() {
    if (stopped_ || !mqtt_.connected()) return;
    while (!to_announce_.empty() && mqtt_.queued() < max_link_queue) {
        const std::string pile = std::move(to_announce_.front());
        to_announce_.pop_front();
        queued_.erase(pile);
        auto it = piles_.find(pile);
        if (it == piles_.end()) continue;  // forgotten meanwhile
        const auto all = build(pile, it->second);
        for (const auto& [topic, config] : all) mqtt_.publish(topic, config.dump(), 1, true);
        if (announced_.insert(pile).second)
            spdlog::info("pile {}: Home Assistant discovery published ({} entities, {} guns)", pile, all.size(), it->second.guns());
        else spdlog::debug("pile {}: Home Assistant discovery re-published", pile);
    }
    if (to_announce_.empty()) return;
    pace_.expires_after(100ms);
    pace_.async_wait([this](boost::system::error_code ec) {
        if (!ec) pump();
    });
}

void HomeAssistant::remove(const std::string& pile, const std::string& why) {
    auto it = piles_.find(pile);
    if (it == piles_.end()) return;
    const auto all = build(pile, it->second);
    for (const auto& [topic, config] : all) mqtt_.publish(topic, "", 1, true);
    spdlog::info("pile {}: Home Assistant discovery removed ({} entities): {}", pile, all.size(), why);
    piles_.erase(it);
    announced_.erase(pile);
    queued_.erase(pile);
    save_soon(10s);
}

// Connected piles are seen now; the others are forgotten after forget_after, but not before the
// bridge itself has run that long (10 minutes at most): after its own downtime, piles get time to
// reconnect.
void HomeAssistant::sweep() {
    const int forget = config_.homeassistant.forget_after;
    if (forget == 0 || stopped_) return;
    const std::int64_t now = now_s();
    for (const auto& pile : connected_)
        if (auto it = piles_.find(pile); it != piles_.end()) it->second.last_seen = now;
    if (!connected_.empty()) save_soon(std::chrono::seconds(std::clamp(forget / 10, 1, 300)));
    if (std::chrono::steady_clock::now() - started_ >= std::chrono::seconds(std::min(forget, 600))) {
        std::vector<std::string> gone;
        for (const auto& [pile, p] : piles_)
            if (!connected_.count(pile) && now - p.last_seen >= forget) gone.push_back(pile);
        for (const auto& pile : gone)
            remove(pile, "unseen for " + std::to_string(now - piles_[pile].last_seen) + " s (homeassistant.forget_after " +
                             std::to_string(forget) + ")");
    }
    sweep_.expires_after(std::chrono::seconds(std::clamp(forget / 4, 1, 60)));
    sweep_.async_wait([this](boost::system::error_code ec) {
        if (!ec) sweep();
    });
}

void HomeAssistant::save_soon(std::chrono::seconds within) {
    if (!stopped_) save_timer_.arm(std::chrono::steady_clock::now() + within);
}

void HomeAssistant::save() {
    if (stopped_ || !config_.persistent()) return;
    const std::int64_t now = now_s();
    json out = {{"version", 1}, {"piles", json::object()}};
    for (const auto& [pile, p] : piles_)
        out["piles"][pile] = {{"login", p.login}, {"last_seen", connected_.count(pile) ? now : p.last_seen}};
    write_json_file(state_file(), out, "homeassistant");
}

void HomeAssistant::load() {
    if (!config_.persistent()) return;  // piles are forgotten from what this run saw
    const std::string path = state_file();
    const auto read = read_json_file(path, "homeassistant", "piles of earlier runs are not forgotten");
    if (!read) return;  // a first run, or not JSON
    const json& j = *read;
    if (!j.is_object() || !j.contains("piles") || !j["piles"].is_object()) return;
    for (const auto& [pile, e] : j["piles"].items()) {
        if (!is_pile_number(pile) || !e.is_object() || !e.value("login", json()).is_object() ||
            !e.value("last_seen", json()).is_number_integer()) {
            spdlog::warn("homeassistant: {}: skipping the malformed entry of \"{}\"", path, pile);
            continue;
        }
        piles_[pile] = Pile{e["login"], e["last_seen"].get<std::int64_t>()};
    }
}

std::string HomeAssistant::config_topic(const std::string& component, const std::string& pile, const std::string& object) const {
    return prefix_ + "/" + component + "/ykc_" + pile + "/" + object + "/config";
}

json HomeAssistant::device(const std::string& pile, const Pile& p) const {
    const json type = p.login.value("pile_type", json());
    // the login names no vendor: the model says what the pile is, the protocol is its hw_version
    json d = {{"identifiers", json::array({"ykc_" + pile})},
              {"name", "Charger " + pile},
              {"model", type == "dc"   ? "DC charger"
                        : type == "ac" ? "AC charger"
                                       : "charger"},
              {"serial_number", pile},
              {"via_device", bridge_id_}};
    if (const json v = p.login.value("program_version", json()); v.is_string() && !v.get<std::string>().empty()) d["sw_version"] = v;
    if (const json v = p.login.value("protocol_version", json()); v.is_number()) d["hw_version"] = "YKC protocol " + v.dump();
    return d;
}

json HomeAssistant::availability(const std::string& pile) const {
    json bridge = {{"topic", base_ + "/bridge/state"}, {"value_template", "{{ value_json.state }}"}};
    if (pile.empty()) return json::array({bridge});
    return json::array({bridge, {{"topic", base_ + "/" + pile + "/availability"}, {"value_template", "{{ value_json.state }}"}}});
}

std::vector<std::pair<std::string, json>> HomeAssistant::configs(const std::string& pile) const {
    auto it = piles_.find(pile);
    return it == piles_.end() ? std::vector<std::pair<std::string, json>>{} : build(pile, it->second);
}

namespace {

// A command's payload as Home Assistant renders it at each press: an id of its own ("ha:", what
// was pressed, the time to the microsecond), so its answer on resp/ can be told from others'.
// `fields`: the rest of the JSON object, without braces (may hold templates of `value`).
std::string command_template(const std::string& what, const std::string& fields) {
    return "{\"id\":\"ha:" + what + ":{{ now().isoformat() }}\"" + (fields.empty() ? "" : "," + fields) + "}";
}

}  // namespace

std::vector<std::pair<std::string, json>> HomeAssistant::build(const std::string& pile, const Pile& p) const {
    const json dev = device(pile, p);
    const json origin = {{"name", "ykc-bridge"}, {"sw_version", YKC_VERSION}};
    const std::string at = base_ + "/" + pile + "/";
    std::vector<std::pair<std::string, json>> out;
    // every entity: the device, and unavailable unless the bridge and (by default) the pile are online
    auto add = [&](const std::string& component, const std::string& object, const std::string& name, json extra,
                   bool pile_availability = true) {
        json c = {{"name", name},
                  {"unique_id", "ykc_" + pile + "_" + object},
                  {"device", dev},
                  {"origin", origin},
                  {"availability", availability(pile_availability ? pile : "")},
                  {"availability_mode", "all"}};
        c.update(extra);
        out.emplace_back(config_topic(component, pile, object), std::move(c));
    };
    add("binary_sensor", "connected", "Connected",
        {{"state_topic", at + "availability"},
         {"value_template", "{{ 'ON' if value_json.state == 'online' else 'OFF' }}"},
         {"device_class", "connectivity"},
         {"entity_category", "diagnostic"}},
        false);  // shows "off" while the pile is away, instead of unavailable
    add("button", "reboot", "Reboot",
        {{"command_topic", at + "cmd/reboot"},
         {"command_template", command_template("reboot", "\"mode\":\"when_idle\"")},
         {"device_class", "restart"},
         {"entity_category", "config"},
         {"qos", 1}});
    // work parameters (0x52): the pile does not report them; the bridge publishes what it accepted
    add("switch", "enabled", "Enabled",
        {{"state_topic", at + "work_params"},
         {"value_template", "{{ 'ON' if value_json.state == 'enabled' else 'OFF' }}"},
         {"command_topic", at + "cmd/work_params_set"},
         {"command_template", command_template("enabled", "\"state\":\"{{ 'enabled' if value == 'ON' else 'disabled' }}\"")},
         {"icon", "mdi:power"},
         {"entity_category", "config"},
         {"qos", 1}});
    add("number", "power_limit", "Power limit",
        {{"state_topic", at + "work_params"},
         {"value_template", "{{ value_json.max_power }}"},
         {"command_topic", at + "cmd/work_params_set"},
         {"command_template", command_template("power_limit", "\"max_power\":{{ value | int }}")},
         {"min", 30},
         {"max", 100},
         {"step", 1},
         {"mode", "slider"},
         {"unit_of_measurement", "%"},
         {"icon", "mdi:speedometer"},
         {"entity_category", "config"},
         {"qos", 1}});
    json meter = {{"state_topic", at + "meter"}, {"value_template", "{{ value_json.energy }}"}};
    meter.update(energy_meter);
    add("sensor", "meter", "Energy meter", meter);
    // the answer to the newest command, whoever sent it: a refused start is an "ok" answer whose
    // result is failure, with the charger's reason
    add("sensor", "last_command", "Last command",
        {{"state_topic", at + "resp/+"},
         {"value_template",
          "{{ (value_json.command ~ ': ' ~ (value_json.result if value_json.status == 'ok' and value_json.result is defined else "
          "value_json.status) ~ (' (' ~ (value_json.reason if value_json.reason is defined else value_json.error) ~ ')' if "
          "value_json.reason is defined or value_json.error is defined else ''))[:255] }}"},
         {"json_attributes_topic", at + "resp/+"},
         {"json_attributes_template",
          "{{ {'id': value_json.id, 'command': value_json.command, 'status': value_json.status, 'result': value_json.get('result'), "
          "'reason': value_json.get('reason'), 'error': value_json.get('error')} | tojson }}"},
         {"icon", "mdi:console-line"}},
        false);  // an offline answer is an answer too
    const bool dc = p.login.value("pile_type", json()) != "ac";
    for (int gun = 1; gun <= p.guns(); ++gun) {
        const std::string n = std::to_string(gun), g = "gun" + n + "_", label = "Gun " + n + " ";
        for (const auto& s : gun_sensors_) {
            if (s.dc_only && !dc) continue;  // an AC pile knows no SOC, battery temperature or remaining time
            const std::string state = at + "gun/" + n + "/" + s.topic;
            json extra = {{"state_topic", state}, {"value_template", s.value_template}};
            extra.update(s.extra);
            if (extra.contains("json_attributes_template")) extra["json_attributes_topic"] = state;
            add(s.component, g + s.object, label + s.name, std::move(extra));
        }
        const std::string gun_field = "\"gun\":" + n;
        add("switch", g + "charge", label + "charging",
            {{"state_topic", at + "gun/" + n + "/state"},
             {"value_template", "{{ 'ON' if value_json.status == 'charging' else 'OFF' }}"},
             {"command_topic", at + "cmd/charge"},
             {"command_template", command_template(g + "charge", gun_field + ",\"charge\":{{ 'true' if value == 'ON' else 'false' }}")},
             {"icon", "mdi:ev-station"},
             {"qos", 1}});
        add("button", g + "start", label + "start charging",
            {{"command_topic", at + "cmd/remote_start"},
             {"command_template", command_template(g + "start", gun_field)},
             {"icon", "mdi:play-circle-outline"},
             {"qos", 1}});
        add("button", g + "stop", label + "stop charging",
            {{"command_topic", at + "cmd/remote_stop"},
             {"command_template", command_template(g + "stop", gun_field)},
             {"icon", "mdi:stop-circle-outline"},
             {"qos", 1}});
    }
    return out;
}

// The bridge itself: what its health report says, for the charger devices' via_device.
std::vector<std::pair<std::string, json>> HomeAssistant::bridge_configs() const {
    const json dev = {{"identifiers", json::array({bridge_id_})},
                      {"name", "ykc-bridge " + config_.mqtt.client_id},
                      {"manufacturer", "ykc-bridge"},
                      {"model", "YKC to MQTT gateway"},
                      {"sw_version", YKC_VERSION}};
    const std::string health = base_ + "/bridge/" + config_.client_file_stem() + "/health";
    std::vector<std::pair<std::string, json>> out;
    auto add = [&](const std::string& component, const std::string& object, const std::string& name, json extra) {
        json c = {{"name", name},
                  {"unique_id", bridge_id_ + "_" + object},
                  {"device", dev},
                  {"origin", {{"name", "ykc-bridge"}, {"sw_version", YKC_VERSION}}},
                  // not <base>/bridge/state, which several bridges share: a bridge that stops reporting expires
                  {"expire_after", 3 * config_.publish.health_interval},
                  {"state_topic", health}};
        c.update(extra);
        out.emplace_back(prefix_ + "/" + component + "/" + bridge_id_ + "/" + object + "/config", std::move(c));
    };
    auto count = [](const char* key, const char* icon, const char* state_class) {
        return json{{"value_template", std::string("{{ value_json.") + key + " }}"}, {"icon", icon}, {"state_class", state_class}};
    };
    add("sensor", "sessions", "Sessions", count("sessions", "mdi:lan-connect", "measurement"));
    add("sensor", "piles", "Piles", count("piles", "mdi:ev-station", "measurement"));
    add("sensor", "publish_queue", "Publish queue", count("publish_queue", "mdi:tray-full", "measurement"));
    add("sensor", "errors", "Errors", count("errors", "mdi:alert", "total_increasing"));
    return out;
}

}  // namespace ykc::bridge
