#include "ownership.hpp"

#include <algorithm>

namespace ykc::bridge {

Ownership::Ownership(std::string me) {
    names_.push_back(std::move(me));
    life_.push_back(Life::alive);
}

// An older ykc-bridge's availability once other bridges are around: whose it is is not known.
std::uint32_t Ownership::unknown() {
    const auto it = std::find(names_.begin() + 1, names_.end(), std::string("?"));
    if (it != names_.end()) return static_cast<std::uint32_t>(it - names_.begin());
    names_.push_back("?");
    life_.push_back(Life::unknown);
    return static_cast<std::uint32_t>(names_.size() - 1);
}

std::uint32_t Ownership::intern(std::string_view bridge) {
    if (bridge.empty()) return names_.size() == 1 ? 0 : unknown();  // an older ykc-bridge's: this bridge's, if it is alone
    const auto it = std::find(names_.begin(), names_.end(), bridge);
    if (it != names_.end()) return static_cast<std::uint32_t>(it - names_.begin());
    names_.emplace_back(bridge);
    life_.push_back(Life::unknown);
    return static_cast<std::uint32_t>(names_.size() - 1);
}

std::uint64_t Ownership::claim(const std::string& pile, std::uint64_t now_us, Clock::time_point now) {
    Entry& e = piles_[pile];
    const std::uint64_t c = std::max(now_us, e.claim + 1);
    // only another bridge's online claim can still answer the commands published before this one
    // (an offline one answered them "offline", or is a gone bridge's: ownership.hpp)
    const bool contested = e.claim != 0 && e.bridge != 0 && e.online;
    e = Entry{c, 0, true, false, contested, false, now + echo_wait};
    return c;
}

Ownership::Verdict Ownership::seen(const std::string& pile, std::string_view bridge, std::uint64_t claim, bool online, std::uint64_t held,
                                   Clock::time_point orphan_due) {
    const std::uint32_t b = intern(bridge);
    const auto [it, first] = piles_.try_emplace(pile);
    Entry& e = it->second;
    const bool same = !first && claim == e.claim && b == e.bridge;
    // the highest claim holds; two bridges with the same number: the greater name
    const bool higher = first || claim > e.claim || (claim == e.claim && b != e.bridge && names_[b] > names_[e.bridge]);
    if (same) {
        e.online = online;
        if (b == 0 && online) e.echoed = true;
    } else if (higher) {
        e = Entry{claim, b, online, b == 0, false, false, {}};
    }
    if (held != 0) {
        if (e.claim == held && e.bridge == 0) return same && online ? Verdict::none : Verdict::reassert;
        // a higher claim: another bridge's online has the pile; anything else does not
        return e.bridge != 0 && e.online ? Verdict::lost : Verdict::reclaim;
    }
    if (b == 0 && online && e.claim == claim && e.bridge == 0 && !e.orphan && orphan_due != Clock::time_point::max()) {
        e.orphan = true;
        e.due = orphan_due;
        orphans_.push_back(pile);
        next_orphan_ = std::min(next_orphan_, orphan_due);
    }
    if (e.bridge != 0 && life_[e.bridge] == Life::gone && e.online && e.claim == claim && e.bridge == b) {
        e.online = false;  // published offline by the caller; its echo says the same
        return Verdict::abandoned;
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
    return answering(pile) == 0 ? Route::offline : Route::silent;
}

// The holder (another bridge's online claim); for a pile nobody holds, the last claimant if it is
// alive, else the alive bridge with the least name.
std::uint32_t Ownership::answering(const std::string& pile) const {
    const auto it = piles_.find(pile);
    if (it != piles_.end() && it->second.bridge != 0 && it->second.online) return it->second.bridge;
    if (it != piles_.end() && (it->second.claim != 0 || it->second.bridge != 0) && life_[it->second.bridge] == Life::alive)
        return it->second.bridge;
    std::uint32_t least = 0;
    for (std::uint32_t i = 1; i < names_.size(); ++i)
        if (life_[i] == Life::alive && names_[i] < names_[least]) least = i;
    return least;
}

bool Ownership::peers() const { return std::find(life_.begin() + 1, life_.end(), Life::alive) != life_.end(); }

bool Ownership::executed_elsewhere(const std::string& pile, std::uint64_t arrived_us) const {
    const auto it = piles_.find(pile);
    return it != piles_.end() && it->second.bridge != 0 && it->second.online && it->second.claim <= arrived_us;
}

const std::string& Ownership::responder(const std::string& pile) const {
    static const std::string self;
    const std::uint32_t i = answering(pile);
    return i == 0 ? self : names_[i];
}

const std::string& Ownership::holder(const std::string& pile) const {
    static const std::string none;
    const auto it = piles_.find(pile);
    return it == piles_.end() || (it->second.claim == 0 && it->second.bridge == 0) ? none : names_[it->second.bridge];
}

std::vector<Ownership::Orphan> Ownership::orphans_due(Clock::time_point now, const std::function<bool(const std::string&)>& held) {
    std::vector<Orphan> due;
    next_orphan_ = Clock::time_point::max();
    std::erase_if(orphans_, [&](const std::string& pile) {
        const auto it = piles_.find(pile);
        if (it == piles_.end() || !it->second.orphan) return true;
        Entry& e = it->second;
        if (e.due > now) {
            next_orphan_ = std::min(next_orphan_, e.due);
            return false;
        }
        e.orphan = false;
        if (e.bridge == 0 && e.online && !held(pile)) due.push_back({pile, e.claim});
        return true;
    });
    return due;
}

Ownership::Peer Ownership::bridge_state(std::string_view bridge, bool online) {
    Peer peer;
    if (bridge.empty() || bridge == me()) return peer;
    const std::uint32_t b = intern(bridge);
    peer.met = online && life_[b] != Life::alive;
    life_[b] = online ? Life::alive : Life::gone;
    if (online) return peer;
    for (auto& [pile, e] : piles_)
        if (e.bridge == b && e.online) {
            e.online = false;
            peer.left.push_back({pile, e.claim});
        }
    return peer;
}

}  // namespace ykc::bridge
