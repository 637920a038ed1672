#include "session.hpp"

#include <algorithm>
#include <array>

#include <boost/asio/post.hpp>

namespace ykc::bridge {

namespace asio = boost::asio;

namespace {
// One read buffer for every session: a session waits for readability without a buffer of its
// own (4 KB per idle charger otherwise) and reads into this one, which the frame reader copies
// from at once. All sessions run on the one io_context thread.
std::array<std::uint8_t, 4096> read_buf;
constexpr int reads_per_wakeup = 16;  // then other sockets get their turn
constexpr int send_buffer_bytes = 16384;
}  // namespace

Session::Session(asio::ip::tcp::socket socket, SessionOwner& owner, std::uint64_t id, std::size_t max_queue)
    : socket_(std::move(socket)), owner_(owner), id_(id), max_queue_(max_queue), idle_(socket_.get_executor()) {
    boost::system::error_code ec;
    const auto ep = socket_.remote_endpoint(ec);
    remote_ = ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
    socket_.set_option(asio::ip::tcp::no_delay(true), ec);
    // A fixed kernel send buffer (Linux doubles it: 32 KB, ~100 of the largest frames) instead of
    // one that grows to megabytes for a charger that stops reading: what it does not take waits
    // in the output queue (limits.output_queue), where commands are answered busy
    socket_.set_option(asio::socket_base::send_buffer_size(send_buffer_bytes), ec);
    socket_.non_blocking(true, ec);  // read_some and write_some below return at once
}

void Session::start() { read(); }

void Session::read() {
    socket_.async_wait(asio::socket_base::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
        if (!self->open_) return;
        try {
            for (int i = 0; !ec && self->open_ && i < reads_per_wakeup; ++i) {
                const std::size_t n = self->socket_.read_some(asio::buffer(read_buf), ec);
                if (ec == asio::error::would_block || ec == asio::error::try_again) {
                    ec = {};
                    break;
                }
                if (ec) break;
                self->consume(std::span(read_buf).first(n));
                if (n < read_buf.size()) break;  // drained: the next read would only say "would block"
            }
            if (!self->open_) return;
            if (ec == asio::error::eof) {
                self->reader_.finish();  // a frame cut off by the close is reported, not silently gone
                self->drain();
            }
        } catch (const std::exception& e) {
            // beyond a frame (reporting one failed): a session without a read would hang until
            // its idle timeout; closed now, the charger connects again
            return self->close(std::string("internal error: ") + e.what());
        } catch (...) {
            return self->close("internal error");
        }
        if (ec) return self->close(ec == asio::error::eof ? "closed by the charger" : "read error: " + ec.message());
        self->read();
    });
}

void Session::consume(std::span<const std::uint8_t> bytes) {
    // what the frames are answered with waits for the end, and goes out in one write
    struct Consuming {
        bool& flag;
        explicit Consuming(bool& f) : flag(f) { flag = true; }
        ~Consuming() { flag = false; }  // also when a handler throws
    };
    {
        Consuming consuming(consuming_);
        handle(bytes);
    }
    if (open_) flush();
}

void Session::handle(std::span<const std::uint8_t> bytes) {
    reader_.feed(bytes);
    drain();
    reader_.flush_dropped();  // garbage is reported as it arrives, not with the next frame
    drain();
}

void Session::drain() {
    while (open_) {
        auto event = reader_.next();
        if (!event) break;
        if (auto* frame = std::get_if<Frame>(&*event)) {
            try {
                owner_.on_frame(shared_from_this(), *frame);
            } catch (const std::exception& e) {
                owner_.on_frame_failed(shared_from_this(), *frame, e);
            }
        } else {
            owner_.on_dropped(shared_from_this(), std::get<DroppedBytes>(*event));
        }
    }
}

void Session::send(std::vector<std::uint8_t> frame) {
    if (!open_ || failed_) return;  // failed: it closes as soon as the caller has returned
    out_.push_back(std::move(frame));
    if (consuming_) return;
    sending_ = true;
    flush();
    sending_ = false;
}

// What the kernel takes now is written at once; only what its send buffer has no room for waits
// in the queue, and more than limits.output_queue waiting means the charger is not reading.
void Session::flush() {
    if (!writing_) write_now();
    if (!open_ || failed_) return;
    if (out_.size() > max_queue_) return fail("output queue full (" + std::to_string(max_queue_) + " frames): the charger is not reading");
    if (out_.empty() && !close_reason_.empty()) close(close_reason_);
}

// A write that fails inside send() closes the session once the caller has returned: whoever sent
// (a login being accepted, a command, a loop over the piles) must not find its session closed,
// and its registries changed, in the middle of what it does.
void Session::fail(std::string reason) {
    if (!sending_) return close(reason);
    failed_ = true;
    asio::post(socket_.get_executor(), [self = shared_from_this(), reason = std::move(reason)] { self->close(reason); });
}

// Non-blocking gathered writes (up to 64 frames each) until the queue is empty or the kernel's
// send buffer is full; then the rest waits for the socket to be writable.
void Session::write_now() {
    std::array<asio::const_buffer, 64> frames;
    while (!out_.empty()) {
        const std::size_t n = std::min(out_.size(), frames.size());
        for (std::size_t i = 0; i < n; ++i) frames[i] = asio::buffer(out_[i]);
        frames[0] += written_;  // the part of the first frame that an earlier write took
        boost::system::error_code ec;
        std::size_t done = socket_.write_some(std::span(frames).first(n), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again || (!ec && done == 0)) return wait_writable();
        if (ec) return fail("write error: " + ec.message());
        done += written_;
        while (!out_.empty() && done >= out_.front().size()) {
            done -= out_.front().size();
            out_.pop_front();
        }
        written_ = static_cast<std::uint16_t>(done);
    }
}

void Session::wait_writable() {
    writing_ = true;
    socket_.async_wait(asio::socket_base::wait_write, [self = shared_from_this()](boost::system::error_code ec) {
        self->writing_ = false;
        if (!self->open_) return;
        if (ec) return self->close("write error: " + ec.message());
        self->flush();
    });
}

void Session::close_after_flush(const std::string& reason) {
    if (!open_) return;
    close_reason_ = reason;
    if (!writing_ && out_.empty()) close(reason);
}

// Called for every frame: it moves the deadline only. The timer is armed again when it fires
// before the deadline, or at once when the new deadline is earlier than the armed one.
void Session::expect_traffic_within(std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    const bool sooner = !idle_armed_ || deadline < idle_deadline_;
    idle_timeout_ = timeout;
    idle_deadline_ = deadline;
    if (sooner) arm_idle();
}

void Session::arm_idle() {
    idle_armed_ = true;
    idle_.expires_at(idle_deadline_);
    idle_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (ec || !self->open_) return;  // cancelled: closed, or armed again for a sooner deadline
        if (std::chrono::steady_clock::now() < self->idle_deadline_) return self->arm_idle();
        self->close("no frame for " + std::to_string(self->idle_timeout_.count()) + " s");
    });
}

void Session::close(const std::string& reason) {
    if (!open_) return;
    open_ = false;
    idle_.cancel();
    boost::system::error_code ec;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    socket_.close(ec);  // a wait for writability completes (aborted) and finds the session closed
    owner_.on_closed(shared_from_this(), reason);
}

}  // namespace ykc::bridge
