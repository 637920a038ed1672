// heartbeat (0x03): answered at once with heartbeat_reply for its gun; published only with
// publish.heartbeats. Not parsed: the gun is read from the decoded text.
#include "uplink.hpp"
#include "ykc/json_member.hpp"

namespace ykc::bridge {

namespace {

class Heartbeat final : public Uplink {
public:
    explicit Heartbeat(Platform& p) : p_(p) {}

    bool handles(const Message& m) const override { return m.name == "heartbeat"; }
    bool parses() const override { return false; }

    void on_frame(const SessionPtr& s, const Frame& frame, const Message& m, const nlohmann::json&, std::string text) override {
        const std::string_view gun = json_member(json_member(text, "data"), "gun");
        const nlohmann::json gun_value = gun.empty() ? nlohmann::json() : nlohmann::json::parse(gun);
        if (p_.config().publish.heartbeats) p_.publish_frame(s->pile.number, m.topic, std::move(text), p_.config().publish.heartbeat_qos);
        p_.send(s, m.reply, {{"gun", gun_value}, {"ack", 0}}, frame.seq());
    }

private:
    Platform& p_;
};

}  // namespace

std::string heartbeat_note(const Message& m) {
    return m.name == "heartbeat"
               ? "Published only with `publish.heartbeats`, at `publish.heartbeat_qos`; the bridge answers every heartbeat."
               : "";
}

std::unique_ptr<Uplink> heartbeat_uplink(Platform& p) { return std::make_unique<Heartbeat>(p); }

}  // namespace ykc::bridge
