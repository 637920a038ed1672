#pragma once
// One member of a JSON object's text without parsing the whole object: the bridge reads the pile,
// the data object and the gun of the frames that are most of a fleet's traffic (realtime,
// heartbeat) straight from the codec's envelope text instead of building a json tree for each.
// The text must be valid JSON (the codec's output is); anything else yields "not found".
#include <cstddef>
#include <string>
#include <string_view>

namespace ykc {

namespace detail {

constexpr std::size_t json_npos = std::string_view::npos;

constexpr std::size_t json_skip_ws(std::string_view s, std::size_t i) noexcept {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
    return i;
}

// Index just after the string that opens at s[i] ('"'), or npos.
constexpr std::size_t json_string_end(std::string_view s, std::size_t i) noexcept {
    for (++i; i < s.size(); ++i) {
        if (s[i] == '\\') ++i;
        else if (s[i] == '"') return i + 1;
    }
    return json_npos;
}

// Index just after the value that starts at s[i], or npos.
constexpr std::size_t json_value_end(std::string_view s, std::size_t i) noexcept {
    if (i >= s.size()) return json_npos;
    if (s[i] == '"') return json_string_end(s, i);
    if (s[i] == '{' || s[i] == '[') {
        std::size_t depth = 0;
        while (i < s.size()) {
            const char c = s[i];
            if (c == '"') {
                i = json_string_end(s, i);
                if (i == json_npos) return json_npos;
                continue;
            }
            if (c == '{' || c == '[') ++depth;
            else if ((c == '}' || c == ']') && --depth == 0) return i + 1;
            ++i;
        }
        return json_npos;
    }
    while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') ++i;
    return i;
}

}  // namespace detail

// The text of the value of the top-level member `key` of the object `object` (e.g. `1`,
// `"abc"` with its quotes, `{…}`), or an empty view when there is none. Keys are compared as
// written (a key spelled with escapes matches only the same spelling).
constexpr std::string_view json_member(std::string_view object, std::string_view key) noexcept {
    using namespace detail;
    std::size_t i = json_skip_ws(object, 0);
    if (i >= object.size() || object[i] != '{') return {};
    i = json_skip_ws(object, i + 1);
    if (i < object.size() && object[i] == '}') return {};
    while (i < object.size() && object[i] == '"') {
        const std::size_t key_end = json_string_end(object, i);
        if (key_end == json_npos) return {};
        const std::string_view k = object.substr(i + 1, key_end - i - 2);
        i = json_skip_ws(object, key_end);
        if (i >= object.size() || object[i] != ':') return {};
        const std::size_t v = json_skip_ws(object, i + 1);
        const std::size_t v_end = json_value_end(object, v);
        if (v_end == json_npos || v_end == v) return {};
        if (k == key) return object.substr(v, v_end - v);
        i = json_skip_ws(object, v_end);
        if (i >= object.size() || object[i] != ',') return {};
        i = json_skip_ws(object, i + 1);
    }
    return {};
}

// A string value's text without its quotes when it has no escapes; empty otherwise.
constexpr std::string_view json_plain_string(std::string_view value) noexcept {
    if (value.size() < 2 || value.front() != '"' || value.back() != '"') return {};
    const std::string_view inner = value.substr(1, value.size() - 2);
    return inner.find('\\') == std::string_view::npos ? inner : std::string_view{};
}

// Appends `"key":<value>` as the last member of the object text `object` (which ends with its
// closing brace); `value` is JSON text (a number, an array …) written as it is.
inline void append_member(std::string& object, std::string_view key, std::string_view value) {
    object.pop_back();
    if (!object.empty() && object.back() != '{') object += ',';
    object += '"';
    object += key;
    object += "\":";
    object += value;
    object += '}';
}

// Appends `"key":"value"` as the last member of the object text `object`, e.g. the bridge's
// timestamp to an envelope (on every frame: no temporary string). `key` and `value` are written
// as they are: only for text that needs no escaping.
inline void append_plain_string_member(std::string& object, std::string_view key, std::string_view value) {
    object.pop_back();
    if (!object.empty() && object.back() != '{') object += ',';
    object += '"';
    object += key;
    object += "\":\"";
    object += value;
    object += "\"}";
}

}  // namespace ykc
