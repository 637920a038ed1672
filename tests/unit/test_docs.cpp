// The generated documents: current, and their examples valid the way the bridge reads them.
#include <fstream>
#include <regex>
#include <set>

#include <yaml-cpp/yaml.h>

#include "command_fill.hpp"
#include "config.hpp"
#include "config_schema.hpp"
#include "docs/docs.hpp"
#include "support.hpp"

using test::json;
using namespace ykc::bridge;

namespace {

const std::string bin = YKC_BRIDGE_BIN;

std::string source_file(const std::string& path) {
    std::ifstream f(std::string(YKC_SOURCE_DIR) + "/" + path);
    REQUIRE_MESSAGE(f.good(), ("cannot read " + path));
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// The JSON of a mosquitto_pub line (between -m ' and the closing ').
json published_json(const std::string& line) {
    const auto start = line.find(" -m '");
    REQUIRE_MESSAGE(start != std::string::npos, line);
    REQUIRE(line.back() == '\'');
    return json::parse(line.substr(start + 5, line.size() - start - 6));
}

// A command's data after the bridge filled it (as Bridge::command does), with Config's defaults.
json filled(const std::string& name, json data) {
    unsigned serials = 0;
    const Config config;
    FillContext ctx{docs::example_pile,
                    docs::example_time,
                    config.policies.balance,
                    config.billing_for(docs::example_pile).to_data(),
                    {{"state", "enabled"}, {"max_power", 100}},
                    serials};
    fill_command(name, data, ctx);
    return data;
}

void collect_keys(const YAML::Node& node, const std::string& prefix, std::set<std::string>& out) {
    for (const auto& kv : node) {
        const std::string key = prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar();
        if (kv.second.IsMap() && key != "billing_model_overrides") collect_keys(kv.second, key, out);
        else out.insert(key);
    }
}

}  // namespace

TEST_CASE("docs/commands.md, docs/topics.md, docs/configuration.md and config.yaml are the output of ykc-bridge docs") {
    const std::vector<std::pair<std::string, std::string>> generated = {{"commands", "docs/commands.md"},
                                                                        {"topics", "docs/topics.md"},
                                                                        {"configuration", "docs/configuration.md"},
                                                                        {"config-yaml", "config.yaml"}};
    for (const auto& [name, path] : generated) {
        CAPTURE(path);
        auto r = test::run(bin + " docs " + name);
        CHECK(r.status == 0);
        CHECK(r.out.size() > 1000);
        CHECK_MESSAGE(r.out == source_file(path), (path + " is stale: run `build/bridge/ykc-bridge docs " + name + " > " + path + "`"));
    }
    CHECK(test::run(bin + " docs 2>/dev/null").status == 2);
    CHECK(test::run(bin + " docs nonsense 2>/dev/null").status == 2);
}

TEST_CASE("every downlink command of the catalogue is documented, the bridge's own ones too") {
    const auto& cat = test::codec().catalogue();
    const auto all = docs::commands(cat);
    const std::string md = docs::commands_markdown(test::codec());
    std::set<std::string> names;
    for (const auto& c : all) {
        names.insert(c.name);
        CAPTURE(c.name);
        CHECK(md.find("\n## " + c.name + "\n") != std::string::npos);
        CHECK(md.find(docs::mosquitto_pub(c) + "\n") != std::string::npos);
    }
    for (const auto& m : cat.messages())
        if (m.direction == ykc::Direction::down) CHECK_MESSAGE(names.count(m.name) == 1, m.name);
    for (const char* own : {"raw", "login_reply", "transaction_confirm", "card_auth_reply", "parallel_card_auth_reply"})
        CHECK(names.count(own) == 1);
    // the reply a command waits for, with the fields that pair them
    CHECK(md.find(
              "waits for [`remote_start_reply`](messages.md#remote_start_reply) (0x33) from the same pile with the same `gun`, `serial`") !=
          std::string::npos);
}

TEST_CASE("every command example is valid JSON that encodes the way the bridge would send it") {
    const auto& codec = test::codec();
    for (const auto& c : docs::commands(codec.catalogue())) {
        CAPTURE(c.name);
        json data = published_json(docs::mosquitto_pub(c));
        CHECK(data.contains("id"));
        data.erase("id");
        if (c.message) {
            const json sent = filled(c.name, data);
            const auto body = codec.encode_body(*c.message, sent, docs::example_pile);
            // what goes out decodes to what was meant
            const auto frame = ykc::write_frame(c.message->code, {0, 0}, 0, body);
            const json back = codec.decode(ykc::FrameView{frame, ykc::CrcOrder::low_first});
            CHECK(back["pile"] == docs::example_pile);
            for (const auto& [k, v] : data.items()) CHECK_MESSAGE(back["data"][k] == v, k);
        } else if (c.name == "raw") {
            const auto frame = test::frame(data["hex"].get<std::string>());
            CHECK(frame.bytes.size() >= 8);
        } else if (c.name == "charge") {
            // remote_start (true) or remote_stop (false), filled as the bridge fills them
            const std::string as = data["charge"].get<bool>() ? "remote_start" : "remote_stop";
            data.erase("charge");
            const json sent = filled(as, data);
            CHECK(codec.encode_body(*codec.catalogue().find(as), sent, docs::example_pile).size() > 0);
        } else if (c.name == "transaction_confirm") {
            CHECK(codec.encode_body(*codec.catalogue().find("transaction_reply"), data, "").size() > 0);
        } else {
            REQUIRE(c.name == "login_reply");
            CHECK(data["result"] == "success");
        }
    }
}

TEST_CASE("a broken example would fail: the codec refuses what is missing or out of range") {
    const auto& cat = test::codec().catalogue();
    CHECK_THROWS_AS(test::codec().encode_body(*cat.find("remote_stop"), json::object(), docs::example_pile), ykc::EncodeError);
    CHECK_THROWS_AS(test::codec().encode_body(*cat.find("remote_stop"), json{{"gun", 1}, {"colour", 2}}, docs::example_pile),
                    ykc::EncodeError);
}

TEST_CASE("the bridge fills remote_start's serial and balance, time_sync's time and the billing model") {
    const json start = filled("remote_start", {{"gun", 2}});
    CHECK(start["serial"] == docs::example_pile + "02" + "240501083000" + "0000");
    CHECK(start["balance"] == "100.00");
    CHECK(filled("remote_start", {{"gun", 1}, {"serial", "1"}, {"balance", 5}}) == json{{"gun", 1}, {"serial", "1"}, {"balance", 5}});
    CHECK(filled("time_sync", json::object())["time"] == docs::example_time);
    const json model = filled("billing_model_set", {{"model_id", "0200"}});
    CHECK(model["model_id"] == "0200");
    CHECK(model["flat_energy_price"] == "0.7");
    CHECK(model["periods"].size() == 48);
    CHECK(filled("remote_stop", {{"gun", 1}}) == json{{"gun", 1}});
}

TEST_CASE("config.yaml has every key of the schema with its default, and nothing else") {
    const YAML::Node root = YAML::Load(source_file("config.yaml"));
    std::set<std::string> in_file, in_schema;
    collect_keys(root, "", in_file);
    for (const auto& s : config_settings()) in_schema.insert(s.key);
    in_schema.insert("billing_model_overrides");
    CHECK(in_file == in_schema);
    const Config loaded = load_config_text(source_file("config.yaml"), "config.yaml"), defaults;
    for (const auto& s : config_settings()) CHECK_MESSAGE(s.show(loaded) == s.show(defaults), s.key);
}

TEST_CASE("docs/configuration.md names every key, its default and its environment variable") {
    const std::string md = docs::configuration_markdown();
    for (const auto& s : config_settings()) {
        CAPTURE(s.key);
        CHECK(!s.doc.empty());
        CHECK(md.find("| `" + s.key + "` | " + s.type + " | `") != std::string::npos);
        CHECK(md.find("`" + env_name(s.key) + "`") != std::string::npos);
    }
    CHECK(env_name("mqtt.tls.ca_file") == "YKC_MQTT_TLS_CA_FILE");
    CHECK(md.find("| `listen.port` | integer | `8768` | 1 … 65535 | `YKC_LISTEN_PORT` |") != std::string::npos);
}

TEST_CASE("docs/topics.md shows a decoded example of every uplink message") {
    const std::string md = docs::topics_markdown(test::codec());
    for (const auto& m : test::codec().catalogue().messages()) {
        if (m.direction != ykc::Direction::up) continue;
        CAPTURE(m.name);
        const auto at = md.find("\n### " + m.name + "\n");
        REQUIRE(at != std::string::npos);
        const auto start = md.find("```json\n", at) + 8;
        const json example = json::parse(md.substr(start, md.find('\n', start) - start));
        CHECK(example["type"] == m.name);
        CHECK(example["pile"] == docs::example_pile);
        CHECK(example["ts"] == docs::example_time);
        CHECK(example["data"].is_object());
        if (m.record) {  // what the bridge adds to a billing record
            CHECK(example["check"] == "ok");
            CHECK(example["raw"].get<std::string>().rfind("68", 0) == 0);
        }
    }
}

TEST_CASE("README.md links every document and carries the topic table of docs/topics.md") {
    const std::string readme = source_file("README.md");
    for (const char* doc : {"docs/messages.md", "docs/commands.md", "docs/topics.md", "docs/configuration.md"})
        CHECK_MESSAGE(readme.find(std::string("](") + doc + ")") != std::string::npos, std::string(doc));
    CHECK_MESSAGE(readme.find(docs::topic_table()) != std::string::npos,
                  "README.md's topic table differs from docs::topic_table() (bridge/docs/topics.cpp): change both together");
    CHECK(readme.find("## Troubleshooting") != std::string::npos);
}
