// UTF-8 sequence boundaries as the WHATWG UTF-8 decoder draws them, for
// sse-cat's two outputs: the JSON lines (json_lines.hpp) replace each
// malformed sequence with U+FFFD, the messages on standard error
// (terminal_escape.hpp) show its bytes as escapes. Part of the sse-cat example.
#pragma once

#include <cstddef>

namespace sse_cat {

// Length of the UTF-8 sequence starting at s[0] (n > 0 bytes available) and
// whether it is well formed. A malformed one is the "maximal subpart" the
// WHATWG UTF-8 decoder turns into one U+FFFD: the lead byte plus the
// continuation bytes it accepted before the offending byte, which is not
// consumed. The parser's text_mode::raw leaves such bytes in the events; this
// is what keeps the JSON output valid UTF-8 anyway.
struct utf8_step {
  std::size_t length;
  bool valid;
};

inline utf8_step next_utf8_sequence(const unsigned char* s, std::size_t n) noexcept {
  const unsigned char lead = s[0];
  if (lead < 0x80) return {1, true};
  std::size_t needed = 0;
  unsigned char lower = 0x80;
  unsigned char upper = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    needed = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    needed = 2;
    if (lead == 0xE0) lower = 0xA0;  // overlong
    if (lead == 0xED) upper = 0x9F;  // UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    needed = 3;
    if (lead == 0xF0) lower = 0x90;  // overlong
    if (lead == 0xF4) upper = 0x8F;  // above U+10FFFF
  } else {
    return {1, false};  // 0x80..0xC1, 0xF5..0xFF never start a sequence
  }
  std::size_t i = 1;
  for (; i <= needed; ++i) {
    if (i >= n || s[i] < lower || s[i] > upper) return {i, false};
    lower = 0x80;
    upper = 0xBF;
  }
  return {i, true};
}

}  // namespace sse_cat
