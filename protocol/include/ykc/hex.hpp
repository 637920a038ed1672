#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ykc {

// Uppercase hex, no separators.
void append_hex(std::string& out, std::span<const std::uint8_t> bytes);
std::string to_hex(std::span<const std::uint8_t> bytes);

// Strict: an even number of hex digits and nothing else. nullopt otherwise.
std::optional<std::vector<std::uint8_t>> from_hex(std::string_view text);

// What people paste from captures: hex digits with spaces, tabs, commas, colons, dashes and
// "0x" prefixes anywhere. On error returns nullopt and says why in *error.
std::optional<std::vector<std::uint8_t>> parse_hex_loose(std::string_view text, std::string* error);

inline int hex_digit_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

inline constexpr char hex_digits_upper[] = "0123456789ABCDEF";

}  // namespace ykc
