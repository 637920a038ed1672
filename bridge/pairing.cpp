#include "pairing.hpp"

#include <algorithm>

namespace ykc::bridge {

using json = nlohmann::json;

namespace {
// A value sent as zeros ("0000…": balance_update's card, "whoever is charging") matches whatever
// the reply carries there.
bool is_any(const json& v) {
    return v.is_string() && !v.get_ref<const std::string&>().empty() &&
           v.get_ref<const std::string&>().find_first_not_of('0') == std::string::npos;
}

bool differs(const json& sent, const json& data, const std::string& f) {
    return sent.contains(f) && data.contains(f) && sent[f] != data[f];
}
}  // namespace

std::uint64_t Pairing::add(Pending p) {
    p.id = next_id_++;
    if (p.deadline != Clock::time_point::max()) deadlines_.emplace(p.deadline, p.id);
    ++counts_[static_cast<int>(p.awaits)];
    pile_of_.emplace(p.id, p.pile);
    const auto id = p.id;
    auto& list = by_pile_[p.pile];
    list.push_back(std::move(p));
    return id;
}

Pending Pairing::remove(std::vector<Pending>& list, std::vector<Pending>::iterator it, const std::string& pile) {
    Pending p = std::move(*it);
    list.erase(it);
    if (p.deadline != Clock::time_point::max()) deadlines_.erase({p.deadline, p.id});
    --counts_[static_cast<int>(p.awaits)];
    pile_of_.erase(p.id);
    if (list.empty()) by_pile_.erase(pile);  // no heap kept per idle pile
    return p;
}

std::optional<Pairing::Answer> Pairing::charger_answer(const std::string& pile, std::uint64_t session, const std::string& type, Seq seq,
                                                       const json& data, Clock::time_point now) {
    enum Rank { none, echoed_only, through_any, exact, echoed };
    const auto list = by_pile_.find(pile);
    std::vector<Pending>::iterator found;
    Rank best = none;
    if (list != by_pile_.end())
        for (auto it = list->second.begin(); it != list->second.end() && best != echoed; ++it) {
            const Pending& c = *it;
            if (c.awaits != Pending::Awaits::charger || c.reply != type) continue;
            Rank rank = exact;
            for (const auto& f : c.match)
                if (differs(c.data, data, f)) rank = is_any(c.data[f]) && rank != none ? through_any : none;
            if (c.seq == seq) rank = rank == none ? echoed_only : echoed;
            if (rank > best) {
                found = it;
                best = rank;
            }
        }
    if (best != echoed && take_unpaired(session, seq, type, now)) return std::nullopt;
    if (best == none) return std::nullopt;
    if (best == echoed || best == echoed_only) unpaired(session, seq, type, now);  // the same reply sent again answers nothing more
    Answer a{remove(list->second, found, pile), {}};
    if (best == echoed_only)  // the charger answered this command, but about something else
        for (const auto& f : a.command.match)
            if (differs(a.command.data, data, f)) a.mismatch.push_back(f);
    return a;
}

Pending* Pairing::backend_answer(const std::string& pile, const std::string& reply, const json& data) {
    return find_if(pile, [&](const Pending& p) {
        if (p.awaits != Pending::Awaits::backend || p.reply != reply) return false;
        return std::none_of(p.match.begin(), p.match.end(), [&](const std::string& f) { return differs(p.data, data, f); });
    });
}

Pending* Pairing::find_if(const std::string& pile, const std::function<bool(const Pending&)>& pred) {
    const auto list = by_pile_.find(pile);
    if (list == by_pile_.end()) return nullptr;
    const auto it = std::find_if(list->second.begin(), list->second.end(), pred);
    return it == list->second.end() ? nullptr : &*it;
}

std::optional<Pending> Pairing::take(std::uint64_t id) {
    const auto p = pile_of_.find(id);
    if (p == pile_of_.end()) return std::nullopt;
    const std::string pile = p->second;
    auto& list = by_pile_[pile];
    const auto it = std::find_if(list.begin(), list.end(), [&](const Pending& x) { return x.id == id; });
    return remove(list, it, pile);
}

std::vector<Pending> Pairing::take_if(const std::string& pile, const std::function<bool(const Pending&)>& pred) {
    std::vector<Pending> taken;
    auto list = by_pile_.find(pile);
    if (list == by_pile_.end()) return taken;
    for (std::size_t i = 0; i < list->second.size();)
        if (pred(list->second[i])) {
            const bool last = list->second.size() == 1;
            taken.push_back(remove(list->second, list->second.begin() + static_cast<std::ptrdiff_t>(i), pile));
            if (last) break;  // the pile's list is gone
        } else {
            ++i;
        }
    return taken;
}

std::vector<Pending> Pairing::expire(Clock::time_point now) {
    std::vector<Pending> due;
    while (!deadlines_.empty() && deadlines_.begin()->first <= now)
        if (auto p = take(deadlines_.begin()->second)) due.push_back(std::move(*p));
    return due;
}

bool Pairing::awaits(const std::string& pile, const std::string& type) const {
    const auto list = by_pile_.find(pile);
    return list != by_pile_.end() && std::any_of(list->second.begin(), list->second.end(),
                                                 [&](const Pending& p) { return p.awaits == Pending::Awaits::charger && p.reply == type; });
}

std::size_t Pairing::count(const std::string& pile, Pending::Awaits awaits) const {
    const auto list = by_pile_.find(pile);
    if (list == by_pile_.end()) return 0;
    return static_cast<std::size_t>(
        std::count_if(list->second.begin(), list->second.end(), [&](const Pending& p) { return p.awaits == awaits; }));
}

void Pairing::unpaired(std::uint64_t session, Seq seq, const std::string& reply, Clock::time_point now) {
    auto& list = unpaired_[session];
    std::erase_if(list, [&](const Unpaired& u) { return u.until < now; });  // a charger that never answers them
    if (list.size() >= unpaired_max_) list.erase(list.begin());
    list.push_back({seq, reply, now + unpaired_for_});
}

// Whether a reply answers a frame that no command waits for (and forgets that frame, and those expired).
bool Pairing::take_unpaired(std::uint64_t session, Seq seq, const std::string& reply, Clock::time_point now) {
    const auto list = unpaired_.find(session);
    if (list == unpaired_.end()) return false;
    bool found = false;
    std::erase_if(list->second, [&](const Unpaired& u) {
        if (u.until < now) return true;
        if (found || u.seq != seq || u.reply != reply) return false;
        return found = true;
    });
    if (list->second.empty()) unpaired_.erase(list);  // no heap kept per idle pile
    return found;
}

}  // namespace ykc::bridge
