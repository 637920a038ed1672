#pragma once
// Uplink handlers: what the bridge does with the frames a charger sends, one unit per frame or
// family, each found by the catalogue names it takes (`handles`):
//   login.cpp          login: the three login policies and cmd/login_reply
//   heartbeat.cpp      heartbeat: its answer
//   realtime.cpp       realtime: gun/<n>/state, on change and throttled
//   billing_model.cpp  billing_model_verify, billing_model_request: answered from the config
//   card_auth.cpp      card_auth, parallel_card_auth: relayed to the backend, refused on timeout
//   transaction.cpp    every `record` (transaction, metered_transaction): checked, confirmed
//                      when safe, and cmd/transaction_confirm
// A frame no handler takes is published on its topic (Bridge::on_frame), and a reply to a
// command is paired by Bridge through the pairing engine (pairing.hpp). Handlers reach the rest
// of the bridge through Platform only. Everything runs on the io_context thread.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "../config.hpp"
#include "../ledger.hpp"
#include "../mqtt_link.hpp"
#include "../pairing.hpp"
#include "../session.hpp"
#include "ykc/codec.hpp"

namespace ykc::bridge {

// A command from MQTT that a handler answers (cmd/login_reply, cmd/transaction_confirm).
struct CommandCall {
    const std::string& pile;
    const std::string& name;
    nlohmann::json& data;  // the payload, without its "id"
    std::function<void(const std::string& status, const std::string& error)> reply;
};

// "field x: not a field of <name> (a, b)" for the first field of `data` not in `known`, else empty.
std::string unknown_field(const CommandCall& c, std::initializer_list<std::string_view> known);

// A reference to what builds an error report's JSON, called only when the report is published
// (Platform::report): a flood of errors costs a counter each, no allocation.
class MakeError {
public:
    template <typename F>
    requires(!std::is_same_v<std::decay_t<F>, MakeError>) MakeError(const F& f)  // NOLINT: implicit, like std::function
        : obj_(&f), call_([](const void* o) -> nlohmann::json { return (*static_cast<const F*>(o))(); }) {}
    nlohmann::json operator()() const { return call_(obj_); }

private:
    const void* obj_;
    nlohmann::json (*call_)(const void*);
};

// The bridge, as the handlers see it (implemented by Bridge).
class Platform {
public:
    virtual ~Platform() = default;
    virtual const Config& config() const = 0;
    virtual const Codec& codec() const = 0;
    virtual boost::asio::io_context& io() = 0;
    virtual MqttLink& mqtt() = 0;
    // Entries added with a deadline are handed back to their handler's on_expired.
    virtual Pairing& pairing() = 0;
    virtual void deadlines_changed() = 0;  // after adding an entry with a deadline
    virtual Ledger& ledger() = 0;          // meters, last sessions, work parameters

    virtual SessionPtr session_of(const std::string& pile) const = 0;  // the pile's logged-in session, or null
    virtual SessionPtr session_by_id(std::uint64_t id) const = 0;      // an open socket's, or null
    // A frame to the charger (nothing when the session is closed); `seq`: the request's it answers.
    virtual void send(const SessionPtr& s, const std::string& type, nlohmann::json data, std::optional<Seq> seq = std::nullopt) = 0;
    // The session becomes its pile's (after the login reply): commands, availability, time sync.
    // `first`: not a login again on a session that had logged in already.
    virtual void logged_in(const SessionPtr& s, const nlohmann::json& data, bool first) = 0;

    // <base>/<pile>/<suffix>
    virtual std::string topic(const std::string& pile, const std::string& suffix) const = 0;
    // A decoded frame's envelope (text) on <base>/<pile>/<name>, stamped with ts.
    virtual void publish_frame(const std::string& pile, const std::string& name, std::string text, int qos, MqttLink::Done done = {},
                               MqttLink::Lane lane = MqttLink::Lane::control) = 0;
    virtual void publish_error(const std::string& pile, nlohmann::json error) = 0;
    // An error the charger caused: counted, and published rate-limited; `make` builds it.
    virtual void report(const SessionPtr& s, MakeError make) = 0;
    // What is reported of a frame the bridge does not take: why, which frame, from where.
    virtual nlohmann::json frame_error(const SessionPtr& s, const Frame& frame, std::string why) const = 0;
    // mqtt.commands connected: a subscription for the pile (see Bridge::listen_commands).
    virtual void listen_commands(const std::string& pile, const std::string& suffix, MqttLink::Done ready = {}) = 0;
    virtual void unlisten_commands(const std::string& pile, const std::string& suffix) = 0;
    virtual std::string now_iso() const = 0;
};

class Uplink {
public:
    virtual ~Uplink() = default;
    // Whether it takes frames of this catalogue message.
    virtual bool handles(const Message& m) const = 0;
    // May come before the pile logged in (login); such a frame reaches on_frame unchecked.
    virtual bool opens_session() const { return false; }
    // false: `env` is null and `text` is all there is (heartbeats and realtime data, nearly all of
    // a fleet's traffic, are not parsed), unless a command waits for the frame.
    virtual bool parses() const { return true; }
    virtual void on_frame(const SessionPtr& s, const Frame& frame, const Message& m, const nlohmann::json& env, std::string text) = 0;
    // A frame of its that the decoder cannot read; false: reported as a decode error.
    virtual bool on_unreadable(const SessionPtr&, const Frame&, const Message&, const std::string& /*why*/) { return false; }
    // A command it answers; false: not its.
    virtual bool on_command(CommandCall&) { return false; }
    virtual std::vector<std::string> commands() const { return {}; }  // the names on_command answers
    // An entry it added to the pairing engine has come to its deadline.
    virtual void on_expired(Pending&) {}
    virtual void on_closed(const SessionPtr&) {}
    virtual void health(nlohmann::json&) const {}  // its counters, for <base>/bridge/health
    virtual void stop() {}                         // the bridge shuts down
};

// A gun's retained state without its ts (with room for it): the realtime `data` plus what its
// connector is doing, as OCPP tells it apart: idle (nothing plugged in), preparing (plugged in, no
// session yet), charging, finished (plugged in after a session), fault, offline; unknown for a
// status the catalogue does not name. `status`: the data's; `charged`: the gun's memory of a
// session since the plug went in, which it updates.
std::string gun_state(std::string_view data, std::string_view status, bool& charged);

// Commands may fill half of a session's output queue; the rest is kept for the bridge's own
// answers (heartbeats, 0x40), so a backend's flood is answered busy instead of closing the
// charger's session as one that does not read.
inline bool backlogged(const Session& s) { return s.queued() * 2 >= s.max_queue(); }

// Answer the way the pile speaks: the CRC byte order of its last frame, unless the two bytes are
// equal (then both orders fit, and the frame says nothing).
inline void follow_crc_order(Session& s, const Frame& frame) {
    const auto& b = frame.bytes;
    if (b[b.size() - 2] != b[b.size() - 1]) s.pile.crc_order = frame.crc_order;
}

// Every handler (uplink.cpp lists them).
std::vector<std::unique_ptr<Uplink>> make_uplinks(Platform& p);
// What the handlers do with a frame of `m`, one paragraph for docs/topics.md; "" when none says.
std::string uplink_note(const Message& m);

// Each handler's file: the handler, and its note.
std::unique_ptr<Uplink> login_uplink(Platform& p);
std::unique_ptr<Uplink> heartbeat_uplink(Platform& p);
std::unique_ptr<Uplink> realtime_uplink(Platform& p);
std::unique_ptr<Uplink> billing_model_uplink(Platform& p);
std::unique_ptr<Uplink> card_auth_uplink(Platform& p);
std::unique_ptr<Uplink> transaction_uplink(Platform& p);
std::string login_note(const Message& m);
std::string heartbeat_note(const Message& m);
std::string realtime_note(const Message& m);
std::string billing_model_note(const Message& m);
std::string card_auth_note(const Message& m);
std::string transaction_note(const Message& m);

// JSON text of what may carry bytes from outside (error messages quoting a payload): invalid
// UTF-8 becomes U+FFFD instead of an exception.
inline std::string dump_text(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

}  // namespace ykc::bridge
