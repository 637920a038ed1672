// Each behaviour of ERRATA.md (what the spec gets wrong, what real chargers do) has a test here.
#include "support.hpp"

using namespace ykc;
using test::json;

TEST_CASE("sequence bytes are kept exactly as received, whatever their order") {
    // byte[3] counting (real charger) and byte[2] counting (another real charger)
    auto be = test::decode("680B02270009100010010000016DB8");
    CHECK(be["seq"] == "0227");
    CHECK(test::encode_hex(be) == "680B02270009100010010000016DB8");
    auto le = test::decode("680D0300000300624100001201010075FA");
    CHECK(le["seq"] == "0300");
    CHECK(test::encode_hex(le) == "680D0300000300624100001201010075FA");
    // a reply built with the request's seq carries the same two bytes
    json reply = {{"type", "heartbeat_reply"}, {"pile", le["pile"]}, {"seq", le["seq"]}, {"data", {{"gun", 1}}}};
    CHECK(test::bytes(test::encode_hex(reply))[2] == 0x03);
    CHECK(test::bytes(test::encode_hex(reply))[3] == 0x00);
}

TEST_CASE("CRC high byte first is accepted, reported and reproduced") {
    // the login test vector of a public implementation, CRC written high byte first
    const std::string hex = "6822001900012023121200001001011047562E393572313300898604D11722D0348606024E87";
    auto d = test::decode(hex);
    CHECK(d["crc_order"] == "high_first");
    CHECK(d["pile"] == "20231212000010");
    CHECK(test::encode_hex(d) == hex);
    auto normal = test::decode("680D0300000300624100001201010075FA");
    CHECK(!normal.contains("crc_order"));
}

TEST_CASE("BCD nibbles A-F decode to hex letters: the ICCID with C") {
    const std::string body = "10001001000001 01 01 10 312E31302E323300 00 898604861024C0006426 00";
    auto d = test::decode(test::build("0000 00 01 " + body));
    CHECK(d["data"]["sim"] == "898604861024C0006426");
    CHECK(d["data"]["network"] == "sim");
    CHECK(d["data"]["carrier"] == "china_mobile");
    CHECK(test::encode_hex(d) == test::build("0000 00 01 " + body));
}

TEST_CASE("protocol version 0x0F (1.5) and 0x10 (1.6) both decode") {
    auto v15 = test::decode("6822000000011000100100000101010F312E31302E323300010000000000000000000004D1AA");
    CHECK(v15["data"]["protocol_version"].dump() == "1.5");
    auto v16 = test::decode(test::build("0000 00 01 10001001000001 01 01 10 312E31302E323300 01 00000000000000000000 04"));
    CHECK(v16["data"]["protocol_version"].dump() == "1.6");
    CHECK(test::encode_hex({{"type", "login"}, {"pile", "10001001000001"}, {"data", v16["data"]}}) ==
          test::build("0000 00 01 10001001000001 01 01 10 312E31302E323300 01 00000000000000000000 04"));
}

TEST_CASE("CP56Time2a weekday bits are masked on decode and zero on encode") {
    // start time 2025-10-18 (a Saturday: weekday 6 in the top three bits of the day byte)
    const std::string real =
        "68A2077A003B181200000002660116430696294154241812000000026601204E0E0C120A19F0D21C0D120A19000000006879370000000000000000000000000000"
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000009AA9534F0002238B4F00687937000000000000000000"
        "4C4741473450593333533630313332333501F0D21C0D120A19410150BE785B3E781B4733";
    auto d = test::decode(real);
    auto bytes = test::bytes(real);
    bytes[6 + 24 + 4] |= 0xC0;  // day byte of start_time: weekday 6
    const auto with_weekday = write_frame(0x3B, {bytes[2], bytes[3]}, 0, std::span(bytes).subspan(6, bytes.size() - 8));
    auto w = test::codec().decode(test::frame(to_hex(with_weekday)).view());
    CHECK(w["data"]["start_time"] == d["data"]["start_time"]);
    CHECK(w["data"]["start_time"] == "2025-10-18T12:14:20+08:00");
    CHECK(test::encode_hex(w) == real);  // weekday written as zero
}

TEST_CASE("0x3B of length 0xB2: the fifth tariff segment (deep valley) sits right after valley, and everything adds up") {
    // a real record (tests/fixtures/real-frames.tsv), worked out by hand from its bytes: after the
    // four segments of 16 bytes (price u32 /10^5, energy, energy with loss, amount u32 /10^4):
    //   valley       50C30000 7E4E0100 00000000 30A70000 -> 0.5 yuan/kWh, 8.563 kWh, 0, 4.28 yuan
    //   deep valley  F8A70000 1E320000 00000000 18150000 -> 0.43 yuan/kWh, 1.283 kWh, 0, 0.54 yuan
    //   meter_start 76A91E0800 = 136227190 -> 13622.719; meter_end 122A200800 = 136325650 -> 13632.565
    //   total_energy 9C800100 = 98460 -> 9.846 = 8.563 + 1.283 = 13632.565 - 13622.719; total_amount
    //   48BC0000 = 48200 -> 4.82 = 4.28 + 0.54
    const std::string real =
        "68B217F3003B1812000000017001159733514595532818120000000170019065170A0A0A19E880060B0A0A19E022020000000000000000000000000048E8010000"
        "0000000000000000000000D853010000000000000000000000000050C300007E4E01000000000030A70000F8A700001E320000000000001815000076A91E0800"
        "122A2008009C8001000000000048BC00004C4233373041444E32534A31383832383801E880060B0A0A194002607F8F42D86D1BBD5A";
    const auto d = test::decode(real)["data"];
    CHECK(d["valley_price"].dump() == "0.5");
    CHECK(d["valley_energy"].dump() == "8.563");
    CHECK(d["valley_amount"].dump() == "4.28");
    CHECK(d["deep_valley_price"].dump() == "0.43");
    CHECK(d["deep_valley_energy"].dump() == "1.283");
    CHECK(d["deep_valley_energy_with_loss"].dump() == "0");
    CHECK(d["deep_valley_amount"].dump() == "0.54");
    CHECK(d["meter_start"].dump() == "13622.719");
    CHECK(d["meter_end"].dump() == "13632.565");
    CHECK(d["total_energy"].dump() == "9.846");
    CHECK(d["total_amount"].dump() == "4.82");
    CHECK(d["vin"] == "LB370ADN2SJ188288");
    CHECK(d["trade_time"] == "2025-10-10T11:06:33+08:00");
    CHECK(d["stop_reason"] == "app_stop");
    CHECK(d["card"] == "02607F8F42D86D1B");
    CHECK_FALSE(d.contains("extra"));
    CHECK(test::encode_hex(test::decode(real)) == real);  // the deep_valley fields pick the 174-byte layout back

    // the same record without the deep-valley fields is the standard 158-byte layout
    json four = test::decode(real);
    for (const char* k : {"deep_valley_price", "deep_valley_energy", "deep_valley_energy_with_loss", "deep_valley_amount"})
        four["data"].erase(k);
    const auto a2 = test::bytes(test::encode_hex(four));
    CHECK(a2[1] == 0xA2);
    CHECK(test::decode(ykc::to_hex(a2))["data"] == four["data"]);
}

TEST_CASE("0x3B bodies of another length than 158 or 174 are a decode error naming the frame and the length") {
    const std::string real =
        "68A2077A003B181200000002660116430696294154241812000000026601204E0E0C120A19F0D21C0D120A19000000006879370000000000000000000000000000"
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000009AA9534F0002238B4F00687937000000000000000000"
        "4C4741473450593333533630313332333501F0D21C0D120A19410150BE785B3E781B4733";
    auto bytes = test::bytes(real);
    std::vector<std::uint8_t> body(bytes.begin() + 6, bytes.end() - 2);
    body.resize(170);  // what a 0xB2 record of another dialect would carry: 12 more bytes at the end
    try {
        test::codec().decode(FrameView{write_frame(0x3B, {1, 0}, 0, body)});
        FAIL("decoded");
    } catch (const DecodeError& e) {
        CHECK(e.kind == DecodeError::Kind::bad_length);
        CHECK(e.message == "transaction");
        CHECK(std::string(e.what()) ==
              "transaction: body is 170 bytes (length byte 0xAE); the catalogue knows 158 (standard) or 174 (five_segment)");
    }
    // the layout follows the fields given, whatever the order of the catalogue's layouts
    Catalogue reversed = *Catalogue::builtin();
    reversed.overlay(R"(
messages:
  - code: 0x3F
    name: vendor_record
    direction: up
    layouts: {12: long, 8: short}
    fields:
      - {name: pile, type: bcd, size: 7}
      - {name: a, type: uint, size: 1}
      - {name: b, type: uint, size: 4, layout: long}
)",
                     "vendor.yaml");
    const Codec rc(std::make_shared<const Catalogue>(reversed));
    CHECK(rc.encode({{"type", "vendor_record"}, {"pile", "32010200000001"}, {"data", {{"a", 1}}}}).size() == 8 + 8);
    CHECK(rc.encode({{"type", "vendor_record"}, {"pile", "32010200000001"}, {"data", {{"a", 1}, {"b", 2}}}}).size() == 12 + 8);
    // one deep-valley field picks the 174-byte layout, which needs all four
    json some = test::decode(real);
    some["data"]["deep_valley_amount"] = 1;
    try {
        test::codec().encode(some);
        FAIL("encoded");
    } catch (const EncodeError& e) {
        CHECK(std::string(e.what()) == "transaction: field deep_valley_price: missing");
    }
}

TEST_CASE("lengths the spec samples get wrong: the catalogue uses what the fields need") {
    // 0x41: pile 7, card 8, result 1 -> length 0x14 (sample says 0x13)
    CHECK(test::build("0006 00 41 32010200000001 00000000D14B0A54 01").substr(2, 2) == "14");
    auto r = test::decode(test::build("0006 00 41 32010200000001 00000000D14B0A54 01"));
    CHECK(r["data"]["result"] == "pile_mismatch");
    // 0x44 with one card -> 0x1C (sample says 0x2C)
    const std::string sync = test::build("0007 00 44 32010200000001 01 0000000010000001 00000000D14B0A54");
    CHECK(sync.substr(2, 2) == "1C");
    auto s = test::decode(sync);
    CHECK(s["data"]["cards"] == json::parse(R"([{"logical_card":"0000000010000001","card":"00000000D14B0A54"}])"));
    // 0x45 with two cards: 7 + 2 x 10
    auto c45 = test::decode(test::build("0007 00 45 32010200000001 00000000D14B0A54 01 00 00000000E14C0A54 00 01"));
    CHECK(c45["data"]["cards"].size() == 2);
    CHECK(c45["data"]["cards"][1]["failure_reason"] == "bad_card_format");
    // 0x47 with two cards: 7 + 2 x 9
    auto c47 = test::decode(test::build("0007 00 47 32010200000001 00000000D14B0A54 01 00000000E14C0A54 00"));
    CHECK(c47["data"]["cards"] ==
          json::parse(R"([{"card":"00000000D14B0A54","present":true},{"card":"00000000E14C0A54","present":false}])"));
    // 0x62 / 0x63: 0x11
    CHECK(test::build("0001 00 62 32010200000001 01 55 00000000").substr(2, 2) == "11");
    auto lock = test::decode(test::build("0001 00 62 32010200000001 01 55 00000000"));
    CHECK(lock["data"]["action"] == "raise");
    CHECK(!lock["data"].contains("reserved"));
    // 0x61 with the parking-lock state the sample omits: 0x14
    auto ls = test::decode(test::build("0001 00 61 32010200000001 01 55 FF 50 00 00000000"));
    CHECK(ls["data"] == json::parse(R"({"gun":1,"lock_state":"raised","space":"occupied","battery":80,"alarm":"normal"})"));
    // their gun is BIN (the tables of 0x61-0x63), unlike BCD elsewhere: gun 10 is 0x0A, and 0x10 is gun 16
    CHECK(test::decode(test::build("0001 00 61 32010200000001 0A 55 FF 50 00 00000000"))["data"]["gun"] == 10);
    CHECK(test::decode(test::build("0001 00 63 32010200000001 10 01 00000000"))["data"]["gun"] == 16);
    CHECK(test::encode_hex({{"type", "lock_control"}, {"pile", "32010200000001"}, {"data", {{"gun", 10}, {"action", "raise"}}}}) ==
          test::build("0000 00 62 32010200000001 0A 55 00000000"));
}

TEST_CASE("the trade serial is 16 BCD bytes (32 digits), not the samples' 31") {
    const std::string serial = "32010200000000111511161555350260";
    auto d = test::decode(test::build("0002 00 33 " + serial + " 32010200000001 01 01 00"));
    CHECK(d["data"]["serial"] == serial);
    CHECK(d["data"]["result"] == "success");
    CHECK(d["data"]["failure_reason"] == "none");
}

TEST_CASE("0xA2 is its own type (the sample carries 0x32) - 0xA3 goes up, 0xA4 down") {
    const auto& cat = *Catalogue::builtin();
    CHECK(cat.find(0xA2)->name == "parallel_card_auth_reply");
    CHECK(cat.find(0xA3)->direction == Direction::up);
    CHECK(cat.find(0xA4)->direction == Direction::down);
    CHECK(cat.find(0xA4)->reply == "parallel_remote_start_reply");
    auto d = test::decode(
        test::build("0004 00 A2 32010200000001012018061219595785 32010200000001 01 0000000000000000 00000000 00 01 201029112801"));
    CHECK(d["type"] == "parallel_card_auth_reply");
    CHECK(d["data"]["parallel_id"] == "201029112801");
    CHECK(d["data"]["failure_reason"] == "account_not_found");
}

TEST_CASE("stop reasons come from table 13.1") {
    const auto* m = Catalogue::builtin()->find("transaction");
    const auto* f = m->field("stop_reason");
    REQUIRE(f);
    CHECK(*f->enums->name_of(0x40) == "app_stop");
    CHECK(*f->enums->name_of(0x41) == "soc_full");
    CHECK(*f->enums->name_of(0x6E) == "aborted_insufficient_balance");
    CHECK(*f->enums->name_of(0x90) == "unknown");
    CHECK(f->enums->name_of(0x46) == nullptr);  // reserved codes stay numbers
}

TEST_CASE("VIN: reversed on the wire in 0x31 and 0xA1, forward in 0x3B and 0x15") {
    const std::string vin = "LGAG4PY33S6013235";
    auto hex_of = [](auto first, auto last) {
        std::string h;
        for (; first != last; ++first) {
            h.push_back(hex_digits_upper[static_cast<unsigned char>(*first) >> 4]);
            h.push_back(hex_digits_upper[*first & 15]);
        }
        return h;
    };
    const std::string reversed_hex = hex_of(vin.rbegin(), vin.rend()), forward_hex = hex_of(vin.begin(), vin.end());
    const std::string f31 =
        test::build("0004 00 31 32010200000001 01 03 00 0000000000000000 00000000000000000000000000000000 " + reversed_hex);
    auto d = test::decode(f31);
    CHECK(d["data"]["vin"] == vin);
    CHECK(d["data"]["start_mode"] == "vin");
    CHECK(d["data"]["password_required"] == false);
    CHECK(test::encode_hex(d) == f31);
    // 0x3B: the real record carries the VIN forward
    auto t = test::decode(
        "68A2077A003B181200000002660116430696294154241812000000026601204E0E0C120A19F0D21C0D120A19000000006879370000000000000000000000000000"
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000009AA9534F0002238B4F00687937000000000000000000"
        "4C4741473450593333533630313332333501F0D21C0D120A19410150BE785B3E781B4733");
    CHECK(t["data"]["vin"] == vin);
    // 0xA1 (parallel card auth) reverses it like 0x31
    const std::string fa1 = test::build("0005 00 A1 32010200000001 02 03 00 0000000000000000 00000000000000000000000000000000 " +
                                        reversed_hex + " 01 241202103000");
    auto a = test::decode(fa1);
    CHECK(a["data"]["vin"] == vin);
    CHECK(a["data"]["gun"] == 2);
    CHECK(a["data"]["role"] == "auxiliary");
    CHECK(a["data"]["parallel_id"] == "241202103000");
    CHECK(test::encode_hex(a) == fa1);
    // 0x15 (BMS handshake) carries it forward, as BIN 17
    const std::string f15 = test::build(
        "0006 00 15 32010200000001012411241030000001 32010200000001 01 010100 03 C800 1027 43415444 01020304 27 0C 01 0A0000 01 00 " +
        forward_hex + " 0102030405060708");
    auto b = test::decode(f15);
    CHECK(b["data"]["vin"] == vin);
    CHECK(b["data"]["battery_vendor"] == "CATD");
    CHECK(b["data"]["production_year"] == 2024);
    CHECK(test::encode_hex(b) == f15);
}

TEST_CASE("card numbers are the 8 bytes as sent, uppercase hex") {
    auto d = test::decode(test::build("0006 00 42 32010200000001 01 00000000D14B0A54 00000000"));
    CHECK(d["data"]["card"] == "00000000D14B0A54");
}

TEST_CASE("0x34 balance is in cents") {
    const std::string f =
        test::build("007C 00 34 55031412782305012018061914444680 55031412782305 01 0000001000000573 00000000D14B0A54 A0860100");
    auto d = test::decode(f);
    CHECK(d["data"]["balance"].dump() == "1000");
    CHECK(d["data"]["logical_card"] == "0000001000000573");
    CHECK(test::encode_hex({{"type", "remote_start"},
                            {"pile", "55031412782305"},
                            {"seq", "007C"},
                            {"data",
                             {{"serial", "55031412782305012018061914444680"},
                              {"gun", 1},
                              {"logical_card", "1000000573"},
                              {"card", "D14B0A54"},
                              {"balance", 1000.00}}}}) == f);
}

TEST_CASE("0x13 hardware-fault bits count from the low bit of the little-endian value") {
    const std::string head =
        "0000 00 13 00000000000000000000000000000000 32010200000001 01 01 00 00 0000 0000 00 0000000000000000 00 00 0000 0000 00000000 "
        "00000000 00000000 ";
    CHECK(test::decode(test::build(head + "0200"))["data"]["hardware_faults"] == json({"no_rectifier_module"}));
    CHECK(test::decode(test::build(head + "0002"))["data"]["hardware_faults"] == json({"fan_board_fault"}));     // bit 9 = spec Bit10
    CHECK(test::decode(test::build(head + "0008"))["data"]["hardware_faults"] == json({"hv_contactor_fault"}));  // bit 11 = spec Bit12
}

TEST_CASE("frames with the encryption flag are not decoded as plain text") {
    const auto f = test::frame(test::build("0000 01 03 00624100001201 0100"));
    try {
        test::codec().decode(f.view());
        FAIL("decoded an encrypted frame");
    } catch (const DecodeError& e) {
        CHECK(e.kind == DecodeError::Kind::encrypted);
        CHECK(e.message == "heartbeat");
        CHECK(std::string(e.what()).find("encrypted") != std::string::npos);
    }
}
