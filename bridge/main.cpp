#include <iostream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "daemon.hpp"

namespace {

constexpr const char* usage =
    "usage: ykc-bridge <command> [options]\n"
    "\n"
    "commands:\n"
    "  run              start the daemon: chargers on TCP (default port 8768) <-> MQTT\n"
    "                   [-c config.yaml] [--mqtt-url URL] [--listen HOST:PORT] [--log-level LEVEL]\n"
    "                   [--set key.path=value]\n"
    "  health           exit 0 when the charger port of the configuration accepts a connection\n"
    "                   within 3 s, else 1 (for container health checks); the options of run\n"
    "  decode [HEX …]   decode frames given as hex (arguments, or one line each on standard input)\n"
    "                   into one JSON object per frame per line\n"
    "  encode           read JSON objects in decode's shape, one per line, and print each frame as hex\n"
    "  catalogue        print the message reference (markdown) generated from the catalogue\n"
    "  docs NAME        print a generated document: commands, topics, configuration (markdown),\n"
    "                   or config-yaml (the default config.yaml)\n"
    "\n"
    "options:\n"
    "  --utc-offset OFFSET   time zone of the chargers' clocks (default +08:00)\n"
    "  --catalogue FILE      overlay a vendor catalogue on the built-in one\n"
    "  --help, --version\n";

}  // namespace

int main(int argc, char** argv, char** envp) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        std::cout << usage;
        return args.empty() ? 2 : 0;
    }
    if (args[0] == "--version") {
        std::cout << "ykc-bridge " << YKC_VERSION << "\n";
        return 0;
    }
    const std::string command = args[0];
    args.erase(args.begin());
    if (command == "run") return ykc::cli::run(args, envp, std::cerr);
    if (command == "health") return ykc::cli::health(args, envp, std::cout, std::cerr);
    if (command == "decode") return ykc::cli::decode(args, std::cin, std::cout, std::cerr);
    if (command == "encode") return ykc::cli::encode(args, std::cin, std::cout, std::cerr);
    if (command == "catalogue") return ykc::cli::catalogue(args, std::cout, std::cerr);
    if (command == "docs") return ykc::cli::docs(args, std::cout, std::cerr);
    std::cerr << "ykc-bridge: unknown command \"" << command << "\"\n\n" << usage;
    return 2;
}
