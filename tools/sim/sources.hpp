#pragma once
// --source-address values: "127.0.0.2", "127.0.0.2,127.0.0.3", "127.0.0.2-127.0.0.50", "127.0.0.2-50".
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/ip/address.hpp>

namespace ykc::sim {

// All addresses, in order; nullopt (and why) on a bad one or more than 65536.
std::optional<std::vector<boost::asio::ip::address>> expand_sources(const std::vector<std::string>& specs, std::string* why);

}  // namespace ykc::sim
