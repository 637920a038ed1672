#include "transaction_check.hpp"

#include <optional>

#include "ykc/decimal.hpp"

namespace ykc::bridge {

using json = nlohmann::json;

namespace {

// A decoded number of `field` in units of its scale, exactly (the decoder writes the exact decimal;
// the shortest text of the double read back is that decimal).
std::optional<wide_int> units(const json& data, const Message& m, const std::string& field) {
    const Field* f = m.field(field);
    const auto it = data.find(field);
    if (!f || it == data.end() || !it->is_number()) return std::nullopt;
    const std::string text = it->is_number_float() ? shortest_decimal(it->get<double>()) : it->dump();
    return parse_decimal(text, f->scale, nullptr);
}

std::string text(wide_int v, int scale) {
    std::string s;
    append_decimal(s, v, scale);
    return s;
}

// "2024-05-01T08:30:00.250+08:00" -> "2024-05-01T08:30:00" and "250": comparable as text.
std::pair<std::string, std::string> time_key(const std::string& t) {
    std::string fraction = "000";
    if (t.size() > 20 && t[19] == '.') fraction = t.substr(20, 3);
    return {t.substr(0, 19), fraction};
}

}  // namespace

std::vector<std::string> check_transaction(const json& data, const Message& m, const std::string& pile, int gun_count) {
    std::vector<std::string> why;
    const Field* total_energy = m.field("total_energy");
    const Field* total_amount = m.field("total_amount");
    const int energy_scale = total_energy ? total_energy->scale : 4, amount_scale = total_amount ? total_amount->scale : 4;
    const wide_int energy_tol = *parse_decimal(energy_tolerance, energy_scale, nullptr);
    const wide_int amount_tol = *parse_decimal(amount_tolerance, amount_scale, nullptr);
    auto near = [](wide_int a, wide_int b, wide_int tol) { return a - b <= tol && b - a <= tol; };

    // the tariff segments this record carries: sharp, peak, flat, valley (and deep_valley)
    wide_int energy_sum = 0, amount_sum = 0;
    std::string segments;
    bool segments_read = true;
    for (const auto& f : m.fields) {
        constexpr std::string_view suffix = "_price";
        if (f.name.size() <= suffix.size() || f.name.compare(f.name.size() - suffix.size(), suffix.size(), suffix) != 0 || !data.contains(f.name)) continue;
        const std::string seg = f.name.substr(0, f.name.size() - suffix.size());
        const auto e = units(data, m, seg + "_energy"), a = units(data, m, seg + "_amount");
        if (!e || !a) {
            segments_read = false;
            continue;
        }
        energy_sum += *e;
        amount_sum += *a;
        segments += (segments.empty() ? "" : " + ") + seg;
    }
    const auto total_e = units(data, m, "total_energy"), total_a = units(data, m, "total_amount");
    if (!total_e || !total_a || !segments_read) {
        why.push_back("the record has no readable total_energy, total_amount or segment energies and amounts");
    } else {
        if (!near(energy_sum, *total_e, energy_tol))
            why.push_back("segment energies (" + segments + ") add up to " + text(energy_sum, energy_scale) + " kWh, total_energy is " +
                          text(*total_e, energy_scale) + " kWh");
        if (!near(amount_sum, *total_a, amount_tol))
            why.push_back("segment amounts (" + segments + ") add up to " + text(amount_sum, amount_scale) + " yuan, total_amount is " +
                          text(*total_a, amount_scale) + " yuan");
    }
    const auto meter_start = units(data, m, "meter_start"), meter_end = units(data, m, "meter_end");
    if (!meter_start || !meter_end) {
        why.push_back("no meter_start or meter_end");
    } else if (total_e && (*meter_end < *meter_start || !near(*meter_end - *meter_start, *total_e, energy_tol))) {
        const int scale = m.field("meter_start")->scale;
        why.push_back("meter_end − meter_start is " + text(*meter_end - *meter_start, scale) + " kWh (" + text(*meter_end, scale) + " − " +
                      text(*meter_start, scale) + "), total_energy is " + text(*total_e, energy_scale) + " kWh");
    }
    // times: the decoder has checked that each is a date that can be; here they must be there
    bool times = true;
    for (const char* t : {"start_time", "end_time", "trade_time"})
        if (m.field(t) && !(data.contains(t) && data[t].is_string())) {
            why.push_back(std::string(t) + " is missing (all zero)");
            times = false;
        }
    if (times && m.field("start_time") && m.field("end_time") &&
        time_key(data["start_time"].get<std::string>()) > time_key(data["end_time"].get<std::string>()))
        why.push_back("start_time " + data["start_time"].get<std::string>() + " is after end_time " + data["end_time"].get<std::string>());
    if (const auto gun = data.find("gun"); gun != data.end()) {
        if (!gun->is_number_integer() || gun->get<std::int64_t>() < 1)
            why.push_back("gun " + gun->dump() + " is not a gun number");
        else if (gun_count > 0 && gun->get<std::int64_t>() > gun_count)
            why.push_back("gun " + gun->dump() + ", but the pile logged in with " + std::to_string(gun_count) + " gun" + (gun_count == 1 ? "" : "s"));
    }
    if (const auto serial = data.find("serial"); serial != data.end() && serial->is_string()) {
        const std::string& s = serial->get_ref<const std::string&>();
        if (s.compare(0, pile.size(), pile) != 0)
            why.push_back("serial " + s + " does not begin with the pile number " + pile + " (spec 3.3)");
    }
    return why;
}

}  // namespace ykc::bridge
