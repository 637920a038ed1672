// libFuzzer target: JSON commands through the encoder (Codec::encode), the way MQTT commands
// reach it.
//
// Each input is tried two ways:
//   (a) the whole input as an envelope ({"type":…,"code":…,"pile":…,"seq":…,"data":{…}});
//   (b) the first byte picks a downlink message of the catalogue (byte % count, in code order),
//       the rest is its `data`, sent as {"type":name,"pile":"32010200000001","seq":"0001","data":…}.
// Text that is not JSON (nlohmann::json::parse with allow_exceptions=false) is skipped.
//
// Checked, besides "no crash, no sanitizer report, no leak":
//   - encode either throws ykc::EncodeError with a message, or returns bytes that are exactly one
//     CRC-valid frame of at most max_frame_size bytes (the reader drops nothing)
//   - those bytes decode without error, to the message named (in (b): type, seq "0001", and the
//     envelope's pile when the message carries one)
//   - what they decode to encodes again to the very same bytes (decoded JSON is canonical: the
//     encoder accepts everything the decoder writes for its own frames)
// Any other exception is a failure.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz_check.hpp"
#include "ykc/codec.hpp"
#include "ykc/frame.hpp"
#include "ykc/hex.hpp"

namespace {

using nlohmann::json;

const ykc::Codec& codec() {
    static const ykc::Codec c;
    return c;
}

const std::vector<const ykc::Message*>& downlink() {
    static const std::vector<const ykc::Message*> list = [] {
        std::vector<const ykc::Message*> v;
        for (const auto& m : codec().catalogue().messages())
            if (m.direction == ykc::Direction::down) v.push_back(&m);
        return v;
    }();
    return list;
}

void encode_and_check(const json& envelope, const ykc::Message* expected) {
    std::vector<std::uint8_t> bytes;
    try {
        bytes = codec().encode(envelope);
    } catch (const ykc::EncodeError& e) {
        FUZZ_CHECK(*e.what() != '\0', "EncodeError without a message");
        return;
    } catch (const std::exception& e) {
        ykc_fuzz::fail(__FILE__, __LINE__, "encode", std::string("unexpected exception: ") + e.what() + "\n     from " + envelope.dump());
    }
    const std::string hex = ykc::to_hex(bytes);
    FUZZ_CHECK(bytes.size() >= 8 && bytes.size() <= ykc::max_frame_size, "encoded " << bytes.size() << " bytes: " << hex);

    ykc::FrameReader r;
    r.feed(bytes);
    r.finish();
    auto e = r.next();
    FUZZ_CHECK(e && std::holds_alternative<ykc::Frame>(*e), "not a frame: " << hex << "\n     from " << envelope.dump());
    FUZZ_CHECK(!r.next(), "more than a frame: " << hex);
    const auto& frame = std::get<ykc::Frame>(*e);
    FUZZ_CHECK(frame.bytes == bytes, "the reader took " << ykc::to_hex(frame.bytes) << " of " << hex);

    json back;
    try {
        back = codec().decode(frame.view());
    } catch (const std::exception& x) {
        ykc_fuzz::fail(__FILE__, __LINE__, "decode(encode(json))",
                       std::string(x.what()) + "\n     from  " + envelope.dump() + "\n     frame " + hex);
    }
    if (expected) {
        FUZZ_CHECK(back["type"] == expected->name, "asked for " << expected->name << ", got " << back.dump());
        FUZZ_CHECK(back["seq"] == "0001", "seq 0001 came back as " << back["seq"].dump());
        if (expected->pile_offset >= 0 && expected->field("pile"))
            FUZZ_CHECK(back["pile"] == "32010200000001", "pile came back as " << back["pile"].dump() << " from " << envelope.dump());
    }

    std::vector<std::uint8_t> again;
    try {
        again = codec().encode(back);
    } catch (const std::exception& x) {
        ykc_fuzz::fail(
            __FILE__, __LINE__, "encode(decode(encode(json)))",
            std::string(x.what()) + "\n     from    " + envelope.dump() + "\n     frame   " + hex + "\n     decoded " + back.dump());
    }
    FUZZ_CHECK(again == bytes, "the decoded JSON encodes differently\n     from    "
                                   << envelope.dump() << "\n     frame   " << hex << "\n     decoded " << back.dump() << "\n     again   "
                                   << ykc::to_hex(again));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const json whole = json::parse(data, data + size, nullptr, false);
        if (!whole.is_discarded()) encode_and_check(whole, nullptr);
        if (size >= 1) {
            const ykc::Message* m = downlink()[data[0] % downlink().size()];
            json d = json::parse(data + 1, data + size, nullptr, false);
            if (!d.is_discarded())
                encode_and_check({{"type", m->name}, {"pile", "32010200000001"}, {"seq", "0001"}, {"data", std::move(d)}}, m);
        }
    } catch (const std::exception& e) {
        ykc_fuzz::unexpected(__FILE__, __LINE__, "outside encode", e);
    }
    return 0;
}
