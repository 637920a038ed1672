// Commands from MQTT to the charger and their answers on resp/: validation, time-outs, MQTT 5
// response topics, and how a reply is paired with the command it answers.
#include "harness.hpp"

using namespace it;

TEST_CASE("remote start and stop: commands reach the socket, replies come back on resp with the id") {
    OnlinePile o;
    auto& [broker, sub, bridge, c] = o;
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

TEST_CASE("invalid commands: each error names the field - unknown commands are refused") {
    OnlinePile o;
    auto& [broker, sub, bridge, c] = o;
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
    OnlinePile o(std::vector<std::string>{"--set", "limits.command_timeout=1"});
    auto& [broker, sub, bridge, c] = o;
    sub.publish("ykc/" + pile + "/cmd/reboot", R"({"id":"t","mode":"immediate"})");
    REQUIRE(c.receive_type("reboot"));
    auto r = sub.wait("ykc/" + pile + "/resp/reboot", {}, 5000ms);
    REQUIRE(r);
    CHECK(r->j()["status"] == "timeout");
    CHECK(r->j()["id"] == "t");
}

TEST_CASE("every downlink command gets resp ok with the charger's decoded reply (ykc-sim as the charger)") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker);
    TempDir simdir;
    Process sim({YKC_SIM_BIN, "--no-stdin", "--port", std::to_string(bridge.port), "--piles", "1", "--guns", "2", "--pile-start", pile},
                simdir.path() + "/sim.log");
    REQUIRE(sub.wait(
        "ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); }, 10000ms));
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
        {"firmware_update",
         {{"pile_type", "dc"},
          {"power", 60},
          {"server", "ftp.example.com"},
          {"port", 21},
          {"username", "u"},
          {"password", "p"},
          {"path", "/fw.bin"},
          {"mode", "when_idle"},
          {"timeout_minutes", 5}}},
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

TEST_CASE("cmd/raw writes the bytes with the CRC recomputed, or verbatim with keep_crc") {
    OnlinePile o;
    auto& [broker, sub, bridge, c] = o;
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
    CHECK(
        re->j()["error"] ==
        R"(balance_update_reply echoes this command's sequence number but carries card "00000000D14B0A54" instead of "00000000E14C0A54")");
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
