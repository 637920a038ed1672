#pragma once
// One charger's TCP connection: reads bytes into the frame reader, hands each frame or dropped
// stretch to its owner, and writes frames from a bounded queue. All on the io_context thread.
#include <chrono>
#include <exception>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "pile.hpp"
#include "ykc/frame.hpp"

namespace ykc::bridge {

class Session;
using SessionPtr = std::shared_ptr<Session>;

class SessionOwner {
public:
    virtual ~SessionOwner() = default;
    virtual void on_frame(const SessionPtr& s, const Frame& frame) = 0;
    // on_frame threw: the frame is lost, the session goes on with the next one
    virtual void on_frame_failed(const SessionPtr& s, const Frame& frame, const std::exception& e) = 0;
    virtual void on_dropped(const SessionPtr& s, const DroppedBytes& dropped) = 0;
    virtual void on_closed(const SessionPtr& s, const std::string& reason) = 0;
};

class Session : public std::enable_shared_from_this<Session> {
public:
    Session(boost::asio::ip::tcp::socket socket, SessionOwner& owner, std::uint64_t id, std::size_t max_queue);

    void start();
    // Writes a frame (at the end of the read being handled, if any). What the kernel's send buffer
    // has no room for waits; more than max_queue waiting: the charger is not reading, it closes.
    void send(std::vector<std::uint8_t> frame);
    void close(const std::string& reason);
    // Closes once everything queued has been written (e.g. after a login refusal).
    void close_after_flush(const std::string& reason);

    // Restarts the idle timer: the session closes when nothing arrives for `timeout`.
    void expect_traffic_within(std::chrono::seconds timeout);

    // Frames waiting for the socket, and the bound (limits.output_queue).
    std::size_t queued() const noexcept { return out_.size(); }
    std::size_t max_queue() const noexcept { return max_queue_; }

    std::uint64_t id() const noexcept { return id_; }
    const std::string& remote() const noexcept { return remote_; }
    bool open() const noexcept { return open_; }

    // What the owner knows of the charger on this connection (pile.hpp).
    Pile pile;

private:
    void read();
    void consume(std::span<const std::uint8_t> bytes);
    void handle(std::span<const std::uint8_t> bytes);  // the frames in `bytes`, for consume()
    void drain();                                      // hands what the reader has to the owner
    void flush();
    void write_now();
    void wait_writable();
    void fail(std::string reason);
    void arm_idle();

    boost::asio::ip::tcp::socket socket_;
    SessionOwner& owner_;
    std::uint64_t id_;
    std::size_t max_queue_;
    std::string remote_;
    FrameReader reader_;
    Fifo<std::vector<std::uint8_t>> out_;  // what the kernel has not taken yet
    std::uint16_t written_ = 0;            // bytes of out_.front() it has taken
    // consuming_: frames just read are being handled; what they are answered with waits for the
    // end and goes in one write (a pile's guns send their heartbeats together).
    // writing_: the kernel's send buffer is full, the rest waits for the socket to be writable
    // sending_: in send(), where a failed write only sets failed_ and closes a moment later
    bool writing_ = false, open_ = true, consuming_ = false, sending_ = false, failed_ = false;
    std::string close_reason_;  // set by close_after_flush
    boost::asio::steady_timer idle_;
    bool idle_armed_ = false;
    std::chrono::seconds idle_timeout_{0};
    std::chrono::steady_clock::time_point idle_deadline_{};
};

}  // namespace ykc::bridge
