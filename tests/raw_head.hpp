// Test helper: a field read from a raw HTTP message head the way a peer on
// the wire reads it, with plain string search rather than ssepp::http's
// parser, so a test that checks the bytes ssepp wrote does not check the
// library against itself.
#pragma once

#include <cctype>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ssepp_test {

// The value of the first field called `name` (any case) in a raw request or
// response: in the lines before the first CRLF CRLF, or in all of `message`
// when it has none. Leading spaces are dropped from the value.
inline std::optional<std::string> header_value(std::string_view message, std::string_view name) {
  const std::size_t head_end = message.find("\r\n\r\n");
  std::string_view head = message.substr(0, head_end);
  while (!head.empty()) {
    const std::size_t eol = head.find("\r\n");
    const std::string_view line = head.substr(0, eol);
    head.remove_prefix(eol == std::string_view::npos ? head.size() : eol + 2);
    const std::size_t colon = line.find(':');
    if (colon != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < colon; ++i)
      same = same && std::tolower(static_cast<unsigned char>(line[i])) ==
                         std::tolower(static_cast<unsigned char>(name[i]));
    if (!same) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    return std::string(value);
  }
  return std::nullopt;
}

}  // namespace ssepp_test
