#pragma once
// Frame <-> JSON, driven by the catalogue.
//
// decode: {"pile":"…","type":"realtime","code":"0x13","seq":"1A03","data":{…}}
//   - "seq" is the two sequence bytes as on the wire (hex); replies must echo them (ERRATA).
//   - "crc_order":"high_first" appears only for frames whose CRC came high byte first.
//   - "pile" is the frame's pile number (for 0x40, which has none, the first 14 digits of the
//     serial, as spec 3.3 builds serials); it is not repeated in "data".
// encode: the same shape back to bytes ("type" or "code"; "seq" defaults to "0000").
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ykc/catalogue.hpp"
#include "ykc/frame.hpp"

namespace ykc {

struct CodecOptions {
    int utc_offset_minutes = 8 * 60;  // chargers run on China time unless configured
};

class DecodeError : public std::runtime_error {
public:
    // bad_length: a message with several layouts (catalogue `layouts`) and a body of none of their
    // lengths; bad_value: a value that cannot be (a CP56Time2a time of month 14).
    enum class Kind { unknown_type, encrypted, bad_flag, short_body, bad_count, bad_length, bad_value };
    DecodeError(Kind kind, std::uint8_t code, std::string message, std::string field, const std::string& what);
    Kind kind;
    std::uint8_t code;
    std::string message;  // catalogue name, empty when the type is unknown
    std::string field;
};

class EncodeError : public std::runtime_error {
public:
    EncodeError(std::string message, std::string field, const std::string& what);
    std::string message;  // catalogue name, empty when not known yet
    std::string field;    // e.g. "balance", "cards[2].card"; empty for the envelope
    std::string reason;   // what was wrong, without the message and field
};

class Codec {
public:
    explicit Codec(std::shared_ptr<const Catalogue> catalogue = Catalogue::builtin(), CodecOptions options = {});

    // Appends the envelope as JSON text. Throws DecodeError; on error `out` is left as it was.
    void decode_to(FrameView frame, std::string& out) const;
    std::string decode_text(FrameView frame) const;
    nlohmann::json decode(FrameView frame) const;

    // A whole frame from an envelope in decode's shape. Throws EncodeError.
    std::vector<std::uint8_t> encode(const nlohmann::json& envelope) const;
    // The body of `message` from its data object; `pile` fills the pile field when data has none.
    std::vector<std::uint8_t> encode_body(const Message& message, const nlohmann::json& data, std::string_view pile) const;

    const Catalogue& catalogue() const noexcept { return *catalogue_; }
    const CodecOptions& options() const noexcept { return options_; }

private:
    std::shared_ptr<const Catalogue> catalogue_;
    CodecOptions options_;
};

}  // namespace ykc
