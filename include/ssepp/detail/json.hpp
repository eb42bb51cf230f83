// Minimal JSON string writing for the few JSON payloads ssepp itself sends
// (the hub's gap event). Internal.
#pragma once

#include <string>
#include <string_view>

namespace ssepp::detail {

// Appends `s` as a JSON string literal, quotes included. Control characters
// are escaped; other bytes pass through (callers pass UTF-8).
inline void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 15]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

}  // namespace ssepp::detail
