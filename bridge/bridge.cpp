#include "bridge.hpp"
#include "mqtt_options.hpp"

#include <boost/asio/ip/address.hpp>
#include <spdlog/spdlog.h>

#include "ykc/cp56.hpp"
#include "ykc/hex.hpp"
#include "ykc/json_member.hpp"
#include "ykc/reference.hpp"  // hex_code

namespace ykc::bridge {

namespace asio = boost::asio;
using json = nlohmann::json;

// Errors a charger causes, at most limits.error_reports_per_second per session (bursts up to
// 4 s worth): a flood of garbage must not flood the broker, the log and everyone's latency.
// What is held back is counted, and the next report says how many ("suppressed"). Errors on
// ykc/bridge/error that MQTT clients cause (commands for malformed pile numbers) share one budget.
void Bridge::report(ErrorBudget& b, const std::string& pile, MakeError make) {
    const auto now = Clock::now();
    const double rate = config_.limits.error_reports_per_second, burst = rate * 4;
    if (b.time == Clock::time_point{}) b.tokens = burst;
    else b.tokens = std::min(burst, b.tokens + rate * std::chrono::duration<double>(now - b.time).count());
    b.time = now;
    if (b.tokens < 1) {
        ++b.suppressed;
        return;
    }
    b.tokens -= 1;
    json error = make();  // built only when it is published: a flood costs a counter per error
    if (b.suppressed) error["suppressed"] = std::exchange(b.suppressed, 0);
    publish_error(pile, std::move(error));
}

void Bridge::report(const SessionPtr& s, MakeError make) {
    ++counters_.errors;
    report(s->pile.errors, s->pile.number, make);
}

Bridge::Bridge(asio::io_context& io, const Config& config, std::shared_ptr<const Catalogue> catalogue)
    : io_(io),
      config_(config),
      codec_(std::move(catalogue), CodecOptions{parse_utc_offset(config.protocol.utc_offset).value_or(480)}),
      acceptor_(io),
      mqtt_(io, config, MqttLink::Handlers{[this] { on_connected(); }, [] {}, [this](IncomingMessage m) { on_message(std::move(m)); }}),
      accept_backoff_(io),
      housekeeping_(io),
      time_sync_timer_(io),
      pairing_timer_(io,
                     [this] {
                         if (stopping_) return;
                         expire_pending();
                         deadlines_changed();
                     }),
      // replies to frames no command waits for: every command that may time out at once, and a
      // few more (raw frames, time_sync), each for limits.command_timeout
      pairing_(std::chrono::seconds(config.limits.command_timeout), static_cast<std::size_t>(config.limits.max_commands_in_flight) + 8),
      ownership_(config.mqtt.client_id),
      orphan_timer_(
          io,
          [this] {
              if (stopping_) return;
              for (const auto& o : ownership_.orphans_due(Clock::now(), [this](const std::string& p) { return piles_.count(p) > 0; }))
                  publish_left_offline(o.pile, ownership_.me(), o.claim, "not back after the bridge restarted");
              arm_orphans();
          }),
      deferred_timer_(io,
                      [this] {
                          if (!stopping_) answer_deferred();
                      }),
      ledger_(io, config_, mqtt_, [this] { return now_iso(); }) {
    uplinks_ = make_uplinks(*this);
    for (const auto& m : codec_.catalogue().messages())
        for (const auto& u : uplinks_)
            if (m.direction == Direction::up && u->handles(m)) uplink_of_[m.code] = u.get();
    if (config.homeassistant.on()) ha_ = std::make_unique<HomeAssistant>(io, config_, mqtt_, codec_.catalogue());  // homeassistant hook
}

Bridge::~Bridge() = default;

std::string Bridge::topic(const std::string& pile, const std::string& suffix) const {
    return config_.mqtt.base_topic + "/" + pile + "/" + suffix;
}

std::string Bridge::now_iso() const {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    std::string s;
    const Cp56 t = cp56_from_epoch_ms(ms, codec_.options().utc_offset_minutes);
    append_cp56_json(s, t, codec_.options().utc_offset_minutes);
    return s.substr(1, s.size() - 2);
}

void Bridge::start() {
    const auto address = asio::ip::make_address(config_.listen.address);
    const asio::ip::tcp::endpoint ep(address, static_cast<unsigned short>(config_.listen.port));
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    spdlog::info("listening for chargers on {}:{}", config_.listen.address, acceptor_.local_endpoint().port());
    if (config_.mqtt.commands == "all") {
        // one subscription for every pile: commands for piles not connected are answered too
        const std::string all = topic("+", "cmd/#");
        mqtt_.subscribe(
            all,
            [this, all](bool ok) {
                if (!ok) publish_error("", {{"error", "the broker refused the subscription to " + all + ": no command can reach a pile"}});
                for (auto& [pile, s] : piles_) publish_availability(s, true);
            },
            config_.mqtt.commands_qos);
    }
    // every bridge's claims on the piles and every bridge's state (ownership.hpp), retained ones
    // first; at QoS 0: 10,000 retained messages after a start, each login's echo, none worth a
    // PUBACK (and Paho C 1.3.12 under MQTT 5 stalls its publishes while it acknowledges such a stream)
    const auto read = [this](const std::string& filter, const std::string& loss) {
        mqtt_.subscribe(
            filter,
            [this, filter, loss](bool ok) {
                if (!ok) publish_error("", {{"error", "the broker refused the subscription to " + filter + ": " + loss}});
            },
            0);
    };
    read(topic("+", "availability"), "piles left online by a crash stay so, and several bridges cannot tell which holds a pile");
    read(config_.mqtt.base_topic + "/bridge/state", "the piles of another bridge that dies stay online");
    read(topic("+", "gun/+/meter"), "a gun's lifetime meter may go down when its pile moves here from another bridge");
    read(topic("+", "work_params"),
         "work_params_set without state or max_power fills what this bridge saw accepted, not what another bridge did");
    ledger_.start();
    if (ha_) ha_->start();  // homeassistant hook
    mqtt_.start();
    accept();
    housekeeping();
    if (config_.policies.time_sync) time_sync_tick();
}

void Bridge::housekeeping() {
    housekeeping_.expires_after(std::chrono::seconds(config_.publish.health_interval));
    housekeeping_.async_wait([this](boost::system::error_code ec) {
        if (ec || stopping_) return;
        publish_health();
        housekeeping();
    });
}

// 0x56 to every pile whose last one is policies.time_sync_interval old, checked every 30 s (or
// every interval, when shorter): a pile's clock is set after login and then once per interval.
void Bridge::time_sync_tick() {
    const auto interval = std::chrono::seconds(config_.policies.time_sync_interval);
    time_sync_timer_.expires_after(std::min<std::chrono::seconds>(interval, std::chrono::seconds(30)));
    time_sync_timer_.async_wait([this, interval](boost::system::error_code ec) {
        if (ec || stopping_) return;
        const auto now = std::chrono::steady_clock::now();
        for (auto& [pile, s] : piles_) {
            const auto last = s->pile.last_time_sync;
            if (last == Clock::time_point{} || now - last >= interval) time_sync(s);
        }
        time_sync_tick();
    });
}

// ---- charger side -------------------------------------------------------------------------

void Bridge::accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, asio::ip::tcp::socket socket) {
        if (stopping_) return;
        if (ec) {
            // e.g. EMFILE: back off instead of spinning on a failing accept; one warning per
            // stretch of failures, not five a second
            if (accept_failures_++ == 0)
                spdlog::warn("accept failed: {}; retrying every 200 ms (limits.max_connections {}, see `ulimit -n`)", ec.message(),
                             config_.limits.max_connections);
            else spdlog::debug("accept failed again: {}", ec.message());
            accept_backoff_.expires_after(std::chrono::milliseconds(200));
            accept_backoff_.async_wait([this](boost::system::error_code e) {
                if (!e && !stopping_) accept();
            });
            return;
        }
        if (accept_failures_ > 0) {
            spdlog::info("accepting connections again after {} failed attempt(s)", accept_failures_);
            accept_failures_ = 0;
        }
        if (sessions_.size() >= static_cast<std::size_t>(config_.limits.max_connections)) {
            boost::system::error_code ignored;
            spdlog::warn("refusing a connection: limits.max_connections ({}) reached", config_.limits.max_connections);
            socket.close(ignored);
        } else {
            auto s = std::make_shared<Session>(std::move(socket), *this, next_session_id_++,
                                               static_cast<std::size_t>(config_.limits.output_queue));
            s->pile.next_seq = static_cast<std::uint16_t>(seq_random_());
            sessions_.emplace(s->id(), s);
            spdlog::debug("connection from {}", s->remote());
            s->expect_traffic_within(std::chrono::seconds(config_.limits.pre_login_timeout));
            s->start();
        }
        accept();
    });
}

// The session's next sequence number, little-endian on the wire; each session starts at a random
// one (a late reply to a frame of the pile's previous session seldom looks like the echo of one of
// this session's), and 0000 is skipped: a reply carrying 0000 (what chargers that do not echo
// often send) never looks like the echo of one of the bridge's frames.
Seq Bridge::next_seq(Session& s) {
    if (s.pile.next_seq == 0) s.pile.next_seq = 1;
    const std::uint16_t n = s.pile.next_seq++;
    return Seq{static_cast<std::uint8_t>(n & 0xFF), static_cast<std::uint8_t>(n >> 8)};
}

void Bridge::send(const SessionPtr& s, const std::string& type, json data, std::optional<Seq> seq) {
    const Message* m = codec_.catalogue().find(type);
    if (!m || !s->open()) return;
    if (!seq) seq = next_seq(*s);
    try {
        const auto body = codec_.encode_body(*m, data, s->pile.number);
        auto frame = write_frame(m->code, *seq, 0, body, s->pile.crc_order);
        spdlog::debug("pile {}: -> {} {}", s->pile.number, type, to_hex(frame));
        ++counters_.frames_out;
        if (!m->reply.empty()) pairing_.unpaired(s->id(), *seq, m->reply, Clock::now());  // its reply is not a command's (time_sync)
        s->send(std::move(frame));
    } catch (const EncodeError& e) {
        spdlog::error("pile {}: cannot build {}: {}", s->pile.number, type, e.what());
    }
}

SessionPtr Bridge::session_of(const std::string& pile) const {
    const auto it = piles_.find(pile);
    return it == piles_.end() ? nullptr : it->second;
}

SessionPtr Bridge::session_by_id(std::uint64_t id) const {
    const auto it = sessions_.find(id);
    return it == sessions_.end() ? nullptr : it->second;
}

// One timer for everything that waits with a deadline (commands, logins, card auths), set to
// the earliest.
void Bridge::deadlines_changed() {
    if (!stopping_) pairing_timer_.arm(pairing_.next_deadline());
}

void Bridge::expire_pending() {
    for (auto& p : pairing_.expire(Clock::now())) {
        if (p.awaits == Pending::Awaits::charger) {
            command_expired(p);
        } else if (const Message* m = codec_.catalogue().find(p.type); m && uplink_of_[m->code]) {
            uplink_of_[m->code]->on_expired(p);
        }
    }
}

void Bridge::on_dropped(const SessionPtr& s, const DroppedBytes& dropped) {
    counters_.dropped_bytes += dropped.count;
    report(s, [&] {
        return json{{"error", dropped.reason}, {"hex", to_hex(dropped.bytes)}, {"bytes", dropped.count}, {"remote", s->remote()}};
    });
}

// What is reported of a frame the bridge does not take: why, which frame, and from where.
json Bridge::frame_error(const SessionPtr& s, const Frame& frame, std::string why) const {
    json e = {{"error", std::move(why)}, {"code", hex_code(frame.type())}};
    if (const Message* m = codec_.catalogue().find(frame.type())) e["type"] = m->name;
    e["hex"] = to_hex(frame.bytes);
    e["remote"] = s->remote();
    return e;
}

// A bug in handling one frame must cost that frame only: reported like any frame the bridge
// does not take, and the session reads on.
void Bridge::on_frame_failed(const SessionPtr& s, const Frame& frame, const std::exception& e) {
    spdlog::error("pile {}: internal error handling a {} frame: {}", s->pile.number.empty() ? s->remote() : s->pile.number,
                  hex_code(frame.type()), e.what());
    report(s,
           [&] { return frame_error(s, frame, std::string("internal error handling this frame (the session continues): ") + e.what()); });
}

void Bridge::on_frame(const SessionPtr& s, const Frame& frame) {
    ++counters_.frames_in;
    spdlog::debug("pile {}: <- {}", s->pile.number.empty() ? s->remote() : s->pile.number, to_hex(frame.bytes));
    const Message* m = codec_.catalogue().find(frame.type());
    Uplink* const u = uplink_of_[frame.type()];
    if (!s->pile.logged_in && !(u && u->opens_session())) {
        const int n = ++s->pile.frames_before_login;
        report(s, [&] { return frame_error(s, frame, "frame before login"); });
        if (n > config_.limits.pre_login_max_frames)
            s->close("more than " + std::to_string(config_.limits.pre_login_max_frames) + " frames before login");
        return;
    }
    // odd codes go up, even codes go down: a charger cannot send what only the platform sends
    // (a 0x40 transaction confirmation, a 0x92 reboot, ...)
    if (m && m->direction == Direction::down) {
        report(s, [&] {
            return frame_error(s, frame, m->name + " (" + hex_code(frame.type()) + ") is sent by the platform, not by a charger: ignored");
        });
        return;
    }
    std::string text;
    try {
        codec_.decode_to(frame.view(), text);
    } catch (const DecodeError& e) {
        if (m && u && u->on_unreadable(s, frame, *m, e.what())) return;  // a record: published, never confirmed
        report(s, [&] { return frame_error(s, frame, e.what()); });
        return;
    }
    if (u && u->opens_session()) {
        const json env = json::parse(text);
        return u->on_frame(s, frame, *m, env, std::move(text));
    }
    if (const auto pile = json_member(text, "pile"); !pile.empty() && pile.front() == '"' && json_plain_string(pile) != s->pile.number) {
        report(s, [&] {
            return frame_error(s, frame,
                               "frame for pile " + json::parse(pile).get<std::string>() + " on the socket of pile " + s->pile.number);
        });
        return;
    }
    // only a frame the bridge takes shows that the pile is there, and how it wants its answers
    s->expect_traffic_within(std::chrono::seconds(config_.limits.heartbeat_timeout));
    follow_crc_order(*s, frame);
    // A handler that does not parse (heartbeats, realtime data) gets the text only, unless a
    // command waits for the frame: then it is parsed to pair it.
    const bool parse = !u || u->parses() || pairing_.awaits(s->pile.number, m->name);
    const json env = parse ? json::parse(text) : json();
    if (u) u->on_frame(s, frame, *m, env, std::move(text));
    else
        publish_frame(s->pile.number, m->topic, std::move(text), config_.mqtt.qos, {},
                      m->telemetry ? MqttLink::Lane::telemetry : MqttLink::Lane::control);  // periodic data waits behind answers
    if (!env.is_null()) match_command(s, frame.seq(), env);
}

// The session becomes its pile's: a session it replaces is closed, cmd/# is subscribed and
// "online" published once it is in place, the pile's clock is set.
void Bridge::logged_in(const SessionPtr& s, const json& data, bool first) {
    const std::string& pile = s->pile.number;
    // the claim first: the session this one replaces then publishes no "offline" over it
    if (s->pile.claim == 0) s->pile.claim = new_claim(pile);
    if (auto old = piles_.find(pile); old != piles_.end() && old->second != s) {
        spdlog::warn("pile {}: new login from {} replaces the session from {}", pile, s->remote(), old->second->remote());
        old->second->close("replaced by a new login from " + s->remote());
    }
    piles_[pile] = s;
    // "online" is published once cmd/# is in place (and again after every reconnect), so a
    // backend that sends a command as soon as it sees the pile online is heard.
    listen_commands(pile, "cmd/#", [this, pile](bool ok) {
        auto it = piles_.find(pile);
        if (it == piles_.end()) return;
        if (!ok)
            publish_error(
                pile, {{"error", "the broker refused the subscription to " + topic(pile, "cmd/#") + ": commands cannot reach this pile"}});
        publish_availability(it->second, true);
    });
    s->expect_traffic_within(std::chrono::seconds(config_.limits.heartbeat_timeout));
    spdlog::info("pile {}: logged in from {} (firmware {}, protocol {})", pile, s->remote(), s->pile.firmware, s->pile.protocol_version);
    if (first && config_.policies.time_sync) time_sync(s);
    if (ha_) ha_->logged_in(pile, data);  // homeassistant hook
}

void Bridge::time_sync(const SessionPtr& s) {
    s->pile.last_time_sync = Clock::now();
    send(s, "time_sync", {{"time", now_iso()}});
}

void Bridge::on_closed(const SessionPtr& s, const std::string& reason) {
    sessions_.erase(s->id());
    pairing_.forget_session(s->id());
    if (!s->pile.logged_in) {
        spdlog::debug("connection from {} closed before login: {}", s->remote(), reason);
        return;
    }
    const std::string pile = s->pile.number;
    spdlog::info("pile {}: session from {} closed: {}", pile, s->remote(), reason);
    for (auto& u : uplinks_) u->on_closed(s);
    auto it = piles_.find(pile);
    if (it == piles_.end() || it->second != s) return;  // replaced by a newer session
    piles_.erase(it);
    if (ha_) ha_->closed(pile);  // homeassistant hook
    publish_availability(s, false);
    unlisten_commands(pile, "cmd/#");
    // commands waiting for this pile's reply will not get one (but those whose reply comes after a
    // restart: firmware_update)
    for (auto& c : pairing_.take_if(pile, [](const Pending& c) { return c.awaits == Pending::Awaits::charger && !c.across_reconnects; }))
        respond(pile, c.type, {{"id", c.caller_id}, {"status", "offline"}, {"error", "the charger disconnected: " + reason}},
                c.response_topic, c.correlation);
}

// ---- MQTT side ----------------------------------------------------------------------------

void Bridge::publish_frame(const std::string& pile, const std::string& type, std::string text, int qos, MqttLink::Done done,
                           MqttLink::Lane lane) {
    append_plain_string_member(text, "ts", now_iso());  // the envelope gets its timestamp
    mqtt_.publish(topic(pile, type), std::move(text), qos, false, std::move(done), {}, lane);
}

void Bridge::publish_error(const std::string& pile, json error) {
    error["ts"] = now_iso();
    if (!pile.empty()) error["pile"] = pile;
    spdlog::warn("{}: {}", pile.empty() ? std::string("bridge") : "pile " + pile, error.value("error", ""));
    mqtt_.publish(pile.empty() ? config_.mqtt.base_topic + "/bridge/error" : topic(pile, "error"), dump_text(error), config_.mqtt.qos,
                  false);
}

void Bridge::publish_health() {
    json h = {{"ts", now_iso()},
              {"bridge", config_.mqtt.client_id},
              {"sessions", sessions_.size()},
              {"piles", piles_.size()},
              {"frames_in", counters_.frames_in},
              {"frames_out", counters_.frames_out},
              {"errors", counters_.errors},
              {"dropped_bytes", counters_.dropped_bytes},
              {"commands", counters_.commands},
              {"commands_waiting", pairing_.count(Pending::Awaits::charger)},
              {"mqtt_connected", mqtt_.connected()},
              {"publish_queue", mqtt_.queued()},
              {"publish_inflight", mqtt_.inflight()},
              {"publish_coalesced", mqtt_.coalesced()},
              {"outbox", mqtt_.journaled()},
              {"published", mqtt_.published()},
              {"publish_failed", mqtt_.failed()}};
    for (const auto& u : uplinks_) u->health(h);
    // the shared topic (one bridge), and this bridge's own (several; Home Assistant's bridge device)
    const std::string payload = h.dump();
    mqtt_.publish(config_.mqtt.base_topic + "/bridge/health", payload, 0, true);
    mqtt_.publish(config_.mqtt.base_topic + "/bridge/" + config_.client_file_stem() + "/health", payload, 0, true);
}

void Bridge::on_connected() {
    // the piles this bridge left online before it started (a crash) have this long to come back
    if (grace_until_ == Clock::time_point{}) {
        grace_until_ = Clock::now() + std::chrono::seconds(config_.limits.heartbeat_timeout);
        ownership_.connected(Clock::now());
    }
    // each live pile's availability follows its cmd/# SUBACK (see logged_in)
    publish_state();
    if (ha_) ha_->connected();  // homeassistant hook
}

void Bridge::publish_state() {
    json state = bridge_state(config_, "online");
    state["ts"] = now_iso();
    mqtt_.publish(config_.mqtt.base_topic + "/bridge/state", state.dump(), 1, true);
}

// mqtt.commands "all": the one <base>/+/cmd/# subscription covers every pile, and `ready` runs at
// once when it is in place (otherwise its own SUBACK announces the piles). "connected": a
// subscription per live pile, so several bridges can share a broker.
void Bridge::listen_commands(const std::string& pile, const std::string& suffix, MqttLink::Done ready) {
    if (config_.mqtt.commands == "connected") return mqtt_.subscribe(topic(pile, suffix), std::move(ready), config_.mqtt.commands_qos);
    if (ready && mqtt_.subscribed(topic("+", "cmd/#"))) ready(true);
}

void Bridge::unlisten_commands(const std::string& pile, const std::string& suffix) {
    if (config_.mqtt.commands == "connected") mqtt_.unsubscribe(topic(pile, suffix));
}

void Bridge::shutdown() {
    stopping_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    accept_backoff_.cancel();
    housekeeping_.cancel();
    time_sync_timer_.cancel();
    pairing_timer_.cancel();
    orphan_timer_.cancel();
    deferred_timer_.cancel();
    for (auto& d : deferred_) d.due = Clock::time_point::min();  // answered now
    answer_deferred();
    for (auto& u : uplinks_) u->stop();
    std::vector<SessionPtr> all;
    for (auto& [id, s] : sessions_) all.push_back(s);
    for (auto& s : all) s->close("bridge shutting down");
    ledger_.stop();
    if (ha_) ha_->stop();  // homeassistant hook
}

void Bridge::finish(std::chrono::milliseconds timeout) { mqtt_.stop(timeout); }

}  // namespace ykc::bridge
