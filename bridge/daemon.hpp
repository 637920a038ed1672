#pragma once
#include <iosfwd>
#include <string>
#include <vector>

namespace ykc::cli {
// `ykc-bridge run [-c config.yaml] [--mqtt-url URL] [--listen HOST:PORT] [--log-level LEVEL]`
int run(const std::vector<std::string>& args, char** envp, std::ostream& err);
// `ykc-bridge health [the options of run]`: 0 when the charger port of that configuration
// accepts a TCP connection within 3 s (a wildcard address is tried on the loopback), else 1;
// 2 on a usage or configuration error. For container health checks.
int health(const std::vector<std::string>& args, char** envp, std::ostream& out, std::ostream& err);
}  // namespace ykc::cli
