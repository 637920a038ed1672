#pragma once
// Command-line tools of the ykc-bridge binary: decode, encode, catalogue, docs.
#include <iosfwd>
#include <string>
#include <vector>

namespace ykc::cli {

// Each returns the process exit status. `args` excludes the program and command names.
int decode(const std::vector<std::string>& args, std::istream& in, std::ostream& out, std::ostream& err);
int encode(const std::vector<std::string>& args, std::istream& in, std::ostream& out, std::ostream& err);
int catalogue(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
// docs commands|topics|configuration|config-yaml: the generated documents (docs.hpp).
int docs(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace ykc::cli
