#pragma once
// CP56Time2a (IEC 60870-5-104 time, 7 bytes): ms (LE 16, includes seconds), minute (6 bits; IV),
// hour (5 bits; SU), day (5 bits; top 3 bits day of week — masked, ERRATA), month (4 bits),
// year - 2000 (7 bits). The spec gives no zone: chargers run on local time, so JSON carries
// ISO 8601 with a configured UTC offset (default +08:00).
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace ykc {

using Cp56 = std::array<std::uint8_t, 7>;

// Appends a JSON value: "2020-03-16T17:14:47+08:00" (".mmm" when not whole seconds), or null
// when all seven bytes are zero (no time).
void append_cp56_json(std::string& out, std::span<const std::uint8_t> bytes, int utc_offset_minutes);
// The same, written at p (at most max_cp56_json_chars); returns the end.
inline constexpr std::size_t max_cp56_json_chars = 40;
char* format_cp56_json(char* p, std::span<const std::uint8_t> bytes, int utc_offset_minutes);

// Why seven bytes are not a time that can be (month 14, 31 June, minute 61), or empty when they
// are one (all zero, "no time", is one).
std::string cp56_invalid(std::span<const std::uint8_t> bytes);

// Parses "YYYY-MM-DD[T| ]HH:MM[:SS[.fff]][Z|±HH:MM|±HHMM]" into CP56Time2a at the given offset
// (a time in another zone is converted; none given means the configured offset).
std::optional<Cp56> parse_time_cp56(std::string_view text, int utc_offset_minutes, std::string* error);

// The given instant (ms since the Unix epoch) as CP56Time2a in the given offset.
Cp56 cp56_from_epoch_ms(std::int64_t epoch_ms, int utc_offset_minutes);

// "+08:00", "8", "-5:30", "0", "Z" -> minutes. nullopt if not an offset in [-14:00, +14:00].
std::optional<int> parse_utc_offset(std::string_view text);

}  // namespace ykc
