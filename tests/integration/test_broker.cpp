// The broker side: outages and restarts, kill -9, the in-flight window, lanes under a backlog,
// MQTT 3.1.1 and 5, the Last Will.
#include "harness.hpp"

using namespace it;

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
    auto last = sub.wait(
        "ykc/" + pile + "/realtime", [](const Received& r) { return r.j()["data"]["voltage"] == 19; }, 15000ms);
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
    REQUIRE_MESSAGE(bridge.log_shows("mqtt: connected to " + broker->url() + " (0 message(s) waiting, at most 3 in flight)"),
                    bridge.read_log());
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
    auto last = sub.wait(
        "ykc/" + pile + "/realtime", [](const Received& r) { return r.j()["data"]["voltage"] == n - 1; }, 30000ms);
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
    REQUIRE(sub.wait(
        "ykc/" + pile + "/realtime", [](const Received& r) { return r.j()["data"]["voltage"] == n - 1; }, 30000ms));
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
    CHECK(at_record < at_last_realtime);                      // control before telemetry
    REQUIRE(voltages.size() == static_cast<std::size_t>(n));  // every frame, in order
    CHECK(std::is_sorted(voltages.begin(), voltages.end()));
    // the retained state: far fewer messages than frames, the last one with the newest values
    auto last_state =
        sub.wait_all("ykc/" + pile + "/gun/1/state", [](const auto& rs) { return !rs.empty() && rs.back().j()["voltage"] == n - 1; });
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
    auto last = sub.wait(
        "ykc/" + pile + "/realtime", [](const Received& r) { return r.j()["data"]["voltage"] == n - 1; }, 30000ms);
    REQUIRE_MESSAGE(last, bridge.read_log());
    std::this_thread::sleep_for(200ms);
    CHECK(sub.count_on("ykc/" + pile + "/realtime") == n);
    CHECK_MESSAGE(bridge.read_log().find("failed") == std::string::npos, bridge.read_log());
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
        for (int i = 0; i < 5; ++i) c.send("realtime", idle_realtime(100 + i));
        c.send("heartbeat", {{"gun", 1}, {"gun_status", "normal"}});
        REQUIRE(c.receive_type("heartbeat_reply"));  // the realtime frames before it were handled
    }
    first->proc->kill9();
    // the broker returns on the same port, a subscriber is there first, then a new bridge process
    Mosquitto again(mqtt_port);
    Subscriber sub("tcp://127.0.0.1:" + std::to_string(mqtt_port));
    Bridge second("tcp://127.0.0.1:" + std::to_string(mqtt_port), {}, state.path(), listen_port);
    auto last = sub.wait(
        "ykc/" + pile + "/realtime", [](const Received& r) { return r.j()["data"]["voltage"] == 104; }, 15000ms);
    REQUIRE_MESSAGE(last, second.read_log());
    std::this_thread::sleep_for(300ms);
    CHECK(sub.count_on("ykc/" + pile + "/realtime") == 5);
}

TEST_CASE("MQTT 3.1.1: the same topics and commands - heartbeats at QoS 0 or switched off") {
    Mosquitto broker;
    for (const bool heartbeats : {true, false}) {
        CAPTURE(heartbeats);
        Subscriber sub(broker.url());
        Bridge bridge(broker,
                      {"--set", "mqtt.version=3.1.1", "--set", std::string("publish.heartbeats=") + (heartbeats ? "true" : "false")});
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
    CHECK(std::filesystem::exists(dir + "/c5-1.msg"));           // left alone: the operator decides
    CHECK(bridge.read_log().find(dir + " holds 1 message(s) of Paho's file store") != std::string::npos);
}
