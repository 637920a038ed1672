// encode validates every field; the error names the message, the field and what was wrong.
#include "support.hpp"

using namespace ykc;
using test::json;

namespace {

EncodeError encode_error(const json& env) {
    try {
        test::codec().encode(env);
    } catch (const EncodeError& e) {
        return e;
    }
    FAIL("encoded without error: " << env.dump());
    throw std::logic_error("unreachable");
}

json cmd(const std::string& type, json data) { return {{"type", type}, {"pile", "32010200000001"}, {"data", std::move(data)}}; }

const json start_data = {{"serial", "32010200000001012411241030000001"}, {"gun", 1}, {"balance", 100}};

}  // namespace

TEST_CASE("a missing field") {
    json d = start_data;
    d.erase("balance");
    auto e = encode_error(cmd("remote_start", d));
    CHECK(e.message == "remote_start");
    CHECK(e.field == "balance");
    CHECK(e.reason == "missing");
    CHECK(std::string(e.what()) == "remote_start: field balance: missing");
}

TEST_CASE("defaults fill optional fields") {
    CHECK_NOTHROW(test::codec().encode(cmd("remote_start", start_data)));
    auto d = test::decode(ykc::to_hex(test::codec().encode(cmd("remote_start", start_data))));
    CHECK(d["data"]["card"] == "0000000000000000");
    CHECK(d["data"]["logical_card"] == "0000000000000000");
}

TEST_CASE("wrong JSON types") {
    json d = start_data;
    d["balance"] = "lots";
    CHECK(encode_error(cmd("remote_start", d)).reason.find("not a number") == 0);
    d["balance"] = json::array();
    CHECK(encode_error(cmd("remote_start", d)).reason == "expected a number, got array []");
    d = start_data;
    d["gun"] = "one";
    CHECK(encode_error(cmd("remote_start", d)).field == "gun");
    d = start_data;
    d["serial"] = 12.5;
    CHECK(encode_error(cmd("remote_start", d)).reason.find("expected a string of digits") == 0);
    CHECK(encode_error(cmd("remote_stop", {{"gun", true}})).reason.find("expected a non-negative integer") == 0);
    CHECK(encode_error(cmd("time_sync", {{"time", 12}})).reason.find("expected a time") == 0);
    CHECK(encode_error(cmd("card_clear", {{"cards", "00000000D14B0A54"}})).reason.find("expected an array") == 0);
}

TEST_CASE("values out of range") {
    auto e = encode_error(cmd("work_params_set", {{"state", "enabled"}, {"max_power", 20}}));
    CHECK(e.field == "max_power");
    CHECK(e.reason == "out of range (30 … 100 %): 20");
    CHECK(encode_error(cmd("heartbeat_reply", {{"gun", 1}, {"ack", 256}})).reason.find("out of range") == 0);
    CHECK(encode_error(cmd("remote_stop", {{"gun", -1}})).field == "gun");
    CHECK(encode_error(cmd("remote_stop", {{"gun", 100}})).reason == "out of range (0 … 99): 100");
    json d = start_data;
    d["balance"] = -1;
    CHECK(encode_error(cmd("remote_start", d)).reason.find("out of range (0 … 42949672.95 yuan)") == 0);
    d["balance"] = 42949673;
    CHECK(encode_error(cmd("remote_start", d)).reason.find("out of range") == 0);
}

TEST_CASE("too many decimals") {
    json d = start_data;
    d["balance"] = 1.234;
    auto e = encode_error(cmd("remote_start", d));
    CHECK(e.field == "balance");
    CHECK(e.reason == "too many decimals (at most 2): 1.234");
    d["balance"] = 0.29;  // exactly 29 cents
    auto body = test::codec().encode(cmd("remote_start", d));
    CHECK(body[body.size() - 6] == 29);
}

TEST_CASE("bad enum names and codes") {
    auto e = encode_error(cmd("reboot", {{"mode", "later"}}));
    CHECK(e.field == "mode");
    CHECK(e.reason == "unknown name \"later\" (one of: immediate, when_idle)");
    CHECK(encode_error(cmd("reboot", {{"mode", 300}})).reason.find("code out of range") == 0);
    CHECK_NOTHROW(test::codec().encode(cmd("reboot", {{"mode", 7}})));  // codes without a name pass through
    CHECK(encode_error(cmd("realtime", {{"serial", "0"},
                                        {"gun", 1},
                                        {"status", "idle"},
                                        {"gun_returned", "yes"},
                                        {"plugged", false},
                                        {"voltage", 0},
                                        {"current", 0},
                                        {"gun_temperature", 0},
                                        {"gun_line_code", "0"},
                                        {"soc", 0},
                                        {"battery_max_temperature", 0},
                                        {"charging_minutes", 0},
                                        {"remaining_minutes", 0},
                                        {"energy", 0},
                                        {"energy_with_loss", 0},
                                        {"amount", 0},
                                        {"hardware_faults", {"smoke"}}}))
              .reason == "unknown flag \"smoke\"");
}

TEST_CASE("unknown fields and unknown messages") {
    auto e = encode_error(cmd("remote_stop", {{"gun", 1}, {"gunn", 2}}));
    CHECK(e.field == "gunn");
    CHECK(e.reason == "unknown field");
    auto u = encode_error({{"type", "launch"}, {"data", json::object()}});
    CHECK(u.field == "type");
    CHECK(u.reason == "unknown message \"launch\"");
    CHECK(encode_error({{"code", "0x3F"}, {"data", json::object()}}).reason.find("unknown frame type") == 0);
    CHECK(encode_error({{"type", "heartbeat"}, {"code", "0x13"}, {"data", json::object()}}).field == "code");
    CHECK(encode_error({{"data", json::object()}}).reason == "missing (a message name, or code)");
    CHECK(encode_error({{"type", "reboot"}, {"pile", "32010200000001"}, {"colour", "red"}, {"data", {{"mode", 1}}}}).field == "colour");
    auto g = encode_error(cmd("card_sync", {{"cards", {{{"logical_card", "1"}, {"card", "2"}, {"pin", "3"}}}}}));
    CHECK(g.field == "cards[0].pin");
}

TEST_CASE("text and digits that do not fit") {
    auto p = encode_error({{"type", "remote_stop"}, {"pile", "320102000000011"}, {"data", {{"gun", 1}}}});
    CHECK(p.field == "pile");
    CHECK(p.reason == "too long: at most 14 digits, got 15");
    CHECK(encode_error({{"type", "remote_stop"}, {"pile", "3201020000000X"}, {"data", {{"gun", 1}}}}).reason ==
          "not digits: \"3201020000000X\"");
    const json update = {{"pile_type", "ac"}, {"power", 7},          {"server", "ftp.example.com.cn.x"},
                         {"port", 21},        {"username", "u"},     {"password", "p"},
                         {"path", "/f"},      {"mode", "immediate"}, {"timeout_minutes", 5}};
    CHECK(encode_error(cmd("firmware_update", update)).reason == "too long: at most 16 characters, got 20");
    json chinese = update;
    chinese["server"] = "服务器";
    CHECK(encode_error(cmd("firmware_update", chinese)).reason.find("not ASCII") == 0);
    CHECK(encode_error(cmd("balance_update", {{"gun", 1}, {"card", "D14B0A5G"}, {"balance", 1}})).reason == "not hex digits: \"D14B0A5G\"");
}

TEST_CASE("arrays: item limits and fixed counts") {
    json cards = json::array();
    for (int i = 0; i < 25; ++i) cards.push_back("00000000D14B0A54");
    auto e = encode_error(cmd("card_clear", {{"cards", cards}}));
    CHECK(e.field == "cards");
    CHECK(e.reason == "too many items: at most 24, got 25");
    json model = {{"model_id", "0100"},
                  {"sharp_energy_price", 1},
                  {"sharp_service_price", 0.4},
                  {"peak_energy_price", 1},
                  {"peak_service_price", 0.4},
                  {"flat_energy_price", 1},
                  {"flat_service_price", 0.4},
                  {"valley_energy_price", 1},
                  {"valley_service_price", 0.4},
                  {"loss_ratio", 0},
                  {"periods", json(std::vector<std::string>(47, "flat"))}};
    CHECK(encode_error(cmd("billing_model_set", model)).reason == "expected exactly 48 items, got 47");
    model["periods"] = json(std::vector<std::string>(48, "flat"));
    model["periods"][3] = "night";
    CHECK(encode_error(cmd("billing_model_set", model)).field == "periods[3]");
}

TEST_CASE("envelope errors") {
    CHECK(encode_error(json::array()).reason == "expected a JSON object, got []");
    CHECK(encode_error({{"type", "reboot"}, {"seq", "12345"}, {"data", {{"mode", 1}}}}).field == "seq");
    CHECK(encode_error({{"type", "reboot"}, {"seq", 70000}, {"data", {{"mode", 1}}}}).field == "seq");
    CHECK(encode_error({{"type", "reboot"}, {"crc_order", "middle"}, {"data", {{"mode", 1}}}}).field == "crc_order");
    CHECK(encode_error({{"type", "reboot"}, {"pile", 32010200000001}, {"data", {{"mode", 1}}}}).field == "pile");
    CHECK(encode_error({{"type", "reboot"}, {"pile", "32010200000001"}, {"data", "mode=1"}}).reason.find("data must be an object") == 0);
    CHECK(encode_error({{"type", "reboot"}, {"pile", "32010200000001"}, {"data", {{"pile", "32010200000002"}, {"mode", 1}}}}).field ==
          "pile");
    CHECK(encode_error({{"type", "reboot"}, {"data", {{"mode", 1}}}}).reason == "missing");  // no pile anywhere
    CHECK(encode_error(cmd("reboot", {{"mode", 1}, {"extra", "XYZ"}})).field == "extra");
}
