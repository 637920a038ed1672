// Brokers other than Mosquitto, real ones from Debian, each under MQTT 3.1.1:
// - NATS server's MQTT listener (retained messages and QoS 1 kept in JetStream);
// - RabbitMQ's rabbitmq_mqtt plugin (3.10: retained messages are kept per node and are not
//   delivered to a subscription with a wildcard, so every check reads the exact topic).
// The same path as with Mosquitto: login, frames, a command and its answer, retained
// availability, a record confirmed only after its PUBACK, a broker restart. Skipped, with a
// message, where the package is not installed.
#include <cstdlib>

#include "harness.hpp"

using namespace it;

namespace {

bool installed(const std::string& command) { return std::system(("command -v " + command + " >/dev/null 2>&1").c_str()) == 0; }

// nats-server with JetStream and an MQTT listener on loopback; restart() keeps its store.
struct NatsServer {
    static constexpr const char* package = "nats-server";
    TempDir dir;
    int port = free_port(), mqtt_port = free_port();
    std::unique_ptr<Process> proc;
    static bool installed() { return ::installed("nats-server"); }
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

// One RabbitMQ node with the MQTT plugin, all of it in a temporary folder: its own Erlang port
// mapper (epmd) on a free port, distribution port, cookie ($HOME), database and logs; no AMQP
// listener. restart() keeps its database (and so the retained messages). Starting takes ~10 s.
struct RabbitMq {
    static constexpr const char* package = "rabbitmq-server";
    static constexpr const char* server = "/usr/lib/rabbitmq/bin/rabbitmq-server";
    TempDir dir;
    int mqtt_port = free_port(), epmd_port = free_port(), dist_port = free_port();
    std::unique_ptr<Process> epmd, proc;
    static bool installed() { return ::access(server, X_OK) == 0 && ::installed("epmd"); }
    RabbitMq() {
        std::ofstream(dir.path() + "/rabbitmq.conf")
            << "listeners.tcp = none\nmqtt.listeners.tcp.default = 127.0.0.1:" << mqtt_port << "\nloopback_users = none\n";
        std::ofstream(dir.path() + "/enabled_plugins") << "[rabbitmq_mqtt].\n";
        epmd = std::make_unique<Process>(std::vector<std::string>{"epmd", "-port", std::to_string(epmd_port), "-address", "127.0.0.1"},
                                         dir.path() + "/epmd.log");
        REQUIRE_MESSAGE(wait_port(epmd_port), "epmd did not start");
        start();
    }
    ~RabbitMq() {
        proc.reset();  // the node first, then its port mapper
        epmd.reset();
    }
    void start() {
        const std::string d = dir.path();
        proc = std::make_unique<Process>(
            std::vector<std::string>{"env", "HOME=" + d, "RABBITMQ_NODENAME=it_rabbit@localhost", "RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
                                     "RABBITMQ_DIST_PORT=" + std::to_string(dist_port), "ERL_EPMD_PORT=" + std::to_string(epmd_port),
                                     "ERL_EPMD_ADDRESS=127.0.0.1", "RABBITMQ_MNESIA_BASE=" + d + "/mnesia",
                                     "RABBITMQ_LOG_BASE=" + d + "/log", "RABBITMQ_CONFIG_FILE=" + d + "/rabbitmq.conf",
                                     "RABBITMQ_ENABLED_PLUGINS_FILE=" + d + "/enabled_plugins", "RABBITMQ_CONF_ENV_FILE=/dev/null", server},
            d + "/rabbitmq.log");
        REQUIRE_MESSAGE(wait_port(mqtt_port, 60000ms), "rabbitmq-server did not start");
    }
    void stop() { proc->stop(30000ms); }
    std::string url() const { return "tcp://127.0.0.1:" + std::to_string(mqtt_port); }
};

// login, frames, a command and its answer, retained availability, records and a restart
template <class Broker>
void broker_path() {
    if (!Broker::installed()) {
        MESSAGE(Broker::package << " is not installed (Debian package " << Broker::package << "): skipped");
        return;
    }
    Broker broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker.url(), {"--set", "mqtt.version=3.1.1", "--set", "mqtt.reconnect_max=1"}, "", 0);
    REQUIRE(bridge.log_shows("mqtt: connected to " + broker.url(), 10000ms));
    Charger c(bridge.port, pile);
    c.login();
    REQUIRE(sub.wait(
        "ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); }, 10000ms));
    {  // retained: a client that subscribes later gets it
        Subscriber late(broker.url(), "ykc/" + pile + "/availability");
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
    sub.publish("ykc/" + pile + "/cmd/remote_stop", R"({"id":"other-1","gun":1})");
    auto stop = c.receive_type("remote_stop");
    REQUIRE(stop);
    c.send("remote_stop_reply", {{"gun", 1}, {"result", "success"}}, (*stop)["seq"]);
    auto resp = sub.wait("ykc/" + pile + "/resp/remote_stop");
    REQUIRE(resp);
    CHECK(resp->j()["id"] == "other-1");
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
    broker.stop();
    const std::string later = "32010200000001012411241030000002";
    c.send("transaction", transaction_data(later), "8002");
    CHECK_FALSE(c.receive_type("transaction_reply", 1500ms));
    broker.start();
    Subscriber after(broker.url(), "ykc/" + pile + "/availability");
    confirm = c.receive_type("transaction_reply", 20000ms);
    REQUIRE(confirm);
    CHECK((*confirm)["data"]["serial"] == later);
    CHECK((*confirm)["seq"] == "8002");
    // and the retained availability survived the restart (kept on disk)
    auto a = after.wait(
        "ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); }, 10000ms);
    REQUIRE(a);
}

}  // namespace

TEST_CASE("NATS server as the broker (MQTT 3.1.1): frames, a command and its answer, retained availability, records and a restart") {
    broker_path<NatsServer>();
}

TEST_CASE("RabbitMQ as the broker (MQTT 3.1.1): frames, a command and its answer, retained availability, records and a restart") {
    broker_path<RabbitMq>();
}
