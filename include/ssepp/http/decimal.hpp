// Strict unsigned numbers as HTTP writes them: 1*DIGIT (Content-Length,
// Retry-After, ports, the event stream's retry: field, the hub's id
// sequence numbers) and 1*HEXDIG (chunk sizes). The one place ssepp turns
// such text into a number. Standard library only, so the core headers use
// it too. No I/O.
#pragma once

#include <limits>
#include <optional>
#include <string_view>
#include <type_traits>

namespace ssepp::http {

namespace detail {

constexpr int digit_value(char c, unsigned base) noexcept {
  int v = -1;
  if (c >= '0' && c <= '9')
    v = c - '0';
  else if (c >= 'a' && c <= 'f')
    v = c - 'a' + 10;
  else if (c >= 'A' && c <= 'F')
    v = c - 'A' + 10;
  return v >= 0 && static_cast<unsigned>(v) < base ? v : -1;
}

template <class Unsigned>
constexpr std::optional<Unsigned> parse_unsigned(std::string_view s, unsigned base) noexcept {
  static_assert(std::is_integral_v<Unsigned> && std::is_unsigned_v<Unsigned> &&
                    !std::is_same_v<Unsigned, bool>,
                "parse_decimal and parse_hex produce an unsigned integer type other than bool");
  if (s.empty()) return std::nullopt;
  constexpr Unsigned max = std::numeric_limits<Unsigned>::max();
  const auto b = static_cast<Unsigned>(base);
  Unsigned n = 0;
  for (const char c : s) {
    const int d = digit_value(c, base);
    if (d < 0) return std::nullopt;
    const auto digit = static_cast<Unsigned>(d);
    // Checked before multiplying: a wrapped length would let a peer declare
    // a huge body as a tiny one (2^64 + 10 read as 10).
    if (n > static_cast<Unsigned>((max - digit) / b)) return std::nullopt;
    n = static_cast<Unsigned>(n * b + digit);
  }
  return n;
}

}  // namespace detail

/// Parses `s` as 1*DIGIT (RFC 9110 section 5.6 and 8.6): ASCII digits only,
/// at least one. No sign, no blanks, no "0x"; leading zeros are allowed.
///
/// @tparam Unsigned an unsigned integer type (not bool).
/// @return the value, or nullopt when `s` is empty, holds anything but
///         digits, or names a value that does not fit in `Unsigned`.
///
/// Complexity: linear in `s.size()`. Usable in constant expressions.
template <class Unsigned>
constexpr std::optional<Unsigned> parse_decimal(std::string_view s) noexcept {
  return detail::parse_unsigned<Unsigned>(s, 10);
}

/// Parses `s` as 1*DIGIT like parse_decimal, but a value too large for
/// `Unsigned` gives its maximum instead of nullopt: for numbers where "more
/// than can be held" still means something, as the event-stream `retry:`
/// field, which the HTML standard reads as any run of digits.
template <class Unsigned>
constexpr std::optional<Unsigned> parse_decimal_saturating(std::string_view s) noexcept {
  if (s.empty()) return std::nullopt;
  for (const char c : s)
    if (c < '0' || c > '9') return std::nullopt;
  const auto n = parse_decimal<Unsigned>(s);
  return n ? *n : std::numeric_limits<Unsigned>::max();
}

/// Parses `s` as 1*HEXDIG (RFC 9112 section 7.1's chunk-size): hexadecimal
/// digits in either case, at least one, nothing else. Otherwise as
/// parse_decimal: nullopt for anything else or a value too large.
template <class Unsigned>
constexpr std::optional<Unsigned> parse_hex(std::string_view s) noexcept {
  return detail::parse_unsigned<Unsigned>(s, 16);
}

}  // namespace ssepp::http
