#include "transaction_check.hpp"

#include <optional>

#include "ykc/decimal.hpp"

namespace ykc::bridge {

using json = nlohmann::json;

namespace {

// Every amount and energy is compared in millionths, whatever the scale of its field (4 in the
// built-in catalogue; an overlay with more than 6 decimals makes the record unreadable here).
constexpr int scale = 6;

// A decoded number of `field` in millionths, exactly (the decoder writes the exact decimal; the
// shortest text of the double read back is that decimal for up to 15 digits: every built-in field).
std::optional<wide_int> units(const json& data, const Message& m, const std::string& field) {
    const auto it = data.find(field);
    if (!m.field(field) || it == data.end() || !it->is_number()) return std::nullopt;
    const std::string text = it->is_number_float() ? shortest_decimal(it->get<double>()) : it->dump();
    return parse_decimal(text, scale, nullptr);
}

std::string text(wide_int v) {
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
    const wide_int energy_tol = parse_decimal(energy_tolerance, scale, nullptr).value();
    const wide_int amount_tol = parse_decimal(amount_tolerance, scale, nullptr).value();
    auto near = [](wide_int a, wide_int b, wide_int tol) { return a - b <= tol && b - a <= tol; };

    // the tariff segments this record carries: sharp, peak, flat, valley (and deep_valley)
    wide_int energy_sum = 0, amount_sum = 0;
    std::string segments;
    bool segments_read = true;
    for (const auto& f : m.fields) {
        constexpr std::string_view suffix = "_price";
        if (f.name.size() <= suffix.size() || f.name.compare(f.name.size() - suffix.size(), suffix.size(), suffix) != 0 ||
            !data.contains(f.name))
            continue;
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
            why.push_back("segment energies (" + segments + ") add up to " + text(energy_sum) + " kWh, total_energy is " + text(*total_e) +
                          " kWh");
        if (!near(amount_sum, *total_a, amount_tol))
            why.push_back("segment amounts (" + segments + ") add up to " + text(amount_sum) + " yuan, total_amount is " + text(*total_a) +
                          " yuan");
    }
    // both readings 0: a pile without a meter reading ("0 means not applicable"); the segments still count
    const auto meter_start = units(data, m, "meter_start"), meter_end = units(data, m, "meter_end");
    if (!meter_start || !meter_end) {
        why.push_back("no meter_start or meter_end");
    } else if (total_e && (*meter_start != 0 || *meter_end != 0) &&
               (*meter_end < *meter_start || !near(*meter_end - *meter_start, *total_e, energy_tol))) {
        why.push_back("meter_end − meter_start is " + text(*meter_end - *meter_start) + " kWh (" + text(*meter_end) + " − " +
                      text(*meter_start) + "), total_energy is " + text(*total_e) + " kWh");
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
        if (!gun->is_number_integer() || gun->get<std::int64_t>() < 1) why.push_back("gun " + gun->dump() + " is not a gun number");
        else if (gun_count > 0 && gun->get<std::int64_t>() > gun_count)
            why.push_back("gun " + gun->dump() + ", but the pile logged in with " + std::to_string(gun_count) + " gun" +
                          (gun_count == 1 ? "" : "s"));
    }
    if (const auto serial = data.find("serial"); serial != data.end() && serial->is_string()) {
        const std::string& s = serial->get_ref<const std::string&>();
        if (s.compare(0, pile.size(), pile) != 0)
            why.push_back("serial " + s + " does not begin with the pile number " + pile + " (spec 3.3)");
    }
    return why;
}

}  // namespace ykc::bridge
