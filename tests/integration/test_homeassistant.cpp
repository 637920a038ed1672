// Home Assistant MQTT discovery: the real ykc-bridge against a real mosquitto, chargers over TCP,
// every config payload checked against what Home Assistant's discovery requires and against the
// state payloads its templates read.
#include <map>
#include <regex>
#include <set>

#include "harness.hpp"

using namespace it;

namespace {

const std::string pile2 = "32010200000002";
const std::string prefix = "homeassistant/";
// per gun: 12 sensors and 2 buttons; per pile: the connectivity sensor and the reboot button
const std::vector<std::string> gun_objects = {"status", "plugged",     "voltage",       "current",        "power",  "energy", "amount",
                                              "soc",    "temperature", "charging_time", "remaining_time", "faults", "start",  "stop"};
std::size_t entities(int guns) { return 2 + guns * gun_objects.size(); }

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

// How many of `v` are discovery configs (not e.g. homeassistant/status).
std::size_t n_configs(const std::vector<Received>& v) {
    return static_cast<std::size_t>(std::count_if(v.begin(), v.end(), [](const Received& r) {
        return r.topic.size() > 7 && r.topic.compare(r.topic.size() - 7, 7, "/config") == 0;
    }));
}

// Every discovery message so far.
std::vector<Received> so_far(Subscriber& sub) {
    return sub.wait_prefix(prefix, [](const std::vector<Received>&) { return true; });
}

// The keys a template reads as value_json.<key>.
std::vector<std::string> template_keys(const std::string& t) {
    static const std::regex re(R"(value_json\.([A-Za-z_][A-Za-z0-9_]*))");
    std::vector<std::string> keys;
    for (auto m = std::sregex_iterator(t.begin(), t.end(), re); m != std::sregex_iterator(); ++m) keys.push_back((*m)[1]);
    return keys;
}

// `topic` really receives JSON that has every key `tmpl` reads.
void check_reads(Subscriber& sub, const std::string& topic, const std::string& tmpl) {
    CAPTURE(topic);
    CAPTURE(tmpl);
    const auto keys = template_keys(tmpl);
    CHECK_MESSAGE(!keys.empty(), "the template reads no value_json key");
    auto got = sub.wait(topic, [](const Received& r) { return !r.payload.empty(); });
    REQUIRE_MESSAGE(got, "nothing arrived on " << topic);
    const json j = got->j();
    for (const auto& k : keys) CHECK_MESSAGE(j.contains(k), "no key " << k << " in " << got->payload);
}

json charging_realtime(int gun) {
    json r = idle_realtime(380);
    r["gun"] = gun;
    r["status"] = "charging";
    r["plugged"] = true;
    r["current"] = 100.5;
    r["soc"] = 42;
    r["energy"] = 3.25;
    r["amount"] = 4.5;
    r["charging_minutes"] = 12;
    r["remaining_minutes"] = 40;
    r["hardware_faults"] = json::array({"door_open"});
    return r;
}

std::vector<std::string> status_names() {
    std::vector<std::string> names;
    for (const auto& [code, name] : codec().catalogue().find("realtime")->field("status")->enums->entries) names.push_back(name);
    return names;
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
    {"energy", {"kWh", {"total", "total_increasing"}}},
    {"monetary", {"CNY", {"", "total"}}},
    {"battery", {"%", {"measurement"}}},
    {"temperature", {"°C", {"measurement"}}},
    {"duration", {"min", {"measurement", "total", "total_increasing"}}},
    {"enum", {"", {""}}},
};

// The charger answers the command a button sent, and the bridge reports it ok to the backend.
void press(Subscriber& sub, Charger& c, const json& config) {
    const std::string command_topic = config["command_topic"];
    const std::string cmd = command_topic.substr(command_topic.rfind("/cmd/") + 5);
    CAPTURE(command_topic);
    const json payload = json::parse(config["payload_press"].get<std::string>());
    CHECK(payload["id"] == "ha");
    sub.publish(command_topic, config["payload_press"].get<std::string>());
    auto frame = c.receive_type(cmd);
    REQUIRE_MESSAGE(frame, "the charger got no " << cmd);
    const json& data = (*frame)["data"];
    const int gun = payload.value("gun", 0);
    if (cmd == "remote_start") {
        CHECK(data["gun"] == gun);
        CHECK(data["serial"].get<std::string>().size() == 32);  // the bridge's defaults
        c.send("remote_start_reply", {{"serial", data["serial"]}, {"gun", gun}, {"result", "success"}, {"failure_reason", "none"}},
               (*frame)["seq"]);
    } else if (cmd == "remote_stop") {
        CHECK(data["gun"] == gun);
        c.send("remote_stop_reply", {{"gun", gun}, {"result", "success"}}, (*frame)["seq"]);
    } else {
        REQUIRE(cmd == "reboot");
        c.send("reboot_reply", {{"result", "success"}}, (*frame)["seq"]);
    }
    auto resp = sub.wait(command_topic.substr(0, command_topic.rfind("/cmd/")) + "/resp/" + cmd, [&](const Received& r) {
        const json j = r.j();
        return j["id"] == "ha" && (!gun || j["reply"]["data"].value("gun", 0) == gun);
    });
    REQUIRE(resp);
    CHECK_MESSAGE(resp->j()["status"] == "ok", resp->payload);
}

}  // namespace

TEST_CASE(
    "homeassistant: every config is complete, unique and reads keys its state topic really carries - the buttons are valid commands") {
    Mosquitto broker;
    Subscriber sub(broker.url(), "#");
    Bridge bridge(broker, ha_on);  // a discovery prefix alone turns discovery on
    Charger c(bridge.port, pile);
    c.login();
    auto configs = wait_configs(sub, pile, entities(2));
    REQUIRE_MESSAGE(configs.size() == entities(2), bridge.read_log());
    c.send("realtime", charging_realtime(1));
    c.send("realtime", charging_realtime(2));

    std::set<std::string> unique_ids, objects;
    std::vector<json> buttons;
    const auto statuses = status_names();
    for (const auto& [topic, r] : configs) {
        CAPTURE(topic);
        CHECK(r.qos == 1);
        // <prefix>/<component>/ykc_<pile>/<object>/config
        static const std::regex topic_re(R"(homeassistant/(sensor|binary_sensor|button)/ykc_(\d{14})/([a-z0-9_]+)/config)");
        std::smatch m;
        REQUIRE(std::regex_match(topic, m, topic_re));
        const std::string component = m[1], object = m[3];
        objects.insert(object);
        const json j = r.j();
        CAPTURE(r.payload);
        for (const char* k : {"name", "unique_id", "device", "origin", "availability", "availability_mode"})
            CHECK_MESSAGE(j.contains(k), k);
        CHECK(unique_ids.insert(j.value("unique_id", "")).second);
        CHECK(j["unique_id"] == "ykc_" + pile + "_" + object);
        CHECK(j["device"]["identifiers"] == json::array({"ykc_" + pile}));
        CHECK(j["device"]["manufacturer"] == "YKC");
        CHECK(j["device"]["model"] == "DC pile");
        CHECK(j["device"]["sw_version"] == "IT1.0");
        CHECK(j["device"]["hw_version"] == "YKC protocol 1.6");
        CHECK(j["origin"]["name"] == "ykc-bridge");
        CHECK(j["origin"]["sw_version"].is_string());
        CHECK(j["availability_mode"] == "all");
        REQUIRE(j["availability"].is_array());
        CHECK(j["availability"][0]["topic"] == "ykc/bridge/state");
        if (object != "connected") CHECK(j["availability"][1]["topic"] == "ykc/" + pile + "/availability");
        for (const auto& a : j["availability"]) check_reads(sub, a["topic"], a["value_template"]);
        if (component == "button") {
            REQUIRE(j.contains("command_topic"));
            REQUIRE(j.contains("payload_press"));
            buttons.push_back(j);
            continue;
        }
        REQUIRE(j.contains("state_topic"));
        REQUIRE(j.contains("value_template"));
        check_reads(sub, j["state_topic"], j["value_template"]);
        if (j.contains("json_attributes_template")) check_reads(sub, j["json_attributes_topic"], j["json_attributes_template"]);
        if (component != "sensor" || !j.contains("device_class")) continue;
        const std::string dc = j["device_class"];
        auto known = sensor_classes.find(dc);
        REQUIRE_MESSAGE(known != sensor_classes.end(), "unexpected device class " << dc);
        CHECK(j.value("unit_of_measurement", "") == known->second.unit);
        CHECK(known->second.state_classes.count(j.value("state_class", "")) == 1);
        if (dc == "enum") CHECK(j["options"] == json(statuses));
    }
    for (const std::string p : {"connected", "reboot"}) CHECK_MESSAGE(objects.count(p), p);
    for (int gun : {1, 2})
        for (const auto& o : gun_objects) CHECK_MESSAGE(objects.count("gun" + std::to_string(gun) + "_" + o), "gun " << gun << " " << o);
    CHECK(configs.at(prefix + "sensor/ykc_" + pile + "/gun1_energy/config").j()["state_class"] == "total_increasing");
    CHECK(buttons.size() == 5);
    for (const auto& b : buttons) press(sub, c, b);

    // retained: a subscriber that comes later (Home Assistant starting) gets them all
    Subscriber late(broker.url(), "homeassistant/#");
    auto kept = late.wait_prefix(prefix, [](const std::vector<Received>& v) { return v.size() >= entities(2); });
    CHECK(kept.size() == entities(2));
    CHECK(std::all_of(kept.begin(), kept.end(), [](const Received& r) { return r.retained; }));
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
    auto kept = late.wait_prefix(prefix, [](const std::vector<Received>& v) { return v.size() >= entities(2); });
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
