// docs/configuration.md and config.yaml, both from the schema (config_schema.hpp).
#include <sstream>

#include "config_schema.hpp"
#include "text.hpp"
#include "docs.hpp"
#include "ykc/reference.hpp"

namespace ykc::bridge::docs {
namespace {

std::vector<std::string> split_key(const std::string& key) {
    std::vector<std::string> parts;
    std::stringstream ss(key);
    std::string p;
    while (std::getline(ss, p, '.')) parts.push_back(p);
    return parts;
}

// Descriptions say <base>/<pile>: outside code spans markdown would read those as HTML tags.
std::string prose(const std::string& s) {
    std::string out;
    for (char c : s) out += c == '<' ? std::string("&lt;") : std::string(1, c);
    return markdown_cell(out);
}

const std::string overrides = "billing_model_overrides";
const std::string overrides_example =
    "billing_model_overrides:\n"
    "  \"32010200000001\":\n"
    "    model_id: \"0200\"\n"
    "    flat_energy_price: \"0.55\"\n";

void comment_lines(std::ostringstream& o, const std::string& indent, const std::string& text, std::size_t width) {
    for (const auto& l : wrap(text, width)) o << indent << "# " << l << "\n";
}

// key: value, with its description as a comment beside it (or above it when the line is long).
void yaml_line(std::ostringstream& o, const std::string& indent, const std::string& name, const std::string& value,
               const std::string& doc) {
    constexpr std::size_t column = 30, width = 100;
    std::string line = indent + name + ": " + value;
    if (line.size() >= column) {
        comment_lines(o, indent, doc, width - indent.size() - 2);
        // a long list continues under its first item
        const std::string more = std::string(indent.size() + name.size() + 3, ' ');
        std::string out, current;
        std::stringstream items(value);
        std::string item;
        current = indent + name + ": ";
        while (std::getline(items, item, ' ')) {
            if (current.size() + item.size() > width && current.size() > more.size()) {
                out += current.substr(0, current.size() - 1) + "\n";
                current = more;
            }
            current += item + " ";
        }
        o << out << current.substr(0, current.size() - 1) << "\n";
        return;
    }
    const auto lines = wrap(doc, width - column - 2);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        o << (i ? std::string(column, ' ') : line + std::string(column - line.size(), ' ')) << "# " << lines[i] << "\n";
    }
    if (lines.empty()) o << line << "\n";
}

void yaml_section_start(std::ostringstream& o, const std::string& section, const std::string& value = "") {
    o << "\n";
    comment_lines(o, "", section_doc(section), 98);
    o << section << ":" << value << "\n";
}

// billing_model_overrides is a map of pile numbers, not a key: empty, with the example commented out.
void yaml_overrides(std::ostringstream& o) {
    yaml_section_start(o, overrides, " {}");
    std::stringstream example(overrides_example);
    std::string line;
    std::getline(example, line);
    while (std::getline(example, line)) o << "#" << line << "\n";
}

void markdown_overrides(std::ostringstream& o) {
    o << "\n## " << overrides << "\n\n" << section_doc(overrides) << "\n\n```yaml\n" << overrides_example << "```\n";
}

}  // namespace

std::string configuration_markdown() {
    std::ostringstream o;
    o << generated_header("Configuration", "configuration", "the configuration schema in `bridge/config_schema.cpp`");
    o << "The bridge reads `config.yaml` (or the file named by `-c FILE` or `YKC_CONFIG`), then the environment, then the command "
         "line (`--mqtt-url URL`, `--listen HOST:PORT`, `--log-level LEVEL`, `--set key.path=value`); each overrides the one before. "
         "Every key is optional and has the default below, which runs against a broker on 127.0.0.1:1883; the shipped `config.yaml` "
         "(`ykc-bridge docs config-yaml`) shows every key with its default and description. An unknown key or a wrong value stops "
         "the bridge with the key and the line. A list is a YAML sequence in the file and comma-separated text in the environment and "
         "in `--set`; an environment variable that matches no key is reported at start-up.\n";
    std::string section;
    for (const auto& s : config_settings()) {
        const std::string top = split_key(s.key).front();
        if (top != section) {
            if (section == "billing_model") markdown_overrides(o);
            section = top;
            o << "\n## " << section << "\n\n"
              << section_doc(section) << "\n\n"
              << "| key | type | default | allowed | environment | description |\n|---|---|---|---|---|---|\n";
        }
        o << "| `" << s.key << "` | " << s.type << " | `" << markdown_cell(s.show(Config{})) << "` | " << markdown_cell(s.allowed) << " | `"
          << env_name(s.key) << "` | " << prose(s.doc) << " |\n";
    }
    return o.str();
}

std::string config_yaml() {
    std::ostringstream o;
    o << "# ykc-bridge configuration. Every key is optional: what is shown here is the default.\n"
         "# Environment variables override a key (YKC_ + the key path in upper case with \"_\" for \".\",\n"
         "# e.g. YKC_MQTT_URL, YKC_MQTT_PASSWORD, YKC_LISTEN_PORT); the command line overrides both\n"
         "# (--mqtt-url, --listen HOST:PORT, --log-level, --set key.path=value). YKC_CONFIG or -c names\n"
         "# this file. Unknown keys and wrong types stop the bridge with the key and the line.\n"
         "# This file is the output of `ykc-bridge docs config-yaml` (docs/configuration.md has the same\n"
         "# as tables); change the descriptions and defaults in bridge/config_schema.cpp and config.hpp.\n";
    std::vector<std::string> open;  // the sections of the previous key
    for (const auto& s : config_settings()) {
        const auto parts = split_key(s.key);
        std::size_t same = 0;
        while (same < open.size() && same + 1 < parts.size() && open[same] == parts[same]) ++same;
        if (same == 0 && !open.empty() && open.front() == "billing_model") yaml_overrides(o);
        for (std::size_t i = same; i + 1 < parts.size(); ++i) {
            if (i == 0) yaml_section_start(o, parts[0]);
            else o << std::string(2 * i, ' ') << parts[i] << ":\n";
        }
        open.assign(parts.begin(), parts.end() - 1);
        yaml_line(o, std::string(2 * (parts.size() - 1), ' '), parts.back(), s.show(Config{}), s.doc);
    }
    return o.str();
}

}  // namespace ykc::bridge::docs
