#pragma once
#include <iosfwd>
#include <string>
#include <vector>

namespace ykc::cli {
// `ykc-bridge run [-c config.yaml] [--mqtt-url URL] [--listen HOST:PORT] [--log-level LEVEL]`
int run(const std::vector<std::string>& args, char** envp, std::ostream& err);
}  // namespace ykc::cli
