// sse-cat's output format: one JSON object per line, built in a std::string.
// Strings come out as JSON.stringify writes them, so a line is byte for byte
// what `JSON.stringify({type, data, lastEventId})` gives in a browser for the
// same MessageEvent. Part of the sse-cat example, not of the ssepp library.
#pragma once

#include <charconv>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include <ssepp/event.hpp>

#include "utf8.hpp"

namespace sse_cat {

// JSON's two-character escapes, or nullptr for characters that have none.
inline const char* short_escape(unsigned char c) noexcept {
  switch (c) {
    case '"':
      return "\\\"";
    case '\\':
      return "\\\\";
    case '\b':
      return "\\b";
    case '\f':
      return "\\f";
    case '\n':
      return "\\n";
    case '\r':
      return "\\r";
    case '\t':
      return "\\t";
    default:
      return nullptr;
  }
}

// Appends `text` as a JSON string literal, quotes included. Like
// JSON.stringify it escapes the quote, the backslash and U+0000..U+001F (as
// \b \f \n \r \t where JSON has a short form, else \u00xx in lowercase hex);
// DEL, U+2028 and U+2029 stay raw (JSON allows them).
// Malformed UTF-8 becomes U+FFFD, one per maximal subpart.
inline void append_json_string(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  out.push_back('"');
  std::size_t run = 0;  // start of bytes not yet copied to `out`
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      ++i;
      continue;
    }
    utf8_step step{1, true};
    if (c >= 0x80) {
      step = next_utf8_sequence(s + i, n - i);
      if (step.valid) {
        i += step.length;
        continue;
      }
    }
    out.append(text.data() + run, i - run);
    if (c >= 0x80) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
    } else if (const char* escape = short_escape(c)) {
      out += escape;
    } else {
      const char escape_u[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
      out.append(escape_u, sizeof escape_u);
    }
    i += step.length;
    run = i;
  }
  out.append(text.data() + run, n - run);
  out.push_back('"');
}

// {"type":"…","data":"…","lastEventId":"…"} and a newline: the fields of the
// MessageEvent a browser would fire, in this fixed order.
inline void append_event_line(std::string& out, const ssepp::message& m) {
  out += "{\"type\":";
  append_json_string(out, m.type);
  out += ",\"data\":";
  append_json_string(out, m.data);
  out += ",\"lastEventId\":";
  append_json_string(out, m.last_event_id);
  out += "}\n";
}

// {"comment":"…"} and a newline.
inline void append_comment_line(std::string& out, std::string_view comment) {
  out += "{\"comment\":";
  append_json_string(out, comment);
  out += "}\n";
}

// {"retry":N} and a newline; N in milliseconds.
inline void append_retry_line(std::string& out, std::chrono::milliseconds time) {
  char digits[24];
  const auto result = std::to_chars(digits, digits + sizeof digits, time.count());
  out += "{\"retry\":";
  out.append(digits, static_cast<std::size_t>(result.ptr - digits));
  out += "}\n";
}

}  // namespace sse_cat
