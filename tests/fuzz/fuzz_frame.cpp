// libFuzzer target: a byte stream through ykc::FrameReader, every frame through the decoder, every
// decoded frame back through the encoder.
//
// Input: one control byte, then the stream.
//   control & 0x3F  largest chunk fed at once (0: the whole stream in one feed()); the chunk
//                   sizes are drawn from 1 … that by a generator seeded with the control byte and
//                   the stream length, so a mutation of the control byte re-splits the stream
//   control & 0x40  call flush_dropped() after each chunk (as the bridge does)
//   control & 0x80  repair CRCs first: from the start, each 0x68 whose length byte is possible
//                   and whose frame fits gets a valid CRC (low byte first) and the scan goes on
//                   after it. Mutations then reach the decoder instead of dying at the CRC.
// Every run also feeds an empty chunk first.
//
// Checked, besides "no crash, no sanitizer report, no leak":
//   - the events tile the stream: frames and dropped stretches come in input order, each frame
//     is the bytes at its place in the stream, each dropped stretch keeps exactly its first
//     min(count, max_kept) bytes, nothing is reported twice and nothing is skipped
//   - accounting after every chunk: bytes fed = bytes in frames + dropped_bytes() + buffered();
//     frames() = frames taken; what is left buffered is one incomplete candidate starting with
//     0x68 and shorter than max_frame_size; after finish() nothing is left and every dropped
//     byte has been reported
//   - every frame has a possible length byte, length + 4 bytes and the CRC order the reader says
//   - decode_to either appends one valid JSON object whose type, code and seq are the frame's,
//     or throws DecodeError and leaves the output string as it was
//   - a decoded frame re-encodes (Codec::encode of its JSON) to one valid frame that decodes to
//     the same JSON, or the encoder refuses it with EncodeError
// Any other exception is a failure.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz_check.hpp"
#include "ykc/codec.hpp"
#include "ykc/crc.hpp"
#include "ykc/frame.hpp"
#include "ykc/hex.hpp"

namespace {

using nlohmann::json;
using ykc::FrameReader;

const ykc::Codec& codec() {
    static const ykc::Codec c;
    return c;
}

std::string hex2(std::uint8_t b) { return {ykc::hex_digits_upper[b >> 4], ykc::hex_digits_upper[b & 0x0F]}; }

// Exactly one frame and nothing dropped from bytes that the encoder wrote.
ykc::Frame only_frame(const std::vector<std::uint8_t>& bytes, const json& from) {
    FrameReader r;
    r.feed(bytes);
    r.finish();
    auto e = r.next();
    FUZZ_CHECK(e && std::holds_alternative<ykc::Frame>(*e),
               "the encoder wrote bytes the reader does not take as a frame: " << ykc::to_hex(bytes) << " from " << from.dump());
    FUZZ_CHECK(!r.next(), "the encoder wrote more than one frame: " << ykc::to_hex(bytes));
    auto f = std::get<ykc::Frame>(std::move(*e));
    FUZZ_CHECK(f.bytes == bytes, "reader and encoder disagree on " << ykc::to_hex(bytes));
    return f;
}

void decode_and_reencode(const ykc::Frame& f) {
    const std::string prefix = "[prefix]";
    std::string out = prefix;
    try {
        codec().decode_to(f.view(), out);
    } catch (const ykc::DecodeError& e) {
        FUZZ_CHECK(out == prefix, "decode_to changed its output on error (" << e.what() << ")");
        FUZZ_CHECK(e.code == f.type(), "DecodeError names code " << int(e.code) << " for frame type " << int(f.type()));
        return;
    } catch (const std::exception& e) {
        ykc_fuzz::unexpected(__FILE__, __LINE__, "decode_to", e);
    }
    FUZZ_CHECK(out.compare(0, prefix.size(), prefix) == 0, "decode_to did not append");
    const std::string text = out.substr(prefix.size());
    const json first = json::parse(text, nullptr, false);
    FUZZ_CHECK(!first.is_discarded() && first.is_object(), "decode wrote invalid JSON: " << text);
    const ykc::Message* m = codec().catalogue().find(f.type());
    FUZZ_CHECK(m, "decoded a frame of unknown type " << int(f.type()));
    FUZZ_CHECK(first.value("type", json()) == m->name, "type of " << text);
    FUZZ_CHECK(first.value("code", json()) == "0x" + hex2(f.type()), "code of " << text);
    FUZZ_CHECK(first.value("seq", json()) == hex2(f.bytes[2]) + hex2(f.bytes[3]), "seq of " << text);
    FUZZ_CHECK(first.value("data", json()).is_object(), "data of " << text);

    std::vector<std::uint8_t> again;
    try {
        again = codec().encode(first);
    } catch (const ykc::EncodeError&) {
        return;  // refused (e.g. a date the encoder does not write); that is allowed
    } catch (const std::exception& e) {
        ykc_fuzz::unexpected(__FILE__, __LINE__, "encode(decode(frame))", e);
    }
    const ykc::Frame g = only_frame(again, first);
    json second;
    try {
        second = codec().decode(g.view());
    } catch (const std::exception& e) {
        ykc_fuzz::fail(
            __FILE__, __LINE__, "decode(encode(decode(frame)))",
            std::string(e.what()) + "\n     frame " + ykc::to_hex(f.bytes) + "\n     json  " + text + "\n     again " + ykc::to_hex(again));
    }
    FUZZ_CHECK(second == first, "round trip changed the JSON\n     frame  " << ykc::to_hex(f.bytes) << "\n     first  " << first.dump()
                                                                            << "\n     second " << second.dump() << "\n     again  "
                                                                            << ykc::to_hex(again));
}

struct Tiling {
    std::span<const std::uint8_t> stream;
    std::size_t fed = 0;            // bytes given to feed()
    std::size_t cursor = 0;         // bytes accounted for by events taken so far
    std::size_t frame_bytes = 0;    // of which in frames
    std::size_t reported_drop = 0;  // of which in DroppedBytes
    std::uint64_t frames = 0;

    void take(const FrameReader::Event& e) {
        if (const auto* f = std::get_if<ykc::Frame>(&e)) {
            const auto& b = f->bytes;
            FUZZ_CHECK(b.size() >= 8 && b.size() <= ykc::max_frame_size, "frame of " << b.size() << " bytes");
            FUZZ_CHECK(b[0] == ykc::start_byte && b[1] >= ykc::min_length_byte && b.size() == b[1] + 4u,
                       "frame with length byte " << int(b[1]) << " and " << b.size() << " bytes");
            FUZZ_CHECK(cursor + b.size() <= fed && std::memcmp(stream.data() + cursor, b.data(), b.size()) == 0,
                       "frame " << ykc::to_hex(b) << " is not the stream at offset " << cursor);
            const auto order = ykc::check_crc(b);
            FUZZ_CHECK(order && *order == f->crc_order, "frame " << ykc::to_hex(b) << " with a wrong CRC or CRC order");
            cursor += b.size();
            frame_bytes += b.size();
            ++frames;
            decode_and_reencode(*f);
        } else {
            const auto& d = std::get<ykc::DroppedBytes>(e);
            FUZZ_CHECK(d.count > 0, "an empty dropped stretch (" << d.reason << ")");
            FUZZ_CHECK(!d.reason.empty(), "a dropped stretch without a reason");
            FUZZ_CHECK(d.bytes.size() == std::min(d.count, FrameReader::max_kept),
                       "dropped stretch of " << d.count << " bytes keeps " << d.bytes.size());
            FUZZ_CHECK(cursor + d.count <= fed && std::memcmp(stream.data() + cursor, d.bytes.data(), d.bytes.size()) == 0,
                       "dropped bytes " << ykc::to_hex(d.bytes) << " (" << d.count << ", " << d.reason << ") are not the stream at offset "
                                        << cursor);
            cursor += d.count;
            reported_drop += d.count;
        }
    }

    void drain(FrameReader& r) {
        while (auto e = r.next()) take(*e);
        FUZZ_CHECK(fed == frame_bytes + r.dropped_bytes() + r.buffered(), "accounting: fed " << fed << " != frames " << frame_bytes
                                                                                             << " + dropped " << r.dropped_bytes()
                                                                                             << " + buffered " << r.buffered());
        FUZZ_CHECK(r.frames() == frames, "frames() says " << r.frames() << ", " << frames << " taken");
        FUZZ_CHECK(reported_drop <= r.dropped_bytes(), "more dropped bytes reported than dropped");
        // what is still pending is one incomplete candidate: 0x68, shorter than a maximal frame
        FUZZ_CHECK(r.buffered() < ykc::max_frame_size, "buffered " << r.buffered() << " bytes");
        if (r.buffered() > 0) FUZZ_CHECK(stream[fed - r.buffered()] == ykc::start_byte, "pending bytes do not start with 0x68");
        // the unreported dropped bytes are the ones just before the pending candidate
        FUZZ_CHECK(cursor + (r.dropped_bytes() - reported_drop) + r.buffered() == fed,
                   "events cover " << cursor << " bytes, " << (r.dropped_bytes() - reported_drop) << " dropped unreported, " << r.buffered()
                                   << " pending, " << fed << " fed");
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t control = data[0];
    const std::size_t max_chunk = control & 0x3F;
    const bool flush_each = control & 0x40, repair = control & 0x80;
    std::vector<std::uint8_t> bytes(data + 1, data + size);
    if (repair) {
        for (std::size_t p = 0; p + 2 <= bytes.size();) {
            const std::size_t total = std::size_t{bytes[p + 1]} + 4;
            if (bytes[p] != ykc::start_byte || bytes[p + 1] < ykc::min_length_byte || p + total > bytes.size()) {
                ++p;
                continue;
            }
            const std::uint16_t crc = ykc::crc16_modbus(std::span(bytes).subspan(p + 2, total - 4));
            bytes[p + total - 2] = static_cast<std::uint8_t>(crc & 0xFF);
            bytes[p + total - 1] = static_cast<std::uint8_t>(crc >> 8);
            p += total;
        }
    }
    const std::span<const std::uint8_t> stream(bytes);

    FrameReader r;
    Tiling t{stream};
    std::uint32_t state = 0x9E3779B9u ^ (std::uint32_t{control} << 16) ^ static_cast<std::uint32_t>(stream.size());
    auto next_chunk = [&](std::size_t left) -> std::size_t {
        if (max_chunk == 0) return left;
        state ^= state << 13, state ^= state >> 17, state ^= state << 5;  // xorshift32
        return std::min<std::size_t>(left, 1 + state % max_chunk);
    };
    try {
        r.feed({});
        t.drain(r);
        while (t.fed < stream.size()) {
            const std::size_t n = next_chunk(stream.size() - t.fed);
            r.feed(stream.subspan(t.fed, n));
            t.fed += n;
            t.drain(r);
            if (flush_each) {
                r.flush_dropped();
                t.drain(r);
                FUZZ_CHECK(t.reported_drop == r.dropped_bytes(), "flush_dropped() left dropped bytes unreported");
            }
        }
        r.finish();
        t.drain(r);
        FUZZ_CHECK(r.buffered() == 0, "finish() left " << r.buffered() << " bytes buffered");
        FUZZ_CHECK(t.reported_drop == r.dropped_bytes(), "finish() left dropped bytes unreported");
        FUZZ_CHECK(t.cursor == stream.size(), "events cover " << t.cursor << " of " << stream.size() << " bytes");
        // the reader is reusable after finish(): the same stream again gives the same frames
        const std::uint64_t frames_before = r.frames();
        r.feed(stream);
        r.finish();
        std::uint64_t again = 0;
        while (auto e = r.next()) again += std::holds_alternative<ykc::Frame>(*e);
        FUZZ_CHECK(max_chunk != 0 || again == frames_before, "a second pass found " << again << " frames, the first " << frames_before);
    } catch (const std::exception& e) {
        ykc_fuzz::unexpected(__FILE__, __LINE__, "FrameReader", e);
    }
    return 0;
}
