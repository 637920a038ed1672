// Malformed input: every case gives a specific result, never a crash.
#include <random>

#include "support.hpp"

using namespace ykc;
using test::json;

namespace {

DecodeError decode_error(const std::string& hex) {
    try {
        test::codec().decode(test::frame(hex).view());
    } catch (const DecodeError& e) {
        return e;
    }
    FAIL("decoded without error: " << hex);
    throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("a body shorter than the layout names the message and the field") {
    // realtime with its body cut after the gun_temperature byte (32 of 60 bytes)
    const std::string serial = "32010200000001011511161555350260";
    auto e = decode_error(test::build("0000 00 13 " + serial + " 32010200000001 01 03 01 01 3A1D AD0D 5A"));
    CHECK(e.kind == DecodeError::Kind::short_body);
    CHECK(e.message == "realtime");
    CHECK(e.field == "gun_line_code");
    CHECK(std::string(e.what()) == "realtime: body is 32 bytes; field gun_line_code needs bytes 32…39");
    auto empty = decode_error(test::build("0000 00 03"));
    CHECK(empty.field == "pile");
}

TEST_CASE("unknown frame types are reported with their code") {
    auto e = decode_error(test::build("0000 00 3F 32010200000001 01"));
    CHECK(e.kind == DecodeError::Kind::unknown_type);
    CHECK(e.code == 0x3F);
    CHECK(std::string(e.what()) == "unknown frame type 0x3F");
}

TEST_CASE("an encryption flag other than 0 and 1") {
    auto e = decode_error(test::build("0000 07 03 00624100001201 0100"));
    CHECK(e.kind == DecodeError::Kind::bad_flag);
    CHECK(std::string(e.what()) == "heartbeat: unknown encryption flag 0x07");
}

TEST_CASE("a count byte larger than the frame holds (0x44 with 200 cards)") {
    auto e = decode_error(test::build("0007 00 44 32010200000001 C8 0000000010000001 00000000D14B0A54"));
    CHECK(e.kind == DecodeError::Kind::bad_count);
    CHECK(e.field == "cards");
    CHECK(std::string(e.what()).find("count byte says 200 items") != std::string::npos);
    // an oversized count that still fits the frame decodes (the max of 15 is the encoder's limit)
    std::string cards;
    for (int i = 0; i < 15; ++i) cards += "0000000010000001 00000000D14B0A54 ";
    auto ok = test::decode(test::build("0007 00 44 32010200000001 0F " + cards));
    CHECK(ok["data"]["cards"].size() == 15);
}

TEST_CASE("a record body with a partial trailing item keeps the bytes as extra") {
    auto d = test::decode(test::build("0007 00 47 32010200000001 00000000D14B0A54 01 00000000E1"));
    CHECK(d["data"]["cards"].size() == 1);
    CHECK(d["data"]["extra"] == "00000000E1");
}

TEST_CASE("garbage, bad CRC, bad length and truncation mixed into a stream: good frames survive") {
    const std::string hb = "680D0300000300624100001201010075FA";
    const std::string login = "6822000000011000100100000101010F312E31302E323300010000000000000000000004D1AA";
    std::string bad_crc = hb;
    bad_crc[bad_crc.size() - 2] = '0';
    const std::string stream = "FFFF" + hb + bad_crc + "6802" + login + "00" + hb + login.substr(0, 30);
    FrameReader r;
    r.feed(test::bytes(stream));
    r.finish();
    std::vector<std::string> frames, reasons;
    while (auto e = r.next()) {
        if (auto* f = std::get_if<Frame>(&*e)) frames.push_back(to_hex(f->bytes));
        else reasons.push_back(std::get<DroppedBytes>(*e).reason);
    }
    CHECK(frames == std::vector<std::string>{hb, login, hb});
    REQUIRE(reasons.size() == 5);
    CHECK(reasons[0] == "garbage before start byte 0x68");
    CHECK(reasons[1].find("bad CRC") == 0);
    CHECK(reasons[2].find("impossible length") == 0);
    CHECK(reasons[3] == "garbage before start byte 0x68");
    CHECK(reasons[4] == "incomplete frame at end of input");
}

TEST_CASE("every length byte value on a heartbeat body: never a crash, a frame only when it fits") {
    for (int len = 0; len < 256; ++len) {
        CAPTURE(len);
        auto b = test::bytes("680D0300000300624100001201010075FA");
        b[1] = static_cast<std::uint8_t>(len);
        FrameReader r;
        r.feed(b);
        r.finish();
        int frames = 0;
        while (auto e = r.next()) frames += std::holds_alternative<Frame>(*e);
        CHECK(frames == (len == 0x0D ? 1 : 0));
    }
}

// ≥ 100,000 mutated frames through the reader and the decoder. A frame that decodes must
// re-encode to the same JSON or be refused with an EncodeError; nothing else may happen.
TEST_CASE("randomized mutation: over 100,000 mutated frames through reader, decoder and encoder") {
    std::vector<std::vector<std::uint8_t>> corpus;
    for (const auto& row : test::tsv("real-frames.tsv")) corpus.push_back(test::bytes(row.hex));
    for (const auto& m : Catalogue::builtin()->messages()) {
        std::vector<std::uint8_t> body(m.fixed_size + (m.variable ? 20 : 0));
        for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<std::uint8_t>(i * 37 + m.code);
        corpus.push_back(write_frame(m.code, {1, 2}, 0, body));
    }
    std::mt19937 rng(20261124);
    auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
    std::size_t frames = 0, decoded = 0, reencoded = 0, refused = 0;
    const int iterations = 230000;  // about 100,000 of them come out as complete frames
    for (int it = 0; it < iterations; ++it) {
        std::vector<std::uint8_t> b = corpus[pick(corpus.size())];
        const int mutations = 1 + static_cast<int>(pick(4));
        for (int k = 0; k < mutations; ++k) {
            switch (pick(6)) {
                case 0: b[pick(b.size())] ^= static_cast<std::uint8_t>(1u << pick(8)); break;
                case 1: b[pick(b.size())] = static_cast<std::uint8_t>(pick(256)); break;
                case 2: b.insert(b.begin() + static_cast<std::ptrdiff_t>(pick(b.size() + 1)), static_cast<std::uint8_t>(pick(256))); break;
                case 3:
                    if (b.size() > 1) b.erase(b.begin() + static_cast<std::ptrdiff_t>(pick(b.size())));
                    break;
                case 4: b.resize(pick(b.size() + 1)); break;
                case 5:
                    if (b.size() > 1) b[1] = static_cast<std::uint8_t>(pick(256));
                    break;
            }
            if (b.empty()) b.push_back(0x68);
        }
        // half of the time repair length and CRC so the mutation reaches the decoder
        if (pick(2) == 0 && b.size() >= 6 && b.size() <= max_frame_size) {
            std::vector<std::uint8_t> body(b.begin() + 6, b.end() - std::min<std::ptrdiff_t>(2, static_cast<std::ptrdiff_t>(b.size()) - 6));
            if (body.size() <= max_body_size) b = write_frame(b[5], {b[2], b[3]}, pick(8) == 0 ? b[4] : 0, body);
        }
        FrameReader r;
        for (std::size_t i = 0; i < b.size();) {
            const std::size_t n = 1 + pick(b.size() - i);
            r.feed(std::span(b).subspan(i, n));
            i += n;
        }
        r.finish();
        while (auto e = r.next()) {
            auto* f = std::get_if<Frame>(&*e);
            if (!f) continue;
            ++frames;
            json first;
            try {
                first = test::codec().decode(f->view());
            } catch (const DecodeError&) {
                continue;
            }
            ++decoded;
            try {
                const auto again = test::codec().encode(first);
                const json second = test::codec().decode(test::frame(to_hex(again)).view());
                if (second != first) FAIL_CHECK("re-encoding changed " << first.dump() << " into " << second.dump());
                ++reencoded;
            } catch (const EncodeError&) {
                ++refused;  // e.g. an impossible date the encoder will not write
            }
        }
    }
    MESSAGE("frames " << frames << ", decoded " << decoded << ", re-encoded " << reencoded << ", refused " << refused);
    CHECK(frames >= 100000);
    CHECK(decoded > iterations / 10);
    CHECK(reencoded > decoded / 2);
}
