// ykc_bench_paho_sync: the 10,000-pile floor (bench/load/floor.hpp) with Paho C's synchronous
// client. MQTTClient_publish writes the PUBLISH in the caller's thread (no send thread, no
// hand-off); one background thread reads the acknowledgements. It is the cheapest way Paho can
// publish these messages, so it bounds what any Paho-based link could reach. A separate program
// from ykc_bench_load: libpaho-mqtt3c and the async libpaho-mqtt3as (under Paho C++) export the
// same internal symbols and must not be loaded into one process.
//
//   ykc_bench_paho_sync [--broker URL] [--piles N] [--rate R] [--qos0-rate R] [--duration S]
//                       [--mqtt-version 5|3] [--inflight N] [--pacing-only] [--id CLIENT_ID]
//
// Prints the same key=value line as `ykc_bench_load paho`.
#include <MQTTClient.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "floor.hpp"

namespace {

std::atomic<std::int64_t> in_flight{0};

[[noreturn]] void usage(const std::string& why) {
    std::cerr << "ykc_bench_paho_sync: " << why << "\n"
              << "usage: ykc_bench_paho_sync [--broker URL] [--piles N] [--rate R] [--qos0-rate R] [--duration S]\n"
                 "       [--mqtt-version 5|3] [--inflight N] [--pacing-only] [--id CLIENT_ID]\n";
    std::exit(2);
}

void delivered(void*, MQTTClient_deliveryToken) { --in_flight; }
int arrived(void*, char* topic, int, MQTTClient_message* m) {
    MQTTClient_freeMessage(&m);
    MQTTClient_free(topic);
    return 1;
}
void lost(void*, char* cause) { std::cerr << "ykc_bench_paho_sync: connection lost: " << (cause ? cause : "") << "\n"; }

}  // namespace

int main(int argc, char** argv) {
    floor_bench::Mix m;
    std::string broker = "tcp://127.0.0.1:1883", id = "bench-paho-sync";
    int version = 5;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto v = [&]() -> std::string {
            if (i + 1 >= argc) usage(a + " needs a value");
            return argv[++i];
        };
        if (a == "--broker") broker = v();
        else if (a == "--piles") m.piles = std::stoi(v());
        else if (a == "--rate") m.rate = std::stod(v());
        else if (a == "--qos0-rate") m.qos0_rate = std::stod(v());
        else if (a == "--duration") m.duration = std::stod(v());
        else if (a == "--mqtt-version") version = std::stoi(v());
        else if (a == "--inflight") m.inflight = std::stoul(v());
        else if (a == "--pacing-only") m.pacing_only = true;
        else if (a == "--id") id = v();
        else usage("unknown option " + a);
    }
    if (m.rate + m.qos0_rate <= 0) usage("needs --rate or --qos0-rate");
    if (version != 5 && version != 3) usage("--mqtt-version 5|3");
    if (m.piles < 1) usage("--piles N >= 1");

    MQTTClient client;
    MQTTClient_createOptions create = MQTTClient_createOptions_initializer;
    create.MQTTVersion = version == 5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
    if (MQTTClient_createWithOptions(&client, broker.c_str(), (id + "-sync").c_str(), MQTTCLIENT_PERSISTENCE_NONE, nullptr, &create) !=
        MQTTCLIENT_SUCCESS)
        usage("cannot create a client for " + broker);
    MQTTClient_setCallbacks(client, nullptr, lost, arrived, delivered);
    MQTTClient_connectOptions conn = MQTTClient_connectOptions_initializer;
    MQTTClient_connectOptions conn5 = MQTTClient_connectOptions_initializer5;
    if (version == 5) conn = conn5;
    conn.keepAliveInterval = 30;
    conn.maxInflightMessages = static_cast<int>(m.inflight) + 4;  // our own window stays below it: publish never blocks
    int rc;
    if (version == 5) {
        MQTTResponse r = MQTTClient_connect5(client, &conn, nullptr, nullptr);
        rc = r.reasonCode;
        MQTTResponse_free(r);
    } else {
        rc = MQTTClient_connect(client, &conn);
    }
    if (rc != MQTTCLIENT_SUCCESS) {
        std::cerr << "ykc_bench_paho_sync: connect to " << broker << " failed: " << rc << "\n";
        return 1;
    }
    std::uint64_t failed = 0;
    const auto r = floor_bench::run(
        m,
        [&](const std::string& topic, const std::string& payload, int qos) {
            if (qos == 1) ++in_flight;
            MQTTClient_deliveryToken token;
            int prc;
            if (version == 5) {
                MQTTResponse res =
                    MQTTClient_publish5(client, topic.c_str(), static_cast<int>(payload.size()), payload.data(), qos, 0, nullptr, &token);
                prc = res.reasonCode;
                MQTTResponse_free(res);
            } else {
                prc = MQTTClient_publish(client, topic.c_str(), static_cast<int>(payload.size()), payload.data(), qos, 0, &token);
            }
            if (prc != MQTTCLIENT_SUCCESS) {
                ++failed;
                if (qos == 1) --in_flight;
            }
        },
        [] { return in_flight.load(); });
    for (int i = 0; i < 1000 && in_flight.load() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    floor_bench::print(r, failed);
    MQTTClient_disconnect(client, 1000);
    MQTTClient_destroy(&client);
    return failed == 0 ? 0 : 1;
}
