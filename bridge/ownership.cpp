#include "ownership.hpp"

#include <algorithm>

namespace ykc::bridge {

Ownership::Ownership(std::string me) { names_.push_back(std::move(me)); }

std::uint32_t Ownership::intern(const std::string& bridge) {
    if (bridge.empty()) return 0;  // an older ykc-bridge's availability: this bridge's
    const auto it = std::find(names_.begin(), names_.end(), bridge);
    if (it != names_.end()) return static_cast<std::uint32_t>(it - names_.begin());
    names_.push_back(bridge);
    return static_cast<std::uint32_t>(names_.size() - 1);
}

std::uint64_t Ownership::claim(const std::string& pile, std::uint64_t now_us, Clock::time_point now) {
    Entry& e = piles_[pile];
    const std::uint64_t c = std::max(now_us, e.claim + 1);
    const bool contested = e.claim != 0 && e.bridge != 0;
    e = Entry{c, 0, true, false, contested, false, now + echo_wait};
    return c;
}

Ownership::Verdict Ownership::seen(const std::string& pile, const std::string& bridge, std::uint64_t claim, bool online, std::uint64_t held,
                                   Clock::time_point orphan_due) {
    const std::uint32_t b = intern(bridge);
    Entry& e = piles_[pile];
    const bool same = claim == e.claim && b == e.bridge;
    // the highest claim holds; two bridges with the same number: the greater name
    const bool higher = claim > e.claim || (claim == e.claim && b != e.bridge && names_[b] > names_[e.bridge]);
    if (same) {
        e.online = online;
        if (b == 0 && online) e.echoed = true;
    } else if (higher) {
        e = Entry{claim, b, online, b == 0, false, false, {}};
    }
    if (held != 0) {
        if (e.claim != held || e.bridge != 0) return Verdict::lost;
        // the retained message is now an older claim's (or this claim's "offline"): ours again
        if (!(same && online)) return Verdict::reassert;
        return Verdict::none;
    }
    if (b == 0 && online && e.claim == claim && e.bridge == 0 && !e.orphan) {
        e.orphan = true;
        e.due = orphan_due;
        orphans_.push_back(pile);
    }
    return Verdict::none;
}

bool Ownership::highest(const std::string& pile, std::uint64_t claim) const {
    const auto it = piles_.find(pile);
    return it == piles_.end() || (it->second.claim == claim && it->second.bridge == 0) || it->second.claim < claim;
}

Ownership::Route Ownership::route(const std::string& pile, std::uint64_t held, Clock::time_point now) const {
    const auto it = piles_.find(pile);
    if (held != 0) {
        if (it == piles_.end()) return Route::execute;
        const Entry& e = it->second;
        if (e.claim != held || e.bridge != 0) return Route::silent;  // lost: the session is closing
        return e.echoed || !e.contested || now >= e.due ? Route::execute : Route::silent;
    }
    if (it == piles_.end() || it->second.bridge == 0 || !it->second.online) return Route::offline;
    return Route::silent;  // another bridge holds it
}

const std::string& Ownership::holder(const std::string& pile) const {
    static const std::string none;
    const auto it = piles_.find(pile);
    return it == piles_.end() || (it->second.claim == 0 && it->second.bridge == 0) ? none : names_[it->second.bridge];
}

std::vector<Ownership::Orphan> Ownership::orphans_due(Clock::time_point now, const std::function<bool(const std::string&)>& held) {
    std::vector<Orphan> due;
    std::erase_if(orphans_, [&](const std::string& pile) {
        const auto it = piles_.find(pile);
        if (it == piles_.end() || !it->second.orphan) return true;
        Entry& e = it->second;
        if (e.due > now) return false;
        e.orphan = false;
        if (e.bridge == 0 && e.online && !held(pile)) due.push_back({pile, e.claim});
        return true;
    });
    return due;
}

Ownership::Clock::time_point Ownership::next_orphan() const {
    auto next = Clock::time_point::max();
    for (const auto& pile : orphans_)
        if (const auto it = piles_.find(pile); it != piles_.end() && it->second.orphan) next = std::min(next, it->second.due);
    return next;
}

}  // namespace ykc::bridge
