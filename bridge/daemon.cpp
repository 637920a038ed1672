#include "daemon.hpp"

#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <iostream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "bridge.hpp"
#include "config.hpp"

namespace ykc::cli {

using namespace ykc::bridge;

namespace {

// The options run and health share: the configuration file (-c, YKC_CONFIG or ./config.yaml),
// then the YKC_* environment, then --mqtt-url / --listen / --log-level / --set. Returns false
// (after printing why) on a usage or configuration error.
bool load_configuration(const std::vector<std::string>& args, char** envp, std::ostream& err, Config& config, std::string& config_path,
                        std::vector<std::string>& unknown_env) {
    if (const char* env = std::getenv("YKC_CONFIG")) config_path = env;
    std::vector<std::pair<std::string, std::string>> overrides;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= args.size()) throw ConfigError(a + " needs a value");
            return args[++i];
        };
        try {
            if (a == "-c" || a == "--config") config_path = value();
            else if (a == "--mqtt-url") overrides.emplace_back("mqtt.url", value());
            else if (a == "--log-level") overrides.emplace_back("logging.level", value());
            else if (a == "--listen") {
                const std::string v = value();
                const auto colon = v.rfind(':');
                if (colon == std::string::npos) throw ConfigError("--listen expects HOST:PORT, got " + v);
                overrides.emplace_back("listen.address", v.substr(0, colon));
                overrides.emplace_back("listen.port", v.substr(colon + 1));
            } else if (a == "--set") {  // --set key.path=value
                const std::string v = value();
                const auto eq = v.find('=');
                if (eq == std::string::npos) throw ConfigError("--set expects key=value, got " + v);
                overrides.emplace_back(v.substr(0, eq), v.substr(eq + 1));
            } else {
                throw ConfigError("unknown option " + a);
            }
        } catch (const ConfigError& e) {
            err << "ykc-bridge: " << e.what() << "\n";
            return false;
        }
    }
    try {
        if (config_path.empty() && std::filesystem::exists("config.yaml")) config_path = "config.yaml";
        if (!config_path.empty()) config = load_config_file(config_path);
        unknown_env = apply_environment(config, envp);
        for (const auto& [k, v] : overrides) apply_override(config, k, v, "command line");
    } catch (const std::exception& e) {
        err << "ykc-bridge: " << e.what() << "\n";
        return false;
    }
    return true;
}

// Each charger is a file descriptor: the soft limit (often 1024 under systemd or a shell) is
// raised to the hard one, and a limit below limits.max_connections is named at start rather
// than found as EMFILE in the field.
void raise_open_files_limit(const Config& config) {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
    if (lim.rlim_cur < lim.rlim_max) {
        const rlim_t before = lim.rlim_cur;
        lim.rlim_cur = lim.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &lim) == 0) spdlog::info("open files limit raised from {} to {}", before, lim.rlim_cur);
        else lim.rlim_cur = before;
    }
    constexpr rlim_t reserve = 64;  // MQTT, journal, logs, timers
    if (lim.rlim_cur < static_cast<rlim_t>(config.limits.max_connections) + reserve)
        spdlog::warn(
            "open files limit {} is below limits.max_connections {} + {}: raise it (ulimit -n, LimitNOFILE=, compose ulimits) or "
            "lower limits.max_connections",
            lim.rlim_cur, config.limits.max_connections, reserve);
}

}  // namespace

int run(const std::vector<std::string>& args, char** envp, std::ostream& err) {
    Config config;
    std::string config_path;
    std::vector<std::string> unknown_env;
    if (!load_configuration(args, envp, err, config, config_path, unknown_env)) return 2;
    std::shared_ptr<const Catalogue> catalogue;
    try {
        catalogue = config.protocol.catalogue_overlay.empty()
                        ? Catalogue::builtin()
                        : std::make_shared<const Catalogue>(Catalogue::with_overlay_file(config.protocol.catalogue_overlay));
        // the billing models must encode: check them now rather than at the first 0x09
        Codec codec(catalogue);
        codec.encode_body(*catalogue->find("billing_model"), config.billing_model.to_data(), "00000000000000");
        for (const auto& [pile, b] : config.billing_model_overrides)
            codec.encode_body(*catalogue->find("billing_model"), b.to_data(), pile);
    } catch (const std::exception& e) {
        err << "ykc-bridge: " << e.what() << "\n";
        return 2;
    }

    auto logger = spdlog::stderr_color_mt("ykc");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::from_str(config.logging.level));
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    for (const auto& name : unknown_env) spdlog::warn("environment variable {} matches no setting: ignored", name);

    raise_open_files_limit(config);
    boost::asio::io_context io(1);
    std::unique_ptr<Bridge> bridge;
    try {
        bridge = std::make_unique<Bridge>(io, config, catalogue);
        bridge->start();
    } catch (const std::exception& e) {
        spdlog::critical("cannot start: {}", e.what());
        return 1;
    }
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code ec, int sig) {
        if (ec) return;
        spdlog::info("signal {}: shutting down", sig);
        bridge->shutdown();
        io.stop();
    });
    spdlog::info("ykc-bridge {} running (config {})", YKC_VERSION, config_path.empty() ? "defaults" : config_path);
    // A handler that throws must not take every charger down: log it and keep serving.
    while (true) {
        try {
            io.run();
            break;
        } catch (const std::exception& e) {
            spdlog::error("unexpected error, continuing: {}", e.what());
        }
    }
    // The rest of the shutdown is bounded (5 s); a repeated signal must not cut it short.
    signals.clear();
    std::signal(SIGINT, SIG_IGN);
    std::signal(SIGTERM, SIG_IGN);
    bridge->finish(std::chrono::seconds(5));
    spdlog::info("stopped");
    return 0;
}

int health(const std::vector<std::string>& args, char** envp, std::ostream& out, std::ostream& err) {
    Config config;
    std::string config_path;
    std::vector<std::string> unknown_env;
    if (!load_configuration(args, envp, err, config, config_path, unknown_env)) return 2;
    // A wildcard listen address is reached on the loopback of the same family.
    std::string host = config.listen.address;
    if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
    if (host == "::") host = "::1";
    const std::string where = host + ":" + std::to_string(config.listen.port);
    namespace asio = boost::asio;
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(host, ec);
    if (ec) {
        err << "ykc-bridge health: listen.address " << host << " is not an IP address\n";
        return 2;
    }
    asio::io_context io(1);
    asio::ip::tcp::socket socket(io);
    boost::system::error_code result = asio::error::timed_out;
    socket.async_connect({address, static_cast<unsigned short>(config.listen.port)}, [&](boost::system::error_code e) { result = e; });
    io.run_for(std::chrono::seconds(3));
    if (result) {
        err << "ykc-bridge health: " << where << ": " << result.message() << "\n";
        return 1;
    }
    out << "ykc-bridge health: " << where << " accepts connections\n";
    return 0;
}

}  // namespace ykc::cli
