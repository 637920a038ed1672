// Which bridge holds a pile (ownership.hpp), as the bridge publishes and reads it: the pile's
// retained <base>/<pile>/availability with this bridge's claim, every bridge's availability
// read back, and the piles a crash left online. README: "Running several bridges".
#include <charconv>

#include <spdlog/spdlog.h>

#include "bridge.hpp"
#include "ykc/json_member.hpp"
#include "ykc/pile.hpp"

namespace ykc::bridge {

using json = nlohmann::json;

// A login's claim: the time in microseconds, or above the pile's highest claim seen.
std::uint64_t Bridge::new_claim(const std::string& pile) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    return ownership_.claim(pile, static_cast<std::uint64_t>(us), Clock::now());
}

// Retained, with this bridge's claim on the pile (ownership.hpp). No "offline" over a higher
// claim: the pile is online through another bridge.
void Bridge::publish_availability(const SessionPtr& s, bool online) {
    const std::string& pile = s->pile.number;
    if (!online && !ownership_.highest(pile, s->pile.claim)) {
        spdlog::info("pile {}: not published offline: a newer claim holds it (bridge {})", pile, ownership_.holder(pile));
        return;
    }
    json a = {{"state", online ? "online" : "offline"}, {"since", online ? s->pile.since : now_iso()}, {"remote", s->remote()}};
    if (!s->pile.firmware.empty()) a["firmware"] = s->pile.firmware;
    if (!s->pile.protocol_version.empty()) a["protocol_version"] = s->pile.protocol_version;
    a["bridge"] = ownership_.me();
    a["claim"] = s->pile.claim;
    s->pile.announced = online;
    mqtt_.publish(topic(pile, "availability"), a.dump(), 1, true);
}

// Read without a json tree: every bridge's availability of every pile comes by here (10,000 at
// a login wave), and what the broker hands over may be anything.
void Bridge::on_availability(const std::string& pile, const std::string& payload) {
    const std::string_view state = json_plain_string(json_member(payload, "state"));
    if (state.empty() || !is_pile_number(pile)) return;  // an empty retained message clears the topic
    const bool online = state == "online";
    const std::string_view bridge = json_plain_string(json_member(payload, "bridge"));
    std::uint64_t claim = 0;
    const std::string_view number = json_member(payload, "claim");
    if (std::from_chars(number.data(), number.data() + number.size(), claim).ptr != number.data() + number.size()) claim = 0;
    const auto held = piles_.find(pile);
    const std::uint64_t mine = held == piles_.end() ? 0 : held->second->pile.claim;
    // claims left from before this start: only while the first connection's grace period runs
    const auto now = Clock::now();
    const auto orphan_due = grace_until_ != Clock::time_point{} && now < grace_until_ ? grace_until_ : Clock::time_point::max();
    switch (ownership_.seen(pile, bridge, claim, online, mine, orphan_due)) {
        case Ownership::Verdict::lost:
            // its commands are answered offline as it closes (on_closed), and no offline is published
            spdlog::info("pile {}: logged in through bridge {}: closing this bridge's session from {}", pile, bridge,
                         held->second->remote());
            held->second->close("the pile logged in through bridge " + std::string(bridge));
            break;
        case Ownership::Verdict::reclaim:  // a higher claim that does not hold the pile: this bridge does
            held->second->pile.claim = new_claim(pile);
            [[fallthrough]];
        case Ownership::Verdict::reassert:  // not before its first "online" (its commands can be heard then)
            if (held->second->pile.announced) publish_availability(held->second, true);
            break;
        case Ownership::Verdict::abandoned: publish_left_offline(pile, bridge, claim, "bridge " + std::string(bridge) + " is gone"); break;
        case Ownership::Verdict::none: break;
    }
    arm_orphans();
}

// Every bridge's state, its will included ({"state":"offline","bridge":…}). Another bridge gone:
// its piles' "online" is no longer true (ownership.hpp), and this bridge's own state is put back
// over the shared topic's "offline".
void Bridge::on_bridge_state(const std::string& payload) {
    const std::string_view state = json_plain_string(json_member(payload, "state"));
    const std::string_view bridge = json_plain_string(json_member(payload, "bridge"));
    if (state.empty() || bridge.empty() || bridge == ownership_.me()) return;
    const bool online = state == "online";
    const auto peer = ownership_.bridge_state(bridge, online);
    if (online) {
        if (peer.met) spdlog::info("bridge {} is online", bridge);
        if (peer.met && mqtt_.connected()) publish_state();  // so that it meets this one too
        return;
    }
    spdlog::warn("bridge {} is gone: its {} pile(s) published offline", bridge, peer.left.size());
    for (const auto& o : peer.left) publish_left_offline(o.pile, bridge, o.claim, "bridge " + std::string(bridge) + " is gone");
    if (mqtt_.connected()) publish_state();
}

// An "offline" for a claim no session here holds: a crash's leftover, or a gone bridge's (under its
// name and claim, so that bridge's "reassert" replaces it should it still hold the pile).
void Bridge::publish_left_offline(const std::string& pile, std::string_view bridge, std::uint64_t claim, const std::string& reason) {
    spdlog::info("pile {}: offline: {}", pile, reason);
    json a = {{"state", "offline"}, {"since", now_iso()}, {"bridge", bridge}, {"claim", claim}, {"reason", reason}};
    mqtt_.publish(topic(pile, "availability"), a.dump(), 1, true);
}

// This bridge's "online" claims from before its start, for piles that have not come back within
// limits.heartbeat_timeout of the start (and that no bridge claimed since): offline.
void Bridge::arm_orphans() {
    if (!stopping_) orphan_timer_.arm(ownership_.next_orphan());
}

}  // namespace ykc::bridge
