// Frames captured from real chargers and live platforms (tests/fixtures/real-frames.tsv).
//
// Every expected value below was worked out by hand from the raw bytes and the spec's field
// tables (little-endian BIN, BCD digits, "精确到小数点后四位" = 4 decimals, CP56Time2a with
// ms LE16 / minute & 0x3F / hour & 0x1F / day & 0x1F / month & 0x0F / year + 2000, China time)
// and from the capture notes — not copied from the decoder. The derivation is next to each value.
#include <algorithm>
#include <cctype>
#include <map>

#include "support.hpp"

using test::json;

namespace {

std::string upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return s;
}

// The fixture row carrying exactly this frame (so every literal below is tied to the file).
test::TsvRow real_row(const std::string& hex) {
    for (const auto& r : test::tsv("real-frames.tsv"))
        if (upper(r.hex) == upper(hex)) return r;
    FAIL("frame not in real-frames.tsv: " << hex);
    return {};
}

// Message names of the catalogue (mappings/ykc-v1.6.yaml) for the codes that occur in the captures.
const std::map<std::string, std::string> names = {
    {"0x01", "login"},           {"0x02", "login_reply"},           {"0x03", "heartbeat"},
    {"0x04", "heartbeat_reply"}, {"0x09", "billing_model_request"}, {"0x0A", "billing_model"},
    {"0x32", "card_auth_reply"}, {"0x3B", "transaction"},
};

}  // namespace

TEST_CASE("real captures: every frame decodes, has its row's type and round-trips byte for byte") {
    const auto rows = test::tsv("real-frames.tsv");
    REQUIRE(rows.size() == 35);
    for (const auto& row : rows) {
        CAPTURE(row.hex);
        CAPTURE(row.source);
        const auto bytes = test::bytes(row.hex);
        // Framing: 0x68, length = 4 + body, CRC-16/MODBUS low byte first (the file's header says so).
        REQUIRE(bytes.size() >= 8);
        CHECK(bytes[0] == 0x68);
        CHECK(std::size_t{bytes[1]} + 4 == bytes.size());
        const auto f = test::frame(row.hex);
        CHECK(f.crc_order == ykc::CrcOrder::low_first);
        CHECK(ykc::check_crc(bytes) == ykc::CrcOrder::low_first);

        const json d = test::decode(row.hex);
        CHECK(d["code"] == row.type);
        REQUIRE(names.count(row.type) == 1);
        CHECK(d["type"] == names.at(row.type));
        // The two sequence bytes exactly as on the wire (hex digits 4..7 of the frame).
        CHECK(d["seq"] == upper(row.hex.substr(4, 4)));
        CHECK_FALSE(d.contains("crc_order"));
        CHECK(d["data"].is_object());
        CHECK_FALSE(d["data"].contains("pile"));   // the pile is in the envelope only
        CHECK_FALSE(d["data"].contains("extra"));  // every capture has exactly the catalogue's layout

        if (row.note.find("weekday") == std::string::npos) CHECK(test::encode_hex(d) == upper(row.hex));
        else CHECK(test::decode(test::encode_hex(d)) == d);  // the weekday bits are all that differs
    }
}

TEST_CASE("real captures: login 0x01 of pile 10001001000001 (program 1.10.23, protocol 1.5)") {
    // 68 22 | seq | 00 01 | 10 00 10 01 00 00 01 (pile) | 01 (AC) | 01 (1 gun) | 0F (1.5)
    // | 31 2E 31 30 2E 32 33 00 ("1.10.23") | 01 (LAN) | 00 x10 (no SIM) | 04 (other) | CRC
    // The log's sequence numbers count in byte[3]: 0000 … 0006, and 00E8 in the unit test input.
    const std::map<std::string, std::string> seq_of = {
        {"6822000000011000100100000101010F312E31302E323300010000000000000000000004D1AA", "0000"},
        {"6822000100011000100100000101010F312E31302E323300010000000000000000000004BC6A", "0001"},
        {"6822000200011000100100000101010F312E31302E323300010000000000000000000004086A", "0002"},
        {"6822000300011000100100000101010F312E31302E32330001000000000000000000000465AA", "0003"},
        {"6822000400011000100100000101010F312E31302E323300010000000000000000000004606B", "0004"},
        {"6822000500011000100100000101010F312E31302E3233000100000000000000000000040DAB", "0005"},
        {"6822000600011000100100000101010F312E31302E323300010000000000000000000004B9AB", "0006"},
        {"682200E800011000100100000101010F312E31302E3233000100000000000000000000043189", "00E8"},
    };
    std::size_t logins = 0;
    for (const auto& row : test::tsv("real-frames.tsv"))
        if (row.type == "0x01") ++logins;
    CHECK(logins == seq_of.size());

    for (const auto& [hex, seq] : seq_of) {
        CAPTURE(hex);
        const auto row = real_row(hex);
        CHECK(row.type == "0x01");
        CHECK(row.note.find("10001001000001") != std::string::npos);
        const json d = test::decode(hex);
        CHECK(d["type"] == "login");
        CHECK(d["code"] == "0x01");
        CHECK(d["pile"] == "10001001000001");
        CHECK(d["seq"] == seq);
        const json& x = d["data"];
        CHECK(x["pile_type"] == "ac");                 // 0x01: 1 = AC pile
        CHECK(x["gun_count"].dump() == "1");           // 0x01
        CHECK(x["protocol_version"].dump() == "1.5");  // 0x0F = 15 = version x 10
        CHECK(x["program_version"] == "1.10.23");      // ASCII, nul padded
        CHECK(x["network"] == "lan");                  // 0x01
        CHECK(x["sim"] == "00000000000000000000");     // 10 zero BCD bytes = 20 digits
        CHECK(x["carrier"] == "other");                // 0x04
        CHECK(x.size() == 7);
    }
}

TEST_CASE("real captures: billing model request 0x09") {
    SUBCASE("pile 10001001000001, sequence counting in byte[3]") {
        // 68 0B | seq | 00 09 | 10 00 10 01 00 00 01 | CRC
        const std::map<std::string, std::string> seq_of = {
            {"680B02270009100010010000016DB8", "0227"}, {"680B02280009100010010000015D88", "0228"},
            {"680B02290009100010010000010C4D", "0229"}, {"680B0BB20009100010010000015549", "0BB2"},
            {"680B0BB3000910001001000001048C", "0BB3"}, {"680B0BB4000910001001000001B556", "0BB4"},
            {"680B0BB5000910001001000001E493", "0BB5"}, {"680B0BB6000910001001000001149C", "0BB6"},
            {"680B0BB70009100010010000014559", "0BB7"}, {"680B0BB80009100010010000017569", "0BB8"},
        };
        for (const auto& [hex, seq] : seq_of) {
            CAPTURE(hex);
            CHECK(real_row(hex).type == "0x09");
            const json d = test::decode(hex);
            CHECK(d["type"] == "billing_model_request");
            CHECK(d["pile"] == "10001001000001");
            CHECK(d["seq"] == seq);
            CHECK(d["data"] == json::object());  // the pile is the whole body
        }
    }
    SUBCASE("pile 00624100001201, sequence sent little-endian") {
        const std::string hex = "680B0200000900624100001201341B";  // seq 02 00
        CHECK(real_row(hex).type == "0x09");
        const json d = test::decode(hex);
        CHECK(d["pile"] == "00624100001201");  // leading zero digits kept
        CHECK(d["seq"] == "0200");
        CHECK(d["data"] == json::object());
    }
}

TEST_CASE("real captures: pile 00624100001201 login reply, heartbeat and its reply") {
    SUBCASE("0x02 login reply: success") {
        // 68 0C | 00 00 | 00 02 | 00 62 41 00 00 12 01 | 00 (0x00 = 登陆成功) | 90 20
        const std::string hex = "680C0000000200624100001201009020";
        CHECK(real_row(hex).type == "0x02");
        const json d = test::decode(hex);
        CHECK(d["type"] == "login_reply");
        CHECK(d["pile"] == "00624100001201");
        CHECK(d["seq"] == "0000");
        CHECK(d["data"] == json{{"result", "success"}});
    }
    SUBCASE("0x03 heartbeat: gun 1, normal") {
        // 68 0D | 03 00 | 00 03 | 00 62 41 00 00 12 01 | 01 (gun, BCD) | 00 (正常) | 75 FA
        const std::string hex = "680D0300000300624100001201010075FA";
        CHECK(real_row(hex).type == "0x03");
        const json d = test::decode(hex);
        CHECK(d["type"] == "heartbeat");
        CHECK(d["pile"] == "00624100001201");
        CHECK(d["seq"] == "0300");
        CHECK(d["data"]["gun"].dump() == "1");
        CHECK(d["data"]["gun_status"] == "normal");
        CHECK(d["data"].size() == 2);
    }
    SUBCASE("0x04 heartbeat reply: gun 1, ack 0") {
        // 68 0D | 00 03 | 00 04 | 00 62 41 00 00 12 01 | 01 | 00 | C5 E7
        const std::string hex = "680D00030004006241000012010100C5E7";
        CHECK(real_row(hex).type == "0x04");
        const json d = test::decode(hex);
        CHECK(d["type"] == "heartbeat_reply");
        CHECK(d["pile"] == "00624100001201");
        CHECK(d["seq"] == "0003");
        CHECK(d["data"]["gun"].dump() == "1");
        CHECK(d["data"]["ack"].dump() == "0");
        CHECK(d["data"].size() == 2);
    }
}

TEST_CASE("real captures: billing model 0x0A of pile 00624100001201") {
    // 68 5E | 00 02 | 00 0A | 00 62 41 00 00 12 01 | F0 02 (model, BCD with an F nibble)
    // | 8 x E8 03 00 00 (0x3E8 = 1000 -> 0.01000 yuan/kWh, 5 decimals) | 00 (loss ratio)
    // | 14 x 00 (sharp) 20 x 01 (peak) 10 x 02 (flat) 4 x 03 (valley) | BF 08
    const std::string hex =
        "685E0002000A00624100001201F002E8030000E8030000E8030000E8030000E8030000E8030000E8030000E803000000"
        "000000000000000000000000000001010101010101010101010101010101010101010202020202020202020203030303"
        "BF08";
    CHECK(real_row(hex).type == "0x0A");
    const json d = test::decode(hex);
    CHECK(d["type"] == "billing_model");
    CHECK(d["pile"] == "00624100001201");
    CHECK(d["seq"] == "0002");
    const json& x = d["data"];
    CHECK(x["model_id"] == "F002");
    for (const char* k : {"sharp_energy_price", "sharp_service_price", "peak_energy_price", "peak_service_price", "flat_energy_price",
                          "flat_service_price", "valley_energy_price", "valley_service_price"}) {
        CAPTURE(k);
        CHECK(x[k].dump() == "0.01");
    }
    CHECK(x["loss_ratio"].dump() == "0");
    json periods = json::array();
    for (int i = 0; i < 14; ++i) periods.push_back("sharp");  // 00:00 - 07:00
    for (int i = 0; i < 20; ++i) periods.push_back("peak");   // 07:00 - 17:00
    for (int i = 0; i < 10; ++i) periods.push_back("flat");   // 17:00 - 22:00
    for (int i = 0; i < 4; ++i) periods.push_back("valley");  // 22:00 - 24:00
    REQUIRE(periods.size() == 48);
    CHECK(x["periods"] == periods);
    CHECK(x.size() == 11);
}

TEST_CASE("real captures: card auth reply 0x32 from a live platform (pile 18120000001049)") {
    // 68 2A | seq | 00 32 | serial (16 BCD) | 18 12 00 00 00 10 49 | gun | 00 x8 (logical card)
    // | 70 11 01 00 (0x011170 = 70000 cents = 700.00 yuan) | 01 (success) | 00 (no failure) | CRC
    SUBCASE("gun 02") {
        const std::string hex = "682A21BF00321812000000104902239326785321369618120000001049020000000000000000701101000100E810";
        CHECK(real_row(hex).type == "0x32");
        const json d = test::decode(hex);
        CHECK(d["type"] == "card_auth_reply");
        CHECK(d["pile"] == "18120000001049");
        CHECK(d["seq"] == "21BF");
        const json& x = d["data"];
        CHECK(x["serial"] == "18120000001049022393267853213696");
        CHECK(x["gun"].dump() == "2");
        CHECK(x["logical_card"] == "0000000000000000");
        CHECK(x["balance"].dump() == "700");
        CHECK(x["result"] == "success");
        CHECK(x["failure_reason"] == "none");
        CHECK(x.size() == 6);
    }
    SUBCASE("gun 01") {
        const std::string hex = "682A164500321812000000104901239610290538086418120000001049010000000000000000701101000100346D";
        CHECK(real_row(hex).type == "0x32");
        const json d = test::decode(hex);
        CHECK(d["pile"] == "18120000001049");
        CHECK(d["seq"] == "1645");
        const json& x = d["data"];
        CHECK(x["serial"] == "18120000001049012396102905380864");
        CHECK(x["gun"].dump() == "1");
        CHECK(x["logical_card"] == "0000000000000000");
        CHECK(x["balance"].dump() == "700");
        CHECK(x["result"] == "success");
        CHECK(x["failure_reason"] == "none");
    }
}

TEST_CASE("real captures: transaction 0x3B, pile 18120000000266, VIN LGAG4PY33S6013235, SOC full") {
    const std::string hex =
        "68A2077A003B181200000002660116430696294154241812000000026601204E0E0C120A19F0D21C0D120A1900000000"
        "687937000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000009AA9534F0002238B4F006879370000000000000000004C47414734505933335336303133"
        "32333501F0D21C0D120A19410150BE785B3E781B4733";
    CHECK(real_row(hex).type == "0x3B");
    const json d = test::decode(hex);
    CHECK(d["type"] == "transaction");
    CHECK(d["pile"] == "18120000000266");
    CHECK(d["seq"] == "077A");
    const json& x = d["data"];
    // serial: pile 18120000000266 + gun 01 + 164306962941 54 24 (16 BCD bytes)
    CHECK(x["serial"] == "18120000000266011643069629415424");
    CHECK(x["gun"].dump() == "1");
    // 20 4E 0E 0C 12 0A 19: ms 0x4E20 = 20000 -> :20, min 0x0E = 14, hour 0x0C = 12, day 0x12 = 18,
    // month 0x0A = 10, year 0x19 = 25
    CHECK(x["start_time"] == "2025-10-18T12:14:20+08:00");
    // F0 D2 1C 0D 12 0A 19: ms 0xD2F0 = 54000 -> :54, min 0x1C = 28, hour 0x0D = 13
    CHECK(x["end_time"] == "2025-10-18T13:28:54+08:00");
    CHECK(x["trade_time"] == "2025-10-18T13:28:54+08:00");
    // All of the energy is in the sharp segment: 68 79 37 00 = 0x377968 = 3635560 -> 363.5560 kWh.
    // The pile's prices are zero, so are all amounts.
    CHECK(x["sharp_price"].dump() == "0");
    CHECK(x["sharp_energy"].dump() == "363.556");
    CHECK(x["sharp_energy_with_loss"].dump() == "0");
    CHECK(x["sharp_amount"].dump() == "0");
    for (const char* seg : {"peak", "flat", "valley"})
        for (const char* f : {"_price", "_energy", "_energy_with_loss", "_amount"}) {
            const std::string k = std::string(seg) + f;
            CAPTURE(k);
            CHECK(x[k].dump() == "0");
        }
    // Meter: 9A A9 53 4F 00 = 0x4F53A99A = 1330882970 -> 133088.2970 kWh;
    //        02 23 8B 4F 00 = 0x4F8B2302 = 1334518530 -> 133451.8530 kWh (difference 363.5560).
    CHECK(x["meter_start"].dump() == "133088.297");
    CHECK(x["meter_end"].dump() == "133451.853");
    CHECK(x["total_energy"].dump() == "363.556");
    CHECK(x["total_energy_with_loss"].dump() == "0");
    CHECK(x["total_amount"].dump() == "0");
    CHECK(x["vin"] == "LGAG4PY33S6013235");  // forward order in 0x3B
    CHECK(x["trade_type"] == "app");         // 0x01 app 启动
    CHECK(x["stop_reason"] == "soc_full");   // 0x41 (13.1: 充满停止)
    CHECK(x["card"] == "0150BE785B3E781B");
    CHECK(x.size() == 30);
}

TEST_CASE("real captures: transaction 0x3B, pile 18220000000155 gun 02, valley energy, manual stop") {
    const std::string hex =
        "68A28001003B18220000000155021673797553635328182200000001550208CF1C16170A19D0841517170A19400D0300"
        "000000000000000000000000400D0300000000000000000000000000400D0300000000000000000000000000A85B0100"
        "7375000000000000876800000A000000007D750000007375000000000000876800000000000000000000000000000000"
        "00000001D0841517170A19450000000000000000A5B3";
    CHECK(real_row(hex).type == "0x3B");
    const json d = test::decode(hex);
    CHECK(d["type"] == "transaction");
    CHECK(d["pile"] == "18220000000155");
    CHECK(d["seq"] == "8001");
    const json& x = d["data"];
    CHECK(x["serial"] == "18220000000155021673797553635328");
    CHECK(x["gun"].dump() == "2");
    // 08 CF 1C 16 17 0A 19: ms 0xCF08 = 53000 -> :53, min 0x1C = 28, hour 0x16 = 22, day 0x17 = 23
    CHECK(x["start_time"] == "2025-10-23T22:28:53+08:00");
    // D0 84 15 17 17 0A 19: ms 0x84D0 = 34000 -> :34, min 0x15 = 21, hour 0x17 = 23, day 0x17 = 23
    CHECK(x["end_time"] == "2025-10-23T23:21:34+08:00");
    CHECK(x["trade_time"] == "2025-10-23T23:21:34+08:00");
    // 40 0D 03 00 = 0x030D40 = 200000 -> 2.00000 yuan/kWh (5 decimals)
    for (const char* seg : {"sharp", "peak", "flat"}) {
        CAPTURE(seg);
        const std::string s = seg;
        CHECK(x[s + "_price"].dump() == "2");
        CHECK(x[s + "_energy"].dump() == "0");
        CHECK(x[s + "_energy_with_loss"].dump() == "0");
        CHECK(x[s + "_amount"].dump() == "0");
    }
    CHECK(x["valley_price"].dump() == "0.89");     // A8 5B 01 00 = 0x015BA8 = 89000
    CHECK(x["valley_energy"].dump() == "3.0067");  // 73 75 00 00 = 0x7573 = 30067
    CHECK(x["valley_energy_with_loss"].dump() == "0");
    CHECK(x["valley_amount"].dump() == "2.6759");  // 87 68 00 00 = 0x6887 = 26759 (3.0067 x 0.89)
    CHECK(x["meter_start"].dump() == "0.001");     // 0A 00 00 00 00 = 10
    CHECK(x["meter_end"].dump() == "3.0077");      // 7D 75 00 00 00 = 30077
    CHECK(x["total_energy"].dump() == "3.0067");
    CHECK(x["total_energy_with_loss"].dump() == "0");
    CHECK(x["total_amount"].dump() == "2.6759");
    CHECK(x["vin"] == "");                     // 17 nul bytes
    CHECK(x["trade_type"] == "app");           // 0x01
    CHECK(x["stop_reason"] == "manual_stop");  // 0x45 (13.1: 手动停止)
    CHECK(x["card"] == "0000000000000000");    // no card
    CHECK(x.size() == 30);
}
