// realtime (0x13): published on its topic behind what a backend waits for (lane telemetry), and
// its data as the gun's retained state, <base>/<pile>/gun/<n>/state. Not parsed: the gun and the
// data object are read from the decoded text.
#include <boost/asio/steady_timer.hpp>

#include "uplink.hpp"
#include "ykc/json_member.hpp"

namespace ykc::bridge {

namespace {

// What the gun's connector is doing (uplink.hpp, gun_state); a literal, never a view into `data`.
std::string_view gun_connector(std::string_view data, std::string_view status, bool& charged) {
    if (status == "charging") return charged = true, connector_name(Connector::charging);
    if (status == "fault") return connector_name(Connector::fault);
    if (status == "offline") return connector_name(Connector::offline);
    if (status != "idle") return "unknown";
    if (json_member(data, "plugged") != "true") return charged = false, connector_name(Connector::idle);
    return connector_name(charged ? Connector::finished : Connector::preparing);
}

class Realtime final : public Uplink {
public:
    explicit Realtime(Platform& p) : p_(p), flush_(p.io()) {}

    bool handles(const Message& m) const override { return m.name == "realtime"; }
    bool parses() const override { return false; }

    void on_frame(const SessionPtr& s, const Frame&, const Message& m, const nlohmann::json&, std::string text) override {
        const std::string_view data = json_member(text, "data");
        const std::string_view gun = json_member(data, "gun");
        const auto lane = m.telemetry ? MqttLink::Lane::telemetry : MqttLink::Lane::control;
        if (gun.empty()) return p_.publish_frame(s->pile.number, m.topic, std::move(text), p_.config().mqtt.qos, {}, lane);
        // a number in the catalogue (bcd_int); a string only through an overlay, escapes and all
        const std::string gun_name = gun.front() == '"' ? nlohmann::json::parse(gun).get<std::string>() : std::string(gun);
        const std::string_view status = json_plain_string(json_member(data, "status"));
        p_.ledger().realtime(s->pile.number, s->pile.gun_count, gun_name, status, data);
        Pile::GunState& g = entry_of(s->pile, gun_name);
        std::string state = gun_state(data, status, g.charged);
        p_.publish_frame(s->pile.number, m.topic, std::move(text), p_.config().mqtt.qos, {}, lane);  // data and status end here
        publish_state(s->pile, g, std::move(state));
    }

    void health(nlohmann::json& h) const override { h["gun_states_unchanged"] = unchanged_; }

    void stop() override {
        flush_.cancel();
        flush_held();  // the newest values still go out
    }

private:
    // the gun's entry in pile.gun_states, made at its first frame
    static Pile::GunState& entry_of(Pile& pile, const std::string& n) {
        auto g = std::find_if(pile.gun_states.begin(), pile.gun_states.end(), [&](const auto& x) { return x.gun == n; });
        return g != pile.gun_states.end() ? *g : pile.gun_states.emplace_back(Pile::GunState{n, 0, {}, false});
    }

    // <base>/<pile>/gun/<n>/state: the frame's data plus ts, retained. With publish.gun_state
    // on_change, a frame that repeats the last values of its gun publishes nothing. Within
    // publish.gun_state_min_interval_ms of the gun's last publish the state waits in held_ (the
    // newest replaces an older one) for the next flush.
    void publish_state(Pile& pile, Pile::GunState& g, std::string state) {
        const std::string& n = g.gun;
        const std::size_t h = std::hash<std::string>{}(state);
        const auto& config = p_.config();
        if (config.publish.gun_state == "on_change" && g.hash == h && g.published != Clock::time_point{}) return ++unchanged_, void();
        g.hash = h;
        append_plain_string_member(state, "ts", p_.now_iso());
        std::string t = p_.topic(pile.number, "gun/" + n + "/state");
        const auto now = Clock::now();
        const auto min_interval = std::chrono::milliseconds(config.publish.gun_state_min_interval_ms);
        if (min_interval.count() > 0 && now - g.published < min_interval) {
            held_[std::move(t)] = Held{std::move(state), pile.number, n};
            if (!armed_) {
                armed_ = true;
                flush_.expires_after(min_interval);
                flush_.async_wait([this](boost::system::error_code ec) {
                    armed_ = false;
                    if (!ec) flush_held();
                });
            }
            return;
        }
        held_.erase(t);  // this newer value replaces a held one
        g.published = now;
        p_.mqtt().publish_latest(t, std::move(state), config.mqtt.qos);
    }

    void flush_held() {
        const auto now = Clock::now();
        for (auto& [t, held] : held_) {
            if (auto s = p_.session_of(held.pile))
                for (auto& g : s->pile.gun_states)
                    if (g.gun == held.gun) g.published = now;
            p_.mqtt().publish_latest(t, std::move(held.payload), p_.config().mqtt.qos);
        }
        held_.clear();
    }

    Platform& p_;
    struct Held {
        std::string payload, pile, gun;
    };
    std::unordered_map<std::string, Held> held_;  // gun state topic -> newest state waiting for flush_
    boost::asio::steady_timer flush_;
    bool armed_ = false;
    std::uint64_t unchanged_ = 0;
};

}  // namespace

std::string gun_state(std::string_view data, std::string_view status, bool& charged) {
    const std::string_view connector = gun_connector(data, status, charged);
    std::string state;
    state.reserve(data.size() + connector.size() + 64);  // and the ts publish_state appends: one allocation
    state.append(data);
    append_plain_string_member(state, "connector", connector);
    return state;
}

std::string realtime_note(const Message& m) {
    return m.name == "realtime" ? "Also sets the retained `ykc/<pile>/gun/<n>/state` of its gun (the second example)." : "";
}

std::unique_ptr<Uplink> realtime_uplink(Platform& p) { return std::make_unique<Realtime>(p); }

}  // namespace ykc::bridge
