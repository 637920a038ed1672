// config.yaml: defaults, every key documented, errors naming the key and the line.
#include <fstream>
#include <sstream>

#include "config.hpp"
#include "support.hpp"

using namespace ykc::bridge;

namespace {
std::string error_of(const std::string& yaml) {
    try {
        load_config_text(yaml, "test.yaml");
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}
}  // namespace

TEST_CASE("the shipped config.yaml loads and equals the built-in defaults") {
    const Config c = load_config_file(std::string(YKC_SOURCE_DIR) + "/config.yaml");
    const Config d;
    CHECK(c.listen.port == 8768);
    CHECK(c.mqtt.url == d.mqtt.url);
    CHECK(c.mqtt.qos == 1);
    CHECK(c.mqtt.inflight_window == d.mqtt.inflight_window);
    CHECK(c.limits.heartbeat_timeout == d.limits.heartbeat_timeout);
    CHECK(c.policies.login == "accept");
    CHECK(c.billing_model.periods.size() == 48);
    CHECK(c.billing_model.periods[0] == "valley");
    CHECK(c.homeassistant.on() == d.homeassistant.on());
    CHECK(c.homeassistant.prefix() == d.homeassistant.prefix());
    CHECK(c.homeassistant.forget_after == d.homeassistant.forget_after);
}

TEST_CASE("mistakes name the file, the line and the key") {
    CHECK(error_of("listen:\n  port: 99999\n") == "test.yaml:2: listen.port: out of range 1 … 65535: 99999");
    CHECK(error_of("mqtt:\n  qos: high\n") == "test.yaml:2: mqtt.qos: expected a whole number, got \"high\"");
    CHECK(error_of("mqtt:\n  colour: red\n") == "test.yaml:2: mqtt.colour: unknown key");
    CHECK(error_of("policies:\n  login: maybe\n") ==
          "test.yaml:2: policies.login: expected one of accept, allowlist, forward, got \"maybe\"");
    CHECK(error_of("policies:\n  allowlist: [123]\n") == "test.yaml:2: policies.allowlist: a pile number is 14 digits, got \"123\"");
    CHECK(error_of("billing_model:\n  periods: [flat]\n") == "test.yaml:2: billing_model.periods: expected 48 half-hour periods, got 1");
    CHECK(error_of("mqtt: [1, 2\n").find("YAML syntax") != std::string::npos);
    CHECK(error_of("protocol:\n  utc_offset: moon\n") == "test.yaml:2: protocol.utc_offset: expected an offset like +08:00, got \"moon\"");
}

TEST_CASE("environment and command-line overrides") {
    Config c;
    std::string a = "YKC_MQTT_URL=tcp://10.0.0.1:1883", b = "YKC_LISTEN_PORT=9000", other = "PATH=/bin";
    char* env[] = {a.data(), b.data(), other.data(), nullptr};
    apply_environment(c, env);
    CHECK(c.mqtt.url == "tcp://10.0.0.1:1883");
    CHECK(c.listen.port == 9000);
    apply_override(c, "policies.allowlist", "32010200000001, 32010200000002", "command line");
    CHECK(c.policies.allowlist.size() == 2);
    CHECK_THROWS_WITH_AS(apply_override(c, "limits.output_queue", "0", "command line"),
                         "command line: limits.output_queue: out of range 1 … 100000: 0", ConfigError);
    std::string unknown = "YKC_NO_SUCH=1", bad = "YKC_MQTT_QOS=7";
    char* env2[] = {unknown.data(), nullptr};
    CHECK(apply_environment(c, env2) == std::vector<std::string>{"YKC_NO_SUCH"});
    char* env3[] = {bad.data(), nullptr};
    CHECK_THROWS_WITH_AS(apply_environment(c, env3), "environment YKC_MQTT_QOS: mqtt.qos: out of range 0 … 2: 7", ConfigError);
    // billing model keys are settings like the others: the environment reaches them too
    std::string model = "YKC_BILLING_MODEL_MODEL_ID=0300", periods = "YKC_BILLING_MODEL_PERIODS=" + std::string(47 * 5, ' ');
    char* env4[] = {model.data(), nullptr};
    CHECK(apply_environment(c, env4).empty());
    CHECK(c.billing_model.model_id == "0300");
    char* env5[] = {periods.data(), nullptr};
    CHECK_THROWS_WITH_AS(apply_environment(c, env5),
                         "environment YKC_BILLING_MODEL_PERIODS: billing_model.periods: expected 48 half-hour periods, got 0", ConfigError);
    CHECK_THROWS_WITH_AS(load_config_text("billing_model_overrides:\n  \"32010200000001\":\n    colour: red\n", "t.yaml"),
                         "t.yaml:3: billing_model_overrides.32010200000001.colour: unknown key", ConfigError);
}

TEST_CASE("per-pile billing overrides inherit the default model") {
    const Config c = load_config_text(
        "billing_model:\n  flat_energy_price: \"0.8\"\nbilling_model_overrides:\n  \"32010200000001\":\n    model_id: \"0200\"\n", "t");
    CHECK(c.billing_for("32010200000001").model_id == "0200");
    CHECK(c.billing_for("32010200000001").flat_energy_price == "0.8");
    CHECK(c.billing_for("32010200000002").model_id == "0100");
}

TEST_CASE("homeassistant: off unless enabled or a discovery prefix is set - its keys are checked") {
    CHECK_FALSE(Config{}.homeassistant.on());
    CHECK(Config{}.homeassistant.forget_after == 7 * 86400);
    const Config prefix = load_config_text("homeassistant:\n  discovery_prefix: ha/test\n", "t");
    CHECK(prefix.homeassistant.on());
    CHECK(prefix.homeassistant.prefix() == "ha/test");
    const Config enabled = load_config_text("homeassistant:\n  enabled: true\n", "t");
    CHECK(enabled.homeassistant.on());
    CHECK(enabled.homeassistant.prefix() == "homeassistant");
    CHECK_FALSE(load_config_text("homeassistant:\n  enabled: false\n  discovery_prefix: ha\n", "t").homeassistant.on());
    CHECK(load_config_text("homeassistant:\n  enabled: auto\n  discovery_prefix: ha\n", "t").homeassistant.on());
    CHECK(error_of("homeassistant:\n  enabled: maybe\n") ==
          "test.yaml:2: homeassistant.enabled: expected true, false or auto, got \"maybe\"");
    CHECK(error_of("homeassistant:\n  discovery_prefix: ha/#\n") ==
          "test.yaml:2: homeassistant.discovery_prefix: expected a topic prefix without wildcards or empty levels, like homeassistant, got "
          "\"ha/#\"");
    CHECK(error_of("homeassistant:\n  discovery_prefix: /ha\n").find("homeassistant.discovery_prefix: expected a topic prefix") !=
          std::string::npos);
    CHECK(error_of("homeassistant:\n\n  forget_after: -1\n") == "test.yaml:3: homeassistant.forget_after: out of range 0 … 315360000: -1");
    CHECK(error_of("homeassistant:\n  colour: red\n") == "test.yaml:2: homeassistant.colour: unknown key");
}
