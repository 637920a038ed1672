#include "ykc/crc.hpp"

#include <array>

namespace ykc {
namespace {

// Slicing-by-8: table[k][b] is the CRC contribution of byte b followed by k zero bytes, so eight
// input bytes cost eight independent lookups instead of a chain of eight dependent ones.
constexpr std::array<std::array<std::uint16_t, 256>, 8> make_tables() {
    std::array<std::array<std::uint16_t, 256>, 8> t{};
    for (unsigned i = 0; i < 256; ++i) {
        std::uint16_t crc = static_cast<std::uint16_t>(i);
        for (int bit = 0; bit < 8; ++bit)
            crc = (crc & 1) ? static_cast<std::uint16_t>((crc >> 1) ^ 0xA001) : static_cast<std::uint16_t>(crc >> 1);
        t[0][i] = crc;
    }
    for (unsigned k = 1; k < 8; ++k)
        for (unsigned i = 0; i < 256; ++i) t[k][i] = static_cast<std::uint16_t>((t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF]);
    return t;
}

constexpr auto tables = make_tables();

}  // namespace

std::uint16_t crc16_modbus(std::span<const std::uint8_t> data) noexcept {
    std::uint16_t crc = 0xFFFF;
    const std::uint8_t* p = data.data();
    std::size_t n = data.size();
    for (; n >= 8; n -= 8, p += 8) {
        const unsigned lo = (crc ^ p[0]) & 0xFF, hi = ((crc >> 8) ^ p[1]) & 0xFF;
        crc = static_cast<std::uint16_t>(tables[7][lo] ^ tables[6][hi] ^ tables[5][p[2]] ^ tables[4][p[3]] ^ tables[3][p[4]] ^
                                         tables[2][p[5]] ^ tables[1][p[6]] ^ tables[0][p[7]]);
    }
    for (; n > 0; --n, ++p) crc = static_cast<std::uint16_t>((crc >> 8) ^ tables[0][(crc ^ *p) & 0xFF]);
    return crc;
}

}  // namespace ykc
