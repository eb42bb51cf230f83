// The embedded server's HTTP/1.1 pieces with no I/O: request head parsing,
// percent decoding, query parameters, cookies and response heads.
#include <ssepp/asio/http.hpp>

#include <doctest/doctest.h>

#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

using namespace std::string_literals;
using ssepp::asio::parse_request_head;
using ssepp::asio::parse_status;
using ssepp::asio::percent_decode;
using ssepp::asio::request;

// doctest prints enums as numbers unless an overload is found by ADL.
namespace ssepp::asio {
inline doctest::String toString(parse_status s) {
  switch (s) {
    case parse_status::incomplete:
      return "incomplete";
    case parse_status::complete:
      return "complete";
    case parse_status::bad_request:
      return "bad_request";
    case parse_status::too_large:
      return "too_large";
    case parse_status::bad_version:
      return "bad_version";
  }
  return "?";
}
}  // namespace ssepp::asio

namespace {

constexpr std::size_t big_limit = 64 * 1024;

// Parses a head with a generous limit; `head_size` is set only when complete.
parse_status parse(std::string_view bytes, request& req, std::size_t& head_size,
                   std::size_t max_head = big_limit) {
  return parse_request_head(bytes, max_head, req, head_size);
}

parse_status parse(std::string_view bytes, std::size_t max_head = big_limit) {
  request req;
  std::size_t head_size = 0;
  return parse(bytes, req, head_size, max_head);
}

// A request whose only header fields are `fields` ("name: value" lines).
request with_headers(std::initializer_list<std::pair<std::string, std::string>> fields) {
  request r;
  for (const auto& f : fields) r.headers.push_back(f);
  return r;
}

request with_query(std::string query) {
  request r;
  r.query = std::move(query);
  return r;
}

}  // namespace

// --- request heads ---------------------------------------------------------

TEST_CASE("a GET head: method, target, path, query, version and fields") {
  const std::string head =
      "GET /events/news?lastEventId=7&x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: "
      "text/event-stream\r\n\r\n";
  request req;
  std::size_t head_size = 0;
  REQUIRE(parse(head, req, head_size) == parse_status::complete);
  CHECK(head_size == head.size());
  CHECK(req.method == "GET");
  CHECK(req.target == "/events/news?lastEventId=7&x=1");
  CHECK(req.path == "/events/news");
  CHECK(req.query == "lastEventId=7&x=1");
  CHECK(req.version_minor == 1);
  REQUIRE(req.headers.size() == 2);
  CHECK(req.headers[0] == std::pair<std::string, std::string>{"host", "example.com"});
  CHECK(req.headers[1] == std::pair<std::string, std::string>{"accept", "text/event-stream"});
  CHECK(req.body.empty());
}

TEST_CASE("the head ends at the blank line; a body after it is left for the caller") {
  const std::string head = "POST /publish/a HTTP/1.1\r\nContent-Length: 5\r\n\r\n";
  request req;
  std::size_t head_size = 0;
  REQUIRE(parse(head + "hello", req, head_size) == parse_status::complete);
  CHECK(head_size == head.size());
  CHECK(req.body.empty());
}

TEST_CASE("a head with no fields at all") {
  request req;
  std::size_t head_size = 0;
  REQUIRE(parse("GET / HTTP/1.1\r\n\r\n", req, head_size) == parse_status::complete);
  CHECK(req.path == "/");
  CHECK(req.query.empty());
  CHECK(req.headers.empty());
  CHECK(head_size == 18);
}

TEST_CASE("HTTP/1.0 is spoken; other versions are refused as such") {
  request req;
  std::size_t head_size = 0;
  REQUIRE(parse("GET / HTTP/1.0\r\n\r\n", req, head_size) == parse_status::complete);
  CHECK(req.version_minor == 0);
  CHECK(parse("GET / HTTP/2.0\r\n\r\n") == parse_status::bad_version);
  CHECK(parse("GET / HTTP/1.2\r\n\r\n") == parse_status::bad_version);
  CHECK(parse("GET / HTTP/0.9\r\n\r\n") == parse_status::bad_version);
  CHECK(parse("GET / HTTP/1.1 \r\n\r\n") == parse_status::bad_version);
  // Not HTTP at all, or the version's name in the wrong case (it is
  // case-sensitive, RFC 9112 section 2.3).
  CHECK(parse("GET / http/1.1\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("GET / FOO/1.1\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("GET / \r\n\r\n") == parse_status::bad_request);
}

TEST_CASE("every proper prefix of a head is incomplete") {
  const std::string head =
      "POST /publish/a%20b?event=x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nCookie: s=1\r\n\r\n";
  for (std::size_t n = 0; n < head.size(); ++n) {
    CAPTURE(n);
    CHECK(parse(std::string_view(head).substr(0, n)) == parse_status::incomplete);
  }
  CHECK(parse(head) == parse_status::complete);
}

TEST_CASE("a malformed request line is a bad request") {
  CHECK(parse("\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("GET\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("GET /\r\n\r\n") == parse_status::bad_request);
  CHECK(parse(" GET / HTTP/1.1\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("GET  / HTTP/1.1\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("GET /a b HTTP/1.1\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("GET\t/ HTTP/1.1\r\n\r\n") == parse_status::bad_request);
}

TEST_CASE("methods are upper-case letters") {
  CHECK(parse("get / HTTP/1.1\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("G3T / HTTP/1.1\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("GE\x01T / HTTP/1.1\r\n\r\n") == parse_status::bad_request);
  for (const char* m : {"GET", "HEAD", "POST", "OPTIONS", "DELETE", "PUT", "PATCH", "BREW"}) {
    CAPTURE(m);
    request req;
    std::size_t head_size = 0;
    CHECK(parse(std::string(m) + " / HTTP/1.1\r\n\r\n", req, head_size) == parse_status::complete);
    CHECK(req.method == m);
  }
}

TEST_CASE("the target must be origin-form: a path starting with '/'") {
  CHECK(parse("GET * HTTP/1.1\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("GET events HTTP/1.1\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("GET ?a=1 HTTP/1.1\r\n\r\n") == parse_status::bad_request);
}

TEST_CASE("the path is percent-decoded, the query is kept raw") {
  request req;
  std::size_t head_size = 0;
  REQUIRE(parse("GET /a%20b/%2e%2e/c%2Fd?x=%41+b&y=%2F HTTP/1.1\r\n\r\n", req, head_size) ==
          parse_status::complete);
  CHECK(req.path == "/a b/../c/d");
  CHECK(req.query == "x=%41+b&y=%2F");
  CHECK(req.target == "/a%20b/%2e%2e/c%2Fd?x=%41+b&y=%2F");
  // '+' is a space only in a query, never in a path.
  REQUIRE(parse("GET /a+b HTTP/1.1\r\n\r\n", req, head_size) == parse_status::complete);
  CHECK(req.path == "/a+b");
}

TEST_CASE("only the first '?' splits path from query") {
  request req;
  std::size_t head_size = 0;
  REQUIRE(parse("GET /p?a=1?b=2 HTTP/1.1\r\n\r\n", req, head_size) == parse_status::complete);
  CHECK(req.path == "/p");
  CHECK(req.query == "a=1?b=2");
  REQUIRE(parse("GET /p? HTTP/1.1\r\n\r\n", req, head_size) == parse_status::complete);
  CHECK(req.path == "/p");
  CHECK(req.query.empty());
}

TEST_CASE("a malformed escape or an encoded NUL in the path is a bad request") {
  CHECK(parse("GET /a%2 HTTP/1.1\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("GET /a% HTTP/1.1\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("GET /a%zz HTTP/1.1\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("GET /index.html%00.txt HTTP/1.1\r\n\r\n") == parse_status::bad_request);
  // In the query the escape is not decoded here (query_param decides).
  CHECK(parse("GET /a?x=%00 HTTP/1.1\r\n\r\n") == parse_status::complete);
}

TEST_CASE("control characters and raw NUL in the target are a bad request") {
  // RFC 9112 section 3.2: the request-target holds no whitespace or CTL; a
  // raw NUL would silently cut a file name short at the operating system.
  CHECK(parse("GET /index.html\0.txt HTTP/1.1\r\n\r\n"s) == parse_status::bad_request);
  CHECK(parse("GET /a\x01 HTTP/1.1\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("GET /a\x7f HTTP/1.1\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("GET /a\rb HTTP/1.1\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("GET /a\nb HTTP/1.1\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("GET /a?q=\x02 HTTP/1.1\r\n\r\n") == parse_status::bad_request);
}

TEST_CASE("field names are lower-cased; values lose surrounding blanks, keep inner ones") {
  request req;
  std::size_t head_size = 0;
  REQUIRE(
      parse("GET / HTTP/1.1\r\nX-MiXeD: \t a  b \t\r\nHost:h:80\r\nX-Empty:\r\nX-Blank:   \r\n\r\n",
            req, head_size) == parse_status::complete);
  REQUIRE(req.headers.size() == 4);
  CHECK(req.headers[0] == std::pair<std::string, std::string>{"x-mixed", "a  b"});
  CHECK(req.headers[1] == std::pair<std::string, std::string>{"host", "h:80"});
  CHECK(req.headers[2] == std::pair<std::string, std::string>{"x-empty", ""});
  CHECK(req.headers[3] == std::pair<std::string, std::string>{"x-blank", ""});
}

TEST_CASE("repeated fields are kept in order; header() returns the first") {
  request req;
  std::size_t head_size = 0;
  REQUIRE(parse("GET / HTTP/1.1\r\nCookie: a=1\r\nX: 1\r\ncookie: b=2\r\n\r\n", req, head_size) ==
          parse_status::complete);
  REQUIRE(req.headers.size() == 3);
  CHECK(req.header("cookie") == std::optional<std::string_view>("a=1"));
  CHECK(req.header("x") == std::optional<std::string_view>("1"));
  CHECK_FALSE(req.header("y"));
  // Names are looked up lower-case, as stored.
  CHECK_FALSE(req.header("Cookie"));
}

TEST_CASE("a malformed field line is a bad request") {
  CHECK(parse("GET / HTTP/1.1\r\nno colon here\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("GET / HTTP/1.1\r\n: empty name\r\n\r\n") == parse_status::bad_request);
  // Whitespace between name and colon (RFC 9112 section 5.1: MUST reject).
  CHECK(parse("GET / HTTP/1.1\r\nHost : h\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("GET / HTTP/1.1\r\nX Y: h\r\n\r\n") == parse_status::bad_request);
  // Obsolete line folding.
  CHECK(parse("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("GET / HTTP/1.1\r\n x: a\r\n\r\n") == parse_status::bad_request);
}

TEST_CASE("CR, LF or NUL inside a field line is a bad request") {
  // RFC 9112 section 5.5 (a recipient MUST reject or replace them). Accepted,
  // they would ride into responses that echo a request field (CORS echoes
  // Origin and Access-Control-Request-Headers) and split the response.
  CHECK(parse("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("GET / HTTP/1.1\r\nX: a\nSet-Cookie: evil=1\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"s) == parse_status::bad_request);
  CHECK(parse("GET / HTTP/1.1\r\nX\r: a\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("GET / HTTP/1.1\r\nX\n: a\r\n\r\n") == parse_status::bad_request);
  CHECK(parse("GET / HTTP/1.1\r\nX: a\r\r\n\r\n") == parse_status::bad_request);
  // Other bytes, UTF-8 included, are opaque field content.
  request req;
  std::size_t head_size = 0;
  REQUIRE(parse("GET / HTTP/1.1\r\nX: caf\xc3\xa9 \x7f\t!\r\n\r\n", req, head_size) ==
          parse_status::complete);
  CHECK(req.headers[0].second == "caf\xc3\xa9 \x7f\t!");
}

TEST_CASE("the head limit counts the request line, fields and the blank line") {
  const std::string head = "GET / HTTP/1.1\r\nX: 0123456789\r\n\r\n";
  CHECK(parse(head, head.size()) == parse_status::complete);
  CHECK(parse(head, head.size() - 1) == parse_status::too_large);
  // A complete head that is too long is too large even with a body after it.
  CHECK(parse(head + "body", head.size() - 1) == parse_status::too_large);
  // With no blank line yet: incomplete up to the limit, too large past it.
  const std::string partial = "GET / HTTP/1.1\r\nX: 0123456789";
  CHECK(parse(partial, partial.size()) == parse_status::incomplete);
  CHECK(parse(partial, partial.size() - 1) == parse_status::too_large);
}

TEST_CASE("a head split across CRLFs only completes at CRLF CRLF") {
  CHECK(parse("GET / HTTP/1.1\r\n\r") == parse_status::incomplete);
  CHECK(parse("GET / HTTP/1.1\r\nX: y\r\n") == parse_status::incomplete);
  CHECK(parse("GET / HTTP/1.1\r\nX: y\r\n\r\n") == parse_status::complete);
}

// --- percent decoding --------------------------------------------------------

TEST_CASE("percent_decode: escapes, '+' and plain bytes") {
  CHECK(percent_decode("", false) == ""s);
  CHECK(percent_decode("plain/text.html", false) == "plain/text.html"s);
  CHECK(percent_decode("%41%42c", false) == "ABc"s);
  CHECK(percent_decode("%2e%2E", false) == ".."s);
  CHECK(percent_decode("%C3%A9t%c3%a9", false) == "\xc3\xa9t\xc3\xa9"s);
  CHECK(percent_decode("a+b", false) == "a+b"s);
  CHECK(percent_decode("a+b", true) == "a b"s);
  CHECK(percent_decode("a%2Bb", true) == "a+b"s);
  CHECK(percent_decode("%20", true) == " "s);
  // Decoding happens once: an escaped '%' stays a literal '%'.
  CHECK(percent_decode("%2541", false) == "%41"s);
}

TEST_CASE("percent_decode: every byte but NUL, in both hex cases") {
  static constexpr char upper[] = "0123456789ABCDEF";
  static constexpr char lower[] = "0123456789abcdef";
  for (unsigned b = 1; b < 256; ++b) {
    CAPTURE(b);
    const std::string expected(1, static_cast<char>(b));
    const std::string up{'%', upper[b / 16], upper[b % 16]};
    const std::string low{'%', lower[b / 16], lower[b % 16]};
    CHECK(percent_decode(up, false) == expected);
    CHECK(percent_decode(low, true) == expected);
  }
}

TEST_CASE("percent_decode: malformed escapes and encoded NUL are refused") {
  for (const char* s : {"%", "%4", "a%", "a%4", "%G1", "%1G", "%%41", "% 41", "%-1", "%+1", "%00",
                        "a%00b", "ok%0"}) {
    CAPTURE(s);
    CHECK_FALSE(percent_decode(s, false));
    CHECK_FALSE(percent_decode(s, true));
  }
}

// --- query parameters ----------------------------------------------------------

TEST_CASE("query_param finds a parameter by name and decodes its value") {
  const auto r = with_query("event=update&id=42&lastEventId=ab%2Dc&msg=hello+world%21");
  CHECK(r.query_param("event") == "update"s);
  CHECK(r.query_param("id") == "42"s);
  CHECK(r.query_param("lastEventId") == "ab-c"s);
  CHECK(r.query_param("msg") == "hello world!"s);
  CHECK_FALSE(r.query_param("missing"));
  // Names are case-sensitive.
  CHECK_FALSE(r.query_param("lasteventid"));
}

TEST_CASE("query_param: the first of repeated names wins") {
  CHECK(with_query("a=1&a=2").query_param("a") == "1"s);
}

TEST_CASE("query_param: empty values, bare names, empty pairs") {
  const auto r = with_query("&&flag&empty=&x=1&");
  CHECK(r.query_param("flag") == ""s);
  CHECK(r.query_param("empty") == ""s);
  CHECK(r.query_param("x") == "1"s);
  CHECK_FALSE(with_query("").query_param("x"));
  CHECK_FALSE(with_query("x1=1").query_param("x"));
  CHECK_FALSE(with_query("xx=1").query_param("x"));
}

TEST_CASE("query_param: '=' inside a value; names are decoded too") {
  CHECK(with_query("t=a=b=c").query_param("t") == "a=b=c"s);
  CHECK(with_query("%6castEventId=5").query_param("lastEventId") == "5"s);
  CHECK(with_query("a+b=1").query_param("a b") == "1"s);
  // An escaped '&' or '=' is data, not a separator.
  CHECK(with_query("v=1%262%3D3&w=4").query_param("v") == "1&2=3"s);
}

TEST_CASE("query_param: a value that does not decode is absent") {
  CHECK_FALSE(with_query("event=%0").query_param("event"));
  CHECK_FALSE(with_query("event=%00").query_param("event"));
  // A malformed name is skipped, and a later well-formed pair still found.
  CHECK(with_query("%zz=1&a=2").query_param("a") == "2"s);
}

// --- cookies ---------------------------------------------------------------------

TEST_CASE("cookie finds a value in the Cookie header") {
  const auto r = with_headers({{"cookie", "session=abc123; theme=dark; token=x=y=z"}});
  CHECK(r.cookie("session") == "abc123"s);
  CHECK(r.cookie("theme") == "dark"s);
  CHECK(r.cookie("token") == "x=y=z"s);
  CHECK_FALSE(r.cookie("missing"));
  // Whole names only, case-sensitive.
  CHECK_FALSE(r.cookie("sess"));
  CHECK_FALSE(r.cookie("ession"));
  CHECK_FALSE(r.cookie("Session"));
}

TEST_CASE("cookie: no Cookie header, empty values, pairs without '='") {
  CHECK_FALSE(with_headers({{"host", "h"}}).cookie("a"));
  CHECK_FALSE(with_headers({{"cookie", ""}}).cookie("a"));
  const auto r = with_headers({{"cookie", "a=; novalue; b=2;;c=3"}});
  CHECK(r.cookie("a") == ""s);
  CHECK_FALSE(r.cookie("novalue"));
  CHECK(r.cookie("b") == "2"s);
  CHECK(r.cookie("c") == "3"s);
}

TEST_CASE("cookie: the first of repeated names wins, across Cookie headers too") {
  CHECK(with_headers({{"cookie", "a=1; a=2"}}).cookie("a") == "1"s);
  const auto r = with_headers({{"cookie", "a=1"}, {"x-other", "b=9"}, {"cookie", "b=2; a=3"}});
  CHECK(r.cookie("a") == "1"s);
  CHECK(r.cookie("b") == "2"s);
}

TEST_CASE("cookie values are not percent-decoded") {
  CHECK(with_headers({{"cookie", "v=a%20b"}}).cookie("v") == "a%20b"s);
}

TEST_CASE("a Cookie header parsed from the wire") {
  request req;
  std::size_t head_size = 0;
  REQUIRE(parse("GET /events/a HTTP/1.1\r\nCOOKIE:  sid=s3cr3t; lang=pl \r\n\r\n", req,
                head_size) == parse_status::complete);
  CHECK(req.cookie("sid") == "s3cr3t"s);
  CHECK(req.cookie("lang") == "pl"s);
}

// --- responses -------------------------------------------------------------------

TEST_CASE("reason phrases for every status the server sends") {
  using ssepp::asio::reason_phrase;
  CHECK(reason_phrase(200) == "OK");
  CHECK(reason_phrase(204) == "No Content");
  CHECK(reason_phrase(400) == "Bad Request");
  CHECK(reason_phrase(401) == "Unauthorized");
  CHECK(reason_phrase(403) == "Forbidden");
  CHECK(reason_phrase(404) == "Not Found");
  CHECK(reason_phrase(405) == "Method Not Allowed");
  CHECK(reason_phrase(408) == "Request Timeout");
  CHECK(reason_phrase(411) == "Length Required");
  CHECK(reason_phrase(413) == "Content Too Large");
  CHECK(reason_phrase(431) == "Request Header Fields Too Large");
  CHECK(reason_phrase(500) == "Internal Server Error");
  CHECK(reason_phrase(501) == "Not Implemented");
  CHECK(reason_phrase(503) == "Service Unavailable");
  CHECK(reason_phrase(299) == "Unknown");
}

TEST_CASE("response_head: status line, fields in order, optional Content-Length, blank line") {
  using ssepp::asio::response_head;
  CHECK(response_head(200, {}, std::nullopt) == "HTTP/1.1 200 OK\r\n\r\n");
  CHECK(response_head(404, {{"A", "1"}, {"B", "two words"}}, std::size_t{10}) ==
        "HTTP/1.1 404 Not Found\r\nA: 1\r\nB: two words\r\nContent-Length: 10\r\n\r\n");
  CHECK(response_head(204, {}, std::size_t{0}) ==
        "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
}
