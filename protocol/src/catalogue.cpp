#include "ykc/catalogue.hpp"
#include "ykc/frame.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace ykc {

extern const char builtin_catalogue_yaml[];  // generated from mappings/ykc-v1.6.yaml

const char* to_string(FieldType t) noexcept {
    switch (t) {
        case FieldType::bcd: return "bcd";
        case FieldType::bcd_int: return "bcd_int";
        case FieldType::uint: return "uint";
        case FieldType::boolean: return "bool";
        case FieldType::flags: return "flags";
        case FieldType::bits: return "bits";
        case FieldType::ascii: return "ascii";
        case FieldType::hex: return "hex";
        case FieldType::cp56: return "cp56";
        case FieldType::group: return "group";
    }
    return "?";
}

const std::string* EnumTable::name_of(std::uint64_t code) const noexcept {
    for (const auto& [c, n] : entries)
        if (c == code) return &n;
    return nullptr;
}

std::optional<std::uint64_t> EnumTable::code_of(std::string_view name) const noexcept {
    for (const auto& [c, n] : entries)
        if (n == name) return c;
    return std::nullopt;
}

const Field* Message::field(std::string_view n) const noexcept {
    for (const auto& f : fields) {
        if (f.name == n) return &f;
        if (f.type == FieldType::bits)
            for (const auto& m : f.fields)
                if (m.name == n) return &m;
    }
    return nullptr;
}

int Message::layout_for(std::size_t size) const noexcept {
    if (layouts.empty()) return 0;
    for (std::size_t i = 0; i < layouts.size(); ++i)
        if (layouts[i].body == size) return static_cast<int>(i);
    return -1;
}

CatalogueError::CatalogueError(const std::string& source_, int line_, const std::string& message_, const std::string& field_,
                               const std::string& what)
    : std::runtime_error(source_ + ":" + std::to_string(line_) + ": " + (message_.empty() ? std::string() : "message " + message_ + ": ") +
                         (field_.empty() ? std::string() : "field " + field_ + ": ") + what),
      source(source_),
      message(message_),
      field(field_),
      line(line_) {}

Catalogue& Catalogue::operator=(const Catalogue& other) {
    if (this == &other) return *this;
    messages_ = other.messages_;
    enums_ = other.enums_;
    version_ = other.version_;
    reindex();
    return *this;
}

namespace {

struct Ctx {
    const std::string& source;
    std::string message;
    std::string field;

    [[noreturn]] void fail(const YAML::Node& at, const std::string& what) const {
        throw CatalogueError(source, at.Mark().line + 1, message, field, what);
    }
};

bool is_identifier(const std::string& s) {
    if (s.empty() || !(s[0] >= 'a' && s[0] <= 'z')) return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

std::string scalar(const Ctx& ctx, const YAML::Node& n, const char* what) {
    if (!n.IsScalar()) ctx.fail(n, std::string(what) + " must be a scalar");
    return n.Scalar();
}

std::uint64_t parse_uint(const Ctx& ctx, const YAML::Node& n, const char* what, std::uint64_t max) {
    const std::string s = scalar(ctx, n, what);
    std::uint64_t v = 0;
    std::size_t i = 0;
    int base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    }
    if (i == s.size()) ctx.fail(n, std::string(what) + " is not a number: " + s);
    for (; i < s.size(); ++i) {
        const char c = s[i];
        int d = (c >= '0' && c <= '9')                 ? c - '0'
                : (base == 16 && c >= 'a' && c <= 'f') ? c - 'a' + 10
                : (base == 16 && c >= 'A' && c <= 'F') ? c - 'A' + 10
                                                       : -1;
        if (d < 0) ctx.fail(n, std::string(what) + " is not a number: " + s);
        v = v * static_cast<unsigned>(base) + static_cast<unsigned>(d);
        if (v > max) ctx.fail(n, std::string(what) + " out of range (max " + std::to_string(max) + "): " + s);
    }
    return v;
}

bool parse_bool(const Ctx& ctx, const YAML::Node& n, const char* what) {
    const std::string s = scalar(ctx, n, what);
    if (s == "true") return true;
    if (s == "false") return false;
    ctx.fail(n, std::string(what) + " must be true or false");
}

void check_keys(const Ctx& ctx, const YAML::Node& map, std::initializer_list<const char*> allowed) {
    for (const auto& kv : map) {
        const std::string k = kv.first.Scalar();
        if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return k == a; }))
            ctx.fail(kv.first, "unknown key \"" + k + "\"");
    }
}

std::shared_ptr<const EnumTable> parse_enum_map(const Ctx& ctx, const YAML::Node& map, std::uint64_t max_code) {
    if (!map.IsMap()) ctx.fail(map, "an enum must be a map of code: name");
    auto table = std::make_shared<EnumTable>();
    std::set<std::string> names;
    for (const auto& kv : map) {
        const std::uint64_t code = parse_uint(ctx, kv.first, "enum code", max_code);
        const std::string name = scalar(ctx, kv.second, "enum name");
        if (!is_identifier(name)) ctx.fail(kv.second, "enum name must be snake_case: \"" + name + "\"");
        if (table->name_of(code)) ctx.fail(kv.first, "enum code " + std::to_string(code) + " given twice");
        if (!names.insert(name).second) ctx.fail(kv.second, "enum name \"" + name + "\" given twice");
        table->entries.emplace_back(code, name);
    }
    std::sort(table->entries.begin(), table->entries.end());
    return table;
}

using EnumList = std::vector<std::pair<std::string, std::shared_ptr<const EnumTable>>>;

std::shared_ptr<const EnumTable> resolve_enum(const Ctx& ctx, const YAML::Node& n, const EnumList& enums, std::uint64_t max_code,
                                              std::string& name_out) {
    if (n.IsScalar()) {
        for (const auto& [name, table] : enums)
            if (name == n.Scalar()) {
                for (const auto& [code, _] : table->entries)
                    if (code > max_code) ctx.fail(n, "enum " + name + " has code " + std::to_string(code) + ", too large for this field");
                name_out = name;
                return table;
            }
        ctx.fail(n, "unknown enum \"" + n.Scalar() + "\"");
    }
    return parse_enum_map(ctx, n, max_code);
}

wide_int parse_scaled(const Ctx& ctx, const YAML::Node& n, const char* what, int scale) {
    std::string err;
    auto v = parse_decimal(scalar(ctx, n, what), scale, &err);
    if (!v) ctx.fail(n, std::string(what) + ": " + err);
    return *v;
}

nlohmann::json yaml_scalar_to_json(const Ctx& ctx, const YAML::Node& n) {
    const std::string s = scalar(ctx, n, "default");
    if (n.Tag() == "!") return s;  // quoted: a string
    if (s == "true") return true;
    if (s == "false") return false;
    if (!s.empty() && (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-')) {
        try {
            return nlohmann::json::parse(s);
        } catch (const nlohmann::json::exception&) {}
    }
    return s;
}

std::uint64_t max_for_bytes(unsigned bytes) { return bytes >= 8 ? UINT64_MAX : (std::uint64_t{1} << (8 * bytes)) - 1; }

Field parse_field(Ctx ctx, const YAML::Node& n, const EnumList& enums, bool bits_member) {
    if (!n.IsMap()) ctx.fail(n, "a field must be a map with name and type");
    Field f;
    f.line = n.Mark().line + 1;
    if (!n["name"]) ctx.fail(n, "field without name");
    f.name = scalar(ctx, n["name"], "name");
    ctx.field = f.name;
    if (!is_identifier(f.name)) ctx.fail(n["name"], "name must be snake_case");
    f.key = "\"" + f.name + "\":";
    if (bits_member) {
        check_keys(ctx, n, {"name", "shift", "width", "scale", "offset", "enum", "unit", "doc", "reserved"});
        if (!n["shift"] || !n["width"]) ctx.fail(n, "a bits member needs shift and width");
        f.type = FieldType::uint;
        f.shift = static_cast<std::uint8_t>(parse_uint(ctx, n["shift"], "shift", 63));
        f.width = static_cast<std::uint8_t>(parse_uint(ctx, n["width"], "width", 64));
        if (f.width == 0) ctx.fail(n["width"], "width must be at least 1");
    } else {
        check_keys(ctx, n,
                   {"name", "type", "size", "scale", "offset", "enum", "unit", "doc", "bits", "fields", "count", "max", "min", "reserved",
                    "reverse", "pad", "default", "null_if", "layout"});
        if (!n["type"]) ctx.fail(n, "field without type");
        const std::string t = scalar(ctx, n["type"], "type");
        static const std::map<std::string, FieldType> types = {
            {"bcd", FieldType::bcd},     {"bcd_int", FieldType::bcd_int}, {"uint", FieldType::uint},   {"bool", FieldType::boolean},
            {"flags", FieldType::flags}, {"bits", FieldType::bits},       {"ascii", FieldType::ascii}, {"hex", FieldType::hex},
            {"cp56", FieldType::cp56},   {"group", FieldType::group}};
        auto it = types.find(t);
        if (it == types.end()) ctx.fail(n["type"], "unknown type \"" + t + "\"");
        f.type = it->second;
        if (f.type == FieldType::cp56) {
            f.size = 7;
            if (n["size"] && parse_uint(ctx, n["size"], "size", 255) != 7) ctx.fail(n["size"], "cp56 is 7 bytes");
        } else if (f.type == FieldType::boolean && !n["size"]) {
            f.size = 1;
        } else if (f.type == FieldType::group) {
            if (n["size"]) ctx.fail(n["size"], "a group's size is the sum of its fields");
        } else {
            if (!n["size"]) ctx.fail(n, "field without size");
            f.size = static_cast<std::uint16_t>(parse_uint(ctx, n["size"], "size", 251));
            if (f.size == 0) ctx.fail(n["size"], "size must be at least 1");
        }
        const bool numeric = f.type == FieldType::uint || f.type == FieldType::flags || f.type == FieldType::bits;
        if (numeric && f.size > 8) ctx.fail(n["size"], std::string(to_string(f.type)) + " is 1 to 8 bytes");
        if (f.type == FieldType::bcd_int && f.size > 8) ctx.fail(n["size"], "bcd_int is 1 to 8 bytes");
        if (f.type == FieldType::boolean && f.size != 1) ctx.fail(n["size"], "bool is 1 byte");
    }
    if (n["scale"]) {
        if (f.type != FieldType::uint) ctx.fail(n["scale"], "scale applies to uint only");
        f.scale = static_cast<int>(parse_uint(ctx, n["scale"], "scale", 12));
    }
    if (n["offset"]) {
        if (f.type != FieldType::uint) ctx.fail(n["offset"], "offset applies to uint only");
        f.offset = parse_scaled(ctx, n["offset"], "offset", f.scale);
    }
    const std::uint64_t raw_max = bits_member ? (f.width >= 64 ? UINT64_MAX : (std::uint64_t{1} << f.width) - 1) : max_for_bytes(f.size);
    if (n["enum"]) {
        if (f.type != FieldType::uint) ctx.fail(n["enum"], "enum applies to uint only");
        if (f.scale || f.offset) ctx.fail(n["enum"], "an enum field cannot have scale or offset");
        f.enums = resolve_enum(ctx, n["enum"], enums, raw_max, f.enum_name);
    }
    if (n["bits"]) {
        if (f.type != FieldType::flags) ctx.fail(n["bits"], "bits (names of bits) applies to flags only");
        f.enums = resolve_enum(ctx, n["bits"], enums, f.size * 8u - 1, f.enum_name);
    }
    if (f.type == FieldType::flags && !f.enums) ctx.fail(n, "flags needs bits: {index: name}");
    if (n["unit"]) f.unit = scalar(ctx, n["unit"], "unit");
    if (n["doc"]) f.doc = scalar(ctx, n["doc"], "doc");
    if (n["reserved"]) f.reserved = parse_bool(ctx, n["reserved"], "reserved");
    if (bits_member) return f;

    if (n["count"]) {
        const std::string c = scalar(ctx, n["count"], "count");
        if (c == "byte") f.count = Count::byte;
        else if (c == "rest") f.count = Count::rest;
        else {
            f.count = Count::fixed;
            f.count_fixed = static_cast<std::uint16_t>(parse_uint(ctx, n["count"], "count", 251));
            if (f.count_fixed == 0) ctx.fail(n["count"], "count must be at least 1");
        }
        if (n["max"]) f.max_items = static_cast<std::uint16_t>(parse_uint(ctx, n["max"], "max", 255));
        if (n["min"]) ctx.fail(n["min"], "min does not apply to a repeated field");
    } else if (n["min"] || n["max"]) {
        if (f.type != FieldType::uint || f.enums) ctx.fail(n["min"] ? n["min"] : n["max"], "min/max apply to numeric uint fields");
        if (n["min"]) f.min = parse_scaled(ctx, n["min"], "min", f.scale);
        if (n["max"]) f.max = parse_scaled(ctx, n["max"], "max", f.scale);
    }
    if (f.type == FieldType::group && f.count == Count::one) ctx.fail(n, "a group needs count: N, byte or rest");
    if (n["reverse"]) {
        if (f.type != FieldType::ascii) ctx.fail(n["reverse"], "reverse applies to ascii only");
        f.reverse = parse_bool(ctx, n["reverse"], "reverse");
    }
    if (n["pad"]) {
        if (f.type != FieldType::ascii) ctx.fail(n["pad"], "pad applies to ascii only");
        const std::string p = scalar(ctx, n["pad"], "pad");
        if (p == "nul") f.pad = '\0';
        else if (p == "space") f.pad = ' ';
        else ctx.fail(n["pad"], "pad is nul or space");
    }
    if (n["default"]) f.default_value = yaml_scalar_to_json(ctx, n["default"]);
    if (n["null_if"]) {
        if (f.type != FieldType::uint || f.enums || f.count != Count::one)
            ctx.fail(n["null_if"], "null_if applies to a numeric uint field");
        f.null_if = parse_uint(ctx, n["null_if"], "null_if", raw_max);
    }

    if (f.type == FieldType::bits || f.type == FieldType::group) {
        const YAML::Node members = n["fields"];
        if (!members || !members.IsSequence() || members.size() == 0)
            ctx.fail(n, std::string(to_string(f.type)) + " needs a list of fields");
        std::uint64_t used = 0;
        std::set<std::string> names;
        for (const auto& m : members) {
            Field sub = parse_field(ctx, m, enums, f.type == FieldType::bits);
            Ctx sctx = ctx;
            sctx.field = f.name + "." + sub.name;
            if (!names.insert(sub.name).second) sctx.fail(m, "name given twice");
            if (m["layout"]) sctx.fail(m["layout"], "layout applies to a message's own fields, not to a member");
            if (f.type == FieldType::bits) {
                if (sub.shift + sub.width > f.size * 8) sctx.fail(m, "bits beyond the field's " + std::to_string(f.size * 8) + " bits");
                const std::uint64_t mask = (sub.width >= 64 ? UINT64_MAX : ((std::uint64_t{1} << sub.width) - 1)) << sub.shift;
                if (used & mask) sctx.fail(m, "bits overlap another member");
                used |= mask;
            } else {
                if (sub.count != Count::one) sctx.fail(m, "a group member cannot repeat");
                f.size = static_cast<std::uint16_t>(f.size + sub.size);
            }
            f.fields.push_back(std::move(sub));
        }
    } else if (n["fields"]) {
        ctx.fail(n["fields"], "fields applies to bits and group only");
    }
    return f;
}

}  // namespace

Catalogue Catalogue::from_yaml(std::string_view text, const std::string& source) {
    Catalogue c;
    c.load(text, source, false);
    return c;
}

void Catalogue::overlay(std::string_view text, const std::string& source) { load(text, source, true); }

Catalogue Catalogue::with_overlay_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw CatalogueError(path, 0, "", "", "cannot open the file");
    std::stringstream ss;
    ss << in.rdbuf();
    Catalogue c = *builtin();
    c.overlay(ss.str(), path);
    return c;
}

std::shared_ptr<const Catalogue> Catalogue::builtin() {
    static const std::shared_ptr<const Catalogue> instance =
        std::make_shared<const Catalogue>(from_yaml(builtin_catalogue_yaml, "mappings/ykc-v1.6.yaml"));
    return instance;
}

const Message* Catalogue::find(std::string_view name) const noexcept {
    for (const auto& m : messages_)
        if (m.name == name) return &m;
    return nullptr;
}

void Catalogue::load(std::string_view text, const std::string& source, bool is_overlay) {
    YAML::Node root;
    try {
        root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
        throw CatalogueError(source, e.mark.line + 1, "", "", "YAML syntax: " + e.msg);
    }
    Ctx ctx{source, "", ""};
    if (!root.IsMap()) ctx.fail(root, "the catalogue must be a map with enums and messages");
    check_keys(ctx, root, {"version", "enums", "messages"});
    if (root["version"]) version_ = scalar(ctx, root["version"], "version");
    if (const YAML::Node e = root["enums"]) {
        if (!e.IsMap()) ctx.fail(e, "enums must be a map");
        for (const auto& kv : e) {
            Ctx ectx{source, "", "enum " + kv.first.Scalar()};
            if (!is_identifier(kv.first.Scalar())) ectx.fail(kv.first, "enum name must be snake_case");
            auto table = parse_enum_map(ectx, kv.second, UINT64_MAX);
            auto it = std::find_if(enums_.begin(), enums_.end(), [&](const auto& p) { return p.first == kv.first.Scalar(); });
            if (it != enums_.end()) {
                if (!is_overlay) ectx.fail(kv.first, "enum defined twice");
                it->second = table;
            } else {
                enums_.emplace_back(kv.first.Scalar(), table);
            }
        }
    }
    const YAML::Node list = root["messages"];
    if (!list && !is_overlay) ctx.fail(root, "no messages");
    if (list && !list.IsSequence()) ctx.fail(list, "messages must be a list");
    std::set<std::uint8_t> seen_codes;
    if (list)
        for (const auto& n : list) {
            Ctx mctx{source, "", ""};
            if (!n.IsMap()) mctx.fail(n, "a message must be a map");
            check_keys(mctx, n,
                       {"code", "name", "title", "section", "doc", "direction", "reply", "match", "fields", "layouts", "topic", "record",
                        "reply_timeout", "lane"});
            if (!n["code"] || !n["name"] || !n["direction"] || !n["fields"])
                mctx.fail(n, "a message needs code, name, direction and fields");
            Message m;
            m.source = source;
            m.line = n.Mark().line + 1;
            m.name = scalar(mctx, n["name"], "name");
            mctx.message = m.name;
            if (!is_identifier(m.name)) mctx.fail(n["name"], "name must be snake_case");
            m.code = static_cast<std::uint8_t>(parse_uint(mctx, n["code"], "code", 255));
            if (!seen_codes.insert(m.code).second) mctx.fail(n["code"], "code given twice in this file");
            const std::string dir = scalar(mctx, n["direction"], "direction");
            if (dir == "up") m.direction = Direction::up;
            else if (dir == "down") m.direction = Direction::down;
            else mctx.fail(n["direction"], "direction is up (charger -> platform) or down");
            if (n["title"]) m.title = scalar(mctx, n["title"], "title");
            if (n["section"]) m.section = scalar(mctx, n["section"], "section");
            if (n["doc"]) m.doc = scalar(mctx, n["doc"], "doc");
            if (n["reply"]) m.reply = scalar(mctx, n["reply"], "reply");
            if (const YAML::Node mt = n["match"]) {
                if (!mt.IsSequence()) mctx.fail(mt, "match must be a list of field names");
                for (const auto& x : mt) m.match.push_back(scalar(mctx, x, "match"));
            }
            m.topic = m.name;
            if (n["topic"]) {
                m.topic = scalar(mctx, n["topic"], "topic");
                if (!is_identifier(m.topic)) mctx.fail(n["topic"], "topic must be snake_case");
            }
            if (n["record"]) m.record = parse_bool(mctx, n["record"], "record");
            if (const YAML::Node lane = n["lane"]) {
                const std::string l = scalar(mctx, lane, "lane");
                if (l != "telemetry" && l != "control") mctx.fail(lane, "lane is control (the default) or telemetry");
                if (m.direction != Direction::up) mctx.fail(lane, "lane applies to what a charger sends");
                m.telemetry = l == "telemetry";
            }
            static const std::set<std::string> bridge_topics = {"error", "availability", "gun", "cmd", "resp", "state", "health"};
            if (bridge_topics.count(m.topic))
                mctx.fail(n["topic"] ? n["topic"] : n["name"], "\"" + m.topic + "\" is a topic of the bridge's own");
            if (m.record && (m.direction != Direction::up || m.reply.empty() || m.match.empty()))
                mctx.fail(n["record"], "a record goes up and names its reply and the fields that match it (the serial)");
            if (n["reply_timeout"]) {
                if (m.direction != Direction::down || m.reply.empty())
                    mctx.fail(n["reply_timeout"], "reply_timeout applies to a command with a reply");
                m.reply_timeout = static_cast<int>(parse_uint(mctx, n["reply_timeout"], "reply_timeout", 86400));
                if (m.reply_timeout == 0) mctx.fail(n["reply_timeout"], "reply_timeout must be at least 1 second");
            }
            if (const YAML::Node ls = n["layouts"]) {
                if (!ls.IsMap() || ls.size() < 2 || ls.size() > 8) mctx.fail(ls, "layouts is a map of 2 to 8 body lengths to names");
                for (const auto& kv : ls) {
                    Layout l{scalar(mctx, kv.second, "layout name"),
                             static_cast<std::size_t>(parse_uint(mctx, kv.first, "body length", max_body_size))};
                    if (!is_identifier(l.name)) mctx.fail(kv.second, "layout name must be snake_case");
                    for (const auto& o : m.layouts)
                        if (o.name == l.name || o.body == l.body) mctx.fail(kv.first, "layout " + l.name + " given twice (name or length)");
                    m.layouts.push_back(std::move(l));
                }
            }
            if (!n["fields"].IsSequence()) mctx.fail(n["fields"], "fields must be a list");
            std::set<std::string> keys;
            bool after_variable = false, after_layout_field = false;
            for (const auto& fn : n["fields"]) {
                Field f = parse_field(mctx, fn, enums_, false);
                Ctx fctx = mctx;
                fctx.field = f.name;
                if (const YAML::Node l = fn["layout"]) {
                    if (m.layouts.empty()) fctx.fail(l, "layout: the message has no layouts");
                    const auto add = [&](const YAML::Node& x) {
                        const std::string name = scalar(fctx, x, "layout");
                        const auto it = std::find_if(m.layouts.begin(), m.layouts.end(), [&](const Layout& y) { return y.name == name; });
                        if (it == m.layouts.end()) fctx.fail(x, "no layout named \"" + name + "\"");
                        f.layouts = static_cast<std::uint8_t>(f.layouts | 1u << (it - m.layouts.begin()));
                    };
                    if (l.IsSequence())
                        for (const auto& x : l) add(x);
                    else add(l);
                    if (!f.layouts) fctx.fail(l, "layout: name at least one layout");
                }
                if (f.layouts && (f.count == Count::byte || f.count == Count::rest))
                    fctx.fail(fn, "a field of some layouts cannot have a variable count");
                after_layout_field = after_layout_field || f.layouts != 0;
                if (after_layout_field && (f.name == "pile" || f.name == "serial"))
                    fctx.fail(fn, "pile and serial come before any field of some layouts");
                if (after_variable && m.fields.back().count == Count::rest) fctx.fail(fn, "nothing can follow a count: rest field");
                const std::size_t items = f.count == Count::fixed ? f.count_fixed : 1;
                if (!after_variable) {
                    if (f.name == "pile" && f.type == FieldType::bcd && f.size == 7) m.pile_offset = static_cast<int>(m.fixed_size);
                    if (f.name == "serial" && f.type == FieldType::bcd && f.size == 16) m.serial_offset = static_cast<int>(m.fixed_size);
                }
                if (f.count == Count::byte || f.count == Count::rest) {
                    after_variable = true;
                    m.variable = true;
                } else if (!after_variable && f.in_layout(0)) {
                    m.fixed_size += f.size * items;
                }
                auto add_key = [&](const std::string& k, int line) {
                    if (k == "extra") fctx.fail(fn, "\"extra\" is reserved for trailing bytes");
                    if (!keys.insert(k).second) throw CatalogueError(source, line, m.name, k, "name given twice in this message");
                    m.keys.push_back(k);
                };
                if (f.type == FieldType::bits) {
                    for (const auto& sub : f.fields) add_key(sub.name, sub.line);
                } else {
                    add_key(f.name, f.line);
                }
                m.fields.push_back(std::move(f));
            }
            if (m.fixed_size > max_body_size)
                mctx.fail(n["fields"], "fields need " + std::to_string(m.fixed_size) + " bytes; a frame body holds 251");
            for (std::size_t i = 0; i < m.layouts.size(); ++i) {
                if (m.variable) mctx.fail(n["layouts"], "a message with layouts has fixed-size fields only");
                std::size_t size = 0;
                for (const auto& f : m.fields)
                    if (f.in_layout(i)) size += f.size * (f.count == Count::fixed ? f.count_fixed : 1);
                if (size != m.layouts[i].body)
                    mctx.fail(n["layouts"], "layout " + m.layouts[i].name + " says " + std::to_string(m.layouts[i].body) +
                                                " bytes; its fields take " + std::to_string(size));
            }
            m.keys.push_back("extra");
            std::sort(m.keys.begin(), m.keys.end());  // looked up by binary search when encoding
            char code_text[8];
            std::snprintf(code_text, sizeof code_text, "0x%02X", m.code);
            m.envelope = ",\"type\":\"" + m.name + "\",\"code\":\"" + code_text + "\"";
            auto same = std::find_if(messages_.begin(), messages_.end(), [&](const Message& x) { return x.code == m.code; });
            if (same != messages_.end()) {
                if (!is_overlay) mctx.fail(n["code"], "code given twice");
                *same = std::move(m);
            } else {
                messages_.push_back(std::move(m));
            }
        }
    std::sort(messages_.begin(), messages_.end(), [](const Message& a, const Message& b) { return a.code < b.code; });
    // Whole-catalogue checks: unique names, replies and match fields exist.
    std::map<std::string, const Message*> names;
    for (const auto& m : messages_) {
        if (!names.emplace(m.name, &m).second) throw CatalogueError(m.source, m.line, m.name, "", "name used by two messages");
    }
    for (const auto& m : messages_) {
        if (m.reply.empty()) continue;
        auto it = names.find(m.reply);
        if (it == names.end()) throw CatalogueError(m.source, m.line, m.name, "reply", "no message named \"" + m.reply + "\"");
        if (it->second->direction == m.direction)
            throw CatalogueError(m.source, m.line, m.name, "reply", "the reply must travel the other way");
        for (const auto& f : m.match) {
            if (!m.field(f)) throw CatalogueError(m.source, m.line, m.name, "match", "no field \"" + f + "\" in this message");
            if (!it->second->field(f))
                throw CatalogueError(m.source, m.line, m.name, "match", "no field \"" + f + "\" in the reply " + m.reply);
        }
        // the bridge confirms a record with its reply: the match fields and result "success"
        if (const Field* r = it->second->field("result"); m.record && !(r && r->enums && r->enums->code_of("success")))
            throw CatalogueError(m.source, m.line, m.name, "record",
                                 "the reply " + m.reply + " needs a field result with the value success");
    }
    reindex();
}

void Catalogue::reindex() {
    by_code_.fill(nullptr);
    for (const auto& m : messages_) by_code_[m.code] = &m;
}

}  // namespace ykc
