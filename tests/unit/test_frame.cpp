// The incremental frame reader and the frame writer.
#include "support.hpp"
#include "ykc/crc.hpp"

using namespace ykc;

namespace {

const std::string heartbeat = "680D0300000300624100001201010075FA";  // real capture
const std::string login = "6822000000011000100100000101010F312E31302E323300010000000000000000000004D1AA";

struct Collected {
    std::vector<Frame> frames;
    std::vector<DroppedBytes> dropped;
};

Collected drain(FrameReader& r) {
    Collected c;
    while (auto e = r.next()) {
        if (auto* f = std::get_if<Frame>(&*e)) c.frames.push_back(std::move(*f));
        else c.dropped.push_back(std::get<DroppedBytes>(std::move(*e)));
    }
    return c;
}

Collected read_all(const std::vector<std::uint8_t>& input, std::size_t chunk = SIZE_MAX) {
    FrameReader r;
    Collected all;
    for (std::size_t i = 0; i < input.size(); i += chunk) {
        const std::size_t n = std::min(chunk, input.size() - i);
        r.feed(std::span(input).subspan(i, n));
        auto c = drain(r);
        for (auto& f : c.frames) all.frames.push_back(std::move(f));
        for (auto& d : c.dropped) all.dropped.push_back(std::move(d));
    }
    r.finish();
    auto c = drain(r);
    for (auto& f : c.frames) all.frames.push_back(std::move(f));
    for (auto& d : c.dropped) all.dropped.push_back(std::move(d));
    return all;
}

std::vector<std::uint8_t> cat(std::initializer_list<std::string> hexes) {
    std::vector<std::uint8_t> out;
    for (const auto& h : hexes) {
        auto b = test::bytes(h);
        out.insert(out.end(), b.begin(), b.end());
    }
    return out;
}

}  // namespace

TEST_CASE("CRC-16/MODBUS over seq..body, low byte first") {
    const auto b = test::bytes(heartbeat);
    CHECK(crc16_modbus(std::span(b).subspan(2, b.size() - 4)) == 0xFA75);
    CHECK(crc16_modbus(test::bytes("313233343536373839")) == 0x4B37);  // the CRC catalogue check value
}

TEST_CASE("write_frame builds length, seq, flag, type, body and CRC in either order") {
    const auto body = test::bytes("00624100001201 01 00");
    CHECK(to_hex(write_frame(0x03, {0x03, 0x00}, 0, body)) == heartbeat);
    CHECK(to_hex(write_frame(0x03, {0x03, 0x00}, 0, body, CrcOrder::high_first)) == "680D03000003006241000012010100FA75");
    std::vector<std::uint8_t> too_big(252, 1);
    CHECK_THROWS_AS(write_frame(0x13, {0, 0}, 0, too_big), std::length_error);
    std::vector<std::uint8_t> biggest(251, 1);
    CHECK(write_frame(0x13, {0, 0}, 0, biggest)[1] == 0xFF);
}

TEST_CASE("a frame split at every byte position is read whole") {
    const auto b = test::bytes(login);
    for (std::size_t cut = 1; cut < b.size(); ++cut) {
        CAPTURE(cut);
        FrameReader r;
        r.feed(std::span(b).first(cut));
        auto first = drain(r);
        CHECK(first.frames.empty());
        CHECK(first.dropped.empty());
        r.feed(std::span(b).subspan(cut));
        auto second = drain(r);
        REQUIRE(second.frames.size() == 1);
        CHECK(to_hex(second.frames[0].bytes) == login);
        CHECK(second.dropped.empty());
    }
}

TEST_CASE("byte-by-byte and coalesced input give the same frames") {
    const auto input = cat({login, heartbeat, heartbeat, login});
    for (std::size_t chunk : {std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{64}, SIZE_MAX}) {
        CAPTURE(chunk);
        auto c = read_all(input, chunk);
        REQUIRE(c.frames.size() == 4);
        CHECK(to_hex(c.frames[0].bytes) == login);
        CHECK(to_hex(c.frames[1].bytes) == heartbeat);
        CHECK(to_hex(c.frames[3].bytes) == login);
        CHECK(c.dropped.empty());
    }
}

TEST_CASE("frame accessors") {
    auto f = test::frame(heartbeat);
    CHECK(f.type() == 0x03);
    CHECK(f.flag() == 0x00);
    CHECK(f.seq() == Seq{0x03, 0x00});
    CHECK(to_hex(f.body()) == "006241000012010100");  // pile, gun
    CHECK(f.crc_order == CrcOrder::low_first);
}

TEST_CASE("garbage before the start byte is dropped and reported") {
    auto c = read_all(cat({"0102030405", heartbeat}));
    REQUIRE(c.frames.size() == 1);
    REQUIRE(c.dropped.size() == 1);
    CHECK(to_hex(c.dropped[0].bytes) == "0102030405");
    CHECK(c.dropped[0].count == 5);
    CHECK(c.dropped[0].reason == "garbage before start byte 0x68");
}

TEST_CASE("garbage between frames is reported once per stretch, before the next frame") {
    FrameReader r;
    r.feed(cat({heartbeat, "AABBCC", login}));
    auto e1 = r.next();
    REQUIRE(std::holds_alternative<Frame>(*e1));
    auto e2 = r.next();
    REQUIRE(std::holds_alternative<DroppedBytes>(*e2));
    CHECK(to_hex(std::get<DroppedBytes>(*e2).bytes) == "AABBCC");
    auto e3 = r.next();
    REQUIRE(std::holds_alternative<Frame>(*e3));
    CHECK(to_hex(std::get<Frame>(*e3).bytes) == login);
    CHECK(!r.next());
}

TEST_CASE("a bad CRC drops one byte and the reader resyncs on the next frame") {
    std::string bad = heartbeat;
    bad[bad.size() - 1] = '0';  // 75F0
    auto c = read_all(cat({bad, heartbeat}));
    REQUIRE(c.frames.size() == 1);
    CHECK(to_hex(c.frames[0].bytes) == heartbeat);
    REQUIRE(c.dropped.size() == 1);
    CHECK(c.dropped[0].count == bad.size() / 2);
    CHECK(c.dropped[0].reason.find("bad CRC") == 0);
    // both in wire order: what came, and what the bytes give (low byte first, the standard)
    CHECK(c.dropped[0].reason.find("the frame carries 75F0, its bytes give 75FA (or FA75 high byte first)") != std::string::npos);
    CHECK(to_hex(c.dropped[0].bytes) == bad);
}

TEST_CASE("a CRC sent high byte first is accepted and reported") {
    auto c = read_all(test::bytes("680D03000003006241000012010100FA75"));
    REQUIRE(c.frames.size() == 1);
    CHECK(c.frames[0].crc_order == CrcOrder::high_first);
    CHECK(check_crc(test::bytes(heartbeat)) == CrcOrder::low_first);
    CHECK(!check_crc(test::bytes("680D03000003006241000012010100FA76")));
}

TEST_CASE("an impossible length byte (< 4) drops the start byte") {
    for (int len = 0; len < 4; ++len) {
        CAPTURE(len);
        std::vector<std::uint8_t> input = {0x68, static_cast<std::uint8_t>(len)};
        auto hb = test::bytes(heartbeat);
        input.insert(input.end(), hb.begin(), hb.end());
        auto c = read_all(input);
        REQUIRE(c.frames.size() == 1);
        CHECK(to_hex(c.frames[0].bytes) == heartbeat);
        REQUIRE(!c.dropped.empty());
        CHECK(c.dropped[0].reason.find("impossible length") == 0);
    }
}

TEST_CASE("a length byte larger than the frame: the stream is not stalled when a valid frame follows") {
    // 0x68 0xFF claims 259 bytes; a complete heartbeat follows right behind it.
    auto input = cat({"68FF0000", heartbeat});
    FrameReader r;
    r.feed(input);
    auto c = drain(r);
    REQUIRE(c.frames.size() == 1);
    CHECK(to_hex(c.frames[0].bytes) == heartbeat);
    REQUIRE(c.dropped.size() == 1);
    CHECK(to_hex(c.dropped[0].bytes) == "68FF0000");
    CHECK(c.dropped[0].reason.find("incomplete frame") == 0);
}

TEST_CASE("a frame truncated at the end of input is reported by finish()") {
    const auto b = test::bytes(login);
    FrameReader r;
    r.feed(std::span(b).first(20));
    CHECK(!r.next());
    CHECK(r.buffered() == 20);
    r.finish();
    auto e = r.next();
    REQUIRE(e);
    const auto& d = std::get<DroppedBytes>(*e);
    CHECK(d.count == 20);
    CHECK(d.reason == "incomplete frame at end of input");
    CHECK(r.buffered() == 0);
}

TEST_CASE("the encryption flag and unknown types are framing-valid: the reader passes them on") {
    auto c = read_all(test::bytes(test::build("0000 01 03 00624100001201 0100")));
    REQUIRE(c.frames.size() == 1);
    CHECK(c.frames[0].flag() == 1);
    auto u = read_all(test::bytes(test::build("0000 00 3A 0102")));
    REQUIRE(u.frames.size() == 1);
    CHECK(u.frames[0].type() == 0x3A);
}

TEST_CASE("long garbage is reported in bounded stretches and memory stays bounded") {
    std::vector<std::uint8_t> junk(10000, 0x55);
    FrameReader r;
    std::size_t dropped = 0, events = 0;
    for (int i = 0; i < 10; ++i) {
        r.feed(junk);
        auto c = drain(r);
        for (const auto& d : c.dropped) {
            CHECK(d.bytes.size() <= FrameReader::max_kept);
            dropped += d.count;
            ++events;
        }
        CHECK(r.buffered() == 0);
    }
    CHECK(dropped == 100000);
    CHECK(events == 10);  // one report per chunk of garbage, not one per byte
    CHECK(r.dropped_bytes() == 100000);
}

TEST_CASE("a stream of 0x68 bytes yields nothing and stays bounded") {
    std::vector<std::uint8_t> starts(5000, 0x68);
    FrameReader r;
    r.feed(starts);
    auto c = drain(r);
    CHECK(c.frames.empty());
    CHECK(r.buffered() <= max_frame_size);
    r.feed(test::bytes(heartbeat));
    auto d = drain(r);
    // 0x68 0x68 claims a 108-byte frame; the heartbeat behind it is found by looking ahead
    REQUIRE(d.frames.size() == 1);
    CHECK(to_hex(d.frames[0].bytes) == heartbeat);
}

TEST_CASE("Fifo: first in first out, storage reused once drained, compacted when half is taken") {
    ykc::Fifo<std::vector<std::uint8_t>> q;
    CHECK(q.empty());
    CHECK(q.size() == 0);
    // a steady trickle that never drains: order kept across the compactions
    int next_in = 0, next_out = 0;
    for (int round = 0; round < 1000; ++round) {
        q.push_back({static_cast<std::uint8_t>(next_in & 0xFF), static_cast<std::uint8_t>(next_in >> 8)});
        ++next_in;
        q.emplace_back(std::vector<std::uint8_t>{static_cast<std::uint8_t>(next_in & 0xFF), static_cast<std::uint8_t>(next_in >> 8)});
        ++next_in;
        REQUIRE(q.front().size() == 2);
        CHECK(q.front()[0] + 256 * q.front()[1] == next_out);
        q.pop_front();
        ++next_out;
    }
    CHECK(q.size() == 1000);
    // q[i] is the i-th from the front (Session writes the first few in one go)
    CHECK(q[0] == q.front());
    CHECK(q[999][0] + 256 * q[999][1] == next_in - 1);
    // a buffer handed out by front() keeps its bytes while more is pushed (Session writes from it)
    const std::uint8_t* data = q.front().data();
    for (int i = 0; i < 5000; ++i) q.push_back({1, 2, 3});
    CHECK(q.front().data() == data);
    while (!q.empty()) {
        if (q.size() > 5000) CHECK(q.front()[0] + 256 * q.front()[1] == next_out++);
        q.pop_front();
    }
    CHECK(next_out == 2000);
    CHECK(q.size() == 0);
    q.push_back({7});
    CHECK(q.front() == std::vector<std::uint8_t>{7});
    q.clear();
    CHECK(q.empty());
}
