#pragma once
// Shared helpers for the unit tests.
#include <doctest/doctest.h>

#include <cstdio>
#include <sys/wait.h>
#include <unistd.h>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ykc/codec.hpp"
#include "ykc/frame.hpp"
#include "ykc/hex.hpp"

namespace test {

using json = nlohmann::json;

inline std::vector<std::uint8_t> bytes(std::string_view hex) {
    std::string err;
    auto b = ykc::parse_hex_loose(hex, &err);
    REQUIRE_MESSAGE(b.has_value(), (std::string(hex) + ": " + err));
    return *b;
}

// Exactly one complete, CRC-valid frame from hex.
inline ykc::Frame frame(std::string_view hex) {
    ykc::FrameReader r;
    r.feed(bytes(hex));
    auto e = r.next();
    REQUIRE_MESSAGE(e.has_value(), ("no frame in " + std::string(hex)));
    REQUIRE_MESSAGE(std::holds_alternative<ykc::Frame>(*e),
                    ("not a frame: " + std::string(hex) + " (" + std::get<ykc::DroppedBytes>(*e).reason + ")"));
    auto f = std::get<ykc::Frame>(std::move(*e));
    REQUIRE_MESSAGE(!r.next().has_value(), ("more than one frame in " + std::string(hex)));
    return f;
}

inline const ykc::Codec& codec() {
    static const ykc::Codec c;
    return c;
}

inline json decode(std::string_view hex) { return codec().decode(frame(hex).view()); }

inline std::string encode_hex(const json& envelope) { return ykc::to_hex(codec().encode(envelope)); }

struct TsvRow {
    std::string type, hex, source, note, crc_ok, length_ok;
};

// Rows of a fixtures file (comments and the header skipped).
inline std::vector<TsvRow> tsv(const std::string& name) {
    std::ifstream in(std::string(YKC_FIXTURES_DIR) + "/" + name);
    REQUIRE_MESSAGE(in.good(), ("cannot open fixture " + name));
    std::vector<TsvRow> rows;
    std::string line;
    bool header = true;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        if (header) {
            header = false;
            continue;
        }
        std::vector<std::string> cols;
        std::stringstream ss(line);
        std::string col;
        while (std::getline(ss, col, '\t')) cols.push_back(col);
        cols.resize(6);
        rows.push_back({cols[0], cols[1], cols[2], cols[3], cols[4], cols[5]});
    }
    return rows;
}

// A frame with a correct CRC built from hex of everything but the start byte, length and CRC:
// seq(2) flag type body.
inline std::string build(std::string_view seq_flag_type_body) {
    auto b = bytes(seq_flag_type_body);
    REQUIRE(b.size() >= 4);
    return ykc::to_hex(ykc::write_frame(b[3], {b[0], b[1]}, b[2], std::span(b).subspan(4)));
}

struct RunResult {
    int status = -1;
    std::string out;
};

// Runs a shell command with `input` on its standard input; captures standard output.
inline RunResult run(const std::string& command, const std::string& input = "") {
    char in_path[] = "/tmp/ykc-test-in-XXXXXX";
    const int fd = mkstemp(in_path);
    REQUIRE(fd >= 0);
    {
        std::ofstream f(in_path);
        f << input;
    }
    close(fd);
    RunResult r;
    FILE* p = popen(("(" + command + ") < " + in_path).c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    std::size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    const int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    std::remove(in_path);
    return r;
}

inline std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::stringstream ss(text);
    std::string l;
    while (std::getline(ss, l)) out.push_back(l);
    return out;
}

}  // namespace test
