// Several bridges on one broker (README: "Running several bridges"; bridge/ownership.hpp): a pile
// that moves from one bridge to another, commands during the move, and a bridge that crashed.
#include "harness.hpp"

using namespace it;

namespace {

std::string bridge_id(const Bridge& b) { return "it-bridge-" + std::to_string(b.port); }

// The last availability of `p` the subscriber has seen.
std::optional<Received> last_availability(Subscriber& sub, const std::string& p) {
    std::optional<Received> last;
    for (auto& r : sub.snapshot())
        if (r.topic == "ykc/" + p + "/availability") last = r;
    return last;
}

std::size_t answers(Subscriber& sub, const std::string& topic, const std::string& id) {
    std::size_t n = 0;
    for (auto& r : sub.snapshot())
        if (r.topic == topic && r.j().value("id", "") == id) ++n;
    return n;
}

}  // namespace

TEST_CASE("two bridges: a pile that moves is online through the new bridge, the old one closes quietly, and commands are answered once") {
    Mosquitto broker;
    Subscriber sub{broker.url()};
    Bridge a(broker), b(broker);  // mqtt.commands all: both hear every command
    Charger old_link(a.port, pile);
    old_link.login();
    REQUIRE(sub.wait("ykc/" + pile + "/availability",
                     [&](const Received& r) { return has_state(r, "online") && r.j().value("bridge", "") == bridge_id(a); }));
    // the charger's link drops without a FIN (a 4G link), and it logs in again through bridge b
    Charger moved(b.port, pile);
    moved.login();
    auto online_b = sub.wait("ykc/" + pile + "/availability",
                             [&](const Received& r) { return has_state(r, "online") && r.j().value("bridge", "") == bridge_id(b); });
    REQUIRE(online_b);
    CHECK(online_b->j()["claim"].get<std::uint64_t>() > 0);
    // bridge a closes its stale session without publishing offline over bridge b's claim
    CHECK(old_link.closed_by_peer());
    CHECK(a.log_shows("logged in through bridge " + bridge_id(b)));
    CHECK(a.log_shows("not published offline: a newer claim holds it (bridge " + bridge_id(b) + ")"));
    // a command is executed and answered by bridge b only (bridge a says so in its log)
    const auto frame = codec().encode({{"type", "reboot"}, {"pile", pile}, {"seq", "0A0B"}, {"data", {{"mode", "immediate"}}}});
    sub.publish("ykc/" + pile + "/cmd/raw", json({{"id", "once"}, {"hex", ykc::to_hex(frame)}}).dump());
    auto got = moved.receive_type("reboot");
    REQUIRE(got);
    CHECK((*got)["seq"] == "0A0B");
    CHECK(a.log_shows("pile " + pile + ": command raw left to bridge " + bridge_id(b)));
    // a command for a pile nobody holds is answered offline once: by the bridge with the least
    // name (they met through ykc/bridge/state); the other one logs that it left it
    const std::string absent = "32010200000099";
    const auto& [answering, silent] = bridge_id(a) < bridge_id(b) ? std::pair{&a, &b} : std::pair{&b, &a};
    REQUIRE(silent->log_shows("bridge " + bridge_id(*answering) + " is online"));
    sub.publish("ykc/" + absent + "/cmd/reboot", json({{"id", "marker"}, {"mode", "immediate"}}).dump());
    auto offline = sub.wait("ykc/" + absent + "/resp/reboot");
    REQUIRE(offline);
    CHECK(offline->j()["status"] == "offline");
    CHECK(silent->log_shows("pile " + absent + ": command reboot left to bridge " + bridge_id(*answering)));
    CHECK(answers(sub, "ykc/" + absent + "/resp/reboot", "marker") == 1);
    CHECK(answers(sub, "ykc/" + pile + "/resp/raw", "once") == 1);
    // and what is retained at the end says online through bridge b
    auto last = last_availability(sub, pile);
    REQUIRE(last);
    CHECK(has_state(*last, "online"));
    CHECK(last->j()["bridge"] == bridge_id(b));
    // bridge b's session ends: now the offline is published
    moved.close();
    CHECK(sub.wait("ykc/" + pile + "/availability",
                   [&](const Received& r) { return has_state(r, "offline") && r.j().value("bridge", "") == bridge_id(b); }));
}

TEST_CASE("a bridge killed and started again publishes offline for the piles that did not come back within limits.heartbeat_timeout") {
    Mosquitto broker;
    Subscriber sub{broker.url()};
    TempDir state;
    const int port = free_port();
    const std::vector<std::string> options = {"--set", "limits.heartbeat_timeout=3"};
    const std::string back = "32010200000002";
    std::uint64_t old_claim = 0;
    {
        Bridge a(broker, options, state.path() + "/data", port);
        Charger gone(a.port, pile), returns(a.port, back);
        gone.login();
        returns.login();
        REQUIRE(sub.wait("ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); }));
        auto online = sub.wait("ykc/" + back + "/availability", [](const Received& r) { return has_state(r, "online"); });
        REQUIRE(online);
        old_claim = online->j()["claim"].get<std::uint64_t>();
        a.proc->kill9();  // the availability of both stays retained "online"
    }
    Bridge a(broker, options, state.path() + "/data", port);
    Charger returns(a.port, back);
    returns.login();
    // the pile that came back keeps its session with heartbeats while the other one's time runs out
    std::optional<Received> offline;
    for (int i = 0; i < 40 && !offline; ++i) {
        returns.send("heartbeat", {{"gun", 1}, {"gun_status", "normal"}});
        offline = sub.wait(
            "ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "offline"); }, 250ms);
    }
    REQUIRE(offline);
    CHECK(offline->j()["bridge"] == "it-bridge-" + std::to_string(port));
    CHECK(offline->j()["reason"] == "not back after the bridge restarted");
    CHECK(a.log_shows("pile " + pile + ": offline: not back after the bridge restarted"));
    // the pile that came back is online under its new claim, and was never published offline
    auto last = last_availability(sub, back);
    REQUIRE(last);
    CHECK(has_state(*last, "online"));
    CHECK(last->j()["claim"].get<std::uint64_t>() > old_claim);
    for (auto& r : sub.snapshot()) CHECK_FALSE((r.topic == "ykc/" + back + "/availability" && has_state(r, "offline")));
}

TEST_CASE(
    "mqtt.failover_urls: the bridge uses the next broker while mqtt.url is down, and a record is confirmed only once a broker has it") {
    const int first_port = free_port();
    const std::string first_url = "tcp://127.0.0.1:" + std::to_string(first_port);
    auto second = std::make_unique<Mosquitto>();
    Subscriber on_second{second->url()};
    Bridge bridge(first_url, {"--set", "mqtt.failover_urls=" + second->url(), "--set", "mqtt.reconnect_max=2"}, "", 0);
    REQUIRE(bridge.log_shows("mqtt: connected to " + second->url(), 10000ms));
    Charger c(bridge.port, pile);
    c.login();
    REQUIRE(on_second.wait("ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); }));
    // the second broker dies: a record taken now waits in the outbox, unconfirmed
    second.reset();
    c.send("transaction", transaction_data(serial));
    CHECK_FALSE(c.receive_type("transaction_reply", 1000ms));
    // the first comes up: the record goes there, and only then is it confirmed
    Mosquitto first(first_port, "log_type all\n");
    REQUIRE(bridge.log_shows("mqtt: connected to a broker of mqtt.url and mqtt.failover_urls", 15000ms));  // the first: its log below
    auto confirm = c.receive_type("transaction_reply", 10000ms);
    REQUIRE(confirm);
    CHECK((*confirm)["data"]["serial"] == serial);
    CHECK(first.read_log().find("'ykc/" + pile + "/transaction'") != std::string::npos);
}

TEST_CASE("a bridge killed while another runs: its piles are offline at once, the shared state is online, a command is answered once") {
    Mosquitto broker;
    Subscriber sub{broker.url()};
    auto a = std::make_unique<Bridge>(broker);
    Bridge b(broker);
    Charger on_a(a->port, pile);
    on_a.login();
    auto online = sub.wait("ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); });
    REQUIRE(online);
    const std::string a_id = bridge_id(*a);
    const auto claim = online->j()["claim"].get<std::uint64_t>();
    a->proc->kill9();  // its will: {"state":"offline","bridge":a}
    auto will =
        sub.wait("ykc/bridge/state", [&](const Received& r) { return has_state(r, "offline") && r.j().value("bridge", "") == a_id; });
    REQUIRE(will);
    // bridge b publishes the pile offline under bridge a's name and claim, and its own state again
    auto offline = sub.wait(
        "ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "offline"); }, 5000ms);
    REQUIRE(offline);
    CHECK(offline->j()["bridge"] == a_id);
    CHECK(offline->j()["claim"].get<std::uint64_t>() == claim);
    CHECK(offline->j()["reason"] == "bridge " + a_id + " is gone");
    CHECK(sub.wait("ykc/bridge/state",
                   [&](const Received& r) { return has_state(r, "online") && r.j().value("bridge", "") == bridge_id(b); }));
    CHECK(b.log_shows("bridge " + a_id + " is gone: its 1 pile(s) published offline"));
    // a command for the pile is answered offline, once (bridge b: nobody holds it)
    sub.publish("ykc/" + pile + "/cmd/reboot", json({{"id", "during"}, {"mode", "immediate"}}).dump());
    auto resp = sub.wait("ykc/" + pile + "/resp/reboot");
    REQUIRE(resp);
    CHECK(resp->j()["status"] == "offline");
    // the charger comes back through bridge b: online under a higher claim, and commands executed
    Charger on_b(b.port, pile);
    on_b.login();
    auto back = sub.wait("ykc/" + pile + "/availability",
                         [&](const Received& r) { return has_state(r, "online") && r.j().value("bridge", "") == bridge_id(b); });
    REQUIRE(back);
    CHECK(back->j()["claim"].get<std::uint64_t>() > claim);
    sub.publish("ykc/" + pile + "/cmd/reboot", json({{"id", "after"}, {"mode", "immediate"}}).dump());
    CHECK(on_b.receive_type("reboot"));
    std::this_thread::sleep_for(300ms);  // a second answer to "during" would have come by now
    CHECK(answers(sub, "ykc/" + pile + "/resp/reboot", "during") == 1);
}
