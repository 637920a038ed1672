// Billing records — every catalogue message with `record: true` (transaction 0x3B,
// metered_transaction 0x3D) — and cmd/transaction_confirm. A record is published at QoS 1 at
// least with its raw frame and the result of its check (transaction_check.hpp), then confirmed
// with its reply (0x40) once the broker holds it (policies.transaction after_publish) or when the
// backend says so (forward). A record that does not add up is never confirmed by the bridge: the
// charger keeps it and sends it again, and the backend may confirm it with cmd/transaction_confirm.
#include <spdlog/spdlog.h>

#include "../transaction_check.hpp"
#include "uplink.hpp"
#include "ykc/hex.hpp"
#include "ykc/json_member.hpp"
#include "ykc/reference.hpp"  // hex_code

namespace ykc::bridge {

using json = nlohmann::json;

namespace {

class Transaction final : public Uplink {
public:
    explicit Transaction(Platform& p) : p_(p) {}

    bool handles(const Message& m) const override { return m.record; }

    void on_frame(const SessionPtr& s, const Frame& frame, const Message& m, const json& env, std::string text) override {
        const json& data = env["data"];
        const std::string serial = data.value("serial", "");
        const std::string pile = s->pile.number;
        const Seq seq = frame.seq();
        const auto& config = p_.config();
        std::vector<std::string> why;
        if (config.policies.transaction_check == "strict") why = check_transaction(data, m, pile, s->pile.gun_count);
        // the envelope gets what the backend needs to judge the record itself
        append_plain_string_member(text, "raw", to_hex(frame.bytes));
        append_plain_string_member(text, "check", config.policies.transaction_check == "off" ? "off" : why.empty() ? "ok" : "failed");
        if (!why.empty()) {
            append_member(text, "reasons", dump_text(why));
            return refuse(s, frame, m, serial, std::move(text), why);
        }
        p_.ledger().record(pile, s->pile.gun_count, data);
        const int qos = std::max(1, config.mqtt.qos);
        if (config.policies.transaction != "after_publish") {  // forward
            p_.publish_frame(pile, m.topic, std::move(text), qos);
            return wait_for_confirm(s, m, serial, seq);
        }
        // after_publish: 0x40 only once the broker holds the record: the charger deletes it on 0x40
        json reply = json::object();
        for (const auto& f : m.match) reply[f] = data.value(f, json());
        reply["result"] = "success";
        std::weak_ptr<Session> weak = s;
        p_.publish_frame(pile, m.topic, std::move(text), qos, [this, weak, serial, seq, pile, reply_type = m.reply, reply](bool ok) {
            if (!ok) {
                spdlog::error("pile {}: transaction {} not confirmed: the publish failed; the charger will resend it", pile, serial);
                return;
            }
            auto sp = weak.lock();
            if (!sp || !sp->open()) sp = p_.session_of(pile);
            if (sp) p_.send(sp, reply_type, reply, seq);  // else the charger resends after reconnecting
        });
    }

    // A record the decoder cannot read (a body length the catalogue does not know, a time that
    // cannot be): published with the serial, when its bytes are there, and the reason.
    bool on_unreadable(const SessionPtr& s, const Frame& frame, const Message& m, const std::string& why) override {
        const auto body = frame.view().body();
        const std::string serial = to_hex(m.serial_bytes(body));
        if (const auto pile = m.pile_bytes(body); !pile.empty() && to_hex(pile) != s->pile.number) {
            p_.report(s, [&] {
                return p_.frame_error(s, frame,
                                      why + "; and it is for another pile than " + s->pile.number + ": not published, not confirmed");
            });
            return true;
        }
        json env = {
            {"pile", s->pile.number}, {"type", m.name}, {"code", hex_code(m.code)}, {"seq", to_hex(frame.seq())}, {"data", json::object()}};
        if (!serial.empty()) env["data"]["serial"] = serial;
        env["raw"] = to_hex(frame.bytes);
        env["check"] = "failed";
        env["reasons"] = json::array({why});
        refuse(s, frame, m, serial, dump_text(env), {why});
        return true;
    }

    std::vector<std::string> commands() const override { return {"transaction_confirm"}; }

    bool on_command(CommandCall& c) override {
        if (c.name != "transaction_confirm") return false;
        if (auto why = unknown_field(c, {"serial", "result"}); !why.empty()) return c.reply("invalid", why), true;
        if (!c.data.contains("serial") || !c.data["serial"].is_string())
            return c.reply("invalid", "field serial: missing, or not text (the record's 32 digits)"), true;
        const std::string serial = c.data["serial"];
        const json d = {{"serial", serial}, {"result", c.data.value("result", json("success"))}};
        // the waiting record's reply (the catalogue's: 0x40 for 0x3B and 0x3D), else 0x40
        const Pending* w = waiting(c.pile, serial);
        const std::string reply_type = w ? w->reply : "transaction_reply";
        try {
            p_.codec().encode_body(*p_.codec().catalogue().find(reply_type), d, c.pile);  // what is wrong, before anything is sent
        } catch (const EncodeError& e) {
            return c.reply("invalid", e.what()), true;
        }
        const auto s = p_.session_of(c.pile);
        if (!s) return c.reply("offline", "pile " + c.pile + " is not connected to this bridge"), true;
        if (backlogged(*s)) return c.reply("error", "busy"), true;
        std::optional<Seq> seq;
        if (w) seq = p_.pairing().take(w->id)->seq;
        p_.send(s, reply_type, d, seq);
        c.reply("ok", "");
        return true;
    }

    // Records waiting for cmd/transaction_confirm are kept by the charger, which sends them again
    // when it is back: nothing of them is kept here meanwhile.
    void on_closed(const SessionPtr& s) override {
        p_.pairing().take_if(s->pile.number, [&](const Pending& x) {
            if (!is_record(x)) return false;
            const auto owner = p_.session_by_id(x.session);
            return !owner || owner == s;
        });
    }

private:
    bool is_record(const Pending& x) const {
        if (x.awaits != Pending::Awaits::backend) return false;
        const Message* m = p_.codec().catalogue().find(x.type);
        return m && m->record;
    }

    Pending* waiting(const std::string& pile, const std::string& serial) {
        return p_.pairing().find_if(pile, [&](const Pending& x) { return is_record(x) && x.data["serial"] == serial; });
    }

    // A record that does not add up: published with its reasons, reported, left to the backend.
    void refuse(const SessionPtr& s, const Frame& frame, const Message& m, const std::string& serial, std::string text,
                const std::vector<std::string>& why) {
        std::string reasons;
        for (const auto& w : why) reasons += (reasons.empty() ? "" : "; ") + w;
        const std::string which = serial.empty() ? "(no serial)" : serial;
        spdlog::warn("pile {}: {} {} not confirmed: {}", s->pile.number, m.name, which, reasons);
        p_.publish_frame(s->pile.number, m.topic, std::move(text), std::max(1, p_.config().mqtt.qos));
        p_.report(s, [&] {
            json e = p_.frame_error(
                s, frame,
                m.name + " " + which + " not confirmed: " + reasons + " (the charger keeps it; cmd/transaction_confirm confirms it)");
            e["serial"] = serial;
            e["reasons"] = why;
            return e;
        });
        wait_for_confirm(s, m, serial, frame.seq());
    }

    // Until cmd/transaction_confirm: the charger resends meanwhile, one entry per serial, answered
    // with the newest's sequence bytes.
    void wait_for_confirm(const SessionPtr& s, const Message& m, const std::string& serial, Seq seq) {
        if (Pending* w = waiting(s->pile.number, serial)) {
            w->session = s->id();
            w->seq = seq;
            return;
        }
        Pending w;
        w.awaits = Pending::Awaits::backend;
        w.pile = s->pile.number;
        w.type = m.name;
        w.reply = m.reply;
        w.match = m.match;
        w.data = {{"serial", serial}};
        w.seq = seq;
        w.session = s->id();
        p_.pairing().add(std::move(w));
    }

    Platform& p_;
};

}  // namespace

std::string transaction_note(const Message&) { return ""; }  // docs/topics.md has a section on records

std::unique_ptr<Uplink> transaction_uplink(Platform& p) { return std::make_unique<Transaction>(p); }

}  // namespace ykc::bridge
