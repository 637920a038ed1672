// Home Assistant MQTT discovery: the real ykc-bridge against a real mosquitto, chargers over TCP,
// every config payload checked against what Home Assistant's discovery requires and against the
// state payloads its templates read.
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <set>

#include "harness.hpp"

using namespace it;

namespace {

const std::string pile2 = "32010200000002";
const std::string prefix = "homeassistant/";
// per gun of a DC pile; per pile: connected, reboot, enabled, power_limit, meter, last_command
const std::vector<std::string> gun_objects = {"status",
                                              "connector",
                                              "plugged",
                                              "problem",
                                              "voltage",
                                              "current",
                                              "power",
                                              "energy",
                                              "amount",
                                              "soc",
                                              "battery_temperature",
                                              "remaining_time",
                                              "temperature",
                                              "charging_time",
                                              "faults",
                                              "meter",
                                              "last_energy",
                                              "last_amount",
                                              "last_stop_reason",
                                              "last_start",
                                              "last_end",
                                              "last_card",
                                              "last_vin",
                                              "charge",
                                              "start",
                                              "stop"};
const std::vector<std::string> pile_objects = {"connected", "reboot", "enabled", "power_limit", "meter", "last_command"};
std::size_t entities(int guns) { return pile_objects.size() + guns * gun_objects.size(); }

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}
const std::vector<std::string> ha_on = {"--set", "homeassistant.discovery_prefix=homeassistant"};

bool of_pile(const Received& r, const std::string& p) { return r.topic.find("/ykc_" + p + "/") != std::string::npos; }

// The latest message on each discovery topic of pile `p` (empty payloads included).
std::map<std::string, Received> latest(const std::vector<Received>& all, const std::string& p) {
    std::map<std::string, Received> out;
    for (const auto& r : all)
        if (of_pile(r, p)) out.insert_or_assign(r.topic, r);
    return out;
}

// How many discovery topics of pile `p` end with a removal (`empty`) or with a config.
std::size_t count_where(const std::vector<Received>& all, const std::string& p, bool empty) {
    std::size_t n = 0;
    for (const auto& [t, r] : latest(all, p)) n += r.payload.empty() == empty;
    return n;
}

// Waits until `n` discovery topics of pile `p` hold a config (or, `empty`, a removal).
std::map<std::string, Received> wait_configs(Subscriber& sub, const std::string& p, std::size_t n, bool empty = false,
                                             std::chrono::milliseconds timeout = 10000ms) {
    auto all = sub.wait_prefix(
        prefix, [&](const std::vector<Received>& v) { return count_where(v, p, empty) >= n; }, timeout);
    return latest(all, p);
}

// How many of `v` are discovery configs of a pile (not the bridge's, not homeassistant/status).
std::size_t n_configs(const std::vector<Received>& v) {
    return static_cast<std::size_t>(std::count_if(v.begin(), v.end(), [](const Received& r) {
        return r.topic.size() > 7 && r.topic.compare(r.topic.size() - 7, 7, "/config") == 0 &&
               r.topic.find("/ykc_bridge_") == std::string::npos;
    }));
}

// Every discovery message so far.
std::vector<Received> so_far(Subscriber& sub) {
    return sub.wait_prefix(prefix, [](const std::vector<Received>&) { return true; });
}

json charging_realtime(int gun) {
    json r = idle_realtime(380);
    r["gun"] = gun;
    r["status"] = "charging";
    r["plugged"] = true;
    r["current"] = 100.5;
    r["soc"] = 42;
    r["battery_max_temperature"] = 31;
    r["energy"] = 3.25;
    r["amount"] = 4.5;
    r["charging_minutes"] = 12;
    r["remaining_minutes"] = 40;
    r["hardware_faults"] = json::array({"door_open"});
    return r;
}

std::vector<std::string> enum_names(const char* message, const char* field) {
    std::vector<std::string> names;
    for (const auto& [code, name] : codec().catalogue().find(message)->field(field)->enums->entries) names.push_back(name);
    return names;
}

// Renders templates as Home Assistant does (ha_render.py: Jinja2's sandbox, now(), value and
// value_json): items {"template", "payload"} (a value template and what arrived) or {"template",
// "value"} (a command template and what the entity sends). One text per item; a template that
// fails (a key the payload lacks) fails the test.
std::vector<std::string> render(const json& items) {
    TempDir dir;
    const std::string in = dir.path() + "/in.json";
    {
        std::ofstream f(in);
        f << items.dump();
    }
    FILE* p = popen(("python3 " YKC_SOURCE_DIR "/tests/integration/ha_render.py < " + in).c_str(), "r");
    REQUIRE(p != nullptr);
    std::string text;
    char buf[4096];
    for (std::size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) text.append(buf, n);
    REQUIRE(pclose(p) == 0);
    std::vector<std::string> out;
    for (const auto& r : json::parse(text)) {
        REQUIRE_MESSAGE(r.contains("out"), r.dump());
        out.push_back(r["out"]);
    }
    REQUIRE(out.size() == items.size());
    return out;
}
std::string render_one(const std::string& tmpl, const std::string& payload) {
    return render(json::array({{{"template", tmpl}, {"payload", payload}}})).at(0);
}

// What Home Assistant accepts for a sensor's device class: its unit and the state classes.
struct SensorClass {
    std::string unit;
    std::set<std::string> state_classes;  // "" = none
};
const std::map<std::string, SensorClass> sensor_classes = {
    {"voltage", {"V", {"measurement"}}},
    {"current", {"A", {"measurement"}}},
    {"power", {"kW", {"measurement"}}},
    {"energy", {"kWh", {"", "total", "total_increasing"}}},
    {"monetary", {"CNY", {"", "total"}}},
    {"battery", {"%", {"measurement"}}},
    {"temperature", {"°C", {"measurement"}}},
    {"duration", {"min", {"measurement", "total", "total_increasing"}}},
    {"enum", {"", {""}}},
    {"timestamp", {"", {""}}},
};
const std::set<std::string> binary_classes = {"connectivity", "plug", "problem"};

bool is_number(const std::string& s) {
    static const std::regex re(R"(-?\d+(\.\d+)?([eE][-+]?\d+)?)");
    return std::regex_match(s, re);
}
bool is_timestamp(const std::string& s) {
    static const std::regex re(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z))");
    return std::regex_match(s, re);
}

// What the charger answers to a command a control sent: `ok` says success or failure.
void answer(Charger& c, const json& frame, bool ok) {
    const std::string type = frame["type"];
    const json& data = frame["data"];
    const std::string result = ok ? "success" : "failure";
    if (type == "remote_start")
        c.send("remote_start_reply",
               {{"serial", data["serial"]}, {"gun", data["gun"]}, {"result", result}, {"failure_reason", ok ? "none" : "gun_busy"}},
               frame["seq"]);
    else if (type == "remote_stop")
        c.send("remote_stop_reply", {{"gun", data["gun"]}, {"result", result}, {"failure_reason", ok ? "none" : "not_charging"}},
               frame["seq"]);
    else if (type == "work_params_set") c.send("work_params_set_reply", {{"result", result}}, frame["seq"]);
    else {
        REQUIRE(type == "reboot");
        c.send("reboot_reply", {{"result", result}}, frame["seq"]);
    }
}

// A control used as Home Assistant uses it: its command_template rendered with `value`, published
// as it is to its command_topic; the charger gets the command and answers it (`ok`); the answer
// on resp/ carries the press's own id, and the pile's "last command" sensor renders what happened.
// Returns the frame the charger got.
json press(Subscriber& sub, Charger& c, const json& config, const std::string& value, bool ok, const json& last_command,
           std::set<std::string>& ids) {
    const std::string topic = config["command_topic"];
    CAPTURE(topic);
    CAPTURE(value);
    const std::string payload = render(json::array({{{"template", config["command_template"]}, {"value", value}}})).at(0);
    CAPTURE(payload);
    const json sent = json::parse(payload);
    const std::string id = sent.at("id");
    CHECK(id.rfind("ha:", 0) == 0);
    CHECK_MESSAGE(ids.insert(id).second, "the id " << id << " was sent before");
    sub.publish(topic, payload);
    std::string cmd = topic.substr(topic.rfind("/cmd/") + 5), expect = cmd;
    if (cmd == "charge") expect = sent.at("charge").get<bool>() ? "remote_start" : "remote_stop";
    auto frame = c.receive_type(expect);
    REQUIRE_MESSAGE(frame, "the charger got no " << expect);
    if (sent.contains("gun")) CHECK((*frame)["data"]["gun"] == sent["gun"]);
    answer(c, *frame, ok);
    auto resp = sub.wait(topic.substr(0, topic.rfind("/cmd/")) + "/resp/" + cmd, [&](const Received& r) { return r.j()["id"] == id; });
    REQUIRE(resp);
    const json j = resp->j();
    CHECK(j["status"] == "ok");
    CHECK(j["command"] == cmd);
    CHECK(j["result"] == (ok ? "success" : "failure"));
    const std::string shown = render_one(last_command["value_template"], resp->payload);
    if (ok) CHECK(shown == cmd + ": success");
    else if (expect == "remote_start") CHECK(shown == cmd + ": failure (gun_busy)");
    else if (expect == "remote_stop") CHECK(shown == cmd + ": failure (not_charging)");
    else CHECK(shown == cmd + ": failure");
    const json attributes = json::parse(render_one(last_command["json_attributes_template"], resp->payload));
    CHECK(attributes["id"] == id);
    return *frame;
}

// The latest payload on `topic` (a filter ending in + matches any last level).
std::optional<Received> latest_on(Subscriber& sub, const std::string& topic) {
    const bool any = topic.size() > 1 && topic.compare(topic.size() - 2, 2, "/+") == 0;
    const std::string start = any ? topic.substr(0, topic.size() - 1) : topic;
    auto match = [&](const Received& r) { return any ? r.topic.rfind(start, 0) == 0 : r.topic == topic; };
    auto all = sub.wait_prefix(start, [&](const std::vector<Received>& v) { return std::any_of(v.begin(), v.end(), match); });
    for (auto it = all.rbegin(); it != all.rend(); ++it)
        if (match(*it)) return *it;
    return std::nullopt;
}

// The harness's client id (it-bridge-<port>) as the bridge names itself in topics.
std::string bridge_stem(const Bridge& b) { return "it-bridge-" + std::to_string(b.port); }

}  // namespace

TEST_CASE("homeassistant: every template renders in Jinja2 against the real payloads - classes, units and state classes are allowed") {
    Mosquitto broker;
    Subscriber sub(broker.url(), "#");
    Bridge bridge(broker, with(ha_on, {"--set", "publish.health_interval=1"}));  // a discovery prefix alone turns discovery on
    Charger c(bridge.port, pile);
    c.login();
    auto configs = wait_configs(sub, pile, entities(2));
    REQUIRE_MESSAGE(configs.size() == entities(2), bridge.read_log());
    // gun 1 charges (with a fault), gun 2 is idle; then a record of each
    c.send("realtime", charging_realtime(1));
    json idle2 = idle_realtime(230);
    idle2["gun"] = 2;
    c.send("realtime", idle2);
    json record1 = transaction_data(serial), record2 = transaction_data(pile + "022411241030000002");
    record2["gun"] = 2;
    c.send("transaction", record1);
    c.send("transaction", record2);
    REQUIRE(sub.wait("ykc/" + pile + "/meter"));
    REQUIRE(sub.wait("ykc/" + pile + "/gun/2/last_session"));
    // a press of the enable switch and of the power limit gives the work_params state
    std::set<std::string> ids;
    const json last_command = configs.at(prefix + "sensor/ykc_" + pile + "/last_command/config").j();
    const json enabled = configs.at(prefix + "switch/ykc_" + pile + "/enabled/config").j();
    const json limit = configs.at(prefix + "number/ykc_" + pile + "/power_limit/config").j();
    auto off = press(sub, c, enabled, "OFF", true, last_command, ids);
    CHECK(off["data"]["state"] == "disabled");
    CHECK(off["data"]["max_power"] == 100);  // nothing accepted before: the bridge fills 100 %
    auto set = press(sub, c, limit, "80", true, last_command, ids);
    CHECK(set["data"]["max_power"] == 80);
    CHECK(set["data"]["state"] == "disabled");  // what the pile accepted last: the switch is not turned back on
    REQUIRE(sub.wait("ykc/" + pile + "/work_params", [](const Received& r) { return r.j()["max_power"] == 80; }));
    REQUIRE(sub.wait("ykc/bridge/" + bridge_stem(bridge) + "/health"));

    std::map<std::string, std::string> shown;  // object -> what its state renders to
    std::set<std::string> unique_ids;
    json items = json::array();
    struct Check {
        std::string object, component, what;  // what: value, attributes, last_reset, availability
        json config;
    };
    std::vector<Check> checks;
    const auto stop_reasons = enum_names("transaction", "stop_reason");
    for (const auto& [topic, r] : configs) {
        CAPTURE(topic);
        CHECK(r.qos == 1);
        static const std::regex topic_re(R"(homeassistant/(sensor|binary_sensor|button|switch|number)/ykc_(\d{14})/([a-z0-9_]+)/config)");
        std::smatch m;
        REQUIRE(std::regex_match(topic, m, topic_re));
        const std::string component = m[1], object = m[3];
        const json j = r.j();
        CAPTURE(r.payload);
        for (const char* k : {"name", "unique_id", "device", "origin", "availability", "availability_mode"})
            CHECK_MESSAGE(j.contains(k), k);
        CHECK(unique_ids.insert(j.value("unique_id", "")).second);
        CHECK(j["unique_id"] == "ykc_" + pile + "_" + object);
        CHECK(j["device"]["identifiers"] == json::array({"ykc_" + pile}));
        CHECK_FALSE(j["device"].contains("manufacturer"));  // YKC is the protocol, not the vendor
        CHECK(j["device"]["model"] == "DC charger");
        CHECK(j["device"]["via_device"] == "ykc_bridge_" + bridge_stem(bridge));
        CHECK(j["device"]["sw_version"] == "IT1.0");
        CHECK(j["device"]["hw_version"] == "YKC protocol 1.6");
        CHECK(j["availability_mode"] == "all");
        for (const auto& a : j["availability"]) checks.push_back({object, component, "availability", a});
        if (component == "button" || component == "switch" || component == "number") {
            REQUIRE(j.contains("command_topic"));
            REQUIRE(j.contains("command_template"));
            CHECK_FALSE(j.contains("payload_press"));  // one payload for every press could not be told apart
            if (component == "button") continue;
        }
        REQUIRE(j.contains("state_topic"));
        REQUIRE(j.contains("value_template"));
        checks.push_back({object, component, "value", j});
        if (j.contains("json_attributes_template")) {
            CHECK(j["json_attributes_topic"] == j["state_topic"]);
            checks.push_back({object, component, "attributes", j});
        }
        if (j.contains("last_reset_value_template")) {
            CHECK(j["state_class"] == "total");
            checks.push_back({object, component, "last_reset", j});
        }
        if (component == "sensor" && j.contains("device_class")) {
            const std::string dc = j["device_class"];
            auto known = sensor_classes.find(dc);
            REQUIRE_MESSAGE(known != sensor_classes.end(), "unexpected device class " << dc);
            CHECK(j.value("unit_of_measurement", "") == known->second.unit);
            CHECK(known->second.state_classes.count(j.value("state_class", "")) == 1);
            if (dc == "enum") CHECK(j["options"].is_array());
        }
        if (component == "binary_sensor") CHECK(binary_classes.count(j.value("device_class", "")) == 1);
    }
    // every template against the latest payload on its topic
    for (const auto& ch : checks) {
        const json& j = ch.config;
        const std::string t = ch.what == "availability" ? j["topic"]
                              : ch.what == "attributes" ? j["json_attributes_topic"]
                                                        : j["state_topic"];
        auto got = latest_on(sub, t);
        REQUIRE_MESSAGE(got, "nothing arrived on " << t << " for " << ch.object);
        const std::string tmpl = ch.what == "availability" ? j["value_template"]
                                 : ch.what == "attributes" ? j["json_attributes_template"]
                                 : ch.what == "last_reset" ? j["last_reset_value_template"]
                                                           : j["value_template"];
        items.push_back({{"template", tmpl}, {"payload", got->payload}});
    }
    const auto out = render(items);
    for (std::size_t i = 0; i < checks.size(); ++i) {
        const auto& ch = checks[i];
        const std::string& v = out[i];
        const json& j = ch.config;
        CAPTURE(ch.object);
        CAPTURE(ch.what);
        CAPTURE(v);
        if (ch.what == "availability") {
            CHECK((v == "online" || v == "offline"));
            continue;
        }
        if (ch.what == "attributes") {
            CHECK(json::parse(v).is_object());
            continue;
        }
        if (ch.what == "last_reset") {
            CHECK(is_timestamp(v));
            continue;
        }
        shown[ch.object] = v;
        const std::string dc = j.value("device_class", "");
        if (ch.component == "binary_sensor" || ch.component == "switch") CHECK((v == "ON" || v == "OFF"));
        else if (ch.component == "number") CHECK(is_number(v));
        else if (dc == "enum") CHECK((v == "None" || std::count(j["options"].begin(), j["options"].end(), v) == 1));
        else if (dc == "timestamp") CHECK((v == "None" || is_timestamp(v)));
        else if (!dc.empty() || j.contains("state_class")) CHECK((v == "None" || is_number(v)));
    }
    // what the real payloads say
    CHECK(shown["gun1_connector"] == "charging");
    CHECK(shown["gun2_connector"] == "idle");
    CHECK(shown["gun1_status"] == "charging");
    CHECK(shown["gun1_problem"] == "ON");  // door_open
    CHECK(shown["gun2_problem"] == "OFF");
    CHECK(shown["gun1_charge"] == "ON");
    CHECK(shown["gun2_charge"] == "OFF");
    CHECK(shown["gun1_soc"] == "42");
    CHECK(shown["gun2_soc"] == "None");  // idle: not 0 %
    CHECK(shown["gun2_remaining_time"] == "None");
    CHECK(shown["gun2_battery_temperature"] == "None");
    CHECK(shown["gun1_battery_temperature"] == "31");
    CHECK(shown["gun1_meter"] == "1020.5");  // the record's meter_end
    CHECK(shown["gun2_meter"] == "1020.5");
    CHECK(shown["meter"] == "2041.0");  // the pile's: both guns
    CHECK(shown["gun1_last_energy"] == "20.5");
    CHECK(shown["gun1_last_amount"] == "26.65");
    CHECK(shown["gun1_last_stop_reason"] == "app_stop");
    CHECK(shown["gun1_last_start"] == "2024-11-24T10:30:00+08:00");
    CHECK(shown["gun1_last_end"] == "2024-11-24T11:00:00+08:00");
    CHECK(shown["gun1_last_card"] == "None");  // no card
    CHECK(shown["enabled"] == "OFF");
    CHECK(shown["power_limit"] == "80");
    CHECK(shown["connected"] == "ON");
    CHECK(configs.at(prefix + "sensor/ykc_" + pile + "/gun1_meter/config").j()["state_class"] == "total_increasing");
    CHECK_FALSE(configs.at(prefix + "sensor/ykc_" + pile + "/gun1_energy/config").j().contains("state_class"));
    CHECK(configs.at(prefix + "sensor/ykc_" + pile + "/gun1_last_stop_reason/config").j()["options"] == json(stop_reasons));
    CHECK(configs.at(prefix + "sensor/ykc_" + pile + "/gun1_status/config").j()["options"] == json(enum_names("realtime", "status")));

    // the bridge device: its health, what the chargers' via_device names
    Subscriber late(broker.url(), "homeassistant/#");
    auto bridge_configs = late.wait_prefix(prefix, [](const std::vector<Received>& v) {
        return latest(v, pile).size() >= entities(2) &&
               std::count_if(v.begin(), v.end(), [](const Received& r) { return r.topic.find("/ykc_bridge_") != std::string::npos; }) >= 4;
    });
    // retained: Home Assistant starting later gets them all
    CHECK(latest(bridge_configs, pile).size() == entities(2));
    CHECK(std::all_of(bridge_configs.begin(), bridge_configs.end(), [](const Received& r) { return r.retained; }));
    const std::string health = latest_on(sub, "ykc/bridge/" + bridge_stem(bridge) + "/health")->payload;
    int n = 0;
    for (const auto& r : bridge_configs) {
        if (r.topic.find("/ykc_bridge_") == std::string::npos) continue;
        ++n;
        const json j = r.j();
        CAPTURE(r.payload);
        CHECK(j["device"]["identifiers"] == json::array({"ykc_bridge_" + bridge_stem(bridge)}));
        CHECK(j["state_topic"] == "ykc/bridge/" + bridge_stem(bridge) + "/health");
        CHECK(j["expire_after"] == 3);  // publish.health_interval 1
        const std::string v = render_one(j["value_template"], health);
        CHECK(is_number(v));
    }
    CHECK(n == 4);
}

TEST_CASE("homeassistant: every button, switch and number reaches the charger as Home Assistant publishes it - a refusal shows") {
    Mosquitto broker;
    Subscriber sub(broker.url(), "#");
    Bridge bridge(broker, ha_on);
    Charger c(bridge.port, pile);
    c.login();
    auto configs = wait_configs(sub, pile, entities(2));
    REQUIRE(configs.size() == entities(2));
    const json last_command = configs.at(prefix + "sensor/ykc_" + pile + "/last_command/config").j();
    std::set<std::string> ids;
    int pressed = 0;
    for (const auto& [topic, r] : configs) {
        const json j = r.j();
        CAPTURE(topic);
        if (topic.find("/button/") != std::string::npos) {
            // a start refused (gun_busy), a stop refused (not_charging): visible, not silent
            for (bool ok : {true, false}) press(sub, c, j, "PRESS", ok, last_command, ids);
            ++pressed;
        } else if (topic.find("/switch/") != std::string::npos) {
            for (const char* v : {"ON", "OFF"})
                for (bool ok : {true, false}) {
                    auto frame = press(sub, c, j, v, ok, last_command, ids);
                    if (j["command_topic"].get<std::string>().find("/cmd/work_params_set") != std::string::npos)
                        CHECK(frame["data"]["state"] == (std::string(v) == "ON" ? "enabled" : "disabled"));
                }
            ++pressed;
        } else if (topic.find("/number/") != std::string::npos) {
            auto frame = press(sub, c, j, "55", true, last_command, ids);
            CHECK(frame["data"]["max_power"] == 55);
            ++pressed;
        }
    }
    CHECK(pressed == 3 + 2 * 3);  // reboot, enable switch, power limit; per gun: charge switch, start, stop
    // a power limit out of range is refused by the bridge, and that shows too
    sub.publish("ykc/" + pile + "/cmd/work_params_set", R"({"id":"ha:power_limit:x","max_power":20})");
    auto refused = sub.wait("ykc/" + pile + "/resp/work_params_set", [](const Received& r) { return r.j()["id"] == "ha:power_limit:x"; });
    REQUIRE(refused);
    CHECK(render_one(last_command["value_template"], refused->payload) ==
          "work_params_set: invalid (work_params_set: field max_power: out of range (30 … 100 %): 20)");
}

TEST_CASE("homeassistant: published once per login in a run, again when Home Assistant comes online and after a broker restart") {
    auto broker = std::make_unique<Mosquitto>();
    const int mqtt_port = broker->port;
    Bridge bridge(*broker,
                  with(ha_on, {"--set", "homeassistant.enabled=true", "--set", "mqtt.reconnect_min=1", "--set", "mqtt.reconnect_max=1"}));
    {
        Subscriber sub(broker->url(), "#");
        auto c = std::make_unique<Charger>(bridge.port, pile);
        c->login();
        REQUIRE(wait_configs(sub, pile, entities(2)).size() == entities(2));
        // a second login of the same pile in this run publishes nothing new: the realtime frame
        // published after it arrives with each config still seen once
        c = std::make_unique<Charger>(bridge.port, pile);
        c->login();
        c->send("realtime", idle_realtime(230));
        REQUIRE(sub.wait("ykc/" + pile + "/realtime"));
        auto once = sub.wait_prefix(
            prefix, [](const std::vector<Received>&) { return false; }, 300ms);
        CHECK(n_configs(once) == entities(2));
        // Home Assistant's birth message: everything again
        sub.publish("homeassistant/status", "online");
        auto twice = sub.wait_prefix(prefix, [](const std::vector<Received>& v) { return n_configs(v) >= 2 * entities(2); });
        CHECK(n_configs(twice) == 2 * entities(2));
        CHECK(latest(twice, pile).size() == entities(2));
    }
    // a broker that lost its retained messages gets them again after the reconnect
    broker.reset();
    Mosquitto again(mqtt_port);
    Subscriber late(again.url(), "homeassistant/#");
    auto back = late.wait_prefix(
        prefix, [](const std::vector<Received>& v) { return latest(v, pile).size() >= entities(2); }, 15000ms);
    CHECK_MESSAGE(latest(back, pile).size() == entities(2), bridge.read_log());
}

TEST_CASE("homeassistant: a pile that logs in with fewer guns loses the entities of the others") {
    Mosquitto broker;
    Subscriber sub(broker.url(), "#");
    Bridge bridge(broker, ha_on);
    auto c = std::make_unique<Charger>(bridge.port, pile);
    c->login();
    REQUIRE(wait_configs(sub, pile, entities(2)).size() == entities(2));
    c = std::make_unique<Charger>(bridge.port, pile);
    json one_gun = login_data();
    one_gun["gun_count"] = 1;
    c->send("login", one_gun, "0000");
    REQUIRE(c->receive_type("login_reply"));
    auto after = wait_configs(sub, pile, gun_objects.size(), true);
    for (const auto& [topic, r] : after) {
        CAPTURE(topic);
        CHECK(r.payload.empty() == (topic.find("/gun2_") != std::string::npos));
    }
    CHECK(count_where(so_far(sub), pile, false) == entities(1));
}

TEST_CASE("homeassistant: the configs of a pile unseen for forget_after are removed, a connected pile keeps its") {
    Mosquitto broker;
    Subscriber sub(broker.url(), "#");
    Bridge bridge(broker, with(ha_on, {"--set", "homeassistant.forget_after=2"}));
    Charger stays(bridge.port, pile);
    stays.login();
    auto leaves = std::make_unique<Charger>(bridge.port, pile2);
    leaves->login();
    REQUIRE(wait_configs(sub, pile, entities(2)).size() == entities(2));
    REQUIRE(wait_configs(sub, pile2, entities(2)).size() == entities(2));
    leaves.reset();
    REQUIRE(sub.wait("ykc/" + pile2 + "/availability", [](const Received& r) { return r.j()["state"] == "offline"; }));
    wait_configs(sub, pile2, entities(2), true);
    CHECK_MESSAGE(count_where(so_far(sub), pile2, true) == entities(2), bridge.read_log());
    CHECK(count_where(so_far(sub), pile, true) == 0);
    CHECK(find_line(bridge.read_log(), {"pile " + pile2 + ": Home Assistant discovery removed", "unseen for"}) != std::string::npos);
    // what is retained now: the connected pile only
    Subscriber late(broker.url(), "homeassistant/#");
    auto kept = late.wait_prefix(prefix, [](const std::vector<Received>& v) { return latest(v, pile).size() >= entities(2); });
    CHECK(latest(kept, pile).size() == entities(2));
    CHECK(latest(kept, pile2).empty());
}

namespace {
// A first bridge run in which both piles log in, stopped with SIGTERM; `state` and `port` carry
// its persistence to the next run.
void first_run(const Mosquitto& broker, const std::string& state, int port) {
    Subscriber sub(broker.url(), "homeassistant/#");
    Bridge bridge(broker, ha_on, state, port);
    Charger a(bridge.port, pile), b(bridge.port, pile2);
    a.login();
    b.login();
    REQUIRE(wait_configs(sub, pile, entities(2)).size() == entities(2));
    REQUIRE(wait_configs(sub, pile2, entities(2)).size() == entities(2));
    CHECK(bridge.proc->stop() == 0);
}

// The second run of a bridge with `options`, after a first_run with the same persistence; it
// subscribes to the discovery topics before the bridge starts.
struct SecondRun {
    Mosquitto broker;
    TempDir state;
    int port = free_port();
    std::unique_ptr<Subscriber> sub;
    std::unique_ptr<Bridge> bridge;
    explicit SecondRun(const std::vector<std::string>& options) {
        first_run(broker, state.path() + "/data", port);
        sub = std::make_unique<Subscriber>(broker.url(), "homeassistant/#");
        bridge = std::make_unique<Bridge>(broker, with(ha_on, options), state.path() + "/data", port);
    }
    // Every config of pile2 is removed, none of pile's.
    void check_only_pile2_removed() {
        wait_configs(*sub, pile2, entities(2), true);
        CHECK_MESSAGE(count_where(so_far(*sub), pile2, true) == entities(2), bridge->read_log());
        std::this_thread::sleep_for(300ms);
        CHECK(count_where(so_far(*sub), pile, true) == 0);
    }
};
}  // namespace

TEST_CASE("homeassistant: what a pile was is remembered across a restart - forgotten when it does not return") {
    SecondRun run({"--set", "homeassistant.forget_after=2"});
    Charger back(run.bridge->port, pile);
    back.login();
    run.check_only_pile2_removed();
}

TEST_CASE("homeassistant: the configs of a pile no longer in policies.allowlist are removed at start") {
    SecondRun run({"--set", "policies.login=allowlist", "--set", "policies.allowlist=" + pile, "--set", "homeassistant.forget_after=0"});
    run.check_only_pile2_removed();
    CHECK(find_line(run.bridge->read_log(), {"pile " + pile2 + ": Home Assistant discovery removed", "policies.allowlist"}) !=
          std::string::npos);
}

TEST_CASE("homeassistant: off by default - no discovery, no subscription to homeassistant/status") {
    Mosquitto broker;
    Subscriber sub(broker.url(), "#");
    Bridge bridge(broker);
    Charger c(bridge.port, pile);
    c.login();
    c.send("realtime", idle_realtime(230));
    REQUIRE(sub.wait("ykc/" + pile + "/gun/1/state"));
    CHECK(sub.wait_prefix(
                 prefix, [](const std::vector<Received>&) { return false; }, 300ms)
              .empty());
    CHECK(bridge.read_log().find("homeassistant") == std::string::npos);
}

namespace {
// A real five-segment 0x3B (tests/fixtures/real-frames.tsv, westboy/lambda-cloud-parent; also in
// test_transaction.cpp): pile 18120000000170, gun 1, every sum consistent.
const std::string real_pile = "18120000000170";
const std::string real_record =
    "68B217F3003B1812000000017001159733514595532818120000000170019065170A0A0A19E880060B0A0A19E022020000000000000000000000000048E8010000"
    "0000000000000000000000D853010000000000000000000000000050C300007E4E01000000000030A70000F8A700001E320000000000001815000076A91E0800"
    "122A2008009C8001000000000048BC00004C4233373041444E32534A31383832383801E880060B0A0A194002607F8F42D86D1BBD5A";

json charging(const std::string& serial, double energy) {
    json r = charging_realtime(1);
    r["serial"] = serial;
    r["energy"] = energy;
    return r;
}
}  // namespace

TEST_CASE("homeassistant: the lifetime meter equals the last meter_end - never lower across sessions, late frames and a restart") {
    Mosquitto broker;
    Subscriber sub(broker.url(), "#");
    TempDir state;
    const int port = free_port();
    const std::string meter = "ykc/" + real_pile + "/gun/1/meter";
    const std::string s2 = real_pile + "01241124103000" + "0002", s3 = real_pile + "01241125103000" + "0003";
    double m1 = 0;
    {
        Bridge bridge(broker, ha_on, state.path() + "/data", port);
        Charger c(bridge.port, real_pile);
        c.login();
        // a session before any record: the meter's reading is unknown, nothing is published
        c.send("realtime", charging("0", 7));
        REQUIRE(sub.wait("ykc/" + real_pile + "/realtime"));
        CHECK_FALSE(sub.wait(meter, {}, 500ms));
        // the real record: the meter is its meter_end
        c.write_bytes(*ykc::from_hex(real_record));
        auto t = sub.wait("ykc/" + real_pile + "/transaction");
        REQUIRE(t);
        REQUIRE(t->j()["check"] == "ok");
        m1 = t->j()["data"]["meter_end"].get<double>();
        auto got = sub.wait(meter);
        REQUIRE_MESSAGE(got, bridge.read_log());
        CHECK(got->j()["energy"].get<double>() == doctest::Approx(m1).epsilon(1e-12));
        CHECK(got->j()["meter_end"].get<double>() == doctest::Approx(m1).epsilon(1e-12));
        auto last = sub.wait("ykc/" + real_pile + "/gun/1/last_session");
        REQUIRE(last);
        CHECK(last->j()["energy"] == t->j()["data"]["total_energy"]);
        CHECK(last->j()["amount"] == t->j()["data"]["total_amount"]);
        CHECK(last->j()["stop_reason"] == t->j()["data"]["stop_reason"]);
        // the next session: the meter moves with it, and its record sets it to its meter_end
        c.send("realtime", charging(s2, 5));
        auto moving = sub.wait(meter, [](const Received& r) { return r.j().contains("session_energy"); });
        REQUIRE(moving);
        CHECK(moving->j()["energy"].get<double>() == doctest::Approx(m1 + 5).epsilon(1e-12));
        json rec2 = transaction_data(s2);
        rec2["meter_start"] = m1;
        rec2["meter_end"] = m1 + 20.5;
        c.send("transaction", rec2);
        auto second = sub.wait(meter, [&](const Received& r) { return r.j().value("serial", "") == s2; });
        REQUIRE_MESSAGE(second, bridge.read_log());
        CHECK(second->j()["energy"].get<double>() == doctest::Approx(m1 + 20.5).epsilon(1e-12));
        CHECK(bridge.proc->stop() == 0);
    }
    // a restart: a late frame of the recorded session and the old record again move nothing; the
    // next session starts from the kept meter
    const std::size_t before = sub.count_on(meter);
    Bridge again(broker, ha_on, state.path() + "/data", port);
    Charger c(again.port, real_pile);
    c.login();
    c.send("realtime", charging(s2, 20.5));
    c.write_bytes(*ykc::from_hex(real_record));
    REQUIRE(c.receive_type("transaction_reply"));
    std::this_thread::sleep_for(500ms);
    CHECK(sub.count_on(meter) == before);
    c.send("realtime", charging(s3, 1));
    auto third = sub.wait(meter, [&](const Received& r) { return r.j()["energy"].get<double>() > m1 + 21; });
    REQUIRE_MESSAGE(third, again.read_log());
    CHECK(third->j()["session_energy"] == 1);
    auto all = sub.wait_prefix(meter, [](const std::vector<Received>&) { return true; });
    double top = 0;
    for (const auto& r : all) {
        if (r.topic != meter) continue;
        const double e = r.j()["energy"].get<double>();
        CHECK_MESSAGE(e >= top, "the meter went down from " << top << " to " << e);
        top = std::max(top, e);
    }
    CHECK(top == doctest::Approx(m1 + 21.5).epsilon(1e-12));
    // a bridge without the ledger file (a new container, another bridge of several) reads the
    // retained meter: the next session does not start it lower
    c.close();
    Bridge fresh(broker, ha_on);
    REQUIRE_MESSAGE(fresh.log_shows("pile " + real_pile + ": gun 1: meter"), fresh.read_log());
    Charger moved(fresh.port, real_pile);
    moved.login();
    moved.send("realtime", charging(real_pile + "01241126103000" + "0004", 2));
    auto fourth = sub.wait(meter, [&](const Received& r) { return r.j()["energy"].get<double>() > m1 + 22; });
    REQUIRE_MESSAGE(fourth, fresh.read_log());
    CHECK(fourth->j()["energy"].get<double>() == doctest::Approx(m1 + 22.5).epsilon(1e-12));  // meter_end m1 + 20.5, plus 2
    top = fourth->j()["energy"].get<double>();
    // retained: what Home Assistant reads when it starts
    Subscriber late(broker.url(), meter);
    auto kept = late.wait(meter);
    REQUIRE(kept);
    CHECK(kept->retained);
    CHECK(kept->j()["energy"].get<double>() == doctest::Approx(top).epsilon(1e-12));
}

TEST_CASE("homeassistant: enabled true alone turns discovery on under homeassistant/") {
    Mosquitto broker;
    Subscriber sub(broker.url(), "#");
    Bridge bridge(broker, {"--set", "homeassistant.enabled=true"});
    Charger c(bridge.port, pile);
    c.login();
    CHECK_MESSAGE(wait_configs(sub, pile, entities(2)).size() == entities(2), bridge.read_log());
}

TEST_CASE("homeassistant: malformed retained meters on the broker are ignored - the bridge runs and the record sets the meter") {
    Mosquitto broker;
    Subscriber sub(broker.url(), "#");
    // one per gun topic (the broker keeps one retained message per topic)
    const std::vector<std::string> junk = {"not json",
                                           R"({"energy":"abc","meter_end":1})",
                                           R"({"energy":1,"meter_end":1,"serial":5})",
                                           R"({"energy":1e308,"meter_end":1e308})",
                                           "[]",
                                           R"({"energy":-5,"meter_end":null})"};
    for (std::size_t i = 0; i < junk.size(); ++i) sub.publish("ykc/" + pile + "/gun/" + std::to_string(i + 1) + "/meter", junk[i], true);
    Bridge bridge(broker, ha_on);
    REQUIRE(bridge.log_shows("mqtt: connected"));
    Charger c(bridge.port, pile);
    c.login();
    c.send("transaction", transaction_data(serial));
    auto m = sub.wait("ykc/" + pile + "/gun/1/meter", [](const Received& r) { return r.payload.find("1020.5") != std::string::npos; });
    REQUIRE_MESSAGE(m, bridge.read_log());
    CHECK(m->j()["energy"] == 1020.5);
    CHECK(m->j()["serial"] == serial);
}

TEST_CASE(
    "homeassistant: the power limit alone keeps the pile disabled when another bridge disabled it - read from the retained work_params") {
    Mosquitto broker;
    Subscriber sub(broker.url(), "#");
    sub.publish("ykc/" + pile + "/work_params", R"({"state":"disabled","max_power":60,"ts":"2024-05-01T08:30:00+08:00"})", true);
    sub.publish("ykc/" + pile2 + "/work_params", R"({"state":5,"max_power":"x"})", true);  // not what a pile accepts: ignored
    Bridge bridge(broker, ha_on);
    REQUIRE_MESSAGE(bridge.log_shows("pile " + pile + ": work parameters"), bridge.read_log());
    Charger c(bridge.port, pile), c2(bridge.port, pile2);
    c.login();
    c2.login();
    sub.publish("ykc/" + pile + "/cmd/work_params_set", R"({"id":"p","max_power":80})");
    auto frame = c.receive_type("work_params_set");
    REQUIRE(frame);
    CHECK((*frame)["data"]["state"] == "disabled");
    CHECK((*frame)["data"]["max_power"] == 80);
    sub.publish("ykc/" + pile2 + "/cmd/work_params_set", R"({"id":"q","max_power":70})");
    auto frame2 = c2.receive_type("work_params_set");
    REQUIRE(frame2);
    CHECK((*frame2)["data"]["state"] == "enabled");  // nothing known: the defaults
}
