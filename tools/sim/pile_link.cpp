// The TCP link of one pile: connect (bound to a source address), reconnect with back-off,
// read and split frames, a bounded write queue, and the hostile-mode decorations.
#include "pile.hpp"

#include <netinet/in.h>

#include <boost/asio/write.hpp>

#include "values.hpp"
#include "ykc/hex.hpp"

namespace ykc::sim {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {
constexpr std::size_t max_queued_frames = 1024;
constexpr std::size_t max_queued_bytes = 256 * 1024;
}  // namespace

Pile::Pile(Sim& sim, std::uint64_t number, std::optional<asio::ip::address> source)
    : sim_(sim),
      number_(number),
      id_(pile_number(number)),
      source_(std::move(source)),
      socket_(sim.io),
      timer_(sim.io),
      split_timer_(sim.io),
      backoff_(sim.opt.reconnect_min) {
    guns_.reserve(sim.opt.guns);
    for (unsigned g = 1; g <= sim.opt.guns; ++g)
        guns_.emplace_back(g, static_cast<std::int64_t>(10'000'000 + sim.below(90'000'000)));  // meter: 1000..10000 kWh
    model_ = BillingModel::fallback();
}

void Pile::error(const std::string& what) { sim_.log.error({{"pile", id_}, {"error", what}}); }

void Pile::start(Millis delay) {
    state_ = State::waiting;
    deadline_ = Clock::now() + delay;
    arm();
}

void Pile::shutdown() {
    if (state_ == State::stopped) return;
    if (state_ == State::online) --sim_.log.stats.logged_in;
    if (connected()) --sim_.log.stats.connected;
    state_ = State::stopped;
    ++gen_;
    ++tick_token_;
    error_code ignored;
    socket_.close(ignored);
    timer_.cancel();
    split_timer_.cancel();
    out_.clear();
    out_bytes_ = 0;
    writing_ = false;
}

Millis Pile::next_backoff() {
    const Millis base = backoff_;
    backoff_ = std::min(sim_.opt.reconnect_max, base * 2);
    return base + Millis(static_cast<Millis::rep>(sim_.below(static_cast<std::uint64_t>(base.count() / 2 + 1))));
}

void Pile::connect() {
    ++gen_;
    error_code ec;
    socket_ = tcp::socket(sim_.io);
    socket_.open(sim_.platform.protocol(), ec);
    if (!ec) socket_.set_option(tcp::no_delay(true), ec);
    if (!ec && source_) {
#ifdef IP_BIND_ADDRESS_NO_PORT
        // Choose the port at connect time, per destination: many piles share one source address.
        error_code ignored;
        socket_.set_option(asio::detail::socket_option::boolean<IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT>(true), ignored);
#endif
        socket_.bind(tcp::endpoint(*source_, 0), ec);
    }
    if (ec) return connect_failed((source_ ? "bind " + source_->to_string() + ": " : std::string()) + ec.message());
    state_ = State::connecting;
    deadline_ = Clock::now() + sim_.opt.connect_timeout;
    socket_.async_connect(sim_.platform, [this, g = gen_](const error_code& e) {
        if (g != gen_ || state_ != State::connecting) return;
        if (e) return connect_failed(e.message());
        on_connected();
    });
    arm();
}

void Pile::connect_failed(const std::string& why) {
    ++gen_;
    error_code ignored;
    socket_.close(ignored);
    if (sim_.log.wants("connect_failed")) {
        Event e = {{"event", "connect_failed"}, {"pile", id_}, {"error", why}};
        if (source_) e["source"] = source_->to_string();
        sim_.log.event(e);
    }
    state_ = State::waiting;
    deadline_ = Clock::now() + next_backoff();
    arm();
}

void Pile::on_connected() {
    state_ = State::login;
    ++sim_.log.stats.connected;
    ++sim_.log.stats.connects;
    seq_ = 0;
    misses_ = 0;
    reader_ = FrameReader{};
    if (sim_.log.wants("connected")) {
        error_code ec;
        const auto local = socket_.local_endpoint(ec);
        Event e = {{"event", "connected"}, {"pile", id_}};
        if (!ec) e["local"] = local.address().to_string() + ":" + std::to_string(local.port());
        sim_.log.event(e);
    }
    deadline_ = Clock::now() + sim_.opt.login_timeout;
    send({{"type", "login"},
          {"data",
           {{"pile_type", sim_.opt.ac ? "ac" : "dc"},
            {"gun_count", sim_.opt.guns},
            {"protocol_version", "1.6"},
            {"program_version", "SIM1.0"},
            {"network", "lan"},
            {"sim", "0"},
            {"carrier", "other"}}}});
    read();
    arm();
}

void Pile::read() {
    socket_.async_read_some(asio::buffer(rbuf_), [this, g = gen_](const error_code& ec, std::size_t n) {
        if (g != gen_) return;
        if (ec) return close_link(ec == asio::error::eof ? "closed by the platform" : "read: " + ec.message());
        reader_.feed({rbuf_.data(), n});
        while (auto ev = reader_.next()) {
            if (auto* f = std::get_if<Frame>(&*ev)) {
                on_frame(*f);
            } else {
                const auto& d = std::get<DroppedBytes>(*ev);
                sim_.log.error(
                    {{"pile", id_}, {"error", "dropped " + std::to_string(d.count) + " bytes: " + d.reason}, {"hex", to_hex(d.bytes)}});
            }
            if (g != gen_) return;  // the frame closed the link
        }
        read();
    });
}

void Pile::close_link(const std::string& reason) {
    if (state_ == State::connecting) return connect_failed(reason);
    if (!connected()) return;
    if (state_ == State::online) --sim_.log.stats.logged_in;
    --sim_.log.stats.connected;
    ++sim_.log.stats.disconnects;
    ++gen_;
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    split_timer_.cancel();
    out_.clear();
    out_bytes_ = 0;
    writing_ = false;
    wbuf_.reset();
    sim_.log.event({{"event", "disconnected"}, {"pile", id_}, {"reason", reason}});
    state_ = State::waiting;
    deadline_ = Clock::now() + next_backoff();
    arm();
}

void Pile::disconnect(const std::string& reason) {
    if (!connected()) return error("disconnect: not connected");
    close_link(reason);
}

std::string Pile::next_seq() {
    const std::uint16_t n = seq_++;
    const std::uint8_t lo = static_cast<std::uint8_t>(n & 0xFF), hi = static_cast<std::uint8_t>(n >> 8);
    const std::array<std::uint8_t, 2> bytes =
        sim_.opt.seq_order == SeqOrder::le ? std::array<std::uint8_t, 2>{lo, hi} : std::array<std::uint8_t, 2>{hi, lo};
    return to_hex(bytes);
}

bool Pile::reply(const nlohmann::json& request, nlohmann::json envelope) {
    envelope["seq"] = request.at("seq");
    return send(std::move(envelope));
}

bool Pile::send(nlohmann::json envelope) {
    if (!connected()) return false;
    envelope["pile"] = id_;
    if (!envelope.contains("seq")) envelope["seq"] = next_seq();
    std::vector<std::uint8_t> frame;
    try {
        frame = sim_.codec.encode(envelope);
    } catch (const std::exception& e) {
        error(std::string("encode ") + envelope.value("type", "?") + ": " + e.what());
        return false;
    }
    decorate(envelope, frame);
    if (sim_.log.verbose())
        sim_.log.event({{"event", "tx"}, {"pile", id_}, {"type", envelope["type"]}, {"seq", envelope["seq"]}, {"hex", to_hex(frame)}});
    if (!enqueue(std::move(frame), sim_.opt.hostile.split, envelope.value("type", std::string()))) return false;
    ++sim_.log.stats.frames_out;
    return true;
}

void Pile::decorate(const nlohmann::json& envelope, const std::vector<std::uint8_t>& frame) {
    const Hostile& h = sim_.opt.hostile;
    if (!h.any()) return;
    const double p = sim_.opt.hostile_rate;
    if (h.garbage && sim_.chance(p)) {
        std::vector<std::uint8_t> junk(1 + sim_.below(16));
        for (auto& b : junk) {
            b = static_cast<std::uint8_t>(sim_.below(256));
            if (b == start_byte) b = 0x00;  // a stray 0x68 would hold the reader until more bytes come
        }
        enqueue(std::move(junk), h.split);
    }
    if (h.bad_crc && sim_.chance(p)) {
        std::vector<std::uint8_t> bad = frame;
        bad.back() ^= 0x5A;
        enqueue(std::move(bad), h.split);
    }
    if (h.wrong_pile && state_ == State::online && sim_.chance(p)) {
        nlohmann::json other = envelope;
        // A pile number this simulator does not own (just past its range).
        other["pile"] = pile_number((sim_.opt.pile_start + sim_.opt.piles + (number_ - sim_.opt.pile_start)) % 100'000'000'000'000ULL);
        try {
            enqueue(sim_.codec.encode(other), h.split);
        } catch (const std::exception&) {}
    }
}

void Pile::write_raw(std::vector<std::uint8_t> bytes) {
    if (!connected()) return error("raw: not connected");
    if (sim_.log.verbose()) sim_.log.event({{"event", "tx"}, {"pile", id_}, {"type", "raw"}, {"hex", to_hex(bytes)}});
    enqueue(std::move(bytes), false);
}

bool Pile::enqueue(std::vector<std::uint8_t> bytes, bool split, std::string type) {
    if (bytes.empty()) return true;
    if (out_.size() >= max_queued_frames || out_bytes_ + bytes.size() > max_queued_bytes) {
        ++sim_.log.stats.dropped_frames;
        error("write queue full: frame dropped");
        return false;
    }
    out_bytes_ += bytes.size();
    out_.push_back({std::move(bytes), split, std::move(type)});
    pump();
    return true;
}

void Pile::count_written(const std::vector<std::string>& types) {
    for (const auto& t : types)
        if (!t.empty()) ++sim_.log.stats.written[t];
}

void Pile::pump() {
    if (writing_ || out_.empty() || !connected()) return;
    writing_ = true;
    if (out_.front().split) {
        out_bytes_ -= out_.front().bytes.size();
        wbuf_ = std::make_shared<std::vector<std::uint8_t>>(std::move(out_.front().bytes));
        wtype_ = std::move(out_.front().type);
        out_.pop_front();
        woff_ = 0;
        return write_split();
    }
    auto buf = std::make_shared<std::vector<std::uint8_t>>();
    std::vector<std::string> types;  // of the frames in `buf`, counted once written
    while (!out_.empty() && !out_.front().split) {
        auto& b = out_.front().bytes;
        buf->insert(buf->end(), b.begin(), b.end());
        out_bytes_ -= b.size();
        types.push_back(std::move(out_.front().type));
        out_.pop_front();
    }
    asio::async_write(socket_, asio::buffer(*buf), [this, g = gen_, buf, types = std::move(types)](const error_code& ec, std::size_t) {
        if (g != gen_) return;
        writing_ = false;
        if (ec) return close_link("write: " + ec.message());
        count_written(types);
        pump();
    });
}

void Pile::write_split() {
    auto buf = wbuf_;
    asio::async_write(socket_, asio::buffer(buf->data() + woff_, 1), [this, g = gen_, buf](const error_code& ec, std::size_t) {
        if (g != gen_) return;
        if (ec) {
            writing_ = false;
            return close_link("write: " + ec.message());
        }
        if (++woff_ >= buf->size()) {
            writing_ = false;
            wbuf_.reset();
            count_written({std::move(wtype_)});
            wtype_.clear();
            return pump();
        }
        split_timer_.expires_after(sim_.opt.split_pause);
        split_timer_.async_wait([this, g](const error_code& e) {
            if (g != gen_ || e) return;
            write_split();
        });
    });
}

}  // namespace ykc::sim
