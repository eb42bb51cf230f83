// sse-cat's messages on standard error, made safe to show on a terminal. A
// server chooses the bytes of its fields (Content-Type, Transfer-Encoding),
// of the Location it redirects to and so of the URLs sse-cat names; written
// raw, an ESC or a C1 control among them is a command to the terminal (set
// the window title with "\x1b]0;pwned\x07", move the cursor, rewrite what
// is on screen, on some terminals answer back as if typed). Every message
// goes through terminal_escape whatever its source (server, command line,
// file name), so no caller has to know which of its parts came from the
// network. Standard output is not touched: its JSON lines escape C0
// controls themselves and are otherwise specified byte for byte (--help).
// Part of the sse-cat example.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>

#include "utf8.hpp"

namespace sse_cat {

// `text` with every byte a terminal could act on written as a visible
// escape, \xHH in lowercase hex, one per byte: the C0 controls (tab and line
// feed included: a message is one line), DEL, the C1 controls U+0080..U+009F
// (the UTF-8 pairs C2 80..C2 9F) and each byte of malformed UTF-8 (a lone
// 0x9B is CSI to an 8-bit terminal). A backslash becomes \\, so that every
// escape reads back as the one byte it stands for. All other well-formed
// UTF-8 is kept as it is.
inline std::string terminal_escape(std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::string out;
  out.reserve(n);
  const auto escape = [&out](unsigned char c) {
    const char escaped[] = {'\\', 'x', hex[c >> 4], hex[c & 0xF]};
    out.append(escaped, sizeof escaped);
  };
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      if (c == '\\')
        out += "\\\\";
      else if (c < 0x20 || c == 0x7F)
        escape(c);
      else
        out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    const utf8_step step = next_utf8_sequence(s + i, n - i);
    // Terminals that decode UTF-8 may still obey U+009B as CSI.
    const bool c1_control = step.valid && c == 0xC2 && s[i + 1] < 0xA0;
    if (step.valid && !c1_control) {
      out.append(text.data() + i, step.length);
    } else {
      for (std::size_t k = 0; k < step.length; ++k) escape(s[i + k]);
    }
    i += step.length;
  }
  return out;
}

// Writes "sse-cat: MESSAGE" and a newline to standard error, the message
// escaped by terminal_escape. Every message sse-cat prints comes through
// here.
inline void print_message(std::string_view message) {
  const std::string line = "sse-cat: " + terminal_escape(message) + "\n";
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace sse_cat
