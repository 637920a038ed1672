// Logins, the login policies, what a session needs before and after it, and when it ends.
#include "harness.hpp"

using namespace it;

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
        REQUIRE(sub.wait(
            "ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); }, 15000ms));
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
