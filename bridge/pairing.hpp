#pragma once
// What waits for an answer, and which answer is whose — one engine for both directions:
// - a command the backend sent, waiting for the charger's reply (remote_start → 0x33 …);
// - a request the charger sent, waiting for the backend (a login under policies.login forward,
//   a card auth, a billing record under policies.transaction forward or held by its check).
// Pairing follows the catalogue: the answer is of the entry's `reply` type, carries the entry's
// `match` fields with the same values, and — the spec's rule — echoes its sequence number.
// No I/O and no timers: the owner sends and publishes, and calls expire(now) at next_deadline().
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ykc/frame.hpp"

namespace ykc::bridge {

using Clock = std::chrono::steady_clock;

struct Pending {
    enum class Awaits { charger, backend };
    Awaits awaits = Awaits::charger;
    std::uint64_t id = 0;  // given by Pairing::add
    std::string pile;
    std::string type;                                       // a command's name, or the request's catalogue name
    std::string reply;                                      // the catalogue name of the answer
    std::vector<std::string> match;                         // fields the answer carries with the values of `data`
    nlohmann::json data;                                    // a command: the data as sent, in decode's form; a request: its data
    Seq seq{};                                              // as sent or received: the answer echoes it
    std::uint64_t session = 0;                              // the session it went out on or came in on
    Clock::time_point deadline = Clock::time_point::max();  // max: waits until taken
    // a command
    bool across_reconnects = false;  // its reply comes after the pile restarted (firmware_update)
    int timeout = 0;                 // seconds, for its timeout answer
    nlohmann::json caller_id;        // the command's "id"
    std::string response_topic, correlation;
};

class Pairing {
public:
    // A reply that echoes a frame no command waits for (a command that timed out or was answered,
    // a raw frame, the bridge's own time_sync) answers none; such frames are remembered for
    // `unpaired_for`, at most `unpaired_max` per session.
    Pairing(std::chrono::seconds unpaired_for, std::size_t unpaired_max) : unpaired_for_(unpaired_for), unpaired_max_(unpaired_max) {}

    // Adds an entry (its id is set here) and returns its id.
    std::uint64_t add(Pending p);

    // The command a charger's frame of `type` with `data`, echoing `seq`, answers — taken out —
    // if any. Among the commands of the pile waiting for `type` whose match fields it carries: the
    // one whose sequence number it echoes, else the oldest it matches exactly, else the oldest it
    // matches through a value sent as zeros ("any"). One that it matches by none of its fields
    // but whose sequence number it echoes is answered with the fields that differ (`mismatch`).
    struct Answer {
        Pending command;
        std::vector<std::string> mismatch;  // empty: the reply matches
    };
    std::optional<Answer> charger_answer(const std::string& pile, std::uint64_t session, const std::string& type, Seq seq,
                                         const nlohmann::json& data, Clock::time_point now);

    // The oldest request of the pile that a backend's answer of type `reply` with `data` answers:
    // each match field the answer gives has the request's value. It stays waiting (an invalid
    // answer leaves it for a valid one) until take().
    Pending* backend_answer(const std::string& pile, const std::string& reply, const nlohmann::json& data);

    // The oldest entry of the pile for which `pred` holds (null: none); it stays.
    Pending* find_if(const std::string& pile, const std::function<bool(const Pending&)>& pred);
    std::optional<Pending> take(std::uint64_t id);
    // Every entry of the pile for which `pred` holds, taken out, oldest first.
    std::vector<Pending> take_if(const std::string& pile, const std::function<bool(const Pending&)>& pred);
    // The entries whose deadline has come, taken out, earliest first.
    std::vector<Pending> expire(Clock::time_point now);
    Clock::time_point next_deadline() const { return deadlines_.empty() ? Clock::time_point::max() : deadlines_.begin()->first; }

    // Whether a command of the pile waits for a frame of `type`.
    bool awaits(const std::string& pile, const std::string& type) const;
    std::size_t count(const std::string& pile, Pending::Awaits awaits) const;
    std::size_t count(Pending::Awaits awaits) const { return counts_[static_cast<int>(awaits)]; }

    // A frame sent on `session` whose reply (`reply`) no command waits for.
    void unpaired(std::uint64_t session, Seq seq, const std::string& reply, Clock::time_point now);
    // The session closed: its sequence numbers mean nothing any more.
    void forget_session(std::uint64_t session) { unpaired_.erase(session); }

private:
    struct Unpaired {
        Seq seq{};
        std::string reply;
        Clock::time_point until{};
    };
    bool take_unpaired(std::uint64_t session, Seq seq, const std::string& reply, Clock::time_point now);
    Pending remove(std::vector<Pending>& list, std::vector<Pending>::iterator it, const std::string& pile);

    std::chrono::seconds unpaired_for_;
    std::size_t unpaired_max_;
    std::uint64_t next_id_ = 1;
    std::unordered_map<std::string, std::vector<Pending>> by_pile_;  // oldest first; no entry for a pile with none
    std::set<std::pair<Clock::time_point, std::uint64_t>> deadlines_;
    std::unordered_map<std::uint64_t, std::string> pile_of_;  // id -> pile
    std::unordered_map<std::uint64_t, std::vector<Unpaired>> unpaired_;
    std::size_t counts_[2] = {0, 0};
};

}  // namespace ykc::bridge
