// Heartbeats and real-time data: answered in order, published, and kept as each gun's retained state.
#include "harness.hpp"

using namespace it;

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
            const auto f = codec().encode(
                {{"type", "heartbeat"}, {"pile", pile}, {"seq", seq_of(i, n)}, {"data", {{"gun", 1 + i % 2}, {"gun_status", "normal"}}}});
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
    c.send("realtime", {{"serial", serial},
                        {"gun", 1},
                        {"status", "charging"},
                        {"gun_returned", "no"},
                        {"plugged", true},
                        {"voltage", 380.5},
                        {"current", 120.1},
                        {"gun_temperature", 35},
                        {"gun_line_code", "0"},
                        {"soc", 55},
                        {"battery_max_temperature", 30},
                        {"charging_minutes", 12},
                        {"remaining_minutes", 30},
                        {"energy", 12.3456},
                        {"energy_with_loss", 12.3456},
                        {"amount", 15.02},
                        {"hardware_faults", json::array()}});
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
        c.send("realtime", [] {
            json d = idle_realtime(221);
            d["gun"] = 2;
            return d;
        }());  // another gun: its own state
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
    auto last = sub.wait(
        state_topic, [](const Received& r) { return r.j()["voltage"] == 309; }, 10000ms);
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

TEST_CASE("gun state: connector tells idle, preparing, charging, finished and fault apart") {
    OnlinePile o({"--set", "publish.gun_state_min_interval_ms=0"});
    auto& sub = o.sub;
    auto& bridge = o.bridge;
    auto& c = o.c;
    // (status, plugged) -> connector, in the order a session goes
    const std::vector<std::tuple<std::string, bool, std::string>> steps = {
        {"idle", false, "idle"}, {"idle", true, "preparing"}, {"charging", true, "charging"}, {"idle", true, "finished"},
        {"idle", false, "idle"}, {"idle", true, "preparing"}, {"fault", true, "fault"},       {"offline", false, "offline"},
    };
    const std::string topic = "ykc/" + pile + "/gun/1/state";
    for (std::size_t i = 0; i < steps.size(); ++i) {
        const auto& [status, plugged, connector] = steps[i];
        CAPTURE(i);
        json r = idle_realtime(230 + static_cast<int>(i));  // each frame differs: every one is published
        r["status"] = status;
        r["plugged"] = plugged;
        c.send("realtime", r);
        auto state = sub.nth_on(topic, i);
        REQUIRE_MESSAGE(state, bridge.read_log());
        CHECK(state->j()["status"] == status);
        CHECK(state->j()["connector"] == connector);
    }
}
