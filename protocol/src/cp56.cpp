#include "ykc/cp56.hpp"

#include <cstdio>
#include <cstring>
#include <string>

namespace ykc {
namespace {

// Howard Hinnant's civil-date algorithms.
std::int64_t days_from_civil(int y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, int& y, unsigned& m, unsigned& d) {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int yy = static_cast<int>(yoe) + static_cast<int>(era) * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y = yy + (m <= 2);
}

unsigned days_in_month(int y, unsigned m) {
    static const unsigned dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return dim[m - 1];
}

void put2(char* p, unsigned v) {
    p[0] = static_cast<char>('0' + v / 10 % 10);
    p[1] = static_cast<char>('0' + v % 10);
}

char* write_offset(char* out, int minutes) {
    if (minutes == 0) {
        *out++ = 'Z';
        return out;
    }
    char buf[6];
    buf[0] = minutes < 0 ? '-' : '+';
    const unsigned a = static_cast<unsigned>(minutes < 0 ? -minutes : minutes);
    put2(buf + 1, a / 60);
    buf[3] = ':';
    put2(buf + 4, a % 60);
    std::memcpy(out, buf, 6);
    return out + 6;
}

Cp56 make_cp56(int year, unsigned month, unsigned day, unsigned hour, unsigned minute, unsigned ms) {
    return {static_cast<std::uint8_t>(ms & 0xFF),  static_cast<std::uint8_t>(ms >> 8), static_cast<std::uint8_t>(minute),
            static_cast<std::uint8_t>(hour),       static_cast<std::uint8_t>(day),     static_cast<std::uint8_t>(month),
            static_cast<std::uint8_t>(year - 2000)};
}

// Reads exactly n digits at text[i].
bool digits(std::string_view text, std::size_t& i, int n, unsigned& value) {
    value = 0;
    for (int k = 0; k < n; ++k, ++i) {
        if (i >= text.size() || text[i] < '0' || text[i] > '9') return false;
        value = value * 10 + static_cast<unsigned>(text[i] - '0');
    }
    return true;
}

}  // namespace

std::string cp56_invalid(std::span<const std::uint8_t> b) {
    if ((b[0] | b[1] | b[2] | b[3] | b[4] | b[5] | b[6]) == 0) return {};
    const unsigned ms = static_cast<unsigned>(b[0] | b[1] << 8);
    const unsigned minute = b[2] & 0x3F, hour = b[3] & 0x1F, day = b[4] & 0x1F, month = b[5] & 0x0F;
    const int year = 2000 + (b[6] & 0x7F);
    if (month < 1 || month > 12) return "month " + std::to_string(month) + " (1 … 12)";
    if (day < 1 || day > days_in_month(year, month))
        return "day " + std::to_string(day) + " of " + std::to_string(year) + "-" + (month < 10 ? "0" : "") + std::to_string(month) +
               " (1 … " + std::to_string(days_in_month(year, month)) + ")";
    if (hour > 23) return "hour " + std::to_string(hour) + " (0 … 23)";
    if (minute > 59) return "minute " + std::to_string(minute) + " (0 … 59)";
    if (ms > 59999) return "milliseconds " + std::to_string(ms) + " (0 … 59999)";
    return {};
}

char* format_cp56_json(char* out, std::span<const std::uint8_t> b, int utc_offset_minutes) {
    if ((b[0] | b[1] | b[2] | b[3] | b[4] | b[5] | b[6]) == 0) {
        std::memcpy(out, "null", 4);
        return out + 4;
    }
    const unsigned ms = static_cast<unsigned>(b[0] | b[1] << 8);
    const unsigned minute = b[2] & 0x3F, hour = b[3] & 0x1F, day = b[4] & 0x1F, month = b[5] & 0x0F;
    const unsigned year = 2000 + (b[6] & 0x7F);
    char buf[32];
    char* p = buf;
    *p++ = '"';
    put2(p, year / 100);
    put2(p + 2, year % 100);
    p[4] = '-';
    put2(p + 5, month);
    p[7] = '-';
    put2(p + 8, day);
    p[10] = 'T';
    put2(p + 11, hour);
    p[13] = ':';
    put2(p + 14, minute);
    p[16] = ':';
    put2(p + 17, ms / 1000);
    p += 19;
    if (ms % 1000) {
        *p++ = '.';
        const unsigned f = ms % 1000;
        *p++ = static_cast<char>('0' + f / 100);
        *p++ = static_cast<char>('0' + f / 10 % 10);
        *p++ = static_cast<char>('0' + f % 10);
    }
    std::memcpy(out, buf, static_cast<std::size_t>(p - buf));
    out += p - buf;
    out = write_offset(out, utc_offset_minutes);
    *out++ = '"';
    return out;
}

void append_cp56_json(std::string& out, std::span<const std::uint8_t> b, int utc_offset_minutes) {
    char buf[max_cp56_json_chars];
    out.append(buf, static_cast<std::size_t>(format_cp56_json(buf, b, utc_offset_minutes) - buf));
}

std::optional<int> parse_utc_offset(std::string_view t) {
    if (t == "Z" || t == "z") return 0;
    std::size_t i = 0;
    int sign = 1;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) sign = t[i++] == '-' ? -1 : 1;
    unsigned h = 0, m = 0;
    std::size_t start = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9' && i - start < 2) h = h * 10 + static_cast<unsigned>(t[i++] - '0');
    if (i == start) return std::nullopt;
    if (i < t.size() && t[i] == ':') ++i;
    if (i < t.size()) {
        if (!digits(t, i, 2, m) || m >= 60) return std::nullopt;
    }
    if (i != t.size()) return std::nullopt;
    const int total = sign * static_cast<int>(h * 60 + m);
    if (total < -14 * 60 || total > 14 * 60) return std::nullopt;
    return total;
}

std::optional<Cp56> parse_time_cp56(std::string_view t, int utc_offset_minutes, std::string* error) {
    auto fail = [&](const char* why) -> std::optional<Cp56> {
        if (error) *error = std::string(why) + ": \"" + std::string(t) + "\" (expected e.g. 2024-05-01T08:30:00+08:00)";
        return std::nullopt;
    };
    std::size_t i = 0;
    unsigned year, month, day, hour, minute, second = 0, millis = 0;
    if (!digits(t, i, 4, year) || i >= t.size() || t[i++] != '-' || !digits(t, i, 2, month) || i >= t.size() || t[i++] != '-' ||
        !digits(t, i, 2, day))
        return fail("not a date");
    if (i >= t.size() || (t[i] != 'T' && t[i] != ' ' && t[i] != 't')) return fail("no time");
    ++i;
    if (!digits(t, i, 2, hour) || i >= t.size() || t[i++] != ':' || !digits(t, i, 2, minute)) return fail("not a time");
    if (i < t.size() && t[i] == ':') {
        ++i;
        if (!digits(t, i, 2, second)) return fail("not a time");
        if (i < t.size() && t[i] == '.') {
            ++i;
            int n = 0;
            for (; i < t.size() && t[i] >= '0' && t[i] <= '9'; ++i, ++n) {
                if (n < 3) millis = millis * 10 + static_cast<unsigned>(t[i] - '0');
                else if (t[i] != '0') return fail("sub-millisecond precision");
            }
            if (n == 0) return fail("not a time");
            for (; n < 3; ++n) millis *= 10;
        }
    }
    int offset = utc_offset_minutes;
    if (i < t.size()) {
        auto o = parse_utc_offset(t.substr(i));
        if (!o) return fail("bad UTC offset");
        offset = *o;
    }
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(static_cast<int>(year), month) || hour > 23 || minute > 59 || second > 59)
        return fail("not a valid date and time");
    if (offset != utc_offset_minutes) {
        const std::int64_t epoch_ms =
            ((days_from_civil(static_cast<int>(year), month, day) * 24 + hour) * 60 + minute - offset) * 60000LL + second * 1000LL + millis;
        const std::int64_t local_days = (epoch_ms + utc_offset_minutes * 60000LL) / 86400000;
        int y;
        unsigned m, d;
        civil_from_days(local_days, y, m, d);
        if (y < 2000 || y > 2127) return fail("year outside 2000…2127");
        return cp56_from_epoch_ms(epoch_ms, utc_offset_minutes);
    }
    if (year < 2000 || year > 2127) return fail("year outside 2000…2127");
    return make_cp56(static_cast<int>(year), month, day, hour, minute, second * 1000 + millis);
}

Cp56 cp56_from_epoch_ms(std::int64_t epoch_ms, int utc_offset_minutes) {
    const std::int64_t local_ms = epoch_ms + utc_offset_minutes * 60000LL;
    std::int64_t days = local_ms / 86400000;
    std::int64_t rem = local_ms % 86400000;
    if (rem < 0) {
        rem += 86400000;
        --days;
    }
    int y;
    unsigned m, d;
    civil_from_days(days, y, m, d);
    const unsigned hour = static_cast<unsigned>(rem / 3600000), minute = static_cast<unsigned>(rem / 60000 % 60);
    const unsigned ms = static_cast<unsigned>(rem % 60000);
    if (y < 2000 || y > 2127) y = y < 2000 ? 2000 : 2127;  // CP56 cannot say more
    return make_cp56(y, m, d, hour, minute, ms);
}

}  // namespace ykc
