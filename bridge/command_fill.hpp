#pragma once
// The fields of a downlink command that the bridge fills when the command leaves them out. One
// table: the bridge applies it (commands.cpp, Bridge::command) and docs/commands.md describes it.
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ykc::bridge {

struct FillContext {
    std::string pile;            // from the topic
    std::string now;             // ISO 8601 in the chargers' offset
    std::string balance;         // policies.balance
    nlohmann::json billing;      // the pile's billing model (BillingModel::to_data())
    nlohmann::json work_params;  // what the pile last accepted (Ledger::work_params)
    unsigned& serials;           // counter of the serials made up by this bridge
};

struct FillRule {
    std::vector<std::string> commands;
    std::vector<std::string> fields;
    std::string how;  // for the docs
    // An object with a value for each of `fields`; called only when one of them is missing.
    std::function<nlohmann::json(const nlohmann::json& data, FillContext& ctx)> values;
};

const std::vector<FillRule>& fill_rules();
// Whether a rule fills `field` of `command`.
bool fills(const std::string& command, const std::string& field);
// The fields `command` leaves out that a rule fills (the pile is not here: the codec fills it).
void fill_command(const std::string& command, nlohmann::json& data, FillContext& ctx);

}  // namespace ykc::bridge
