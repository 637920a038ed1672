// What a pile does with each platform frame: every request gets a plausible reply that echoes
// the request's sequence bytes; replies to the pile's own requests move its state on.
#include "pile.hpp"

#include <unordered_map>

#include "values.hpp"
#include "ykc/hex.hpp"

namespace ykc::sim {

using nlohmann::json;

namespace {
constexpr std::size_t max_offline_cards = 10'000;

std::string str(const json& d, const char* key) {
    auto it = d.find(key);
    return it != d.end() && it->is_string() ? it->get<std::string>() : std::string();
}
}  // namespace

void Pile::on_frame(const Frame& frame) {
    ++sim_.log.stats.frames_in;
    std::string text;
    try {
        sim_.codec.decode_to(frame.view(), text);
    } catch (const std::exception& e) {
        sim_.log.error({{"pile", id_}, {"error", std::string("undecodable frame: ") + e.what()}, {"hex", to_hex(frame.bytes)}});
        return;
    }
    if (sim_.log.wants("rx")) sim_.log.raw_event("rx", R"({"event":"rx","pile":")" + id_ + R"(","frame":)" + text + "}");
    try {
        handle(json::parse(text));
    } catch (const json::exception& e) {
        error(std::string("cannot handle ") + text + ": " + e.what());
    }
}

const Pile::Handler* Pile::handler(const std::string& type) {
    static const std::unordered_map<std::string, Handler> table = {
        {"login_reply", &Pile::on_login_reply},
        {"heartbeat_reply", &Pile::on_heartbeat_reply},
        {"billing_model_verify_reply", &Pile::on_billing_model_verify_reply},
        {"billing_model", &Pile::on_billing_model},
        {"read_realtime", &Pile::on_read_realtime},
        {"remote_start", &Pile::on_remote_start},
        {"parallel_remote_start", &Pile::on_parallel_remote_start},
        {"remote_stop", &Pile::on_remote_stop},
        {"card_auth_reply", &Pile::on_card_auth_reply},
        {"parallel_card_auth_reply", &Pile::on_card_auth_reply},
        {"transaction_reply", &Pile::on_transaction_reply},
        {"balance_update", &Pile::on_balance_update},
        {"card_sync", &Pile::on_card_sync},
        {"card_clear", &Pile::on_card_clear},
        {"card_query", &Pile::on_card_query},
        {"work_params_set", &Pile::on_work_params_set},
        {"time_sync", &Pile::on_time_sync},
        {"billing_model_set", &Pile::on_billing_model_set},
        {"lock_control", &Pile::on_lock_control},
        {"reboot", &Pile::on_reboot},
        {"firmware_update", &Pile::on_firmware_update},
    };
    auto it = table.find(type);
    return it == table.end() ? nullptr : &it->second;
}

void Pile::handle(const json& env) {
    const std::string type = env.at("type").get<std::string>();
    const json& data = env.contains("data") ? env.at("data") : json::object();
    // transaction_reply carries no pile number (its envelope pile comes from the serial).
    if (type != "transaction_reply" && env.value("pile", id_) != id_) {
        sim_.log.error({{"pile", id_}, {"error", "frame for another pile ignored"}, {"type", type}, {"frame_pile", env.value("pile", "")}});
        return;
    }
    const Handler* h = handler(type);
    if (!h) {
        error("no answer for " + type + " (" + env.value("code", "") + ")");
        return;
    }
    (this->**h)(env, data);
}

Gun* Pile::gun_of(const json& data) {
    auto it = data.find("gun");
    if (it == data.end() || !it->is_number_unsigned()) return nullptr;
    const auto n = it->get<std::uint64_t>();
    return n >= 1 && n <= guns_.size() ? &guns_[n - 1] : nullptr;
}

void Pile::on_login_reply(const json&, const json& d) {
    if (state_ != State::login) return;
    const json result = d.value("result", json());
    if (result == "success") return logged_in();
    sim_.log.event({{"event", "login"}, {"pile", id_}, {"result", result}});
    close_link("login refused");
}

void Pile::on_heartbeat_reply(const json&, const json&) { misses_ = 0; }

void Pile::on_billing_model_verify_reply(const json&, const json& d) {
    if (d.value("result", json()) == "match") return;
    send({{"type", "billing_model_request"}, {"data", json::object()}});
}

void Pile::on_billing_model(const json&, const json& d) {
    std::string why;
    auto m = BillingModel::from_data(d, &why);
    if (!m) return error("billing_model not usable: " + why);
    model_ = *m;
}

void Pile::on_billing_model_set(const json& env, const json& d) {
    std::string why;
    auto m = BillingModel::from_data(d, &why);
    if (m) model_ = *m;
    else error("billing_model_set not usable: " + why);
    reply(env, {{"type", "billing_model_set_reply"}, {"data", {{"result", m ? "success" : "failure"}}}});
}

void Pile::on_read_realtime(const json& env, const json& d) {
    Gun* g = gun_of(d);
    if (!g) return error("read_realtime: no such gun " + dump(d.value("gun", json())));
    send_realtime(*g, &env);
}

void Pile::on_remote_start(const json& env, const json& d) {
    Gun* g = gun_of(d);
    const std::string serial = str(d, "serial");
    const char* failure = !g ? "device_fault" : g->charging() ? "gun_busy" : !enabled_ ? "device_fault" : nullptr;
    reply(env, {{"type", "remote_start_reply"},
                {"data",
                 {{"serial", serial},
                  {"gun", d.value("gun", json(0))},
                  {"result", failure ? "failure" : "success"},
                  {"failure_reason", failure ? failure : "none"}}}});
    if (!failure) begin_session(*g, serial, "app", str(d, "card"));
}

void Pile::on_parallel_remote_start(const json& env, const json& d) {
    Gun* g = gun_of(d);
    const std::string serial = str(d, "serial");
    const char* failure = !g ? "device_fault" : g->charging() ? "gun_busy" : !enabled_ ? "device_fault" : nullptr;
    reply(env, {{"type", "parallel_remote_start_reply"},
                {"data",
                 {{"serial", serial},
                  {"gun", d.value("gun", json(0))},
                  {"result", failure ? "failure" : "success"},
                  {"failure_reason", failure ? failure : "none"},
                  {"role", "main"},
                  {"parallel_id", d.value("parallel_id", json("0"))}}}});
    if (!failure) begin_session(*g, serial, "app", str(d, "card"));
}

void Pile::on_remote_stop(const json& env, const json& d) {
    Gun* g = gun_of(d);
    const bool ok = g && g->charging();
    reply(env,
          {{"type", "remote_stop_reply"},
           {"data",
            {{"gun", d.value("gun", json(0))}, {"result", ok ? "success" : "failure"}, {"failure_reason", ok ? "none" : "not_charging"}}}});
    if (ok) end_session(*g, "app_stop");
}

// card_auth_reply (0x32) and parallel_card_auth_reply (0xA2).
void Pile::on_card_auth_reply(const json&, const json& d) {
    Gun* g = gun_of(d);
    if (!g) return error("card_auth_reply: no such gun " + dump(d.value("gun", json())));
    const std::string card = g->pending_card.value_or("0");
    g->pending_card.reset();
    if (d.value("result", json()) != "success") return;
    if (!begin_session(*g, str(d, "serial"), "card", card)) error("card_auth_reply: gun " + std::to_string(g->number()) + " is charging");
}

void Pile::on_transaction_reply(const json&, const json& d) {
    const std::string serial = str(d, "serial");
    bool found = false;
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->serial == serial) {
            it = pending_.erase(it);
            --sim_.log.stats.transactions_pending;
            found = true;
        } else {
            ++it;
        }
    }
    if (!found) return;  // a copy already confirmed, or not ours
    ++sim_.log.stats.transactions_confirmed;
    sim_.log.event({{"event", "transaction_confirmed"}, {"pile", id_}, {"serial", serial}, {"result", d.value("result", json())}});
}

void Pile::on_balance_update(const json& env, const json& d) {
    reply(env, {{"type", "balance_update_reply"}, {"data", {{"card", d.value("card", json("0"))}, {"result", "success"}}}});
}

void Pile::on_card_sync(const json& env, const json& d) {
    bool full = false;
    if (auto cards = d.find("cards"); cards != d.end() && cards->is_array()) {
        for (const auto& c : *cards) {
            if (offline_cards_.size() >= max_offline_cards) {
                full = true;
                break;
            }
            offline_cards_.insert(str(c, "card"));
        }
    }
    reply(env, {{"type", "card_sync_reply"},
                {"data", {{"result", full ? "failure" : "success"}, {"failure_reason", full ? "storage_full" : "none"}}}});
}

void Pile::on_card_clear(const json& env, const json& d) {
    json out = json::array();
    if (auto cards = d.find("cards"); cards != d.end() && cards->is_array()) {
        for (const auto& c : *cards) {
            if (!c.is_string()) continue;
            offline_cards_.erase(c.get<std::string>());
            out.push_back({{"card", c}, {"result", "success"}, {"failure_reason", "none"}});
        }
    }
    reply(env, {{"type", "card_clear_reply"}, {"data", {{"cards", out}}}});
}

void Pile::on_card_query(const json& env, const json& d) {
    json out = json::array();
    if (auto cards = d.find("cards"); cards != d.end() && cards->is_array()) {
        for (const auto& c : *cards) {
            if (!c.is_string()) continue;
            out.push_back({{"card", c}, {"present", offline_cards_.count(c.get<std::string>()) > 0}});
        }
    }
    reply(env, {{"type", "card_query_reply"}, {"data", {{"cards", out}}}});
}

void Pile::on_work_params_set(const json& env, const json& d) {
    enabled_ = d.value("state", json("enabled")) != "disabled";
    if (auto p = units_of(d.value("max_power", json(100)), 0); p && *p >= 1 && *p <= 100) max_power_ = static_cast<unsigned>(*p);
    reply(env, {{"type", "work_params_set_reply"}, {"data", {{"result", "success"}}}});
}

void Pile::on_time_sync(const json& env, const json& d) {
    json time = d.value("time", json());
    if (!time.is_string()) time = iso_time(Wall::now(), sim_.opt.utc_offset_minutes);
    reply(env, {{"type", "time_sync_reply"}, {"data", {{"time", time}}}});
}

void Pile::on_lock_control(const json& env, const json& d) {
    reply(env, {{"type", "lock_control_reply"}, {"data", {{"gun", d.value("gun", json(1))}, {"result", "success"}}}});
}

void Pile::on_reboot(const json& env, const json&) { reply(env, {{"type", "reboot_reply"}, {"data", {{"result", "success"}}}}); }

void Pile::on_firmware_update(const json& env, const json&) {
    reply(env, {{"type", "firmware_update_reply"}, {"data", {{"status", "success"}}}});
}

}  // namespace ykc::sim
