#pragma once
// The MQTT link's outbox, apart from Paho: what waits to be published (two lanes), what is in
// flight (handed to the client, not yet acknowledged), the latest values that coalesce, and the
// journal that keeps every QoS>=1 message across kill -9 until the broker has acknowledged it.
// mqtt_link.hpp says why; this class only keeps the order and the records, and is unit-tested
// without a broker (tests/unit/test_outbox.cpp). Not thread-safe: the io_context thread only.
//
// Order: control (availability, responses, transaction records, errors: what a backend waits
// for) goes before telemetry (periodic frames), each lane first in, first out; what comes back
// from flight (a connection that ended) goes to the front of its lane, in the order it was sent.
// A latest value (a gun's retained state) is queued once per topic: a newer payload replaces it.
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "journal.hpp"

namespace ykc::bridge {

class Outbox {
public:
    enum class Lane : std::uint8_t { control, telemetry };
    using Done = std::function<void(bool ok)>;
    struct Message {
        std::string topic, payload, correlation_data;  // payload: empty while journaled (the journal's record has it)
        int qos = 0;
        bool retain = false;
        Done done;
        bool latest = false;  // the payload is in the outbox's latest values until it is taken
        Lane lane = Lane::control;
        std::string key;   // in the journal under this key; empty when not journaled
        int attempts = 0;  // connections that ended while it was in flight
    };
    // A message in flight each time this many connections ended is given up: it may be what ends them.
    static constexpr int max_attempts = 5;

    // `journal`: null without persistence. `max_buffered`: QoS>=1 messages queued and in flight at most.
    Outbox(std::unique_ptr<Journal> journal, std::size_t max_buffered);

    // What an earlier process left in the journal, in its order, at the back of the lanes.
    struct Restored {
        std::size_t kept = 0, unreadable = 0;
    };
    Restored restore();

    // A QoS>=1 message comes in: into the journal before this returns (its payload is then kept
    // only there). Empty, or why it is refused (the outbox is full; the journal cannot be written).
    std::string admit(Message& m);
    void push_back(Message m);  // at the back of its lane
    // A latest value: true when a queued one of the topic took the payload (nothing else to do);
    // else the payload is held for a message of the topic that the caller sends or queues now.
    bool offer_latest(const std::string& topic, std::string payload);
    void drop_latest(const std::string& topic);  // its message was not sent nor queued

    bool empty() const noexcept { return control_.empty() && telemetry_.empty(); }
    std::optional<Message> pop();  // the front of control, else of telemetry
    // The payload to hand over: a latest value's newest, or the journal's record. nullopt when the
    // journal lost the record (the message cannot be sent).
    std::optional<std::string_view> payload(Message& m);

    void sent(std::uint64_t id, Message m);           // handed over, waiting for its acknowledgement
    std::optional<Message> settle(std::uint64_t id);  // acknowledged or refused: out of flight (nullopt: not in flight any more)
    // Back to the front of its lane (was_sent: it was in flight when its connection ended). The
    // message is returned when it is given up instead (max_attempts).
    std::optional<Message> put_back(Message m, bool was_sent);
    // Every message in flight back to its lane, in the order sent; returns those given up.
    std::vector<Message> requeue_in_flight();

    // Out of the journal (the remove is written by the next put or flush); false without a journal.
    bool forget(const std::string& key);
    void flush();  // throws std::system_error when the journal cannot be written

    std::size_t queued() const noexcept { return control_.size() + telemetry_.size(); }
    std::size_t in_flight() const noexcept { return flight_.size(); }
    std::size_t journaled() const noexcept { return journal_ ? journal_->size() : 0; }
    std::uint64_t coalesced() const noexcept { return coalesced_; }
    const Journal* journal() const noexcept { return journal_.get(); }
    // The most queued since the last reset_peak() (the link gives the heap back after a large backlog).
    std::size_t peak() const noexcept { return peak_; }
    void reset_peak() noexcept { peak_ = 0; }

    // A journal record of a publish: lane, QoS, retain, topic, correlation data, payload.
    static std::string encode_record(const Message& m, std::string_view payload);

private:
    std::deque<Message>& lane(Lane l) noexcept { return l == Lane::control ? control_ : telemetry_; }

    std::unique_ptr<Journal> journal_;
    std::size_t max_buffered_;
    std::deque<Message> control_, telemetry_;
    std::unordered_map<std::string, std::string> latest_;  // topic -> newest payload of a queued latest value
    std::map<std::uint64_t, Message> flight_;              // id -> in flight (id order = send order)
    std::uint64_t next_key_ = 1, coalesced_ = 0;
    std::size_t peak_ = 0;
};

}  // namespace ykc::bridge
