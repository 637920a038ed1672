#pragma once
// CRC-16/MODBUS as YKC uses it (ERRATA: not the spec's "0x180D"): init 0xFFFF, reflected
// polynomial 0xA001, no final xor, over the frame from the sequence number to the end of the body.
#include <cstdint>
#include <span>

namespace ykc {

std::uint16_t crc16_modbus(std::span<const std::uint8_t> data) noexcept;

}  // namespace ykc
