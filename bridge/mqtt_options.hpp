#pragma once
// The Paho options of the MQTT link (mqtt_link.cpp), built from the configuration, and the
// outbox's journal. Reading a secret's file that cannot be read throws ConfigError.
#include <memory>

#include <mqtt/connect_options.h>
#include <nlohmann/json.hpp>
#include <mqtt/create_options.h>

#include "config.hpp"
#include "journal.hpp"

namespace ykc::bridge {

// Paho keeps nothing itself: no persistence, no session, nothing sent while disconnected.
mqtt::create_options create_options(const Config& config);
// <base>/bridge/state's payload: {"state": state, "bridge": client_id} (the will's too).
nlohmann::json bridge_state(const Config& config, const char* state);
// Version, keep-alive, the will on <base>/bridge/state, a clean session, credentials, TLS.
mqtt::connect_options connect_options(const Config& config);
// The outbox's journal in mqtt.persistence_dir, or none (with a warning).
std::unique_ptr<Journal> open_journal(const Config& config);

}  // namespace ykc::bridge
