// Request and response heads (RFC 9112 sections 2-5): the start line, the
// field lines, the limits, and the same answer however the bytes arrive.
#include <ssepp/http/head.hpp>

#include <doctest/doctest.h>

#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "grind.hpp"

using namespace std::string_literals;
using ssepp::http::head_limits;
using ssepp::http::head_result;
using ssepp::http::parse_request_head;
using ssepp::http::parse_response_head;
using ssepp::http::request_head;
using ssepp::http::response_head;

// doctest prints enums as numbers unless an overload is found by ADL.
namespace ssepp::http {
inline doctest::String toString(head_result r) {
  return doctest::String(std::string(to_string(r)).c_str());
}
}  // namespace ssepp::http

namespace {

// Everything a parse said, as one comparable value: the result, the
// message, and (when complete) the head's size and contents.
struct parsed {
  head_result result = head_result::incomplete;
  std::string why;
  std::size_t size = 0;
  std::string head;  // see show()
  friend bool operator==(const parsed& a, const parsed& b) {
    return a.result == b.result && a.why == b.why && a.size == b.size && a.head == b.head;
  }
};

std::ostream& operator<<(std::ostream& os, const parsed& p) {
  return os << "{" << to_string(p.result) << " [" << p.why << "] size " << p.size << "\n"
            << p.head << "}";
}

std::string show_fields(const ssepp::http::fields& f) {
  std::string s;
  for (const auto& [name, value] : f) s += "\n" + name + ": " + value;
  return s;
}

std::string show(const request_head& h) {
  return h.method + " " + h.target + " authority=" + h.authority + " path=" + h.path +
         " query=" + h.query + " HTTP/" + std::to_string(h.version_major) + "." +
         std::to_string(h.version_minor) + show_fields(h.fields);
}

std::string show(const response_head& h) {
  return "HTTP/" + std::to_string(h.version_major) + "." + std::to_string(h.version_minor) + " " +
         std::to_string(h.status) + " reason=" + h.reason + show_fields(h.fields);
}

// Reads a head the way a connection does: appends each read to a buffer
// and parses it again, stopping at the first answer that is not
// "incomplete".
template <class Head, class Parse>
parsed feed(const std::vector<std::string_view>& reads, const head_limits& limits, Parse parse) {
  std::string buffer;
  for (const auto read : reads) {
    buffer.append(read);
    Head head;
    std::size_t size = 0;
    std::string_view why;
    const head_result r = parse(buffer, limits, head, size, why);
    if (r == head_result::incomplete) {
      CHECK(why.empty());
      continue;
    }
    if (r == head_result::complete) {
      CHECK(why.empty());
      return {r, "", size, show(head)};
    }
    CHECK(!why.empty());  // every failure says what was wrong
    return {r, std::string(why), 0, ""};
  }
  return {};
}

// A request ground through every split (tests/grind.hpp).
parsed request(std::string_view input, head_limits limits = {}) {
  return ssepp_test::grind_with(input, [&](const std::vector<std::string_view>& reads) {
    return feed<request_head>(reads, limits, [](auto&&... a) { return parse_request_head(a...); });
  });
}

parsed response(std::string_view input, head_limits limits = {}) {
  return ssepp_test::grind_with(input, [&](const std::vector<std::string_view>& reads) {
    return feed<response_head>(reads, limits,
                               [](auto&&... a) { return parse_response_head(a...); });
  });
}

head_result request_result(std::string_view input, head_limits limits = {}) {
  return request(input, limits).result;
}
head_result response_result(std::string_view input, head_limits limits = {}) {
  return response(input, limits).result;
}

head_limits max_head_bytes(std::size_t n) {
  head_limits l;
  l.max_head_bytes = n;
  return l;
}

constexpr head_result complete = head_result::complete;
constexpr head_result incomplete = head_result::incomplete;
constexpr head_result malformed = head_result::malformed;
constexpr head_result too_large = head_result::too_large;
constexpr head_result bad_version = head_result::bad_version;

}  // namespace

// --- request heads -------------------------------------------------------------

TEST_CASE("a GET head: method, target, path, query, version and fields") {
  const std::string head =
      "GET /events/news?lastEventId=7&x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: "
      "text/event-stream\r\n\r\n";
  const parsed p = request(head);
  REQUIRE(p.result == complete);
  CHECK(p.size == head.size());
  CHECK(p.head ==
        "GET /events/news?lastEventId=7&x=1 authority= path=/events/news query=lastEventId=7&x=1 "
        "HTTP/1.1\nhost: example.com\naccept: text/event-stream");
}

TEST_CASE("the head ends at the blank line; a body after it is left for the caller") {
  const std::string head = "POST /publish/a HTTP/1.1\r\nContent-Length: 5\r\n\r\n";
  const parsed p = request(head + "hello");
  REQUIRE(p.result == complete);
  CHECK(p.size == head.size());
  CHECK(p.head == "POST /publish/a authority= path=/publish/a query= HTTP/1.1\ncontent-length: 5");
}

TEST_CASE("a head with no fields at all") {
  const parsed p = request("GET / HTTP/1.1\r\n\r\n");
  CHECK(p.result == complete);
  CHECK(p.size == 18);
  CHECK(p.head == "GET / authority= path=/ query= HTTP/1.1");
}

TEST_CASE("every proper prefix of a head is incomplete, the whole head complete") {
  const std::string head =
      "POST /publish/a%20b?event=x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nCookie: s=1\r\n\r\n";
  for (std::size_t n = 0; n < head.size(); ++n) {
    CAPTURE(n);
    request_head h;
    std::size_t size = 0;
    CHECK(parse_request_head(std::string_view(head).substr(0, n), {}, h, size) == incomplete);
    CHECK(size == 0);  // untouched until complete
  }
  CHECK(request_result(head) == complete);
}

TEST_CASE("HTTP/1.0 and HTTP/1.1 are spoken; a higher minor digit is read as 1.x") {
  CHECK(request("GET / HTTP/1.0\r\n\r\n").head == "GET / authority= path=/ query= HTTP/1.0");
  CHECK(request("GET / HTTP/1.1\r\n\r\n").head == "GET / authority= path=/ query= HTTP/1.1");
  // RFC 9112 section 2.3: a 1.x peer may send a higher minor version.
  CHECK(request("GET / HTTP/1.2\r\n\r\n").head == "GET / authority= path=/ query= HTTP/1.2");
  CHECK(request_result("GET / HTTP/1.9\r\n\r\n") == complete);
}

TEST_CASE("another major version is bad_version") {
  CHECK(request_result("GET / HTTP/2.0\r\n\r\n") == bad_version);
  CHECK(request_result("GET / HTTP/0.9\r\n\r\n") == bad_version);
  CHECK(request_result("GET / HTTP/3.1\r\n\r\n") == bad_version);
  // HTTP/2's connection preface, sent to an HTTP/1.1 port.
  CHECK(request_result("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") == bad_version);
}

TEST_CASE("a version that is not HTTP/D.D is malformed") {
  // The name is case-sensitive (RFC 9112 section 2.3).
  CHECK(request_result("GET / http/1.1\r\n\r\n") == malformed);
  CHECK(request_result("GET / FOO/1.1\r\n\r\n") == malformed);
  CHECK(request_result("GET / \r\n\r\n") == malformed);
  CHECK(request_result("GET / HTTP/1.1 \r\n\r\n") == malformed);
  CHECK(request_result("GET / HTTP/1\r\n\r\n") == malformed);
  CHECK(request_result("GET / HTTP/1.x\r\n\r\n") == malformed);
  CHECK(request_result("GET / HTTP/10.0\r\n\r\n") == malformed);
  CHECK(request_result("GET / HTTP/1.10\r\n\r\n") == malformed);
  CHECK(request_result("GET / HTTP/1,1\r\n\r\n") == malformed);
}

TEST_CASE("a malformed request line is malformed") {
  CHECK(request_result("GET\r\n\r\n") == malformed);
  CHECK(request_result("GET /\r\n\r\n") == malformed);
  CHECK(request_result(" GET / HTTP/1.1\r\n\r\n") == malformed);
  CHECK(request_result("GET  / HTTP/1.1\r\n\r\n") == malformed);
  CHECK(request_result("GET /a b HTTP/1.1\r\n\r\n") == malformed);
  CHECK(request_result("GET\t/ HTTP/1.1\r\n\r\n") == malformed);
}

TEST_CASE("RFC 9112 section 2.2: empty lines before the request line are skipped, as nginx does") {
  CHECK(request_result("\r\n\r\n") == incomplete);
  CHECK(request_result("\n") == incomplete);
  CHECK(request_result("\r") == incomplete);
  const parsed p = request("\r\n\n\r\nGET / HTTP/1.1\r\n\r\n");
  REQUIRE(p.result == complete);
  CHECK(p.head == "GET / authority= path=/ query= HTTP/1.1");
  std::size_t size = 0;
  ssepp::http::request_head head;
  REQUIRE(ssepp::http::parse_request_head("\r\nGET / HTTP/1.1\r\n\r\nbody", {}, head, size) ==
          complete);
  CHECK(size == 20);  // the skipped line counts as consumed
  // a stray CR is no empty line, wherever the bytes are split (a CR at the
  // end of what has arrived is judged once the next byte comes: fuzz_request_head)
  CHECK(request_result("\rGET / HTTP/1.1\r\n\r\n") == malformed);
  CHECK(request_result("\r\n\r\n\rX\n\n", max_head_bytes(8)) == malformed);
  CHECK(request_result("\r\n\r\n\rX\n\n", max_head_bytes(4)) == too_large);
  // the empty lines count toward the head's limit
  CHECK(request_result("\r\n\r\nGET / HTTP/1.1\r\n\r\n", max_head_bytes(20)) == too_large);
  CHECK(request_result("\r\n\r\nGET / HTTP/1.1\r\n\r\n", max_head_bytes(22)) == complete);
  // endless empty lines hit the head limit
  CHECK(request_result(std::string(17 * 1024, '\n')) == too_large);
}

TEST_CASE("the method is a token, case-sensitive, any token") {
  for (const char* m : {"GET", "HEAD", "POST", "OPTIONS", "DELETE", "PUT", "PATCH", "BREW", "get",
                        "G3T", "M-SEARCH", "X!#$%&'*+.^_`|~"}) {
    CAPTURE(m);
    const parsed p = request(std::string(m) + " / HTTP/1.1\r\n\r\n");
    REQUIRE(p.result == complete);
    CHECK(p.head == std::string(m) + " / authority= path=/ query= HTTP/1.1");
  }
  for (const char* m : {"GE\x01T", "GE:T", "G(T", "GET@", "G\"T", "G\x80T", "G,T"}) {
    CAPTURE(m);
    CHECK(request_result(std::string(m) + " / HTTP/1.1\r\n\r\n") == malformed);
  }
}

TEST_CASE("the target is origin-form, or absolute-form split into authority and path") {
  SUBCASE("other forms are malformed") {
    CHECK(request_result("OPTIONS * HTTP/1.1\r\n\r\n") == malformed);
    CHECK(request_result("GET * HTTP/1.1\r\n\r\n") == malformed);
    CHECK(request_result("GET events HTTP/1.1\r\n\r\n") == malformed);
    CHECK(request_result("GET ?a=1 HTTP/1.1\r\n\r\n") == malformed);
    CHECK(request_result("CONNECT example.com:443 HTTP/1.1\r\n\r\n") == malformed);
  }
  SUBCASE("absolute-form (RFC 9112 section 3.2.2)") {
    CHECK(request("GET http://example.com:8080/a%20b?x=1 HTTP/1.1\r\nHost: ignored\r\n\r\n").head ==
          "GET http://example.com:8080/a%20b?x=1 authority=example.com:8080 path=/a b query=x=1 "
          "HTTP/1.1\nhost: ignored");
    CHECK(request("GET HTTPS://h HTTP/1.1\r\n\r\n").head ==
          "GET HTTPS://h authority=h path=/ query= HTTP/1.1");
    CHECK(request("GET http://h?x=1 HTTP/1.1\r\n\r\n").head ==
          "GET http://h?x=1 authority=h path=/ query=x=1 HTTP/1.1");
  }
  SUBCASE("absolute-form needs an http(s) scheme and a host, and no user info") {
    CHECK(request_result("GET ftp://h/ HTTP/1.1\r\n\r\n") == malformed);
    CHECK(request_result("GET http:/h/ HTTP/1.1\r\n\r\n") == malformed);
    CHECK(request_result("GET http:///x HTTP/1.1\r\n\r\n") == malformed);
    CHECK(request_result("GET http://u@h/ HTTP/1.1\r\n\r\n") == malformed);
    CHECK(request_result("GET http://h/%zz HTTP/1.1\r\n\r\n") == malformed);
  }
}

TEST_CASE("the path is percent-decoded, the query is kept raw") {
  CHECK(request("GET /a%20b/%2e%2e/c%2Fd?x=%41+b&y=%2F HTTP/1.1\r\n\r\n").head ==
        "GET /a%20b/%2e%2e/c%2Fd?x=%41+b&y=%2F authority= path=/a b/../c/d query=x=%41+b&y=%2F "
        "HTTP/1.1");
  // '+' is a space only in a query, never in a path.
  CHECK(request("GET /a+b HTTP/1.1\r\n\r\n").head ==
        "GET /a+b authority= path=/a+b query= HTTP/1.1");
}

TEST_CASE("only the first '?' splits path from query") {
  CHECK(request("GET /p?a=1?b=2 HTTP/1.1\r\n\r\n").head ==
        "GET /p?a=1?b=2 authority= path=/p query=a=1?b=2 HTTP/1.1");
  CHECK(request("GET /p? HTTP/1.1\r\n\r\n").head == "GET /p? authority= path=/p query= HTTP/1.1");
}

TEST_CASE("a malformed escape or an encoded NUL in the path is malformed") {
  CHECK(request_result("GET /a%2 HTTP/1.1\r\n\r\n") == malformed);
  CHECK(request_result("GET /a% HTTP/1.1\r\n\r\n") == malformed);
  CHECK(request_result("GET /a%zz HTTP/1.1\r\n\r\n") == malformed);
  CHECK(request_result("GET /index.html%00.txt HTTP/1.1\r\n\r\n") == malformed);
  // In the query the escape is not decoded here (query_param decides).
  CHECK(request_result("GET /a?x=%00 HTTP/1.1\r\n\r\n") == complete);
}

TEST_CASE("control characters and raw NUL in the target are malformed") {
  // RFC 9112 section 3.2: the request-target holds no whitespace or CTL; a
  // raw NUL would silently cut a file name short at the operating system.
  CHECK(request_result("GET /index.html\0.txt HTTP/1.1\r\n\r\n"s) == malformed);
  CHECK(request_result("GET /a\x01 HTTP/1.1\r\n\r\n") == malformed);
  CHECK(request_result("GET /a\x7f HTTP/1.1\r\n\r\n") == malformed);
  CHECK(request_result("GET /a\rb HTTP/1.1\r\n\r\n") == malformed);
  CHECK(request_result("GET /a\nb HTTP/1.1\r\n\r\n") == malformed);
  CHECK(request_result("GET /a?q=\x02 HTTP/1.1\r\n\r\n") == malformed);
}

TEST_CASE("field names are lower-cased; values lose surrounding blanks, keep inner ones") {
  CHECK(request("GET / HTTP/1.1\r\nX-MiXeD: \t a  b \t\r\nHost:h:80\r\nX-Empty:\r\nX-Blank:   "
                "\r\n\r\n")
            .head ==
        "GET / authority= path=/ query= HTTP/1.1\nx-mixed: a  b\nhost: h:80\nx-empty: "
        "\nx-blank: ");
}

TEST_CASE("repeated fields are kept in order; find() returns the first, by any case") {
  request_head h;
  std::size_t size = 0;
  REQUIRE(parse_request_head("GET / HTTP/1.1\r\nCookie: a=1\r\nX: 1\r\ncookie: b=2\r\n\r\n", {}, h,
                             size) == complete);
  REQUIRE(h.fields.size() == 3);
  CHECK(h.fields.find("cookie") == std::optional<std::string_view>("a=1"));
  CHECK(h.fields.find("Cookie") == std::optional<std::string_view>("a=1"));
  CHECK(h.fields.count("cookie") == 2);
  CHECK(h.fields.find("x") == std::optional<std::string_view>("1"));
  CHECK_FALSE(h.fields.find("y"));
}

TEST_CASE("a malformed field line is malformed") {
  CHECK(request_result("GET / HTTP/1.1\r\nno colon here\r\n\r\n") == malformed);
  CHECK(request_result("GET / HTTP/1.1\r\n: empty name\r\n\r\n") == malformed);
  // Whitespace between name and colon (RFC 9112 section 5.1: MUST reject).
  CHECK(request_result("GET / HTTP/1.1\r\nHost : h\r\n\r\n") == malformed);
  CHECK(request_result("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n") == malformed);
  CHECK(request_result("GET / HTTP/1.1\r\nX Y: h\r\n\r\n") == malformed);
  // Names are tokens (RFC 9110 section 5.1).
  CHECK(request_result("GET / HTTP/1.1\r\nX(Y): h\r\n\r\n") == malformed);
  CHECK(request_result("GET / HTTP/1.1\r\nX@Y: h\r\n\r\n") == malformed);
  CHECK(request_result("GET / HTTP/1.1\r\nX\x80Y: h\r\n\r\n") == malformed);
  CHECK(request_result("GET / HTTP/1.1\r\nX\x01Y: h\r\n\r\n") == malformed);
  // Obsolete line folding, and whitespace before the first field.
  CHECK(request_result("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n") == malformed);
  CHECK(request_result("GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n") == malformed);
  CHECK(request_result("GET / HTTP/1.1\r\n x: a\r\n\r\n") == malformed);
}

TEST_CASE("a field line error says what was wrong") {
  const parsed p = request("GET / HTTP/1.1\r\nHost : h\r\n\r\n");
  CHECK(p.result == malformed);
  CHECK(p.why.find("field name") != std::string::npos);
  const parsed folded = request("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n");
  CHECK(folded.result == malformed);
  CHECK(folded.why.find("folding") != std::string::npos);
}

TEST_CASE("CR or NUL inside a field line is malformed") {
  // RFC 9112 section 5.5 (a recipient MUST reject or replace them). Accepted,
  // they would ride into responses that echo a request field (CORS echoes
  // Origin and Access-Control-Request-Headers) and split the response.
  CHECK(request_result("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n") == malformed);
  CHECK(request_result("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"s) == malformed);
  CHECK(request_result("GET / HTTP/1.1\r\nX\r: a\r\n\r\n") == malformed);
  CHECK(request_result("GET / HTTP/1.1\r\nX\n: a\r\n\r\n") == malformed);
  CHECK(request_result("GET / HTTP/1.1\r\nX: a\r\r\n\r\n") == malformed);
  CHECK(request_result("GET / HTTP/1.1\r\nX: a\r\n\r\r\n\r\n") == malformed);
}

TEST_CASE("a bare LF ends a field line, so no value can carry one") {
  // RFC 9112 section 2.2 lets a recipient take LF alone as a line end; the
  // second line is a field of its own, and neither value holds the LF.
  CHECK(request("GET / HTTP/1.1\r\nX: a\nSet-Cookie: evil=1\r\n\r\n").head ==
        "GET / authority= path=/ query= HTTP/1.1\nx: a\nset-cookie: evil=1");
}

TEST_CASE("other bytes, UTF-8 included, are opaque field content") {
  CHECK(request("GET / HTTP/1.1\r\nX: caf\xc3\xa9 \x7f\t!\r\n\r\n").head ==
        "GET / authority= path=/ query= HTTP/1.1\nx: caf\xc3\xa9 \x7f\t!");
}

TEST_CASE("a head with bare LF line ends completes") {
  const parsed p = request("GET /a HTTP/1.1\nHost: h\nX: 1\n\nbody");
  REQUIRE(p.result == complete);
  CHECK(p.size == 30);
  CHECK(p.head == "GET /a authority= path=/a query= HTTP/1.1\nhost: h\nx: 1");
  CHECK(request("GET / HTTP/1.1\n\n").size == 16);
  // Mixed line ends, the blank line in either style.
  CHECK(request("GET / HTTP/1.1\r\nHost: h\n\r\n").size == 26);
  CHECK(request("GET / HTTP/1.1\nHost: h\r\n\n").size == 25);
}

TEST_CASE("a head split across line ends only completes at the blank line") {
  CHECK(request_result("GET / HTTP/1.1\r\n\r") == incomplete);
  CHECK(request_result("GET / HTTP/1.1\r\nX: y\r\n") == incomplete);
  CHECK(request_result("GET / HTTP/1.1\nX: y\n") == incomplete);
  CHECK(request_result("GET / HTTP/1.1\r\nX: y\r\n\r\n") == complete);
}

TEST_CASE("the head limit counts the request line, fields and the blank line") {
  const std::string head = "GET / HTTP/1.1\r\nX: 0123456789\r\n\r\n";
  CHECK(request_result(head, max_head_bytes(head.size())) == complete);
  // One byte short: the limit falls between the blank line's CR and LF.
  CHECK(request_result(head, max_head_bytes(head.size() - 1)) == too_large);
  // A complete head that is too long is too large even with a body after it.
  CHECK(request_result(head + "body", max_head_bytes(head.size() - 1)) == too_large);
  // Body bytes after the head do not count.
  CHECK(request_result(head + std::string(100, 'b'), max_head_bytes(head.size())) == complete);
}

TEST_CASE("a head is too large as soon as the limit is passed, before the blank line arrives") {
  const std::string partial = "GET / HTTP/1.1\r\nX: 0123456789";
  CHECK(request_result(partial, max_head_bytes(partial.size())) == incomplete);
  const parsed p = request(partial, max_head_bytes(partial.size() - 1));
  CHECK(p.result == too_large);
  CHECK(p.why.find("max_head_bytes") != std::string::npos);
  // A flood with no line end at all is refused without being scanned whole.
  request_head h;
  std::size_t size = 0;
  CHECK(parse_request_head(std::string(1 << 20, 'x'), {}, h, size) == too_large);
}

TEST_CASE("the number of field lines is bounded") {
  head_limits limits;
  limits.max_fields = 3;
  const std::string three = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
  CHECK(request_result(three, limits) == complete);
  const parsed p = request("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", limits);
  CHECK(p.result == too_large);
  CHECK(p.why.find("max_fields") != std::string::npos);
  limits.max_fields = 0;
  CHECK(request_result("GET / HTTP/1.1\r\n\r\n", limits) == complete);
  CHECK(request_result("GET / HTTP/1.1\r\nA: 1\r\n\r\n", limits) == too_large);
}

TEST_CASE("a request parse replaces the previous head") {
  request_head h;
  std::size_t size = 0;
  REQUIRE(parse_request_head("GET /a?x=1 HTTP/1.1\r\nX: 1\r\n\r\n", {}, h, size) == complete);
  REQUIRE(parse_request_head("GET /b HTTP/1.0\r\n\r\n", {}, h, size) == complete);
  CHECK(h.path == "/b");
  CHECK(h.query.empty());
  CHECK(h.version_minor == 0);
  CHECK(h.fields.empty());
  CHECK(size == 19);
}

// --- response heads -----------------------------------------------------------

TEST_CASE("a response head: status, reason, lower-cased names, and its size") {
  const std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n";
  const parsed p = response(head + "data: first\n\n");
  REQUIRE(p.result == complete);
  CHECK(p.size == head.size());
  CHECK(p.head ==
        "HTTP/1.1 200 reason=OK\ncontent-type: text/event-stream\ncache-control: no-cache");
}

TEST_CASE("a response head: HTTP/1.0, a missing or empty reason phrase are fine") {
  CHECK(response("HTTP/1.0 204 No Content\r\n\r\n").head == "HTTP/1.0 204 reason=No Content");
  CHECK(response("HTTP/1.1 503\r\nRetry-After: 1\r\n\r\n").head ==
        "HTTP/1.1 503 reason=\nretry-after: 1");
  CHECK(response("HTTP/1.1 307 \r\n\r\n").head == "HTTP/1.1 307 reason=");
  CHECK(response("HTTP/1.1 404 Not\tFound  \r\n\r\n").head == "HTTP/1.1 404 reason=Not\tFound  ");
}

TEST_CASE("a response head: values lose surrounding blanks, keep inner ones") {
  CHECK(response("HTTP/1.1 200 OK\r\nX-A:   spaced  value \t\r\nX-B:tight\r\nX-Empty:\r\nX-Blank: "
                 " \r\n\r\n")
            .head ==
        "HTTP/1.1 200 reason=OK\nx-a: spaced  value\nx-b: tight\nx-empty: \nx-blank: ");
}

TEST_CASE("a response head: repeated fields are kept in order; find() returns the first") {
  response_head h;
  std::size_t size = 0;
  REQUIRE(parse_response_head("HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n\r\n", {},
                              h, size) == complete);
  CHECK(h.fields.values("set-cookie") == std::vector<std::string_view>{"a=1", "b=2"});
  CHECK(h.fields.find("Set-Cookie") == std::optional<std::string_view>("a=1"));
}

TEST_CASE("a response head: a parse forgets the previous head's fields") {
  response_head h;
  std::size_t size = 0;
  REQUIRE(parse_response_head("HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n", {}, h, size) ==
          complete);
  REQUIRE(parse_response_head("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n", {}, h,
                              size) == complete);
  CHECK(h.status == 200);
  CHECK_FALSE(h.fields.find("location"));
}

TEST_CASE("a response head: every proper prefix is incomplete") {
  const std::string bytes = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n";
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    CAPTURE(n);
    response_head h;
    std::size_t size = 0;
    CHECK(parse_response_head(std::string_view(bytes).substr(0, n), {}, h, size) == incomplete);
  }
  CHECK(response_result(bytes) == complete);
}

TEST_CASE("a response head with bare LF line ends completes") {
  const parsed p = response("HTTP/1.1 200 OK\nContent-Type: text/event-stream\n\ndata: x\n\n");
  CHECK(p.result == complete);
  CHECK(p.size == 49);
}

TEST_CASE("a response head: bounded by max_head_bytes") {
  const std::string bytes = "HTTP/1.1 200 OK\r\nX-Pad: " + std::string(100, 'p') + "\r\n\r\n";
  SUBCASE("exactly at the limit is fine") {
    CHECK(response_result(bytes, max_head_bytes(bytes.size())) == complete);
  }
  SUBCASE("one byte over is too large") {
    CHECK(response_result(bytes, max_head_bytes(bytes.size() - 1)) == too_large);
  }
  SUBCASE("an unfinished head past the limit is too large without waiting for its end") {
    CHECK(response_result(std::string_view(bytes).substr(0, 60), max_head_bytes(50)) == too_large);
    response_head h;
    std::size_t size = 0;
    CHECK(parse_response_head(std::string(1 << 20, 'x'), max_head_bytes(64 * 1024), h, size) ==
          too_large);
  }
  SUBCASE("an unfinished head within the limit is incomplete") {
    CHECK(response_result(std::string_view(bytes).substr(0, 40), max_head_bytes(50)) == incomplete);
  }
  SUBCASE("body bytes after the head do not count") {
    CHECK(response_result(bytes + std::string(1000, 'b'), max_head_bytes(bytes.size())) ==
          complete);
  }
}

TEST_CASE("a response head: the field count is bounded") {
  head_limits limits;
  limits.max_fields = 1;
  CHECK(response_result("HTTP/1.1 200 OK\r\nA: 1\r\n\r\n", limits) == complete);
  CHECK(response_result("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n", limits) == too_large);
}

TEST_CASE("a response head: malformed status lines") {
  CHECK(response_result("HTTP/2 200 OK\r\n\r\n") == malformed);
  CHECK(response_result("ICY 200 OK\r\n\r\n") == malformed);
  CHECK(response_result("http/1.1 200 OK\r\n\r\n") == malformed);
  CHECK(response_result("HTTP/1.1\r\n\r\n") == malformed);
  CHECK(response_result("HTTP/1.1 \r\n\r\n") == malformed);
  CHECK(response_result("HTTP/1.1 20\r\n\r\n") == malformed);
  CHECK(response_result("HTTP/1.1 2x0 OK\r\n\r\n") == malformed);
  CHECK(response_result("HTTP/1.1 -20 OK\r\n\r\n") == malformed);
  CHECK(response_result("HTTP/1.1 +20 OK\r\n\r\n") == malformed);
  CHECK(response_result("HTTP/1.1200 OK\r\n\r\n") == malformed);
  CHECK(response_result("HTTP/1.1  200 OK\r\n\r\n") == malformed);
  CHECK(response_result("\r\n\r\n") == malformed);
  CHECK(response_result("data: not http at all\n\n\r\n\r\n") == malformed);
}

TEST_CASE("a response head: another major version is bad_version") {
  CHECK(response_result("HTTP/2.0 200 OK\r\n\r\n") == bad_version);
  CHECK(response_result("HTTP/0.9 200 OK\r\n\r\n") == bad_version);
}

TEST_CASE("a response head: the status code is three digits from 100 to 999") {
  // "HTTP/1.1 2000" must not pass for a 200.
  CHECK(response_result("HTTP/1.1 2000 OK\r\n\r\n") == malformed);
  CHECK(response_result("HTTP/1.1 200OK\r\n\r\n") == malformed);
  CHECK(response_result("HTTP/1.1 099 Low\r\n\r\n") == malformed);
  CHECK(response_result("HTTP/1.1 000\r\n\r\n") == malformed);
  CHECK(response("HTTP/1.1 100 Continue\r\n\r\n").head == "HTTP/1.1 100 reason=Continue");
  CHECK(response("HTTP/1.1 999 Odd\r\n\r\n").head == "HTTP/1.1 999 reason=Odd");
}

TEST_CASE("a response head: the version's minor number is one digit, any digit") {
  CHECK(response_result("HTTP/1.x 200 OK\r\n\r\n") == malformed);
  CHECK(response_result("HTTP/1. 200 OK\r\n\r\n") == malformed);
  CHECK(response_result("HTTP/1.10 200 OK\r\n\r\n") == malformed);
  CHECK(response("HTTP/1.2 200 OK\r\n\r\n").head == "HTTP/1.2 200 reason=OK");
}

TEST_CASE("a response head: control bytes in the reason phrase are malformed") {
  CHECK(response_result("HTTP/1.1 200 O\x01K\r\n\r\n") == malformed);
  CHECK(response_result("HTTP/1.1 200 O\0K\r\n\r\n"s) == malformed);
  CHECK(response_result("HTTP/1.1 200 O\rK\r\n\r\n") == malformed);
  CHECK(response_result("HTTP/1.1 200 O\x7fK\r\n\r\n") == malformed);
}

TEST_CASE("a response head: malformed field lines") {
  CHECK(response_result("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n") == malformed);
  CHECK(response_result("HTTP/1.1 200 OK\r\n: no name\r\n\r\n") == malformed);
  CHECK(response_result("HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n") == malformed);
  CHECK(response_result("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n") == malformed);
  CHECK(response_result("HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n"s) == malformed);
  // Obsolete line folding (RFC 9112 5.2) is not supported.
  CHECK(response_result("HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\n\r\n") == malformed);
}
