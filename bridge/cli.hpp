#pragma once
// Command-line tools of the ykc-bridge binary: decode, encode, catalogue.
#include <iosfwd>
#include <string>
#include <vector>

namespace ykc::cli {

// Each returns the process exit status. `args` excludes the program and command names.
int decode(const std::vector<std::string>& args, std::istream& in, std::ostream& out, std::ostream& err);
int encode(const std::vector<std::string>& args, std::istream& in, std::ostream& out, std::ostream& err);
int catalogue(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace ykc::cli
