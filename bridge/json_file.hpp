#pragma once
// A JSON document the bridge keeps on disk (Home Assistant's piles, the ledger): written to a
// temporary file and renamed over the old one, so a crash leaves the old or the new, never half.
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <system_error>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace ykc::bridge {

// `what` names the document in the warning logged when it cannot be written.
inline void write_json_file(const std::string& path, const nlohmann::json& j, const char* what) {
    const std::string tmp = path + ".tmp";
    std::error_code ec;
    {
        std::ofstream f(tmp, std::ios::trunc);
        f << j.dump() << '\n';
        if (!f.flush()) ec = std::make_error_code(std::errc::io_error);
    }
    if (!ec) std::filesystem::rename(tmp, path, ec);
    if (ec) spdlog::warn("{}: cannot save {}: {}", what, path, ec.message());
}

// nullopt when there is no file (a first run) or it is not JSON (logged, with what is lost).
inline std::optional<nlohmann::json> read_json_file(const std::string& path, const char* what, const char* lost) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    try {
        return nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        spdlog::warn("{}: cannot read {}: {}: {}", what, path, e.what(), lost);
        return std::nullopt;
    }
}

}  // namespace ykc::bridge
