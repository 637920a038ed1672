// The mosquitto_pub lines of docs/commands.md, published as they are to the real bridge with
// ykc-sim as the charger: an example that the bridge would refuse fails here.
#include <fstream>
#include <regex>

#include "harness.hpp"

using namespace it;

namespace {

bool online(const Received& r) { return r.j().value("state", "") == "online"; }

struct Example {
    std::string topic, payload;
};

std::vector<Example> examples() {
    std::ifstream in(std::string(YKC_SOURCE_DIR) + "/docs/commands.md");
    REQUIRE(in.good());
    const std::regex line(R"(^mosquitto_pub -h 127\.0\.0\.1 -t (\S+) -m '(.*)'$)");
    std::vector<Example> out;
    std::string l;
    std::smatch m;
    while (std::getline(in, l))
        if (std::regex_match(l, m, line)) out.push_back({m[1], m[2]});
    return out;
}

}  // namespace

TEST_CASE("every mosquitto_pub example of docs/commands.md is answered by the real bridge, none is invalid") {
    const auto all = examples();
    REQUIRE(all.size() >= 20);
    Mosquitto broker;
    Subscriber sub(broker.url());
    Bridge bridge(broker, {"--set", "limits.command_timeout=5"});
    TempDir simdir;
    Process sim({YKC_SIM_BIN, "--no-stdin", "--port", std::to_string(bridge.port), "--piles", "1", "--guns", "2", "--pile-start", pile},
                simdir.path() + "/sim.log");
    REQUIRE(sub.wait("ykc/" + pile + "/availability", online, 10000ms));
    for (const auto& e : all) {
        CAPTURE(e.topic);
        REQUIRE(e.topic.rfind("ykc/" + pile + "/cmd/", 0) == 0);
        const std::string name = e.topic.substr(e.topic.rfind('/') + 1);
        const json payload = json::parse(e.payload);
        sub.publish(e.topic, e.payload);
        auto r = sub.wait("ykc/" + pile + "/resp/" + name, {}, 10000ms);
        REQUIRE_MESSAGE(r, bridge.read_log());
        CHECK(r->j()["id"] == payload["id"]);
        // login_reply answers a login that waits (policies.login forward): here none does
        CHECK_MESSAGE(r->j()["status"] == (name == "login_reply" ? "error" : "ok"), r->payload);
    }
}
