#include "session.hpp"

#include <boost/asio/write.hpp>

namespace ykc::bridge {

namespace asio = boost::asio;

Session::Session(asio::ip::tcp::socket socket, SessionOwner& owner, std::uint64_t id, std::size_t max_queue)
    : socket_(std::move(socket)), owner_(owner), id_(id), max_queue_(max_queue), read_buf_(4096), idle_(socket_.get_executor()) {
    boost::system::error_code ec;
    const auto ep = socket_.remote_endpoint(ec);
    remote_ = ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
    socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

void Session::start() { read(); }

void Session::read() {
    socket_.async_read_some(asio::buffer(read_buf_), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
        if (!self->open_) return;
        if (ec) {
            self->close(ec == asio::error::eof ? "closed by the charger" : "read error: " + ec.message());
            return;
        }
        self->reader_.feed(std::span(self->read_buf_).first(n));
        auto drain = [&] {
            while (self->open_) {
                auto event = self->reader_.next();
                if (!event) break;
                if (auto* frame = std::get_if<Frame>(&*event)) self->owner_.on_frame(self, std::move(*frame));
                else self->owner_.on_dropped(self, std::get<DroppedBytes>(*event));
            }
        };
        drain();
        self->reader_.flush_dropped();  // garbage is reported as it arrives, not with the next frame
        drain();
        if (self->open_) self->read();
    });
}

void Session::send(std::vector<std::uint8_t> frame) {
    if (!open_) return;
    if (out_.size() >= max_queue_) {
        close("output queue full (" + std::to_string(max_queue_) + " frames): the charger is not reading");
        return;
    }
    out_.push_back(std::move(frame));
    if (!writing_) write();
}

void Session::write() {
    writing_ = true;
    asio::async_write(socket_, asio::buffer(out_.front()), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
        self->writing_ = false;
        if (!self->open_) return;
        if (ec) {
            self->close("write error: " + ec.message());
            return;
        }
        self->out_.pop_front();
        if (!self->out_.empty()) self->write();
        else if (!self->close_reason_.empty()) self->close(self->close_reason_);
    });
}

void Session::close_after_flush(const std::string& reason) {
    if (!open_) return;
    close_reason_ = reason;
    if (!writing_ && out_.empty()) close(reason);
}

void Session::expect_traffic_within(std::chrono::seconds timeout) {
    idle_.expires_after(timeout);
    idle_.async_wait([self = shared_from_this(), timeout](boost::system::error_code ec) {
        if (ec || !self->open_) return;
        self->close("no frame for " + std::to_string(timeout.count()) + " s");
    });
}

void Session::close(const std::string& reason) {
    if (!open_) return;
    open_ = false;
    idle_.cancel();
    boost::system::error_code ec;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    socket_.close(ec);  // queued frames stay alive until a pending write has completed
    owner_.on_closed(shared_from_this(), reason);
}

}  // namespace ykc::bridge
