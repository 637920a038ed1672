// Session (bridge/session.hpp) over a real loopback TCP connection, with an owner whose handlers
// throw: what a bug in handling one frame costs.
#include <doctest/doctest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "session.hpp"
#include "ykc/frame.hpp"

namespace asio = boost::asio;
using ykc::Frame;
using ykc::bridge::Session;
using ykc::bridge::SessionPtr;

namespace {

struct ThrowingOwner : ykc::bridge::SessionOwner {
    std::vector<std::uint8_t> handled;  // types of the frames handled
    std::vector<std::string> failures;  // what on_frame_failed was told
    std::string closed;                 // the close reason
    bool throw_on_dropped = false;
    void on_frame(const SessionPtr& s, const Frame& f) override {
        if (f.type() == 0x03) throw std::runtime_error("handler bug");
        handled.push_back(f.type());
        s->send(ykc::write_frame(0x04, f.seq(), 0, std::vector<std::uint8_t>{0x01}));  // answered: writes work too
    }
    void on_frame_failed(const SessionPtr&, const Frame& f, const std::exception& e) override {
        failures.push_back(std::to_string(f.type()) + ": " + e.what());
    }
    void on_dropped(const SessionPtr&, const ykc::DroppedBytes&) override {
        if (throw_on_dropped) throw std::runtime_error("report bug");
    }
    void on_closed(const SessionPtr&, const std::string& reason) override { closed = reason; }
};

struct Rig {
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor{io, {asio::ip::make_address("127.0.0.1"), 0}};
    asio::ip::tcp::socket charger{io};
    ThrowingOwner owner;
    SessionPtr session;
    Rig() {
        charger.connect(acceptor.local_endpoint());
        session = std::make_shared<Session>(acceptor.accept(), owner, 1, 100);
        session->start();
    }
    // Runs the io_context until `done` holds; bounded (2 s).
    template <typename Pred>
    bool run_until(Pred done) {
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (!done() && std::chrono::steady_clock::now() < end) io.run_for(std::chrono::milliseconds(10));
        return done();
    }
};

const std::vector<std::uint8_t> body{0x01, 0x02};

}  // namespace

TEST_CASE("a frame whose handler throws is reported and lost alone: the session reads and writes on") {
    Rig rig;
    auto bytes = ykc::write_frame(0x03, {0x05, 0x00}, 0, body);  // its handler throws
    const auto next = ykc::write_frame(0x05, {0x06, 0x00}, 0, body);
    bytes.insert(bytes.end(), next.begin(), next.end());
    asio::write(rig.charger, asio::buffer(bytes));
    REQUIRE(rig.run_until([&] { return !rig.owner.handled.empty(); }));
    CHECK(rig.owner.failures == std::vector<std::string>{"3: handler bug"});
    CHECK(rig.owner.handled == std::vector<std::uint8_t>{0x05});
    CHECK(rig.session->open());
    CHECK(rig.owner.closed.empty());
    // the frame after it was answered, and a later read is handled too
    std::vector<std::uint8_t> reply(ykc::write_frame(0x04, {0x06, 0x00}, 0, std::vector<std::uint8_t>{0x01}).size());
    asio::write(rig.charger, asio::buffer(ykc::write_frame(0x07, {0x07, 0x00}, 0, body)));
    REQUIRE(rig.run_until([&] { return rig.owner.handled.size() == 2; }));
    asio::read(rig.charger, asio::buffer(reply));
    CHECK(reply == ykc::write_frame(0x04, {0x06, 0x00}, 0, std::vector<std::uint8_t>{0x01}));
    CHECK(rig.owner.handled == std::vector<std::uint8_t>{0x05, 0x07});
}

TEST_CASE("an exception beyond a frame closes the session at once, naming it, instead of leaving it without a read") {
    Rig rig;
    rig.owner.throw_on_dropped = true;
    const std::vector<std::uint8_t> garbage{0x00, 0x11, 0x22};
    asio::write(rig.charger, asio::buffer(garbage));
    REQUIRE(rig.run_until([&] { return !rig.owner.closed.empty(); }));
    CHECK(rig.owner.closed == "internal error: report bug");
    CHECK(!rig.session->open());
    // the charger sees the close
    std::uint8_t b;
    boost::system::error_code ec;
    rig.charger.read_some(asio::buffer(&b, 1), ec);
    CHECK(ec == asio::error::eof);
}
