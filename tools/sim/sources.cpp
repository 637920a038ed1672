#include "sources.hpp"

#include <algorithm>

namespace ykc::sim {

namespace ip = boost::asio::ip;

std::optional<std::vector<ip::address>> expand_sources(const std::vector<std::string>& specs, std::string* why) {
    constexpr std::size_t limit = 65536;
    std::vector<ip::address> out;
    for (const std::string& spec : specs) {
        std::size_t pos = 0;
        while (pos <= spec.size()) {
            const std::size_t comma = std::min(spec.find(',', pos), spec.size());
            const std::string item = spec.substr(pos, comma - pos);
            pos = comma + 1;
            if (item.empty()) continue;
            boost::system::error_code ec;
            const std::size_t dash = item.find('-');
            if (dash == std::string::npos) {
                auto a = ip::make_address(item, ec);
                if (ec) {
                    *why = "--source-address: not an address: " + item;
                    return std::nullopt;
                }
                out.push_back(a);
            } else {
                const std::string first_text = item.substr(0, dash);
                std::string last_text = item.substr(dash + 1);
                auto first = ip::make_address_v4(first_text, ec);
                if (!ec && last_text.find('.') == std::string::npos)  // 127.0.0.2-50: the last octet
                    last_text = first_text.substr(0, first_text.rfind('.') + 1) + last_text;
                auto last = ec ? ip::address_v4() : ip::make_address_v4(last_text, ec);
                if (ec || last.to_uint() < first.to_uint() || last.to_uint() - first.to_uint() >= limit) {
                    *why = "--source-address: not an IPv4 range (like 127.0.0.2-127.0.0.50): " + item;
                    return std::nullopt;
                }
                for (auto v = first.to_uint();; ++v) {
                    out.push_back(ip::address_v4(v));
                    if (v == last.to_uint()) break;
                }
            }
            if (out.size() > limit) {
                *why = "--source-address: more than 65536 addresses";
                return std::nullopt;
            }
        }
    }
    return out;
}

}  // namespace ykc::sim
