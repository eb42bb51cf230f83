// What the fuzz targets compare ssepp against: a check that stops the fuzzer
// with a message, and a UTF-8 decoder written from the WHATWG Encoding
// Standard's algorithm text, independent of ssepp's detail/utf8.hpp, so a
// bug there cannot hide behind itself.
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace ssepp_fuzz {

// A fuzz target must crash on a finding: libFuzzer saves the input that got
// here, and the standalone runner stops with a nonzero status.
[[noreturn]] inline void fail(const char* file, int line, const char* what) {
  std::fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
  std::fflush(stderr);
#if defined(__GNUC__) || defined(__clang__)
  __builtin_trap();
#else
  std::abort();
#endif
}

#define SSEPP_FUZZ_CHECK(condition) \
  ((condition) ? static_cast<void>(0) : ::ssepp_fuzz::fail(__FILE__, __LINE__, #condition))

// The Encoding Standard's "UTF-8 decoder" (section 9.1.1), run to the end of
// `in`: each error appends U+FFFD; a byte that breaks a sequence is looked at
// again as the start of a new one. Returns the number of errors.
inline std::size_t whatwg_utf8_decode(std::string_view in, std::string* out) {
  std::size_t errors = 0;
  std::size_t needed = 0, seen = 0;
  unsigned lower = 0x80, upper = 0xBF;
  std::string pending;  // bytes of the sequence being read
  auto error = [&] {
    ++errors;
    if (out) out->append("\xEF\xBF\xBD");
  };
  std::size_t i = 0;
  while (i < in.size()) {
    const auto byte = static_cast<unsigned char>(in[i]);
    if (needed == 0) {
      ++i;
      if (byte <= 0x7F) {
        if (out) out->push_back(static_cast<char>(byte));
      } else if (byte >= 0xC2 && byte <= 0xDF) {
        needed = 1;
        pending.assign(1, static_cast<char>(byte));
      } else if (byte >= 0xE0 && byte <= 0xEF) {
        if (byte == 0xE0) lower = 0xA0;
        if (byte == 0xED) upper = 0x9F;
        needed = 2;
        pending.assign(1, static_cast<char>(byte));
      } else if (byte >= 0xF0 && byte <= 0xF4) {
        if (byte == 0xF0) lower = 0x90;
        if (byte == 0xF4) upper = 0x8F;
        needed = 3;
        pending.assign(1, static_cast<char>(byte));
      } else {
        error();
      }
      continue;
    }
    if (byte < lower || byte > upper) {
      // "Restore byte to ioQueue": `i` is not advanced.
      needed = seen = 0;
      lower = 0x80;
      upper = 0xBF;
      error();
      continue;
    }
    ++i;
    lower = 0x80;
    upper = 0xBF;
    pending.push_back(static_cast<char>(byte));
    if (++seen == needed) {
      if (out) out->append(pending);
      needed = seen = 0;
    }
  }
  if (needed != 0) error();  // end of queue inside a sequence
  return errors;
}

inline bool is_valid_utf8(std::string_view s) { return whatwg_utf8_decode(s, nullptr) == 0; }

inline std::string decode_replacing(std::string_view s) {
  std::string out;
  whatwg_utf8_decode(s, &out);
  return out;
}

// Bytes as a C string literal, for messages about a finding.
inline std::string escaped(std::string_view s) {
  static const char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (u >= 0x20 && u < 0x7F) {
      out += c;
    } else {
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 0xF];
    }
  }
  return out + '"';
}

}  // namespace ssepp_fuzz
