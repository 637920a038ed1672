#pragma once
// Small text helpers shared by the document generators.
#include <string>
#include <vector>

namespace ykc::bridge::docs {

// "# title" and the line that says where the file comes from and how to regenerate it.
std::string generated_header(const std::string& title, const std::string& docs_name, const std::string& from);
// Words of `text` in lines of at most `width` characters (a longer word gets a line of its own).
std::vector<std::string> wrap(const std::string& text, std::size_t width);
// A fenced shell block.
std::string shell_block(const std::string& lines);

}  // namespace ykc::bridge::docs
