// classify_response: what an EventSource does with each response head,
// decided without sockets (as reconnect_policy decides delays without a
// clock).
#include <ssepp/http/response_action.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <ostream>  // doctest prints std::error_code through it
#include <string>
#include <string_view>

namespace http = ssepp::http;
using step = http::client_step;
using ssepp::errc;

namespace {

http::response_action classify(std::string_view text, std::string method = "GET",
                               std::size_t redirects = 0) {
  http::response_head head;
  std::size_t size = 0;
  REQUIRE(http::parse_response_head(text, {}, head, size) == http::head_result::complete);
  http::request_context ctx;
  ctx.target = *http::parse_url("http://api.example:8080/events/a?x=1");
  ctx.method = std::move(method);
  ctx.redirects = redirects;
  ctx.max_redirects = 3;
  return http::classify_response(head, ctx);
}

}  // namespace

TEST_CASE("a 200 event stream opens, with its body framing") {
  const auto chunked = classify(
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
  CHECK(chunked.step == step::open);
  CHECK(chunked.body.kind == http::body_kind::chunked);
  const auto sized =
      classify("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 12\r\n\r\n");
  CHECK(sized.step == step::open);
  CHECK(sized.body.kind == http::body_kind::content_length);
  CHECK(sized.body.length == 12);
  const auto open_ended = classify("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n");
  CHECK(open_ended.body.kind == http::body_kind::until_close);
}

TEST_CASE("the media type is compared as MIME does: case, parameters and blanks aside") {
  for (const char* type : {"text/event-stream", "Text/Event-Stream ; charset=utf-8",
                           "text/event-stream;charset=UTF-8"}) {
    CAPTURE(type);
    CHECK(classify("HTTP/1.1 200 OK\r\nContent-Type: " + std::string(type) + "\r\n\r\n").step ==
          step::open);
  }
  for (const char* type : {"text/plain", "text/event-streams", "text/event-stream-x", ""}) {
    CAPTURE(type);
    const auto a = classify("HTTP/1.1 200 OK\r\nContent-Type: " + std::string(type) + "\r\n\r\n");
    CHECK(a.step == step::fail);
    CHECK(a.error == errc::wrong_content_type);
  }
  CHECK(classify("HTTP/1.1 200 OK\r\n\r\n").error == errc::wrong_content_type);
}

TEST_CASE("a body whose length cannot be trusted fails instead of being read short") {
  for (const char* length : {"12a", "1x", "18446744073709551626", "1\r\nContent-Length: 5"}) {
    CAPTURE(length);
    const auto a =
        classify("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: " +
                 std::string(length) + "\r\n\r\n");
    CHECK(a.step == step::fail);
    CHECK(a.error == errc::bad_response);
  }
}

TEST_CASE("a redirect is resolved against the URL asked for") {
  const auto a = classify("HTTP/1.1 307 Temporary Redirect\r\nLocation: ../v2/a\r\n\r\n", "POST");
  REQUIRE(a.step == step::redirect);
  CHECK(a.location.str() == "http://api.example:8080/v2/a");
  CHECK(a.method == "POST");  // 307 and 308 keep the method and the body
  CHECK_FALSE(a.drop_body);
}

TEST_CASE("303 always, and 301 or 302 after POST, continue as GET without the body") {
  CHECK(classify("HTTP/1.1 303 See Other\r\nLocation: /x\r\n\r\n", "POST").method == "GET");
  CHECK(classify("HTTP/1.1 303 See Other\r\nLocation: /x\r\n\r\n", "PUT").drop_body);
  CHECK(classify("HTTP/1.1 301 Moved\r\nLocation: /x\r\n\r\n", "POST").drop_body);
  CHECK(classify("HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n", "POST").method == "GET");
  CHECK(classify("HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n", "PUT").method == "PUT");
}

TEST_CASE("too many redirects, or one without a usable Location, is a final error") {
  const auto many = classify("HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n", "GET", 3);
  CHECK(many.step == step::fail);
  CHECK(many.error == errc::too_many_redirects);
  CHECK(classify("HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n", "GET", 2).step == step::redirect);
  for (const char* extra : {"", "Location: ftp://x/\r\n", "Location: http://\r\n"}) {
    CAPTURE(extra);
    const auto a = classify("HTTP/1.1 302 Found\r\n" + std::string(extra) + "\r\n");
    CHECK(a.step == step::fail);
    CHECK(a.error == errc::bad_response);
  }
}

TEST_CASE("204 tells the client to stop reconnecting, and is not an error") {
  const auto a = classify("HTTP/1.1 204 No Content\r\n\r\n");
  CHECK(a.step == step::stop);
  CHECK_FALSE(a.error);
}

TEST_CASE("503 and 429 are retried no sooner than Retry-After's seconds") {
  const auto busy = classify("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\n\r\n");
  CHECK(busy.step == step::retry);
  CHECK(busy.retry_after == std::chrono::seconds{7});
  CHECK(busy.error == errc::http_status);
  CHECK(classify("HTTP/1.1 429 Too Many Requests\r\n\r\n").step == step::retry);
  CHECK(classify("HTTP/1.1 429 Too Many Requests\r\n\r\n").retry_after.count() == 0);
  // An HTTP-date (or junk) leaves the delay to the client's own backoff.
  CHECK(classify("HTTP/1.1 503 x\r\nRetry-After: Wed, 21 Oct 2026 07:28:00 GMT\r\n\r\n")
            .retry_after.count() == 0);
  CHECK(classify("HTTP/1.1 503 x\r\nRetry-After: 7s\r\n\r\n").retry_after.count() == 0);
}

TEST_CASE("any other status is a final error naming it, as EventSource does") {
  for (const int status : {201, 206, 304, 400, 401, 404, 500, 502}) {
    CAPTURE(status);
    const auto a = classify("HTTP/1.1 " + std::to_string(status) + " X\r\n\r\n");
    CHECK(a.step == step::fail);
    CHECK(a.error == errc::http_status);
    CHECK(a.message.find(std::to_string(status)) != std::string::npos);
  }
}

TEST_CASE("parse_retry_after takes delta-seconds only") {
  CHECK(http::parse_retry_after("120") == std::chrono::seconds{120});
  CHECK(http::parse_retry_after(" 3 ") == std::chrono::seconds{3});
  CHECK_FALSE(http::parse_retry_after("-1"));
  CHECK_FALSE(http::parse_retry_after("1.5"));
  CHECK_FALSE(http::parse_retry_after("99999999999"));
  CHECK_FALSE(http::parse_retry_after(""));
}

TEST_CASE("a 1xx other than 101 is interim: the final response follows it") {
  for (const char* head : {"HTTP/1.1 100 Continue\r\n\r\n",
                           "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
                           "HTTP/1.1 199 Whatever\r\n\r\n"}) {
    CAPTURE(head);
    const auto a = classify(head);
    CHECK(a.step == step::interim);
    CHECK_FALSE(a.error);
  }
  const auto upgrade = classify("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
  CHECK(upgrade.step == step::fail);  // the client never asks for an upgrade
  CHECK(upgrade.error == errc::http_status);
  CHECK(upgrade.message.find("101") != std::string::npos);
}

TEST_CASE("a transfer coding other than chunked fails: the client could not decode the body") {
  for (const char* codings : {"gzip, chunked", "gzip", "chunked;q=1, x-custom, chunked", "br"}) {
    CAPTURE(codings);
    const auto a =
        classify("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: " +
                 std::string(codings) + "\r\n\r\n");
    CHECK(a.step == step::fail);
    CHECK(a.error == errc::bad_response);
  }
  const auto gzip = classify(
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: gzip, "
      "chunked\r\n\r\n");
  CHECK(gzip.message.find("gzip, chunked") != std::string::npos);
  CHECK(gzip.message.find("chunked coding only") != std::string::npos);
  CHECK(classify("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                 "Transfer-Encoding: Chunked\r\n\r\n")
            .step == step::open);
}

TEST_CASE("same_origin compares scheme, host (in any case) and port") {
  const auto base = *http::parse_url("http://api.example:8080/events");
  CHECK(http::same_origin(base, *http::parse_url("http://api.example:8080/other?q")));
  CHECK(http::same_origin(base, *http::parse_url("HTTP://API.Example:8080/")));
  CHECK_FALSE(http::same_origin(base, *http::parse_url("https://api.example:8080/events")));
  CHECK_FALSE(http::same_origin(base, *http::parse_url("http://api.example:8081/events")));
  CHECK_FALSE(http::same_origin(base, *http::parse_url("http://api.example/events")));
  CHECK_FALSE(http::same_origin(base, *http::parse_url("http://cdn.example:8080/events")));
  // The default port counts as that port, written or not.
  CHECK(http::same_origin(*http::parse_url("https://a.example/"),
                          *http::parse_url("https://a.example:443/x")));
}

TEST_CASE("a redirect to another origin is marked cross_origin; one on the same origin is not") {
  for (const char* location : {"/v2/a", "../x", "http://API.example:8080/moved"}) {
    CAPTURE(location);
    const auto a = classify(
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: " + std::string(location) + "\r\n\r\n");
    REQUIRE(a.step == step::redirect);
    CHECK_FALSE(a.cross_origin);
  }
  for (const char* location : {"https://api.example:8080/events/a", "http://api.example/events",
                               "//cdn.example:8080/events", "http://api.example:9090/"}) {
    CAPTURE(location);
    const auto a =
        classify("HTTP/1.1 302 Found\r\nLocation: " + std::string(location) + "\r\n\r\n");
    REQUIRE(a.step == step::redirect);
    CHECK(a.cross_origin);
  }
}

TEST_CASE("Authorization and Cookie, in any case, are the credential fields") {
  for (const char* name : {"Authorization", "authorization", "COOKIE", "Cookie"}) {
    CAPTURE(name);
    CHECK(http::is_credential_field(name));
  }
  for (const char* name : {"Proxy-Authorization", "Cookie2", "X-Authorization", "Accept", ""}) {
    CAPTURE(name);
    CHECK_FALSE(http::is_credential_field(name));
  }
}
