#pragma once
// One gun: its charging session (energy rising with time, split by tariff) and the data of the
// frames that describe it (realtime 0x13, charge_end 0x19, transaction 0x3B, bms 0x23/0x25).
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "billing.hpp"

namespace ykc::sim {

using Clock = std::chrono::steady_clock;
using Wall = std::chrono::system_clock;

struct Session {
    std::string serial;      // 32 digits, from remote_start / card_auth_reply
    std::string trade_type;  // "app" or "card"
    std::string card = "0";  // physical card, hex
    Wall::time_point start_wall;
    Clock::time_point start, last;
    std::int64_t meter_start = 0;                      // 10^-4 kWh
    std::int64_t energy = 0;                           // 10^-4 kWh
    std::int64_t energy_rest = 0;                      // W·ms not yet a whole 10^-4 kWh (360000 W·ms)
    std::array<std::int64_t, 4> tariff_energy{};       // 10^-4 kWh
    std::array<std::int64_t, 4> tariff_amount_nano{};  // 10^-9 yuan
    int soc_start = 30;
};

struct ChargeParams {
    std::int64_t power_w = 60'000;
    std::int64_t battery_wh = 60'000;
    int utc_offset_minutes = 480;
};

class Gun {
public:
    explicit Gun(unsigned number, std::int64_t meter) : number_(number), meter_(meter) {}

    unsigned number() const noexcept { return number_; }
    bool charging() const noexcept { return session_.has_value(); }
    const Session* session() const noexcept { return session_ ? &*session_ : nullptr; }

    void begin(std::string serial, std::string trade_type, std::string card, Clock::time_point now, Wall::time_point wall, int soc_start);
    // Adds the energy delivered since the last call, at the tariff of the current half hour.
    void advance(Clock::time_point now, Wall::time_point wall, const BillingModel& model, const ChargeParams& p);
    int soc(const ChargeParams& p) const noexcept;
    // Ends the session; returns it (advance() first).
    Session finish();

    nlohmann::json realtime_data(Clock::time_point now, const ChargeParams& p) const;
    nlohmann::json bms_demand_data(Clock::time_point now, const ChargeParams& p) const;
    nlohmann::json bms_info_data() const;

    // Card of the card_auth (0x31) waiting for its 0x32, if any.
    std::optional<std::string> pending_card;
    Clock::time_point realtime_due{}, bms_due{};

private:
    unsigned number_;
    std::int64_t meter_;  // 10^-4 kWh, the gun's energy meter
    std::optional<Session> session_;
};

// 0x19 and 0x3B data of a finished session.
nlohmann::json charge_end_data(const Session& s, unsigned gun, Clock::time_point end, int final_soc);
nlohmann::json transaction_data(const Session& s, unsigned gun, Wall::time_point end_wall, const BillingModel& model,
                                const std::string& stop_reason, int utc_offset_minutes);

// Total amount of a session so far, in 10^-4 yuan (rounded half up).
std::int64_t amount_units(const Session& s);

}  // namespace ykc::sim
