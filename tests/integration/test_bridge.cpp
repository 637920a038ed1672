// The real ykc-bridge against a real mosquitto, chargers over real TCP.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include "harness.hpp"

using namespace it;

namespace {
const std::string pile = "32010200000001";
const std::string serial = "32010200000001012411241030000001";
bool has_state(const Received& r, const std::string& s) { return r.j().value("state", "") == s; }

// A transaction record 0x3B of gun 1: 20.5 kWh, 26.65 yuan.
json transaction_data(const std::string& serial) {
    return {{"serial", serial}, {"gun", 1}, {"start_time", "2024-11-24T10:30:00+08:00"}, {"end_time", "2024-11-24T11:00:00+08:00"},
            {"sharp_price", 1.3}, {"sharp_energy", 0}, {"sharp_energy_with_loss", 0}, {"sharp_amount", 0},
            {"peak_price", 1.3}, {"peak_energy", 0}, {"peak_energy_with_loss", 0}, {"peak_amount", 0},
            {"flat_price", 1.3}, {"flat_energy", 20.5}, {"flat_energy_with_loss", 20.5}, {"flat_amount", 26.65},
            {"valley_price", 1.3}, {"valley_energy", 0}, {"valley_energy_with_loss", 0}, {"valley_amount", 0},
            {"meter_start", 1000}, {"meter_end", 1020.5}, {"total_energy", 20.5}, {"total_energy_with_loss", 20.5},
            {"total_amount", 26.65}, {"vin", ""}, {"trade_type", "app"}, {"trade_time", "2024-11-24T11:00:00+08:00"},
            {"stop_reason", "app_stop"}, {"card", "0"}};
}
// The bridge's own refusal of a card request (policies.card_auth_timeout): a 0x32 failure that
// echoes `seq`. Returns it.
json expect_card_refusal(Charger& c, const std::string& seq) {
    auto refused = c.receive_type("card_auth_reply", 4000ms);
    REQUIRE(refused);
    CHECK((*refused)["seq"] == seq);
    CHECK((*refused)["data"]["result"] == "failure");
    return *refused;
}

// A broker, a subscriber to everything, a bridge and a charger of `pile` logged in and announced online.
struct OnlinePile {
    Mosquitto broker;
    Subscriber sub{broker.url()};
    Bridge bridge;
    Charger c{bridge.port, pile};
    explicit OnlinePile(std::vector<std::string> extra = {}) : bridge(broker, std::move(extra)) {
        c.login();
        REQUIRE(sub.wait("ykc/" + pile + "/availability"));
    }
};
// A logged-in charger on a bridge whose broker has gone away. The bridge reconnects every 2 s,
// so a test's subscriber is on the broker that comes back (on mqtt_port) before the bridge.
struct BrokerGone {
    std::unique_ptr<Mosquitto> broker = std::make_unique<Mosquitto>();
    const int mqtt_port = broker->port;
    Bridge bridge{*broker, {"--set", "mqtt.reconnect_min=2", "--set", "mqtt.reconnect_max=2"}};
    Charger c{bridge.port, pile};
    BrokerGone() {
        c.login();
        REQUIRE_MESSAGE(bridge.log_shows("mqtt: connected"), bridge.read_log());
        broker.reset();
        REQUIRE_MESSAGE(bridge.log_shows("mqtt: connection lost"), bridge.read_log());
    }
};
// n realtime frames of `pile` back to back (voltage i, seq i), for one write
std::vector<std::uint8_t> realtime_burst(int n) {
    std::vector<std::uint8_t> burst;
    for (int i = 0; i < n; ++i) {
        char seq[16];
        std::snprintf(seq, sizeof seq, "%02X%02X", static_cast<unsigned>(i & 0xFF), static_cast<unsigned>((i >> 8) & 0xFF));
        const auto f = codec().encode({{"type", "realtime"}, {"pile", pile}, {"seq", seq}, {"data", idle_realtime(i)}});
        burst.insert(burst.end(), f.begin(), f.end());
    }
    return burst;
}
}  // namespace

TEST_CASE("login: reply, retained availability with firmware and protocol version, login frame published") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker);
    REQUIRE(sub.wait("ykc/bridge/state", [](const Received& r) { return has_state(r, "online"); }));
    Charger c(bridge.port, pile);
    c.login();
    auto avail = sub.wait("ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); });
    REQUIRE(avail);
    CHECK(avail->j()["firmware"] == "IT1.0");
    CHECK(avail->j()["protocol_version"] == "1.6");
    auto login = sub.wait("ykc/" + pile + "/login");
    REQUIRE(login);
    CHECK(login->j()["data"]["program_version"] == "IT1.0");
    CHECK(login->j().contains("ts"));
    // a late subscriber sees the retained availability
    Subscriber late(broker.url());
    auto retained = late.wait("ykc/" + pile + "/availability");
    REQUIRE(retained);
    CHECK(retained->retained);
    // time sync follows the login
    auto ts = c.receive_type("time_sync");
    REQUIRE(ts);
    CHECK((*ts)["data"]["time"].is_string());
}

TEST_CASE("time sync: after login and again every policies.time_sync_interval - off with policies.time_sync false") {
    Mosquitto broker;
    {
        Bridge bridge(broker, {"--set", "policies.time_sync_interval=5"});
        Charger c(bridge.port, pile);
        c.login();
        auto first = c.receive_type("time_sync");
        REQUIRE(first);
        const auto at_first = std::chrono::steady_clock::now();
        // the next one once the interval has passed (checked at least every interval)
        auto second = c.receive_type("time_sync", 15000ms);
        REQUIRE_MESSAGE(second, bridge.read_log());
        CHECK(std::chrono::steady_clock::now() - at_first >= 4500ms);  // not before the interval: the pile's clock is not set twice
        CHECK((*second)["data"]["time"].get<std::string>() > (*first)["data"]["time"].get<std::string>());
        CHECK((*second)["seq"] != (*first)["seq"]);
        // a heartbeat is still answered in between: the sync is not a session of its own
        c.send("heartbeat", {{"gun", 1}, {"gun_status", "normal"}});
        CHECK(c.receive_type("heartbeat_reply"));
    }
    {
        Bridge bridge(broker, {"--set", "policies.time_sync=false"});
        Charger c(bridge.port, pile);
        c.login();
        c.send("heartbeat", {{"gun", 1}, {"gun_status", "normal"}});
        bool answered = false;
        int frames = 0;
        for (auto f = c.receive(1500ms); f && frames < 20; f = c.receive(500ms), ++frames) {  // every frame after the login reply
            CHECK((*f)["type"] != "time_sync");
            answered = answered || (*f)["type"] == "heartbeat_reply";
        }
        CHECK(answered);
    }
}

TEST_CASE("heartbeat answered with the request's seq bytes - billing model verify and request answered") {
    Mosquitto broker;
    Bridge bridge(broker);
    Charger c(bridge.port, pile);
    c.login();
    c.send("heartbeat", {{"gun", 2}, {"gun_status", "normal"}}, "0A0B");
    auto hb = c.receive_type("heartbeat_reply");
    REQUIRE(hb);
    CHECK((*hb)["seq"] == "0A0B");
    CHECK((*hb)["data"]["gun"] == 2);
    c.send("billing_model_verify", {{"model_id", "0000"}}, "0C00");
    auto v = c.receive_type("billing_model_verify_reply");
    REQUIRE(v);
    CHECK((*v)["data"]["result"] == "mismatch");
    CHECK((*v)["seq"] == "0C00");
    c.send("billing_model_request", json::object(), "0D00");
    auto m = c.receive_type("billing_model");
    REQUIRE(m);
    CHECK((*m)["seq"] == "0D00");
    CHECK((*m)["data"]["model_id"] == "0100");
    CHECK((*m)["data"]["sharp_energy_price"].dump() == "1.2");
    CHECK((*m)["data"]["periods"].size() == 48);
}

TEST_CASE("heartbeats that arrive together are answered in order, also more than one write and more than the output queue holds") {
    Mosquitto broker;
    Bridge bridge(broker);
    Charger c(bridge.port, pile);
    c.login();
    // a pile's two guns in one segment (their answers go out in one write), then 200 at once:
    // more than the 64 answers one write carries, and more than limits.output_queue (64), which
    // counts only what the kernel has no room for - this charger reads
    const auto seq_of = [](int i, int n) {  // frame i of a write of n: the two bytes differ for each
        char seq[8];
        std::snprintf(seq, sizeof seq, "%02X%02X", static_cast<unsigned>(i & 0xFF), static_cast<unsigned>(n & 0xFF));
        return std::string(seq);
    };
    for (const int n : {2, 200}) {
        std::vector<std::uint8_t> bytes;
        for (int i = 0; i < n; ++i) {
            const auto f = codec().encode({{"type", "heartbeat"}, {"pile", pile}, {"seq", seq_of(i, n)}, {"data", {{"gun", 1 + i % 2}, {"gun_status", "normal"}}}});
            bytes.insert(bytes.end(), f.begin(), f.end());
        }
        c.write_bytes(bytes);
        for (int i = 0; i < n; ++i) {
            auto reply = c.receive_type("heartbeat_reply");
            REQUIRE_MESSAGE(reply, "answer " << i << " of " << n);
            CHECK((*reply)["seq"] == seq_of(i, n));
            CHECK((*reply)["data"]["gun"] == 1 + i % 2);
        }
    }
    // and a frame on its own is answered at once
    c.send("heartbeat", {{"gun", 1}, {"gun_status", "normal"}}, "0F00");
    auto last = c.receive_type("heartbeat_reply");
    REQUIRE(last);
    CHECK((*last)["seq"] == "0F00");
}

TEST_CASE("realtime is published and kept as the retained gun state") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker);
    Charger c(bridge.port, pile);
    c.login();
    c.send("realtime", {{"serial", serial}, {"gun", 1}, {"status", "charging"}, {"gun_returned", "no"}, {"plugged", true},
                        {"voltage", 380.5}, {"current", 120.1}, {"gun_temperature", 35}, {"gun_line_code", "0"}, {"soc", 55},
                        {"battery_max_temperature", 30}, {"charging_minutes", 12}, {"remaining_minutes", 30},
                        {"energy", 12.3456}, {"energy_with_loss", 12.3456}, {"amount", 15.02}, {"hardware_faults", json::array()}});
    auto rt = sub.wait("ykc/" + pile + "/realtime");
    REQUIRE(rt);
    CHECK(rt->j()["data"]["voltage"].dump() == "380.5");
    auto state = sub.wait("ykc/" + pile + "/gun/1/state");
    REQUIRE(state);
    CHECK(state->retained == false);  // live delivery; the retained copy is checked below
    CHECK(state->j()["status"] == "charging");
    CHECK(state->j()["energy"].dump() == "12.3456");
    Subscriber late(broker.url());
    auto kept = late.wait("ykc/" + pile + "/gun/1/state");
    REQUIRE(kept);
    CHECK(kept->retained);
}

TEST_CASE("gun state on_change: a frame that repeats the last values publishes no state - every_frame publishes each") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    const std::string state_topic = "ykc/" + pile + "/gun/1/state";
    {
        Bridge bridge(broker, {"--set", "publish.health_interval=1"});  // gun_state: on_change by default
        Charger c(bridge.port, pile);
        c.login();
        // (one value at a time: values queued behind each other are coalesced anyway)
        auto processed = [&] {  // the frames before it are handled: the heartbeat is answered after them
            c.send("heartbeat", {{"gun", 1}, {"gun_status", "normal"}});
            REQUIRE(c.receive_type("heartbeat_reply"));
            std::this_thread::sleep_for(200ms);
        };
        c.send("realtime", idle_realtime(220));
        REQUIRE(sub.wait(state_topic, [](const Received& r) { return r.j()["voltage"] == 220; }));
        c.send("realtime", idle_realtime(220));
        c.send("realtime", idle_realtime(220));
        processed();
        CHECK(sub.count_on(state_topic) == 1);
        c.send("realtime", idle_realtime(221));
        REQUIRE(sub.wait(state_topic, [](const Received& r) { return r.j()["voltage"] == 221; }));
        CHECK(sub.wait(state_topic, [](const Received& r) { return r.j()["ts"].is_string(); }));
        c.send("realtime", idle_realtime(221));
        c.send("realtime", [] { json d = idle_realtime(221); d["gun"] = 2; return d; }());  // another gun: its own state
        REQUIRE(sub.wait("ykc/" + pile + "/gun/2/state"));
        processed();
        CHECK(sub.count_on(state_topic) == 2);
        CHECK(sub.count_on("ykc/" + pile + "/realtime") == 6);  // every frame is published
        // a new connection of the pile publishes its first frame again, even with the same values
        c.close();
        REQUIRE(sub.wait("ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "offline"); }));
        Charger again(bridge.port, pile);
        again.login();
        again.send("realtime", idle_realtime(221));
        CHECK(sub.wait_all(state_topic, [](const auto& rs) { return rs.size() == 3; }).size() == 3);
        // the health report counts what was held back
        auto health = sub.wait("ykc/bridge/health", [](const Received& r) { return r.j().value("gun_states_unchanged", 0) == 3; });
        CHECK_MESSAGE(health, bridge.read_log());
    }
    {
        Bridge bridge(broker, {"--set", "publish.gun_state=every_frame"});
        const std::string other = "32010200000002";
        Charger c(bridge.port, other);
        c.login();
        for (std::size_t i = 1; i <= 3; ++i) {
            c.send("realtime", idle_realtime(220));
            CHECK(sub.wait_all("ykc/" + other + "/gun/1/state", [i](const auto& rs) { return rs.size() == i; }).size() == i);
        }
    }
}

TEST_CASE("gun state: a burst of changing frames publishes the first at once and the newest after publish.gun_state_min_interval_ms") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker, {"--set", "publish.gun_state_min_interval_ms=1500"});
    Charger c(bridge.port, pile);
    c.login();
    const std::string state_topic = "ykc/" + pile + "/gun/1/state";
    for (int v = 300; v < 310; ++v) c.send("realtime", idle_realtime(v));
    c.send("heartbeat", {{"gun", 1}, {"gun_status", "normal"}});
    REQUIRE(c.receive_type("heartbeat_reply"));  // all ten handled
    const auto handled = std::chrono::steady_clock::now();
    auto first = sub.wait(state_topic);
    REQUIRE(first);
    CHECK(first->j()["voltage"] == 300);
    // the newest values follow once the interval has passed; what came in between is not published
    auto last = sub.wait(state_topic, [](const Received& r) { return r.j()["voltage"] == 309; }, 10000ms);
    REQUIRE_MESSAGE(last, bridge.read_log());
    CHECK(std::chrono::steady_clock::now() - handled >= 1000ms);  // held, not sent with the burst
    std::this_thread::sleep_for(300ms);
    CHECK(sub.count_on(state_topic) == 2);
    CHECK(sub.count_on("ykc/" + pile + "/realtime") == 10);  // every frame itself is published
    // a held state is not lost at shutdown: 310 comes within the interval after 309, is held,
    // and goes out when the bridge stops (well before the next flush)
    c.send("realtime", idle_realtime(310));
    c.send("heartbeat", {{"gun", 1}, {"gun_status", "normal"}});
    REQUIRE(c.receive_type("heartbeat_reply"));
    CHECK(bridge.proc->stop() == 0);
    CHECK(sub.wait(state_topic, [](const Received& r) { return r.j()["voltage"] == 310; }));
}

TEST_CASE("remote start and stop: commands reach the socket, replies come back on resp with the id") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker);
    Charger c(bridge.port, pile);
    c.login();
    REQUIRE(sub.wait("ykc/" + pile + "/availability"));
    sub.publish("ykc/" + pile + "/cmd/remote_start", R"({"id":"start-1","gun":1,"balance":50.5})");
    auto cmd = c.receive_type("remote_start");
    REQUIRE(cmd);
    const std::string s = (*cmd)["data"]["serial"];
    CHECK(s.size() == 32);
    CHECK(s.substr(0, 16) == pile + "01");  // spec 3.3: pile, gun, time, counter
    CHECK((*cmd)["data"]["balance"].dump() == "50.5");
    c.send("remote_start_reply", {{"serial", s}, {"gun", 1}, {"result", "success"}, {"failure_reason", "none"}}, (*cmd)["seq"]);
    auto resp = sub.wait("ykc/" + pile + "/resp/remote_start");
    REQUIRE(resp);
    CHECK(resp->j()["id"] == "start-1");
    CHECK(resp->j()["status"] == "ok");
    CHECK(resp->j()["reply"]["data"]["serial"] == s);

    sub.publish("ykc/" + pile + "/cmd/remote_stop", R"({"id":7,"gun":1})");
    auto stop = c.receive_type("remote_stop");
    REQUIRE(stop);
    // a reply for another gun, without the echo, does not answer it
    c.send("remote_stop_reply", {{"gun", 2}, {"result", "success"}}, not_echo(*stop));
    c.send("remote_stop_reply", {{"gun", 1}, {"result", "success"}}, (*stop)["seq"]);
    auto r = sub.wait("ykc/" + pile + "/resp/remote_stop");
    REQUIRE(r);
    CHECK(r->j()["id"] == 7);
    CHECK(r->j()["reply"]["data"]["gun"] == 1);
    CHECK(sub.count_on("ykc/" + pile + "/resp/remote_stop") == 1);
}

TEST_CASE("a transaction record is confirmed with 0x40 only after it was published") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker);
    Charger c(bridge.port, pile);
    c.login();
    c.send("transaction", transaction_data(serial), "8001");
    auto confirm = c.receive_type("transaction_reply");
    REQUIRE(confirm);
    CHECK((*confirm)["data"]["serial"] == serial);
    CHECK((*confirm)["data"]["result"] == "success");
    CHECK((*confirm)["seq"] == "8001");
    auto t = sub.wait("ykc/" + pile + "/transaction");
    REQUIRE(t);
    CHECK(t->j()["data"]["total_amount"].dump() == "26.65");
}

TEST_CASE("a transaction record taken while the broker is down is confirmed only once the broker has it") {
    BrokerGone gone;
    Charger& c = gone.c;
    Bridge& bridge = gone.bridge;
    const int mqtt_port = gone.mqtt_port;
    c.send("transaction", transaction_data(serial), "8001");
    CHECK_FALSE(c.receive_type("transaction_reply", 3000ms));  // the charger keeps it meanwhile
    c.send("heartbeat", {{"gun", 1}, {"gun_status", "normal"}});
    CHECK(c.receive_type("heartbeat_reply"));  // and is served
    Mosquitto again(mqtt_port);
    Subscriber sub("tcp://127.0.0.1:" + std::to_string(mqtt_port));
    auto confirm = c.receive_type("transaction_reply", 15000ms);
    REQUIRE_MESSAGE(confirm, bridge.read_log());
    CHECK((*confirm)["data"]["serial"] == serial);
    CHECK((*confirm)["seq"] == "8001");
    auto t = sub.wait("ykc/" + pile + "/transaction");
    REQUIRE(t);
    CHECK(t->j()["data"]["serial"] == serial);
}

TEST_CASE("invalid commands: each error names the field - unknown commands are refused") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker);
    Charger c(bridge.port, pile);
    c.login();
    REQUIRE(sub.wait("ykc/" + pile + "/availability"));
    sub.publish("ykc/" + pile + "/cmd/reboot", R"({"id":"r1","mode":"later"})");
    auto r = sub.wait("ykc/" + pile + "/resp/reboot");
    REQUIRE(r);
    CHECK(r->j()["status"] == "invalid");
    CHECK(r->j()["id"] == "r1");
    CHECK(r->j()["error"] == "reboot: field mode: unknown name \"later\" (one of: immediate, when_idle)");
    sub.publish("ykc/" + pile + "/cmd/work_params_set", R"({"id":"w","state":"enabled","max_power":20})");
    auto w = sub.wait("ykc/" + pile + "/resp/work_params_set");
    REQUIRE(w);
    CHECK(w->j()["error"] == "work_params_set: field max_power: out of range (30 … 100 %): 20");
    sub.publish("ykc/" + pile + "/cmd/self_destruct", R"({"id":"x"})");
    auto u = sub.wait("ykc/" + pile + "/resp/self_destruct");
    REQUIRE(u);
    CHECK(u->j()["status"] == "invalid");
    CHECK(u->j()["error"].get<std::string>().find("unknown command \"self_destruct\"") == 0);
    sub.publish("ykc/" + pile + "/cmd/remote_stop", "{not json");
    auto nj = sub.wait("ykc/" + pile + "/resp/remote_stop");
    REQUIRE(nj);
    CHECK(nj->j()["status"] == "invalid");
    CHECK(nj->j()["error"].get<std::string>().find("not JSON") == 0);
    // the session still works
    c.send("heartbeat", {{"gun", 1}, {"gun_status", "normal"}});
    CHECK(c.receive_type("heartbeat_reply"));
}

TEST_CASE("a command without a reply in time gets status timeout") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker, {"--set", "limits.command_timeout=1"});
    Charger c(bridge.port, pile);
    c.login();
    REQUIRE(sub.wait("ykc/" + pile + "/availability"));
    sub.publish("ykc/" + pile + "/cmd/reboot", R"({"id":"t","mode":"immediate"})");
    REQUIRE(c.receive_type("reboot"));
    auto r = sub.wait("ykc/" + pile + "/resp/reboot", {}, 5000ms);
    REQUIRE(r);
    CHECK(r->j()["status"] == "timeout");
    CHECK(r->j()["id"] == "t");
}

TEST_CASE("frames before login go to ykc/bridge/error - a pile speaking for another pile is rejected") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker);
    Charger early(bridge.port, pile);
    early.send("heartbeat", {{"gun", 1}, {"gun_status", "normal"}});
    auto e = sub.wait("ykc/bridge/error");
    REQUIRE(e);
    CHECK(e->j()["error"] == "frame before login");
    CHECK(e->j()["code"] == "0x03");
    Charger c(bridge.port, pile);
    c.login();
    c.send("heartbeat", {{"gun", 1}, {"gun_status", "normal"}}, "", "32010200000002");
    auto wrong = sub.wait("ykc/" + pile + "/error");
    REQUIRE(wrong);
    CHECK(wrong->j()["error"] == "frame for pile 32010200000002 on the socket of pile " + pile);
    CHECK(sub.count_on("ykc/32010200000002/heartbeat") == 0);
}

TEST_CASE("garbage and bad CRCs are reported with hex - the session continues") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker);
    Charger c(bridge.port, pile);
    c.login();
    auto hb = codec().encode({{"type", "heartbeat"}, {"pile", pile}, {"seq", "0100"}, {"data", {{"gun", 1}, {"gun_status", "normal"}}}});
    auto bad = hb;
    bad.back() ^= 0xFF;
    c.write_bytes(bad);
    auto err = sub.wait("ykc/" + pile + "/error");
    REQUIRE(err);
    CHECK(err->j()["error"].get<std::string>().find("bad CRC") == 0);
    CHECK(err->j()["hex"] == ykc::to_hex(bad));
    c.write_bytes(hb);
    CHECK(c.receive_type("heartbeat_reply"));
}

TEST_CASE("a second login of the same pile replaces the first socket") {
    Mosquitto broker;
    Bridge bridge(broker);
    Charger first(bridge.port, pile);
    first.login();
    Charger second(bridge.port, pile);
    second.login();
    CHECK(first.closed_by_peer());
    second.send("heartbeat", {{"gun", 1}, {"gun_status", "normal"}});
    CHECK(second.receive_type("heartbeat_reply"));
}

TEST_CASE("allowlist: an unknown pile is refused with 0x02 result failure and the socket closes") {
    Mosquitto broker;
    Bridge bridge(broker, {"--set", "policies.login=allowlist", "--set", "policies.allowlist=32010200000009"});
    Charger c(bridge.port, pile);
    c.send("login", login_data(), "0000");
    auto reply = c.receive_type("login_reply");
    REQUIRE(reply);
    CHECK((*reply)["data"]["result"] == "failure");
    CHECK(c.closed_by_peer());
}

TEST_CASE("card auth is forwarded - without an answer the charger gets a refusal, never silence") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker, {"--set", "policies.card_auth_timeout=1"});
    Charger c(bridge.port, pile);
    c.login();
    REQUIRE(sub.wait("ykc/" + pile + "/availability"));
    const json swipe = {{"gun", 1}, {"start_mode", "card"}, {"password_required", false}, {"card", "D14B0A54"}, {"password", ""}, {"vin", ""}};
    c.send("card_auth", swipe, "0400");
    REQUIRE(sub.wait("ykc/" + pile + "/card_auth"));
    // an invalid answer (no balance) is refused and leaves the request waiting for a valid one
    sub.publish("ykc/" + pile + "/cmd/card_auth_reply",
                json({{"id", "bad"}, {"serial", serial}, {"gun", 1}, {"logical_card", "1000000573"}, {"result", "success"}}).dump());
    auto bad = sub.wait("ykc/" + pile + "/resp/card_auth_reply", [](const Received& r) { return r.j()["id"] == "bad"; });
    REQUIRE(bad);
    CHECK(bad->j()["status"] == "invalid");
    CHECK(bad->j()["error"].get<std::string>().find("balance") != std::string::npos);
    sub.publish("ykc/" + pile + "/cmd/card_auth_reply",
                json({{"id", "auth"}, {"serial", serial}, {"gun", 1}, {"logical_card", "1000000573"}, {"balance", 88.8}, {"result", "success"}}).dump());
    auto ok = c.receive_type("card_auth_reply");
    REQUIRE(ok);
    CHECK((*ok)["seq"] == "0400");  // echoes the request
    CHECK((*ok)["data"]["result"] == "success");
    CHECK((*ok)["data"]["balance"].dump() == "88.8");
    c.send("card_auth", swipe, "0500");
    expect_card_refusal(c, "0500");
}

TEST_CASE("card auth sent again while the backend decides: one answer, to the newest, and no refusal after it") {
    OnlinePile online({"--set", "policies.card_auth_timeout=1"});
    auto& sub = online.sub;
    auto& c = online.c;
    const json swipe = {{"gun", 1}, {"start_mode", "card"}, {"password_required", false}, {"card", "D14B0A54"}, {"password", ""}, {"vin", ""}};
    c.send("card_auth", swipe, "0400");
    c.send("card_auth", swipe, "0500");  // the same swipe again
    REQUIRE(sub.wait_all("ykc/" + pile + "/card_auth", [](const std::vector<Received>& v) { return v.size() >= 2; }).size() == 2);
    sub.publish("ykc/" + pile + "/cmd/card_auth_reply",
                json({{"id", "auth"}, {"serial", serial}, {"gun", 1}, {"logical_card", "1000000573"}, {"balance", 88.8}, {"result", "success"}}).dump());
    auto ok = c.receive_type("card_auth_reply");
    REQUIRE(ok);
    CHECK((*ok)["seq"] == "0500");
    CHECK((*ok)["data"]["result"] == "success");
    auto resp = sub.wait("ykc/" + pile + "/resp/card_auth_reply");
    REQUIRE(resp);
    CHECK(resp->j()["status"] == "ok");
    // the first request's time runs out (1 s) without a refusal: the charger hears one answer
    CHECK(!c.receive_type("card_auth_reply", 2500ms));
    CHECK(sub.count_on("ykc/" + pile + "/error") == 0);
    // another card on the same gun is a request of its own, refused when nobody answers it
    json other = swipe;
    other["card"] = "E14C0A54";
    c.send("card_auth", other, "0600");
    expect_card_refusal(c, "0600");
}

TEST_CASE("card auth from a gun byte that is not BCD: the refusal carries the byte as it came, never silence") {
    OnlinePile online({"--set", "policies.card_auth_timeout=1"});
    auto& c = online.c;
    c.send("card_auth", {{"gun", "1A"}, {"start_mode", "card"}, {"password_required", false}, {"card", "D14B0A54"}, {"password", ""}, {"vin", ""}},
           "0700");
    CHECK(expect_card_refusal(c, "0700")["data"]["gun"] == "1A");
}

namespace {
// A 0xA1 start request by VIN for `gun`, and the backend's 0xA2 answer accepting it.
json parallel_swipe(int gun, const char* role, const char* parallel_id) {
    return json{{"gun", gun}, {"start_mode", "vin"}, {"password_required", false}, {"card", "0"}, {"password", ""},
                {"vin", "LSVAU2180N2183294"}, {"role", role}, {"parallel_id", parallel_id}};
}
std::string parallel_accept(const char* id, int gun, const char* parallel_id) {
    return json({{"id", id}, {"serial", serial}, {"gun", gun}, {"logical_card", "1000000573"}, {"balance", 120}, {"result", "success"},
                 {"parallel_id", parallel_id}})
        .dump();
}
}  // namespace

TEST_CASE("parallel card auth 0xA1 is forwarded per gun - the gun without an answer gets a 0xA2 refusal") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker, {"--set", "policies.card_auth_timeout=1"});
    Charger c(bridge.port, pile);
    c.login();
    REQUIRE(sub.wait("ykc/" + pile + "/availability"));
    c.send("parallel_card_auth", parallel_swipe(1, "main", "241124103000"), "0600");
    c.send("parallel_card_auth", parallel_swipe(2, "auxiliary", "241124103000"), "0601");
    auto req = sub.wait("ykc/" + pile + "/parallel_card_auth", [](const Received& r) { return r.j()["data"]["gun"] == 2; });
    REQUIRE(req);
    CHECK(req->j()["data"]["vin"] == "LSVAU2180N2183294");
    CHECK(req->j()["data"]["role"] == "auxiliary");
    // the backend answers gun 1 only
    sub.publish("ykc/" + pile + "/cmd/parallel_card_auth_reply", parallel_accept("pa", 1, "241124103000"));
    auto ok = c.receive_type("parallel_card_auth_reply");
    REQUIRE(ok);
    CHECK((*ok)["seq"] == "0600");
    CHECK((*ok)["data"]["gun"] == 1);
    CHECK((*ok)["data"]["result"] == "success");
    CHECK((*ok)["data"]["parallel_id"] == "241124103000");
    auto resp = sub.wait("ykc/" + pile + "/resp/parallel_card_auth_reply");
    REQUIRE(resp);
    CHECK(resp->j()["status"] == "ok");
    auto refused = c.receive_type("parallel_card_auth_reply", 4000ms);
    REQUIRE(refused);
    CHECK((*refused)["seq"] == "0601");
    CHECK((*refused)["data"]["gun"] == 2);
    CHECK((*refused)["data"]["result"] == "failure");
    CHECK((*refused)["data"]["parallel_id"] == "241124103000");
}

TEST_CASE("parallel card auth: the answer goes to the request with its parallel id, also when one gun has two") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker, {"--set", "policies.card_auth_timeout=2"});
    Charger c(bridge.port, pile);
    c.login();
    REQUIRE(sub.wait("ykc/" + pile + "/availability"));
    c.send("parallel_card_auth", parallel_swipe(1, "main", "241124103000"), "0700");
    c.send("parallel_card_auth", parallel_swipe(1, "main", "241124103100"), "0701");  // the charger tried again, with a new id
    REQUIRE(sub.wait("ykc/" + pile + "/parallel_card_auth", [](const Received& r) { return r.j()["seq"] == "0701"; }));
    sub.publish("ykc/" + pile + "/cmd/parallel_card_auth_reply", parallel_accept("p2", 1, "241124103100"));
    auto ok = c.receive_type("parallel_card_auth_reply");
    REQUIRE(ok);
    CHECK((*ok)["seq"] == "0701");
    CHECK((*ok)["data"]["parallel_id"] == "241124103100");
    auto refused = c.receive_type("parallel_card_auth_reply", 5000ms);  // the first one, at its timeout
    REQUIRE(refused);
    CHECK((*refused)["seq"] == "0700");
    CHECK((*refused)["data"]["parallel_id"] == "241124103000");
    CHECK((*refused)["data"]["result"] == "failure");
}

TEST_CASE("SIGTERM and SIGINT publish every pile offline and the bridge state offline, exit 0") {
    for (const int signal : {SIGTERM, SIGINT}) {
        CAPTURE(signal);
        Mosquitto broker;
        Subscriber sub(broker.url());
        auto bridge = std::make_unique<Bridge>(broker);
        Charger c(bridge->port, pile);
        c.login();
        REQUIRE(sub.wait("ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); }));
        CHECK(bridge->proc->stop(5000ms, signal) == 0);
        CHECK(sub.wait("ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "offline"); }));
        CHECK(sub.wait("ykc/bridge/state", [](const Received& r) { return has_state(r, "offline"); }));
    }
}

TEST_CASE("every downlink command gets resp ok with the charger's decoded reply (ykc-sim as the charger)") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker);
    TempDir simdir;
    Process sim({YKC_SIM_BIN, "--no-stdin", "--port", std::to_string(bridge.port), "--piles", "1", "--guns", "2", "--pile-start", pile},
                simdir.path() + "/sim.log");
    REQUIRE(sub.wait("ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); }, 10000ms));
    const std::vector<std::pair<std::string, json>> commands = {
        {"read_realtime", {{"gun", 1}}},
        {"remote_start", {{"gun", 1}}},
        {"balance_update", {{"gun", 1}, {"card", "0"}, {"balance", 10.5}}},
        {"remote_stop", {{"gun", 1}}},
        {"card_sync", {{"cards", {{{"logical_card", "1000000573"}, {"card", "D14B0A54"}}}}}},
        {"card_clear", {{"cards", {"D14B0A54"}}}},
        {"card_query", {{"cards", {"D14B0A54", "E14C0A54"}}}},
        {"work_params_set", {{"state", "enabled"}, {"max_power", 80}}},
        {"time_sync", json::object()},
        {"billing_model_set", json::object()},
        {"lock_control", {{"gun", 2}, {"action", "raise"}}},
        {"reboot", {{"mode", "when_idle"}}},
        {"firmware_update", {{"pile_type", "dc"}, {"power", 60}, {"server", "ftp.example.com"}, {"port", 21}, {"username", "u"},
                             {"password", "p"}, {"path", "/fw.bin"}, {"mode", "when_idle"}, {"timeout_minutes", 5}}},
        {"parallel_remote_start", {{"gun", 2}, {"parallel_id", "241124103000"}}},
        {"billing_model", json::object()},  // no reply in the protocol: ok once written
    };
    for (const auto& [name, data] : commands) {
        CAPTURE(name);
        json payload = data;
        payload["id"] = "id-" + name;
        sub.publish("ykc/" + pile + "/cmd/" + name, payload.dump());
        auto r = sub.wait("ykc/" + pile + "/resp/" + name, {}, 10000ms);
        REQUIRE_MESSAGE(r, bridge.read_log());
        CHECK(r->j()["id"] == "id-" + name);
        CHECK_MESSAGE(r->j()["status"] == "ok", r->payload);
        const Message* m = codec().catalogue().find(name);
        if (!m->reply.empty()) CHECK(r->j()["reply"]["type"] == m->reply);
    }
    // the stop produced a transaction record, confirmed after its publish
    auto t = sub.wait("ykc/" + pile + "/transaction", {}, 10000ms);
    REQUIRE(t);
    CHECK(t->j()["data"]["stop_reason"] == "app_stop");
}

TEST_CASE("the broker stopped and restarted mid-session: nothing published meanwhile is lost") {
    BrokerGone gone;
    Charger& c = gone.c;
    Bridge& bridge = gone.bridge;
    const int mqtt_port = gone.mqtt_port;
    for (int i = 0; i < 20; ++i) {
        c.send("heartbeat", {{"gun", 1}, {"gun_status", "normal"}});
        c.send("realtime", idle_realtime(i));
    }
    // the charger is still served while the broker is down
    CHECK(c.receive_type("heartbeat_reply"));
    // the broker comes back on the same port
    Mosquitto again(mqtt_port);
    Subscriber sub("tcp://127.0.0.1:" + std::to_string(mqtt_port));
    auto last = sub.wait("ykc/" + pile + "/realtime", [](const Received& r) { return r.j()["data"]["voltage"] == 19; }, 15000ms);
    REQUIRE_MESSAGE(last, bridge.read_log());
    std::this_thread::sleep_for(200ms);
    CHECK(sub.count_on("ykc/" + pile + "/realtime") == 20);
    CHECK(sub.wait("ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); }));
    // the gun's retained state waited in the bridge: one message with the newest values, not 20
    auto state = sub.wait("ykc/" + pile + "/gun/1/state");
    REQUIRE(state);
    CHECK(state->j()["voltage"] == 19);
    CHECK(sub.count_on("ykc/" + pile + "/gun/1/state") == 1);
}

TEST_CASE("the in-flight window follows the broker's receive-maximum, also when a reconnect finds another") {
    // a broker allowing 3 unacknowledged messages (Paho C 1.3.12 stalls when it has more out)
    auto broker = std::make_unique<Mosquitto>(0, "max_inflight_messages 3\n");
    const int mqtt_port = broker->port;
    Bridge bridge(*broker, {"--set", "mqtt.reconnect_min=1", "--set", "mqtt.reconnect_max=1"});
    REQUIRE_MESSAGE(bridge.log_shows("mqtt: connected to " + broker->url() + " (0 message(s) waiting, at most 3 in flight)"), bridge.read_log());
    CHECK(bridge.read_log().find("the broker's receive-maximum is 3") != std::string::npos);
    Charger c(bridge.port, pile);
    c.login();
    // the same broker address, reconfigured: the window is read again from the new CONNACK
    broker.reset();
    REQUIRE_MESSAGE(bridge.log_shows("mqtt: connection lost"), bridge.read_log());
    Mosquitto again(mqtt_port, "max_inflight_messages 2\n");
    Subscriber sub(again.url());
    REQUIRE_MESSAGE(bridge.log_shows("at most 2 in flight)", 15000ms), bridge.read_log());
    REQUIRE(sub.wait("ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); }));
    constexpr int n = 300;
    for (int i = 0; i < n; ++i) c.send("realtime", idle_realtime(i));
    auto last = sub.wait("ykc/" + pile + "/realtime", [](const Received& r) { return r.j()["data"]["voltage"] == n - 1; }, 30000ms);
    REQUIRE_MESSAGE(last, bridge.read_log());
    std::this_thread::sleep_for(100ms);
    CHECK(sub.count_on("ykc/" + pile + "/realtime") == n);
}

TEST_CASE("under a publish backlog, what a backend waits for overtakes realtime data, and a gun's state is coalesced") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker, {"--set", "mqtt.inflight_window=1"});  // one publish per round trip: a backlog at once
    Charger c(bridge.port, pile);
    c.login();
    REQUIRE(sub.wait("ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); }));
    constexpr int n = 2000;
    std::vector<std::uint8_t> burst = realtime_burst(n);
    const auto record = codec().encode({{"type", "transaction"}, {"pile", pile}, {"seq", "8001"}, {"data", transaction_data(serial)}});
    burst.insert(burst.end(), record.begin(), record.end());
    c.write_bytes(burst);
    auto confirm = c.receive_type("transaction_reply", 15000ms);
    REQUIRE_MESSAGE(confirm, bridge.read_log());
    CHECK((*confirm)["data"]["serial"] == serial);
    REQUIRE(sub.wait("ykc/" + pile + "/realtime", [](const Received& r) { return r.j()["data"]["voltage"] == n - 1; }, 30000ms));
    const auto all = sub.snapshot();
    std::ptrdiff_t at_record = -1, at_last_realtime = -1;
    std::vector<int> voltages;
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (all[i].topic == "ykc/" + pile + "/transaction") at_record = static_cast<std::ptrdiff_t>(i);
        if (all[i].topic == "ykc/" + pile + "/realtime") {
            at_last_realtime = static_cast<std::ptrdiff_t>(i);
            voltages.push_back(all[i].j()["data"]["voltage"].get<int>());
        }
    }
    REQUIRE(at_record >= 0);
    CHECK(at_record < at_last_realtime);  // control before telemetry
    REQUIRE(voltages.size() == static_cast<std::size_t>(n));  // every frame, in order
    CHECK(std::is_sorted(voltages.begin(), voltages.end()));
    // the retained state: far fewer messages than frames, the last one with the newest values
    auto last_state = sub.wait_all("ykc/" + pile + "/gun/1/state", [](const auto& rs) { return !rs.empty() && rs.back().j()["voltage"] == n - 1; });
    REQUIRE(!last_state.empty());
    CHECK(last_state.back().j()["voltage"] == n - 1);
    CHECK(last_state.size() < static_cast<std::size_t>(n / 2));
}

TEST_CASE("a burst at QoS 0 is not refused by Paho's own buffer: every frame is published, nothing logged as failed") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker, {"--set", "mqtt.qos=0", "--log-level", "info"});
    Charger c(bridge.port, pile);
    c.login();
    REQUIRE(sub.wait("ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); }));
    // thousands of frames in one write: the bridge hands them to Paho faster than its send
    // thread writes them (Paho's default limit of 100 waiting messages refused the rest)
    constexpr int n = 5000;
    std::vector<std::uint8_t> burst = realtime_burst(n);
    c.write_bytes(burst);
    auto last = sub.wait("ykc/" + pile + "/realtime", [](const Received& r) { return r.j()["data"]["voltage"] == n - 1; }, 30000ms);
    REQUIRE_MESSAGE(last, bridge.read_log());
    std::this_thread::sleep_for(200ms);
    CHECK(sub.count_on("ykc/" + pile + "/realtime") == n);
    CHECK_MESSAGE(bridge.read_log().find("failed") == std::string::npos, bridge.read_log());
}

TEST_CASE("login policy forward: the backend accepts with cmd/login_reply, silence refuses") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker, {"--set", "policies.login=forward", "--set", "policies.login_timeout=2"});
    REQUIRE(sub.wait("ykc/bridge/state", [](const Received& r) { return has_state(r, "online"); }));
    const json login = login_data();
    Charger c(bridge.port, pile);
    c.send("login", login, "0000");
    REQUIRE(sub.wait("ykc/" + pile + "/login"));
    CHECK(!c.receive_type("login_reply", 300ms));  // nothing until the backend decides
    sub.publish("ykc/" + pile + "/cmd/login_reply", R"({"id":"l1","result":"success"})");
    auto ok = c.receive_type("login_reply");
    REQUIRE(ok);
    CHECK((*ok)["data"]["result"] == "success");
    CHECK((*ok)["seq"] == "0000");
    auto resp = sub.wait("ykc/" + pile + "/resp/login_reply");
    REQUIRE(resp);
    CHECK(resp->j()["status"] == "ok");
    CHECK(sub.wait("ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); }));

    Charger other(bridge.port, "32010200000002");
    other.send("login", login, "0000");
    auto refused = other.receive_type("login_reply", 5000ms);
    REQUIRE(refused);
    CHECK((*refused)["data"]["result"] == "failure");
    CHECK(other.closed_by_peer());
}

TEST_CASE("login policy forward: a login sent again while one waits takes its place - one answer, to the newest") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker, {"--set", "policies.login=forward", "--set", "policies.login_timeout=2"});
    REQUIRE(sub.wait("ykc/bridge/state", [](const Received& r) { return has_state(r, "online"); }));
    Charger c(bridge.port, pile);
    c.send("login", login_data(), "0100");
    REQUIRE(sub.wait("ykc/" + pile + "/login"));
    c.send("login", login_data(), "0200");  // not answered yet: the charger repeats it
    REQUIRE(sub.wait("ykc/" + pile + "/login", [](const Received& r) { return r.j()["seq"] == "0200"; }));
    sub.publish("ykc/" + pile + "/cmd/login_reply", R"({"id":"l2","result":"success"})");
    auto ok = c.receive_type("login_reply");
    REQUIRE(ok);
    CHECK((*ok)["seq"] == "0200");
    CHECK((*ok)["data"]["result"] == "success");
    REQUIRE(sub.wait("ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); }));
    // the first login's wait went with it: no refusal once policies.login_timeout has passed
    CHECK(!c.receive_type("login_reply", 3000ms));
    c.send("heartbeat", {{"gun", 1}, {"gun_status", "normal"}});
    CHECK(c.receive_type("heartbeat_reply"));
    CHECK(sub.count_on("ykc/" + pile + "/error") == 0);
    CHECK(sub.count_on("ykc/" + pile + "/availability") == 1);
}

TEST_CASE("transaction policy forward: 0x40 only when the backend confirms") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker, {"--set", "policies.transaction=forward"});
    Charger c(bridge.port, pile);
    c.login();
    REQUIRE(sub.wait("ykc/" + pile + "/availability"));
    json record = {{"serial", serial}, {"gun", 1}, {"start_time", nullptr}, {"end_time", nullptr}, {"sharp_price", 0}, {"sharp_energy", 0},
                   {"sharp_energy_with_loss", 0}, {"sharp_amount", 0}, {"peak_price", 0}, {"peak_energy", 0}, {"peak_energy_with_loss", 0},
                   {"peak_amount", 0}, {"flat_price", 0}, {"flat_energy", 0}, {"flat_energy_with_loss", 0}, {"flat_amount", 0},
                   {"valley_price", 0}, {"valley_energy", 0}, {"valley_energy_with_loss", 0}, {"valley_amount", 0}, {"meter_start", 0},
                   {"meter_end", 0}, {"total_energy", 0}, {"total_energy_with_loss", 0}, {"total_amount", 0}, {"vin", ""},
                   {"trade_type", "app"}, {"trade_time", nullptr}, {"stop_reason", "app_stop"}, {"card", "0"}};
    c.send("transaction", record, "8002");
    REQUIRE(sub.wait("ykc/" + pile + "/transaction"));
    CHECK(!c.receive_type("transaction_reply", 500ms));
    sub.publish("ykc/" + pile + "/cmd/transaction_confirm", json({{"id", "tc"}, {"serial", serial}}).dump());
    auto confirm = c.receive_type("transaction_reply");
    REQUIRE(confirm);
    CHECK((*confirm)["data"]["serial"] == serial);
    CHECK((*confirm)["seq"] == "8002");
}

TEST_CASE("cmd/raw writes the bytes with the CRC recomputed, or verbatim with keep_crc") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker);
    Charger c(bridge.port, pile);
    c.login();
    REQUIRE(sub.wait("ykc/" + pile + "/availability"));
    auto frame = codec().encode({{"type", "reboot"}, {"pile", pile}, {"seq", "0909"}, {"data", {{"mode", "immediate"}}}});
    auto wrong = frame;
    wrong[wrong.size() - 1] ^= 0x5A;
    sub.publish("ykc/" + pile + "/cmd/raw", json({{"id", "raw1"}, {"hex", ykc::to_hex(wrong)}}).dump());
    auto got = c.receive_type("reboot");
    REQUIRE(got);
    CHECK((*got)["seq"] == "0909");
    auto resp = sub.wait("ykc/" + pile + "/resp/raw");
    REQUIRE(resp);
    CHECK(resp->j()["status"] == "ok");
    sub.publish("ykc/" + pile + "/cmd/raw", json({{"id", "raw2"}, {"hex", "zz"}}).dump());
    auto bad = sub.wait("ykc/" + pile + "/resp/raw", [](const Received& r) { return r.j()["id"] == "raw2"; });
    REQUIRE(bad);
    CHECK(bad->j()["status"] == "invalid");
}

TEST_CASE("MQTT 5 response topic and correlation data are honoured") {
    Mosquitto broker;
    Subscriber sub(broker.url(), "#", true);
    Bridge bridge(broker);
    Charger c(bridge.port, pile);
    c.login();
    REQUIRE(sub.wait("ykc/" + pile + "/availability"));
    sub.request("ykc/" + pile + "/cmd/remote_stop", R"({"id":"m5","gun":1})", "app/replies/42", "corr-42");
    auto stop = c.receive_type("remote_stop");
    REQUIRE(stop);
    c.send("remote_stop_reply", {{"gun", 1}, {"result", "success"}}, (*stop)["seq"]);
    auto r = sub.wait("app/replies/42");
    REQUIRE(r);
    CHECK(r->correlation == "corr-42");
    CHECK(r->j()["status"] == "ok");
    CHECK(r->j()["id"] == "m5");
}

TEST_CASE("MQTT 5 response topic with a wildcard: refused, answered on resp - the bridge stays connected") {
    Mosquitto broker;
    Subscriber sub(broker.url(), "#", true);
    Bridge bridge(broker, {"--set", "mqtt.version=5"});
    Charger c(bridge.port, pile);
    c.login();
    REQUIRE(sub.wait("ykc/" + pile + "/availability"));
    sub.request("ykc/" + pile + "/cmd/read_realtime", R"({"id":"wild","gun":1})", "app/+/replies", "corr-w");
    auto r = sub.wait("ykc/" + pile + "/resp/read_realtime");
    REQUIRE(r);
    CHECK(r->j()["status"] == "invalid");
    CHECK(r->j()["id"] == "wild");
    CHECK(r->j()["error"].get<std::string>().find("app/+/replies") != std::string::npos);
    CHECK(!c.receive_type("read_realtime", 300ms));  // not executed
    // still connected: the next command makes its round trip
    sub.request("ykc/" + pile + "/cmd/remote_stop", R"({"id":"after","gun":1})", "app/replies/1", "corr-1");
    auto stop = c.receive_type("remote_stop");
    REQUIRE(stop);
    c.send("remote_stop_reply", {{"gun", 1}, {"result", "success"}}, (*stop)["seq"]);
    auto after = sub.wait("app/replies/1");
    REQUIRE(after);
    CHECK(after->j()["status"] == "ok");
    CHECK(bridge.read_log().find("connection lost") == std::string::npos);
}

TEST_CASE("MQTT 5: a DISCONNECT from the broker is a lost connection - the bridge reconnects") {
    // the broker drops a client that sends a packet above 200 bytes (the health report is larger)
    Mosquitto broker(0, "max_packet_size 200\n");
    Bridge bridge(broker, {"--set", "mqtt.version=5", "--set", "publish.health_interval=1", "--set", "mqtt.reconnect_min=1"});
    REQUIRE_MESSAGE(bridge.log_shows("the broker disconnected: Packet too large", 10000ms), bridge.read_log());
    // and it comes back: connected again after the DISCONNECT
    const auto connects = [&] {
        const std::string log = bridge.read_log();
        std::size_t n = 0;
        for (auto at = log.find("mqtt: connected to"); at != std::string::npos; at = log.find("mqtt: connected to", at + 1)) ++n;
        return n;
    };
    for (int i = 0; i < 100 && connects() < 2; ++i) std::this_thread::sleep_for(100ms);
    CHECK_MESSAGE(connects() >= 2, bridge.read_log());
}

TEST_CASE("a retained command runs once, when it is published - not again at the next login") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker, {"--set", "mqtt.commands=connected"});
    {
        Charger c(bridge.port, pile);
        c.login();
        REQUIRE(sub.wait("ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); }));
        sub.publish("ykc/" + pile + "/cmd/reboot", R"({"id":"ret","mode":"when_idle"})", true);
        auto req = c.receive_type("reboot");  // delivered live: run
        REQUIRE(req);
        c.send("reboot_reply", {{"result", "success"}}, (*req)["seq"]);
        auto ok = sub.wait("ykc/" + pile + "/resp/reboot");
        REQUIRE(ok);
        CHECK(ok->j()["status"] == "ok");
    }
    REQUIRE(sub.wait("ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "offline"); }));
    // the next login subscribes again, and the broker hands the retained command over
    Charger again(bridge.port, pile);
    again.login();
    auto refused = sub.nth_on("ykc/" + pile + "/resp/reboot", 1);
    REQUIRE(refused);
    CHECK(refused->j()["status"] == "invalid");
    CHECK(refused->j()["error"].get<std::string>().find("retained") != std::string::npos);
    CHECK(!again.receive_type("reboot", 500ms));
    // the empty retained publish that clears it is not run either
    sub.publish("ykc/" + pile + "/cmd/reboot", "", true);
    auto empty = sub.nth_on("ykc/" + pile + "/resp/reboot", 2);
    REQUIRE(empty);
    CHECK(empty->j()["status"] == "invalid");
    CHECK(!again.receive_type("reboot", 300ms));
}

TEST_CASE("kill -9 while the broker is down: the next bridge process delivers what the first had taken") {
    auto broker = std::make_unique<Mosquitto>();
    const int mqtt_port = broker->port;
    TempDir state;
    auto first = std::make_unique<Bridge>(*broker, std::vector<std::string>{}, state.path());
    const int listen_port = first->port;
    {
        Charger c(listen_port, pile);
        c.login();
        broker.reset();  // the broker goes away
        for (int i = 0; i < 5; ++i)
            c.send("realtime", idle_realtime(100 + i));
        c.send("heartbeat", {{"gun", 1}, {"gun_status", "normal"}});
        REQUIRE(c.receive_type("heartbeat_reply"));  // the realtime frames before it were handled
    }
    first->proc->kill9();
    // the broker returns on the same port, a subscriber is there first, then a new bridge process
    Mosquitto again(mqtt_port);
    Subscriber sub("tcp://127.0.0.1:" + std::to_string(mqtt_port));
    Bridge second("tcp://127.0.0.1:" + std::to_string(mqtt_port), {}, state.path(), listen_port);
    auto last = sub.wait("ykc/" + pile + "/realtime", [](const Received& r) { return r.j()["data"]["voltage"] == 104; }, 15000ms);
    REQUIRE_MESSAGE(last, second.read_log());
    std::this_thread::sleep_for(300ms);
    CHECK(sub.count_on("ykc/" + pile + "/realtime") == 5);
}

TEST_CASE("a pile is announced online only once its commands are subscribed, also when the broker returns") {
    for (const std::string mode : {"all", "connected"}) {
        CAPTURE(mode);
        const int mqtt_port = free_port();
        // no broker yet: the pile logs in while the bridge cannot reach MQTT
        Bridge bridge("tcp://127.0.0.1:" + std::to_string(mqtt_port),
                      {"--set", "mqtt.commands=" + mode, "--set", "mqtt.reconnect_min=1", "--set", "mqtt.reconnect_max=1"}, "", 0);
        Charger c(bridge.port, pile);
        c.login();
        // mosquitto logs every packet, so the order SUBACK -> availability PUBLISH can be checked
        Mosquitto broker(mqtt_port, "log_dest stderr\nlog_type all\n");
        Subscriber sub(broker.url());
        REQUIRE(sub.wait("ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); }, 15000ms));
        // a backend that sends a command the moment it sees the pile online is heard
        sub.publish("ykc/" + pile + "/cmd/read_realtime", R"({"id":"first","gun":1})");
        auto req = c.receive_type("read_realtime");
        REQUIRE_MESSAGE(req, bridge.read_log());
        c.send("realtime", idle_realtime(7), (*req)["seq"]);
        auto resp = sub.wait("ykc/" + pile + "/resp/read_realtime");
        REQUIRE(resp);
        CHECK(resp->j()["status"] == "ok");
        const std::string log = broker.read_log();
        const std::string client = "it-bridge-" + std::to_string(bridge.port);
        const auto suback = log.find("Sending SUBACK to " + client);
        const auto availability = find_line(log, {"Received PUBLISH from " + client, "'ykc/" + pile + "/availability'"});
        REQUIRE_MESSAGE(suback != std::string::npos, log);
        REQUIRE_MESSAGE(availability != std::string::npos, log);
        CHECK_MESSAGE(suback < availability, log);
    }
}

TEST_CASE("commands for piles not connected: offline, an invalid pile number is named, silence with mqtt.commands connected") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    {
        Bridge bridge(broker);
        REQUIRE(sub.wait("ykc/bridge/state", [](const Received& r) { return has_state(r, "online"); }));
        Charger c(bridge.port, pile);
        c.login();
        REQUIRE(sub.wait("ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); }));
        // never connected
        sub.publish("ykc/32010200000099/cmd/reboot", R"({"id":"r1","mode":"immediate"})");
        auto r = sub.wait("ykc/32010200000099/resp/reboot");
        REQUIRE(r);
        CHECK(r->j()["id"] == "r1");
        CHECK(r->j()["status"] == "offline");
        CHECK(r->j()["error"].get<std::string>().find("32010200000099") != std::string::npos);
        // not a pile number
        sub.publish("ykc/3201/cmd/reboot", R"({"id":"r2","mode":"immediate"})");
        auto bad = sub.wait("ykc/3201/resp/reboot");
        REQUIRE(bad);
        CHECK(bad->j()["id"] == "r2");
        CHECK(bad->j()["status"] == "invalid");
        CHECK(bad->j()["error"].get<std::string>().find("14-digit") != std::string::npos);
        CHECK(sub.wait("ykc/bridge/error", [](const Received& e) { return e.j()["topic"] == "ykc/3201/cmd/reboot"; }));
        // a command waiting for its reply when the pile drops
        sub.publish("ykc/" + pile + "/cmd/read_realtime", R"({"id":"r3","gun":1})");
        REQUIRE(c.receive_type("read_realtime"));
        c.close();
        auto dropped = sub.wait("ykc/" + pile + "/resp/read_realtime");
        REQUIRE(dropped);
        CHECK(dropped->j()["id"] == "r3");
        CHECK(dropped->j()["status"] == "offline");
        // and after it left
        sub.publish("ykc/" + pile + "/cmd/reboot", R"({"id":"r4","mode":"immediate"})");
        auto gone = sub.wait("ykc/" + pile + "/resp/reboot");
        REQUIRE(gone);
        CHECK(gone->j()["status"] == "offline");
    }
    // mqtt.commands connected: only the connected pile's commands are this bridge's business
    Subscriber sub2(broker.url());  // a fresh history: the retained availability is "offline" now
    Bridge bridge(broker, {"--set", "mqtt.commands=connected"});
    Charger c(bridge.port, pile);
    c.login();
    REQUIRE(sub2.wait("ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); }));
    sub2.publish("ykc/32010200000098/cmd/reboot", R"({"id":"r5","mode":"immediate"})");
    sub2.publish("ykc/" + pile + "/cmd/reboot", R"({"id":"r6","mode":"immediate"})");
    auto req = c.receive_type("reboot");
    REQUIRE(req);
    c.send("reboot_reply", {{"result", "success"}}, (*req)["seq"]);
    auto ok = sub2.wait("ykc/" + pile + "/resp/reboot", [](const Received& r) { return r.j()["id"] == "r6"; });
    REQUIRE(ok);
    CHECK(ok->j()["status"] == "ok");
    CHECK(sub2.count_on("ykc/32010200000098/resp/reboot") == 0);
}

TEST_CASE("silence closes a session: no login within the pre-login timeout, no frame within the heartbeat timeout") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker, {"--set", "limits.pre_login_timeout=1", "--set", "limits.heartbeat_timeout=2"});
    Charger mute(bridge.port, "32010200000002");  // connects, never logs in
    Charger c(bridge.port, pile);
    c.login();
    REQUIRE(sub.wait("ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); }));
    // frames keep a session alive past the timeout: 4 s of heartbeats every 0.5 s (1.5 s of margin
    // to the 2 s timeout), during which the mute socket passes its 1 s pre-login timeout
    for (int i = 0; i < 8; ++i) {
        c.send("heartbeat", {{"gun", 1}, {"gun_status", "normal"}});
        REQUIRE(c.receive_type("heartbeat_reply"));
        std::this_thread::sleep_for(500ms);
    }
    CHECK(mute.closed_by_peer(4000ms));
    // then silence
    CHECK(c.closed_by_peer(5000ms));
    auto off = sub.wait("ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "offline"); });
    REQUIRE(off);
    CHECK(off->retained == false);  // live delivery to a subscriber already there
}

TEST_CASE("MQTT 3.1.1: the same topics and commands - heartbeats at QoS 0 or switched off") {
    Mosquitto broker;
    for (const bool heartbeats : {true, false}) {
        CAPTURE(heartbeats);
        Subscriber sub(broker.url());
        Bridge bridge(broker, {"--set", "mqtt.version=3.1.1", "--set", std::string("publish.heartbeats=") + (heartbeats ? "true" : "false")});
        Charger c(bridge.port, pile);
        c.login();
        REQUIRE(sub.wait("ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online") && !r.retained; }));
        c.send("heartbeat", {{"gun", 1}, {"gun_status", "normal"}});
        REQUIRE(c.receive_type("heartbeat_reply"));
        c.send("realtime", idle_realtime(42));
        auto rt = sub.wait("ykc/" + pile + "/realtime");
        REQUIRE(rt);
        CHECK(rt->qos == 1);
        if (heartbeats) {
            auto hb = sub.wait("ykc/" + pile + "/heartbeat");
            REQUIRE(hb);
            CHECK(hb->qos == 0);
        } else {
            CHECK(sub.count_on("ykc/" + pile + "/heartbeat") == 0);  // the realtime after it has arrived
        }
        sub.publish("ykc/" + pile + "/cmd/read_realtime", R"({"id":"v3","gun":1})");
        auto req = c.receive_type("read_realtime");
        REQUIRE(req);
        c.send("realtime", idle_realtime(43), (*req)["seq"]);
        auto resp = sub.wait("ykc/" + pile + "/resp/read_realtime");
        REQUIRE(resp);
        CHECK(resp->j()["status"] == "ok");
    }
}

TEST_CASE("kill -9: the broker publishes the bridge's Last Will, ykc/bridge/state offline") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker);
    REQUIRE(sub.wait("ykc/bridge/state", [](const Received& r) { return has_state(r, "online"); }));
    bridge.proc->kill9();
    auto will = sub.wait("ykc/bridge/state", [](const Received& r) { return has_state(r, "offline"); });
    REQUIRE(will);
    Subscriber late(broker.url());  // and it stays retained
    auto kept = late.wait("ykc/bridge/state");
    REQUIRE(kept);
    CHECK(kept->retained);
    CHECK(has_state(*kept, "offline"));
}

TEST_CASE("a SUBSCRIBE that Paho's file store kept for an earlier version is not restored, and the folder is named") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    TempDir state;
    const int listen_port = free_port();
    // what Paho C 1.3.12 writes for a SUBSCRIBE queued while disconnected (type 8, one filter),
    // here for a pile this bridge will not hold
    const std::string dir = state.path() + "/it-bridge-" + std::to_string(listen_port) + "-127.0.0.1-" + std::to_string(broker.port);
    std::filesystem::create_directories(dir);
    std::string cmd("\x08\0\0\0\x63\x3a\0\0\x01\0\0\0", 12);
    cmd += "ykc/32010200000077/cmd/#";
    cmd += std::string("\0\x01\0\0\0MQSO\0\0\0\0\0\0\0\0\0", 18);
    std::ofstream(dir + "/c5-1.msg", std::ios::binary) << cmd;
    Bridge bridge(broker.url(), {"--set", "mqtt.commands=connected"}, state.path(), listen_port);
    Charger c(bridge.port, pile);
    c.login();
    REQUIRE(sub.wait("ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); }));
    sub.publish("ykc/32010200000077/cmd/reboot", R"({"id":"stale","mode":"immediate"})");
    sub.publish("ykc/" + pile + "/cmd/reboot", R"({"id":"live","mode":"immediate"})");
    auto req = c.receive_type("reboot");
    REQUIRE(req);
    c.send("reboot_reply", {{"result", "success"}}, (*req)["seq"]);
    REQUIRE(sub.wait("ykc/" + pile + "/resp/reboot"));
    CHECK(sub.count_on("ykc/32010200000077/resp/reboot") == 0);  // not this bridge's pile
    CHECK(std::filesystem::exists(dir + "/c5-1.msg"));  // left alone: the operator decides
    CHECK(bridge.read_log().find(dir + " holds 1 message(s) of Paho's file store") != std::string::npos);
}

TEST_CASE("a reply is paired by the sequence number it echoes - two commands of one gun waiting") {
    OnlinePile online;
    auto& sub = online.sub;
    auto& c = online.c;
    sub.publish("ykc/" + pile + "/cmd/remote_stop", R"({"id":"first","gun":1})");
    auto first = c.receive_type("remote_stop");
    REQUIRE(first);
    sub.publish("ykc/" + pile + "/cmd/remote_stop", R"({"id":"second","gun":1})");
    auto second = c.receive_type("remote_stop");
    REQUIRE(second);
    REQUIRE((*first)["seq"] != (*second)["seq"]);
    // the answer to the second comes first: it answers the second, not the older one
    c.send("remote_stop_reply", {{"gun", 1}, {"result", "success"}}, (*second)["seq"]);
    auto r = sub.wait("ykc/" + pile + "/resp/remote_stop");
    REQUIRE(r);
    CHECK(r->j()["id"] == "second");
    CHECK(r->j()["reply"]["seq"] == (*second)["seq"]);
    // the same reply again (a charger repeating itself) answers nothing more
    c.send("remote_stop_reply", {{"gun", 1}, {"result", "failure"}}, (*second)["seq"]);
    c.send("remote_stop_reply", {{"gun", 1}, {"result", "success"}}, (*first)["seq"]);
    auto both = sub.wait_all("ykc/" + pile + "/resp/remote_stop", [](const std::vector<Received>& v) { return v.size() >= 2; });
    REQUIRE(both.size() == 2);
    CHECK(both[1].j()["id"] == "first");
    CHECK(both[1].j()["reply"]["seq"] == (*first)["seq"]);
    CHECK(both[1].j()["reply"]["data"]["result"] == "success");
}

TEST_CASE("a charger that does not echo sequence numbers: its reply answers the oldest command it matches") {
    OnlinePile online;
    auto& sub = online.sub;
    auto& c = online.c;
    std::optional<json> sent;
    for (const char* id : {"one", "two"}) {
        sub.publish("ykc/" + pile + "/cmd/remote_stop", json{{"id", id}, {"gun", 1}}.dump());
        sent = c.receive_type("remote_stop");
        REQUIRE(sent);
    }
    c.send("remote_stop_reply", {{"gun", 1}, {"result", "success"}}, "0000");  // its own seq, not the command's
    c.send("remote_stop_reply", {{"gun", 1}, {"result", "success"}}, not_echo(*sent));
    auto both = sub.wait_all("ykc/" + pile + "/resp/remote_stop", [](const std::vector<Received>& v) { return v.size() >= 2; });
    REQUIRE(both.size() == 2);
    CHECK(both[0].j()["id"] == "one");
    CHECK(both[1].j()["id"] == "two");
}

TEST_CASE("a late reply to a timed-out command, or the reply to a raw frame, answers no other command") {
    // (a timed-out command is remembered for another command_timeout: 3 s for the rest of the test)
    OnlinePile online({"--set", "limits.command_timeout=3"});
    auto& sub = online.sub;
    auto& c = online.c;
    sub.publish("ykc/" + pile + "/cmd/remote_stop", R"({"id":"late","gun":1})");
    auto late = c.receive_type("remote_stop");
    REQUIRE(late);
    auto t = sub.wait("ykc/" + pile + "/resp/remote_stop", {}, 8000ms);
    REQUIRE(t);
    CHECK(t->j()["status"] == "timeout");
    // a raw remote stop for gun 1 with a seq of its own
    const std::string raw_seq = not_echo(*late);
    const auto raw = codec().encode({{"type", "remote_stop"}, {"pile", pile}, {"seq", raw_seq}, {"data", {{"gun", 1}}}});
    sub.publish("ykc/" + pile + "/cmd/raw", json{{"id", "raw"}, {"hex", ykc::to_hex(raw)}}.dump());
    REQUIRE(c.receive_type("remote_stop"));
    REQUIRE(sub.wait("ykc/" + pile + "/resp/raw"));
    sub.publish("ykc/" + pile + "/cmd/remote_stop", R"({"id":"now","gun":1})");
    auto now = c.receive_type("remote_stop");
    REQUIRE(now);
    // the late reply and the raw frame's reply come before the one to "now": both are published,
    // neither answers "now"
    c.send("remote_stop_reply", {{"gun", 1}, {"result", "success"}}, (*late)["seq"]);
    c.send("remote_stop_reply", {{"gun", 1}, {"result", "success"}}, raw_seq);
    c.send("remote_stop_reply", {{"gun", 1}, {"result", "failure"}}, (*now)["seq"]);
    auto r = sub.wait("ykc/" + pile + "/resp/remote_stop", [](const Received& m) { return m.j()["id"] == "now"; });
    REQUIRE(r);
    CHECK(r->j()["status"] == "ok");
    CHECK(r->j()["reply"]["seq"] == (*now)["seq"]);
    CHECK(r->j()["reply"]["data"]["result"] == "failure");
    CHECK(sub.wait_all("ykc/" + pile + "/remote_stop_reply", [](const std::vector<Received>& v) { return v.size() >= 3; }).size() == 3);
    CHECK(sub.count_on("ykc/" + pile + "/resp/remote_stop") == 2);  // the timeout and "now"
}

TEST_CASE("the reply to the bridge's own time_sync does not answer a backend's time_sync command") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker, {"--set", "policies.time_sync=true"});
    Charger c(bridge.port, pile);
    c.send("login", login_data(), "0000");
    REQUIRE(c.receive_type("login_reply"));
    auto own = c.receive_type("time_sync");  // the bridge's, after the login
    REQUIRE(own);
    REQUIRE(sub.wait("ykc/" + pile + "/availability"));
    sub.publish("ykc/" + pile + "/cmd/time_sync", R"({"id":"backend"})");
    auto cmd = c.receive_type("time_sync");
    REQUIRE(cmd);
    c.send("time_sync_reply", {{"time", (*own)["data"]["time"]}}, (*own)["seq"]);
    c.send("time_sync_reply", {{"time", (*cmd)["data"]["time"]}}, (*cmd)["seq"]);
    auto r = sub.wait("ykc/" + pile + "/resp/time_sync");
    REQUIRE(r);
    CHECK(r->j()["id"] == "backend");
    CHECK(r->j()["reply"]["seq"] == (*cmd)["seq"]);
}

TEST_CASE("balance_update for card zero (whoever charges) is answered by a reply naming the real card") {
    OnlinePile online;
    auto& sub = online.sub;
    auto& c = online.c;
    sub.publish("ykc/" + pile + "/cmd/balance_update", R"({"id":"bal","gun":1,"balance":12.5})");
    auto cmd = c.receive_type("balance_update");
    REQUIRE(cmd);
    CHECK((*cmd)["data"]["card"] == "0000000000000000");
    c.send("balance_update_reply", {{"card", "00000000D14B0A54"}, {"result", "success"}}, not_echo(*cmd));  // the charger's own seq
    auto r = sub.wait("ykc/" + pile + "/resp/balance_update");
    REQUIRE(r);
    CHECK(r->j()["status"] == "ok");
    CHECK(r->j()["reply"]["data"]["card"] == "00000000D14B0A54");
    // card zero and a named card waiting: a reply without the echo that names the card answers that one
    sub.publish("ykc/" + pile + "/cmd/balance_update", R"({"id":"any","gun":1,"balance":2})");
    REQUIRE(c.receive_type("balance_update"));
    sub.publish("ykc/" + pile + "/cmd/balance_update", R"({"id":"exact","gun":1,"card":"00000000D14B0A54","balance":3})");
    REQUIRE(c.receive_type("balance_update"));
    c.send("balance_update_reply", {{"card", "00000000D14B0A54"}, {"result", "success"}}, not_echo(*cmd, 1));
    auto exact = sub.wait("ykc/" + pile + "/resp/balance_update", [](const Received& m) { return m.j()["id"] != "bal"; });
    REQUIRE(exact);
    CHECK(exact->j()["id"] == "exact");
    c.send("balance_update_reply", {{"card", "00000000D14B0A54"}, {"result", "success"}}, not_echo(*cmd, 2));
    REQUIRE(sub.wait("ykc/" + pile + "/resp/balance_update", [](const Received& m) { return m.j()["id"] == "any"; }));
    CHECK(!exact->j().contains("mismatch"));
    CHECK(!r->j().contains("mismatch"));  // a zero card is not a mismatch
    // without the echo, a reply naming another card does not answer a named card
    sub.publish("ykc/" + pile + "/cmd/balance_update", R"({"id":"named","gun":1,"card":"00000000E14C0A54","balance":1})");
    REQUIRE(c.receive_type("balance_update"));
    c.send("balance_update_reply", {{"card", "00000000D14B0A54"}, {"result", "card_mismatch"}}, not_echo(*cmd, 3));
    c.send("balance_update_reply", {{"card", "00000000E14C0A54"}, {"result", "success"}}, not_echo(*cmd, 4));
    auto n = sub.wait("ykc/" + pile + "/resp/balance_update", [](const Received& m) { return m.j()["id"] == "named"; });
    REQUIRE(n);
    CHECK(n->j()["reply"]["data"]["card"] == "00000000E14C0A54");
}

TEST_CASE("a reply that matches no command by its fields answers the one whose sequence number it echoes, as a mismatch") {
    OnlinePile online;
    auto& sub = online.sub;
    auto& c = online.c;
    // the charger refuses a named card with card_mismatch and the card it holds
    sub.publish("ykc/" + pile + "/cmd/balance_update", R"({"id":"e","gun":1,"card":"00000000E14C0A54","balance":1})");
    auto e = c.receive_type("balance_update");
    REQUIRE(e);
    const json refusal = {{"card", "00000000D14B0A54"}, {"result", "card_mismatch"}};
    c.send("balance_update_reply", refusal, (*e)["seq"]);
    auto re = sub.wait("ykc/" + pile + "/resp/balance_update");
    REQUIRE(re);
    CHECK(re->j()["id"] == "e");
    CHECK(re->j()["status"] == "mismatch");
    CHECK(re->j()["mismatch"] == json::array({"card"}));
    CHECK(re->j()["error"] == R"(balance_update_reply echoes this command's sequence number but carries card "00000000D14B0A54" instead of "00000000E14C0A54")");
    CHECK(re->j()["reply"]["seq"] == (*e)["seq"]);
    CHECK(re->j()["reply"]["data"]["result"] == "card_mismatch");
    // the same reply again answers nothing more: not a command for whoever charges, which waits for its own
    sub.publish("ykc/" + pile + "/cmd/balance_update", R"({"id":"z","gun":1,"balance":2})");
    auto z = c.receive_type("balance_update");
    REQUIRE(z);
    c.send("balance_update_reply", refusal, (*e)["seq"]);
    c.send("balance_update_reply", {{"card", "00000000D14B0A54"}, {"result", "success"}}, (*z)["seq"]);
    auto rz = sub.wait("ykc/" + pile + "/resp/balance_update", [](const Received& m) { return m.j()["id"] == "z"; });
    REQUIRE(rz);
    CHECK(rz->j()["status"] == "ok");
    CHECK(rz->j()["reply"]["data"]["result"] == "success");
    CHECK(!rz->j().contains("mismatch"));
    // a remote_stop answered, with the echo, for another gun
    sub.publish("ykc/" + pile + "/cmd/remote_stop", R"({"id":"stop","gun":1})");
    auto stop = c.receive_type("remote_stop");
    REQUIRE(stop);
    c.send("remote_stop_reply", {{"gun", 2}, {"result", "success"}, {"failure_reason", "none"}}, (*stop)["seq"]);
    auto rs = sub.wait("ykc/" + pile + "/resp/remote_stop");
    REQUIRE(rs);
    CHECK(rs->j()["id"] == "stop");
    CHECK(rs->j()["status"] == "mismatch");
    CHECK(rs->j()["reply"]["data"]["gun"] == 2);
    CHECK(rs->j()["mismatch"] == json::array({"gun"}));
    // a command the reply matches by its fields comes first (firmware that echoes the wrong frame's seq)
    sub.publish("ykc/" + pile + "/cmd/remote_stop", R"({"id":"one","gun":1})");
    auto one = c.receive_type("remote_stop");
    REQUIRE(one);
    sub.publish("ykc/" + pile + "/cmd/remote_stop", R"({"id":"two","gun":2})");
    REQUIRE(c.receive_type("remote_stop"));
    c.send("remote_stop_reply", {{"gun", 2}, {"result", "success"}, {"failure_reason", "none"}}, (*one)["seq"]);
    auto r2 = sub.wait("ykc/" + pile + "/resp/remote_stop", [](const Received& m) { return m.j()["id"] != "stop"; });
    REQUIRE(r2);
    CHECK(r2->j()["id"] == "two");
    CHECK(r2->j()["status"] == "ok");
    CHECK(sub.count_on("ykc/" + pile + "/resp/balance_update") == 2);
}
