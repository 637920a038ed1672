#pragma once
// YKC framing: 0x68 | length | seq(2) | flag | type | body | crc(2).
// length = 4 + body size (seq + flag + type + body); the CRC covers seq..body.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "ykc/fifo.hpp"

namespace ykc {

inline constexpr std::uint8_t start_byte = 0x68;
inline constexpr std::size_t header_size = 6;      // start, length, seq(2), flag, type
inline constexpr std::size_t min_length_byte = 4;  // seq + flag + type, empty body
inline constexpr std::size_t max_body_size = 255 - 4;
inline constexpr std::size_t max_frame_size = 255 + 4;

enum class CrcOrder : std::uint8_t { low_first, high_first };

using Seq = std::array<std::uint8_t, 2>;  // as on the wire; never reinterpreted (ERRATA)

// A complete frame that passed its CRC, viewed in place.
struct FrameView {
    std::span<const std::uint8_t> bytes;  // the whole frame, 0x68 .. crc
    CrcOrder crc_order = CrcOrder::low_first;

    std::uint8_t type() const noexcept { return bytes[5]; }
    std::uint8_t flag() const noexcept { return bytes[4]; }
    Seq seq() const noexcept { return {bytes[2], bytes[3]}; }
    std::span<const std::uint8_t> body() const noexcept { return bytes.subspan(header_size, bytes[1] - min_length_byte); }
};

struct Frame {
    std::vector<std::uint8_t> bytes;
    CrcOrder crc_order = CrcOrder::low_first;

    FrameView view() const noexcept { return {bytes, crc_order}; }
    std::uint8_t type() const noexcept { return bytes[5]; }
    std::uint8_t flag() const noexcept { return bytes[4]; }
    Seq seq() const noexcept { return {bytes[2], bytes[3]}; }
    std::span<const std::uint8_t> body() const noexcept { return view().body(); }
};

// A stretch of input the reader threw away, and why.
struct DroppedBytes {
    std::vector<std::uint8_t> bytes;  // the first max_kept bytes of the stretch
    std::size_t count = 0;            // all bytes of the stretch
    std::string reason;
};

// Checks a complete candidate frame (bytes.size() == length + 4). nullopt when the CRC fails
// in both byte orders.
std::optional<CrcOrder> check_crc(std::span<const std::uint8_t> frame) noexcept;

// Builds a frame. Throws std::length_error when the body is longer than max_body_size.
std::vector<std::uint8_t> write_frame(std::uint8_t type, Seq seq, std::uint8_t flag, std::span<const std::uint8_t> body,
                                      CrcOrder order = CrcOrder::low_first);

// Incremental reader: feed it bytes as they arrive (split or coalesced anywhere), then take
// events until next() returns nullopt. Bytes before 0x68 are skipped; a candidate with an
// impossible length or a bad CRC loses its first byte and the reader resyncs. Every stretch of
// dropped bytes is reported, before the frame that follows it. Nothing is trusted before its
// CRC passes. Memory is bounded: the reader holds at most one incomplete frame plus what was
// fed and not yet taken.
class FrameReader {
public:
    using Event = std::variant<Frame, DroppedBytes>;
    static constexpr std::size_t max_kept = 256;  // bytes kept per dropped stretch (count is exact)

    void feed(std::span<const std::uint8_t> bytes);
    std::optional<Event> next();
    // End of input: complete frames are still delivered by next(); an incomplete frame left
    // over is reported as dropped.
    void finish();
    // Reports the stretch being dropped now instead of waiting for the next frame (call after
    // draining next() for a chunk of input, so errors are reported as they happen).
    void flush_dropped();

    std::size_t buffered() const noexcept { return buf_.size() - pos_; }
    std::uint64_t frames() const noexcept { return frames_; }
    std::uint64_t dropped_bytes() const noexcept { return dropped_bytes_; }

private:
    void scan();
    void drop(std::size_t n, const char* reason_if_new);
    void drop_candidate(std::string reason);
    void close_stretch();
    bool resync_ahead(std::size_t avail);
    void compact();

    std::vector<std::uint8_t> buf_;
    std::size_t pos_ = 0;
    std::optional<DroppedBytes> open_;
    Fifo<Event> out_;
    std::uint64_t frames_ = 0;
    std::uint64_t dropped_bytes_ = 0;
};

}  // namespace ykc
