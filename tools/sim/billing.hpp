#pragma once
// The billing model a pile holds (0x0A / 0x58): four tariffs and the tariff of each half hour.
#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace ykc::sim {

enum Tariff : int { sharp = 0, peak = 1, flat = 2, valley = 3 };
inline constexpr const char* tariff_names[4] = {"sharp", "peak", "flat", "valley"};

struct BillingModel {
    std::string id = "0000";                      // what billing_model_verify sends; 0000 until the platform sends one
    std::array<std::int64_t, 4> energy_price{};   // 10^-5 yuan/kWh
    std::array<std::int64_t, 4> service_price{};  // 10^-5 yuan/kWh
    std::array<std::uint8_t, 48> periods{};       // tariff of each half hour from 00:00

    // A plausible model for a pile that has not received one yet.
    static BillingModel fallback();
    // From the data of a decoded billing_model / billing_model_set; nullopt (and why) if unusable.
    static std::optional<BillingModel> from_data(const nlohmann::json& data, std::string* why);

    std::int64_t price(int tariff) const noexcept { return energy_price[tariff] + service_price[tariff]; }
};

}  // namespace ykc::sim
