#pragma once
// The generated documents (`ykc-bridge docs <name>`): docs/commands.md, docs/topics.md,
// docs/configuration.md and config.yaml. Each is a pure function of the catalogue, the config
// schema and the bridge's tables, so a test can tell when a checked-in copy is stale.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ykc/codec.hpp"

namespace ykc::bridge::docs {

std::string commands_markdown(const Codec& codec);
std::string topics_markdown(const Codec& codec);
std::string configuration_markdown();
std::string config_yaml();

// The table of every topic, as in README.md ("MQTT topics") and docs/topics.md.
const std::string& topic_table();

// A field of one of the bridge's own commands (those not in the catalogue).
struct FieldDoc {
    std::string name, type, required, notes;
};

// A downlink command as docs/commands.md shows it.
struct CommandDoc {
    std::string name;
    std::string summary;               // how the bridge handles it
    const Message* message = nullptr;  // the catalogue message it sends as it is, if any
    std::vector<FieldDoc> fields;      // the bridge's own commands
    std::string answer;                // the bridge's own commands: what the response says
    nlohmann::json example;            // the payload of the mosquitto_pub line
};
// Every command the bridge accepts on <base>/<pile>/cmd/<name>: its own, then the catalogue's.
std::vector<CommandDoc> commands(const Catalogue& catalogue);
// The example line of a command: mosquitto_pub -h 127.0.0.1 -t ykc/<pile>/cmd/<name> -m '<json>'.
std::string mosquitto_pub(const CommandDoc& command);

// Example data for a message, built from its fields: every field, or only those a command must
// give (no default, not reserved, not the pile, not filled by the bridge).
enum class Sample { all_fields, required_fields };
nlohmann::json sample_data(const Message& m, Sample which);
// The pile and the time used in every example.
inline const std::string example_pile = "32010200000001";
inline const std::string example_time = "2024-05-01T08:30:00+08:00";

}  // namespace ykc::bridge::docs
