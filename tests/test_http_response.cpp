// The client's HTTP/1.1 pieces with no I/O: response heads and the chunked
// transfer decoder, the latter ground through every split of its input.
#include <ssepp/asio/http_response.hpp>

#include <doctest/doctest.h>

#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

using ssepp::asio::chunked_decoder;
using ssepp::asio::head_status;
using ssepp::asio::parse_response_head;
using ssepp::asio::parsed_response_head;

// doctest prints enums as numbers unless an overload is found by ADL.
namespace ssepp::asio {
inline doctest::String toString(head_status s) {
  switch (s) {
    case head_status::incomplete:
      return "incomplete";
    case head_status::complete:
      return "complete";
    case head_status::malformed:
      return "malformed";
    case head_status::too_large:
      return "too_large";
  }
  return "?";
}
inline doctest::String toString(chunked_decoder::result r) {
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
}  // namespace ssepp::asio

namespace {

constexpr std::size_t big_limit = 64 * 1024;

head_status parse(std::string_view bytes, parsed_response_head& head, std::size_t& size,
                  std::size_t max_head = big_limit) {
  return parse_response_head(bytes, max_head, head, size);
}

head_status parse(std::string_view bytes, std::size_t max_head = big_limit) {
  parsed_response_head head;
  std::size_t size = 0;
  return parse(bytes, head, size, max_head);
}

// What a decoder made of a sequence of reads: the body it handed out and
// the result of the last feed().
struct decoded {
  std::string body;
  chunked_decoder::result result = chunked_decoder::result::more;
  bool operator==(const decoded& o) const { return body == o.body && result == o.result; }
};

std::ostream& operator<<(std::ostream& os, const decoded& d) {
  return os << "{body [" << d.body << "], " << ssepp::asio::toString(d.result) << "}";
}

decoded decode_chunks(const std::vector<std::string_view>& chunks) {
  decoded d;
  chunked_decoder decoder;
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

// The grind: whole, split at every index (and every pair of indices for
// short inputs), one byte at a time; all must agree. Returns the result
// for the test to check against the expectation.
decoded grind(std::string_view input) {
  const decoded whole = decode_chunks({input});
  for (std::size_t i = 0; i <= input.size(); ++i) {
    INFO("split at " << i);
    CHECK(decode_chunks({input.substr(0, i), input.substr(i)}) == whole);
  }
  if (input.size() <= 48) {
    for (std::size_t i = 0; i <= input.size(); ++i)
      for (std::size_t j = i; j <= input.size(); ++j) {
        INFO("split at " << i << " and " << j);
        CHECK(decode_chunks({input.substr(0, i), input.substr(i, j - i), input.substr(j)}) ==
              whole);
      }
  }
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < input.size(); ++i) bytes.push_back(input.substr(i, 1));
  INFO("one byte at a time");
  CHECK(decode_chunks(bytes) == whole);
  return whole;
}

decoded done(std::string body) { return {std::move(body), chunked_decoder::result::done}; }
decoded more(std::string body) { return {std::move(body), chunked_decoder::result::more}; }
decoded malformed(std::string body) {
  return {std::move(body), chunked_decoder::result::malformed};
}

}  // namespace

// --- response heads ----------------------------------------------------------

TEST_CASE("a response head: status, lower-cased names, and its size") {
  const std::string head_text =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n";
  const std::string bytes = head_text + "data: first\n\n";
  parsed_response_head head;
  std::size_t size = 0;
  REQUIRE(parse(bytes, head, size) == head_status::complete);
  CHECK(head.status == 200);
  CHECK(size == head_text.size());
  REQUIRE(head.headers.size() == 2);
  CHECK(head.headers[0].first == "content-type");
  CHECK(head.headers[1].first == "cache-control");
  CHECK(head.header("content-type") == "text/event-stream");
  CHECK(head.header("cache-control") == "no-cache");
  CHECK_FALSE(head.header("Content-Type"));  // look-ups take lower-case names
  CHECK_FALSE(head.header("location"));
}

TEST_CASE("a response head: HTTP/1.0 and a missing reason phrase are fine") {
  parsed_response_head head;
  std::size_t size = 0;
  CHECK(parse("HTTP/1.0 204 No Content\r\n\r\n", head, size) == head_status::complete);
  CHECK(head.status == 204);
  CHECK(parse("HTTP/1.1 503\r\nRetry-After: 1\r\n\r\n", head, size) == head_status::complete);
  CHECK(head.status == 503);
  CHECK(head.header("retry-after") == "1");
  CHECK(parse("HTTP/1.1 307 \r\n\r\n", head, size) == head_status::complete);
  CHECK(head.status == 307);
}

TEST_CASE("a response head: values lose surrounding blanks, keep inner ones") {
  parsed_response_head head;
  std::size_t size = 0;
  REQUIRE(parse("HTTP/1.1 200 OK\r\nX-A:   spaced  value \t\r\nX-B:tight\r\nX-Empty:\r\nX-Blank:  "
                "\r\n\r\n",
                head, size) == head_status::complete);
  CHECK(head.header("x-a") == "spaced  value");
  CHECK(head.header("x-b") == "tight");
  CHECK(head.header("x-empty") == "");
  CHECK(head.header("x-blank") == "");
}

TEST_CASE("a response head: repeated fields are kept in order; header() finds the first") {
  parsed_response_head head;
  std::size_t size = 0;
  REQUIRE(parse("HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n\r\n", head, size) ==
          head_status::complete);
  REQUIRE(head.headers.size() == 2);
  CHECK(head.headers[1].second == "b=2");
  CHECK(head.header("set-cookie") == "a=1");
}

TEST_CASE("a response head: a parse forgets the previous head's fields") {
  parsed_response_head head;
  std::size_t size = 0;
  REQUIRE(parse("HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n", head, size) == head_status::complete);
  REQUIRE(parse("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n", head, size) ==
          head_status::complete);
  CHECK(head.status == 200);
  CHECK_FALSE(head.header("location"));
}

TEST_CASE("a response head: every proper prefix is incomplete") {
  const std::string bytes = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n";
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    INFO("prefix of " << n << " bytes");
    CHECK(parse(std::string_view(bytes).substr(0, n)) == head_status::incomplete);
  }
  CHECK(parse(bytes) == head_status::complete);
}

TEST_CASE("a response head: bounded by max_head") {
  const std::string bytes = "HTTP/1.1 200 OK\r\nX-Pad: " + std::string(100, 'p') + "\r\n\r\n";
  SUBCASE("exactly at the limit is fine") {
    CHECK(parse(bytes, bytes.size()) == head_status::complete);
  }
  SUBCASE("one byte over is too large") {
    CHECK(parse(bytes, bytes.size() - 1) == head_status::too_large);
  }
  SUBCASE("an unfinished head past the limit is too large without waiting for its end") {
    CHECK(parse(std::string_view(bytes).substr(0, 60), 50) == head_status::too_large);
    CHECK(parse(std::string(1 << 20, 'x'), 64 * 1024) == head_status::too_large);
  }
  SUBCASE("an unfinished head within the limit is incomplete") {
    CHECK(parse(std::string_view(bytes).substr(0, 40), 50) == head_status::incomplete);
  }
  SUBCASE("body bytes after the head do not count") {
    CHECK(parse(bytes + std::string(1000, 'b'), bytes.size()) == head_status::complete);
  }
}

TEST_CASE("a response head: malformed status lines") {
  CHECK(parse("HTTP/2 200 OK\r\n\r\n") == head_status::malformed);
  CHECK(parse("HTTP/2.0 200 OK\r\n\r\n") == head_status::malformed);
  CHECK(parse("ICY 200 OK\r\n\r\n") == head_status::malformed);
  CHECK(parse("http/1.1 200 OK\r\n\r\n") == head_status::malformed);
  CHECK(parse("HTTP/1.1 20\r\n\r\n") == head_status::malformed);
  CHECK(parse("HTTP/1.1 2x0 OK\r\n\r\n") == head_status::malformed);
  CHECK(parse("HTTP/1.1 -20 OK\r\n\r\n") == head_status::malformed);
  CHECK(parse("HTTP/1.1200 OK\r\n\r\n") == head_status::malformed);
  CHECK(parse("HTTP/1.1  200 OK\r\n\r\n") == head_status::malformed);
  CHECK(parse("\r\n\r\n") == head_status::malformed);
  CHECK(parse("data: not http at all\n\n\r\n\r\n") == head_status::malformed);
}

TEST_CASE("a response head: the status code is exactly three digits") {
  // "HTTP/1.1 2000" must not pass for a 200.
  CHECK(parse("HTTP/1.1 2000 OK\r\n\r\n") == head_status::malformed);
  CHECK(parse("HTTP/1.1 200OK\r\n\r\n") == head_status::malformed);
}

TEST_CASE("a response head: the version's minor number is a digit") {
  CHECK(parse("HTTP/1.x 200 OK\r\n\r\n") == head_status::malformed);
  CHECK(parse("HTTP/1. 200 OK\r\n\r\n") == head_status::malformed);
}

TEST_CASE("a response head: malformed field lines") {
  CHECK(parse("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n") == head_status::malformed);
  CHECK(parse("HTTP/1.1 200 OK\r\n: no name\r\n\r\n") == head_status::malformed);
  // Obsolete line folding (RFC 9112 5.2) is not supported.
  CHECK(parse("HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\n\r\n") == head_status::malformed);
}

// --- chunked bodies ------------------------------------------------------------

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

TEST_CASE("chunked: sizes of more than 15 hex digits are refused, so they never wrap") {
  CHECK(grind("10000000000000000\r\nx") == malformed(""));  // 2^64
  CHECK(grind("FFFFFFFFFFFFFFFF\r\nx") == malformed(""));
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
}

TEST_CASE("chunked: trailer lines are bounded") {
  const std::string trailer = "X-Big: " + std::string(10000, 't');
  CHECK(decode_chunks({"2\r\nok\r\n0\r\n", trailer}) == malformed("ok"));
  CHECK(decode_chunks({"2\r\nok\r\n0\r\nX-Fine: " + std::string(8000, 't') + "\r\n\r\n"}) ==
        done("ok"));
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
