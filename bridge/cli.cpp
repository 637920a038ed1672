#include "cli.hpp"
#include "docs/docs.hpp"

#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

#include "ykc/codec.hpp"
#include "ykc/cp56.hpp"
#include "ykc/hex.hpp"

namespace ykc::cli {
namespace {

struct Common {
    CodecOptions codec;
    std::string overlay;
    std::vector<std::string> rest;
};

// Parses --utc-offset and --catalogue; returns nullopt (after printing why) on a bad option.
std::optional<Common> parse_common(const std::vector<std::string>& args, std::ostream& err, bool positional_allowed) {
    Common c;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto value = [&](const char* name) -> std::optional<std::string> {
            const std::string prefix = std::string(name) + "=";
            if (a.rfind(prefix, 0) == 0) return a.substr(prefix.size());
            if (a == name && i + 1 < args.size()) return args[++i];
            return std::nullopt;
        };
        if (a.rfind("--utc-offset", 0) == 0) {
            auto v = value("--utc-offset");
            auto minutes = v ? parse_utc_offset(*v) : std::nullopt;
            if (!minutes) {
                err << "ykc-bridge: --utc-offset needs an offset like +08:00, 8 or -05:30\n";
                return std::nullopt;
            }
            c.codec.utc_offset_minutes = *minutes;
        } else if (a.rfind("--catalogue", 0) == 0) {
            auto v = value("--catalogue");
            if (!v) {
                err << "ykc-bridge: --catalogue needs an overlay file\n";
                return std::nullopt;
            }
            c.overlay = *v;
        } else if (a.size() > 1 && a[0] == '-' && a != "-") {
            err << "ykc-bridge: unknown option " << a << "\n";
            return std::nullopt;
        } else if (positional_allowed) {
            c.rest.push_back(a);
        } else {
            err << "ykc-bridge: unexpected argument " << a << "\n";
            return std::nullopt;
        }
    }
    return c;
}

// The options and the codec they ask for; nullopt (after printing why) when either is wrong.
struct Tool {
    Common options;
    Codec codec;
};

std::optional<Tool> tool(const std::vector<std::string>& args, std::ostream& err, bool positional_allowed) {
    auto common = parse_common(args, err, positional_allowed);
    if (!common) return std::nullopt;
    try {
        auto catalogue = common->overlay.empty() ? Catalogue::builtin()
                                                 : std::make_shared<const Catalogue>(Catalogue::with_overlay_file(common->overlay));
        Codec codec(std::move(catalogue), common->codec);
        return Tool{std::move(*common), std::move(codec)};
    } catch (const std::exception& e) {
        err << "ykc-bridge: " << e.what() << "\n";
        return std::nullopt;
    }
}

void print_error(std::ostream& out, const std::string& error, const std::string& hex) {
    out << nlohmann::json{{"error", error}, {"hex", hex}}.dump() << '\n';
}

// Decodes every frame in one line / argument; returns false if anything failed.
bool decode_line(const Codec& codec, const std::string& line, std::ostream& out) {
    std::string why;
    auto bytes = parse_hex_loose(line, &why);
    if (!bytes) {
        print_error(out, "not hex: " + why, line);
        return false;
    }
    if (bytes->empty()) return true;
    FrameReader reader;
    reader.feed(*bytes);
    reader.finish();
    bool ok = true;
    std::string text;
    while (auto event = reader.next()) {
        if (auto* frame = std::get_if<Frame>(&*event)) {
            text.clear();
            try {
                codec.decode_to(frame->view(), text);
                out << text << '\n';
            } catch (const DecodeError& e) {
                print_error(out, e.what(), to_hex(frame->bytes));
                ok = false;
            }
        } else {
            const auto& dropped = std::get<DroppedBytes>(*event);
            print_error(out, dropped.reason, to_hex(dropped.bytes));
            ok = false;
        }
    }
    return ok;
}

}  // namespace

int decode(const std::vector<std::string>& args, std::istream& in, std::ostream& out, std::ostream& err) {
    auto t = tool(args, err, true);
    if (!t) return 2;
    bool ok = true;
    if (!t->options.rest.empty()) {
        for (const auto& a : t->options.rest) ok = decode_line(t->codec, a, out) && ok;
    } else {
        std::string line;
        while (std::getline(in, line)) ok = decode_line(t->codec, line, out) && ok;
    }
    out.flush();
    return ok ? 0 : 1;
}

int encode(const std::vector<std::string>& args, std::istream& in, std::ostream& out, std::ostream& err) {
    auto t = tool(args, err, false);
    if (!t) return 2;
    bool ok = true;
    std::string line;
    while (std::getline(in, line)) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        try {
            out << to_hex(t->codec.encode(nlohmann::json::parse(line))) << '\n';
        } catch (const nlohmann::json::exception& e) {
            out << nlohmann::json{{"error", std::string("not JSON: ") + e.what()}}.dump() << '\n';
            ok = false;
        } catch (const EncodeError& e) {
            out << nlohmann::json{{"error", e.what()}, {"message", e.message}, {"field", e.field}}.dump() << '\n';
            ok = false;
        }
    }
    out.flush();
    return ok ? 0 : 1;
}

int catalogue(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    auto t = tool(args, err, false);
    if (!t) return 2;
    out << t->codec.catalogue().reference_markdown();
    return 0;
}

int docs(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    auto t = tool(args, err, true);
    if (!t) return 2;
    const auto& rest = t->options.rest;
    const std::string which = rest.size() == 1 ? rest[0] : "";
    if (which == "commands") out << bridge::docs::commands_markdown(t->codec);
    else if (which == "topics") out << bridge::docs::topics_markdown(t->codec);
    else if (which == "configuration") out << bridge::docs::configuration_markdown();
    else if (which == "config-yaml") out << bridge::docs::config_yaml();
    else {
        err << "ykc-bridge: docs needs one of commands, topics, configuration, config-yaml\n";
        return 2;
    }
    return 0;
}

}  // namespace ykc::cli
