// decide_cors and preflight_answer: who may read the server's answers from
// another origin, decided without sockets.
#include <ssepp/http/cors.hpp>

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "http_request_text.hpp"

namespace http = ssepp::http;
using ssepp_test::request_from;
using result = http::cors_result;

namespace {

std::string field(const http::field_list& fields, std::string_view name) {
  for (const auto& [n, v] : fields)
    if (n == name) return v;
  return "(none)";
}

const std::vector<std::string> app_only{"http://app.example"};

}  // namespace

TEST_CASE("a request without Origin is not cross-origin") {
  const auto d = http::decide_cors(request_from("GET / HTTP/1.1\r\nHost: api\r\n\r\n"), app_only);
  CHECK(d.result == result::same_origin);
  CHECK(d.fields.empty());
}

TEST_CASE("an Origin naming the server's own Host is same-origin, whatever the allowlist") {
  const auto d = http::decide_cors(
      request_from("POST /publish/a HTTP/1.1\r\nHost: api:8080\r\nOrigin: http://API:8080\r\n\r\n"),
      {});
  CHECK(d.result == result::same_origin);
}

TEST_CASE("an Origin of another scheme, or another port, is cross-origin") {
  for (const char* origin : {"https://api:8080", "http://api:8081", "http://api"}) {
    CAPTURE(origin);
    const auto d = http::decide_cors(
        request_from("GET /events/a HTTP/1.1\r\nHost: api:8080\r\nOrigin: " + std::string(origin) +
                     "\r\n\r\n"),
        {});
    CHECK(d.result == result::refused);
  }
  // and the server's own scheme makes its own https origin same-origin
  const auto https = http::decide_cors(
      request_from("GET /events/a HTTP/1.1\r\nHost: api\r\nOrigin: https://api:443\r\n\r\n"), {},
      "https");
  CHECK(https.result == result::same_origin);
}

TEST_CASE("a listed origin is echoed with credentials allowed and Vary: Origin") {
  const auto d = http::decide_cors(
      request_from("GET / HTTP/1.1\r\nHost: api\r\nOrigin: http://app.example\r\n\r\n"), app_only);
  REQUIRE(d.result == result::allowed);
  CHECK(field(d.fields, "Access-Control-Allow-Origin") == "http://app.example");
  CHECK(field(d.fields, "Access-Control-Allow-Credentials") == "true");
  CHECK(field(d.fields, "Vary") == "Origin");
}

TEST_CASE("\"*\" allows any origin and still echoes it, since credentials forbid a literal *") {
  const auto d = http::decide_cors(
      request_from("GET / HTTP/1.1\r\nHost: api\r\nOrigin: https://other.example\r\n\r\n"), {"*"});
  REQUIRE(d.result == result::allowed);
  CHECK(field(d.fields, "Access-Control-Allow-Origin") == "https://other.example");
}

TEST_CASE("an origin not listed is refused with 403 naming it") {
  for (const char* origin :
       {"http://evil.example", "http://app.example.evil", "null", "http://APP.example:80"}) {
    CAPTURE(origin);
    const auto d = http::decide_cors(
        request_from("GET / HTTP/1.1\r\nHost: api\r\nOrigin: " + std::string(origin) + "\r\n\r\n"),
        app_only);
    REQUIRE(d.result == result::refused);
    CHECK(d.answer.status == 403);
    CHECK(d.answer.body.find(origin) != std::string::npos);
  }
}

TEST_CASE("a preflight answer is a 204 with the methods, the asked headers and a max age") {
  const auto req = request_from(
      "OPTIONS /events/a HTTP/1.1\r\nOrigin: http://app.example\r\n"
      "Access-Control-Request-Headers: last-event-id, x-token\r\n\r\n");
  const auto d = http::decide_cors(req, app_only);
  const auto r = http::preflight_answer(req, d.fields);
  CHECK(r.status == 204);
  CHECK(field(r.headers, "Access-Control-Allow-Origin") == "http://app.example");
  CHECK(field(r.headers, "Access-Control-Allow-Methods") == "GET, POST, OPTIONS");
  CHECK(field(r.headers, "Access-Control-Allow-Headers") == "last-event-id, x-token");
  CHECK(field(r.headers, "Access-Control-Max-Age") == "600");
  CHECK(field(http::preflight_answer(request_from("OPTIONS / HTTP/1.1\r\n\r\n"), {}).headers,
              "Access-Control-Allow-Headers") == "(none)");
}
