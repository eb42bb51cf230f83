// The chunked transfer decoder (RFC 9112 section 7.1), every vector ground
// through every split of its input.
#include <ssepp/http/chunked.hpp>

#include <doctest/doctest.h>

#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "grind.hpp"

using ssepp::http::chunked_decoder;
using ssepp::http::chunked_limits;

namespace {

const char* name(chunked_decoder::result r) {
  switch (r) {
    case chunked_decoder::result::more:
      return "more";
    case chunked_decoder::result::done:
      return "done";
    case chunked_decoder::result::malformed:
      return "malformed";
  }
  return "?";
}

// What a decoder made of a sequence of reads: the body it handed out and
// the result of the last feed().
struct decoded {
  std::string body;
  chunked_decoder::result result = chunked_decoder::result::more;
  bool operator==(const decoded& o) const { return body == o.body && result == o.result; }
};

std::ostream& operator<<(std::ostream& os, const decoded& d) {
  return os << "{body [" << d.body << "], " << name(d.result) << "}";
}

decoded decode_chunks(const std::vector<std::string_view>& chunks, chunked_limits limits = {}) {
  decoded d;
  chunked_decoder decoder(limits);
  for (const auto chunk : chunks) {
    d.result = decoder.feed(chunk, [&](std::string_view piece) {
      // Body pieces are views into the input, never copies, never empty.
      CHECK(!piece.empty());
      CHECK(piece.data() >= chunk.data());
      CHECK(piece.data() + piece.size() <= chunk.data() + chunk.size());
      d.body.append(piece.data(), piece.size());
    });
  }
  return d;
}

decoded grind(std::string_view input) {
  return ssepp_test::grind_with(
      input, [](const std::vector<std::string_view>& chunks) { return decode_chunks(chunks); });
}

decoded done(std::string body) { return {std::move(body), chunked_decoder::result::done}; }
decoded more(std::string body) { return {std::move(body), chunked_decoder::result::more}; }
decoded malformed(std::string body) {
  return {std::move(body), chunked_decoder::result::malformed};
}

}  // namespace

TEST_CASE("chunked: one chunk, then the last chunk") {
  CHECK(grind("5\r\nhello\r\n0\r\n\r\n") == done("hello"));
}

TEST_CASE("chunked: several chunks join into one body") {
  CHECK(grind("3\r\nabc\r\n4\r\ndefg\r\n1\r\n\n\r\n0\r\n\r\n") == done("abcdefg\n"));
}

TEST_CASE("chunked: SSE events cut at odd places") {
  CHECK(grind("7\r\ndata: h\r\n9\r\ni\n\nid: 4\n\r\n2\r\n\n\n\r\n0\r\n\r\n") ==
        done("data: hi\n\nid: 4\n\n\n"));
}

TEST_CASE("chunked: sizes are hexadecimal, either case, leading zeros allowed") {
  const std::string ten = "0123456789";
  const std::string thirty_one(31, 'x');
  CHECK(grind("a\r\n" + ten + "\r\n0\r\n\r\n") == done(ten));
  CHECK(grind("A\r\n" + ten + "\r\n0\r\n\r\n") == done(ten));
  CHECK(grind("1f\r\n" + thirty_one + "\r\n0\r\n\r\n") == done(thirty_one));
  CHECK(grind("1F\r\n" + thirty_one + "\r\n0\r\n\r\n") == done(thirty_one));
  CHECK(grind("0005\r\nhello\r\n000\r\n\r\n") == done("hello"));
}

TEST_CASE("chunked: a large chunk passes through as it arrives") {
  const std::string payload(5000, 'z');
  CHECK(grind("1388\r\n" + payload + "\r\n0\r\n\r\n") == done(payload));
  CHECK(decode_chunks({"FFFFFFFFFFFFFFF\r\nabc"}) == more("abc"));
}

TEST_CASE("chunked: extensions are ignored") {
  CHECK(grind("5;name=value\r\nhello\r\n0;last\r\n\r\n") == done("hello"));
  CHECK(grind("5 ;a;b=\"q;uoted\"\r\nhello\r\n0\t;x\r\n\r\n") == done("hello"));
}

TEST_CASE("chunked: trailer fields are skipped") {
  CHECK(grind("5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n") == done("hello"));
  CHECK(grind("0\r\nX-Only: trailer\r\n\r\n") == done(""));
}

TEST_CASE("chunked: bare LF line ends are tolerated") {
  CHECK(grind("5\nhello\n0\n\n") == done("hello"));
  CHECK(grind("5\r\nhello\n0\nT: 1\n\r\n") == done("hello"));
}

TEST_CASE("chunked: an unfinished body asks for more") {
  CHECK(grind("5\r\nhel") == more("hel"));
  CHECK(grind("5\r\nhello") == more("hello"));
  CHECK(grind("5\r\nhello\r\n") == more("hello"));
  CHECK(grind("5\r\nhello\r\n0\r\n") == more("hello"));
  CHECK(grind("5\r\nhello\r\n0\r\nX: 1\r\n") == more("hello"));
  CHECK(grind("") == more(""));
}

TEST_CASE("chunked: nothing after the end is read") {
  CHECK(grind("2\r\nok\r\n0\r\n\r\n5\r\nextra\r\n") == done("ok"));
  CHECK(grind("0\r\n\r\ngarbage that is not chunked") == done(""));
}

TEST_CASE("chunked: malformed sizes") {
  CHECK(grind("\r\nhello\r\n") == malformed(""));
  CHECK(grind(";ext\r\n") == malformed(""));
  CHECK(grind("x\r\nhello\r\n") == malformed(""));
  CHECK(grind("-5\r\nhello\r\n") == malformed(""));
  CHECK(grind("+5\r\nhello\r\n") == malformed(""));
  CHECK(grind("0x5\r\nhello\r\n") == malformed(""));
  CHECK(grind(" 5\r\nhello\r\n") == malformed(""));
  CHECK(grind("5 5\r\nhello\r\n") == malformed(""));
  CHECK(grind("5\r\r\nhello\r\n") == malformed(""));
  CHECK(grind("2\r\nok\r\nzz\r\n") == malformed("ok"));
}

TEST_CASE("chunked: sizes up to 2^64 - 1 are read; larger ones are refused, never wrapped") {
  CHECK(grind("FFFFFFFFFFFFFFFF\r\nx") == more("x"));
  CHECK(grind("0000000000000000000000005\r\nhello\r\n0\r\n\r\n") == done("hello"));
  CHECK(grind("10000000000000000\r\nx") == malformed(""));  // 2^64
  CHECK(grind("1000000000000000A\r\nx") == malformed(""));  // 2^64 + 10, not 10
}

TEST_CASE("chunked: a CR or NUL inside a size line is malformed, extensions included") {
  CHECK(grind("5;a\rb\r\nhello\r\n0\r\n\r\n") == malformed(""));
  CHECK(grind("5;a\r\r\nhello\r\n0\r\n\r\n") == malformed(""));
  CHECK(grind(std::string("5;a\0b\r\nhello\r\n0\r\n\r\n", 19)) == malformed(""));
}

TEST_CASE("chunked: chunk data must end with a line end") {
  CHECK(grind("5\r\nhelloX\r\n0\r\n\r\n") == malformed("hello"));
  CHECK(grind("5\r\nhello\r\r\n0\r\n\r\n") == malformed("hello"));
  CHECK(grind("5\r\nhello\rX0\r\n\r\n") == malformed("hello"));
  CHECK(grind("3\r\nabcd\r\n") == malformed("abc"));
}

TEST_CASE("chunked: the size line is bounded, also before its line end arrives") {
  SUBCASE("a long extension within the bound is fine") {
    const std::string line = "5;" + std::string(1021, 'e') + "\r";  // 1024 bytes before the LF
    CHECK(decode_chunks({line + "\nhello\r\n0\r\n\r\n"}) == done("hello"));
  }
  SUBCASE("one byte more is refused") {
    const std::string line = "5;" + std::string(1022, 'e') + "\r";
    CHECK(decode_chunks({line + "\nhello\r\n0\r\n\r\n"}) == malformed(""));
  }
  SUBCASE("an endless size line fails as soon as it passes the bound") {
    chunked_decoder decoder;
    const std::string piece(100, '1');
    chunked_decoder::result r = chunked_decoder::result::more;
    int fed = 0;
    while (r == chunked_decoder::result::more && fed < 1000) {
      r = decoder.feed(piece, [](std::string_view) { FAIL("no body was sent"); });
      ++fed;
    }
    CHECK(r == chunked_decoder::result::malformed);
    CHECK(fed == 11);  // 1100 bytes: the first read past 1024
  }
  SUBCASE("the bound is configurable") {
    chunked_limits limits;
    limits.max_size_line = 3;
    CHECK(decode_chunks({"5;x\r\nhello\r\n0\r\n\r\n"}, limits) == malformed(""));
    CHECK(decode_chunks({"5;\r\nhello\r\n0\r\n\r\n"}, limits) == done("hello"));
  }
}

TEST_CASE("chunked: trailer lines are bounded") {
  const std::string trailer = "X-Big: " + std::string(10000, 't');
  CHECK(decode_chunks({"2\r\nok\r\n0\r\n", trailer}) == malformed("ok"));
  CHECK(decode_chunks({"2\r\nok\r\n0\r\nX-Fine: " + std::string(8000, 't') + "\r\n\r\n"}) ==
        done("ok"));
  chunked_limits limits;
  limits.max_trailer_line = 10;
  CHECK(decode_chunks({"2\r\nok\r\n0\r\nX: 123456\r\n\r\n"}, limits) == done("ok"));
  CHECK(decode_chunks({"2\r\nok\r\n0\r\nX: 1234567\r\n\r\n"}, limits) == malformed("ok"));
}

TEST_CASE("chunked: a failed decoder stays failed and hands out nothing") {
  chunked_decoder decoder;
  std::string body;
  auto collect = [&](std::string_view piece) { body.append(piece.data(), piece.size()); };
  CHECK(decoder.feed("zz\r\n", collect) == chunked_decoder::result::malformed);
  CHECK(decoder.feed("5\r\nhello\r\n", collect) == chunked_decoder::result::malformed);
  CHECK(body.empty());
}

TEST_CASE("chunked: a finished decoder stays finished and hands out nothing") {
  chunked_decoder decoder;
  std::string body;
  auto collect = [&](std::string_view piece) { body.append(piece.data(), piece.size()); };
  CHECK(decoder.feed("0\r\n\r\n", collect) == chunked_decoder::result::done);
  CHECK(decoder.feed("5\r\nhello\r\n", collect) == chunked_decoder::result::done);
  CHECK(decoder.feed("", collect) == chunked_decoder::result::done);
  CHECK(body.empty());
}
