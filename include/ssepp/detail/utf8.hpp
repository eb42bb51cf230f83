// UTF-8 checking and U+FFFD replacement exactly as the WHATWG Encoding
// Standard's UTF-8 decoder does it. The event stream is decoded with that
// decoder, so this decides what a browser shows for malformed bytes. Internal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace ssepp::detail {

// Walks `in` with the Encoding Standard's UTF-8 decoder and calls
// on_valid(begin, end) for each run of well-formed bytes and on_error() for
// each decoder error (each becomes one U+FFFD). A sequence cut off at the end
// of `in` is one error: callers pass whole lines, and a line terminator (an
// ASCII byte) ends any sequence the same way.
template <class OnValid, class OnError>
void utf8_decode(std::string_view in, OnValid&& on_valid, OnError&& on_error) {
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t n = in.size();
  std::size_t run = 0;  // start of the current well-formed run
  std::size_t i = 0;
  while (i < n) {
    const unsigned char b = s[i];
    if (b < 0x80) {
      ++i;
      // Text that needs checking is still mostly ASCII: skip it 8 at a time.
      while (n - i >= 8) {
        std::uint64_t w;
        std::memcpy(&w, s + i, 8);
        if (w & 0x8080808080808080ull) break;
        i += 8;
      }
      continue;
    }
    std::size_t needed = 0;
    unsigned char lower = 0x80, upper = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      needed = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      needed = 2;
      if (b == 0xE0) lower = 0xA0;
      if (b == 0xED) upper = 0x9F;  // no UTF-16 surrogates
    } else if (b >= 0xF0 && b <= 0xF4) {
      needed = 3;
      if (b == 0xF0) lower = 0x90;
      if (b == 0xF4) upper = 0x8F;  // nothing above U+10FFFF
    }
    std::size_t j = i + 1;
    std::size_t seen = 0;
    bool ok = needed != 0;
    while (ok && seen < needed) {
      if (j >= n || s[j] < lower || s[j] > upper) {
        ok = false;  // the offending byte is not consumed: it starts anew
        break;
      }
      lower = 0x80;
      upper = 0xBF;
      ++j;
      ++seen;
    }
    if (ok) {
      i = j;
      continue;
    }
    if (i > run) on_valid(in.data() + run, in.data() + i);
    on_error();
    i = j;  // the lead byte and the continuation bytes it accepted
    run = i;
  }
  if (n > run) on_valid(in.data() + run, in.data() + n);
}

// True when `in` decodes without a single error.
inline bool utf8_is_valid(std::string_view in) {
  bool valid = true;
  utf8_decode(
      in, [](const char*, const char*) {}, [&] { valid = false; });
  return valid;
}

// Appends `in` to `out` with every decoder error replaced by U+FFFD.
inline void utf8_append_replacing(std::string& out, std::string_view in) {
  utf8_decode(
      in, [&](const char* b, const char* e) { out.append(b, e); },
      [&] { out.append("\xEF\xBF\xBD", 3); });
}

}  // namespace ssepp::detail
