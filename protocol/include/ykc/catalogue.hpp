#pragma once
// The message catalogue: mappings/ykc-v1.6.yaml compiled into decode/encode plans.
// The built-in catalogue is compiled into the binary; an overlay (a vendor dialect) replaces
// messages by code or adds new ones, and merges enums.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ykc/decimal.hpp"

namespace ykc {

enum class FieldType : std::uint8_t { bcd, bcd_int, uint, boolean, flags, bits, ascii, hex, cp56, group };
enum class Count : std::uint8_t { one, fixed, byte, rest };
enum class Direction : std::uint8_t { up, down };

const char* to_string(FieldType t) noexcept;

struct EnumTable {
    std::vector<std::pair<std::uint64_t, std::string>> entries;  // sorted by code
    const std::string* name_of(std::uint64_t code) const noexcept;
    std::optional<std::uint64_t> code_of(std::string_view name) const noexcept;
};

struct Field {
    std::string name;
    std::string key;  // "\"name\":" — ready to append to JSON text
    FieldType type = FieldType::uint;
    std::uint16_t size = 0;                  // bytes of one item (group: sum of its members)
    int scale = 0;                           // decimal places
    wide_int offset = 0;                     // in units of 10^-scale
    std::shared_ptr<const EnumTable> enums;  // uint, bits members; flags: bit index -> name
    std::vector<Field> fields;               // bits members or group members
    std::uint8_t shift = 0, width = 0;       // bits members
    Count count = Count::one;
    std::uint16_t count_fixed = 0;
    std::uint16_t max_items = 0;  // 0 = no limit (byte counts are limited to 255 anyway)
    bool reserved = false, reverse = false;
    char pad = '\0';
    std::optional<wide_int> min, max;  // engineering value in units of 10^-scale
    std::optional<nlohmann::json> default_value;
    std::string unit, doc;
    std::string enum_name;                 // shared enum this field refers to, if any
    std::optional<std::uint64_t> null_if;  // the raw value that means "not applicable": decodes as null
    std::uint8_t layouts = 0;              // bit i: present in the message's layout i; 0: in every layout
    int line = 0;

    bool in_layout(std::size_t i) const noexcept { return layouts == 0 || (layouts >> i & 1u); }
};

// One body layout of a message that has several, told apart by the body's length.
struct Layout {
    std::string name;
    std::size_t body = 0;  // bytes
};

struct Message {
    std::uint8_t code = 0;
    std::string name, title, section, doc;
    Direction direction = Direction::up;
    std::string reply;               // name of the answering message, or empty
    std::vector<std::string> match;  // fields equal in request and reply
    std::vector<Field> fields;
    // Several layouts, picked by the body's length (0x3B: 158 standard, 174 with a fifth tariff
    // segment); a body of any other length is a decode error. Empty: one layout.
    std::vector<Layout> layouts;
    std::string topic;              // the uplink topic's last level (ykc/<pile>/<topic>); the name unless given
    bool record = false;            // a billing record the charger keeps until `reply` confirms it
    bool telemetry = false;         // periodic data (lane: telemetry): published behind what a backend waits for
    int reply_timeout = 0;          // seconds to wait for `reply` when the bridge sends this; 0: limits.command_timeout
    std::size_t fixed_size = 0;     // body bytes before any variable-length field (several layouts: the first's)
    bool variable = false;          // has a count: byte/rest field
    int pile_offset = -1;           // body offset of the 7-byte pile number, -1 if none
    int serial_offset = -1;         // body offset of the 16-byte transaction serial, -1 if none
    std::string envelope;           // ,"type":"name","code":"0x13" — ready to append
    std::vector<std::string> keys;  // every key `data` may carry (members of bits flattened), sorted
    std::string source;
    int line = 0;

    const Field* field(std::string_view name) const noexcept;  // top level or bits member
    // The layout of a body of `size` bytes: 0 when there is one layout, -1 when no layout has that length.
    int layout_for(std::size_t size) const noexcept;
    // The 7 bytes naming the pile in a body of this message: its pile field, else the start of its
    // serial (which begins with the pile number); empty when the body is too short or has neither.
    std::span<const std::uint8_t> pile_bytes(std::span<const std::uint8_t> body) const noexcept {
        if (pile_offset >= 0 && body.size() >= static_cast<std::size_t>(pile_offset) + 7) return body.subspan(pile_offset, 7);
        const auto serial = serial_bytes(body);
        return serial.empty() ? serial : serial.first(7);
    }
    // The 16 bytes of its transaction serial, or empty.
    std::span<const std::uint8_t> serial_bytes(std::span<const std::uint8_t> body) const noexcept {
        if (serial_offset >= 0 && body.size() >= static_cast<std::size_t>(serial_offset) + 16) return body.subspan(serial_offset, 16);
        return {};
    }
};

// A mistake in a catalogue file: names the file, the line, the message and the field.
class CatalogueError : public std::runtime_error {
public:
    CatalogueError(const std::string& source, int line, const std::string& message, const std::string& field, const std::string& what);
    std::string source, message, field;
    int line;
};

class Catalogue {
public:
    // The catalogue compiled into this binary (mappings/ykc-v1.6.yaml at build time).
    static std::shared_ptr<const Catalogue> builtin();
    static Catalogue from_yaml(std::string_view text, const std::string& source);
    // Adds or replaces messages (by code) and enums from another file.
    void overlay(std::string_view text, const std::string& source);
    static Catalogue with_overlay_file(const std::string& path);  // builtin + file

    const Message* find(std::uint8_t code) const noexcept { return by_code_[code]; }
    const Message* find(std::string_view name) const noexcept;
    const std::vector<Message>& messages() const noexcept { return messages_; }  // sorted by code
    const std::string& version() const noexcept { return version_; }

    // The message reference (docs/messages.md), generated from the catalogue.
    std::string reference_markdown() const;

    Catalogue(const Catalogue& other) { *this = other; }
    Catalogue& operator=(const Catalogue& other);
    Catalogue(Catalogue&&) noexcept = default;
    Catalogue& operator=(Catalogue&&) noexcept = default;

private:
    Catalogue() = default;
    void load(std::string_view text, const std::string& source, bool overlay);
    void reindex();

    std::vector<Message> messages_;
    std::array<const Message*, 256> by_code_{};
    std::vector<std::pair<std::string, std::shared_ptr<const EnumTable>>> enums_;
    std::string version_;
};

}  // namespace ykc
