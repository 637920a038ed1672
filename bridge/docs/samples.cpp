// Example values for a message's fields, derived from the catalogue so they always encode.
#include <map>

#include "command_fill.hpp"
#include "docs.hpp"

namespace ykc::bridge::docs {
namespace {

using json = nlohmann::json;

std::string digits(std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += static_cast<char>('1' + i % 9);
    return s;
}

// A uint-like field: "success" or its first enum name, or its minimum, or 1.
json number(const Field& f) {
    if (f.enums && f.enums->code_of("success")) return "success";
    if (f.enums && !f.enums->entries.empty()) return f.enums->entries.front().second;
    // one whole unit above the offset, unless the range says otherwise
    const wide_int units = f.min ? *f.min : f.offset + pow10_i64(f.scale);
    std::string text;
    append_decimal(text, units, f.scale);
    return json::parse(text);
}

// Text that reads like what the field holds.
std::string text(const Field& f) {
    static const std::map<std::string, std::string> by_name = {
        {"server", "192.168.1.10"}, {"username", "ftp"}, {"password", "secret"}, {"path", "/firmware.bin"}};
    const auto it = by_name.find(f.name);
    return (it == by_name.end() ? std::string("V1.0") : it->second).substr(0, f.size);
}

json item(const Field& f);

// The fields of `fs` into `o`, bits members flattened; `skip` leaves a field out.
template <typename Skip>
void add_fields(json& o, const std::vector<Field>& fs, Skip skip) {
    for (const auto& f : fs) {
        if (f.type == FieldType::bits) {
            for (const auto& b : f.fields)
                if (!b.reserved && !skip(b)) o[b.name] = number(b);
        } else if (!f.reserved && !skip(f)) {
            o[f.name] = item(f);
        }
    }
}

json group_item(const Field& f) {
    json o = json::object();
    add_fields(o, f.fields, [](const Field&) { return false; });
    return o;
}

json one(const Field& f) {
    switch (f.type) {
        case FieldType::bcd:
            if (f.name == "pile") return example_pile;
            if (f.name == "serial" && f.size == 16) return example_pile + "01" + "240501083000" + "0001";
            return digits(2u * f.size);
        case FieldType::bcd_int: return 1;
        case FieldType::uint: return number(f);
        case FieldType::boolean: return false;
        case FieldType::flags: return f.enums && !f.enums->entries.empty() ? json::array({f.enums->entries.front().second}) : json::array();
        case FieldType::ascii: return text(f);
        case FieldType::hex: return digits(2u * f.size);
        case FieldType::cp56: return example_time;
        case FieldType::group: return group_item(f);
        case FieldType::bits: break;
    }
    return nullptr;
}

json item(const Field& f) {
    if (f.count == Count::one) return one(f);
    const std::size_t n = f.count == Count::fixed ? f.count_fixed : 1;
    return json(std::vector<json>(n, one(f)));
}

}  // namespace

json sample_data(const Message& m, Sample which) {
    const bool required = which == Sample::required_fields;
    json data = json::object();
    // the pile is in the envelope (decode) or in the topic (command)
    add_fields(data, m.fields,
               [&](const Field& f) { return f.name == "pile" || (required && (f.default_value || fills(m.name, f.name))); });
    return data;
}

}  // namespace ykc::bridge::docs
