// docs/topics.md: the topic table (also in README.md) and, from the catalogue, every uplink topic
// with an example payload made by decoding a sample frame.
#include <map>
#include <sstream>

#include "text.hpp"
#include "docs.hpp"
#include "transaction_check.hpp"
#include "uplink/uplink.hpp"
#include "ykc/hex.hpp"
#include "ykc/json_member.hpp"
#include "ykc/reference.hpp"

namespace ykc::bridge::docs {
namespace {

using json = nlohmann::json;

// What the bridge does with an uplink message besides publishing it.
// What the bridge does with a billing record (catalogue `record`: transaction, metered_transaction).
std::string record_note() {
    return std::string(
               "Published with QoS 1 at least, with `raw` (the whole frame as hex, so that a backend can read it again should the "
               "catalogue be wrong) and `check`: `ok`, `failed` with `reasons`, or `off` (`policies.transaction_check`). A record that "
               "passes is confirmed (0x40) by the bridge once the broker has acknowledged this publish (`policies.transaction: "
               "after_publish`), or by the backend with `cmd/transaction_confirm` (`forward`).\n\n"
               "**A record that does not add up is never confirmed by the bridge**, whatever the policy: it is published with "
               "`\"check\":\"failed\"` and `reasons` (one line each), reported on `ykc/<pile>/error` with the same reasons, and the "
               "charger keeps it and sends it again until a backend confirms it with `cmd/transaction_confirm` (the charger deletes "
               "what is confirmed: a record read wrong and confirmed is money lost). So is a record that cannot be decoded at all — a "
               "body length the catalogue does not know, a time that cannot be —: its `data` then holds only the `serial`, and "
               "`reasons` the decode error. The checks of `policies.transaction_check: strict` (the default):\n\n"
               "- the tariff segments' energies (sharp, peak, flat, valley, and deep valley in the 174-byte layout) add up to "
               "`total_energy`, and their amounts to `total_amount`, within ") +
           energy_tolerance + " kWh and " + amount_tolerance +
           " yuan (a charger rounds each segment and the total apart);\n"
           "- `meter_end` − `meter_start` equals `total_energy`, within " +
           energy_tolerance +
           " kWh, unless both are 0 (a pile that sends no meter readings);\n"
           "- `start_time`, `end_time` and `trade_time` are there (not all zero), and `start_time` is not after `end_time` (every "
           "time is a date that can be, or the frame does not decode);\n"
           "- the gun is 1 … the `gun_count` of the pile's login;\n"
           "- the `serial` begins with the pile number (spec 3.3 builds serials from it, and so does the bridge when it fills "
           "`remote_start`'s; a backend that gives serials of another making has every record held: set "
           "`policies.transaction_check: off` then, and check the records itself).\n\n"
           "Example of a record that failed, as published:\n\n```json\n"
           "{\"pile\":\"" +
           example_pile +
           "\",\"type\":\"transaction\",\"code\":\"0x3B\",\"seq\":\"0100\",\"data\":{…},\"raw\":\"68A20100003B…\","
           "\"check\":\"failed\",\"reasons\":[\"segment energies (sharp + peak + flat + valley) add up to 12.5 kWh, total_energy is 3.2 "
           "kWh\"],"
           "\"ts\":\"" +
           example_time +
           "\"}\n```\n\nand on `ykc/<pile>/error`:\n\n```json\n"
           "{\"error\":\"transaction " +
           example_pile + "01240501083000" +
           "0001 not confirmed: segment energies (sharp + peak + flat + valley) add up "
           "to 12.5 kWh, total_energy is 3.2 kWh (the charger keeps it; cmd/transaction_confirm confirms it)\",\"code\":\"0x3B\","
           "\"type\":\"transaction\",\"hex\":\"68A20100003B…\",\"remote\":\"10.0.0.7:50312\",\"serial\":\"" +
           example_pile + "01240501083000" +
           "0001\",\"reasons\":[\"segment energies (sharp + peak + flat + valley) add up to 12.5 kWh, total_energy is 3.2 kWh\"]}\n```";
}

// The decoded envelope of a frame built from sample data, as the bridge publishes it (with ts).
std::string example_payload(const Codec& codec, const Message& m) {
    const auto body = codec.encode_body(m, sample_data(m, Sample::all_fields), example_pile);
    const auto frame = write_frame(m.code, Seq{0x01, 0x00}, 0, body);
    std::string text = codec.decode_text(FrameView{frame, CrcOrder::low_first});
    if (m.record) {  // as Bridge::publish_record adds them
        append_plain_string_member(text, "raw", to_hex(frame));
        append_plain_string_member(text, "check", "ok");
    }
    append_plain_string_member(text, "ts", example_time);
    return text;
}

}  // namespace

const std::string& topic_table() {
    static const std::string table =
        "| topic | dir | retained | QoS | payload |\n"
        "|---|---|---|---|---|\n"
        "| `ykc/<pile>/<type>` | up | no | `mqtt.qos` (heartbeats `publish.heartbeat_qos`, transactions at least 1) | one decoded frame, "
        "`type` is the catalogue name (`login`, `heartbeat`, `realtime`, `transaction`, `remote_start_reply`, …): the decode envelope "
        "plus `ts`; transaction records (0x3B, and V1.7's 0x3D `metered_transaction`, both on `ykc/<pile>/transaction`) also carry "
        "`raw`, `check` and, when it failed, `reasons`: one that does not add up is not confirmed |\n"
        "| `ykc/<pile>/gun/<n>/state` | up | yes | `mqtt.qos` | latest `realtime` data of a gun, flat, with `ts`; published when a value "
        "changes, at most about once a second per gun (`publish.gun_state`, `publish.gun_state_min_interval_ms`); the bridge adds "
        "`connector`: "
        "`idle`, `preparing` (plugged in), `charging`, `finished` (plugged in after a session), `fault`, `offline` |\n"
        "| `ykc/<pile>/gun/<n>/meter` | up | yes | at least 1 | the gun's lifetime energy, never lower than before: "
        "`{\"gun\",\"energy\":kWh,\"meter_end\",\"serial\"\\|\"session_energy\",\"ts\"}`; the `meter_end` of its newest "
        "transaction record that passed its check, plus the session in progress (at most once a minute); nothing before the gun's "
        "first record |\n"
        "| `ykc/<pile>/meter` | up | yes | at least 1 | `{\"energy\",\"guns\",\"ts\"}`: the sum of the guns' meters, once each gun "
        "of the login's `gun_count` has one |\n"
        "| `ykc/<pile>/gun/<n>/last_session` | up | yes | at least 1 | the newest checked record of the gun: `serial`, `start_time`, "
        "`end_time`, `energy` (`total_energy`), `amount` (`total_amount`), `stop_reason`, `trade_type`, `card`, `vin`, "
        "`meter_start`, `meter_end`, `ts` |\n"
        "| `ykc/<pile>/work_params` | up | yes | at least 1 | `{\"state\",\"max_power\",\"ts\"}`: the work parameters (0x52) the "
        "pile last accepted through this bridge |\n"
        "| `ykc/<pile>/availability` | up | yes | 1 | "
        "`{\"state\":\"online\"\\|\"offline\",\"since\",\"remote\",\"firmware\",\"protocol_version\",\"bridge\",\"claim\"}` "
        "(the bridge holding the pile, and its claim: README, \"Running several bridges\") |\n"
        "| `ykc/<pile>/error` | up | no | `mqtt.qos` | what failed on this pile's socket: bad CRC, undecodable or encrypted frames, "
        "unknown "
        "types, frames only the platform sends, another pile's number — `error` (the reason), `hex`, `remote`, and a frame's `code` and "
        "`type` |\n"
        "| `ykc/bridge/error` | up | no | `mqtt.qos` | the same before a login (no pile known yet) |\n"
        "| `ykc/<pile>/cmd/<command>` | down | no | 1 (subscription) | a command: `{\"id\":…, …fields…}`; `<command>` is a downlink "
        "catalogue name (`remote_start`, `remote_stop`, `time_sync`, `billing_model_set`, `reboot`, …), or `raw` "
        "(`{\"hex\":\"…\",\"keep_crc\":false}`), `card_auth_reply`, `login_reply` (login policy `forward`), `transaction_confirm` "
        "(transaction policy `forward`, or a record that failed its check); see `docs/commands.md` |\n"
        "| `ykc/<pile>/resp/<command>` | up | no | `mqtt.qos` | "
        "`{\"id\",\"command\",\"status\":\"ok\"\\|\"mismatch\"\\|\"error\"\\|\"timeout\"\\|\"offline\"\\|\"invalid\","
        "\"error\":…,\"reply\":{…},\"result\",\"reason\"}`; `reply` is the charger's decoded answer, `result` and `reason` its "
        "`result` and `failure_reason` (a start refused with `gun_busy` is an `ok` answer with `result` `failure`), paired by the "
        "catalogue (e.g. gun and serial) and the "
        "echoed sequence number (`mismatch`: a reply paired by its echo only, the fields that differ listed). With MQTT 5 "
        "a response topic and correlation data on the command are honoured |\n"
        "| `ykc/bridge/state` | up | yes | 1 | `{\"state\":\"online\"\\|\"offline\",\"bridge\":<client_id>}`, also the Last Will |\n"
        "| `ykc/bridge/health` | up | yes | 0 | every `publish.health_interval` (30 s): sessions, piles, frames in/out, errors, publish "
        "queue, gun states held back as unchanged, and `bridge` (`mqtt.client_id`) |\n"
        "| `ykc/bridge/<client_id>/health` | up | yes | 0 | the same, on this bridge's own topic (several bridges; Home Assistant's bridge "
        "device); `<client_id>` with characters other than letters, digits, `-`, `_`, `.` as `_` |\n"
        "| `homeassistant/<component>/ykc_<pile>/<object>/config` | up | yes | 1 | Home Assistant discovery (and `ykc_bridge_<client_id>` "
        "for "
        "the bridge device), when `homeassistant` is on "
        "(see README, Home Assistant); `homeassistant/status` `online` makes the bridge publish them again |\n";
    return table;
}

std::string topics_markdown(const Codec& codec) {
    const Catalogue& cat = codec.catalogue();
    std::ostringstream o;
    o << generated_header("MQTT topics", "topics", "`mappings/ykc-v1.6.yaml` and the bridge's topic table (the same as in README.md)");
    o << "`ykc` is `mqtt.base_topic`; `<pile>` the 14-digit pile number. Up = the bridge publishes, down = the bridge subscribes.\n\n"
      << topic_table()
      << "\nSubscriptions: with `mqtt.commands: all` (the default) the bridge subscribes to `ykc/+/cmd/#` once; with `connected`, to "
         "`ykc/<pile>/cmd/#` of each pile whose socket it holds (and to `ykc/<pile>/cmd/login_reply` while a login waits for the "
         "backend). A pile's `availability` turns `online` only once its commands can be heard.\n\n"
         "## Uplink messages\n\n"
         "Every frame a charger sends is published to `ykc/<pile>/<type>`. The examples are what the bridge publishes for a sample "
         "frame (generated by decoding it; the field values are placeholders). Fields are described in [messages.md](messages.md).\n\n"
         "| topic | code | reply to |\n|---|---|---|\n";
    for (const auto& m : cat.messages()) {
        if (m.direction != Direction::up) continue;
        std::string answers;
        for (const auto& d : cat.messages())
            if (d.reply == m.name) answers += (answers.empty() ? "" : ", ") + ("`cmd/" + d.name + "`");
        o << "| [`ykc/<pile>/" << m.topic << "`](#" << m.name << ") | " << hex_code(m.code) << " | " << answers << " |\n";
    }
    for (const auto& m : cat.messages()) {
        if (m.direction != Direction::up) continue;
        o << "\n### " << m.name << "\n\n`ykc/<pile>/" << m.topic << "` — **" << hex_code(m.code) << "** [" << m.name << "](messages.md#"
          << m.name << ") " << m.title << (m.doc.empty() ? "" : ": " + m.doc) << "\n\n";
        if (auto n = uplink_note(m); !n.empty()) o << n << "\n\n";
        const std::string payload = example_payload(codec, m);
        o << "```json\n" << payload << "\n```\n";
        if (m.record) o << "\n" << record_note() << "\n";
        if (m.name == "realtime") {
            // as uplink/realtime.cpp makes it: the data object as decoded, plus connector and ts
            const std::string_view data = json_member(payload, "data");
            bool charged = false;
            std::string state = gun_state(data, json_plain_string(json_member(data, "status")), charged);
            append_plain_string_member(state, "ts", example_time);
            o << "\nThe retained `ykc/<pile>/gun/<n>/state` of that gun:\n\n```json\n" << state << "\n```\n";
        }
    }
    return o.str();
}

}  // namespace ykc::bridge::docs
