#include "values.hpp"

#include <cstdio>
#include <ctime>

#include "ykc/decimal.hpp"

namespace ykc::sim {

std::string decimal(std::int64_t units, int scale) {
    std::string out;
    append_decimal(out, units, scale);
    return out;
}

std::optional<std::int64_t> units_of(const nlohmann::json& v, int scale) {
    std::string text;
    if (v.is_number_integer()) text = std::to_string(v.get<std::int64_t>());
    else if (v.is_number_unsigned()) text = std::to_string(v.get<std::uint64_t>());
    else if (v.is_number_float()) text = shortest_decimal(v.get<double>());
    else if (v.is_string()) text = v.get<std::string>();
    else return std::nullopt;
    std::string err;
    auto u = parse_decimal(text, scale, &err);
    if (!u || *u > INT64_MAX || *u < INT64_MIN) return std::nullopt;
    return static_cast<std::int64_t>(*u);
}

namespace {
std::int64_t local_seconds(std::chrono::system_clock::time_point t, int utc_offset_minutes) {
    const auto s = std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
    return s + std::int64_t{utc_offset_minutes} * 60;
}
}  // namespace

std::string iso_time(std::chrono::system_clock::time_point t, int utc_offset_minutes) {
    const std::time_t local = static_cast<std::time_t>(local_seconds(t, utc_offset_minutes));
    std::tm tm{};
    gmtime_r(&local, &tm);
    const int off = utc_offset_minutes < 0 ? -utc_offset_minutes : utc_offset_minutes;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                  tm.tm_min, tm.tm_sec, utc_offset_minutes < 0 ? '-' : '+', off / 60, off % 60);
    return buf;
}

int half_hour_of_day(std::chrono::system_clock::time_point t, int utc_offset_minutes) {
    const std::int64_t s = local_seconds(t, utc_offset_minutes);
    const std::int64_t in_day = ((s % 86400) + 86400) % 86400;
    return static_cast<int>(in_day / 1800);
}

std::string pile_number(std::uint64_t n) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%014llu", static_cast<unsigned long long>(n));
    return buf;
}

}  // namespace ykc::sim
