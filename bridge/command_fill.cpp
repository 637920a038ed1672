#include "command_fill.hpp"

#include <algorithm>
#include <cstdio>

#include "config.hpp"

namespace ykc::bridge {
namespace {

using json = nlohmann::json;

// Spec 3.3: pile (14) + gun (2) + yyMMddHHmmss (12) + counter (4) = 32 digits.
json serial(const json& data, FillContext& ctx) {
    const std::string& now = ctx.now;  // 2024-05-01T08:30:00+08:00
    const int gun = data.contains("gun") && data["gun"].is_number_integer() ? data["gun"].get<int>() : 0;
    char buf[40];
    std::snprintf(buf, sizeof buf, "%02d%s%s%s%s%s%s%04u", gun % 100, now.substr(2, 2).c_str(), now.substr(5, 2).c_str(),
                  now.substr(8, 2).c_str(), now.substr(11, 2).c_str(), now.substr(14, 2).c_str(), now.substr(17, 2).c_str(),
                  ctx.serials++ % 10000);
    return {{"serial", ctx.pile + buf}};
}

std::vector<std::string> billing_keys() {
    const nlohmann::json model = BillingModel{}.to_data();
    std::vector<std::string> keys;
    for (const auto& [k, v] : model.items()) keys.push_back(k);
    return keys;
}

}  // namespace

const std::vector<FillRule>& fill_rules() {
    static const std::vector<FillRule> rules = {
        {{"remote_start", "parallel_remote_start"},
         {"serial"},
         "a new transaction serial (spec 3.3): the pile, the gun (2 digits), the time as yyMMddHHmmss and a 4-digit counter",
         serial},
        {{"remote_start", "parallel_remote_start"},
         {"balance"},
         "the configured `policies.balance`",
         [](const json&, FillContext& ctx) {
             return json{{"balance", ctx.balance}};
         }},
        {{"time_sync"},
         {"time"},
         "the current time",
         [](const json&, FillContext& ctx) {
             return json{{"time", ctx.now}};
         }},
        {{"billing_model", "billing_model_set"},
         billing_keys(),
         "the configured billing model (`billing_model`, or the pile's entry in `billing_model_overrides`); fields given in the command "
         "override it one by one",
         [](const json&, FillContext& ctx) { return ctx.billing; }},
        {{"work_params_set"},
         {"state", "max_power"},
         "what the pile last accepted (the retained `ykc/<pile>/work_params`), else `enabled` at 100 %: a command may set one of the two",
         [](const json&, FillContext& ctx) { return ctx.work_params; }},
    };
    return rules;
}

bool fills(const std::string& command, const std::string& field) {
    return std::any_of(fill_rules().begin(), fill_rules().end(), [&](const FillRule& r) {
        return std::count(r.commands.begin(), r.commands.end(), command) && std::count(r.fields.begin(), r.fields.end(), field);
    });
}

void fill_command(const std::string& command, json& data, FillContext& ctx) {
    for (const auto& rule : fill_rules()) {
        if (std::find(rule.commands.begin(), rule.commands.end(), command) == rule.commands.end()) continue;
        if (std::all_of(rule.fields.begin(), rule.fields.end(), [&](const std::string& f) { return data.contains(f); })) continue;
        const json values = rule.values(data, ctx);
        for (const auto& f : rule.fields)
            if (!data.contains(f)) data[f] = values.at(f);
    }
}

}  // namespace ykc::bridge
