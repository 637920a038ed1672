#pragma once
// Which bridge holds a pile when several share a broker (README: "Running several bridges").
//
// A login here makes a claim: a number above every claim this bridge has seen for the pile (the
// login time in microseconds, or the last claim seen + 1 if that is higher: no two bridges'
// clocks need to agree). It is published in the pile's retained availability with the bridge's
// client id. Every bridge subscribes to <base>/+/availability, so every bridge learns every claim,
// and the highest claim holds the pile:
// - a bridge that holds the pile under a lower claim has lost it (the charger came back through
//   another bridge): it closes its session quietly — no "offline" over the newer claim — and
//   answers its waiting commands "offline";
// - a bridge that holds the pile and sees the retained availability say something else (a lower
//   claim's "offline" that arrived late) publishes its own again;
// - a command is executed by the holder only; for a pile that nobody holds, one bridge answers
//   "offline": the last one that claimed it if that one is alive, else the alive bridge with the
//   least name (every bridge learns the others from <base>/bridge/state: a bridge that sees
//   another's "online" for the first time publishes its own again, so they all meet). A holder whose
//   claim replaced another bridge's waits until the broker echoes its claim: commands published
//   before that belong to the bridge that held the pile until then;
// - after a start, a pile whose highest claim is this bridge's "online" (left by a crash or a
//   kill -9) and that has not logged in again within the grace period is published "offline";
// - another bridge's will (it crashed, was killed or lost the broker): the piles whose highest
//   claim is its "online" are published "offline" on its behalf (its name and claim) by every
//   bridge that sees it, at once and for later such claims, until that bridge is online again.
//   Should it still hold a pile (it only lost the broker for a while), its "reassert" puts its
//   "online" back.
// No I/O: Bridge tells it what it sees and does what it answers.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ykc::bridge {

class Ownership {
public:
    using Clock = std::chrono::steady_clock;
    explicit Ownership(std::string me);
    const std::string& me() const noexcept { return names_[0]; }

    // A login here: the claim to publish with "online".
    std::uint64_t claim(const std::string& pile, std::uint64_t now_us, Clock::time_point now);

    enum class Verdict {
        none,
        lost,       // another bridge's higher claim is online: close this bridge's session quietly
        reassert,   // the retained availability is not this bridge's claim: publish it again
        reclaim,    // a higher claim that does not hold the pile (an offline, or this bridge's own from
                    // before a clock step) while this bridge does: claim() again, publish it
        abandoned,  // the highest claim is the "online" of a bridge that is gone: publish it offline
    };
    // An availability message on the broker; `held`: this bridge's claim if it holds the pile, else 0.
    // `orphan_due`: when this bridge's own "online" that it does not hold is published offline;
    // time_point::max() once the start's grace period is over (then there are no orphans). A
    // message without a bridge (an older ykc-bridge) counts as this bridge's while no other
    // bridge has been seen.
    Verdict seen(const std::string& pile, std::string_view bridge, std::uint64_t claim, bool online, std::uint64_t held,
                 Clock::time_point orphan_due);

    // Whether this bridge may publish "offline" for its claim (no higher claim seen).
    bool highest(const std::string& pile, std::uint64_t claim) const;

    enum class Route { execute, silent, offline };
    // Who answers a command for the pile; `held` as for seen(). A claim that replaced another
    // bridge's executes once its echo came back, or after echo_wait if it never does (a broker
    // that does not let this bridge read the availability topics).
    Route route(const std::string& pile, std::uint64_t held, Clock::time_point now) const;
    static constexpr std::chrono::seconds echo_wait{5};
    // The name of the bridge holding the pile's highest claim ("" when none is known).
    const std::string& holder(const std::string& pile) const;

    // This bridge's "online" claims left from before its start whose grace period ended by `now`
    // and that are still the highest: to publish "offline" with (taken out).
    struct Orphan {
        std::string pile;
        std::uint64_t claim;
    };
    std::vector<Orphan> orphans_due(Clock::time_point now, const std::function<bool(const std::string&)>& held);

    // Another bridge's state (<base>/bridge/state, its will included). Gone: the piles whose highest
    // claim is its "online", to publish "offline" with (its name, the claim); they count as
    // offline from now on. Online again: nothing. This bridge's own state changes nothing.
    struct Peer {
        bool met = false;  // its first "online" seen: publish this bridge's own state, so it meets this one
        std::vector<Orphan> left;
    };
    Peer bridge_state(std::string_view bridge, bool online);
    // Whether another bridge is alive.
    bool peers() const;
    // The first connection to the broker: the meeting time starts (once).
    void connected(Clock::time_point now) {
        if (meeting_until_ == Clock::time_point::max()) meeting_until_ = now + meeting_time;
    }
    // Whether an "offline" answer waits offline_wait: while another bridge is alive, and during
    // the meeting time (peers, and logins they made just before, may not be known yet).
    bool defer_offline(Clock::time_point now) const { return peers() || now < meeting_until_; }
    // An "offline" answer that waited offline_wait: another bridge's online claim made before the
    // command came (`arrived_us`, this bridge's clock) has executed it, so it is not answered here.
    // (A login that another bridge made just before a command reaches this bridge only after it.)
    bool executed_elsewhere(const std::string& pile, std::uint64_t arrived_us) const;
    static constexpr std::chrono::seconds offline_wait{2};
    // After its first connection a bridge does not know its peers yet (their states come with
    // everything else they publish): its "offline" answers wait during this time too.
    static constexpr std::chrono::seconds meeting_time{15};
    // Which bridge answers a command for the pile this bridge does not hold: the holder, or for a
    // pile nobody holds the one that answers "offline" (route()); "" when it is this one.
    const std::string& responder(const std::string& pile) const;
    Clock::time_point next_orphan() const { return next_orphan_; }

private:
    struct Entry {
        std::uint64_t claim = 0;
        std::uint32_t bridge = 0;  // index in names_
        bool online = false;
        bool echoed = false;      // this bridge's claim came back from the broker
        bool contested = false;   // this bridge's claim replaced another bridge's
        bool orphan = false;      // this bridge's "online" from before its start
        Clock::time_point due{};  // orphan: when it is published offline; contested: when it executes without its echo
    };
    std::uint32_t intern(std::string_view bridge);
    std::uint32_t unknown();

    std::vector<std::string> names_;  // [0]: this bridge
    // by index in names_: alive (its "online" seen, not its will since), gone (its will seen, not
    // its "online" since), or unknown (neither seen yet)
    enum class Life : std::uint8_t { unknown, alive, gone };
    std::vector<Life> life_;
    Clock::time_point meeting_until_ = Clock::time_point::max();  // the first connection + meeting_time
    std::uint32_t answering(const std::string& pile) const;       // the index of responder()
    std::unordered_map<std::string, Entry> piles_;
    std::vector<std::string> orphans_;  // piles whose entry is an orphan
    Clock::time_point next_orphan_ = Clock::time_point::max();
};

}  // namespace ykc::bridge
