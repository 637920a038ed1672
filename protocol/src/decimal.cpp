#include "ykc/decimal.hpp"

#include <charconv>
#include <cmath>

namespace ykc {

std::int64_t pow10_i64(int n) noexcept {
    std::int64_t v = 1;
    for (int i = 0; i < n; ++i) v *= 10;
    return v;
}

std::string to_string(wide_int v) {
    if (v == 0) return "0";
    const bool negative = v < 0;
    unsigned __int128 u = negative ? static_cast<unsigned __int128>(-(v + 1)) + 1 : static_cast<unsigned __int128>(v);
    char buf[48];
    char* p = buf + sizeof buf;
    while (u) {
        *--p = static_cast<char>('0' + static_cast<int>(u % 10));
        u /= 10;
    }
    if (negative) *--p = '-';
    return std::string(p, buf + sizeof buf);
}

void append_decimal(std::string& out, wide_int units, int scale) {
    if (units < 0) {
        out.push_back('-');
        units = -units;
    }
    if (scale == 0) {
        if (units <= static_cast<wide_int>(UINT64_MAX)) {
            char buf[24];
            auto r = std::to_chars(buf, buf + sizeof buf, static_cast<std::uint64_t>(units));
            out.append(buf, r.ptr);
        } else {
            out += to_string(units);
        }
        return;
    }
    const wide_int p = pow10_i64(scale);
    const wide_int int_part = units / p;
    std::int64_t frac = static_cast<std::int64_t>(units % p);
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, static_cast<std::uint64_t>(int_part));
    out.append(buf, r.ptr);
    if (frac == 0) return;
    int digits = scale;
    while (frac % 10 == 0) {
        frac /= 10;
        --digits;
    }
    char fbuf[20];
    for (int i = digits - 1; i >= 0; --i) {
        fbuf[i] = static_cast<char>('0' + frac % 10);
        frac /= 10;
    }
    out.push_back('.');
    out.append(fbuf, static_cast<std::size_t>(digits));
}

std::optional<wide_int> parse_decimal(std::string_view text, int scale, std::string* error) {
    auto fail = [&](std::string why) -> std::optional<wide_int> {
        if (error) *error = std::move(why);
        return std::nullopt;
    };
    std::size_t i = 0;
    bool negative = false;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
    std::string digits;  // all significant digits, integer and fraction
    int frac_digits = 0;
    bool seen_point = false, any_digit = false;
    for (; i < text.size(); ++i) {
        const char c = text[i];
        if (c >= '0' && c <= '9') {
            any_digit = true;
            if (digits.empty() && c == '0' && !seen_point) continue;
            digits.push_back(c);
            if (seen_point) ++frac_digits;
        } else if (c == '.' && !seen_point) {
            seen_point = true;
        } else {
            break;
        }
    }
    if (!any_digit) return fail("not a number: \"" + std::string(text) + "\"");
    int exponent = 0;
    if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
        ++i;
        int sign = 1;
        if (i < text.size() && (text[i] == '-' || text[i] == '+')) sign = text[i++] == '-' ? -1 : 1;
        int e = 0;
        bool any = false;
        for (; i < text.size() && text[i] >= '0' && text[i] <= '9' && e < 1000; ++i, any = true) e = e * 10 + (text[i] - '0');
        if (!any) return fail("not a number: \"" + std::string(text) + "\"");
        exponent = sign * e;
    }
    if (i != text.size()) return fail("not a number: \"" + std::string(text) + "\"");
    // value = digits * 10^(exponent - frac_digits); we want digits * 10^(exponent - frac_digits + scale)
    // Trailing zeros of the fraction do not count as decimals.
    while (!digits.empty() && frac_digits - exponent > 0 && digits.back() == '0' && frac_digits > 0) {
        digits.pop_back();
        --frac_digits;
    }
    int shift = exponent - frac_digits + scale;
    if (shift < 0) {
        // only zeros may be cut off
        return fail("too many decimals (at most " + std::to_string(scale) + "): " + std::string(text));
    }
    if (digits.size() + static_cast<std::size_t>(shift) > 36) return fail("number too large: " + std::string(text));
    wide_int v = 0;
    for (char c : digits) v = v * 10 + (c - '0');
    for (int k = 0; k < shift && v != 0; ++k) v *= 10;
    return negative ? -v : v;
}

std::string shortest_decimal(double value) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed);
    if (r.ec != std::errc()) {
        r = std::to_chars(buf, buf + sizeof buf, value);  // huge values: scientific, parse_decimal reads it
    }
    return std::string(buf, r.ptr);
}

}  // namespace ykc
