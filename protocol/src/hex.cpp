#include "ykc/hex.hpp"

namespace ykc {

void append_hex(std::string& out, std::span<const std::uint8_t> bytes) {
    const std::size_t start = out.size();
    out.resize(start + bytes.size() * 2);
    char* p = out.data() + start;
    for (std::uint8_t b : bytes) {
        *p++ = hex_digits_upper[b >> 4];
        *p++ = hex_digits_upper[b & 0x0F];
    }
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
    std::string out;
    append_hex(out, bytes);
    return out;
}

std::optional<std::vector<std::uint8_t>> from_hex(std::string_view text) {
    if (text.size() % 2 != 0) return std::nullopt;
    std::vector<std::uint8_t> out(text.size() / 2);
    for (std::size_t i = 0; i < out.size(); ++i) {
        const int hi = hex_digit_value(text[2 * i]);
        const int lo = hex_digit_value(text[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return out;
}

std::optional<std::vector<std::uint8_t>> parse_hex_loose(std::string_view text, std::string* error) {
    std::string digits;
    digits.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '0' && i + 1 < text.size() && (text[i + 1] == 'x' || text[i + 1] == 'X')) {
            ++i;  // "0x" prefix
            continue;
        }
        if (hex_digit_value(c) >= 0) {
            digits.push_back(c);
        } else if (c == ' ' || c == '\t' || c == ',' || c == ':' || c == '-' || c == '\r' || c == '\n') {
            continue;
        } else {
            if (error) *error = std::string("not a hex digit: '") + c + "' at position " + std::to_string(i);
            return std::nullopt;
        }
    }
    if (digits.size() % 2 != 0) {
        if (error) *error = "odd number of hex digits (" + std::to_string(digits.size()) + ")";
        return std::nullopt;
    }
    return from_hex(digits);
}

}  // namespace ykc
