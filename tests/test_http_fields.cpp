// The fields container: arrival order, lower-cased names, look-ups by
// case-insensitive name.
#include <ssepp/http/fields.hpp>

#include <doctest/doctest.h>

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

using ssepp::http::fields;
using sv = std::string_view;

TEST_CASE("fields keep arrival order and store names lower-cased") {
  fields f{{"Host", "h"}, {"X-MiXeD", "Value Kept"}, {"host", "second"}};
  REQUIRE(f.size() == 3);
  CHECK(f[0] == fields::value_type{"host", "h"});
  CHECK(f[1] == fields::value_type{"x-mixed", "Value Kept"});
  CHECK(f[2] == fields::value_type{"host", "second"});
  std::vector<std::string> names;
  for (const auto& [name, value] : f) names.push_back(name);
  CHECK(names == std::vector<std::string>{"host", "x-mixed", "host"});
}

TEST_CASE("find returns the first field of a name, compared case-insensitively") {
  fields f{{"Set-Cookie", "a=1"}, {"set-cookie", "b=2"}};
  CHECK(f.find("set-cookie") == std::optional<sv>("a=1"));
  CHECK(f.find("SET-COOKIE") == std::optional<sv>("a=1"));
  CHECK_FALSE(f.find("set-cookies"));
  CHECK_FALSE(f.find("set-cooki"));
  CHECK_FALSE(f.find(""));
  CHECK(f.contains("Set-Cookie"));
  CHECK_FALSE(f.contains("cookie"));
}

TEST_CASE("count and values see every field of a name, in order") {
  fields f{{"A", "1"}, {"B", "x"}, {"a", "2"}, {"A", ""}};
  CHECK(f.count("a") == 3);
  CHECK(f.count("b") == 1);
  CHECK(f.count("c") == 0);
  CHECK(f.values("A") == std::vector<sv>{"1", "2", ""});
  CHECK(f.values("c").empty());
}

TEST_CASE("case folding is ASCII only: bytes above 0x7F are compared as they are") {
  fields f;
  f.add("X-\xC3\x89", "v");  // an upper-case E with acute, in UTF-8
  CHECK(f[0].first == "x-\xC3\x89");
  CHECK(f.find("x-\xC3\x89"));
  CHECK_FALSE(f.find("x-\xC3\xA9"));  // its lower-case form is another field
}

TEST_CASE("an empty fields holds nothing; clear empties it") {
  fields f;
  CHECK(f.empty());
  CHECK(f.size() == 0);
  CHECK_FALSE(f.find("a"));
  f.add("A", "1");
  CHECK_FALSE(f.empty());
  f.clear();
  CHECK(f.empty());
  CHECK(f.begin() == f.end());
}
