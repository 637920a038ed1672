// Brokers other than Mosquitto, real ones from Debian: NATS server's MQTT listener (MQTT 3.1.1,
// retained messages and QoS 1 kept in JetStream). The same path as with Mosquitto: login, frames,
// a command and its answer, retained availability, a record confirmed only after its PUBACK, a
// broker restart. Skipped, with a message, where the package is not installed.
#include <cstdlib>

#include "harness.hpp"

using namespace it;

namespace {

// nats-server with JetStream and an MQTT listener on loopback; restart() keeps its store.
struct NatsServer {
    TempDir dir;
    int port = free_port(), mqtt_port = free_port();
    std::unique_ptr<Process> proc;
    static bool installed() { return std::system("command -v nats-server >/dev/null 2>&1") == 0; }
    NatsServer() {
        std::ofstream(dir.path() + "/nats.conf") << "server_name: it_nats\nlisten: 127.0.0.1:" << port << "\njetstream {\n  store_dir: \""
                                                 << dir.path() << "/js\"\n}\nmqtt {\n  listen: 127.0.0.1:" << mqtt_port << "\n}\n";
        start();
    }
    void start() {
        proc =
            std::make_unique<Process>(std::vector<std::string>{"nats-server", "-c", dir.path() + "/nats.conf"}, dir.path() + "/nats.log");
        REQUIRE_MESSAGE(wait_port(mqtt_port, 15000ms), "nats-server did not start");
    }
    void stop() { proc->stop(); }
    std::string url() const { return "tcp://127.0.0.1:" + std::to_string(mqtt_port); }
};

}  // namespace

TEST_CASE("NATS server as the broker (MQTT 3.1.1): frames, a command and its answer, retained availability, records and a restart") {
    if (!NatsServer::installed()) {
        MESSAGE("nats-server is not installed (Debian package nats-server): skipped");
        return;
    }
    NatsServer nats;
    Subscriber sub(nats.url());
    Bridge bridge(nats.url(), {"--set", "mqtt.version=3.1.1", "--set", "mqtt.reconnect_max=1"}, "", 0);
    REQUIRE(bridge.log_shows("mqtt: connected to " + nats.url(), 10000ms));
    Charger c(bridge.port, pile);
    c.login();
    REQUIRE(sub.wait(
        "ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); }, 10000ms));
    {  // retained: a client that subscribes later gets it
        Subscriber late(nats.url(), "ykc/" + pile + "/availability");
        auto a = late.wait("ykc/" + pile + "/availability");
        REQUIRE(a);
        CHECK(a->retained);
        CHECK(has_state(*a, "online"));
    }
    c.send("realtime", idle_realtime(220));
    auto rt = sub.wait("ykc/" + pile + "/realtime");
    REQUIRE(rt);
    CHECK(rt->j()["data"]["voltage"] == 220);
    // a command, the charger's reply, the answer
    sub.publish("ykc/" + pile + "/cmd/remote_stop", R"({"id":"nats-1","gun":1})");
    auto stop = c.receive_type("remote_stop");
    REQUIRE(stop);
    c.send("remote_stop_reply", {{"gun", 1}, {"result", "success"}}, (*stop)["seq"]);
    auto resp = sub.wait("ykc/" + pile + "/resp/remote_stop");
    REQUIRE(resp);
    CHECK(resp->j()["id"] == "nats-1");
    CHECK(resp->j()["status"] == "ok");
    // a record: published, then confirmed
    c.send("transaction", transaction_data(serial), "8001");
    auto confirm = c.receive_type("transaction_reply");
    REQUIRE(confirm);
    CHECK((*confirm)["seq"] == "8001");
    auto t = sub.wait("ykc/" + pile + "/transaction");
    REQUIRE(t);
    CHECK(t->j()["data"]["serial"] == serial);
    // the broker restarts: a record taken meanwhile is confirmed only once it is back
    nats.stop();
    const std::string later = "32010200000001012411241030000002";
    c.send("transaction", transaction_data(later), "8002");
    CHECK_FALSE(c.receive_type("transaction_reply", 1500ms));
    nats.start();
    Subscriber after(nats.url());
    confirm = c.receive_type("transaction_reply", 20000ms);
    REQUIRE(confirm);
    CHECK((*confirm)["data"]["serial"] == later);
    CHECK((*confirm)["seq"] == "8002");
    // and the retained availability survived the restart (JetStream keeps it)
    auto a = after.wait(
        "ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); }, 10000ms);
    REQUIRE(a);
}
