#pragma once
// Exact decimal scaling: values on the wire are integers with an implied number of decimal
// places; JSON carries engineering units. Never through binary floating point (0.29 -> 29).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ykc {

__extension__ typedef __int128 wide_int;

// 10^n for 0 <= n <= 18.
std::int64_t pow10_i64(int n) noexcept;

// Appends units / 10^scale as a JSON number: "-12.05", "225.1", "3" (trailing zeros trimmed).
void append_decimal(std::string& out, wide_int units, int scale);
// The same, written at p (at most max_decimal_chars); returns the end. 0 <= scale <= 18.
inline constexpr std::size_t max_decimal_chars = 48;
char* format_decimal(char* p, wide_int units, int scale);

// Parses a decimal number ("225.1", "-0.5", "1e3", "12") into units of 10^-scale.
// Fails (nullopt, reason in *error) on syntax, on more decimals than `scale`, or on overflow.
std::optional<wide_int> parse_decimal(std::string_view text, int scale, std::string* error);

// The shortest decimal text that reads back as `value` (for JSON numbers that arrive as double).
std::string shortest_decimal(double value);

std::string to_string(wide_int v);

}  // namespace ykc
