#include "ykc/decimal.hpp"

#include <charconv>
#include <cmath>
#include <cstring>

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

namespace {
constexpr std::uint64_t pow10_u64[] = {1ull,
                                       10ull,
                                       100ull,
                                       1000ull,
                                       10000ull,
                                       100000ull,
                                       1000000ull,
                                       10000000ull,
                                       100000000ull,
                                       1000000000ull,
                                       10000000000ull,
                                       100000000000ull,
                                       1000000000000ull,
                                       10000000000000ull,
                                       100000000000000ull,
                                       1000000000000000ull,
                                       10000000000000000ull,
                                       100000000000000000ull,
                                       1000000000000000000ull};

// Digits of v, most significant first; 128-bit only when v does not fit 64 bits.
char* write_unsigned(char* p, unsigned __int128 v) {
    if (v <= UINT64_MAX) return std::to_chars(p, p + 24, static_cast<std::uint64_t>(v)).ptr;
    char tmp[48];
    char* t = tmp + sizeof tmp;
    while (v) {
        *--t = static_cast<char>('0' + static_cast<int>(v % 10));
        v /= 10;
    }
    const std::size_t n = static_cast<std::size_t>(tmp + sizeof tmp - t);
    std::memcpy(p, t, n);
    return p + n;
}
}  // namespace

char* format_decimal(char* p, wide_int units, int scale) {
    unsigned __int128 u;
    if (units < 0) {
        *p++ = '-';
        u = static_cast<unsigned __int128>(-(units + 1)) + 1;
    } else {
        u = static_cast<unsigned __int128>(units);
    }
    if (scale <= 0) return write_unsigned(p, u);
    const std::uint64_t div = pow10_u64[scale];
    std::uint64_t frac;
    if (u <= UINT64_MAX) {  // every field of up to 8 bytes: 64-bit arithmetic only
        const std::uint64_t v = static_cast<std::uint64_t>(u);
        frac = v % div;
        p = std::to_chars(p, p + 24, v / div).ptr;
    } else {
        frac = static_cast<std::uint64_t>(u % div);
        p = write_unsigned(p, u / div);
    }
    if (frac == 0) return p;
    int digits = scale;
    while (frac % 10 == 0) {
        frac /= 10;
        --digits;
    }
    *p = '.';
    for (int i = digits; i >= 1; --i) {
        p[i] = static_cast<char>('0' + frac % 10);
        frac /= 10;
    }
    return p + digits + 1;
}

void append_decimal(std::string& out, wide_int units, int scale) {
    char buf[max_decimal_chars];
    out.append(buf, static_cast<std::size_t>(format_decimal(buf, units, scale) - buf));
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
