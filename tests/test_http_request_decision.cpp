// decide_request: the server's decision for a parsed request (CORS,
// preflight, authorization, event-stream routes), tested without sockets.
#include <ssepp/http/request_decision.hpp>

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "http_request_text.hpp"

namespace http = ssepp::http;
using ssepp_test::request_from;

namespace {

http::server_rules events_under(std::string prefix) {
  http::server_rules rules;
  rules.event_routes.push_back(
      {prefix, [prefix](const http::request& r) { return http::channel_after_prefix(r, prefix); }});
  return rules;
}

std::string field(const http::field_list& fields, std::string_view name) {
  for (const auto& [n, v] : fields)
    if (n == name) return v;
  return "(none)";
}

}  // namespace

TEST_CASE("a GET on an event route is a plan to stream its channel") {
  const auto d = http::decide_request(
      request_from("GET /events/tenant-42 HTTP/1.1\r\nHost: h\r\n\r\n"), events_under("/events/"));
  const auto* plan = std::get_if<http::stream_plan>(&d);
  REQUIRE(plan);
  CHECK(plan->channels == std::vector<std::string>{"tenant-42"});
  CHECK(plan->last_event_id.empty());
  CHECK(plan->fields.empty());  // nothing beyond event_stream_fields(): same-origin
}

TEST_CASE("the stream resumes from the Last-Event-ID header, else from ?lastEventId=") {
  const auto rules = events_under("/events/");
  auto id_of = [&](std::string_view text) {
    const auto d = http::decide_request(request_from(text), rules);
    REQUIRE(std::holds_alternative<http::stream_plan>(d));
    return std::get<http::stream_plan>(d).last_event_id;
  };
  CHECK(id_of("GET /events/a HTTP/1.1\r\nHost: h\r\nLast-Event-ID: e-7\r\n\r\n") == "e-7");
  CHECK(id_of("GET /events/a?lastEventId=e%2D9 HTTP/1.1\r\nHost: h\r\n\r\n") == "e-9");
  CHECK(id_of("GET /events/a?lastEventId=q HTTP/1.1\r\nHost: h\r\nLast-Event-ID: h\r\n\r\n") ==
        "h");
}

TEST_CASE("an event route refuses other methods with 405 and a channel it cannot map with 404") {
  const auto rules = events_under("/events/");
  const auto post =
      http::decide_request(request_from("POST /events/a HTTP/1.1\r\nHost: h\r\n\r\n"), rules);
  REQUIRE(std::holds_alternative<http::response>(post));
  CHECK(std::get<http::response>(post).status == 405);
  CHECK(field(std::get<http::response>(post).headers, "Allow") == "GET, OPTIONS");
  for (const char* target : {"/events/", "/events/a/b"}) {
    CAPTURE(target);
    const auto d = http::decide_request(
        request_from("GET " + std::string(target) + " HTTP/1.1\r\nHost: h\r\n\r\n"), rules);
    REQUIRE(std::holds_alternative<http::response>(d));
    CHECK(std::get<http::response>(d).status == 404);
  }
}

TEST_CASE("a request no event route takes goes to the application's routes") {
  const auto d = http::decide_request(request_from("GET /hello HTTP/1.1\r\nHost: h\r\n\r\n"),
                                      events_under("/events/"));
  REQUIRE(std::holds_alternative<http::route_request>(d));
  CHECK(std::get<http::route_request>(d).cors_fields.empty());
}

TEST_CASE("an origin not allowed is refused with 403 before anything else is decided") {
  auto rules = events_under("/events/");
  rules.cors_origins = {"http://app.example"};
  bool asked = false;
  rules.authorize = [&](const http::request&) {
    asked = true;
    return http::auth_result{};
  };
  const auto d = http::decide_request(
      request_from("GET /events/a HTTP/1.1\r\nHost: api\r\nOrigin: http://evil.example\r\n\r\n"),
      rules);
  REQUIRE(std::holds_alternative<http::response>(d));
  CHECK(std::get<http::response>(d).status == 403);
  CHECK_FALSE(asked);
}

TEST_CASE("an allowed origin's stream carries the CORS fields") {
  auto rules = events_under("/events/");
  rules.cors_origins = {"http://app.example"};
  const auto d = http::decide_request(
      request_from("GET /events/a HTTP/1.1\r\nHost: api\r\nOrigin: http://app.example\r\n\r\n"),
      rules);
  const auto* plan = std::get_if<http::stream_plan>(&d);
  REQUIRE(plan);
  CHECK(field(plan->fields, "Access-Control-Allow-Origin") == "http://app.example");
  CHECK(field(plan->fields, "Access-Control-Allow-Credentials") == "true");
  CHECK(field(plan->fields, "Vary") == "Origin");
}

TEST_CASE("OPTIONS is answered as a preflight before authorization sees it") {
  auto rules = events_under("/events/");
  rules.cors_origins = {"*"};
  rules.authorize = [](const http::request&) { return http::auth_result{401, "log in\n"}; };
  const auto d = http::decide_request(
      request_from("OPTIONS /events/a HTTP/1.1\r\nHost: api\r\nOrigin: http://x.example\r\n"
                   "Access-Control-Request-Headers: last-event-id\r\n\r\n"),
      rules);
  REQUIRE(std::holds_alternative<http::response>(d));
  const auto& r = std::get<http::response>(d);
  CHECK(r.status == 204);
  CHECK(field(r.headers, "Access-Control-Allow-Origin") == "http://x.example");
  CHECK(field(r.headers, "Access-Control-Allow-Headers") == "last-event-id");
  CHECK(field(r.headers, "Access-Control-Allow-Methods") == "GET, POST, OPTIONS");
}

TEST_CASE("an authorization refusal is answered with its status and message, or the reason") {
  auto rules = events_under("/events/");
  std::string message = "log in first\n";
  rules.authorize = [&](const http::request& r) {
    return r.cookie("sid") ? http::auth_result{} : http::auth_result{401, message};
  };
  const auto refused =
      http::decide_request(request_from("GET /events/a HTTP/1.1\r\nHost: h\r\n\r\n"), rules);
  REQUIRE(std::holds_alternative<http::response>(refused));
  CHECK(std::get<http::response>(refused).status == 401);
  CHECK(std::get<http::response>(refused).body == "log in first\n");
  message.clear();
  const auto bare =
      http::decide_request(request_from("GET /events/a HTTP/1.1\r\nHost: h\r\n\r\n"), rules);
  CHECK(std::get<http::response>(bare).body == "Unauthorized\n");
  const auto let_in = http::decide_request(
      request_from("GET /events/a HTTP/1.1\r\nHost: h\r\nCookie: a=1; sid=s\r\n\r\n"), rules);
  CHECK(std::holds_alternative<http::stream_plan>(let_in));
}

TEST_CASE("event routes are tried in order and a mapper may subscribe to several channels") {
  http::server_rules rules;
  rules.event_routes.push_back({"/feed", [](const http::request&) {
                                  return std::vector<std::string>{"news", "sport"};
                                }});
  rules.event_routes.push_back(
      {"/", [](const http::request&) { return std::vector<std::string>{"other"}; }});
  const auto d = http::decide_request(request_from("GET /feed HTTP/1.1\r\nHost: h\r\n\r\n"), rules);
  REQUIRE(std::holds_alternative<http::stream_plan>(d));
  CHECK(std::get<http::stream_plan>(d).channels == std::vector<std::string>{"news", "sport"});
}
