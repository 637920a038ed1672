#include "ledger.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <spdlog/spdlog.h>

#include "json_file.hpp"
#include "ykc/json_member.hpp"
#include "ykc/pile.hpp"

namespace ykc::bridge {

using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr int max_guns = 99;  // a gun number is two BCD digits

// The most a meter can read: 5 bytes of 1e-4 kWh (a transaction record's meter_end).
constexpr double max_kwh = 1099511627.7755;

// kWh -> 1e-4 kWh; -1 when it is not a reading (negative, too large, not a number).
std::int64_t ten_thousandths(double d) { return std::isfinite(d) && d >= 0 && d <= max_kwh ? std::llround(d * 10000) : -1; }
std::int64_t ten_thousandths(const json& v) { return v.is_number() ? ten_thousandths(v.get<double>()) : -1; }
std::int64_t ten_thousandths(std::string_view text) {
    double d = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    return ec == std::errc() && end == text.data() + text.size() ? ten_thousandths(d) : -1;
}
json kwh(std::int64_t v) { return static_cast<double>(v) / 10000; }

// What a pile accepted in a work_params_set: {"state": enabled|disabled, "max_power": 30…100}.
bool valid_work_params(const json& wp) {
    if (!wp.is_object()) return false;
    const json state = wp.value("state", json()), power = wp.value("max_power", json());
    return (state == "enabled" || state == "disabled") && power.is_number_integer() && power.get<int>() >= 30 && power.get<int>() <= 100;
}

int gun_number(std::string_view s) {
    int n = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    return ec == std::errc() && end == s.data() + s.size() ? n : 0;
}

int gun_number(const json& v) {
    if (v.is_number_integer()) return v.get<int>();
    return v.is_string() ? gun_number(std::string_view(v.get_ref<const std::string&>())) : 0;
}

}  // namespace

Ledger::Ledger(boost::asio::io_context& io, const Config& config, MqttLink& mqtt, std::function<std::string()> now)
    : config_(config), mqtt_(mqtt), now_(std::move(now)), save_timer_(io, [this] { save(); }) {}

std::string Ledger::file() const { return config_.mqtt.persistence_dir + "/ledger-" + config_.client_file_stem() + ".json"; }

std::string Ledger::topic(const std::string& pile, const std::string& suffix) const {
    return config_.mqtt.base_topic + "/" + pile + "/" + suffix;
}

void Ledger::start() {
    if (!config_.persistent()) return;
    const auto j = read_json_file(file(), "ledger", "the guns' lifetime meters start again from the next transaction record");
    if (!j || !j->is_object() || !j->contains("piles") || !(*j)["piles"].is_object()) return;
    try {
        load((*j)["piles"]);
    } catch (const json::exception& e) {
        spdlog::warn("ledger: {}: {}: what it could not read starts again from the next transaction record", file(), e.what());
    }
}

void Ledger::load(const json& piles) {
    for (const auto& [pile, b] : piles.items()) {
        if (!is_pile_number(pile) || !b.is_object()) continue;
        Book& book = books_[pile];
        if (const json wp = b.value("work_params", json()); valid_work_params(wp)) book.work_params = wp;
        const json guns = b.value("guns", json::object());
        if (!guns.is_object()) continue;
        for (const auto& [n, g] : guns.items()) {
            const int gun = gun_number(json(n));
            if (gun < 1 || gun > max_guns || !g.is_object()) continue;
            const json meter = g.value("meter", json()), published = g.value("published", json()), serial = g.value("serial", json());
            constexpr auto max = static_cast<std::int64_t>(max_kwh * 10000);
            const auto reading = [&](const json& v) {
                return v.is_number_integer() && v.get<std::int64_t>() >= 0 && v.get<std::int64_t>() <= 2 * max ? v.get<std::int64_t>() : -1;
            };
            Gun& x = book.guns[gun];
            x.meter = reading(meter);
            x.published = reading(published);
            x.serial = serial.is_string() ? serial.get<std::string>() : std::string();
        }
    }
}

void Ledger::stop() {
    if (stopped_) return;
    save();
    stopped_ = true;
    save_timer_.cancel();
}

void Ledger::record(const std::string& pile, int gun_count, const json& data) {
    const int gun = gun_number(data.value("gun", json()));
    const std::int64_t end = ten_thousandths(data.value("meter_end", json()));
    if (gun < 1 || gun > max_guns || end < 0) return;
    Book& book = books_[pile];
    Gun& g = book.guns[gun];
    const std::string serial = data.value("serial", "");
    if (end < g.meter || (serial == g.serial && end == g.meter)) {
        // an older session's record the pile sends late, or the same one again
        spdlog::debug("pile {}: gun {}: transaction {} (meter_end {}) is not newer than {}: the meter stays", pile, gun, serial,
                      kwh(end).dump(), kwh(g.meter).dump());
        return;
    }
    g.meter = end;
    g.serial = serial;
    if (end < g.published)
        spdlog::warn(
            "pile {}: gun {}: transaction {} ends at meter {} kWh, below the {} kWh its realtime frames gave: the meter stays there", pile,
            gun, serial, kwh(end).dump(), kwh(g.published).dump());
    publish_meter(pile, gun_count, book, gun, end, {{"meter_end", kwh(end)}, {"serial", serial}});
    json last = {{"gun", gun}};
    for (const char* k : {"serial", "start_time", "end_time", "stop_reason", "trade_type", "card", "vin", "meter_start", "meter_end"})
        if (data.contains(k)) last[k] = data[k];
    last["energy"] = data.value("total_energy", json());
    last["amount"] = data.value("total_amount", json());
    last["ts"] = now_();
    mqtt_.publish(topic(pile, "gun/" + std::to_string(gun) + "/last_session"), last.dump(), std::max(1, config_.mqtt.qos), true);
}

void Ledger::realtime(const std::string& pile, int gun_count, std::string_view gun_text, std::string_view status, std::string_view data) {
    if (status != "charging") return;
    auto b = books_.find(pile);
    if (b == books_.end()) return;
    const int gun = gun_number(gun_text);
    auto it = b->second.guns.find(gun);
    if (it == b->second.guns.end() || it->second.meter < 0) return;  // no record yet: the meter's reading is unknown
    Gun& g = it->second;
    // a late frame of the session whose record is in already would count it twice
    if (const std::string_view serial = json_plain_string(json_member(data, "serial")); !serial.empty() && serial == g.serial) return;
    const std::int64_t energy = ten_thousandths(json_member(data, "energy"));
    const auto now = Clock::now();
    if (energy < 0 || g.meter + energy <= g.published || now - g.moved < session_interval) return;
    g.moved = now;
    publish_meter(pile, gun_count, b->second, gun, g.meter + energy, {{"meter_end", kwh(g.meter)}, {"session_energy", kwh(energy)}});
}

void Ledger::on_meter(const std::string& pile, const std::string& gun_text, const std::string& payload) {
    const int gun = gun_number(std::string_view(gun_text));
    if (!is_pile_number(pile) || gun < 1 || gun > max_guns) return;
    const json m = json::parse(payload, nullptr, false);
    if (!m.is_object()) return;  // an empty retained payload (cleared), or not ours
    const std::int64_t value = ten_thousandths(m.value("energy", json())), end = ten_thousandths(m.value("meter_end", json()));
    if (value < 0 || end < 0) return;
    Gun& g = books_[pile].guns[gun];
    if (value <= g.published && end <= g.meter) return;  // what it knows already (its own echo)
    spdlog::debug("pile {}: gun {}: meter {} kWh (meter_end {}) from the broker", pile, gun, kwh(value).dump(), kwh(end).dump());
    g.published = std::max(g.published, value);
    if (end > g.meter) {
        g.meter = end;
        const json serial = m.value("serial", json());
        g.serial = serial.is_string() ? serial.get<std::string>() : std::string();
    }
    save_soon();
}

void Ledger::publish_meter(const std::string& pile, int gun_count, Book& book, int gun, std::int64_t value, const json& extra) {
    Gun& g = book.guns.at(gun);
    value = std::max(value, g.published);
    g.published = value;
    json m = {{"gun", gun}, {"energy", kwh(value)}};
    m.update(extra);
    m["ts"] = now_();
    const int qos = std::max(1, config_.mqtt.qos);
    mqtt_.publish(topic(pile, "gun/" + std::to_string(gun) + "/meter"), m.dump(), qos, true);
    // the pile's: once every gun of its login has a reading (else it would jump when one comes)
    const auto& guns = book.guns;
    std::int64_t sum = 0;
    for (int n = 1; n <= std::min(gun_count, max_guns); ++n) {
        auto x = guns.find(n);
        if (x == guns.end() || x->second.published < 0) return save_soon();
        sum += x->second.published;
    }
    if (gun_count > 0)
        mqtt_.publish(topic(pile, "meter"), json{{"energy", kwh(sum)}, {"guns", gun_count}, {"ts", m["ts"]}}.dump(), qos, true);
    save_soon();
}

void Ledger::work_params_accepted(const std::string& pile, const json& sent) {
    json wp = {{"state", sent.value("state", json())}, {"max_power", sent.value("max_power", json())}};
    if (!valid_work_params(wp)) return;
    books_[pile].work_params = wp;
    wp["ts"] = now_();
    mqtt_.publish(topic(pile, "work_params"), wp.dump(), std::max(1, config_.mqtt.qos), true);
    save_soon();
}

void Ledger::on_work_params(const std::string& pile, const std::string& payload) {
    if (!is_pile_number(pile)) return;
    const json m = json::parse(payload, nullptr, false);
    json wp = m.is_object() ? json{{"state", m.value("state", json())}, {"max_power", m.value("max_power", json())}} : json();
    if (!valid_work_params(wp)) return;
    Book& b = books_[pile];
    if (b.work_params == wp) return;  // its own echo
    spdlog::debug("pile {}: work parameters {} from the broker", pile, wp.dump());
    b.work_params = std::move(wp);
    save_soon();
}

json Ledger::work_params(const std::string& pile) const {
    auto b = books_.find(pile);
    if (b != books_.end() && b->second.work_params.is_object()) return b->second.work_params;
    return {{"state", "enabled"}, {"max_power", 100}};
}

void Ledger::save_soon() {
    if (!stopped_ && config_.persistent()) save_timer_.arm(std::chrono::steady_clock::now() + 5s);
}

void Ledger::save() {
    if (stopped_ || !config_.persistent()) return;
    json piles = json::object();
    for (const auto& [pile, b] : books_) {
        json guns = json::object();
        for (const auto& [n, g] : b.guns) guns[std::to_string(n)] = {{"meter", g.meter}, {"published", g.published}, {"serial", g.serial}};
        piles[pile] = {{"guns", guns}, {"work_params", b.work_params}};
    }
    write_json_file(file(), {{"version", 1}, {"piles", piles}}, "ledger");
}

}  // namespace ykc::bridge
