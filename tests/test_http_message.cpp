// http::request's look-ups (fields, query parameters, cookies) and
// http::response's defaults.
#include <ssepp/http/message.hpp>

#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "http_request_text.hpp"

namespace http = ssepp::http;
using ssepp_test::request_from;

TEST_CASE("header() finds the first field of a name, whatever its case") {
  const auto req = request_from("GET / HTTP/1.1\r\nX-A: 1\r\nx-a: 2\r\n\r\n");
  CHECK(req.header("x-a") == "1");
  CHECK(req.header("X-A") == "1");
  CHECK_FALSE(req.header("x-b"));
}

TEST_CASE("query_param() decodes the value, '+' as space, and refuses bad escapes") {
  const auto req = request_from("GET /p?event=menu+update&id=a%2Fb&bad=%zz&empty HTTP/1.1\r\n\r\n");
  CHECK(req.query_param("event") == "menu update");
  CHECK(req.query_param("id") == "a/b");
  CHECK_FALSE(req.query_param("bad"));
  CHECK(req.query_param("empty") == "");
  CHECK_FALSE(req.query_param("missing"));
}

TEST_CASE("cookie() reads one cookie from the Cookie fields") {
  const auto req =
      request_from("GET / HTTP/1.1\r\nCookie: a=1; session=s3cr=t\r\nCookie: b=2\r\n\r\n");
  CHECK(req.cookie("session") == "s3cr=t");
  CHECK(req.cookie("b") == "2");
  CHECK_FALSE(req.cookie("sess"));
}

TEST_CASE("a response is a 200 plain-text answer until told otherwise") {
  const http::response r;
  CHECK(r.status == 200);
  CHECK(r.content_type == "text/plain; charset=utf-8");
  CHECK(r.headers.empty());
}
