// card_auth (0x31) and parallel_card_auth (0xA1): a card at a gun, relayed to the backend. The
// backend answers with cmd/card_auth_reply or cmd/parallel_card_auth_reply; Bridge pairs that
// answer with the waiting request by the catalogue's reply and match (gun, parallel_id) and sends
// it with the request's sequence bytes. Without an answer within policies.card_auth_timeout the
// bridge refuses the card itself.
#include <spdlog/spdlog.h>

#include "uplink.hpp"

namespace ykc::bridge {

using json = nlohmann::json;

namespace {

class CardAuth final : public Uplink {
public:
    explicit CardAuth(Platform& p) : p_(p) {}

    bool handles(const Message& m) const override { return m.name == "card_auth" || m.name == "parallel_card_auth"; }

    void on_frame(const SessionPtr& s, const Frame& frame, const Message& m, const json& env, std::string text) override {
        const std::string pile = s->pile.number;
        p_.publish_frame(pile, m.topic, std::move(text), p_.config().mqtt.qos);
        const json& data = env["data"];
        // The same request again (a charger repeats it until it is answered) takes the waiting
        // one's place: the backend's answer goes to the newest, with its sequence bytes, and the
        // older one is not refused when its time runs out. Another card on the gun is a new request.
        p_.pairing().take_if(pile,
                             [&](const Pending& x) { return x.awaits == Pending::Awaits::backend && x.type == m.name && x.data == data; });
        Pending w;
        w.awaits = Pending::Awaits::backend;
        w.pile = pile;
        w.type = m.name;
        w.reply = m.reply;
        w.match = m.match;
        w.data = data;
        w.seq = frame.seq();
        w.session = s->id();
        w.deadline = Clock::now() + std::chrono::seconds(p_.config().policies.card_auth_timeout);
        p_.pairing().add(std::move(w));
        p_.deadlines_changed();
    }

    void on_expired(Pending& w) override {
        auto s = p_.session_by_id(w.session);
        if (!s || !s->open()) return;
        spdlog::warn("pile {}: no {} within policies.card_auth_timeout: refusing", w.pile, w.reply);
        // the gun as decoded (a byte that is not BCD comes back as it was)
        json refusal = {{"serial", "0"}, {"gun", w.data["gun"]}, {"logical_card", "0"}, {"balance", 0}, {"result", "failure"}};
        if (w.data.contains("parallel_id")) refusal["parallel_id"] = w.data["parallel_id"];
        p_.send(s, w.reply, refusal, w.seq);
        p_.publish_error(w.pile, {{"error", "no " + w.reply + " from the backend within " +
                                                std::to_string(p_.config().policies.card_auth_timeout) + " s: refused"},
                                  {"gun", w.data["gun"].is_number() ? w.data["gun"] : json(-1)}});
    }

private:
    Platform& p_;
};

}  // namespace

std::string card_auth_note(const Message& m) {
    if (m.name != "card_auth" && m.name != "parallel_card_auth") return "";
    return "Waits for `cmd/" + m.reply + "`; refused by the bridge after `policies.card_auth_timeout`.";
}

std::unique_ptr<Uplink> card_auth_uplink(Platform& p) { return std::make_unique<CardAuth>(p); }

}  // namespace ykc::bridge
