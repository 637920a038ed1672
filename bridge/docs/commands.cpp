// docs/commands.md: every command a backend can send, from the catalogue's downlink messages,
// the bridge's own commands and the fields it fills (command_fill.hpp).
#include <algorithm>
#include <map>
#include <sstream>

#include "command_fill.hpp"
#include "text.hpp"
#include "docs.hpp"
#include "ykc/reference.hpp"

namespace ykc::bridge::docs {
namespace {

using json = nlohmann::json;

// How the bridge treats a catalogue command beyond encoding it, where there is more to say.
const std::map<std::string, std::string>& notes() {
    static const std::map<std::string, std::string> n = {
        {"heartbeat_reply", "The bridge answers every heartbeat itself; a command is rarely needed."},
        {"billing_model_verify_reply", "The bridge answers `billing_model_verify` (0x05) itself, comparing with the configured model."},
        {"billing_model", "The bridge answers `billing_model_request` (0x09) itself; the command sends a model unasked."},
        {"card_auth_reply",
         "Answers a `card_auth` (0x31) the bridge published: the frame echoes the sequence bytes of that request (the first one waiting "
         "of this pile with the same `gun`), or, with none waiting, carries a new sequence number. An answer that is `invalid` (a field "
         "missing or wrong) leaves the request waiting for a valid one. A request the charger sends again while it waits (the same "
         "gun and data) takes its place: the answer echoes the newest, the wait starts again, and the older one is not refused. "
         "Without an answer within `policies.card_auth_timeout` the bridge refuses the card itself."},
        {"parallel_card_auth_reply",
         "Answers a `parallel_card_auth` (0xA1) like `card_auth_reply` answers 0x31: the sequence bytes of the waiting request with "
         "the same `gun` and `parallel_id` are echoed, and the bridge refuses by itself after `policies.card_auth_timeout`."},
        {"transaction_reply",
         "The bridge confirms transaction records itself (`policies.transaction`) when they pass their check; with "
         "`policies.transaction: forward`, and for a record that failed its check, use `transaction_confirm`, which also echoes the "
         "record's sequence bytes."},
        {"time_sync", "The bridge also sends it after every login and every `policies.time_sync_interval` (`policies.time_sync`)."},
    };
    return n;
}

std::vector<CommandDoc> own_commands() {
    return {
        {"login_reply",
         "With `policies.login: forward` a login (0x01) is published and waits for this command; the bridge then sends the login reply "
         "(0x02, echoing the login's sequence bytes) and, on success, brings the pile online. Without an answer within "
         "`policies.login_timeout` the login is refused. A login the charger sends again while one waits takes its place: the "
         "answer goes to the newest (with its sequence bytes) and the wait starts again. With `mqtt.commands: connected` the bridge "
         "subscribes to "
         "`ykc/<pile>/cmd/login_reply` only while a login waits.",
         nullptr,
         {{"result", "text, boolean or number", "no",
           "`\"success\"` (the default), `true` or `0` accept the login; anything else refuses it"},
          {"reason", "text", "no", "why, for a refusal: it goes into the error published on `ykc/<pile>/error`"}},
         "`ok` once decided; `error` when no login of this pile waits for an answer; `offline` when the charger disconnected meanwhile.",
         {{"id", "l1"}, {"result", "success"}}},
        {"transaction_confirm",
         "With `policies.transaction: forward` the bridge publishes a transaction record (0x3B, or 0x3D from a V1.7 pile) without "
         "confirming it; so it does, whatever the policy, with a record that failed its check (`\"check\":\"failed\"`, see "
         "[topics.md](topics.md#transaction)) or could not be decoded. This command sends the confirmation (0x40 `transaction_reply`), "
         "echoing the sequence bytes of the waiting record with this serial. The charger deletes the record when it has the "
         "confirmation: confirm only what the backend has stored and checked, or refuse it with `invalid_record`.",
         nullptr,
         {{"serial", "bcd, 32 digits", "yes", "the record's `serial`"},
          {"result", "text", "no", "`success` (the default) or `invalid_record` (非法账单: the platform refuses the record)"}},
         "`ok` once the frame is written to the charger's socket; `offline` when the pile is not connected.",
         {{"id", "t1"}, {"serial", example_pile + "01240501083000" + "0001"}, {"result", "success"}}},
        {"charge",
         "One topic for starting and stopping a gun (Home Assistant's charge switch): `\"charge\":true` sends `remote_start` "
         "(0x34, the bridge fills `serial` and `balance` as for that command; its other fields may be given), `false` sends "
         "`remote_stop` (0x36). The answer is on `ykc/<pile>/resp/charge`.",
         nullptr,
         {{"gun", "number", "yes", "the gun"},
          {"charge", "boolean", "yes", "`true`: start charging, `false`: stop"},
          {"serial, logical_card, card, balance", "as for remote_start", "no", "with `\"charge\":true` only"}},
         "as for `remote_start` or `remote_stop`: `ok` with the charger's `reply`, its `result` and, for a refusal, its `reason` "
         "(e.g. `gun_busy`, `not_charging`); `invalid` when `charge` is not a boolean.",
         {{"id", "c1"}, {"gun", 1}, {"charge", true}}},
        {"raw",
         "Writes the bytes of one frame to the charger's socket as they are given: for vendor frames and experiments.",
         nullptr,
         {{"hex", "hex text", "yes", "the whole frame; spaces, commas and `0x` prefixes are allowed"},
          {"keep_crc", "boolean", "no",
           "`false` (the default): the bridge rewrites the last two bytes with the frame's CRC in the byte order this pile uses (frames "
           "of 8 bytes or more); `true` sends them as given"}},
         "`ok` once the frame is written (no reply is awaited; an answer of the charger is published on `ykc/<pile>/<type>` as usual); "
         "`invalid` when `hex` is missing or not hex; `offline`; `error` `busy`.",
         {{"id", "r1"}, {"hex", "680C0003003632010200000001014758"}}},
    };
}

std::string required(const Message& m, const Field& f, const std::string& path) {
    const bool top = path.find('.') == std::string::npos;
    if (top && f.name == "pile") return "no: the topic";
    if (f.reserved) return "no";
    if (top && fills(m.name, f.name)) return "no: the bridge fills it";
    return f.default_value ? "no" : "yes";
}

std::string fields_list(const std::vector<std::string>& fields) {
    std::string s;
    for (const auto& f : fields) s += (s.empty() ? "" : ", ") + ("`" + f + "`");
    return s;
}

// The payload with its id first, the way one would type it.
std::string payload(const json& example) {
    json rest = example;
    rest.erase("id");
    const std::string fields = rest.dump();
    // appended piece by piece: GCC 12's -Wrestrict misfires on `"literal" + std::string&&` in Release
    std::string out = "{\"id\":";
    out += example.value("id", json()).dump();
    if (fields == "{}") {
        out += '}';
    } else {
        out += ',';
        out.append(fields, 1);
    }
    return out;
}

void reply_text(std::ostringstream& o, const Catalogue& cat, const Message& m) {
    if (m.reply.empty()) {
        o << "- Reply: none in the protocol; the response is `ok` once the frame is written to the charger's socket.\n";
        return;
    }
    const Message* r = cat.find(m.reply);
    o << "- Reply: waits for [`" << m.reply << "`](messages.md#" << m.reply << ") (" << hex_code(r ? r->code : 0) << ") from the same pile";
    if (!m.match.empty()) o << " with the same " << fields_list(m.match) << " as sent";
    o << "; the response is `ok` with the decoded reply in `reply`, `timeout` after `limits.command_timeout`, `offline` when the "
         "charger disconnects first.\n";
}

void command_section(std::ostringstream& o, const Catalogue& cat, const CommandDoc& c) {
    o << "\n## " << c.name << "\n\n";
    if (c.message) {
        const Message& m = *c.message;
        o << "Sends **" << hex_code(m.code) << "** [" << m.name << "](messages.md#" << m.name << ") " << m.title << " (spec " << m.section
          << ")";
        o << (m.doc.empty() ? "." : ": " + m.doc) << "\n\n";
    }
    if (!c.summary.empty()) o << c.summary << "\n\n";
    o << "- Topic: `ykc/<pile>/cmd/" << c.name << "`; response on `ykc/<pile>/resp/" << c.name << "`.\n";
    if (c.message) {
        reply_text(o, cat, *c.message);
        for (const auto& r : fill_rules())
            if (std::count(r.commands.begin(), r.commands.end(), c.name))
                o << "- Filled when left out: " << fields_list(r.fields) << ": " << r.how << ".\n";
        o << "\n"
          << field_table(*c.message,
                         {"in a command", [&](const Field& f, const std::string& path) { return required(*c.message, f, path); }});
    } else {
        o << "- Response: " << c.answer << "\n\n| field | type | required | notes |\n|---|---|---|---|\n";
        for (const auto& f : c.fields)
            o << "| " << f.name << " | " << f.type << " | " << f.required << " | " << markdown_cell(f.notes) << " |\n";
    }
    o << "\n" << shell_block(mosquitto_pub(c) + "\n");
}

}  // namespace

std::string mosquitto_pub(const CommandDoc& c) {
    return "mosquitto_pub -h 127.0.0.1 -t ykc/" + example_pile + "/cmd/" + c.name + " -m '" + payload(c.example) + "'";
}

std::vector<CommandDoc> commands(const Catalogue& catalogue) {
    std::vector<CommandDoc> all = own_commands();
    for (const auto& m : catalogue.messages()) {
        if (m.direction != Direction::down || std::any_of(all.begin(), all.end(), [&](const CommandDoc& c) { return c.name == m.name; }))
            continue;
        const auto note = notes().find(m.name);
        json example = {{"id", "c1"}};
        example.update(sample_data(m, Sample::required_fields));
        all.push_back({m.name, note == notes().end() ? "" : note->second, &m, {}, "", example});
    }
    return all;
}

std::string commands_markdown(const Codec& codec) {
    const Catalogue& cat = codec.catalogue();
    const auto all = commands(cat);
    std::ostringstream o;
    o << generated_header("Commands", "commands", "`mappings/ykc-v1.6.yaml` and the bridge's command handling");
    o << "A backend sends a command by publishing a JSON object to `ykc/<pile>/cmd/<command>` (`ykc` is `mqtt.base_topic`). Its "
         "`id` (any JSON value, optional) comes back in the response; the other keys are the command's fields, in the units and "
         "names of [messages.md](messages.md). The answer is published to `ykc/<pile>/resp/<command>` (with MQTT 5, to the "
         "command's response topic with its correlation data when it has them):\n\n"
         "```json\n{\"id\":\"c1\",\"status\":\"ok\",\"reply\":{\"pile\":\"…\",\"type\":\"…\",\"code\":\"…\",\"seq\":\"…\",\"data\":{…}}}\n`"
         "``\n\n"
         "| status | when |\n|---|---|\n"
         "| `ok` | the charger's reply arrived (it is in `reply`), or the command has no reply and was written to the socket |\n"
         "| `invalid` | the payload is larger than `limits.max_command_bytes`, empty or not a JSON object, the topic's pile is not 14 "
         "digits, the command is unknown, or a field is missing, unknown, of the wrong type or out of range (`error` names the message "
         "and the field); the command was retained (the broker would hand it over again at every reconnect, so it is never run: clear it "
         "with an empty retained publish); its MQTT 5 response topic has a wildcard (answered on `resp/<command>` instead) |\n"
         "| `offline` | the pile is not connected to this bridge, or it disconnected before it replied |\n"
         "| `error` | `error` is `busy`: `limits.max_commands_in_flight` commands of this pile already wait for a reply, or half of its "
         "`limits.output_queue` is still waiting for the charger's socket; or "
         "`login_reply` found no login waiting |\n"
         "| `mismatch` | the charger's reply echoes this command's sequence number but not its match fields (it is in `reply`; "
         "`mismatch` lists the fields, `error` their values): it answered this command about something else, e.g. another gun, or "
         "another card (`balance_update` refused with `card_mismatch`) |\n"
         "| `timeout` | no reply within `limits.command_timeout` seconds |\n\n"
         "**How a reply is paired.** A reply answers a waiting command of the same pile when its type is the command's reply and "
         "its match fields (below, per command: the gun, the serial …) carry the values sent; a value sent as zeros "
         "(`balance_update`'s card `0`: whoever charges) matches any. Among the commands it matches, the reply answers the one whose "
         "sequence number it echoes, as the spec has chargers do; a charger that does not echo is paired with the oldest it matches "
         "exactly, else the oldest it matches through a zero. Only a reply that matches no waiting command by its fields is paired "
         "by its echo alone: it answers that command with status `mismatch` (a command it matches by its fields comes first, so a "
         "charger that echoes the wrong frame's number does not answer the wrong gun). A reply that "
         "echoes a frame no command waits for answers none, once: a "
         "command that timed out or was answered already, a `raw` frame, the bridge's own `time_sync` (each remembered for "
         "`limits.command_timeout`, up to `limits.max_commands_in_flight` + 8 per pile). The bridge numbers a session's frames from a "
         "random start (a late reply to the pile's previous session seldom looks like an echo) and never uses 0000. Every reply is also "
         "published on `ykc/<pile>/<type>`.\n\n"
         "The bridge always fills the pile (from the topic) and the sequence number (the session's next one, or the echoed one of "
         "the request a command answers). It also fills, for the commands below, what a command leaves out:\n\n"
         "| command | fields | filled with |\n|---|---|---|\n";
    for (const auto& r : fill_rules()) {
        std::string names;
        for (const auto& c : r.commands) names += (names.empty() ? "" : ", ") + ("[" + c + "](#" + c + ")");
        o << "| " << names << " | " << fields_list(r.fields) << " | " << markdown_cell(r.how) << " |\n";
    }
    o << "\n| command | sends | reply |\n|---|---|---|\n";
    for (const auto& c : all) {
        o << "| [" << c.name << "](#" << c.name << ") | ";
        if (c.message) o << hex_code(c.message->code) << " | " << c.message->reply;
        else o << "(the bridge) | ";
        o << " |\n";
    }
    for (const auto& c : all) command_section(o, cat, c);
    return o.str();
}

}  // namespace ykc::bridge::docs
