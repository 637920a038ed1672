// The charger's own schedule: one timer per pile for every deadline (reconnect, connect and
// login time-outs, heartbeats, real-time data, BMS data, transaction retries), the login
// sequence, and charging sessions from start to transaction record.
#include "pile.hpp"

#include <algorithm>

#include "values.hpp"

namespace ykc::sim {

namespace {
constexpr std::size_t max_pending_transactions = 1000;

// The transaction record in the format of --record: the standard 0x3B as it is; five segments with
// a deep-valley one after valley (at the valley price, no energy: every sum still adds up); V1.7's
// 0x3D with its meter's number (the pile's last 12 digits) and a reading the simulator does not sign.
nlohmann::json record(nlohmann::json data, RecordFormat format, const std::string& pile) {
    if (format == RecordFormat::five_segment) {
        data["deep_valley_price"] = data["valley_price"];
        data["deep_valley_energy"] = data["deep_valley_energy_with_loss"] = data["deep_valley_amount"] = "0";
    }
    if (format != RecordFormat::v17) return {{"type", "transaction"}, {"data", std::move(data)}};
    data["meter_number"] = pile.substr(pile.size() - 12);
    data["meter_ciphertext"] = std::string(68, '0');
    data["meter_protocol_version"] = 1;
    data["meter_encryption"] = 0;
    return {{"type", "metered_transaction"}, {"data", std::move(data)}};
}
}  // namespace

ChargeParams Pile::params() const noexcept {
    ChargeParams p;
    p.power_w = std::int64_t{sim_.opt.power_kw} * 1000 * max_power_ / 100;
    p.battery_wh = std::int64_t{sim_.opt.battery_kwh} * 1000;
    p.utc_offset_minutes = sim_.opt.utc_offset_minutes;
    return p;
}

// Sets the timer to the earliest deadline; one wait per pile at any time.
void Pile::arm() {
    if (state_ == State::stopped) return;
    Clock::time_point next = Clock::time_point::max();
    if (state_ == State::online) {
        next = heartbeat_due_;
        for (const Gun& g : guns_) {
            next = std::min(next, g.realtime_due);
            if (sim_.opt.bms && g.charging()) next = std::min(next, g.bms_due);
        }
        for (const Pending& p : pending_) next = std::min(next, p.due);
    } else {
        next = deadline_;
    }
    // Charging goes on offline too: look at the sessions (battery full?) now and then.
    for (const Gun& g : guns_)
        if (g.charging()) next = std::min(next, last_tick_ + sim_.opt.realtime_charging);
    if (next == Clock::time_point::max()) return;
    if (armed_ && armed_at_ <= next) return;  // an earlier wake-up is set; it will re-arm
    timer_.expires_at(next);                  // cancels the wait set before (its handler sees a stale token)
    armed_ = true;
    armed_at_ = next;
    timer_.async_wait([this, token = ++tick_token_](const boost::system::error_code& ec) {
        if (token != tick_token_) return;
        armed_ = false;
        if (ec || state_ == State::stopped) return;
        tick();
    });
}

void Pile::tick() {
    const auto now = Clock::now();
    last_tick_ = now;
    advance(now);
    switch (state_) {
        case State::waiting:
            if (now >= deadline_) connect();
            break;
        case State::connecting:
            if (now >= deadline_) connect_failed("connect timed out");
            break;
        case State::login:
            if (now >= deadline_) close_link("no login_reply within " + std::to_string(sim_.opt.login_timeout.count()) + " ms");
            break;
        case State::online: periodic(now); break;
        case State::stopped: return;
    }
    arm();
}

// Energy for every charging gun; a full battery ends its session (soc_full).
void Pile::advance(Clock::time_point now) {
    const auto wall = Wall::now();
    const ChargeParams p = params();
    for (Gun& g : guns_) {
        if (!g.charging()) continue;
        g.advance(now, wall, model_, p);
        if (g.soc(p) >= 100) end_session(g, "soc_full");
    }
}

void Pile::periodic(Clock::time_point now) {
    if (now >= heartbeat_due_) {
        if (sim_.opt.heartbeat_misses && misses_ >= sim_.opt.heartbeat_misses)
            return close_link("no heartbeat_reply to " + std::to_string(misses_) + " heartbeats");
        ++misses_;
        heartbeat_due_ = now + sim_.opt.heartbeat;
        for (const Gun& g : guns_) send({{"type", "heartbeat"}, {"data", {{"gun", g.number()}, {"gun_status", "normal"}}}});
    }
    for (Gun& g : guns_) {
        if (!connected()) return;
        if (now >= g.realtime_due) send_realtime(g);
        if (sim_.opt.bms && g.charging() && now >= g.bms_due) send_bms(g);
    }
    for (Pending& p : pending_) {
        if (!connected()) return;
        if (now >= p.due) send_transaction(p);
    }
}

void Pile::logged_in() {
    state_ = State::online;
    ++sim_.log.stats.logged_in;
    backoff_ = sim_.opt.reconnect_min;
    misses_ = 0;
    sim_.log.event({{"event", "login"}, {"pile", id_}, {"result", "success"}});
    const auto now = Clock::now();
    send({{"type", "billing_model_verify"}, {"data", {{"model_id", model_.id}}}});
    advance(now);
    for (Gun& g : guns_) send_realtime(g);
    heartbeat_due_ = now + sim_.opt.heartbeat;
    for (Pending& p : pending_) send_transaction(p);  // records kept from before: re-sent now
    arm();
}

void Pile::send_realtime(Gun& g, const nlohmann::json* request) {
    const auto now = Clock::now();
    g.advance(now, Wall::now(), model_, params());
    nlohmann::json env = {{"type", "realtime"}, {"data", g.realtime_data(now, params())}};
    if (request) reply(*request, std::move(env));
    else send(std::move(env));
    g.realtime_due = now + (g.charging() ? sim_.opt.realtime_charging : sim_.opt.realtime_idle);
}

void Pile::send_bms(Gun& g) {
    const auto now = Clock::now();
    send({{"type", "bms_demand"}, {"data", g.bms_demand_data(now, params())}});
    send({{"type", "bms_info"}, {"data", g.bms_info_data()}});
    g.bms_due = now + sim_.opt.realtime_charging;
}

void Pile::send_transaction(Pending& p) {
    p.due = Clock::now() + sim_.opt.transaction_retry;
    if (send(p.envelope)) ++p.sent;
}

bool Pile::begin_session(Gun& g, std::string serial, std::string trade_type, std::string card) {
    if (g.charging()) return false;
    const auto now = Clock::now();
    g.begin(std::move(serial), std::move(trade_type), std::move(card), now, Wall::now(), 20 + static_cast<int>(sim_.below(40)));
    ++sim_.log.stats.charging;
    ++sim_.log.stats.sessions;
    sim_.log.event({{"event", "session_start"},
                    {"pile", id_},
                    {"gun", g.number()},
                    {"serial", g.session()->serial},
                    {"trade_type", g.session()->trade_type}});
    last_tick_ = now;
    g.bms_due = now + sim_.opt.realtime_charging;
    send_realtime(g);  // status change
    arm();
    return true;
}

// Ends a session: charge_end (0x19), the transaction record (0x3B, kept until its 0x40) and
// the real-time data of the idle gun.
void Pile::end_session(Gun& g, const std::string& reason) {
    if (!g.charging()) return;
    const auto now = Clock::now();
    const auto wall = Wall::now();
    g.advance(now, wall, model_, params());
    const int final_soc = g.soc(params());
    const Session s = g.finish();
    --sim_.log.stats.charging;
    send({{"type", "charge_end"}, {"data", charge_end_data(s, g.number(), now, final_soc)}});
    if (pending_.size() >= max_pending_transactions) {
        error("too many unconfirmed transaction records: dropping " + pending_.front().serial);
        pending_.pop_front();
        --sim_.log.stats.transactions_pending;
    }
    pending_.push_back({s.serial,
                        record(transaction_data(s, g.number(), wall, model_, reason, sim_.opt.utc_offset_minutes), sim_.opt.record, id_),
                        now, 0});
    ++sim_.log.stats.transactions_pending;
    sim_.log.event({{"event", "session_end"},
                    {"pile", id_},
                    {"gun", g.number()},
                    {"serial", s.serial},
                    {"reason", reason},
                    {"energy", Event::parse(decimal(s.energy, 4))},
                    {"amount", Event::parse(pending_.back().envelope["data"]["total_amount"].get<std::string>())}});
    send_transaction(pending_.back());
    send_realtime(g);
    arm();
}

void Pile::swipe(unsigned gun, const std::string& card) {
    if (state_ != State::online) return error("swipe: not logged in");
    if (gun < 1 || gun > guns_.size()) return error("swipe: no gun " + std::to_string(gun));
    Gun& g = guns_[gun - 1];
    if (g.charging()) return error("swipe: gun " + std::to_string(gun) + " is charging");
    g.pending_card = card;
    send({{"type", "card_auth"},
          {"data", {{"gun", gun}, {"start_mode", "card"}, {"password_required", false}, {"card", card}, {"password", ""}, {"vin", ""}}}});
}

void Pile::local_stop(unsigned gun) {
    if (gun < 1 || gun > guns_.size()) return error("stop: no gun " + std::to_string(gun));
    Gun& g = guns_[gun - 1];
    if (!g.charging()) return error("stop: gun " + std::to_string(gun) + " is not charging");
    end_session(g, "manual_stop");
}

}  // namespace ykc::sim
