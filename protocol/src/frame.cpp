#include "ykc/frame.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "ykc/crc.hpp"

namespace ykc {

namespace {
constexpr const char* garbage = "garbage before start byte 0x68";
}

std::optional<CrcOrder> check_crc(std::span<const std::uint8_t> frame) noexcept {
    const std::size_t n = frame.size();
    const std::uint16_t crc = crc16_modbus(frame.subspan(2, n - 4));
    const std::uint8_t a = frame[n - 2], b = frame[n - 1];
    if ((a | b << 8) == crc) return CrcOrder::low_first;
    if ((b | a << 8) == crc) return CrcOrder::high_first;
    return std::nullopt;
}

std::vector<std::uint8_t> write_frame(std::uint8_t type, Seq seq, std::uint8_t flag, std::span<const std::uint8_t> body, CrcOrder order) {
    if (body.size() > max_body_size)
        throw std::length_error("frame body of " + std::to_string(body.size()) + " bytes exceeds " + std::to_string(max_body_size));
    std::vector<std::uint8_t> out;
    out.reserve(header_size + body.size() + 2);
    out.push_back(start_byte);
    out.push_back(static_cast<std::uint8_t>(body.size() + min_length_byte));
    out.push_back(seq[0]);
    out.push_back(seq[1]);
    out.push_back(flag);
    out.push_back(type);
    out.insert(out.end(), body.begin(), body.end());
    const std::uint16_t crc = crc16_modbus(std::span(out).subspan(2));
    const std::uint8_t lo = crc & 0xFF, hi = crc >> 8;
    out.push_back(order == CrcOrder::low_first ? lo : hi);
    out.push_back(order == CrcOrder::low_first ? hi : lo);
    return out;
}

void FrameReader::feed(std::span<const std::uint8_t> bytes) {
    compact();
    buf_.insert(buf_.end(), bytes.begin(), bytes.end());
}

void FrameReader::compact() {
    if (pos_ == 0) return;
    if (pos_ == buf_.size()) {
        buf_.clear();
        pos_ = 0;
    } else if (pos_ >= 4096 || pos_ * 2 >= buf_.size()) {
        buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos_));
        pos_ = 0;
    }
}

// Appends n bytes at pos_ to the open stretch (opening one for garbage if none is open).
void FrameReader::drop(std::size_t n, const char* reason_if_new) {
    if (!open_) open_ = DroppedBytes{{}, 0, reason_if_new};
    const std::size_t keep = std::min(n, max_kept - std::min(max_kept, open_->bytes.size()));
    open_->bytes.insert(open_->bytes.end(), buf_.begin() + static_cast<std::ptrdiff_t>(pos_),
                        buf_.begin() + static_cast<std::ptrdiff_t>(pos_ + keep));
    open_->count += n;
    dropped_bytes_ += n;
    pos_ += n;
    if (open_->count >= max_kept) close_stretch();  // report long garbage runs as they come
}

// Drops the 0x68 at pos_ as the start of a new stretch with its own reason.
void FrameReader::drop_candidate(std::string reason) {
    close_stretch();
    open_ = DroppedBytes{{}, 0, reason};
    drop(1, reason.c_str());
}

void FrameReader::close_stretch() {
    if (open_) out_.emplace_back(std::move(*open_));
    open_.reset();
}

// The candidate at pos_ is incomplete. If a complete, CRC-valid frame starts further on in what
// is buffered, the candidate was noise (e.g. a stray 0x68 with a large length byte): skip to it
// instead of stalling the stream until the bogus length is filled.
bool FrameReader::resync_ahead(std::size_t avail) {
    const std::uint8_t* base = buf_.data() + pos_;
    for (std::size_t q = 1; q + 2 <= avail; ++q) {
        if (base[q] != start_byte || base[q + 1] < min_length_byte) continue;
        const std::size_t total = std::size_t{base[q + 1]} + 4;
        if (q + total > avail) continue;
        if (!check_crc({base + q, total})) continue;
        char reason[96];
        std::snprintf(reason, sizeof reason, "incomplete frame (length byte 0x%02X) interrupted by a valid frame", base[1]);
        drop_candidate(reason);
        if (q > 1) drop(q - 1, garbage);
        return true;
    }
    return false;
}

void FrameReader::scan() {
    while (true) {
        const std::size_t avail = buf_.size() - pos_;
        if (avail == 0) break;
        const std::uint8_t* p = buf_.data() + pos_;
        if (p[0] != start_byte) {
            const auto* hit = static_cast<const std::uint8_t*>(std::memchr(p, start_byte, avail));
            drop(hit ? static_cast<std::size_t>(hit - p) : avail, garbage);
            continue;
        }
        if (avail < 2) break;
        const std::size_t length = p[1];
        if (length < min_length_byte) {
            char reason[64];
            std::snprintf(reason, sizeof reason, "impossible length byte 0x%02X (minimum 0x04)", p[1]);
            drop_candidate(reason);
            continue;
        }
        const std::size_t total = length + 4;
        if (avail < total) {
            if (resync_ahead(avail)) continue;
            close_stretch();  // what came before this candidate is final
            break;
        }
        const std::span<const std::uint8_t> candidate(p, total);
        const auto order = check_crc(candidate);
        if (!order) {
            // both in wire order, so a byte-swapped CRC is seen as what it is
            const unsigned crc = crc16_modbus(candidate.subspan(2, total - 4));
            char reason[112];
            std::snprintf(reason, sizeof reason,
                          "bad CRC: the frame carries %02X%02X, its bytes give %02X%02X (or %02X%02X high byte first)", p[total - 2],
                          p[total - 1], crc & 0xFF, crc >> 8, crc >> 8, crc & 0xFF);
            drop_candidate(reason);
            continue;
        }
        close_stretch();
        out_.emplace_back(Frame{{candidate.begin(), candidate.end()}, *order});
        pos_ += total;
        ++frames_;
    }
}

std::optional<FrameReader::Event> FrameReader::next() {
    if (out_.empty()) scan();
    if (out_.empty()) return std::nullopt;
    Event e = std::move(out_.front());
    out_.pop_front();
    return e;
}

void FrameReader::flush_dropped() { close_stretch(); }

void FrameReader::finish() {
    scan();
    const std::size_t avail = buf_.size() - pos_;
    if (avail > 0) {
        close_stretch();
        open_ = DroppedBytes{{}, 0, "incomplete frame at end of input"};
        drop(avail, "incomplete frame at end of input");
    }
    close_stretch();
}

}  // namespace ykc
