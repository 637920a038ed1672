// Field codecs: exact decimals, CP56Time2a, BCD, ASCII, hex.
#include "support.hpp"
#include "ykc/cp56.hpp"
#include "ykc/decimal.hpp"

using namespace ykc;
using test::json;

namespace {
std::string dec(wide_int units, int scale) {
    std::string s;
    append_decimal(s, units, scale);
    return s;
}
std::optional<wide_int> parse(std::string_view t, int scale) { return parse_decimal(t, scale, nullptr); }
std::string cp56_text(std::string_view hex, int offset = 480) {
    std::string s;
    auto b = test::bytes(hex);
    append_cp56_json(s, b, offset);
    return s;
}
}  // namespace

TEST_CASE("decimal formatting is exact and trims trailing zeros") {
    CHECK(dec(2251, 1) == "225.1");
    CHECK(dec(2250, 1) == "225");
    CHECK(dec(29, 2) == "0.29");
    CHECK(dec(5, 4) == "0.0005");
    CHECK(dec(-505, 1) == "-50.5");
    CHECK(dec(130000, 5) == "1.3");
    CHECK(dec(0, 3) == "0");
    CHECK(dec(static_cast<wide_int>(UINT64_MAX), 0) == "18446744073709551615");
    CHECK(dec(static_cast<wide_int>(UINT64_MAX) * 10, 0) == "184467440737095516150");
}

TEST_CASE("decimal parsing is exact: 0.29 is 29 cents, never 28") {
    CHECK(parse("0.29", 2) == 29);
    CHECK(parse(shortest_decimal(0.29), 2) == 29);
    CHECK(parse(shortest_decimal(1.13), 2) == 113);
    CHECK(parse(shortest_decimal(4.35), 2) == 435);  // 4.35 * 100 = 434.99999999999994 in binary floating point
    CHECK(parse("225.1", 1) == 2251);
    CHECK(parse("225", 1) == 2250);
    CHECK(parse("-400", 1) == -4000);
    CHECK(parse("1e3", 0) == 1000);
    CHECK(parse("1.5E-1", 2) == 15);
    CHECK(parse("0.10", 1) == 1);  // trailing zeros are not extra decimals
    CHECK(parse("+7", 0) == 7);
    std::string err;
    CHECK(!parse_decimal("0.295", 2, &err));
    CHECK(err == "too many decimals (at most 2): 0.295");
    CHECK(!parse_decimal("abc", 2, &err));
    CHECK(err.find("not a number") == 0);
    CHECK(!parse_decimal("1.2.3", 2, &err));
    CHECK(!parse_decimal("", 0, &err));
    CHECK(!parse_decimal("1e999", 0, &err));
}

TEST_CASE("CP56Time2a decode: fields, milliseconds, weekday bits masked, null for zero") {
    CHECK(cp56_text("98B70E11100314") == "\"2020-03-16T17:14:47+08:00\"");
    CHECK(cp56_text("98B70E11B00314") == "\"2020-03-16T17:14:47+08:00\"");  // day byte 0xB0: weekday 5 in the top bits
    CHECK(cp56_text("99B70E11100314") == "\"2020-03-16T17:14:47.001+08:00\"");
    CHECK(cp56_text("98B70E11100314", 0) == "\"2020-03-16T17:14:47Z\"");
    CHECK(cp56_text("98B70E11100314", -330) == "\"2020-03-16T17:14:47-05:30\"");
    CHECK(cp56_text("98B78E91100314") == "\"2020-03-16T17:14:47+08:00\"");  // IV and SU bits masked
    CHECK(cp56_text("00000000000000") == "null");
}

TEST_CASE("CP56Time2a encode: ISO 8601, converted into the configured offset, weekday zero") {
    std::string err;
    auto t = parse_time_cp56("2020-03-16T17:14:47+08:00", 480, &err);
    REQUIRE(t);
    CHECK(to_hex(*t) == "98B70E11100314");
    CHECK(to_hex(*parse_time_cp56("2020-03-16 17:14:47", 480, &err)) == "98B70E11100314");
    CHECK(to_hex(*parse_time_cp56("2020-03-16T09:14:47Z", 480, &err)) == "98B70E11100314");
    CHECK(to_hex(*parse_time_cp56("2020-03-16T04:14:47.000-05:00", 480, &err)) == "98B70E11100314");
    CHECK(to_hex(*parse_time_cp56("2020-03-16T17:14:47.001+08:00", 480, &err)) == "99B70E11100314");
    // across midnight and a month end
    CHECK(to_hex(*parse_time_cp56("2024-02-29T20:00:00Z", 480, &err)) == to_hex(*parse_time_cp56("2024-03-01T04:00:00+08:00", 480, &err)));
    CHECK(!parse_time_cp56("2020-02-30T00:00:00", 480, &err));
    CHECK(err.find("not a valid date") == 0);
    CHECK(!parse_time_cp56("1999-12-31T23:59:59+08:00", 480, &err));
    CHECK(!parse_time_cp56("yesterday", 480, &err));
    CHECK(!parse_time_cp56("2020-03-16T17:14:47+25:00", 480, &err));
}

TEST_CASE("cp56_from_epoch_ms") {
    // 2020-03-16T09:14:47Z
    CHECK(to_hex(cp56_from_epoch_ms(1584350087000LL, 480)) == "98B70E11100314");
}

TEST_CASE("UTC offsets") {
    CHECK(parse_utc_offset("+08:00") == 480);
    CHECK(parse_utc_offset("8") == 480);
    CHECK(parse_utc_offset("-05:30") == -330);
    CHECK(parse_utc_offset("+0530") == 330);
    CHECK(parse_utc_offset("Z") == 0);
    CHECK(!parse_utc_offset("+15:00"));
    CHECK(!parse_utc_offset("eight"));
}

TEST_CASE("BCD: digits as text, nibbles A-F as letters, encoding left-pads") {
    // 0x05 billing_model_verify with model id "0100"
    auto d = test::decode(test::build("0002 00 05 32010200000001 0100"));
    CHECK(d["data"]["model_id"] == "0100");
    // the same frame from a short model id: left-padded with zeros
    CHECK(test::encode_hex(
              {{"type", "billing_model_verify"}, {"seq", "0002"}, {"pile", "32010200000001"}, {"data", {{"model_id", "100"}}}}) ==
          test::build("0002 00 05 32010200000001 0100"));
    auto e = test::decode(test::build("0000 00 05 3201020000ABCD 0C0F"));
    CHECK(e["pile"] == "3201020000ABCD");
    CHECK(e["data"]["model_id"] == "0C0F");
    CHECK(test::encode_hex(e) == test::build("0000 00 05 3201020000ABCD 0C0F"));
}

TEST_CASE("bcd_int: the gun number is BCD - gun 10 is 0x10, a non-BCD byte stays hex") {
    auto d = test::decode(test::build("0000 00 12 32010200000001 10"));
    CHECK(d["data"]["gun"] == 10);
    auto odd = test::decode(test::build("0000 00 12 32010200000001 1A"));
    CHECK(odd["data"]["gun"] == "1A");
    CHECK(test::encode_hex(odd) == test::build("0000 00 12 32010200000001 1A"));
    CHECK(test::encode_hex({{"type", "read_realtime"}, {"pile", "32010200000001"}, {"data", {{"gun", 12}}}}) ==
          test::build("0000 00 12 32010200000001 12"));
}

TEST_CASE("ASCII: padding stripped, control and high bytes escaped and restored") {
    // 0x01 login with program version "V4.1.50\0"
    const std::string body = "32010200000001 00 02 10 56342E312E353000 01 01010101010101010101 04";
    auto d = test::decode(test::build("0000 00 01 " + body));
    CHECK(d["data"]["program_version"] == "V4.1.50");
    // clang-format off
    const std::string odd = "32010200000001 00 02 10 41" "01" "22" "5C" "FF" "20" "0000 01 01010101010101010101 04";
    // clang-format on
    auto o = test::decode(test::build("0000 00 01 " + odd));
    CHECK(o["data"]["program_version"] == std::string("A\x01\"\\\xC3\xBF "));  // U+00FF as UTF-8
    CHECK(test::encode_hex(o) == test::build("0000 00 01 " + odd));
}

TEST_CASE("hex fields keep the bytes as sent - encoding left-pads short card numbers") {
    auto env =
        json{{"type", "balance_update"}, {"pile", "32010200000001"}, {"data", {{"gun", 1}, {"card", "D14B0A54"}, {"balance", 12.34}}}};
    CHECK(test::encode_hex(env) == test::build("0000 00 42 32010200000001 01 00000000D14B0A54 D2040000"));
    auto d = test::decode(test::encode_hex(env));
    CHECK(d["data"]["card"] == "00000000D14B0A54");
    CHECK(d["data"]["balance"].dump() == "12.34");
}

TEST_CASE("uint scaling and offsets: 0.1 A with -400 A offset, temperatures with -50") {
    // 0x23 bms_demand: demand current raw 3500 = 350.0 - 400 = -50 A
    json data = {{"serial", "32010200000001011511161555350260"},
                 {"gun", 1},
                 {"demand_voltage", 750.5},
                 {"demand_current", -50},
                 {"charge_mode", "constant_current"},
                 {"measured_voltage", 748.1},
                 {"measured_current", -49.9},
                 {"cell_max_voltage", 4.12},
                 {"cell_max_group", 3},
                 {"soc", 57},
                 {"remaining_minutes", 42},
                 {"output_voltage", 748},
                 {"output_current", -49.8},
                 {"charging_minutes", 17}};
    const json env = {{"type", "bms_demand"}, {"pile", "32010200000001"}, {"data", data}};
    const std::string hex = test::encode_hex(env);
    CHECK(hex == test::build("0000 00 23 32010200000001011511161555350260 32010200000001 01"
                             " 511D AC0D 02 391D AD0D 9C31 39 2A00 381D AE0D 1100"));
    auto d = test::decode(hex);
    CHECK(d["data"] == data);
}

TEST_CASE("flags: hardware faults as names, unknown bits as numbers") {
    const std::string serial = "00000000000000000000000000000000";
    const std::string head =
        "0000 00 13 " + serial + " 32010200000001 01 01 00 00 0000 0000 00 0000000000000000 00 00 0000 0000 00000000 00000000 00000000 ";
    auto d = test::decode(test::build(head + "0110"));  // bits 0, 12
    CHECK(d["data"]["hardware_faults"] == json({"emergency_stop", "door_open"}));
    auto u = test::decode(test::build(head + "0080"));  // bit 15: not named by the spec
    CHECK(u["data"]["hardware_faults"] == json({15}));
    CHECK(test::encode_hex(u) == test::build(head + "0080"));
}
