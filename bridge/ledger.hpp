#pragma once
// What the bridge keeps of each pile beyond a session, and publishes retained for dashboards
// (Home Assistant's Energy dashboard, Node-RED):
//   <base>/<pile>/gun/<n>/meter         the gun's lifetime energy: the meter_end of its newest
//                                       accepted transaction record, plus the energy of the
//                                       session in progress (realtime); it never goes down
//   <base>/<pile>/meter                 the sum over the pile's guns, once every gun's is known
//   <base>/<pile>/gun/<n>/last_session  the newest accepted record's summary
//   <base>/<pile>/work_params           the work parameters (0x52) the pile last accepted
// An accepted record is one whose check passed (or policies.transaction_check off). Kept in
// <mqtt.persistence_dir>/ledger-<client_id>.json across restarts, and read back from the retained
// meters on the broker (several bridges, a lost file). Everything runs on the
// io_context thread.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "config.hpp"
#include "earliest_timer.hpp"
#include "mqtt_link.hpp"

namespace ykc::bridge {

class Ledger {
public:
    // `now`: the time stamp of what it publishes (ISO 8601 in the chargers' offset)
    Ledger(boost::asio::io_context& io, const Config& config, MqttLink& mqtt, std::function<std::string()> now);
    void start();  // loads what earlier runs kept
    void stop();   // saves it

    // An accepted transaction record's data (gun, serial, meter_start, meter_end, …).
    void record(const std::string& pile, int gun_count, const nlohmann::json& data);
    // A realtime frame's data, as text (not parsed: it is most of a fleet's traffic), with its
    // gun and status read from it.
    void realtime(const std::string& pile, int gun_count, std::string_view gun, std::string_view status, std::string_view data);
    // A retained or echoed <base>/<pile>/gun/<n>/meter (the bridge reads <base>/+/gun/+/meter):
    // what another bridge, or this one before its ledger file was lost, published. The meter
    // takes the higher of the two, so it does not go down when a pile moves between bridges.
    void on_meter(const std::string& pile, const std::string& gun, const std::string& payload);
    // A retained or echoed <base>/<pile>/work_params (the bridge reads <base>/+/work_params): what
    // the pile accepted through another bridge, or before this one's ledger file was lost.
    void on_work_params(const std::string& pile, const std::string& payload);
    // The pile answered work_params_set with success: `sent` is what it accepted.
    void work_params_accepted(const std::string& pile, const nlohmann::json& sent);
    // {"state", "max_power"}: what the pile last accepted, else enabled at 100 %.
    nlohmann::json work_params(const std::string& pile) const;

    // How often a session in progress moves the published meter at most.
    static constexpr std::chrono::seconds session_interval{60};

private:
    using Clock = std::chrono::steady_clock;
    struct Gun {
        std::int64_t meter = -1;      // meter_end of the newest accepted record, 1e-4 kWh; -1: none yet
        std::int64_t published = -1;  // the lifetime energy last published, 1e-4 kWh
        std::string serial;           // the newest accepted record's
        Clock::time_point moved{};    // when a session in progress last moved `published`
    };
    struct Book {
        std::map<int, Gun> guns;
        nlohmann::json work_params;  // null: never set through this bridge
    };

    // `gun` of `book` (the pile's) reads `value`, or stays where it was if that was higher
    void publish_meter(const std::string& pile, int gun_count, Book& book, int gun, std::int64_t value, const nlohmann::json& extra);
    void load(const nlohmann::json& piles);
    void save_soon();
    void save();
    std::string file() const;
    std::string topic(const std::string& pile, const std::string& suffix) const;

    const Config& config_;
    MqttLink& mqtt_;
    std::function<std::string()> now_;
    std::map<std::string, Book> books_;
    EarliestTimer save_timer_;
    bool stopped_ = false;
};

}  // namespace ykc::bridge
