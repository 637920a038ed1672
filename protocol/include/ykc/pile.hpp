#pragma once
// A pile number as the bridge accepts it in a login, a topic and the configuration: 14 decimal
// digits (7 BCD bytes, spec 3.1). The codec itself decodes any nibbles (BCD with A-F becomes letters).
#include <string_view>

namespace ykc {

inline bool is_pile_number(std::string_view p) noexcept {
    return p.size() == 14 && p.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace ykc
