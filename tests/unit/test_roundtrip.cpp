// Every message of the catalogue round-trips with non-trivial values: JSON -> frame -> JSON
// gives the same data, and the frame -> JSON -> frame gives the same bytes.
#include <set>

#include "support.hpp"
#include "ykc/catalogue.hpp"
#include "ykc/json_member.hpp"

using namespace ykc;
using test::json;

namespace {

// A non-trivial value for one field, different per seed, within the field's range.
json sample_number(const Field& f, std::uint64_t raw_max, unsigned seed) {
    if (f.enums) {
        const auto& e = f.enums->entries;
        return e[(seed + 1) % e.size()].second;
    }
    std::uint64_t raw = (0x9E3779B97F4A7C15ull * (seed + 1)) % (raw_max < 100000 ? raw_max + 1 : 100000);
    if (raw == 0) raw = 1;
    wide_int units = static_cast<wide_int>(raw) + f.offset;
    if (f.min && units < *f.min) units = *f.min;
    if (f.max && units > *f.max) units = *f.max;
    std::string text;
    append_decimal(text, units, f.scale);
    return json::parse(text);
}

json sample_item(const Field& f, unsigned seed) {
    switch (f.type) {
        case FieldType::bcd: {
            std::string s;
            for (unsigned i = 0; i < 2u * f.size; ++i) s.push_back(static_cast<char>('0' + (seed + i * 7) % 10));
            return s;
        }
        case FieldType::bcd_int: return 1 + seed % 12;
        case FieldType::uint: return sample_number(f, f.size >= 8 ? UINT64_MAX : (std::uint64_t{1} << (8 * f.size)) - 1, seed);
        case FieldType::boolean: return seed % 2 == 0;
        case FieldType::flags: {
            json a = json::array();
            a.push_back(f.enums->entries[seed % f.enums->entries.size()].second);
            a.push_back(f.enums->entries.back().second);
            return a;
        }
        case FieldType::ascii: {
            const std::string vin = "LGAG4PY33S6013235";
            std::string s = f.size == 17 ? vin : ("V" + std::to_string(seed) + ".2-x").substr(0, f.size);
            return s;
        }
        case FieldType::hex: {
            std::string s;
            for (unsigned i = 0; i < f.size; ++i) {
                const unsigned b = (0xD1 + seed * 13 + i * 29) & 0xFF;
                s.push_back(hex_digits_upper[b >> 4]);
                s.push_back(hex_digits_upper[b & 15]);
            }
            return s;
        }
        case FieldType::cp56: return "2024-0" + std::to_string(1 + seed % 9) + "-1" + std::to_string(seed % 10) + "T08:30:15.250+08:00";
        case FieldType::group: {
            json o = json::object();
            unsigned k = 0;
            for (const auto& m : f.fields) o[m.name] = sample_item(m, seed + ++k);
            return o;
        }
        case FieldType::bits: break;
    }
    return nullptr;
}

json sample_data(const Message& m) {
    json data = json::object();
    unsigned seed = m.code;
    for (const auto& f : m.fields) {
        ++seed;
        if (f.name == "pile") continue;  // in the envelope
        if (f.type == FieldType::bits) {
            for (const auto& b : f.fields) {
                if (b.reserved) continue;
                data[b.name] = sample_number(b, (std::uint64_t{1} << b.width) - 1, ++seed);
            }
            continue;
        }
        if (f.reserved) continue;
        if (f.count == Count::one) {
            data[f.name] = sample_item(f, seed);
        } else {
            const std::size_t n = f.count == Count::fixed ? f.count_fixed : 3;
            json a = json::array();
            for (std::size_t i = 0; i < n; ++i) a.push_back(sample_item(f, seed + static_cast<unsigned>(i)));
            data[f.name] = a;
        }
    }
    return data;
}

}  // namespace

TEST_CASE("the catalogue has all 51 frame types of the spec, and V1.7's 0x3D") {
    const std::set<int> expected = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x09, 0x0A, 0x12, 0x13, 0x15, 0x17, 0x19,
                                    0x1B, 0x1D, 0x21, 0x23, 0x25, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x3B, 0x3D,
                                    0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x51, 0x52, 0x55, 0x56,
                                    0x57, 0x58, 0x61, 0x62, 0x63, 0x91, 0x92, 0x93, 0x94, 0xA1, 0xA2, 0xA3, 0xA4};
    std::set<int> have;
    for (const auto& m : Catalogue::builtin()->messages()) {
        have.insert(m.code);
        // odd codes go up, even codes go down (ERRATA: section 4 swaps 0xA3/0xA4)
        CHECK_MESSAGE((m.code % 2 == 1) == (m.direction == Direction::up), m.name);
    }
    CHECK(expected.size() == 52);
    CHECK(have == expected);
}

TEST_CASE("every message round-trips with non-trivial values") {
    for (const auto& m : Catalogue::builtin()->messages()) {
        CAPTURE(m.name);
        const json data = sample_data(m);
        json env = {{"type", m.name}, {"seq", "2A01"}, {"data", data}};
        if (m.pile_offset >= 0) env["pile"] = "32010200000001";
        const auto frame_bytes = test::codec().encode(env);
        const std::string hex = to_hex(frame_bytes);
        CAPTURE(hex);
        // non-trivial: the body is not all zeros
        const auto body = std::span(frame_bytes).subspan(6, frame_bytes.size() - 8);
        CHECK(std::any_of(body.begin(), body.end(), [](std::uint8_t b) { return b != 0; }));
        CHECK(frame_bytes[5] == m.code);
        const json decoded = test::decode(hex);
        CHECK(decoded["type"] == m.name);
        CHECK(decoded["seq"] == "2A01");
        if (m.pile_offset >= 0) CHECK(decoded["pile"] == "32010200000001");
        CHECK_MESSAGE(decoded["data"] == data, (decoded["data"].dump() + "\n    vs " + data.dump()));
        CHECK(test::encode_hex(decoded) == hex);
    }
}

TEST_CASE("transaction_reply has no pile field: the envelope takes it from the serial") {
    const json env = {
        {"type", "transaction_reply"}, {"seq", "0002"}, {"data", {{"serial", "55031412782305012018061910262392"}, {"result", "success"}}}};
    const std::string hex = test::encode_hex(env);
    CHECK(hex == test::build("0002 00 40 55031412782305012018061910262392 00"));
    const json d = test::decode(hex);
    CHECK(d["pile"] == "55031412782305");
    CHECK(test::encode_hex(d) == hex);
}

// The bridge reads the pile, data and gun of realtime and heartbeat frames from the codec's text
// with json_member instead of parsing it: for every message, every member of the envelope and of
// its data object (numbers, strings, arrays, groups) must be what the parsed text holds.
TEST_CASE("json_member: every member of every message's decoded text is the parsed value") {
    const auto check_members = [](std::string_view text, const json& parsed) {
        for (const auto& [key, value] : parsed.items()) {
            CAPTURE(key);
            const std::string_view raw = json_member(text, key);
            REQUIRE(!raw.empty());
            CHECK(json::parse(raw) == value);
        }
        CHECK(json_member(text, "no_such_member").empty());
    };
    for (const auto& m : Catalogue::builtin()->messages()) {
        CAPTURE(m.name);
        json env = {{"type", m.name}, {"seq", "2A01"}, {"data", sample_data(m)}};
        if (m.pile_offset >= 0) env["pile"] = "32010200000001";
        const std::string text = test::codec().decode_text(test::frame(to_hex(test::codec().encode(env))).view());
        const json parsed = json::parse(text);
        check_members(text, parsed);
        check_members(json_member(text, "data"), parsed["data"]);
    }
    for (const auto& r : test::tsv("real-frames.tsv")) {
        CAPTURE(r.hex);
        const std::string text = test::codec().decode_text(test::frame(r.hex).view());
        check_members(text, json::parse(text));
        check_members(json_member(text, "data"), json::parse(text)["data"]);
    }
}

TEST_CASE("json_member: only top-level keys match - strings, escapes, nesting and whitespace are skipped whole") {
    constexpr std::string_view doc =
        R"( { "a" : {"gun":9,"b":[1,{"gun":8}]}, "s":"x\",\"gun\":7}", "t":[ "]", "}" ] ,"gun" : "02" , "n":-1.5e3} )";
    CHECK(json_member(doc, "gun") == R"("02")");
    CHECK(json_member(doc, "a") == R"({"gun":9,"b":[1,{"gun":8}]})");
    CHECK(json_member(doc, "s") == R"("x\",\"gun\":7}")");
    CHECK(json_member(doc, "t") == R"([ "]", "}" ])");
    CHECK(json_member(doc, "n") == "-1.5e3");
    CHECK(json_member(doc, "b").empty());  // nested, not top-level
    CHECK(json_member("{}", "gun").empty());
    CHECK(json_member("[1,2]", "gun").empty());
    CHECK(json_member(R"({"gun":)", "gun").empty());          // truncated
    CHECK(json_member(R"({"gun":"1)", "gun").empty());        // unterminated string
    CHECK(json_member(R"({"a":1 "gun":2})", "gun").empty());  // malformed: no comma
    CHECK(json_plain_string(R"("00624100001201")") == "00624100001201");
    CHECK(json_plain_string(R"("a\"b")").empty());
    CHECK(json_plain_string("12").empty());
    std::string object = "{}";
    append_plain_string_member(object, "ts", "2024-05-01T08:30:00+08:00");
    CHECK(object == R"({"ts":"2024-05-01T08:30:00+08:00"})");
    append_plain_string_member(object, "b", "x");
    CHECK(object == R"({"ts":"2024-05-01T08:30:00+08:00","b":"x"})");
    CHECK(json::parse(object)["b"] == "x");
}
