#pragma once
// Pieces of the generated message reference, for other generated documents (docs/commands.md).
#include <functional>
#include <string>

#include "ykc/catalogue.hpp"

namespace ykc {

// Text as one markdown table cell ('|' escaped, newlines as spaces).
std::string markdown_cell(const std::string& s);
// A frame type as "0x13".
std::string hex_code(std::uint64_t code);

// The field table of a message (| field | type | bytes | unit | notes |), with an optional last
// column: its header, and its cell for each field (bits members and group members included).
struct ExtraColumn {
    std::string header;
    std::function<std::string(const Field& field, const std::string& path)> cell;
};
std::string field_table(const Message& m, const ExtraColumn& extra = {});

}  // namespace ykc
