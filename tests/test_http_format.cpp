// Response heads as bytes: reason phrases and format_response_head.
#include <ssepp/http/format.hpp>

#include <doctest/doctest.h>

#include <cstddef>
#include <optional>
#include <ostream>
#include <string>

#include <ssepp/http/head.hpp>

using ssepp::http::format_response_head;
using ssepp::http::reason_phrase;

TEST_CASE("reason phrases for every status the server sends") {
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
  CHECK(reason_phrase(505) == "HTTP Version Not Supported");
  CHECK(reason_phrase(307) == "Temporary Redirect");
  CHECK(reason_phrase(429) == "Too Many Requests");
}

TEST_CASE("a status RFC 9110 does not name here is Unknown") {
  CHECK(reason_phrase(299) == "Unknown");
  CHECK(reason_phrase(0) == "Unknown");
  CHECK(reason_phrase(-1) == "Unknown");
  static_assert(reason_phrase(200) == "OK");
}

TEST_CASE(
    "format_response_head: status line, fields in order, optional Content-Length, blank line") {
  CHECK(format_response_head(200, {}, std::nullopt) == "HTTP/1.1 200 OK\r\n\r\n");
  CHECK(format_response_head(404, {{"A", "1"}, {"B", "two words"}}, std::size_t{10}) ==
        "HTTP/1.1 404 Not Found\r\nA: 1\r\nB: two words\r\nContent-Length: 10\r\n\r\n");
  CHECK(format_response_head(204, {}, std::size_t{0}) ==
        "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
  CHECK(format_response_head(299, {}, std::nullopt) == "HTTP/1.1 299 Unknown\r\n\r\n");
}

TEST_CASE("a formatted head parses back to what was formatted") {
  const std::string bytes = format_response_head(
      503, {{"Retry-After", "5"}, {"Cache-Control", "no-cache"}}, std::size_t{7});
  ssepp::http::response_head head;
  std::size_t size = 0;
  REQUIRE(ssepp::http::parse_response_head(bytes, {}, head, size) ==
          ssepp::http::head_result::complete);
  CHECK(size == bytes.size());
  CHECK(head.status == 503);
  CHECK(head.reason == "Service Unavailable");
  CHECK(head.fields.find("retry-after") == std::optional<std::string_view>("5"));
  CHECK(head.fields.find("content-length") == std::optional<std::string_view>("7"));
  CHECK(head.fields.size() == 3);
}
