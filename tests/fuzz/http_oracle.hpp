// What the HTTP fuzz targets compare ssepp::http against: the grammar's
// character classes, percent-decoding and -encoding, and the control bytes
// that say how to cut an input, written from RFC 9110/9112 and RFC 3986
// independently of ssepp's http/detail/chars.hpp and http/url.hpp, so a bug
// there cannot hide behind itself.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ssepp_fuzz {

// RFC 9110 5.6.2: tchar, and token = 1*tchar.
inline bool is_tchar(char c) {
  static constexpr std::string_view specials = "!#$%&'*+-.^_`|~";
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         specials.find(c) != std::string_view::npos;
}

inline bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

inline bool is_lower_token(std::string_view s) {
  return is_token(s) &&
         std::none_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

inline bool has_any_of(std::string_view s, std::string_view bytes) {
  return s.find_first_of(bytes) != std::string_view::npos;
}

// CR, LF or NUL: the bytes no parsed value may hold.
inline bool has_cr_lf_nul(std::string_view s) {
  return has_any_of(s, std::string_view("\r\n\0", 3));
}

inline bool is_blank(char c) { return c == ' ' || c == '\t'; }

inline bool is_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

inline bool iequal(std::string_view a, std::string_view b) {
  const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [&](char x, char y) { return lower(x) == lower(y); });
}

inline std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

inline bool has_ctl_or_space(std::string_view s) {
  for (const char c : s)
    if (static_cast<unsigned char>(c) <= 0x20 || c == '\x7f') return true;
  return false;
}

// 1*DIGIT within 64 bits (RFC 9110 8.6's Content-Length).
inline std::optional<std::uint64_t> decimal_u64(std::string_view s) {
  if (!is_digits(s)) return std::nullopt;
  while (s.size() > 1 && s.front() == '0') s.remove_prefix(1);
  constexpr std::string_view max = "18446744073709551615";
  if (s.size() > max.size() || (s.size() == max.size() && s > max)) return std::nullopt;
  std::uint64_t n = 0;
  for (const char c : s) n = n * 10 + static_cast<std::uint64_t>(c - '0');
  return n;
}

// The lines of a message head up to and including the first empty one,
// without their line ends (LF, or CR LF); `end` receives the offset after
// the empty line, or npos when there is none.
inline std::vector<std::string_view> head_lines(std::string_view bytes, std::size_t& end) {
  std::vector<std::string_view> lines;
  std::size_t at = 0;
  end = std::string_view::npos;
  while (at < bytes.size()) {
    const std::size_t lf = bytes.find('\n', at);
    if (lf == std::string_view::npos) break;
    std::string_view line = bytes.substr(at, lf - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    at = lf + 1;
    if (line.empty()) {
      end = at;
      break;
    }
  }
  return lines;
}

// The trimmed elements, empty ones included, of the comma lists (RFC 9110
// 5.6.1) in every {name, value} of `fields` whose name is `name` (exactly:
// the parsers store names lower-cased).
template <class Fields>
std::vector<std::string_view> list_elements(const Fields& fields, std::string_view name) {
  std::vector<std::string_view> out;
  for (const auto& field : fields) {
    if (field.first != name) continue;
    std::string_view rest = field.second;
    for (;;) {
      const std::size_t comma = rest.find(',');
      out.push_back(trim_blanks(rest.substr(0, comma)));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return out;
}

inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The documented percent-decoding: %XX of either case, '+' as space when
// asked; nullopt for a short or non-hex escape and for %00.
inline std::optional<std::string> percent_decoded(std::string_view s, bool plus_is_space) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += plus_is_space && s[i] == '+' ? ' ' : s[i];
      continue;
    }
    if (s.size() - i < 3) return std::nullopt;
    const int high = hex_value(s[i + 1]), low = hex_value(s[i + 2]);
    if (high < 0 || low < 0 || (high == 0 && low == 0)) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

// Every byte but RFC 3986's unreserved ones as %XX (upper or lower case
// hex by `upper`), and a space as '+' when `plus_for_space`.
inline std::string percent_encoded(std::string_view s, bool plus_for_space, bool upper) {
  const char* hex = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += c;
    } else if (c == ' ' && plus_for_space) {
      out += '+';
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 0xF];
    }
  }
  return out;
}

// The control bytes at the front of an input; missing ones read as zero.
class controls {
 public:
  controls(const std::uint8_t* data, std::size_t size, std::size_t count) : bytes_(count) {
    const std::size_t n = std::min(size, count);
    std::copy(data, data + n, bytes_.begin());
    rest_ = std::string_view(reinterpret_cast<const char*>(data) + n, size - n);
  }
  unsigned char operator[](std::size_t i) const { return bytes_[i]; }
  bool bit(std::size_t byte, unsigned bit) const { return (bytes_[byte] >> bit) & 1u; }
  std::string_view rest() const { return rest_; }

 private:
  std::vector<unsigned char> bytes_;
  std::string_view rest_;
};

// A point in [0, size]: size × k / 255.
inline std::size_t fraction(std::size_t size, unsigned char k) { return size * k / 255; }

// Sorted cut points: one per byte of `ks`, as fractions of `size`.
inline std::vector<std::size_t> cut_points(std::size_t size,
                                           std::initializer_list<unsigned char> ks) {
  std::vector<std::size_t> out;
  for (const unsigned char k : ks) out.push_back(fraction(size, k));
  std::sort(out.begin(), out.end());
  return out;
}

// Every `stride`-th position in (0, size).
inline std::vector<std::size_t> strided(std::size_t size, std::size_t stride) {
  std::vector<std::size_t> out;
  for (std::size_t i = stride; i < size; i += stride) out.push_back(i);
  return out;
}

}  // namespace ssepp_fuzz
