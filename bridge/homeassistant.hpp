#pragma once
// Home Assistant MQTT discovery: a device per pile (from its login) with a set of entities per gun
// that read the retained <base>/<pile>/gun/<n>/state, and buttons that publish commands.
//
// What it publishes (retained, QoS 1) to <prefix>/<component>/ykc_<pile>/<object>/config:
// after a pile's first login in this process run (again when its login data changes), for every
// known pile when Home Assistant announces itself on <prefix>/status and after an MQTT reconnect.
// Only while connected, paced by the link's queue, so a thousand piles do not flood it.
//
// What it removes (empty retained payloads): the configs of piles unseen for
// homeassistant.forget_after, of piles no longer in policies.allowlist (login policy allowlist),
// and of guns a pile no longer has. The piles it knows (login data, last seen) are kept in
// <mqtt.persistence_dir>/homeassistant-<client_id>.json, so forgetting works across restarts.
//
// Threading: like the Bridge, everything runs on the io_context thread.
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "config.hpp"
#include "earliest_timer.hpp"
#include "mqtt_link.hpp"
#include "ykc/catalogue.hpp"

namespace ykc::bridge {

class HomeAssistant {
public:
    HomeAssistant(boost::asio::io_context& io, const Config& config, MqttLink& mqtt, const Catalogue& catalogue);

    // Loads what an earlier run knew, removes piles no longer allowed, subscribes <prefix>/status.
    void start();
    // Saves what it knows (connected piles count as seen now) and stops its timers.
    void stop();

    // hooks of the Bridge
    void logged_in(const std::string& pile, const nlohmann::json& login_data);
    void closed(const std::string& pile);
    void connected();                           // after every MQTT (re)connect
    bool on_message(const IncomingMessage& m);  // true when it was <prefix>/status

    // The discovery configs of a pile: topic -> payload.
    std::vector<std::pair<std::string, nlohmann::json>> configs(const std::string& pile) const;
    // The bridge device's (its health; the charger devices' via_device).
    std::vector<std::pair<std::string, nlohmann::json>> bridge_configs() const;

private:
    struct Pile {
        nlohmann::json login;        // pile_type, gun_count, program_version, protocol_version
        std::int64_t last_seen = 0;  // s since the epoch
        int guns() const;
    };
    // One sensor of a gun, reading the gun's state: what Home Assistant needs to show it.
    struct GunSensor {
        std::string object, name, component;
        std::string topic;  // what it reads: <base>/<pile>/gun/<n>/<topic>: state, meter, last_session
        std::string value_template;
        nlohmann::json extra;  // device_class, unit_of_measurement, state_class, …
        bool dc_only = false;  // what only a DC pile knows (SOC, battery)
    };

    void publish_bridge();
    void announce(const std::string& pile);
    void announce_all(const char* why);
    void pump();
    void remove(const std::string& pile, const std::string& why);
    void sweep();
    void save_soon(std::chrono::seconds within);
    void save();
    void load();

    nlohmann::json device(const std::string& pile, const Pile& p) const;
    nlohmann::json availability(const std::string& pile) const;
    std::string config_topic(const std::string& component, const std::string& pile, const std::string& object) const;
    std::vector<std::pair<std::string, nlohmann::json>> build(const std::string& pile, const Pile& p) const;
    std::string state_file() const;

    const Config& config_;
    MqttLink& mqtt_;
    const std::string prefix_, base_;
    const std::string bridge_id_;  // the bridge device's identifier: ykc_bridge_<client_id>
    std::vector<GunSensor> gun_sensors_;
    std::map<std::string, Pile> piles_;  // every pile with configs
    std::set<std::string> connected_;    // logged in now
    std::set<std::string> announced_;    // published in this process run
    std::deque<std::string> to_announce_;
    std::set<std::string> queued_;  // in to_announce_
    boost::asio::steady_timer pace_, sweep_;
    EarliestTimer save_timer_;
    std::chrono::steady_clock::time_point started_;
    bool connected_once_ = false, stopped_ = false;
};

}  // namespace ykc::bridge
