// ykc-sim: N piles x M guns in one thread on one io_context (see usage()).
#include <utility>  // before Boost.Asio with C++20

#include <csignal>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "control.hpp"
#include "options.hpp"
#include "pile.hpp"
#include "sim.hpp"
#include "sources.hpp"

namespace asio = boost::asio;
using namespace ykc::sim;

int main(int argc, char** argv) {
    auto parsed = parse_options(argc, argv);
    if (!parsed.options) {
        (parsed.exit_code ? std::cerr : std::cout) << parsed.message;
        return parsed.exit_code;
    }
    const Options& opt = *parsed.options;
    std::signal(SIGPIPE, SIG_IGN);

    std::string why;
    auto sources = expand_sources(opt.source_addresses, &why);
    if (!sources) {
        std::cerr << "ykc-sim: " << why << "\n";
        return 2;
    }

    asio::io_context io(1);
    asio::ip::tcp::endpoint platform;
    {
        boost::system::error_code ec;
        asio::ip::tcp::resolver resolver(io);
        auto results = resolver.resolve(opt.host, std::to_string(opt.port), ec);
        if (ec || results.empty()) {
            std::cerr << "ykc-sim: cannot resolve " << opt.host << ": " << (ec ? ec.message() : "no address") << "\n";
            return 2;
        }
        platform = results.begin()->endpoint();
        for (const auto& r : results)
            if (r.endpoint().address().is_v4()) {
                platform = r.endpoint();
                break;
            }
    }

    EventLog log(opt.quiet, opt.verbose, {opt.events.begin(), opt.events.end()});
    const std::uint64_t seed =
        opt.seed ? opt.seed : static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    Sim sim{io,  opt,      ykc::Codec(ykc::Catalogue::builtin(), ykc::CodecOptions{opt.utc_offset_minutes}),
            log, platform, std::mt19937_64(seed)};

    std::vector<std::unique_ptr<Pile>> piles;
    piles.reserve(opt.piles);
    for (std::uint64_t i = 0; i < opt.piles; ++i) {
        std::optional<asio::ip::address> source;
        if (!sources->empty()) source = (*sources)[i % sources->size()];
        piles.push_back(std::make_unique<Pile>(sim, opt.pile_start + i, source));
    }

    bool stopping = false;
    asio::signal_set signals(io, SIGINT, SIGTERM);
    asio::steady_timer duration_timer(io), stats_timer(io);
    std::unique_ptr<Control> control;

    auto quit = [&](const std::string& reason) {
        if (stopping) return;
        stopping = true;
        for (auto& p : piles) p->shutdown();
        boost::system::error_code ignored;
        signals.cancel(ignored);
        duration_timer.cancel();
        stats_timer.cancel();
        if (control) control->stop();
        if (opt.stats) log.stats_line(true);
        log.event({{"event", "exit"}, {"reason", reason}});
    };

    signals.async_wait([&](const boost::system::error_code& ec, int signo) {
        if (!ec) quit(signo == SIGINT ? "SIGINT" : "SIGTERM");
    });
    if (opt.duration) {
        duration_timer.expires_after(*opt.duration);
        duration_timer.async_wait([&](const boost::system::error_code& ec) {
            if (!ec) quit("duration");
        });
    }
    std::function<void()> stats_tick = [&] {
        stats_timer.expires_after(*opt.stats);
        stats_timer.async_wait([&](const boost::system::error_code& ec) {
            if (ec || stopping) return;
            log.stats_line(false);
            stats_tick();
        });
    };
    if (opt.stats) stats_tick();

    for (std::uint64_t i = 0; i < piles.size(); ++i) {
        const double at_ms = opt.connect_rate > 0 ? static_cast<double>(i) * 1000.0 / opt.connect_rate : 0.0;
        piles[i]->start(Millis(static_cast<Millis::rep>(at_ms)));
    }

    if (opt.stdin_commands) {
        control = std::make_unique<Control>(
            sim,
            [&](std::uint64_t number) -> Pile* {
                if (number < opt.pile_start || number - opt.pile_start >= piles.size()) return nullptr;
                return piles[number - opt.pile_start].get();
            },
            quit, !opt.duration);
        control->start();
    }

    io.run();
    std::fflush(stdout);
    return 0;
}
