// Billing records through the real bridge and a real broker: real captures (both 0x3B layouts and
// V1.7's 0x3D), confirmed with 0x40 only after the broker's PUBACK and only when they add up.
#include "harness.hpp"

using namespace it;

namespace {

// Real 0x3B records (tests/fixtures/real-frames.tsv, westboy/lambda-cloud-parent): pile 18120000000170,
// length 0xB2 (deep valley after valley), every sum consistent.
const std::string pile_b2 = "18120000000170";
const std::string b2 =
    "68B217F3003B1812000000017001159733514595532818120000000170019065170A0A0A19E880060B0A0A19E022020000000000000000000000000048E8010000"
    "0000000000000000000000D853010000000000000000000000000050C300007E4E01000000000030A70000F8A700001E320000000000001815000076A91E0800"
    "122A2008009C8001000000000048BC00004C4233373041444E32534A31383832383801E880060B0A0A194002607F8F42D86D1BBD5A";
// pile 18120000000424, length 0xB2: the sums add up, but end_time is 4.5 hours before start_time
const std::string pile_bad = "18120000000424";
const std::string bad_times =
    "68B2039F003B18120000000424012463640846090240181200000004240180BB0A0A0C031AD00727050C031A68360200000000000000000000000000B8FF0100"
    "000000000000000000000000486B010084EC1600000000006C51150030F2000096A0050000000000947C0300D8D60000000000000000000000000000803280EA"
    "009ABF9CEA001A8D1C000000000000CE18004C4331484D59424633533030313437303003D00727050C031A41000000000000000053A4";
// V1.7 0x3D (the sample of sanbing-java/JCPP's notes, tests/fixtures/other-vectors.tsv; no real
// capture is public): pile 20231212000010, a serial that is not that pile's
const std::string pile_v17 = "20231212000010";
const std::string v17 =
    "68CD8001003D55031412782305012018061910262392202312120000100198B70E1110031498B70E111003140100000000008B778BEC241E05E4E7E18403A6F2"
    "8C05EDF6B18D5AFA8DA73BE8FD605510CEF3860C000000D0FB0100000000000000000000000000D0FB0100000000000000000000000000D0FB0100000000000000"
    "000000000000D0FB01000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000298B7"
    "0E111003140000000000D14B0A540A90";

std::vector<std::uint8_t> bytes(const std::string& hex) { return *ykc::from_hex(hex); }

// No 0x40 comes within `wait` (while the charger still gets its heartbeats answered).
void expect_no_confirm(Charger& c, std::chrono::milliseconds wait = 1500ms) {
    CHECK_FALSE(c.receive_type("transaction_reply", wait));
    c.send("heartbeat", {{"gun", 1}, {"gun_status", "normal"}});
    CHECK(c.receive_type("heartbeat_reply"));
}

// A pile of `pile` online, which sends `hex`: what the bridge published on its transaction topic.
struct Record : Online {
    std::optional<Received> published;
    Record(const std::string& pile, const std::string& hex, std::vector<std::string> extra = {}) : Online(pile, std::move(extra)) {
        c.write_bytes(bytes(hex));
        published = sub.wait("ykc/" + pile + "/transaction");
        REQUIRE(published);
    }
};

}  // namespace

TEST_CASE("a real five-segment 0x3B (length 0xB2) is published with every sum right and its raw frame, then confirmed") {
    Record o(pile_b2, b2);
    auto& [broker, sub, bridge, c] = static_cast<Online&>(o);
    auto& t = o.published;
    const json j = t->j();
    CHECK(j["check"] == "ok");
    CHECK_FALSE(j.contains("reasons"));
    CHECK(j["raw"] == b2);
    CHECK(t->qos == 1);
    CHECK(j["data"]["valley_energy"].dump() == "8.563");
    CHECK(j["data"]["deep_valley_energy"].dump() == "1.283");
    CHECK(j["data"]["total_energy"].dump() == "9.846");
    CHECK(j["data"]["total_amount"].dump() == "4.82");
    CHECK(j["data"]["vin"] == "LB370ADN2SJ188288");
    CHECK(j["data"]["trade_time"] == "2025-10-10T11:06:33+08:00");
    auto confirm = c.receive_type("transaction_reply");
    REQUIRE(confirm);
    CHECK((*confirm)["seq"] == "17F3");  // the record's own sequence bytes
    CHECK((*confirm)["data"]["serial"] == "18120000000170011597335145955328");
    CHECK((*confirm)["data"]["result"] == "success");
    CHECK(sub.count_on("ykc/" + pile_b2 + "/error") == 0);
}

TEST_CASE("a real record whose times do not add up is published with its reasons and never confirmed - the backend may confirm it") {
    Record o(pile_bad, bad_times);
    auto& [broker, sub, bridge, c] = static_cast<Online&>(o);
    auto& t = o.published;
    CHECK(t->j()["check"] == "failed");
    CHECK(t->j()["reasons"] == json::array({"start_time 2026-03-12T10:10:48+08:00 is after end_time 2026-03-12T05:39:02+08:00"}));
    CHECK(t->j()["raw"] == bad_times);
    CHECK(t->j()["data"]["total_energy"].dump() == "187.113");
    auto e = sub.wait("ykc/" + pile_bad + "/error");
    REQUIRE(e);
    CHECK(e->j()["serial"] == "18120000000424012463640846090240");
    CHECK(e->j()["code"] == "0x3B");
    CHECK(e->j()["reasons"] == t->j()["reasons"]);
    CHECK(e->j()["error"].get<std::string>().find("transaction 18120000000424012463640846090240 not confirmed: start_time") == 0);
    expect_no_confirm(c);
    // the charger sends it again: again not confirmed; the backend's confirmation echoes the newest
    auto again = bytes(bad_times);
    again[2] = 0xA0;
    c.write_bytes(ykc::write_frame(0x3B, {0xA0, 0x03}, 0, std::span(again).subspan(6, again.size() - 8)));
    REQUIRE(sub.nth_on("ykc/" + pile_bad + "/transaction", 1));
    expect_no_confirm(c, 500ms);
    sub.publish("ykc/" + pile_bad + "/cmd/transaction_confirm",
                json({{"id", "by-hand"}, {"serial", "18120000000424012463640846090240"}}).dump());
    auto confirm = c.receive_type("transaction_reply");
    REQUIRE(confirm);
    CHECK((*confirm)["seq"] == "A003");
    CHECK((*confirm)["data"]["result"] == "success");
    auto r = sub.wait("ykc/" + pile_bad + "/resp/transaction_confirm");
    REQUIRE(r);
    CHECK(r->j()["status"] == "ok");
    // with policies.transaction_check off the same record is confirmed by the bridge
    Bridge unchecked(broker, {"--set", "policies.transaction_check=off"});
    Charger c2(unchecked.port, pile_bad);
    c2.login();
    c2.write_bytes(bytes(bad_times));
    CHECK(c2.receive_type("transaction_reply"));
    auto t2 = sub.wait("ykc/" + pile_bad + "/transaction", [](const Received& x) { return x.j()["check"] == "off"; });
    CHECK(t2);
}

TEST_CASE(
    "a transaction record of a length the catalogue does not know: published failed with its serial, never confirmed, the session goes "
    "on") {
    Online o(pile_b2);
    auto& [broker, sub, bridge, c] = o;
    auto b = bytes(b2);
    std::vector<std::uint8_t> body(b.begin() + 6, b.end() - 2);
    body.resize(186);  // a dialect with 12 more bytes
    const auto frame = ykc::write_frame(0x3B, {0x10, 0x00}, 0, body);
    c.write_bytes(frame);
    auto t = sub.wait("ykc/" + pile_b2 + "/transaction");
    REQUIRE(t);
    const json j = t->j();
    CHECK(j["check"] == "failed");
    CHECK(j["type"] == "transaction");
    CHECK(j["seq"] == "1000");
    CHECK(j["data"] == json({{"serial", "18120000000170011597335145955328"}}));
    CHECK(j["raw"] == ykc::to_hex(frame));
    CHECK(j["reasons"] ==
          json::array({"transaction: body is 186 bytes (length byte 0xBE); the catalogue knows 158 (standard) or 174 (five_segment)"}));
    auto e = sub.wait("ykc/" + pile_b2 + "/error");
    REQUIRE(e);
    CHECK(e->j()["reasons"] == j["reasons"]);
    expect_no_confirm(c);
    // a time that cannot be is the same: trade_time's month byte (body offset 158 + 5: serial 16,
    // pile 7, gun 1, two times 14, five segments 80, meters 10, totals 12, VIN 17, trade type 1) = 14
    std::vector<std::uint8_t> month14(b.begin() + 6, b.end() - 2);
    REQUIRE(month14[163] == 0x0A);
    month14[163] = 0x0E;
    c.write_bytes(ykc::write_frame(0x3B, {0x11, 0x00}, 0, month14));
    auto t2 = sub.nth_on("ykc/" + pile_b2 + "/transaction", 1);
    REQUIRE(t2);
    CHECK(t2->j()["check"] == "failed");
    CHECK(t2->j()["reasons"] ==
          json::array({"transaction: field trade_time: not a time that can be: month 14 (1 … 12) (bytes E880060B0A0E19)"}));
    expect_no_confirm(c);
}

TEST_CASE("V1.7 0x3D: published on ykc/<pile>/transaction with its meter data, confirmed only after the broker's PUBACK") {
    auto broker = std::make_unique<Mosquitto>();
    const int mqtt_port = broker->port;
    // the sample's serial is not its pile's (a documentation sample): the check would hold it
    Bridge bridge{*broker, {"--set", "mqtt.reconnect_min=2", "--set", "mqtt.reconnect_max=2", "--set", "policies.transaction_check=off"}};
    Charger c(bridge.port, pile_v17);
    c.login();
    REQUIRE_MESSAGE(bridge.log_shows("mqtt: connected"), bridge.read_log());
    broker.reset();
    REQUIRE_MESSAGE(bridge.log_shows("mqtt: connection lost"), bridge.read_log());
    c.write_bytes(bytes(v17));
    expect_no_confirm(c, 3000ms);  // no PUBACK, no 0x40: the charger keeps it
    Mosquitto again(mqtt_port);
    Subscriber sub("tcp://127.0.0.1:" + std::to_string(mqtt_port));
    auto confirm = c.receive_type("transaction_reply", 15000ms);
    REQUIRE_MESSAGE(confirm, bridge.read_log());
    CHECK((*confirm)["seq"] == "8001");
    CHECK((*confirm)["data"]["serial"] == "55031412782305012018061910262392");
    auto t = sub.wait("ykc/" + pile_v17 + "/transaction");
    REQUIRE(t);
    CHECK(t->j()["type"] == "metered_transaction");
    CHECK(t->j()["code"] == "0x3D");
    CHECK(t->j()["data"]["meter_ciphertext"] == "8B778BEC241E05E4E7E18403A6F28C05EDF6B18D5AFA8DA73BE8FD605510CEF3860C");
    CHECK(t->j()["raw"] == v17);
    CHECK(t->j()["check"] == "off");
}

TEST_CASE("V1.7 0x3D under the strict check: the sample's foreign serial holds it back, a consistent one is confirmed") {
    Record o(pile_v17, v17);
    auto& [broker, sub, bridge, c] = static_cast<Online&>(o);
    auto& t = o.published;
    CHECK(t->j()["reasons"] ==
          json::array({"serial 55031412782305012018061910262392 does not begin with the pile number 20231212000010 (spec 3.3)"}));
    expect_no_confirm(c);
    // the same record with the pile's own serial and 12.5 kWh on the flat segment
    json env = codec().decode(ykc::FrameView{bytes(v17)});
    env["data"]["serial"] = pile_v17 + "012412011030" + "000001";
    env["data"]["flat_energy"] = 12.5;
    env["data"]["flat_amount"] = 16.25;
    env["data"]["meter_start"] = 100;
    env["data"]["meter_end"] = 112.5;
    env["data"]["total_energy"] = 12.5;
    env["data"]["total_amount"] = 16.25;
    env["seq"] = "2200";
    const auto frame = codec().encode(env);
    c.write_bytes(frame);
    auto confirm = c.receive_type("transaction_reply");
    REQUIRE(confirm);
    CHECK((*confirm)["seq"] == "2200");
    CHECK((*confirm)["data"]["serial"] == pile_v17 + "012412011030000001");
    auto ok = sub.wait("ykc/" + pile_v17 + "/transaction", [](const Received& x) { return x.j()["check"] == "ok"; });
    REQUIRE(ok);
    CHECK(ok->j()["raw"] == ykc::to_hex(frame));
}

TEST_CASE("firmware_update waits for its reply across the pile's restart - not offline, not timeout after 30 s") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker, {"--set", "limits.command_timeout=2"});
    auto c = std::make_unique<Charger>(bridge.port, pile);
    c->login();
    REQUIRE(sub.wait("ykc/" + pile + "/availability"));
    sub.publish("ykc/" + pile + "/cmd/firmware_update", json({{"id", "fw"},
                                                              {"pile_type", "dc"},
                                                              {"power", 60},
                                                              {"server", "10.0.0.1"},
                                                              {"port", 21},
                                                              {"username", "u"},
                                                              {"password", "p"},
                                                              {"path", "/fw.bin"},
                                                              {"mode", "immediate"},
                                                              {"timeout_minutes", 10}})
                                                            .dump());
    REQUIRE(c->receive_type("firmware_update"));
    c.reset();  // the pile restarts to install it
    REQUIRE(sub.wait("ykc/" + pile + "/availability", [](const Received& x) { return x.j()["state"] == "offline"; }));
    std::this_thread::sleep_for(2500ms);  // past limits.command_timeout
    Charger back(bridge.port, pile);
    back.login();
    back.send("firmware_update_reply", {{"status", "success"}});
    auto r = sub.wait("ykc/" + pile + "/resp/firmware_update");
    REQUIRE(r);
    CHECK(r->j()["id"] == "fw");
    CHECK(r->j()["status"] == "ok");
    CHECK(r->j()["reply"]["data"]["status"] == "success");
    CHECK(sub.count_on("ykc/" + pile + "/resp/firmware_update") == 1);
}

TEST_CASE("ykc-sim --record five_segment and v17: each record is published checked, and confirmed to the simulated pile") {
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker);
    const std::vector<std::pair<std::string, std::string>> formats = {{"five_segment", "transaction"}, {"v17", "metered_transaction"}};
    std::uint64_t n = 32010200000011ULL;
    for (const auto& [format, type] : formats) {
        CAPTURE(format);
        const std::string pile = std::to_string(n++);
        TempDir simdir;
        Process sim({YKC_SIM_BIN, "--no-stdin", "--port", std::to_string(bridge.port), "--piles", "1", "--guns", "1", "--pile-start", pile,
                     "--record", format, "--events", "transaction_confirmed"},
                    simdir.path() + "/sim.log");
        REQUIRE(sub.wait(
            "ykc/" + pile + "/availability", [](const Received& r) { return r.j().value("state", "") == "online"; }, 10000ms));
        sub.publish("ykc/" + pile + "/cmd/remote_start", json({{"id", "s"}, {"gun", 1}}).dump());
        REQUIRE(sub.wait("ykc/" + pile + "/resp/remote_start", {}, 10000ms));
        sub.publish("ykc/" + pile + "/cmd/remote_stop", json({{"id", "e"}, {"gun", 1}}).dump());
        auto t = sub.wait("ykc/" + pile + "/transaction", {}, 10000ms);
        REQUIRE_MESSAGE(t, bridge.read_log());
        CHECK(t->j()["type"] == type);
        CHECK_MESSAGE(t->j()["check"] == "ok", t->payload);
        const auto raw = *ykc::from_hex(t->j()["raw"].get<std::string>());
        CHECK(raw[1] == (format == "v17" ? 0xCD : 0xB2));
        CHECK(t->j()["data"].contains(format == "v17" ? "meter_number" : "deep_valley_amount"));
        // the simulated pile got its 0x40
        const auto end = std::chrono::steady_clock::now() + 10000ms;
        auto confirmed = [&] {
            std::ifstream in(simdir.path() + "/sim.log");
            std::stringstream ss;
            ss << in.rdbuf();
            return ss.str().find("\"transaction_confirmed\"") != std::string::npos;
        };
        while (!confirmed() && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(50ms);
        CHECK(confirmed());
    }
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

TEST_CASE("transaction policy forward: 0x40 only when the backend confirms") {
    OnlinePile o(std::vector<std::string>{"--set", "policies.transaction=forward"});
    auto& [broker, sub, bridge, c] = o;
    json record = {{"serial", serial},
                   {"gun", 1},
                   {"start_time", nullptr},
                   {"end_time", nullptr},
                   {"sharp_price", 0},
                   {"sharp_energy", 0},
                   {"sharp_energy_with_loss", 0},
                   {"sharp_amount", 0},
                   {"peak_price", 0},
                   {"peak_energy", 0},
                   {"peak_energy_with_loss", 0},
                   {"peak_amount", 0},
                   {"flat_price", 0},
                   {"flat_energy", 0},
                   {"flat_energy_with_loss", 0},
                   {"flat_amount", 0},
                   {"valley_price", 0},
                   {"valley_energy", 0},
                   {"valley_energy_with_loss", 0},
                   {"valley_amount", 0},
                   {"meter_start", 0},
                   {"meter_end", 0},
                   {"total_energy", 0},
                   {"total_energy_with_loss", 0},
                   {"total_amount", 0},
                   {"vin", ""},
                   {"trade_type", "app"},
                   {"trade_time", nullptr},
                   {"stop_reason", "app_stop"},
                   {"card", "0"}};
    c.send("transaction", record, "8002");
    REQUIRE(sub.wait("ykc/" + pile + "/transaction"));
    CHECK(!c.receive_type("transaction_reply", 500ms));
    sub.publish("ykc/" + pile + "/cmd/transaction_confirm", json({{"id", "tc"}, {"serial", serial}}).dump());
    auto confirm = c.receive_type("transaction_reply");
    REQUIRE(confirm);
    CHECK((*confirm)["data"]["serial"] == serial);
    CHECK((*confirm)["seq"] == "8002");
}
