#include "control.hpp"

#include <unistd.h>

#include <boost/asio/post.hpp>
#include <charconv>
#include <sstream>
#include <vector>

#include "pile.hpp"
#include "ykc/hex.hpp"

namespace ykc::sim {

namespace {
constexpr std::size_t max_line = 64 * 1024;
constexpr std::size_t max_file_input = 1024 * 1024;

std::vector<std::string_view> words(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
        const std::size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
        if (i > start) out.push_back(line.substr(start, i - start));
    }
    return out;
}

std::optional<std::uint64_t> number(std::string_view s) {
    std::uint64_t n = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), n);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
    return n;
}
}  // namespace

Control::Control(Sim& sim, FindPile find, Quit quit, bool eof_quits)
    : sim_(sim), find_(std::move(find)), quit_(std::move(quit)), eof_quits_(eof_quits), in_(sim.io) {}

void Control::start() {
    // A duplicate, so that closing it (which restores blocking mode) leaves fd 0 alone.
    const int fd = ::dup(STDIN_FILENO);
    boost::system::error_code ec;
    if (fd >= 0) in_.assign(fd, ec);
    if (fd >= 0 && !ec) return read();
    if (fd >= 0) ::close(fd);
    // Not pollable (a regular file, /dev/null): its lines run now, then the end of input.
    std::string all;
    char chunk[4096];
    ssize_t n = 0;
    while (all.size() < max_file_input && (n = ::read(STDIN_FILENO, chunk, sizeof chunk)) > 0)
        all.append(chunk, static_cast<std::size_t>(n));
    boost::asio::post(sim_.io, [this, all = std::move(all)] {
        if (stopped_) return;
        feed(all);
        eof();
    });
}

void Control::stop() {
    stopped_ = true;
    boost::system::error_code ignored;
    in_.close(ignored);
}

void Control::read() {
    in_.async_read_some(boost::asio::buffer(buf_), [this](const boost::system::error_code& ec, std::size_t n) {
        if (stopped_) return;
        if (ec) return eof();
        feed({buf_.data(), n});
        if (!stopped_) read();
    });
}

void Control::feed(std::string_view bytes) {
    while (!bytes.empty() && !stopped_) {
        const auto nl = bytes.find('\n');
        const std::string_view part = bytes.substr(0, nl);
        if (!overlong_) {
            if (line_.size() + part.size() > max_line) {
                overlong_ = true;
                line_.clear();
                sim_.log.error({{"error", "command line longer than 64 KiB ignored"}});
            } else {
                line_.append(part);
            }
        }
        if (nl == std::string_view::npos) return;
        if (!overlong_) command(line_);
        line_.clear();
        overlong_ = false;
        bytes.remove_prefix(nl + 1);
    }
}

void Control::eof() {
    if (!line_.empty() && !overlong_) command(line_);
    line_.clear();
    stop();
    if (eof_quits_) quit_("end of standard input");
}

void Control::command(std::string_view line) {
    const auto w = words(line);
    if (w.empty() || w[0].front() == '#') return;
    auto bad = [&](const std::string& why) { sim_.log.error({{"error", why}, {"command", std::string(line)}}); };
    const std::string_view cmd = w[0];
    if (cmd == "quit" || cmd == "exit") return quit_("quit");
    if (cmd == "stats") return sim_.log.stats_line(false);
    if (w.size() < 2) return bad("unknown command or missing pile (swipe, stop, raw, disconnect, stats, quit)");
    auto n = number(w[1]);
    Pile* pile = n ? find_(*n) : nullptr;
    if (!pile) return bad("no such pile: " + std::string(w[1]));
    if (cmd == "swipe" || cmd == "stop") {
        auto gun = w.size() >= 3 ? number(w[2]) : std::nullopt;
        if (!gun || *gun < 1 || *gun > 99) return bad(std::string(cmd) + " needs a gun number");
        if (cmd == "stop") {
            if (w.size() != 3) return bad("usage: stop PILE GUN");
            return pile->local_stop(static_cast<unsigned>(*gun));
        }
        if (w.size() != 4) return bad("usage: swipe PILE GUN CARD-HEX");
        std::string card(w[3]);
        if (card.size() > 16 || !from_hex(card.size() % 2 ? "0" + card : card)) return bad("card: up to 16 hex digits");
        for (char& c : card) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        card.insert(0, 16 - card.size(), '0');
        return pile->swipe(static_cast<unsigned>(*gun), card);
    }
    if (cmd == "raw") {
        if (w.size() < 3) return bad("usage: raw PILE HEX");
        const std::string_view rest = line.substr(static_cast<std::size_t>(w[2].data() - line.data()));
        std::string why;
        auto bytes = parse_hex_loose(rest, &why);
        if (!bytes) return bad("raw: " + why);
        return pile->write_raw(std::move(*bytes));
    }
    if (cmd == "disconnect") return pile->disconnect("command");
    bad("unknown command (swipe, stop, raw, disconnect, stats, quit)");
}

}  // namespace ykc::sim
