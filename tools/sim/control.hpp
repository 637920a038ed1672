#pragma once
// Commands on standard input, one per line (see usage()): swipe, stop, raw, disconnect, stats, quit.
#include <utility>  // before Boost.Asio with C++20

#include <array>
#include <functional>
#include <string>
#include <string_view>

#include <boost/asio/posix/stream_descriptor.hpp>

#include "sim.hpp"

namespace ykc::sim {

class Pile;

class Control {
public:
    using FindPile = std::function<Pile*(std::uint64_t number)>;
    using Quit = std::function<void(const std::string& why)>;

    // eof_quits: the end of standard input ends the run (when no --duration is given).
    Control(Sim& sim, FindPile find, Quit quit, bool eof_quits);
    void start();
    void stop();

private:
    void read();
    void feed(std::string_view bytes);
    void eof();
    void command(std::string_view line);

    Sim& sim_;
    FindPile find_;
    Quit quit_;
    bool eof_quits_;
    bool stopped_ = false;
    boost::asio::posix::stream_descriptor in_;
    std::array<char, 4096> buf_{};
    std::string line_;
    bool overlong_ = false;
};

}  // namespace ykc::sim
