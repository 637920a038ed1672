// login (0x01): the pile says who it is. policies.login decides: accept, allowlist, or forward
// (the backend answers with cmd/login_reply within policies.login_timeout, else it is refused).
#include <algorithm>

#include <spdlog/spdlog.h>

#include "uplink.hpp"
#include "ykc/pile.hpp"

namespace ykc::bridge {

using json = nlohmann::json;

namespace {

class Login final : public Uplink {
public:
    explicit Login(Platform& p) : p_(p) {}

    bool handles(const Message& m) const override { return m.name == "login"; }
    bool opens_session() const override { return true; }

    void on_frame(const SessionPtr& s, const Frame& frame, const Message& m, const json& env, std::string text) override {
        const std::string pile = env["pile"];
        if (!is_pile_number(pile)) {
            p_.report(s, [&] { return p_.frame_error(s, frame, "login with a malformed pile number \"" + pile + "\""); });
            s->close("malformed pile number in login");
            return;
        }
        if (s->pile.logged_in && pile != s->pile.number) {
            p_.report(s, [&] { return p_.frame_error(s, frame, "login as pile " + pile + " on the socket of pile " + s->pile.number); });
            return;
        }
        follow_crc_order(*s, frame);
        p_.publish_frame(pile, m.topic, std::move(text), p_.config().mqtt.qos);
        const auto& policy = p_.config().policies.login;
        if (policy == "accept") return finish(s, frame.seq(), pile, env["data"], true, "");
        if (policy == "allowlist") {
            const auto& list = p_.config().policies.allowlist;
            const bool ok = std::find(list.begin(), list.end(), pile) != list.end();
            return finish(s, frame.seq(), pile, env["data"], ok, ok ? "" : "not in policies.allowlist");
        }
        // forward: the backend decides with cmd/login_reply. A login that comes again while one of
        // the pile waits (a charger repeats it until it is answered, or connects anew) takes its
        // place: the answer goes to the newest, with its sequence bytes, and the wait starts again.
        // (cmd/login_reply stays subscribed, for the new one)
        auto previous = p_.pairing().take_if(pile, [&](const Pending& x) { return waits_for_login(x); });
        if (!previous.empty()) {
            if (auto other = p_.session_by_id(previous.front().session); other && other != s && other->open() && !other->pile.logged_in)
                other->close("replaced by a new login from " + s->remote());
        } else {
            p_.listen_commands(pile, "cmd/login_reply");
        }
        Pending w;
        w.awaits = Pending::Awaits::backend;
        w.pile = pile;
        w.type = m.name;
        w.reply = m.reply;
        w.data = env["data"];
        w.seq = frame.seq();
        w.session = s->id();
        w.deadline = Clock::now() + std::chrono::seconds(p_.config().policies.login_timeout);
        p_.pairing().add(std::move(w));
        p_.deadlines_changed();
    }

    std::vector<std::string> commands() const override { return {"login_reply"}; }

    bool on_command(CommandCall& c) override {
        if (c.name != "login_reply") return false;
        if (auto why = unknown_field(c, {"result", "reason"}); !why.empty()) return c.reply("invalid", why), true;
        const auto result = c.data.value("result", json("success"));
        if (!result.is_string() && !result.is_boolean() && !result.is_number())
            return c.reply("invalid", "field result: text, boolean or number"), true;
        if (c.data.contains("reason") && !c.data["reason"].is_string()) return c.reply("invalid", "field reason: text"), true;
        Pending* found = p_.pairing().find_if(c.pile, [&](const Pending& x) { return waits_for_login(x); });
        if (!found)
            return c.reply("error",
                           "no login of this pile is waiting for an answer (policies.login is " + p_.config().policies.login + ")"),
                   true;
        const Pending w = *p_.pairing().take(found->id);
        p_.unlisten_commands(c.pile, "cmd/login_reply");
        const bool ok = result == "success" || result == true || result == 0;
        auto s = p_.session_by_id(w.session);
        if (!s) return c.reply("offline", "the charger disconnected while waiting"), true;
        finish(s, w.seq, w.pile, w.data, ok, ok ? "" : c.data.value("reason", std::string("refused by the backend")));
        c.reply("ok", "");
        return true;
    }

    void on_expired(Pending& w) override {
        p_.unlisten_commands(w.pile, "cmd/login_reply");
        if (auto s = p_.session_by_id(w.session))
            finish(s, w.seq, w.pile, w.data, false, "no cmd/login_reply within policies.login_timeout");
    }

private:
    static bool waits_for_login(const Pending& x) { return x.awaits == Pending::Awaits::backend && x.type == "login"; }

    void finish(const SessionPtr& s, Seq seq, const std::string& pile, const json& data, bool accepted, const std::string& why) {
        if (!s->open()) return;
        const std::string saved = s->pile.number;
        s->pile.number = pile;  // the reply carries this pile
        p_.send(s, "login_reply", {{"result", accepted ? "success" : "failure"}}, seq);
        if (!accepted) {
            s->pile.number = saved;
            spdlog::warn("pile {}: login refused ({}) from {}", pile, why, s->remote());
            p_.publish_error(pile, {{"error", "login refused: " + why}, {"remote", s->remote()}});
            s->close_after_flush("login refused");
            return;
        }
        const bool first = !s->pile.logged_in;
        s->pile.logged_in = true;
        s->pile.since = p_.now_iso();
        s->pile.firmware = data.value("program_version", "");
        const json gun_count = data.value("gun_count", json(0));
        s->pile.gun_count = gun_count.is_number_unsigned() ? gun_count.get<int>() : 0;
        s->pile.protocol_version = data.contains("protocol_version") ? data["protocol_version"].dump() : "";
        p_.logged_in(s, data, first);
    }

    Platform& p_;
};

}  // namespace

std::string login_note(const Message& m) {
    return m.name == "login"
               ? "The bridge answers per `policies.login` (with `forward`: after `cmd/login_reply`); the pile's `availability` follows."
               : "";
}

std::unique_ptr<Uplink> login_uplink(Platform& p) { return std::make_unique<Login>(p); }

}  // namespace ykc::bridge
