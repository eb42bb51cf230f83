// parse_decimal and parse_hex: the one strict reading of 1*DIGIT and
// 1*HEXDIG that Content-Length, Retry-After, ports and chunk sizes share.
#include <ssepp/http/decimal.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

using ssepp::http::parse_decimal;
using ssepp::http::parse_hex;

namespace {

// "none" or the number: one string shows both at once in a failure.
template <class Unsigned>
std::string show(std::optional<Unsigned> n) {
  return n ? std::to_string(*n) : "none";
}

std::string dec64(std::string_view s) { return show(parse_decimal<std::uint64_t>(s)); }
std::string hex64(std::string_view s) { return show(parse_hex<std::uint64_t>(s)); }

}  // namespace

TEST_CASE("parse_decimal reads ASCII digits, leading zeros included") {
  CHECK(dec64("0") == "0");
  CHECK(dec64("5") == "5");
  CHECK(dec64("1234567890") == "1234567890");
  CHECK(dec64("007") == "7");
  CHECK(dec64("00000000000000000000000000042") == "42");
}

TEST_CASE("parse_decimal refuses anything but digits, and the empty string") {
  for (const char* s : {"", "12a", "1x", "a12", "+5", "-5", " 5", "5 ", "5\t", "0x10", "1.0",
                        "1,000", "1e3", "\xd9\xa3"}) {
    CAPTURE(s);
    CHECK(dec64(s) == "none");
  }
  CHECK(dec64(std::string_view("5\0", 2)) == "none");
}

TEST_CASE("parse_decimal takes the largest value that fits and refuses the next") {
  CHECK(dec64("18446744073709551615") == "18446744073709551615");
  CHECK(dec64("18446744073709551616") == "none");
  CHECK(dec64("18446744073709551626") == "none");  // 2^64 + 10 must not wrap to 10
  CHECK(dec64("99999999999999999999") == "none");
  CHECK(dec64("184467440737095516150") == "none");
  CHECK(show(parse_decimal<std::uint16_t>("65535")) == "65535");
  CHECK(show(parse_decimal<std::uint16_t>("65536")) == "none");
  CHECK(show(parse_decimal<std::uint16_t>("65545")) == "none");  // 2^16 + 9
  CHECK(show(parse_decimal<std::uint8_t>("255")) == "255");
  CHECK(show(parse_decimal<std::uint8_t>("256")) == "none");
  CHECK(show(parse_decimal<std::uint32_t>("4294967295")) == "4294967295");
  CHECK(show(parse_decimal<std::uint32_t>("4294967296")) == "none");
}

TEST_CASE("parse_decimal agrees with std::to_string on every 16-bit value") {
  for (unsigned n = 0; n <= 0xFFFF; ++n) {
    const auto parsed = parse_decimal<std::uint16_t>(std::to_string(n));
    REQUIRE(parsed);
    CHECK(*parsed == n);
  }
}

TEST_CASE("parse_hex reads hex digits of either case") {
  CHECK(hex64("0") == "0");
  CHECK(hex64("a") == "10");
  CHECK(hex64("A") == "10");
  CHECK(hex64("1f") == "31");
  CHECK(hex64("1F") == "31");
  CHECK(hex64("0005") == "5");
  CHECK(hex64("FFFFFFFFFFFFFFFF") == "18446744073709551615");
  CHECK(hex64("0000000000000000000001") == "1");
}

TEST_CASE("parse_hex refuses non-hex bytes, signs, prefixes, blanks and overflow") {
  for (const char* s : {"", "g", "G", "0x5", "+5", "-5", " 5", "5 ", "5;", "1.0"}) {
    CAPTURE(s);
    CHECK(hex64(s) == "none");
  }
  CHECK(hex64("10000000000000000") == "none");  // 2^64
  CHECK(hex64("1000000000000000A") == "none");  // 2^64 + 10
  CHECK(show(parse_hex<std::uint8_t>("ff")) == "255");
  CHECK(show(parse_hex<std::uint8_t>("100")) == "none");
}

TEST_CASE("parse_decimal and parse_hex work in constant expressions") {
  static_assert(parse_decimal<std::uint64_t>("42") == std::uint64_t{42});
  static_assert(!parse_decimal<std::uint64_t>("4 2"));
  static_assert(parse_hex<std::uint32_t>("ff") == 255u);
  static_assert(!parse_hex<std::uint8_t>("1ff"));
  CHECK(true);
}

TEST_CASE("parse_decimal_saturating gives the maximum for a value too large, digits only still") {
  using ssepp::http::parse_decimal_saturating;
  CHECK(show(parse_decimal_saturating<std::uint64_t>("3000")) == "3000");
  CHECK(show(parse_decimal_saturating<std::uint64_t>("99999999999999999999999")) ==
        "18446744073709551615");
  CHECK(show(parse_decimal_saturating<std::uint16_t>("65536")) == "65535");
  for (const char* s : {"", "1x", "-1", " 1", "99999999999999999999999x"}) {
    CAPTURE(s);
    CHECK(show(parse_decimal_saturating<std::uint64_t>(s)) == "none");
  }
}
