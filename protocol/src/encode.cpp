// JSON -> frame. Every field is validated against the catalogue; errors name the message and
// the field and say what was wrong.
#include <algorithm>
#include <cmath>

#include "ykc/codec.hpp"
#include "ykc/cp56.hpp"
#include "ykc/hex.hpp"

namespace ykc {

EncodeError::EncodeError(std::string m, std::string f, const std::string& what)
    : std::runtime_error((m.empty() ? std::string() : m + ": ") + (f.empty() ? std::string() : "field " + f + ": ") + what),
      message(std::move(m)),
      field(std::move(f)),
      reason(what) {}

namespace {

using json = nlohmann::json;

std::uint64_t mask_bits(unsigned width) { return width >= 64 ? UINT64_MAX : (std::uint64_t{1} << width) - 1; }

std::string describe(const json& v) {
    std::string s = v.dump();
    if (s.size() > 40) s = s.substr(0, 37) + "...";
    return s;
}

// Where a value sits in `data` ("cards[2].card"); turned into text only for an error.
struct Path {
    const Path* parent = nullptr;  // the group item this field belongs to
    const std::string* name = nullptr;
    long index = -1;  // item of a repeated field

    std::string str() const {
        std::string s = parent ? parent->str() + "." : std::string();
        if (name) s += *name;
        if (index >= 0) s += "[" + std::to_string(index) + "]";
        return s;
    }
};

struct Encoder {
    const Message& m;
    const CodecOptions& opt;
    std::vector<std::uint8_t>& out;

    [[noreturn]] void fail(const Path& path, const std::string& what) const { throw EncodeError(m.name, path.str(), what); }
    [[noreturn]] void fail(const std::string& path, const std::string& what) const { throw EncodeError(m.name, path, what); }

    void put_le(std::uint64_t v, unsigned n) const {
        for (unsigned i = 0; i < n; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }

    // A JSON number or numeric string as units of 10^-scale.
    wide_int decimal(const json& v, int scale, const Path& path) const {
        std::string text;
        if (v.is_number_unsigned()) return static_cast<wide_int>(v.get<std::uint64_t>()) * pow10_i64(scale);
        if (v.is_number_integer()) return static_cast<wide_int>(v.get<std::int64_t>()) * pow10_i64(scale);
        if (v.is_number_float()) {
            const double d = v.get<double>();
            if (!std::isfinite(d)) fail(path, "not a finite number");
            text = shortest_decimal(d);
        } else if (v.is_string()) text = v.get<std::string>();
        else fail(path, "expected a number, got " + std::string(v.type_name()) + " " + describe(v));
        std::string err;
        auto units = parse_decimal(text, scale, &err);
        if (!units) fail(path, err);
        return *units;
    }

    std::string range_text(const Field& f, std::uint64_t raw_max) const {
        std::string lo, hi;
        append_decimal(lo, f.min ? *f.min : f.offset, f.scale);
        append_decimal(hi, f.max ? *f.max : static_cast<wide_int>(raw_max) + f.offset, f.scale);
        return lo + " … " + hi + (f.unit.empty() ? "" : " " + f.unit);
    }

    // Raw integer for a uint-like field (uint, bits member): enum name/code or scaled number.
    std::uint64_t raw_number(const Field& f, const json& v, std::uint64_t raw_max, const Path& path) const {
        if (f.enums) {
            if (v.is_string()) {
                if (auto code = f.enums->code_of(v.get<std::string>())) return *code;
                std::string names;
                for (const auto& [c, n] : f.enums->entries) names += (names.empty() ? "" : ", ") + n;
                fail(path, "unknown name \"" + v.get<std::string>() + "\" (one of: " + names + ")");
            }
            if (!v.is_number_integer()) fail(path, "expected a name or a code, got " + describe(v));
            if (v.is_number_unsigned() ? v.get<std::uint64_t>() > raw_max
                                       : (v.get<std::int64_t>() < 0 || static_cast<std::uint64_t>(v.get<std::int64_t>()) > raw_max))
                fail(path, "code out of range (0 … " + std::to_string(raw_max) + "): " + describe(v));
            return v.get<std::uint64_t>();
        }
        if (v.is_null() && f.null_if) return *f.null_if;  // "not applicable"
        const wide_int units = decimal(v, f.scale, path);
        if ((f.min && units < *f.min) || (f.max && units > *f.max))
            fail(path, "out of range (" + range_text(f, raw_max) + "): " + describe(v));
        const wide_int raw = units - f.offset;
        if (raw < 0 || raw > static_cast<wide_int>(raw_max)) fail(path, "out of range (" + range_text(f, raw_max) + "): " + describe(v));
        if (f.null_if && raw == static_cast<wide_int>(*f.null_if))  // it would read back as null
            fail(path, describe(v) + " is sent as " + std::to_string(*f.null_if) + ", which means \"not applicable\" (null)");
        return static_cast<std::uint64_t>(raw);
    }

    // Hex-digit text (BCD or raw bytes), left-padded with '0' to n bytes.
    void digits(const std::string& s, unsigned n, const Path& path, const char* what) const {
        if (s.size() > 2u * n)
            fail(path, std::string("too long: at most ") + std::to_string(2 * n) + " " + what + ", got " + std::to_string(s.size()));
        for (char c : s)
            if (hex_digit_value(c) < 0) fail(path, std::string("not ") + what + ": \"" + s + "\"");
        const std::string padded = std::string(2u * n - s.size(), '0') + s;
        for (unsigned i = 0; i < n; ++i)
            out.push_back(static_cast<std::uint8_t>(hex_digit_value(padded[2 * i]) << 4 | hex_digit_value(padded[2 * i + 1])));
    }

    void ascii(const Field& f, const json& v, const Path& path) const {
        if (!v.is_string()) fail(path, "expected a string, got " + describe(v));
        const std::string& s = v.get_ref<const std::string&>();
        std::vector<std::uint8_t> bytes;
        for (std::size_t i = 0; i < s.size();) {  // UTF-8 -> code points <= 0xFF
            const auto c = static_cast<std::uint8_t>(s[i]);
            if (c < 0x80) {
                bytes.push_back(c);
                ++i;
            } else if ((c & 0xE0) == 0xC0 && i + 1 < s.size() && c <= 0xC3) {
                bytes.push_back(static_cast<std::uint8_t>((c & 0x1F) << 6 | (static_cast<std::uint8_t>(s[i + 1]) & 0x3F)));
                i += 2;
            } else {
                fail(path, "not ASCII (only characters up to U+00FF fit a byte): \"" + s + "\"");
            }
        }
        if (bytes.size() > f.size)
            fail(path, "too long: at most " + std::to_string(f.size) + " characters, got " + std::to_string(bytes.size()));
        bytes.resize(f.size, static_cast<std::uint8_t>(f.pad));
        if (f.reverse) out.insert(out.end(), bytes.rbegin(), bytes.rend());
        else out.insert(out.end(), bytes.begin(), bytes.end());
    }

    // One item of field f from v.
    void value(const Field& f, const json& v, const Path& path) const {
        switch (f.type) {
            case FieldType::bcd:
                if (v.is_number_unsigned()) return digits(std::to_string(v.get<std::uint64_t>()), f.size, path, "digits");
                if (!v.is_string()) fail(path, "expected a string of digits, got " + describe(v));
                return digits(v.get<std::string>(), f.size, path, "digits");
            case FieldType::bcd_int: {
                if (v.is_string()) {  // a non-BCD value as decode shows it
                    const std::string& s = v.get_ref<const std::string&>();
                    if (s.size() != 2u * f.size)
                        fail(path, "expected a number or " + std::to_string(2 * f.size) + " hex digits, got " + describe(v));
                    return digits(s, f.size, path, "hex digits");
                }
                if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0))
                    fail(path, "expected a non-negative integer, got " + describe(v));
                const std::string s = std::to_string(v.get<std::uint64_t>());
                if (s.size() > 2u * f.size) fail(path, "out of range (0 … " + std::string(2 * f.size, '9') + "): " + s);
                return digits(s, f.size, path, "digits");
            }
            case FieldType::uint: return put_le(raw_number(f, v, mask_bits(8u * f.size), path), f.size);
            case FieldType::boolean:
                if (v.is_boolean()) return out.push_back(v.get<bool>() ? 1 : 0);
                if (v.is_number_integer() && v.get<std::int64_t>() >= 0 && v.get<std::int64_t>() <= 255)
                    return out.push_back(static_cast<std::uint8_t>(v.get<std::int64_t>()));
                fail(path, "expected true or false, got " + describe(v));
            case FieldType::flags: {
                std::uint64_t bits = 0;
                const unsigned nbits = 8u * f.size;
                if (v.is_number_unsigned()) {
                    bits = v.get<std::uint64_t>();
                    if (bits > mask_bits(nbits)) fail(path, "out of range: " + describe(v));
                } else if (v.is_array()) {
                    for (const auto& item : v) {
                        if (item.is_string()) {
                            auto bit = f.enums->code_of(item.get<std::string>());
                            if (!bit) fail(path, "unknown flag \"" + item.get<std::string>() + "\"");
                            bits |= std::uint64_t{1} << *bit;
                        } else if (item.is_number_unsigned() && item.get<std::uint64_t>() < nbits) {
                            bits |= std::uint64_t{1} << item.get<std::uint64_t>();
                        } else {
                            fail(path, "expected flag names or bit numbers, got " + describe(item));
                        }
                    }
                } else {
                    fail(path, "expected an array of flag names, got " + describe(v));
                }
                return put_le(bits, f.size);
            }
            case FieldType::ascii: return ascii(f, v, path);
            case FieldType::hex:
                if (!v.is_string()) fail(path, "expected a string of hex digits, got " + describe(v));
                return digits(v.get<std::string>(), f.size, path, "hex digits");
            case FieldType::cp56: {
                if (v.is_null()) return out.insert(out.end(), 7, 0), void();
                if (!v.is_string()) fail(path, "expected a time like \"2024-05-01T08:30:00+08:00\", got " + describe(v));
                std::string err;
                auto t = parse_time_cp56(v.get<std::string>(), opt.utc_offset_minutes, &err);
                if (!t) fail(path, err);
                out.insert(out.end(), t->begin(), t->end());
                return;
            }
            case FieldType::group:
                if (!v.is_object()) fail(path, "expected an object, got " + describe(v));
                check_unknown(f.fields, v, &path);
                return fields(f.fields, v, &path, "");
            case FieldType::bits: break;
        }
    }

    static bool known(const std::vector<Field>& fs, const std::string& k) {
        for (const auto& f : fs) {
            if (f.name == k && f.type != FieldType::bits) return true;
            if (f.type == FieldType::bits)
                for (const auto& b : f.fields)
                    if (b.name == k) return true;
        }
        return false;
    }

    void check_unknown(const std::vector<Field>& fs, const json& obj, const Path* parent) const {
        for (const auto& [k, _] : obj.items()) {
            const bool ok = parent ? known(fs, k) : std::binary_search(m.keys.begin(), m.keys.end(), k);
            if (!ok) fail((parent ? parent->str() + "." : std::string()) + k, "unknown field");
        }
    }

    const json* lookup(const json& obj, const std::string& k) const {
        auto it = obj.find(k);
        return it == obj.end() ? nullptr : &*it;
    }

    // The layout that has every field `data` gives and is given every field of its own (0x3B with
    // the deep_valley_* fields: the 174-byte one; without: the standard one), whatever their order
    // in the catalogue; else the first that has every field given (encoding then names what is
    // missing); 0 for a message with one layout.
    std::size_t layout(const json& data) const {
        std::optional<std::size_t> fits_given;
        for (std::size_t i = 0; i < m.layouts.size(); ++i) {
            bool fits = true, complete = true;
            for (const auto& f : m.fields) {
                if (!f.in_layout(i) && data.contains(f.name)) fits = false;
                if (f.layouts && f.in_layout(i) && !data.contains(f.name) && !f.default_value && !f.reserved) complete = false;
            }
            if (fits && complete) return i;
            if (fits && !fits_given) fits_given = i;
        }
        if (fits_given) return *fits_given;
        if (m.layouts.empty()) return 0;
        std::string names;
        for (const auto& l : m.layouts) names += (names.empty() ? "" : ", ") + l.name;
        fail("", "the fields given belong to no single layout (" + names + ")");
    }

    void fields(const std::vector<Field>& fs, const json& obj, const Path* parent, std::string_view pile, std::size_t layout = 0) const {
        for (const Field& f : fs) {
            if (!parent && !f.in_layout(layout)) continue;
            const Path path{parent, &f.name};
            if (f.type == FieldType::bits) {
                std::uint64_t raw = 0;
                for (const Field& b : f.fields) {
                    const json* v = lookup(obj, b.name);
                    const Path member{parent, &b.name};
                    if (!v) {
                        if (b.reserved) continue;
                        fail(member, "missing");
                    }
                    raw |= raw_number(b, *v, mask_bits(b.width), member) << b.shift;
                }
                put_le(raw, f.size);
                continue;
            }
            const json* v = lookup(obj, f.name);
            json pile_value, default_value;
            if (!v && !parent && f.name == "pile" && !pile.empty()) {
                pile_value = std::string(pile);
                v = &pile_value;
            }
            if (!v && f.default_value) {
                default_value = *f.default_value;
                v = &default_value;
            }
            if (!v) {
                if (f.reserved) {
                    const std::size_t n = f.count == Count::fixed ? f.size * f.count_fixed : f.size;
                    out.insert(out.end(), n, 0);
                    continue;
                }
                fail(path, "missing");
            }
            if (f.count == Count::one) {
                value(f, *v, path);
                continue;
            }
            if (!v->is_array()) fail(path, "expected an array, got " + describe(*v));
            const std::size_t n = v->size();
            if (f.count == Count::fixed && n != f.count_fixed)
                fail(path, "expected exactly " + std::to_string(f.count_fixed) + " items, got " + std::to_string(n));
            const std::size_t limit = f.max_items ? f.max_items : (f.count == Count::byte ? 255 : SIZE_MAX);
            if (n > limit) fail(path, "too many items: at most " + std::to_string(limit) + ", got " + std::to_string(n));
            if (f.count == Count::byte) out.push_back(static_cast<std::uint8_t>(n));
            for (std::size_t i = 0; i < n; ++i) value(f, (*v)[i], Path{parent, &f.name, static_cast<long>(i)});
        }
    }
};

std::uint8_t envelope_code(const Catalogue& cat, const json& env, const Message*& m) {
    m = nullptr;
    if (auto t = env.find("type"); t != env.end()) {
        if (!t->is_string()) throw EncodeError("", "type", "expected a message name, got " + describe(*t));
        m = cat.find(t->get<std::string>());
        if (!m) throw EncodeError("", "type", "unknown message \"" + t->get<std::string>() + "\"");
    }
    if (auto c = env.find("code"); c != env.end()) {
        std::uint64_t code = 256;
        if (c->is_number_unsigned()) code = c->get<std::uint64_t>();
        else if (c->is_string()) {
            const std::string s = c->get<std::string>();
            auto bytes = (s.size() == 4 && (s[1] == 'x' || s[1] == 'X')) ? from_hex(s.substr(2)) : std::nullopt;
            if (bytes && bytes->size() == 1) code = (*bytes)[0];
        }
        if (code > 255) throw EncodeError("", "code", "expected a frame type like \"0x13\", got " + describe(*c));
        const Message* by_code = cat.find(static_cast<std::uint8_t>(code));
        if (!by_code) throw EncodeError("", "code", "unknown frame type " + describe(*c));
        if (m && m != by_code) throw EncodeError("", "code", "code " + describe(*c) + " is not the code of " + m->name);
        m = by_code;
    }
    if (!m) throw EncodeError("", "type", "missing (a message name, or code)");
    return m->code;
}

}  // namespace

std::vector<std::uint8_t> Codec::encode_body(const Message& m, const json& data, std::string_view pile) const {
    std::vector<std::uint8_t> body;
    body.reserve(m.fixed_size + 16);
    Encoder enc{m, options_, body};
    if (!data.is_object()) enc.fail("", "data must be an object, got " + describe(data));
    enc.check_unknown(m.fields, data, nullptr);
    if (auto p = data.find("pile"); p != data.end() && !pile.empty() && !(p->is_string() && p->get<std::string>() == pile))
        enc.fail("pile", "differs from the envelope's pile " + std::string(pile));
    enc.fields(m.fields, data, nullptr, pile, enc.layout(data));
    if (auto extra = data.find("extra"); extra != data.end()) {
        if (!extra->is_string()) enc.fail("extra", "expected hex, got " + describe(*extra));
        auto bytes = from_hex(extra->get<std::string>());
        if (!bytes) enc.fail("extra", "not hex: " + describe(*extra));
        body.insert(body.end(), bytes->begin(), bytes->end());
    }
    if (body.size() > max_body_size)
        enc.fail("",
                 "body of " + std::to_string(body.size()) + " bytes does not fit a frame (at most " + std::to_string(max_body_size) + ")");
    return body;
}

std::vector<std::uint8_t> Codec::encode(const json& env) const {
    if (!env.is_object()) throw EncodeError("", "", "expected a JSON object, got " + describe(env));
    const Message* m = nullptr;
    envelope_code(*catalogue_, env, m);
    for (const auto& [k, _] : env.items())
        // ts, raw, check and reasons: what the bridge adds to what it publishes
        if (k != "type" && k != "code" && k != "pile" && k != "seq" && k != "data" && k != "crc_order" && k != "ts" && k != "raw" &&
            k != "check" && k != "reasons")
            throw EncodeError(m->name, k, "unknown envelope key");
    Seq seq{0, 0};
    if (auto s = env.find("seq"); s != env.end()) {
        if (s->is_string()) {
            auto bytes = from_hex(s->get<std::string>());
            if (!bytes || bytes->size() != 2)
                throw EncodeError(m->name, "seq", "expected 4 hex digits (the two bytes as sent), got " + describe(*s));
            seq = {(*bytes)[0], (*bytes)[1]};
        } else if (s->is_number_unsigned() && s->get<std::uint64_t>() <= 0xFFFF) {
            const auto v = s->get<std::uint64_t>();
            seq = {static_cast<std::uint8_t>(v & 0xFF), static_cast<std::uint8_t>(v >> 8)};
        } else {
            throw EncodeError(m->name, "seq", "expected 4 hex digits or 0 … 65535, got " + describe(*s));
        }
    }
    CrcOrder order = CrcOrder::low_first;
    if (auto c = env.find("crc_order"); c != env.end()) {
        if (*c == "high_first") order = CrcOrder::high_first;
        else if (*c != "low_first") throw EncodeError(m->name, "crc_order", "expected low_first or high_first, got " + describe(*c));
    }
    std::string pile;
    if (auto p = env.find("pile"); p != env.end() && !p->is_null()) {
        if (!p->is_string()) throw EncodeError(m->name, "pile", "expected a string of 14 digits, got " + describe(*p));
        pile = p->get<std::string>();
    }
    auto d = env.find("data");
    const json empty = json::object();
    const auto body = encode_body(*m, d == env.end() ? empty : *d, pile);
    return write_frame(m->code, seq, 0x00, body, order);
}

}  // namespace ykc
