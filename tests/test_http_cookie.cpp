// cookie_value: a cookie's value from the Cookie fields of a request.
#include <ssepp/http/cookie.hpp>

#include <doctest/doctest.h>

#include <optional>
#include <ostream>
#include <string>

#include <ssepp/http/head.hpp>

using namespace std::string_literals;
using ssepp::http::cookie_value;
using ssepp::http::fields;

TEST_CASE("cookie_value finds a value in the Cookie field") {
  const fields f{{"cookie", "session=abc123; theme=dark; token=x=y=z"}};
  CHECK(cookie_value(f, "session") == "abc123"s);
  CHECK(cookie_value(f, "theme") == "dark"s);
  CHECK(cookie_value(f, "token") == "x=y=z"s);
  CHECK_FALSE(cookie_value(f, "missing"));
  // Whole names only, case-sensitive.
  CHECK_FALSE(cookie_value(f, "sess"));
  CHECK_FALSE(cookie_value(f, "ession"));
  CHECK_FALSE(cookie_value(f, "Session"));
}

TEST_CASE("cookie_value: no Cookie field, empty values, pairs without '='") {
  CHECK_FALSE(cookie_value(fields{{"host", "h"}}, "a"));
  CHECK_FALSE(cookie_value(fields{{"cookie", ""}}, "a"));
  const fields f{{"cookie", "a=; novalue; b=2;;c=3"}};
  CHECK(cookie_value(f, "a") == ""s);
  CHECK_FALSE(cookie_value(f, "novalue"));
  CHECK(cookie_value(f, "b") == "2"s);
  CHECK(cookie_value(f, "c") == "3"s);
}

TEST_CASE("cookie_value: blanks around a pair are not part of it") {
  const fields f{{"cookie", "a=1 ;\tb=2 ; c=3"}};
  CHECK(cookie_value(f, "a") == "1"s);
  CHECK(cookie_value(f, "b") == "2"s);
  CHECK(cookie_value(f, "c") == "3"s);
}

TEST_CASE("cookie_value: the first of repeated names wins, across Cookie fields too") {
  CHECK(cookie_value(fields{{"cookie", "a=1; a=2"}}, "a") == "1"s);
  const fields f{{"cookie", "a=1"}, {"x-other", "b=9"}, {"Cookie", "b=2; a=3"}};
  CHECK(cookie_value(f, "a") == "1"s);
  CHECK(cookie_value(f, "b") == "2"s);
}

TEST_CASE("cookie values are not percent-decoded") {
  CHECK(cookie_value(fields{{"cookie", "v=a%20b"}}, "v") == "a%20b"s);
}

TEST_CASE("a Cookie field parsed from the wire") {
  ssepp::http::request_head head;
  std::size_t size = 0;
  REQUIRE(ssepp::http::parse_request_head(
              "GET /events/a HTTP/1.1\r\nCOOKIE:  sid=s3cr3t; lang=pl \r\n\r\n", {}, head, size) ==
          ssepp::http::head_result::complete);
  CHECK(cookie_value(head.fields, "sid") == "s3cr3t"s);
  CHECK(cookie_value(head.fields, "lang") == "pl"s);
}
