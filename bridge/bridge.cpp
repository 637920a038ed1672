#include "bridge.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "command_fill.hpp"
#include "transaction_check.hpp"
#include "ykc/cp56.hpp"
#include "ykc/hex.hpp"
#include "ykc/json_member.hpp"
#include "ykc/pile.hpp"
#include "ykc/reference.hpp"  // hex_code

namespace ykc::bridge {

namespace asio = boost::asio;
using json = nlohmann::json;

struct Bridge::Command {
    std::string id_json;  // the caller's id, as JSON text
    json id;
    std::string name, reply_type, response_topic, correlation;
    json sent;  // data sent, for matching the reply
    std::vector<std::string> match;
    Seq seq{};                       // as sent: a pile that echoes it in its reply is paired by it
    int timeout = 0;                 // seconds: limits.command_timeout, or the catalogue's reply_timeout
    bool across_reconnects = false;  // a reply_timeout's command waits through the pile's reconnects
    std::weak_ptr<Session> session;
    std::unique_ptr<asio::steady_timer> timer;
};

struct Bridge::Waiting {
    enum class Kind { login, card_auth, transaction } kind;
    std::weak_ptr<Session> session;
    Seq seq{};
    int gun = -1;
    std::string key;  // serial for transactions, parallel_id for parallel card auth
    std::string reply_type;
    Frame frame;  // the request (login: decided later)
    json env;
    std::unique_ptr<asio::steady_timer> timer;
};

namespace {

// JSON text of what may carry bytes from outside (error messages quoting a payload): invalid
// UTF-8 becomes U+FFFD instead of an exception.
std::string dump_text(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Removes `value` from the entries of `key` in a multimap.
template <typename Map, typename V>
// false when it is not there (any more): a timer that expired as its entry was answered, whose
// handler was already on its way when the answer cancelled it, then does nothing
bool erase_entry(Map& map, const std::string& key, const V& value) {
    for (auto it = map.lower_bound(key); it != map.end() && it->first == key; ++it)
        if (it->second == value) {
            map.erase(it);
            return true;
        }
    return false;
}

// The first entry of `key` in a multimap for which pred holds (end() when there is none).
template <typename Map, typename Pred>
typename Map::iterator find_entry_if(Map& map, const std::string& key, Pred pred) {
    for (auto it = map.lower_bound(key); it != map.end() && it->first == key; ++it)
        if (pred(*it->second)) return it;
    return map.end();
}

// The same, taken out of the map (null when there is none).
template <typename Map, typename Pred>
typename Map::mapped_type take_entry_if(Map& map, const std::string& key, Pred pred) {
    const auto it = find_entry_if(map, key, pred);
    if (it == map.end()) return {};
    auto value = std::move(it->second);
    map.erase(it);
    return value;
}

// Answer the way the pile speaks: the CRC byte order of its last frame, unless the two bytes are
// equal (then both orders fit, and the frame says nothing).
void follow_crc_order(Session& s, const Frame& frame) {
    const auto& b = frame.bytes;
    if (b[b.size() - 2] != b[b.size() - 1]) s.crc_order = frame.crc_order;
}

// The session's next sequence number, little-endian on the wire; each session starts at a random
// one (a late reply to a frame of the pile's previous session seldom looks like the echo of one of
// this session's), and 0000 is skipped: a reply carrying 0000 (what chargers that do not echo
// often send) never looks like the echo of one of the bridge's frames.
Seq next_seq(Session& s) {
    if (s.next_seq == 0) s.next_seq = 1;
    const std::uint16_t n = s.next_seq++;
    return Seq{static_cast<std::uint8_t>(n & 0xFF), static_cast<std::uint8_t>(n >> 8)};
}

}  // namespace

// Errors a charger causes, at most limits.error_reports_per_second per session (bursts up to
// 4 s worth): a flood of garbage must not flood the broker, the log and everyone's latency.
// What is held back is counted, and the next report says how many ("suppressed"). Errors on
// ykc/bridge/error that MQTT clients cause (commands for malformed pile numbers) share one budget.
template <typename Make>
void Bridge::report(ErrorBudget& b, const std::string& pile, Make&& make) {
    const auto now = std::chrono::steady_clock::now();
    const double rate = config_.limits.error_reports_per_second, burst = rate * 4;
    if (b.time == std::chrono::steady_clock::time_point{}) b.tokens = burst;
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

template <typename Make>
void Bridge::report(const SessionPtr& s, Make&& make) {
    report(s->errors, s->pile, std::forward<Make>(make));
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
      state_flush_(io) {
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
        mqtt_.subscribe(all, [this, all](bool ok) {
            if (!ok) publish_error("", {{"error", "the broker refused the subscription to " + all + ": no command can reach a pile"}});
            for (auto& [pile, s] : piles_) publish_availability(s, true);
        });
    }
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
            auto it = last_time_sync_.find(s->id());
            if (it == last_time_sync_.end() || now - it->second >= interval) time_sync(s);
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
            s->next_seq = static_cast<std::uint16_t>(seq_random_());
            sessions_.emplace(s->id(), s);
            spdlog::debug("connection from {}", s->remote());
            s->expect_traffic_within(std::chrono::seconds(config_.limits.pre_login_timeout));
            s->start();
        }
        accept();
    });
}

void Bridge::send(const SessionPtr& s, const std::string& type, json data, std::optional<Seq> seq) {
    const Message* m = codec_.catalogue().find(type);
    if (!m || !s->open()) return;
    if (!seq) seq = next_seq(*s);
    try {
        const auto body = codec_.encode_body(*m, data, s->pile);
        auto frame = write_frame(m->code, *seq, 0, body, s->crc_order);
        spdlog::debug("pile {}: -> {} {}", s->pile, type, to_hex(frame));
        ++counters_.frames_out;
        if (!m->reply.empty()) expect_unpaired(*s, *seq, m->reply);  // its reply is not a command's (time_sync)
        s->send(std::move(frame));
    } catch (const EncodeError& e) {
        spdlog::error("pile {}: cannot build {}: {}", s->pile, type, e.what());
    }
}

void Bridge::on_dropped(const SessionPtr& s, const DroppedBytes& dropped) {
    counters_.dropped_bytes += dropped.count;
    ++counters_.errors;
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
    ++counters_.errors;
    spdlog::error("pile {}: internal error handling a {} frame: {}", s->pile.empty() ? s->remote() : s->pile, hex_code(frame.type()),
                  e.what());
    report(s,
           [&] { return frame_error(s, frame, std::string("internal error handling this frame (the session continues): ") + e.what()); });
}

void Bridge::on_frame(const SessionPtr& s, const Frame& frame) {
    ++counters_.frames_in;
    spdlog::debug("pile {}: <- {}", s->pile.empty() ? s->remote() : s->pile, to_hex(frame.bytes));
    if (!s->logged_in && frame.type() != 0x01) {
        ++counters_.errors;
        const int n = ++s->frames_before_login;
        report(s, [&] { return frame_error(s, frame, "frame before login"); });
        if (n > config_.limits.pre_login_max_frames)
            s->close("more than " + std::to_string(config_.limits.pre_login_max_frames) + " frames before login");
        return;
    }
    // odd codes go up, even codes go down: a charger cannot send what only the platform sends
    // (a 0x40 transaction confirmation, a 0x92 reboot, ...)
    if (const Message* m = codec_.catalogue().find(frame.type()); m && m->direction == Direction::down) {
        ++counters_.errors;
        report(s, [&] {
            return frame_error(s, frame, m->name + " (" + hex_code(frame.type()) + ") is sent by the platform, not by a charger: ignored");
        });
        return;
    }
    std::string text;
    try {
        codec_.decode_to(frame.view(), text);
    } catch (const DecodeError& e) {
        const Message* m = codec_.catalogue().find(frame.type());
        if (m && m->record) return unreadable_record(s, frame, *m, e.what());  // published, never confirmed
        ++counters_.errors;
        report(s, [&] { return frame_error(s, frame, e.what()); });
        return;
    }
    if (frame.type() == 0x01) {
        const json env = json::parse(text);
        handle_login(s, frame, env, std::move(text));
        return;
    }
    const Message& msg = *codec_.catalogue().find(frame.type());  // decoded, so in the catalogue
    const std::string& type = msg.name;
    if (const auto pile = json_member(text, "pile"); !pile.empty() && pile.front() == '"' && json_plain_string(pile) != s->pile) {
        ++counters_.errors;
        report(s, [&] {
            return frame_error(s, frame, "frame for pile " + json::parse(pile).get<std::string>() + " on the socket of pile " + s->pile);
        });
        return;
    }
    // only a frame the bridge takes shows that the pile is there, and how it wants its answers
    s->expect_traffic_within(std::chrono::seconds(config_.limits.heartbeat_timeout));
    follow_crc_order(*s, frame);
    // Realtime data and heartbeats, nearly all of a fleet's traffic, are not parsed: what the
    // bridge needs of them (the gun, the data object) is read from the text. Other frames, and one
    // that a command waits for, are parsed for their answers and for matching.
    const bool periodic = frame.type() == 0x13 || frame.type() == 0x03;
    const json env = periodic && !awaits_reply(s->pile, type) ? json() : json::parse(text);
    if (msg.record) {
        publish_record(s, frame, msg, env, std::move(text));  // confirms only when safe
        return;
    }
    // periodic frames (catalogue `lane: telemetry`) wait behind what a backend waits for
    const auto lane = msg.telemetry ? MqttLink::Lane::telemetry : MqttLink::Lane::control;
    const std::string_view data = periodic ? json_member(text, "data") : std::string_view{};
    const std::string_view gun = json_member(data, "gun");
    if (frame.type() == 0x03) {
        const json gun_value = gun.empty() ? json() : json::parse(gun);
        if (config_.publish.heartbeats) publish_frame(s->pile, msg.topic, std::move(text), config_.publish.heartbeat_qos);
        send(s, "heartbeat_reply", {{"gun", gun_value}, {"ack", 0}}, frame.seq());
    } else if (frame.type() == 0x13) {
        std::string state = gun.empty() ? std::string() : std::string(data);
        std::string gun_name = !gun.empty() && gun.front() == '"' ? json::parse(gun).get<std::string>() : std::string(gun);
        publish_frame(s->pile, msg.topic, std::move(text), config_.mqtt.qos, {}, lane);
        if (!state.empty()) publish_gun_state(*s, gun_name, std::move(state));
    } else {
        publish_frame(s->pile, msg.topic, std::move(text), config_.mqtt.qos, {}, lane);
    }
    if (env.is_null()) return;
    match_command(s, frame.seq(), env);
    auto_reply(s, frame, env);
}

// whether a command sent to `pile` waits for a frame of `type`
bool Bridge::awaits_reply(const std::string& pile, const std::string& type) const {
    for (auto it = commands_.lower_bound(pile); it != commands_.end() && it->first == pile; ++it)
        if (it->second->reply_type == type) return true;
    return false;
}

void Bridge::handle_login(const SessionPtr& s, const Frame& frame, const json& env, std::string text) {
    const std::string pile = env["pile"];
    if (!is_pile_number(pile)) {
        ++counters_.errors;
        report(s, [&] { return frame_error(s, frame, "login with a malformed pile number \"" + pile + "\""); });
        s->close("malformed pile number in login");
        return;
    }
    if (s->logged_in && pile != s->pile) {
        ++counters_.errors;
        report(s, [&] { return frame_error(s, frame, "login as pile " + pile + " on the socket of pile " + s->pile); });
        return;
    }
    follow_crc_order(*s, frame);
    publish_frame(pile, "login", std::move(text), config_.mqtt.qos);
    const auto& policy = config_.policies.login;
    if (policy == "accept") return finish_login(s, frame, env, true, "");
    if (policy == "allowlist") {
        const auto& list = config_.policies.allowlist;
        const bool ok = std::find(list.begin(), list.end(), pile) != list.end();
        return finish_login(s, frame, env, ok, ok ? "" : "not in policies.allowlist");
    }
    // forward: the backend decides with cmd/login_reply. A login that comes again while one of
    // the pile waits (a charger repeats it until it is answered, or connects anew) takes its
    // place: the answer goes to the newest, with its sequence bytes, and the wait starts again.
    // (cmd/login_reply stays subscribed, for the new one)
    if (auto previous = take_entry_if(waiting_, pile, [](const Waiting& x) { return x.kind == Waiting::Kind::login; })) {
        previous->timer->cancel();
        if (auto other = previous->session.lock(); other && other != s && other->open() && !other->logged_in)
            other->close("replaced by a new login from " + s->remote());
    } else {
        listen_commands(pile, "cmd/login_reply");
    }
    auto w = std::make_shared<Waiting>();
    w->kind = Waiting::Kind::login;
    w->reply_type = "login_reply";
    w->session = s;
    w->seq = frame.seq();
    w->frame = frame;
    w->env = env;
    w->timer = std::make_unique<asio::steady_timer>(io_, std::chrono::seconds(config_.policies.login_timeout));
    waiting_.emplace(pile, w);
    w->timer->async_wait([this, pile, w](boost::system::error_code ec) {
        if (ec || !erase_entry(waiting_, pile, w)) return;
        unlisten_commands(pile, "cmd/login_reply");
        if (auto sp = w->session.lock()) finish_login(sp, w->frame, w->env, false, "no cmd/login_reply within policies.login_timeout");
    });
}

void Bridge::finish_login(const SessionPtr& s, const Frame& frame, const json& env, bool accepted, const std::string& why) {
    if (!s->open()) return;
    const std::string pile = env["pile"];
    const std::string saved = s->pile;
    s->pile = pile;  // the reply carries this pile
    send(s, "login_reply", {{"result", accepted ? "success" : "failure"}}, frame.seq());
    if (!accepted) {
        s->pile = saved;
        spdlog::warn("pile {}: login refused ({}) from {}", pile, why, s->remote());
        publish_error(pile, {{"error", "login refused: " + why}, {"remote", s->remote()}});
        s->close_after_flush("login refused");
        return;
    }
    if (auto old = piles_.find(pile); old != piles_.end() && old->second != s) {
        spdlog::warn("pile {}: new login from {} replaces the session from {}", pile, s->remote(), old->second->remote());
        old->second->close("replaced by a new login from " + s->remote());
    }
    const bool first = !s->logged_in;
    s->logged_in = true;
    s->since = now_iso();
    s->firmware = env["data"].value("program_version", "");
    s->gun_count = env["data"].value("gun_count", json(0)).is_number_unsigned() ? env["data"]["gun_count"].get<int>() : 0;
    s->protocol_version = env["data"].contains("protocol_version") ? env["data"]["protocol_version"].dump() : "";
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
    spdlog::info("pile {}: logged in from {} (firmware {}, protocol {})", pile, s->remote(), s->firmware, s->protocol_version);
    if (first && config_.policies.time_sync) time_sync(s);
    if (ha_) ha_->logged_in(pile, env["data"]);  // homeassistant hook
}

void Bridge::time_sync(const SessionPtr& s) {
    last_time_sync_[s->id()] = std::chrono::steady_clock::now();
    send(s, "time_sync", {{"time", now_iso()}});
}

void Bridge::auto_reply(const SessionPtr& s, const Frame& frame, const json& env) {
    const json& data = env["data"];
    switch (frame.type()) {
        case 0x05: {
            const std::string configured = config_.billing_for(s->pile).model_id;
            const std::string have = data["model_id"];
            send(s, "billing_model_verify_reply", {{"model_id", have}, {"result", have == configured ? "match" : "mismatch"}}, frame.seq());
            break;
        }
        case 0x09: send(s, "billing_model", config_.billing_for(s->pile).to_data(), frame.seq()); break;
        case 0x31:
        case 0xA1: {
            auto w = std::make_shared<Waiting>();
            w->kind = Waiting::Kind::card_auth;
            w->session = s;
            w->seq = frame.seq();
            w->gun = data["gun"].is_number() ? data["gun"].get<int>() : -1;
            w->reply_type = frame.type() == 0x31 ? "card_auth_reply" : "parallel_card_auth_reply";
            w->key = data.value("parallel_id", "");
            w->env = env;
            const std::string pile = s->pile;
            // The same request again (a charger repeats it until it is answered) takes the waiting
            // one's place: the backend's answer goes to the newest, with its sequence bytes, and the
            // older one is not refused when its time runs out. Another card on the gun is a new request.
            if (auto old = take_entry_if(waiting_, pile, [&](const Waiting& x) {
                    return x.kind == Waiting::Kind::card_auth && x.reply_type == w->reply_type && x.gun == w->gun && x.key == w->key &&
                           x.env["data"] == data;
                }))
                old->timer->cancel();
            w->timer = std::make_unique<asio::steady_timer>(io_, std::chrono::seconds(config_.policies.card_auth_timeout));
            w->timer->async_wait([this, pile, w](boost::system::error_code ec) {
                if (ec || !erase_entry(waiting_, pile, w)) return;
                auto sp = w->session.lock();
                if (!sp || !sp->open()) return;
                spdlog::warn("pile {}: no {} within policies.card_auth_timeout: refusing", pile, w->reply_type);
                // the gun as decoded (a byte that is not BCD comes back as it was, not as -1)
                json refusal = {
                    {"serial", "0"}, {"gun", w->env["data"]["gun"]}, {"logical_card", "0"}, {"balance", 0}, {"result", "failure"}};
                if (w->reply_type == "parallel_card_auth_reply") refusal["parallel_id"] = w->key;
                send(sp, w->reply_type, refusal, w->seq);
                publish_error(pile, {{"error", "no " + w->reply_type + " from the backend within " +
                                                   std::to_string(config_.policies.card_auth_timeout) + " s: refused"},
                                     {"gun", w->gun}});
            });
            waiting_.emplace(pile, w);
            break;
        }
        default: break;
    }
}

// A billing record (catalogue `record`: 0x3B, 0x3D): published at QoS 1 at least with its raw
// frame and the result of its check, then confirmed with its reply (0x40) once the broker holds it
// (policies.transaction after_publish) or when the backend says so (forward). A record that does
// not add up is never confirmed by the bridge: the charger keeps it and sends it again, and the
// backend may confirm it with cmd/transaction_confirm.
void Bridge::publish_record(const SessionPtr& s, const Frame& frame, const Message& m, const json& env, std::string text) {
    const json& data = env["data"];
    const std::string serial = data.value("serial", "");
    const std::string pile = s->pile;
    const Seq seq = frame.seq();
    std::vector<std::string> why;
    if (config_.policies.transaction_check == "strict") why = check_transaction(data, m, pile, s->gun_count);
    text.pop_back();  // the envelope gets what the backend needs to judge the record itself
    text += ",\"raw\":\"" + to_hex(frame.bytes) + "\",\"check\":\"";
    text += config_.policies.transaction_check == "off" ? "off\"" : why.empty() ? "ok\"" : "failed\",\"reasons\":" + dump_text(why);
    text += '}';
    if (!why.empty()) {
        refuse_record(s, frame, m, serial, std::move(text), why);
        return;
    }
    const int qos = std::max(1, config_.mqtt.qos);
    if (config_.policies.transaction == "after_publish") {
        // 0x40 only once the broker holds the record: the charger deletes it on 0x40
        json reply = json::object();
        for (const auto& f : m.match) reply[f] = data.value(f, json());
        reply["result"] = "success";
        std::weak_ptr<Session> weak = s;
        publish_frame(pile, m.topic, std::move(text), qos, [this, weak, serial, seq, pile, reply_type = m.reply, reply](bool ok) {
            if (!ok) {
                spdlog::error("pile {}: transaction {} not confirmed: the publish failed; the charger will resend it", pile, serial);
                return;
            }
            auto sp = weak.lock();
            if (!sp || !sp->open()) {
                auto it = piles_.find(pile);
                if (it == piles_.end()) return;  // the charger resends after reconnecting
                sp = it->second;
            }
            send(sp, reply_type, reply, seq);
        });
    } else {
        publish_frame(pile, m.topic, std::move(text), qos);
        wait_for_confirm(s, m, serial, seq);
    }
}

// A record that does not add up: published with its reasons, reported, left to the backend.
void Bridge::refuse_record(const SessionPtr& s, const Frame& frame, const Message& m, const std::string& serial, std::string text,
                           const std::vector<std::string>& why) {
    std::string reasons;
    for (const auto& w : why) reasons += (reasons.empty() ? "" : "; ") + w;
    const std::string which = serial.empty() ? "(no serial)" : serial;
    spdlog::warn("pile {}: {} {} not confirmed: {}", s->pile, m.name, which, reasons);
    publish_frame(s->pile, m.topic, std::move(text), std::max(1, config_.mqtt.qos));
    ++counters_.errors;
    report(s, [&] {
        json e = frame_error(
            s, frame, m.name + " " + which + " not confirmed: " + reasons + " (the charger keeps it; cmd/transaction_confirm confirms it)");
        e["serial"] = serial;
        e["reasons"] = why;
        return e;
    });
    wait_for_confirm(s, m, serial, frame.seq());
}

// A record the decoder cannot read (a body length the catalogue does not know, a time that
// cannot be): published with the serial, when its bytes are there, and the reason.
void Bridge::unreadable_record(const SessionPtr& s, const Frame& frame, const Message& m, const std::string& why) {
    const auto body = frame.view().body();
    std::string serial;
    if (m.serial_offset >= 0 && body.size() >= static_cast<std::size_t>(m.serial_offset) + 16)
        serial = to_hex(body.subspan(static_cast<std::size_t>(m.serial_offset), 16));
    if (m.pile_offset >= 0 && body.size() >= static_cast<std::size_t>(m.pile_offset) + 7 &&
        to_hex(body.subspan(static_cast<std::size_t>(m.pile_offset), 7)) != s->pile) {
        ++counters_.errors;
        report(s, [&] {
            return frame_error(s, frame, why + "; and it is for another pile than " + s->pile + ": not published, not confirmed");
        });
        return;
    }
    json env = {{"pile", s->pile}, {"type", m.name}, {"code", hex_code(m.code)}, {"seq", to_hex(frame.seq())}, {"data", json::object()}};
    if (!serial.empty()) env["data"]["serial"] = serial;
    env["raw"] = to_hex(frame.bytes);
    env["check"] = "failed";
    env["reasons"] = json::array({why});
    refuse_record(s, frame, m, serial, dump_text(env), {why});
}

// Until cmd/transaction_confirm: the charger resends meanwhile, one entry per serial, answered
// with the newest's sequence bytes.
void Bridge::wait_for_confirm(const SessionPtr& s, const Message& m, const std::string& serial, Seq seq) {
    const std::string& pile = s->pile;
    for (auto it = waiting_.lower_bound(pile); it != waiting_.end() && it->first == pile; ++it)
        if (it->second->kind == Waiting::Kind::transaction && it->second->key == serial) {
            it->second->session = s;
            it->second->seq = seq;
            return;
        }
    auto w = std::make_shared<Waiting>();
    w->kind = Waiting::Kind::transaction;
    w->session = s;
    w->seq = seq;
    w->key = serial;
    w->reply_type = m.reply;
    waiting_.emplace(pile, w);
}

namespace {
// A value sent as zeros ("0000…": balance_update's card, "whoever is charging") matches whatever
// the reply carries there.
bool is_any(const json& v) {
    return v.is_string() && !v.get_ref<const std::string&>().empty() &&
           v.get_ref<const std::string&>().find_first_not_of('0') == std::string::npos;
}
}  // namespace

void Bridge::expect_unpaired(Session& s, Seq seq, const std::string& reply_type) {
    const Message* reply = codec_.catalogue().find(reply_type);
    if (!reply) return;
    // every command that may time out at once, and a few more (raw frames, time_sync)
    const std::size_t most = static_cast<std::size_t>(config_.limits.max_commands_in_flight) + 8;
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(s.unpaired, [&](const Session::Unpaired& u) { return u.until < now; });  // a charger that never answers them
    if (s.unpaired.size() >= most) s.unpaired.erase(s.unpaired.begin());
    s.unpaired.push_back({seq, static_cast<std::uint8_t>(reply->code), now + std::chrono::seconds(config_.limits.command_timeout)});
}

// Whether a reply answers a frame that no command waits for (and forgets that frame, and those expired).
bool Bridge::take_unpaired(Session& s, Seq seq, std::uint8_t code) {
    const auto now = std::chrono::steady_clock::now();
    bool found = false;
    std::erase_if(s.unpaired, [&](const Session::Unpaired& u) {
        if (u.until < now) return true;
        if (found || u.seq != seq || u.reply_code != code) return false;
        return found = true;
    });
    if (s.unpaired.empty()) s.unpaired.shrink_to_fit();  // no heap kept per idle pile
    return found;
}

// The reply goes to a waiting command of its type whose fields it matches (the gun, the serial
// …): the one whose sequence number it echoes (the spec: a reply carries its request's), else the
// oldest that it matches exactly, else the oldest that it matches through a zero ("any") value.
// A reply that matches none by its fields but echoes one's sequence number answers that one with
// status "mismatch", naming the fields that differ (a balance_update answered card_mismatch with
// the charger's own card used to time out). A reply echoing a frame no command waits for — a command
// that timed out or was answered already, a raw frame, the bridge's own time_sync — answers none.
bool Bridge::match_command(const SessionPtr& s, Seq seq, const json& env) {
    const std::string type = env["type"];
    const auto code = static_cast<std::uint8_t>(codec_.catalogue().find(type)->code);
    enum Rank { none, echoed_only, through_any, exact, echoed };
    auto found = commands_.end();
    Rank best = none;
    const json& data = env["data"];
    auto differs = [&](const Command& c, const std::string& f) { return c.sent.contains(f) && data.contains(f) && c.sent[f] != data[f]; };
    for (auto it = commands_.lower_bound(s->pile); it != commands_.end() && it->first == s->pile && best != echoed; ++it) {
        const Command& c = *it->second;
        if (c.reply_type != type) continue;
        Rank rank = exact;
        for (const auto& f : c.match)
            if (differs(c, f)) rank = is_any(c.sent[f]) && rank != none ? through_any : none;
        if (c.seq == seq) rank = rank == none ? echoed_only : echoed;
        if (rank == none) continue;
        if (rank > best) {
            found = it;
            best = rank;
        }
    }
    if (best != echoed && take_unpaired(*s, seq, code)) {
        spdlog::debug("pile {}: {} answers a frame no command waits for (seq {})", s->pile, type, to_hex(seq));
        return false;
    }
    if (found == commands_.end()) return false;
    if (best == echoed || best == echoed_only) expect_unpaired(*s, seq, type);  // the same reply sent again answers nothing more
    auto cmd = found->second;
    commands_.erase(found);
    cmd->timer->cancel();
    json resp = {{"id", cmd->id}, {"status", "ok"}, {"reply", env}};
    if (best == echoed_only) {  // the charger answered this command, but about something else
        json mismatch = json::array();
        std::string what;
        for (const auto& f : cmd->match)
            if (differs(*cmd, f)) {
                mismatch.push_back(f);
                what += (what.empty() ? "" : ", ") + f + " " + dump_text(data[f]) + " instead of " + dump_text(cmd->sent[f]);
            }
        resp["status"] = "mismatch";
        resp["error"] = type + " echoes this command's sequence number but carries " + what;
        resp["mismatch"] = std::move(mismatch);
    }
    respond(s->pile, cmd->name, std::move(resp), cmd->response_topic, cmd->correlation);
    return true;
}

void Bridge::on_closed(const SessionPtr& s, const std::string& reason) {
    sessions_.erase(s->id());
    last_time_sync_.erase(s->id());
    if (!s->logged_in) {
        spdlog::debug("connection from {} closed before login: {}", s->remote(), reason);
        return;
    }
    spdlog::info("pile {}: session from {} closed: {}", s->pile, s->remote(), reason);
    // transactions waiting for cmd/transaction_confirm (policies.transaction forward) are kept by
    // the charger, which sends them again when it is back: nothing of them is kept here meanwhile
    for (auto w = waiting_.lower_bound(s->pile); w != waiting_.end() && w->first == s->pile;) {
        const auto owner = w->second->session.lock();
        if (w->second->kind == Waiting::Kind::transaction && (!owner || owner == s)) w = waiting_.erase(w);
        else ++w;
    }
    auto it = piles_.find(s->pile);
    if (it == piles_.end() || it->second != s) return;  // replaced by a newer session
    piles_.erase(it);
    if (ha_) ha_->closed(s->pile);  // homeassistant hook
    publish_availability(s, false);
    unlisten_commands(s->pile, "cmd/#");
    // commands waiting for this pile's reply will not get one (but those whose reply comes after a
    // restart: firmware_update)
    for (auto c = commands_.lower_bound(s->pile); c != commands_.end() && c->first == s->pile;) {
        if (c->second->across_reconnects) {
            ++c;
            continue;
        }
        c->second->timer->cancel();
        respond(s->pile, c->second->name, {{"id", c->second->id}, {"status", "offline"}, {"error", "the charger disconnected: " + reason}},
                c->second->response_topic, c->second->correlation);
        c = commands_.erase(c);
    }
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

void Bridge::publish_availability(const SessionPtr& s, bool online) {
    json a = {{"state", online ? "online" : "offline"}, {"since", online ? s->since : now_iso()}, {"remote", s->remote()}};
    if (!s->firmware.empty()) a["firmware"] = s->firmware;
    if (!s->protocol_version.empty()) a["protocol_version"] = s->protocol_version;
    mqtt_.publish(topic(s->pile, "availability"), a.dump(), 1, true);
}

// <base>/<pile>/gun/<n>/state: the frame's data plus ts, retained. With publish.gun_state
// on_change, a frame that repeats the last values of its gun publishes nothing. Within
// publish.gun_state_min_interval_ms of the gun's last publish the state waits in held_states_
// (the newest replaces an older one) for the next flush.
void Bridge::publish_gun_state(Session& s, const std::string& n, std::string state) {
    auto g = std::find_if(s.gun_states.begin(), s.gun_states.end(), [&](const auto& x) { return x.gun == n; });
    if (g == s.gun_states.end()) g = s.gun_states.insert(s.gun_states.end(), Session::GunState{n, 0, {}});
    const std::size_t h = std::hash<std::string>{}(state);
    if (config_.publish.gun_state == "on_change" && g->hash == h && g->published != std::chrono::steady_clock::time_point{})
        return ++counters_.states_unchanged, void();
    g->hash = h;
    append_plain_string_member(state, "ts", now_iso());
    std::string t = topic(s.pile, "gun/" + n + "/state");
    const auto now = std::chrono::steady_clock::now();
    const auto min_interval = std::chrono::milliseconds(config_.publish.gun_state_min_interval_ms);
    if (min_interval.count() > 0 && now - g->published < min_interval) {
        held_states_[std::move(t)] = HeldState{std::move(state), s.pile, n};
        if (!flush_armed_) {
            flush_armed_ = true;
            state_flush_.expires_after(min_interval);
            state_flush_.async_wait([this](boost::system::error_code ec) {
                flush_armed_ = false;
                if (!ec) flush_held_states();
            });
        }
        return;
    }
    held_states_.erase(t);  // this newer value replaces a held one
    g->published = now;
    mqtt_.publish_latest(t, std::move(state), config_.mqtt.qos);
}

void Bridge::flush_held_states() {
    const auto now = std::chrono::steady_clock::now();
    for (auto& [t, held] : held_states_) {
        if (auto p = piles_.find(held.pile); p != piles_.end())
            for (auto& g : p->second->gun_states)
                if (g.gun == held.gun) g.published = now;
        mqtt_.publish_latest(t, std::move(held.payload), config_.mqtt.qos);
    }
    held_states_.clear();
}

void Bridge::publish_health() {
    json h = {{"ts", now_iso()},
              {"sessions", sessions_.size()},
              {"piles", piles_.size()},
              {"frames_in", counters_.frames_in},
              {"frames_out", counters_.frames_out},
              {"errors", counters_.errors},
              {"dropped_bytes", counters_.dropped_bytes},
              {"commands", counters_.commands},
              {"gun_states_unchanged", counters_.states_unchanged},
              {"commands_waiting", commands_.size()},
              {"mqtt_connected", mqtt_.connected()},
              {"publish_queue", mqtt_.queued()},
              {"publish_inflight", mqtt_.inflight()},
              {"publish_coalesced", mqtt_.coalesced()},
              {"outbox", mqtt_.journaled()},
              {"published", mqtt_.published()},
              {"publish_failed", mqtt_.failed()}};
    mqtt_.publish(config_.mqtt.base_topic + "/bridge/health", h.dump(), 0, true);
}

void Bridge::on_connected() {
    // each live pile's availability follows its cmd/# SUBACK (see finish_login)
    mqtt_.publish(config_.mqtt.base_topic + "/bridge/state", json{{"state", "online"}, {"ts", now_iso()}}.dump(), 1, true);
    if (ha_) ha_->connected();  // homeassistant hook
}

// mqtt.commands "all": the one <base>/+/cmd/# subscription covers every pile, and `ready` runs at
// once when it is in place (otherwise its own SUBACK announces the piles). "connected": a
// subscription per live pile, so several bridges can share a broker.
void Bridge::listen_commands(const std::string& pile, const std::string& suffix, MqttLink::Done ready) {
    if (config_.mqtt.commands == "connected") return mqtt_.subscribe(topic(pile, suffix), std::move(ready));
    if (ready && mqtt_.subscribed(topic("+", "cmd/#"))) ready(true);
}

void Bridge::unlisten_commands(const std::string& pile, const std::string& suffix) {
    if (config_.mqtt.commands == "connected") mqtt_.unsubscribe(topic(pile, suffix));
}

void Bridge::respond(const std::string& pile, const std::string& command, json resp, const std::string& response_topic,
                     const std::string& correlation) {
    if (resp["status"] != "ok")
        spdlog::info("pile {}: command {}: {} {}", pile, command, resp["status"].get<std::string>(), resp.value("error", ""));
    const std::string t = response_topic.empty() ? topic(pile, "resp/" + command) : response_topic;
    mqtt_.publish(t, dump_text(resp), config_.mqtt.qos, false, {}, correlation);
}

void Bridge::on_message(IncomingMessage m) {
    if (ha_ && ha_->on_message(m)) return;  // homeassistant hook: <prefix>/status
    // <base>/<pile>/cmd/<command>
    const std::string prefix = config_.mqtt.base_topic + "/";
    if (m.topic.rfind(prefix, 0) != 0) return;
    const std::string rest = m.topic.substr(prefix.size());
    const auto slash = rest.find('/');
    if (slash == std::string::npos || rest.compare(slash, 5, "/cmd/") != 0) return;
    const std::string pile = rest.substr(0, slash);
    const std::string name = rest.substr(slash + 5);
    ++counters_.commands;
    try {
        command(pile, name, m);
    } catch (const json::exception& e) {
        // a field of a type the command's own checks did not expect: answered, never silent
        json id = nullptr;
        if (const json j = json::parse(m.payload, nullptr, false); j.is_object() && j.contains("id")) id = j["id"];
        respond(pile, name, {{"id", id}, {"status", "invalid"}, {"error", name + ": a field of the wrong type (" + e.what() + ")"}},
                m.response_topic, m.correlation_data);
    }
}

void Bridge::command(const std::string& pile, const std::string& name, IncomingMessage& m) {
    json id = nullptr;
    auto reply = [&](const std::string& status, const std::string& error) {
        json r = {{"id", id}, {"status", status}};
        if (!error.empty()) r["error"] = error;
        respond(pile, name, r, m.response_topic, m.correlation_data);
    };
    // MQTT 5 response topic: a wildcard in it would make the broker drop the bridge's connection
    // (and the answer would come back after every reconnect): answered on the usual topic instead
    std::string bad_response_topic;
    if (m.response_topic.find_first_of(std::string_view("+#\0", 3)) != std::string::npos)
        bad_response_topic = std::exchange(m.response_topic, {});
    if (m.payload.size() > static_cast<std::size_t>(config_.limits.max_command_bytes))
        return reply("invalid", "payload of " + std::to_string(m.payload.size()) + " bytes exceeds limits.max_command_bytes (" +
                                    std::to_string(config_.limits.max_command_bytes) + ")");
    // what clears a retained command: nothing to run (a command without fields is {})
    if (m.payload.empty()) return reply("invalid", "empty payload: a command is a JSON object ({} for one without fields)");
    json data;
    try {
        data = json::parse(m.payload);
    } catch (const json::exception& e) {
        return reply("invalid", std::string("not JSON: ") + e.what());
    }
    if (!data.is_object()) return reply("invalid", "a command is a JSON object");
    if (auto it = data.find("id"); it != data.end()) {
        id = *it;
        data.erase(it);
    }
    if (!bad_response_topic.empty())
        return reply("invalid", "the response topic \"" + bad_response_topic + "\" is not a topic name (no + or # in it): not executed");
    // the broker keeps a retained command and hands it over at every subscription: it would run
    // again after each reconnect of the bridge or login of the pile
    if (m.retained)
        return reply(
            "invalid",
            "a retained command is not executed (it would run again on every reconnect): clear it with an empty retained publish to " +
                m.topic);
    if (!is_pile_number(pile)) {  // possible with mqtt.commands "all" (<base>/+/cmd/#)
        report(command_errors_, "", [&] {
            return json{{"error", "command " + name + " for \"" + pile + "\": a pile number is 14 digits"}, {"topic", m.topic}};
        });
        return reply("invalid", "pile \"" + pile + "\" in the topic is not a 14-digit pile number");
    }

    // Answers to requests the charger made (login, card auth, transaction confirmation)
    // (a request is taken from waiting_ only once its answer is known to be valid: an invalid one
    // leaves it waiting for a valid answer or its timeout)
    auto find_waiting = [&](Waiting::Kind kind, auto pred) -> std::shared_ptr<Waiting> {
        const auto it = find_entry_if(waiting_, pile, [&](const Waiting& x) { return x.kind == kind && pred(x); });
        return it == waiting_.end() ? nullptr : it->second;
    };
    auto take = [&](const std::shared_ptr<Waiting>& w) {
        erase_entry(waiting_, pile, w);
        if (w->timer) w->timer->cancel();
    };
    // the bridge's own commands: only their fields
    auto unknown_field = [&](std::initializer_list<std::string_view> known) -> std::string {
        for (const auto& [key, value] : data.items())
            if (std::find(known.begin(), known.end(), key) == known.end()) {
                std::string list;
                for (const auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
                return "field " + key + ": not a field of " + name + " (" + list + ")";
            }
        return {};
    };
    if (name == "login_reply") {
        if (auto why = unknown_field({"result", "reason"}); !why.empty()) return reply("invalid", why);
        const auto result = data.value("result", json("success"));
        if (!result.is_string() && !result.is_boolean() && !result.is_number())
            return reply("invalid", "field result: text, boolean or number");
        if (data.contains("reason") && !data["reason"].is_string()) return reply("invalid", "field reason: text");
        auto w = find_waiting(Waiting::Kind::login, [](const Waiting&) { return true; });
        if (!w) return reply("error", "no login of this pile is waiting for an answer (policies.login is " + config_.policies.login + ")");
        take(w);
        unlisten_commands(pile, "cmd/login_reply");
        const bool ok = result == "success" || result == true || result == 0;
        auto sp = w->session.lock();
        if (!sp) return reply("offline", "the charger disconnected while waiting");
        finish_login(sp, w->frame, w->env, ok, ok ? "" : data.value("reason", std::string("refused by the backend")));
        return reply("ok", "");
    }
    // Commands may fill half of a session's output queue; the rest is kept for the bridge's own
    // answers (heartbeats, 0x40), so a backend's flood is answered busy instead of closing the
    // charger's session as one that does not read.
    auto backlogged = [](const Session& s) { return s.queued() * 2 >= s.max_queue(); };
    if (name == "transaction_confirm") {
        if (auto why = unknown_field({"serial", "result"}); !why.empty()) return reply("invalid", why);
        if (!data.contains("serial") || !data["serial"].is_string())
            return reply("invalid", "field serial: missing, or not text (the record's 32 digits)");
        const std::string serial = data["serial"];
        const json d = {{"serial", serial}, {"result", data.value("result", json("success"))}};
        // the waiting record's reply (the catalogue's: 0x40 for 0x3B and 0x3D), else 0x40
        auto w = find_waiting(Waiting::Kind::transaction, [&](const Waiting& x) { return x.key == serial; });
        const std::string reply_type = w ? w->reply_type : "transaction_reply";
        try {
            codec_.encode_body(*codec_.catalogue().find(reply_type), d, pile);  // what is wrong, before anything is sent
        } catch (const EncodeError& e) {
            return reply("invalid", e.what());
        }
        auto it = piles_.find(pile);
        if (it == piles_.end()) return reply("offline", "pile " + pile + " is not connected to this bridge");
        if (backlogged(*it->second)) return reply("error", "busy");
        if (w) take(w);
        send(it->second, reply_type, d, w ? std::optional<Seq>(w->seq) : std::nullopt);
        return reply("ok", "");
    }

    auto sit = piles_.find(pile);
    const Message* msg = codec_.catalogue().find(name);
    if (name != "raw" && (!msg || msg->direction != Direction::down)) {
        std::string known;
        for (const auto& x : codec_.catalogue().messages())
            if (x.direction == Direction::down) known += (known.empty() ? "" : ", ") + x.name;
        return reply("invalid", "unknown command \"" + name + "\" (commands: raw, transaction_confirm, " + known + ")");
    }
    if (sit == piles_.end()) return reply("offline", "pile " + pile + " is not connected to this bridge");
    const SessionPtr s = sit->second;
    if (commands_.count(pile) >= static_cast<std::size_t>(config_.limits.max_commands_in_flight) || backlogged(*s))
        return reply("error", "busy");

    if (name == "raw") {
        std::string why;
        auto bytes = data.contains("hex") && data["hex"].is_string() ? parse_hex_loose(data["hex"].get<std::string>(), &why) : std::nullopt;
        if (!bytes || bytes->empty()) return reply("invalid", "field hex: " + (why.empty() ? std::string("missing or empty") : why));
        if (data.contains("keep_crc") && !data["keep_crc"].is_boolean()) return reply("invalid", "field keep_crc: true or false");
        if (bytes->size() > max_frame_size)
            return reply("invalid",
                         "field hex: " + std::to_string(bytes->size()) + " bytes; a frame is at most " + std::to_string(max_frame_size));
        if (!data.value("keep_crc", false) && bytes->size() >= 8) {
            auto& b = *bytes;
            const auto crc = write_frame(b[5], {b[2], b[3]}, b[4], std::span(b).subspan(6, b.size() - 8), s->crc_order);
            b[b.size() - 2] = crc[crc.size() - 2];
            b[b.size() - 1] = crc[crc.size() - 1];
        }
        if (bytes->size() >= 6)  // its reply, if it gets one, is not a command's
            if (const Message* sent = codec_.catalogue().find((*bytes)[5]); sent && !sent->reply.empty())
                expect_unpaired(*s, {(*bytes)[2], (*bytes)[3]}, sent->reply);
        s->send(std::move(*bytes));
        return reply("ok", "");
    }

    // Fill what the bridge can
    FillContext fill{pile, now_iso(), config_.policies.balance, config_.billing_for(pile).to_data(), serials_};
    fill_command(name, data, fill);
    std::vector<std::uint8_t> body;
    try {
        body = codec_.encode_body(*msg, data, pile);
    } catch (const EncodeError& e) {
        return reply("invalid", e.what());
    }
    std::optional<Seq> seq;
    if (name == "card_auth_reply" || name == "parallel_card_auth_reply") {
        const auto kind_gun = data.contains("gun") && data["gun"].is_number_integer() ? data["gun"].get<int>() : -1;
        auto same_gun = [&](const Waiting& x) { return x.reply_type == name && (kind_gun < 0 || x.gun == kind_gun); };
        // a 0xA2 answers the 0xA1 with its parallel id (a gun may have two waiting)
        const json pid = data.value("parallel_id", json());
        auto w = pid.is_string() ? find_waiting(Waiting::Kind::card_auth,
                                                [&](const Waiting& x) { return same_gun(x) && x.key == pid.get<std::string>(); })
                                 : find_waiting(Waiting::Kind::card_auth, same_gun);
        if (w) {
            take(w);
            seq = w->seq;  // the answer echoes the request's sequence bytes
        }
    }
    if (!seq) seq = next_seq(*s);
    auto frame = write_frame(msg->code, *seq, 0, body, s->crc_order);
    spdlog::debug("pile {}: command {} -> {}", pile, name, to_hex(frame));
    ++counters_.frames_out;
    json sent;  // what went out, in decode's form, to pair the reply with
    if (!msg->reply.empty()) sent = codec_.decode(FrameView{frame, s->crc_order})["data"];
    s->send(std::move(frame));
    if (msg->reply.empty()) return reply("ok", "");
    auto c = std::make_shared<Command>();
    c->id = id;
    c->name = name;
    c->reply_type = msg->reply;
    c->response_topic = m.response_topic;
    c->correlation = m.correlation_data;
    c->match = msg->match;
    c->sent = std::move(sent);
    c->seq = *seq;
    c->session = s;
    // a reply that comes once the action has run (firmware_update: download, install, restart) has
    // its own time in the catalogue, and is waited for across the pile's reconnects
    c->timeout = msg->reply_timeout ? msg->reply_timeout : config_.limits.command_timeout;
    c->across_reconnects = msg->reply_timeout != 0;
    c->timer = std::make_unique<asio::steady_timer>(io_, std::chrono::seconds(c->timeout));
    c->timer->async_wait([this, pile, c](boost::system::error_code ec) {
        if (ec || !erase_entry(commands_, pile, c)) return;
        // a late reply answers nothing (the pile's session now: a firmware_update's may be a new one)
        auto sp = c->session.lock();
        if (auto now = piles_.find(pile); c->across_reconnects && now != piles_.end()) sp = now->second;
        if (sp && sp->open()) expect_unpaired(*sp, c->seq, c->reply_type);
        respond(pile, c->name,
                {{"id", c->id}, {"status", "timeout"}, {"error", "no " + c->reply_type + " within " + std::to_string(c->timeout) + " s"}},
                c->response_topic, c->correlation);
    });
    commands_.emplace(pile, c);
}

void Bridge::shutdown() {
    stopping_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    accept_backoff_.cancel();
    housekeeping_.cancel();
    time_sync_timer_.cancel();
    state_flush_.cancel();
    flush_held_states();  // the newest values still go out
    std::vector<SessionPtr> all;
    for (auto& [id, s] : sessions_) all.push_back(s);
    for (auto& s : all) s->close("bridge shutting down");
    for (auto& [pile, w] : waiting_)
        if (w->timer) w->timer->cancel();
    waiting_.clear();
    if (ha_) ha_->stop();  // homeassistant hook
}

void Bridge::finish(std::chrono::milliseconds timeout) { mqtt_.stop(timeout); }

}  // namespace ykc::bridge
