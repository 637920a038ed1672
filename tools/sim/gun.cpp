#include "gun.hpp"

#include <algorithm>

#include "values.hpp"

namespace ykc::sim {
namespace {

constexpr std::int64_t ws_ms_per_unit = 360'000;  // 10^-4 kWh = 0.36 kJ = 360000 W·ms

std::int64_t minutes_between(Clock::time_point a, Clock::time_point b) {
    return std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::minutes>(b - a).count());
}

std::int64_t nano_to_units(std::int64_t nano) { return (nano + 50'000) / 100'000; }

// Output voltage (0.1 V) rising with the state of charge, current (0.1 A) from the power.
std::int64_t voltage_d(int soc) { return 3500 + soc * 7; }
std::int64_t current_d(std::int64_t power_w, int soc) { return power_w * 100 / voltage_d(soc); }
// Highest cell voltage (0.01 V), rising with the state of charge; the lowest is 0.08 V under it.
std::int64_t cell_max_cv(int soc) { return 390 + soc * 3 / 10; }

}  // namespace

void Gun::begin(std::string serial, std::string trade_type, std::string card, Clock::time_point now, Wall::time_point wall, int soc_start) {
    Session s;
    s.serial = std::move(serial);
    s.trade_type = std::move(trade_type);
    s.card = card.empty() ? "0" : std::move(card);
    s.start_wall = wall;
    s.start = s.last = now;
    s.meter_start = meter_;
    s.soc_start = soc_start;
    session_ = std::move(s);
}

void Gun::advance(Clock::time_point now, Wall::time_point wall, const BillingModel& model, const ChargeParams& p) {
    if (!session_) return;
    Session& s = *session_;
    const auto dt = std::chrono::duration_cast<std::chrono::milliseconds>(now - s.last).count();
    if (dt <= 0) return;
    s.last = now;
    if (soc(p) >= 100) return;
    s.energy_rest += p.power_w * dt;
    const std::int64_t delta = s.energy_rest / ws_ms_per_unit;
    s.energy_rest %= ws_ms_per_unit;
    if (delta == 0) return;
    const int t = model.periods[static_cast<std::size_t>(half_hour_of_day(wall, p.utc_offset_minutes))] & 3;
    s.energy += delta;
    s.tariff_energy[static_cast<std::size_t>(t)] += delta;
    s.tariff_amount_nano[static_cast<std::size_t>(t)] += delta * model.price(t);
    meter_ += delta;
}

int Gun::soc(const ChargeParams& p) const noexcept {
    if (!session_) return 0;
    const std::int64_t gained = session_->energy * 10 / std::max<std::int64_t>(1, p.battery_wh);  // 10^-4 kWh *100% / Wh*10
    return static_cast<int>(std::min<std::int64_t>(100, session_->soc_start + gained));
}

Session Gun::finish() {
    Session s = std::move(*session_);
    session_.reset();
    return s;
}

std::int64_t amount_units(const Session& s) {
    std::int64_t nano = 0;
    for (auto a : s.tariff_amount_nano) nano += a;
    return nano_to_units(nano);
}

nlohmann::json Gun::realtime_data(Clock::time_point now, const ChargeParams& p) const {
    nlohmann::json d;
    if (!session_) {
        d = {{"serial", "0"},
             {"gun", number_},
             {"status", "idle"},
             {"gun_returned", "yes"},
             {"plugged", false},
             {"voltage", "0"},
             {"current", "0"},
             {"gun_temperature", "25"},
             {"gun_line_code", "0"},
             {"soc", 0},
             {"battery_max_temperature", "25"},
             {"charging_minutes", 0},
             {"remaining_minutes", 0},
             {"energy", "0"},
             {"energy_with_loss", "0"},
             {"amount", "0"},
             {"hardware_faults", nlohmann::json::array()}};
        return d;
    }
    const Session& s = *session_;
    const int soc_now = soc(p);
    const std::int64_t remaining_wh = p.battery_wh * (100 - soc_now) / 100;
    const std::int64_t remaining_min = remaining_wh * 60 / std::max<std::int64_t>(1, p.power_w);
    const bool full = soc_now >= 100;
    d = {{"serial", s.serial},
         {"gun", number_},
         {"status", "charging"},
         {"gun_returned", "no"},
         {"plugged", true},
         {"voltage", decimal(voltage_d(soc_now), 1)},
         {"current", decimal(full ? 0 : current_d(p.power_w, soc_now), 1)},
         {"gun_temperature", "36"},
         {"gun_line_code", "0"},
         {"soc", soc_now},
         {"battery_max_temperature", "31"},
         {"charging_minutes", minutes_between(s.start, now)},
         {"remaining_minutes", std::min<std::int64_t>(remaining_min, 65535)},
         {"energy", decimal(s.energy, 4)},
         {"energy_with_loss", decimal(s.energy, 4)},
         {"amount", decimal(amount_units(s), 4)},
         {"hardware_faults", nlohmann::json::array()}};
    return d;
}

nlohmann::json Gun::bms_demand_data(Clock::time_point now, const ChargeParams& p) const {
    const Session& s = *session_;
    const int soc_now = soc(p);
    const std::int64_t v = voltage_d(soc_now);
    const std::int64_t i = std::min<std::int64_t>(current_d(p.power_w, soc_now), 4000);  // at most 400 A on this field
    const std::int64_t remaining_min = p.battery_wh * (100 - soc_now) / 100 * 60 / std::max<std::int64_t>(1, p.power_w);
    // GB/T 27930 currents: offset -400 A, charging current negative.
    return {{"serial", s.serial},
            {"gun", number_},
            {"demand_voltage", decimal(v + 50, 1)},
            {"demand_current", decimal(-i, 1)},
            {"charge_mode", "constant_current"},
            {"measured_voltage", decimal(v - 10, 1)},
            {"measured_current", decimal(-i, 1)},
            {"cell_max_voltage", decimal(cell_max_cv(soc_now), 2)},
            {"cell_max_group", 1},
            {"soc", soc_now},
            {"remaining_minutes", std::min<std::int64_t>(remaining_min, 65535)},
            {"output_voltage", decimal(v, 1)},
            {"output_current", decimal(-i, 1)},
            {"charging_minutes", minutes_between(s.start, now)}};
}

nlohmann::json Gun::bms_info_data() const {
    const Session& s = *session_;
    return {{"serial", s.serial},
            {"gun", number_},
            {"cell_max_voltage_number", 17},
            {"battery_max_temperature", "31"},
            {"max_temperature_point", 3},
            {"battery_min_temperature", "27"},
            {"min_temperature_point", 8},
            {"cell_voltage_state", "normal"},
            {"soc_state", "normal"},
            {"overcurrent", "normal"},
            {"overtemperature", "normal"},
            {"insulation", "normal"},
            {"connector", "normal"},
            {"charging_allowed", "allowed"}};
}

nlohmann::json charge_end_data(const Session& s, unsigned gun, Clock::time_point end, int final_soc) {
    return {{"serial", s.serial},
            {"gun", gun},
            {"final_soc", final_soc},
            {"cell_min_voltage", decimal(cell_max_cv(final_soc) - 8, 2)},
            {"cell_max_voltage", decimal(cell_max_cv(final_soc), 2)},
            {"battery_min_temperature", "27"},
            {"battery_max_temperature", "31"},
            {"charging_minutes", std::min<std::int64_t>(minutes_between(s.start, end), 65535)},
            {"energy", decimal(std::min<std::int64_t>(s.energy / 1000, 65535), 1)},
            {"charger_number", 1}};
}

nlohmann::json transaction_data(const Session& s, unsigned gun, Wall::time_point end_wall, const BillingModel& model,
                                const std::string& stop_reason, int utc_offset_minutes) {
    nlohmann::json d = {{"serial", s.serial},
                        {"gun", gun},
                        {"start_time", iso_time(s.start_wall, utc_offset_minutes)},
                        {"end_time", iso_time(end_wall, utc_offset_minutes)}};
    std::int64_t total = 0;
    for (int t = 0; t < 4; ++t) {
        const std::string n = tariff_names[t];
        const auto i = static_cast<std::size_t>(t);
        const std::int64_t amount = nano_to_units(s.tariff_amount_nano[i]);
        total += amount;
        d[n + "_price"] = decimal(model.price(t), 5);
        d[n + "_energy"] = decimal(s.tariff_energy[i], 4);
        d[n + "_energy_with_loss"] = decimal(s.tariff_energy[i], 4);
        d[n + "_amount"] = decimal(amount, 4);
    }
    d["meter_start"] = decimal(s.meter_start, 4);
    d["meter_end"] = decimal(s.meter_start + s.energy, 4);
    d["total_energy"] = decimal(s.energy, 4);
    d["total_energy_with_loss"] = decimal(s.energy, 4);
    d["total_amount"] = decimal(total, 4);
    d["vin"] = "";
    d["trade_type"] = s.trade_type;
    d["trade_time"] = iso_time(end_wall, utc_offset_minutes);
    d["stop_reason"] = stop_reason;
    d["card"] = s.card;
    return d;
}

}  // namespace ykc::sim
