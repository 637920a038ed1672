// Billing records: every real 0x3B read right (both layouts), the V1.7 0x3D, and the plausibility
// check that stands between a record and the bridge's automatic 0x40 (bridge/transaction_check).
#include "support.hpp"
#include "transaction_check.hpp"

using namespace ykc;
using test::json;

namespace {

std::vector<std::string> check(const json& env, int gun_count = 2) {
    const Message* m = Catalogue::builtin()->find(env["type"].get<std::string>());
    REQUIRE(m);
    return bridge::check_transaction(env["data"], *m, env["pile"], gun_count);
}

bool mentions(const std::vector<std::string>& why, const std::string& what) {
    for (const auto& w : why)
        if (w.find(what) != std::string::npos) return true;
    return false;
}

// The 0x3D sample of a public implementation's protocol notes (tests/fixtures/other-vectors.tsv,
// sanbing-java/JCPP): no capture of a real V1.7 pile is public.
const std::string v17 =
    "68CD8001003D55031412782305012018061910262392202312120000100198B70E1110031498B70E111003140100000000008B778BEC241E05E4E7E18403A6F2"
    "8C05EDF6B18D5AFA8DA73BE8FD605510CEF3860C000000D0FB0100000000000000000000000000D0FB0100000000000000000000000000D0FB0100000000000000"
    "000000000000D0FB01000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000298B7"
    "0E111003140000000000D14B0A540A90";

}  // namespace

TEST_CASE("every real transaction record decodes in its layout: those whose sums add up pass the check, the others say why") {
    int b2 = 0, a2 = 0, passed = 0;
    for (const auto& row : test::tsv("real-frames.tsv")) {
        if (row.type != "0x3B") continue;
        CAPTURE(row.hex);
        const json env = test::decode(row.hex);
        CHECK_FALSE(env["data"].contains("extra"));
        const bool five = test::bytes(row.hex)[1] == 0xB2;
        (five ? b2 : a2)++;
        CHECK(env["data"].contains("deep_valley_energy") == five);
        const auto why = check(env);
        CAPTURE(json(why).dump());
        // the notes of the fixture say which do not add up, worked out outside the decoder
        const bool note_says_bad =
            row.note.find("do not add up") != std::string::npos || row.note.find("before start_time") != std::string::npos;
        CHECK(why.empty() == !note_says_bad);
        passed += why.empty();
        if (row.note.find("do not add up") != std::string::npos) {
            CHECK(mentions(why, "segment energies (sharp + peak + flat + valley + deep_valley) add up to 0 kWh, total_energy is"));
            CHECK(mentions(why, "segment amounts"));
        }
        if (row.note.find("before start_time") != std::string::npos)
            CHECK(why == std::vector<std::string>{"start_time 2026-03-12T10:10:48+08:00 is after end_time 2026-03-12T05:39:02+08:00"});
    }
    CHECK(b2 == 6);
    CHECK(a2 == 4);
    CHECK(passed == 7);
}

TEST_CASE("the check names each thing that does not add up") {
    const std::string real =
        "68B217F3003B1812000000017001159733514595532818120000000170019065170A0A0A19E880060B0A0A19E022020000000000000000000000000048E8010000"
        "0000000000000000000000D853010000000000000000000000000050C300007E4E01000000000030A70000F8A700001E320000000000001815000076A91E0800"
        "122A2008009C8001000000000048BC00004C4233373041444E32534A31383832383801E880060B0A0A194002607F8F42D86D1BBD5A";
    const json good = test::decode(real);
    REQUIRE(check(good).empty());
    // within the stated tolerance: 0.01 kWh, 0.01 yuan (a charger rounds segments and totals apart)
    json near = good;
    near["data"]["total_amount"] = 4.8299;
    near["data"]["total_energy"] = 9.8559;
    CHECK(check(near).empty());

    json bad = good;
    bad["data"]["deep_valley_energy"] = 1.3;
    bad["data"]["total_amount"] = 5;
    bad["data"]["meter_end"] = 13632.6;
    bad["data"]["gun"] = 3;
    bad["data"]["serial"] = "32010200000001011597335145955328";
    bad["data"]["trade_time"] = nullptr;
    const auto why = check(bad);
    CHECK(why == std::vector<std::string>{
                     "segment energies (sharp + peak + flat + valley + deep_valley) add up to 9.863 kWh, total_energy is 9.846 kWh",
                     "segment amounts (sharp + peak + flat + valley + deep_valley) add up to 4.82 yuan, total_amount is 5 yuan",
                     "meter_end − meter_start is 9.881 kWh (13632.6 − 13622.719), total_energy is 9.846 kWh",
                     "trade_time is missing (all zero)", "gun 3, but the pile logged in with 2 guns",
                     "serial 32010200000001011597335145955328 does not begin with the pile number 18120000000170 (spec 3.3)"});
    CHECK(check(bad, 0).size() == 5);  // a login without a gun count: the gun is not checked
    // a pile without meter readings (both 0): the segments and the total still have to agree
    json no_meter = good;
    no_meter["data"]["meter_start"] = 0;
    no_meter["data"]["meter_end"] = 0;
    CHECK(check(no_meter).empty());
    no_meter["data"]["meter_end"] = 9.846;
    CHECK(check(no_meter).empty());
    no_meter["data"]["meter_end"] = 9.9;
    CHECK(check(no_meter) == std::vector<std::string>{"meter_end − meter_start is 9.9 kWh (9.9 − 0), total_energy is 9.846 kWh"});
    json start_after_end = good;
    start_after_end["data"]["start_time"] = "2025-10-10T11:06:33.500+08:00";
    CHECK(check(start_after_end) ==
          std::vector<std::string>{"start_time 2025-10-10T11:06:33.500+08:00 is after end_time 2025-10-10T11:06:33+08:00"});
}

TEST_CASE("0x3D (V1.7): the transaction record with meter data decodes, round-trips and is confirmed like 0x3B") {
    const json env = test::decode(v17);
    CHECK(env["type"] == "metered_transaction");
    const json& d = env["data"];
    CHECK(d["serial"] == "55031412782305012018061910262392");
    CHECK(env["pile"] == "20231212000010");
    CHECK(d["gun"] == 1);
    CHECK(d["start_time"] == "2020-03-16T17:14:47+08:00");
    CHECK(d["meter_number"] == "010000000000");
    CHECK(d["meter_ciphertext"] == "8B778BEC241E05E4E7E18403A6F28C05EDF6B18D5AFA8DA73BE8FD605510CEF3860C");
    CHECK(d["meter_protocol_version"] == 0);
    CHECK(d["meter_encryption"] == 0);
    CHECK(d["sharp_price"].dump() == "1.3");
    CHECK(d["total_energy"] == 0);
    CHECK(d["card"] == "00000000D14B0A54");
    CHECK_FALSE(d.contains("extra"));
    CHECK(test::encode_hex(env) == v17);
    const Message& m = *Catalogue::builtin()->find(0x3D);
    CHECK(m.record);
    CHECK(m.topic == "transaction");
    CHECK(m.reply == "transaction_reply");
    CHECK(Catalogue::builtin()->find(0x3B)->record);
    CHECK(Catalogue::builtin()->find(0x3B)->topic == "transaction");
    // a documentation sample: its serial is not its pile's, and its segments (1.3 yuan/kWh, 0 kWh) add up
    CHECK(check(env) == std::vector<std::string>{
                            "serial 55031412782305012018061910262392 does not begin with the pile number 20231212000010 (spec 3.3)"});
}

TEST_CASE("CP56Time2a: a time that cannot be is a decode error naming the field, never a date") {
    // time_sync_reply 0x55: pile, time
    auto err = [](const std::string& time) -> std::string {
        try {
            test::decode(test::build("0001 00 55 32010200000001 " + time));
        } catch (const DecodeError& e) {
            CHECK(e.kind == DecodeError::Kind::bad_value);
            CHECK(e.field == "time");
            return e.what();
        }
        return "decoded";
    };
    CHECK(err("98B70E11100E32") == "time_sync_reply: field time: not a time that can be: month 14 (1 … 12) (bytes 98B70E11100E32)");
    CHECK(err("98B70E111F0614") ==
          "time_sync_reply: field time: not a time that can be: day 31 of 2020-06 (1 … 30) (bytes 98B70E111F0614)");
    CHECK(err("98B70E18100314") == "time_sync_reply: field time: not a time that can be: hour 24 (0 … 23) (bytes 98B70E18100314)");
    CHECK(err("98B73C11100314") == "time_sync_reply: field time: not a time that can be: minute 60 (0 … 59) (bytes 98B73C11100314)");
    CHECK(err("60EA0E11100314") ==
          "time_sync_reply: field time: not a time that can be: milliseconds 60000 (0 … 59999) (bytes 60EA0E11100314)");
    CHECK(err("98B70E111D0215") ==
          "time_sync_reply: field time: not a time that can be: day 29 of 2021-02 (1 … 28) (bytes 98B70E111D0215)");
    // 29 February of a leap year, all zero (no time) and the weekday bits are fine
    CHECK(test::decode(test::build("0001 00 55 32010200000001 98B70E111D0218"))["data"]["time"] == "2024-02-29T17:14:47+08:00");
    CHECK(test::decode(test::build("0001 00 55 32010200000001 00000000000000"))["data"]["time"] == nullptr);
    CHECK(test::decode(test::build("0001 00 55 32010200000001 98B70E11F00314"))["data"]["time"] == "2020-03-16T17:14:47+08:00");
}

TEST_CASE("0 means not applicable: an idle or AC gun's temperatures are null, not -50 °C") {
    // 0x13 of an idle gun: every reading zero
    const std::string idle = test::build(
        "0001 00 13 00000000000000000000000000000000 32010200000001 01 02 00 00 0000 0000 00 0000000000000000 00 00 0000 0000 "
        "00000000 00000000 00000000 0000");
    const json d = test::decode(idle)["data"];
    CHECK(d["gun_temperature"] == nullptr);
    CHECK(d["battery_max_temperature"] == nullptr);
    CHECK(d["soc"] == 0);  // a reading: 0 %
    CHECK(test::encode_hex(test::decode(idle)) == idle);
    // -50 °C would be sent as 0 and read back as null: refused, not silently changed
    json minus50 = test::decode(idle);
    minus50["data"]["gun_temperature"] = -50;
    try {
        test::codec().encode(minus50);
        FAIL("encoded");
    } catch (const EncodeError& e) {
        CHECK(std::string(e.what()) == "realtime: field gun_temperature: -50 is sent as 0, which means \"not applicable\" (null)");
    }
    // raw 1 is -49 °C
    const std::string cold = test::build(
        "0001 00 13 00000000000000000000000000000000 32010200000001 01 03 00 01 0000 0000 01 0000000000000000 32 01 0000 0000 "
        "00000000 00000000 00000000 0000");
    CHECK(test::decode(cold)["data"]["gun_temperature"] == -49);
    CHECK(test::decode(cold)["data"]["battery_max_temperature"] == -49);
}
