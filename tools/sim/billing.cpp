#include "billing.hpp"

#include "values.hpp"

namespace ykc::sim {

BillingModel BillingModel::fallback() {
    BillingModel m;
    m.energy_price = {120000, 100000, 70000, 30000};
    m.service_price = {80000, 80000, 80000, 80000};
    for (int h = 0; h < 48; ++h) {
        const int hour = h / 2;
        Tariff t = flat;
        if (hour < 8 || hour >= 23) t = valley;
        else if (hour >= 19 && hour < 21) t = sharp;
        else if ((hour >= 10 && hour < 15) || (hour >= 18 && hour < 19)) t = peak;
        m.periods[static_cast<std::size_t>(h)] = static_cast<std::uint8_t>(t);
    }
    return m;
}

std::optional<BillingModel> BillingModel::from_data(const nlohmann::json& data, std::string* why) {
    BillingModel m;
    auto id = data.find("model_id");
    if (id == data.end() || !id->is_string()) {
        *why = "no model_id";
        return std::nullopt;
    }
    m.id = id->get<std::string>();
    for (int t = 0; t < 4; ++t) {
        for (int kind = 0; kind < 2; ++kind) {
            const std::string key = std::string(tariff_names[t]) + (kind == 0 ? "_energy_price" : "_service_price");
            auto v = data.find(key);
            auto units = v == data.end() ? std::nullopt : units_of(*v, 5);
            if (!units || *units < 0) {
                *why = "bad " + key;
                return std::nullopt;
            }
            (kind == 0 ? m.energy_price : m.service_price)[static_cast<std::size_t>(t)] = *units;
        }
    }
    auto periods = data.find("periods");
    if (periods == data.end() || !periods->is_array() || periods->size() != 48) {
        *why = "periods must be 48 tariffs";
        return std::nullopt;
    }
    for (std::size_t i = 0; i < 48; ++i) {
        const auto& p = (*periods)[i];
        std::uint8_t t = flat;  // codes the spec does not name: charge them as flat
        if (p.is_string()) {
            for (int k = 0; k < 4; ++k)
                if (p.get<std::string>() == tariff_names[k]) t = static_cast<std::uint8_t>(k);
        } else if (p.is_number_unsigned() && p.get<std::uint64_t>() < 4) {
            t = static_cast<std::uint8_t>(p.get<std::uint64_t>());
        }
        m.periods[i] = t;
    }
    return m;
}

}  // namespace ykc::sim
