// client_keeps_alive and persists_after: whether a connection carries
// another request after a response (RFC 9112 section 9.3), without sockets.
#include <ssepp/http/persistence.hpp>

#include <doctest/doctest.h>

#include <string_view>

#include "http_request_text.hpp"

namespace http = ssepp::http;
using ssepp_test::request_from;

namespace {
bool keeps_alive(std::string_view version, std::string_view fields = {}) {
  return http::client_keeps_alive(request_from("GET / " + std::string(version) + "\r\nHost: a\r\n" +
                                               std::string(fields) + "\r\n"));
}
}  // namespace

TEST_CASE("HTTP/1.1 persists unless the client lists close in Connection") {
  CHECK(keeps_alive("HTTP/1.1"));
  CHECK(keeps_alive("HTTP/1.1", "Connection: keep-alive\r\n"));
  CHECK_FALSE(keeps_alive("HTTP/1.1", "Connection: close\r\n"));
  CHECK_FALSE(keeps_alive("HTTP/1.1", "Connection: Upgrade, CLOSE\r\n"));
  CHECK_FALSE(keeps_alive("HTTP/1.1", "Connection: x\r\nConnection: close\r\n"));
  CHECK(keeps_alive("HTTP/1.1", "Connection: closed\r\n"));  // a token, not a prefix
}

TEST_CASE("HTTP/1.0 persists only when the client lists keep-alive") {
  CHECK_FALSE(keeps_alive("HTTP/1.0"));
  CHECK(keeps_alive("HTTP/1.0", "Connection: Keep-Alive\r\n"));
  CHECK_FALSE(keeps_alive("HTTP/1.0", "Connection: keep-alive, close\r\n"));
}

TEST_CASE("after an answer that leaves the next request's start unknown, the connection ends") {
  const auto req = request_from("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n");
  for (const int status : {400, 408, 411, 413, 431, 501, 505}) {
    CAPTURE(status);
    CHECK_FALSE(http::persists_after(req, status));
  }
  for (const int status : {200, 204, 403, 404, 405, 421, 503}) {
    CAPTURE(status);
    CHECK(http::persists_after(req, status));
  }
  const auto closing = request_from("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  CHECK_FALSE(http::persists_after(closing, 200));
}
