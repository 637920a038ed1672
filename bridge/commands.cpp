// The commands a backend publishes to <base>/<pile>/cmd/<command>: checked, filled, encoded and
// written to the pile's socket; the answer goes to <base>/<pile>/resp/<command> (or the MQTT 5
// response topic) once the charger's reply is paired with it (pairing.hpp), or at once for a
// command without a reply. Commands that answer a charger's request (login_reply,
// transaction_confirm) are its uplink handler's (uplink/).
#include <algorithm>

#include <spdlog/spdlog.h>

#include "bridge.hpp"
#include "command_fill.hpp"
#include "ykc/hex.hpp"
#include "ykc/pile.hpp"

namespace ykc::bridge {

using json = nlohmann::json;

void Bridge::respond(const std::string& pile, const std::string& command, json resp, const std::string& response_topic,
                     const std::string& correlation) {
    if (resp["status"] != "ok")
        spdlog::info("pile {}: command {}: {} {}", pile, command, resp["status"].get<std::string>(), resp.value("error", ""));
    resp["command"] = command;
    const std::string t = response_topic.empty() ? topic(pile, "resp/" + command) : response_topic;
    mqtt_.publish(t, dump_text(resp), config_.mqtt.qos, false, {}, correlation);
}

void Bridge::on_message(IncomingMessage m) {
    if (ha_ && ha_->on_message(m)) return;  // homeassistant hook: <prefix>/status
    // <base>/<pile>/cmd/<command>, or <base>/<pile>/availability (every bridge's claims), or
    // <base>/bridge/state (every bridge's state), or <base>/<pile>/gun/<n>/meter and
    // <base>/<pile>/work_params (the ledger's)
    const std::string prefix = config_.mqtt.base_topic + "/";
    if (m.topic.rfind(prefix, 0) != 0) return;
    const std::string rest = m.topic.substr(prefix.size());
    if (rest == "bridge/state") return on_bridge_state(m.payload);
    const auto slash = rest.find('/');
    if (slash != std::string::npos && rest.compare(slash, std::string::npos, "/availability") == 0)
        return on_availability(rest.substr(0, slash), m.payload);
    if (slash != std::string::npos && rest.compare(slash, std::string::npos, "/work_params") == 0)
        return ledger_.on_work_params(rest.substr(0, slash), m.payload);
    if (slash != std::string::npos && rest.compare(slash, 5, "/gun/") == 0 && rest.size() > 6 &&
        rest.compare(rest.size() - 6, 6, "/meter") == 0)
        return ledger_.on_meter(rest.substr(0, slash), rest.substr(slash + 5, rest.size() - 6 - slash - 5), m.payload);
    if (slash == std::string::npos || rest.compare(slash, 5, "/cmd/") != 0) return;
    const std::string pile = rest.substr(0, slash);
    const std::string name = rest.substr(slash + 5);
    ++counters_.commands;
    try {
        command(pile, name, m);
    } catch (const json::exception& e) {
        // a field of a type the command's own checks did not expect: answered, never silent
        json id = nullptr;
        if (const json j = json::parse(m.payload, nullptr, false); j.is_object() && j.contains("id")) id = j["id"];
        respond(pile, name, {{"id", id}, {"status", "invalid"}, {"error", name + ": a field of the wrong type (" + e.what() + ")"}},
                m.response_topic, m.correlation_data);
    }
}

void Bridge::command(const std::string& pile, const std::string& name, IncomingMessage& m) {
    // Several bridges (ownership.hpp): only the one holding the pile's claim answers, unless a
    // request of the pile waits here for this very answer (a login through this bridge).
    const auto held = piles_.find(pile);
    const auto route = ownership_.route(pile, held == piles_.end() ? 0 : held->second->pile.claim, Clock::now());
    if (route == Ownership::Route::silent && !pairing_.find_if(pile, [&](const Pending& p) {
            const auto s = p.awaits == Pending::Awaits::backend && p.reply == name ? session_by_id(p.session) : nullptr;
            return s && s->open();
        })) {
        if (const std::string& other = ownership_.responder(pile); !other.empty())
            spdlog::debug("pile {}: command {} left to bridge {}", pile, name, other);
        else spdlog::debug("pile {}: command {} left to the bridge that held the pile before this one's claim", pile, name);
        return;
    }

    json id = nullptr;
    auto reply = [&](const std::string& status, const std::string& error) {
        json r = {{"id", id}, {"status", status}};
        if (!error.empty()) r["error"] = error;
        respond(pile, name, r, m.response_topic, m.correlation_data);
    };
    // MQTT 5 response topic: a wildcard in it would make the broker drop the bridge's connection
    // (and the answer would come back after every reconnect): answered on the usual topic instead
    std::string bad_response_topic;
    if (m.response_topic.find_first_of(std::string_view("+#\0", 3)) != std::string::npos)
        bad_response_topic = std::exchange(m.response_topic, {});
    if (m.payload.size() > static_cast<std::size_t>(config_.limits.max_command_bytes))
        return reply("invalid", "payload of " + std::to_string(m.payload.size()) + " bytes exceeds limits.max_command_bytes (" +
                                    std::to_string(config_.limits.max_command_bytes) + ")");
    // what clears a retained command: nothing to run (a command without fields is {})
    if (m.payload.empty()) return reply("invalid", "empty payload: a command is a JSON object ({} for one without fields)");
    json data;
    try {
        data = json::parse(m.payload);
    } catch (const json::exception& e) {
        return reply("invalid", std::string("not JSON: ") + e.what());
    }
    if (!data.is_object()) return reply("invalid", "a command is a JSON object");
    if (auto it = data.find("id"); it != data.end()) {
        id = *it;
        data.erase(it);
    }
    if (!bad_response_topic.empty())
        return reply("invalid", "the response topic \"" + bad_response_topic + "\" is not a topic name (no + or # in it): not executed");
    // the broker keeps a retained command and hands it over at every subscription: it would run
    // again after each reconnect of the bridge or login of the pile
    if (m.retained)
        return reply(
            "invalid",
            "a retained command is not executed (it would run again on every reconnect): clear it with an empty retained publish to " +
                m.topic);
    if (!is_pile_number(pile)) {  // possible with mqtt.commands "all" (<base>/+/cmd/#)
        report(command_errors_, "", [&] {
            return json{{"error", "command " + name + " for \"" + pile + "\": a pile number is 14 digits"}, {"topic", m.topic}};
        });
        return reply("invalid", "pile \"" + pile + "\" in the topic is not a 14-digit pile number");
    }

    // the commands that answer a charger's request (login_reply, transaction_confirm)
    CommandCall call{pile, name, data, reply};
    for (const auto& u : uplinks_)
        if (u->on_command(call)) return;

    // cmd/charge: one topic for a switch, remote_start when "charge" is true, remote_stop when false
    std::string sent_as = name;
    if (name == "charge") {
        const json on = data.value("charge", json());
        if (!on.is_boolean()) return reply("invalid", "field charge: true (start: remote_start) or false (stop: remote_stop)");
        sent_as = on.get<bool>() ? "remote_start" : "remote_stop";
        data.erase("charge");
    }
    auto sit = piles_.find(pile);
    const Message* msg = codec_.catalogue().find(sent_as);
    if (name != "raw" && (!msg || msg->direction != Direction::down)) {
        std::string known;
        for (const auto& x : codec_.catalogue().messages())
            if (x.direction == Direction::down) known += (known.empty() ? "" : ", ") + x.name;
        std::string own;
        for (const auto& u : uplinks_)
            for (const auto& c : u->commands())
                if (!codec_.catalogue().find(c)) own += c + ", ";
        return reply("invalid", "unknown command \"" + name + "\" (commands: raw, charge, " + own + known + ")");
    }
    if (sit == piles_.end()) {
        if (!ownership_.defer_offline(Clock::now())) return reply("offline", "pile " + pile + " is not connected to this bridge");
        // another bridge may have logged the pile in just before: its claim may still be on its way
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch());
        deferred_.push_back({pile, name, m.response_topic, m.correlation_data, id, static_cast<std::uint64_t>(us.count()),
                             Clock::now() + Ownership::offline_wait});
        if (deferred_.size() == 1) answer_deferred();
        return;
    }
    const SessionPtr s = sit->second;
    if (pairing_.count(pile, Pending::Awaits::charger) >= static_cast<std::size_t>(config_.limits.max_commands_in_flight) || backlogged(*s))
        return reply("error", "busy");

    if (name == "raw") return raw_command(s, call);

    // Fill what the bridge can
    FillContext fill{pile, now_iso(), config_.policies.balance, config_.billing_for(pile).to_data(), ledger_.work_params(pile), serials_};
    fill_command(sent_as, data, fill);
    std::vector<std::uint8_t> body;
    try {
        body = codec_.encode_body(*msg, data, pile);
    } catch (const EncodeError& e) {
        return reply("invalid", e.what());
    }
    // The answer to a request the charger waits for (card_auth_reply, parallel_card_auth_reply)
    // echoes the request's sequence bytes; the request is found by the catalogue's reply and match
    // (the gun; a 0xA2 also by the parallel id: a gun may have two waiting).
    std::optional<Seq> seq;
    if (const Pending* w = pairing_.backend_answer(pile, name, data)) seq = pairing_.take(w->id)->seq;
    if (!seq) seq = next_seq(*s);
    auto frame = write_frame(msg->code, *seq, 0, body, s->pile.crc_order);
    spdlog::debug("pile {}: command {} -> {}", pile, name, to_hex(frame));
    ++counters_.frames_out;
    json sent;  // what went out, in decode's form, to pair the reply with
    if (!msg->reply.empty()) sent = codec_.decode(FrameView{frame, s->pile.crc_order})["data"];
    s->send(std::move(frame));
    if (msg->reply.empty()) return reply("ok", "");
    Pending c;
    c.awaits = Pending::Awaits::charger;
    c.pile = pile;
    c.type = name;
    c.reply = msg->reply;
    c.match = msg->match;
    c.data = std::move(sent);
    c.seq = *seq;
    c.session = s->id();
    c.caller_id = id;
    c.response_topic = m.response_topic;
    c.correlation = m.correlation_data;
    // a reply that comes once the action has run (firmware_update: download, install, restart) has
    // its own time in the catalogue, and is waited for across the pile's reconnects
    c.timeout = msg->reply_timeout ? msg->reply_timeout : config_.limits.command_timeout;
    c.across_reconnects = msg->reply_timeout != 0;
    c.deadline = Clock::now() + std::chrono::seconds(c.timeout);
    pairing_.add(std::move(c));
    deadlines_changed();
}

void Bridge::command_expired(Pending& c) {
    // a late reply answers nothing (the pile's session now: a firmware_update's may be a new one)
    auto s = session_by_id(c.session);
    if (auto now = session_of(c.pile); c.across_reconnects && now) s = now;
    if (s && s->open()) pairing_.unpaired(s->id(), c.seq, c.reply, Clock::now());
    respond(c.pile, c.type,
            {{"id", c.caller_id}, {"status", "timeout"}, {"error", "no " + c.reply + " within " + std::to_string(c.timeout) + " s"}},
            c.response_topic, c.correlation);
}

void Bridge::raw_command(const SessionPtr& s, CommandCall& c) {
    const json& data = c.data;
    std::string why;
    auto bytes = data.contains("hex") && data["hex"].is_string() ? parse_hex_loose(data["hex"].get<std::string>(), &why) : std::nullopt;
    if (!bytes || bytes->empty()) return c.reply("invalid", "field hex: " + (why.empty() ? std::string("missing or empty") : why));
    if (data.contains("keep_crc") && !data["keep_crc"].is_boolean()) return c.reply("invalid", "field keep_crc: true or false");
    if (bytes->size() > max_frame_size)
        return c.reply("invalid",
                       "field hex: " + std::to_string(bytes->size()) + " bytes; a frame is at most " + std::to_string(max_frame_size));
    if (!data.value("keep_crc", false) && bytes->size() >= 8) {
        auto& b = *bytes;
        const auto crc = write_frame(b[5], {b[2], b[3]}, b[4], std::span(b).subspan(6, b.size() - 8), s->pile.crc_order);
        b[b.size() - 2] = crc[crc.size() - 2];
        b[b.size() - 1] = crc[crc.size() - 1];
    }
    if (bytes->size() >= 6)  // its reply, if it gets one, is not a command's
        if (const Message* sent = codec_.catalogue().find((*bytes)[5]); sent && !sent->reply.empty())
            pairing_.unpaired(s->id(), {(*bytes)[2], (*bytes)[3]}, sent->reply, Clock::now());
    s->send(std::move(*bytes));
    c.reply("ok", "");
}

// A charger's frame answers the command Pairing::charger_answer says (pairing.hpp): answered
// "ok" with the reply, or "mismatch" naming the fields that differ when the reply echoes the
// command's sequence number but is about something else (a balance_update answered card_mismatch
// with the charger's own card used to time out).
void Bridge::match_command(const SessionPtr& s, Seq seq, const json& env) {
    const std::string& type = env["type"].get_ref<const std::string&>();
    auto answer = pairing_.charger_answer(s->pile.number, s->id(), type, seq, env["data"], Clock::now());
    if (!answer) return;
    const Pending& cmd = answer->command;
    json resp = {{"id", cmd.caller_id}, {"status", "ok"}, {"reply", env}};
    if (!answer->mismatch.empty()) {  // the charger answered this command, but about something else
        std::string what;
        for (const auto& f : answer->mismatch)
            what += (what.empty() ? "" : ", ") + f + " " + dump_text(env["data"][f]) + " instead of " + dump_text(cmd.data[f]);
        resp["status"] = "mismatch";
        resp["error"] = type + " echoes this command's sequence number but carries " + what;
        resp["mismatch"] = answer->mismatch;
    } else if (const json& d = env["data"]; d.is_object() && d.contains("result")) {
        // what the charger did, next to the reply: a start refused (gun_busy) is an "ok" answer
        resp["result"] = d["result"];
        if (const json r = d.value("failure_reason", json()); d["result"] != "success" && !r.is_null() && r != "none") resp["reason"] = r;
        if (cmd.type == "work_params_set" && d["result"] == "success") ledger_.work_params_accepted(s->pile.number, cmd.data);
    }
    respond(s->pile.number, cmd.type, std::move(resp), cmd.response_topic, cmd.correlation);
}

// The "offline" answers that waited (in arrival order, all for the same time): each is answered
// unless another bridge's claim from before it came has executed it (ownership.hpp).
void Bridge::answer_deferred() {
    const auto now = Clock::now();
    while (!deferred_.empty() && deferred_.front().due <= now) {
        Deferred d = std::move(deferred_.front());
        deferred_.pop_front();
        if (ownership_.executed_elsewhere(d.pile, d.arrived_us)) {
            spdlog::debug("pile {}: command {} executed by bridge {}, which logged it in just before", d.pile, d.name,
                          ownership_.holder(d.pile));
            continue;
        }
        respond(d.pile, d.name, {{"id", d.id}, {"status", "offline"}, {"error", "pile " + d.pile + " is not connected to this bridge"}},
                d.response_topic, d.correlation);
    }
    if (!deferred_.empty() && !stopping_) deferred_timer_.arm(deferred_.front().due);
}

}  // namespace ykc::bridge
