#pragma once
// What every pile shares: the event loop, the options, the codec, the output, the random source.
#include <utility>  // before Boost.Asio with C++20 (boost/asio/awaitable.hpp)

#include <cstdint>
#include <random>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "events.hpp"
#include "options.hpp"
#include "ykc/codec.hpp"

namespace ykc::sim {

struct Sim {
    boost::asio::io_context& io;
    const Options& opt;
    const Codec codec;
    EventLog& log;
    boost::asio::ip::tcp::endpoint platform;
    std::mt19937_64 rng;

    bool chance(double p) { return p > 0 && std::uniform_real_distribution<double>(0, 1)(rng) < p; }
    std::uint64_t below(std::uint64_t n) { return n ? std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng) : 0; }
};

}  // namespace ykc::sim
