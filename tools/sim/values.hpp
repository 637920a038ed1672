#pragma once
// Small value helpers: exact decimals for the codec, local times, pile numbers.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace ykc::sim {

// units / 10^scale as decimal text ("225.1"): the codec takes it exactly, never through double.
std::string decimal(std::int64_t units, int scale);

// A decoded engineering value (number or numeric string) in units of 10^-scale.
std::optional<std::int64_t> units_of(const nlohmann::json& v, int scale);

// "2024-05-01T08:30:00+08:00" for the given instant in the given UTC offset.
std::string iso_time(std::chrono::system_clock::time_point t, int utc_offset_minutes);

// Which half hour of the local day (0..47) the instant falls in.
int half_hour_of_day(std::chrono::system_clock::time_point t, int utc_offset_minutes);

// 14 digits, zero padded.
std::string pile_number(std::uint64_t n);

}  // namespace ykc::sim
