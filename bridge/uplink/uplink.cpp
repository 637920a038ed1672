// The uplink handlers, all of them: a new one is added here and in uplink.hpp.
#include "uplink.hpp"

#include <algorithm>

namespace ykc::bridge {

std::vector<std::unique_ptr<Uplink>> make_uplinks(Platform& p) {
    std::vector<std::unique_ptr<Uplink>> all;
    all.push_back(login_uplink(p));
    all.push_back(heartbeat_uplink(p));
    all.push_back(realtime_uplink(p));
    all.push_back(billing_model_uplink(p));
    all.push_back(card_auth_uplink(p));
    all.push_back(transaction_uplink(p));
    return all;
}

std::string uplink_note(const Message& m) {
    for (auto note : {login_note, heartbeat_note, realtime_note, billing_model_note, card_auth_note, transaction_note})
        if (auto text = note(m); !text.empty()) return text;
    return "";
}

std::string unknown_field(const CommandCall& c, std::initializer_list<std::string_view> known) {
    for (const auto& [key, value] : c.data.items())
        if (std::find(known.begin(), known.end(), key) == known.end()) {
            std::string list;
            for (const auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
            return "field " + key + ": not a field of " + c.name + " (" + list + ")";
        }
    return {};
}

}  // namespace ykc::bridge
