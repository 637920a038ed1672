// The catalogue: pairings, overlays, and mistakes reported with file, line and field.
#include "support.hpp"

using namespace ykc;
using test::json;

namespace {

CatalogueError load_error(const std::string& yaml) {
    try {
        Catalogue::from_yaml(yaml, "vendor.yaml");
    } catch (const CatalogueError& e) {
        return e;
    }
    FAIL("loaded without error:\n" << yaml);
    throw std::logic_error("unreachable");
}

const char* ok_message = R"(
messages:
  - code: 0x03
    name: heartbeat
    direction: up
    fields:
      - {name: pile, type: bcd, size: 7}
      - {name: gun, type: bcd_int, size: 1}
)";

}  // namespace

TEST_CASE("every request names its reply as the issue lists them") {
    const std::vector<std::pair<int, int>> pairs = {{0x01, 0x02}, {0x03, 0x04}, {0x05, 0x06}, {0x09, 0x0A}, {0x12, 0x13}, {0x31, 0x32},
                                                    {0x34, 0x33}, {0x36, 0x35}, {0x3B, 0x40}, {0x3D, 0x40}, {0x42, 0x41}, {0x44, 0x43},
                                                    {0x46, 0x45}, {0x48, 0x47}, {0x52, 0x51}, {0x56, 0x55}, {0x58, 0x57}, {0x62, 0x63},
                                                    {0x92, 0x91}, {0x94, 0x93}, {0xA1, 0xA2}, {0xA4, 0xA3}};
    const auto& cat = *Catalogue::builtin();
    int with_reply = 0;
    for (const auto& m : cat.messages()) with_reply += !m.reply.empty();
    CHECK(with_reply == static_cast<int>(pairs.size()));
    for (auto [req, rep] : pairs) {
        CAPTURE(req);
        const Message* m = cat.find(static_cast<std::uint8_t>(req));
        REQUIRE(m);
        const Message* r = cat.find(m->reply);
        REQUIRE(r);
        CHECK(r->code == rep);
    }
}

TEST_CASE("periodic frames are in the telemetry lane by the catalogue: realtime, bms_demand, bms_info") {
    std::vector<std::string> telemetry;
    for (const auto& m : Catalogue::builtin()->messages())
        if (m.telemetry) telemetry.push_back(m.name);
    CHECK(telemetry == std::vector<std::string>{"realtime", "bms_demand", "bms_info"});
    CHECK(std::string(load_error(std::string(ok_message) + "    lane: fast\n").what()).find("lane is control (the default) or telemetry") !=
          std::string::npos);
}

TEST_CASE("reply matching fields") {
    const auto& cat = *Catalogue::builtin();
    CHECK(cat.find("remote_start")->match == std::vector<std::string>{"gun", "serial"});
    CHECK(cat.find("remote_stop")->match == std::vector<std::string>{"gun"});
    CHECK(cat.find("transaction")->match == std::vector<std::string>{"serial"});
    CHECK(cat.find("balance_update")->match == std::vector<std::string>{"card"});
    CHECK(cat.find("parallel_card_auth")->match == std::vector<std::string>{"gun", "parallel_id"});
    CHECK(cat.find("reboot")->match.empty());
}

TEST_CASE("consistent field names: gun, serial, pile") {
    for (const auto& m : Catalogue::builtin()->messages()) {
        CAPTURE(m.name);
        for (const auto& f : m.fields) {
            // BCD everywhere but in the parking-lock frames, whose tables say BIN
            if (f.name == "gun") CHECK(f.type == (m.code >= 0x61 && m.code <= 0x63 ? FieldType::uint : FieldType::bcd_int));
            if (f.name == "serial") CHECK((f.type == FieldType::bcd && f.size == 16));
            if (f.name == "pile") CHECK((f.type == FieldType::bcd && f.size == 7));
        }
        // every message carries the pile, except the transaction confirmation (serial only)
        if (m.code != 0x40) CHECK(m.pile_offset >= 0);
    }
}

TEST_CASE("catalogue mistakes name the file, the line, the message and the field") {
    auto bad_type = load_error(R"(
messages:
  - code: 0x03
    name: heartbeat
    direction: up
    fields:
      - {name: pile, type: bcd, size: 7}
      - {name: gun, type: bcdd, size: 1}
)");
    CHECK(bad_type.source == "vendor.yaml");
    CHECK(bad_type.line == 8);
    CHECK(bad_type.message == "heartbeat");
    CHECK(bad_type.field == "gun");
    CHECK(std::string(bad_type.what()) == "vendor.yaml:8: message heartbeat: field gun: unknown type \"bcdd\"");

    CHECK(load_error(std::string(ok_message) + "      - {name: volts, type: uint, size: 9}\n").line == 9);
    CHECK(std::string(load_error(std::string(ok_message) + "      - {name: volts, type: uint, size: 2, enum: nope}\n").what())
              .find("unknown enum \"nope\"") != std::string::npos);
    CHECK(std::string(load_error(std::string(ok_message) + "      - {name: gun, type: uint, size: 1}\n").what()).find("name given twice") !=
          std::string::npos);
    CHECK(std::string(load_error(std::string(ok_message) + "      - {name: x, type: uint, size: 1, colour: red}\n").what())
              .find("unknown key \"colour\"") != std::string::npos);
    CHECK(std::string(load_error(std::string(ok_message) + "    reply: nothing\n").what()).find("no message named \"nothing\"") !=
          std::string::npos);
    CHECK(std::string(load_error(std::string(ok_message) + std::string(ok_message).substr(11)).what()).find("code given twice") !=
          std::string::npos);
    auto syntax = load_error("messages: [ {code: 1, ");
    CHECK(std::string(syntax.what()).find("YAML syntax") != std::string::npos);
    auto bits = load_error(R"(
messages:
  - code: 0x1B
    name: errors
    direction: up
    fields:
      - name: status
        type: bits
        size: 1
        fields:
          - {name: a, shift: 0, width: 4}
          - {name: b, shift: 2, width: 2}
)");
    // layouts: lengths that the fields make, names that exist, pile and serial before them
    const std::string layouts = R"(
messages:
  - code: 0x3B
    name: record
    direction: up
    layouts: {8: short, 12: long}
    fields:
      - {name: pile, type: bcd, size: 7}
      - {name: a, type: uint, size: 1}
)";
    CHECK(std::string(load_error(layouts + "      - {name: b, type: uint, size: 5, layout: long}\n").what()) ==
          "vendor.yaml:6: message record: layout long says 12 bytes; its fields take 13");
    CHECK(std::string(load_error(layouts + "      - {name: b, type: uint, size: 4}\n").what()) ==
          "vendor.yaml:6: message record: layout short says 8 bytes; its fields take 12");
    CHECK(std::string(load_error(layouts + "      - {name: b, type: uint, size: 4, layout: longer}\n").what()) ==
          "vendor.yaml:10: message record: field b: no layout named \"longer\"");
    CHECK(std::string(
              load_error(layouts + "      - {name: b, type: uint, size: 4, layout: long}\n      - {name: serial, type: bcd, size: 16}\n")
                  .what())
              .find("pile and serial come before any field of some layouts") != std::string::npos);
    CHECK(std::string(load_error(std::string(ok_message) + "      - {name: b, type: uint, size: 1, layout: long}\n").what())
              .find("layout: the message has no layouts") != std::string::npos);
    CHECK(std::string(load_error(std::string(ok_message) + "    record: true\n").what()).find("a record goes up and names its reply") !=
          std::string::npos);
    CHECK(
        std::string(load_error(layouts + "      - {name: b, type: uint, size: 4, layout: []}\n").what()).find("name at least one layout") !=
        std::string::npos);
    CHECK(std::string(load_error(std::string(ok_message) + "    topic: error\n").what()).find("\"error\" is a topic of the bridge's own") !=
          std::string::npos);
    CHECK(std::string(load_error(R"(
messages:
  - code: 0x3B
    name: record
    direction: up
    reply: record_reply
    match: [serial]
    record: true
    fields:
      - {name: serial, type: bcd, size: 16}
  - code: 0x40
    name: record_reply
    direction: down
    fields:
      - {name: serial, type: bcd, size: 16}
)")
                          .what())
              .find("the reply record_reply needs a field result with the value success") != std::string::npos);
    CHECK(std::string(load_error(R"(
messages:
  - code: 0x45
    name: cards
    direction: up
    layouts: {7: none, 12: one}
    fields:
      - {name: pile, type: bcd, size: 7}
      - name: items
        type: group
        count: 1
        fields:
          - {name: x, type: uint, size: 5, layout: one}
)")
                          .what())
              .find("layout applies to a message's own fields, not to a member") != std::string::npos);
    CHECK(std::string(load_error(std::string(ok_message) + "      - {name: t, type: uint, size: 1, offset: -50, null_if: 256}\n").what())
              .find("null_if out of range") != std::string::npos);
    CHECK(bits.field == "status.b");
    CHECK(bits.line == 12);
    CHECK(std::string(bits.what()).find("overlap") != std::string::npos);
}

TEST_CASE("an overlay adds a vendor message and replaces a built-in one") {
    Catalogue cat = *Catalogue::builtin();
    cat.overlay(R"(
enums:
  vendor_state: {0: idle, 1: busy}
messages:
  - code: 0x3F
    name: vendor_status
    direction: up
    fields:
      - {name: pile, type: bcd, size: 7}
      - {name: gun, type: bcd_int, size: 1}
      - {name: state, type: uint, size: 1, enum: vendor_state}
      - {name: power, type: uint, size: 2, scale: 1, unit: kW}
  - code: 0x03
    name: heartbeat
    direction: up
    reply: heartbeat_reply
    fields:
      - {name: pile, type: bcd, size: 7}
      - {name: gun, type: bcd_int, size: 1}
      - {name: gun_status, type: uint, size: 1, enum: {0: normal, 1: fault, 2: maintenance}}
)",
                "vendor.yaml");
    CHECK(cat.messages().size() == 53);
    Codec codec(std::make_shared<const Catalogue>(cat));
    auto v = codec.decode(test::frame(test::build("0001 00 3F 32010200000001 02 01 E803")).view());
    CHECK(v["type"] == "vendor_status");
    CHECK(v["data"] == json::parse(R"({"gun":2,"state":"busy","power":100})"));
    auto h = codec.decode(test::frame(test::build("0001 00 03 32010200000001 01 02")).view());
    CHECK(h["data"]["gun_status"] == "maintenance");
    // the built-in catalogue is untouched
    CHECK(Catalogue::builtin()->find(0x3F) == nullptr);
}

TEST_CASE("the message reference lists every message") {
    const std::string md = Catalogue::builtin()->reference_markdown();
    for (const auto& m : Catalogue::builtin()->messages()) CHECK(md.find("\n## " + m.name + "\n") != std::string::npos);
    CHECK(md.find("| voltage | uint | 2 | V | resolution 0.1 |") != std::string::npos);
}

TEST_CASE("overlay fields the built-in catalogue does not use: ASCII padded with spaces, 8-byte integers with decimals") {
    Catalogue cat = *Catalogue::builtin();
    cat.overlay(R"(
messages:
  - code: 0x3E
    name: vendor_meter
    direction: up
    fields:
      - {name: pile, type: bcd, size: 7}
      - {name: label, type: ascii, size: 6, pad: space}
      - {name: total, type: uint, size: 8, scale: 2, unit: kWh}
)",
                "vendor.yaml");
    Codec codec(std::make_shared<const Catalogue>(cat));
    // "AB" padded with spaces; 2^64 - 1 hundredths, beyond what a double holds: the decoded JSON
    // text (what the bridge publishes and `decode` prints) is exact
    const std::string hex = test::build("0001 00 3E 32010200000001 414220202020 FFFFFFFFFFFFFFFF");
    std::string text;
    codec.decode_to(test::frame(hex).view(), text);
    CHECK(text.find(R"("label":"AB")") != std::string::npos);
    CHECK(text.find(R"("total":184467440737095516.15)") != std::string::npos);
    // a JSON number read back is a double: exact to 15 significant digits (every built-in field
    // fits: the widest is 5 bytes)
    auto in = json::parse(R"({"type":"vendor_meter","pile":"32010200000001","seq":"0001","data":{"label":"X","total":1234567890123.45}})");
    const auto frame = codec.encode(in);
    CHECK(ykc::to_hex(frame) == test::build("0001 00 3E 32010200000001 582020202020 79DF0D8648700000"));
    CHECK(codec.decode(FrameView{frame})["data"]["total"].dump() == "1234567890123.45");
}
