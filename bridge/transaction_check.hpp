#pragma once
// The plausibility check of a billing record (catalogue `record: true`: 0x3B, 0x3D) before the
// bridge confirms it by itself (policies.transaction_check). A charger deletes a record once it is
// confirmed, so a record read wrong — a layout the catalogue does not know, a field read 16 bytes
// off — and confirmed is money lost. What does not add up is published with its reasons and left
// for the backend (cmd/transaction_confirm) instead.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ykc/catalogue.hpp"

namespace ykc::bridge {

// Tolerances, in the fields' units: the charger rounds each segment and the total separately.
inline constexpr const char* energy_tolerance = "0.01";  // kWh: segment sum and meter difference vs total_energy
inline constexpr const char* amount_tolerance = "0.01";  // yuan: segment sum vs total_amount

// Why the record's `data` (as decoded by message `m`) does not add up; empty when it does.
//   - the segments (every `<s>_price` field of the message with `<s>_energy` and `<s>_amount`)
//     add up to total_energy and total_amount;
//   - meter_end − meter_start equals total_energy (unless both are 0: a pile without readings);
//   - start_time, end_time and trade_time are times, and start_time ≤ end_time;
//   - the gun is 1 … gun_count (the login's; not checked when 0);
//   - the serial begins with the pile number (spec 3.3).
std::vector<std::string> check_transaction(const nlohmann::json& data, const Message& m, const std::string& pile, int gun_count);

}  // namespace ykc::bridge
