// check_host, split_authority, is_loopback_host and is_own_origin: which host
// a request names and whether the server answers for it, without sockets.
#include <ssepp/http/host.hpp>

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <string_view>

#include "http_request_text.hpp"

namespace http = ssepp::http;
using ssepp_test::request_from;

namespace {

// The status check_host answers with, 0 when it lets the request go on.
int status_of(std::string_view text, const http::host_rules& rules = {}) {
  const auto answer = http::check_host(request_from(text), rules);
  return answer ? answer->status : 0;
}

http::host_rules loopback() {
  http::host_rules rules;
  rules.loopback_only = true;
  return rules;
}

http::host_rules allowing(std::initializer_list<std::string> hosts) {
  http::host_rules rules;
  rules.allowed_hosts = hosts;
  rules.loopback_only = true;  // allowed_hosts take its place
  return rules;
}

}  // namespace

TEST_CASE("split_authority: host and port, IPv6 literals in brackets") {
  const auto plain = http::split_authority("Example.com:8080");
  REQUIRE(plain);
  CHECK(plain->host == "Example.com");
  CHECK(plain->port == "8080");
  const auto v6 = http::split_authority("[::1]:80");
  REQUIRE(v6);
  CHECK(v6->host == "[::1]");
  CHECK(v6->port == "80");
  const auto bare = http::split_authority("localhost");
  REQUIRE(bare);
  CHECK(bare->port.empty());
  CHECK(http::split_authority("a%41b"));
}

TEST_CASE("split_authority refuses what is not an RFC 3986 host[:port]") {
  for (const char* bad : {"", ":80", "a b", "u@host", "host:", "host:8o", "host:123456", "[::1",
                          "[zz]", "[::1]x", "a/b", "a%4", "a%zz", "h\tx", "host:80:80"}) {
    CAPTURE(bad);
    CHECK_FALSE(http::split_authority(bad));
  }
}

TEST_CASE("is_loopback_host: localhost, *.localhost, 127/8 and ::1 only") {
  for (const char* yes : {"localhost", "LOCALHOST", "localhost.", "app.localhost", "127.0.0.1",
                          "127.1.2.3", "127.255.255.255", "[::1]", "::1"}) {
    CAPTURE(yes);
    CHECK(http::is_loopback_host(yes));
  }
  for (const char* no : {"evil.example", "localhost.evil.example", "xlocalhost", "127.0.0.1.nip.io",
                         "127.0.0", "127.0.0.256", "127.0.0.1.2", "127..0.1", "128.0.0.1",
                         "0.0.0.0", "[::2]", "1270.0.0.1", ""}) {
    CAPTURE(no);
    CHECK_FALSE(http::is_loopback_host(no));
  }
}

TEST_CASE("RFC 9112 section 3.2: HTTP/1.1 needs exactly one valid Host; HTTP/1.0 none") {
  CHECK(status_of("GET / HTTP/1.1\r\nHost: a.example\r\n\r\n") == 0);
  CHECK(status_of("GET / HTTP/1.1\r\n\r\n") == 400);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n") == 400);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: \r\n\r\n") == 400);  // as nginx
  CHECK(status_of("GET / HTTP/1.1\r\nHost: a b\r\n\r\n") == 400);
  CHECK(status_of("GET / HTTP/1.0\r\n\r\n") == 0);
  CHECK(status_of("GET / HTTP/1.0\r\nHost: a/b\r\n\r\n") == 400);
  // nginx requires Host with an absolute-form target too
  CHECK(status_of("GET http://a.example/ HTTP/1.1\r\n\r\n") == 400);
}

TEST_CASE("RFC 9112 section 3.2.2: an absolute-form target's authority is the request's host") {
  const auto req =
      request_from("GET http://a.example:81/x HTTP/1.1\r\nHost: ignored.example\r\n\r\n");
  CHECK(http::request_authority(req) == std::optional<std::string_view>("a.example:81"));
  CHECK(status_of("GET http://127.0.0.1:81/x HTTP/1.1\r\nHost: evil.example\r\n\r\n", loopback()) ==
        0);
  CHECK(status_of("GET http://evil.example/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", loopback()) ==
        421);
}

TEST_CASE("loopback_only: names that resolve elsewhere are answered 421 (DNS rebinding)") {
  CHECK(status_of("GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n", loopback()) == 0);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n", loopback()) == 0);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", loopback()) == 0);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: evil.example:8080\r\n\r\n", loopback()) == 421);
  const auto answer =
      http::check_host(request_from("GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n"), loopback());
  REQUIRE(answer);
  CHECK(answer->body.find("evil.example") != std::string::npos);
  // without loopback_only and allowed_hosts: any well-formed host
  CHECK(status_of("GET / HTTP/1.1\r\nHost: evil.example:8080\r\n\r\n") == 0);
}

TEST_CASE("allowed_hosts: exact names, name:port, *.domain and *, case-insensitive") {
  const auto rules = allowing({"app.example", "api.example:8443", "*.tenants.example"});
  CHECK(status_of("GET / HTTP/1.1\r\nHost: APP.example:9999\r\n\r\n", rules) == 0);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: api.example:8443\r\n\r\n", rules) == 0);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: api.example:8080\r\n\r\n", rules) == 421);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: api.example\r\n\r\n", rules) == 421);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: a.tenants.example\r\n\r\n", rules) == 0);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: tenants.example\r\n\r\n", rules) == 421);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: eviltenants.example\r\n\r\n", rules) == 421);
  // allowed_hosts replace the loopback default
  CHECK(status_of("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", rules) == 421);
  CHECK(status_of("GET / HTTP/1.1\r\nHost: anything\r\n\r\n", allowing({"*"})) == 0);
}

TEST_CASE("is_own_origin: same scheme, host and port, default ports filled in") {
  CHECK(http::is_own_origin("http://127.0.0.1:8080", "http", "127.0.0.1:8080"));
  CHECK(http::is_own_origin("http://Example.com", "http", "example.com:80"));
  CHECK(http::is_own_origin("https://example.com:443", "https", "example.com"));
  CHECK_FALSE(http::is_own_origin("https://127.0.0.1:8080", "http", "127.0.0.1:8080"));
  CHECK_FALSE(http::is_own_origin("http://127.0.0.1:8080", "https", "127.0.0.1:8080"));
  CHECK_FALSE(http::is_own_origin("http://127.0.0.1:8081", "http", "127.0.0.1:8080"));
  CHECK_FALSE(http::is_own_origin("http://127.0.0.1", "http", "127.0.0.1:8080"));
  CHECK_FALSE(http::is_own_origin("null", "http", "127.0.0.1"));
  CHECK_FALSE(http::is_own_origin("http://a.example.evil", "http", "a.example"));
}
