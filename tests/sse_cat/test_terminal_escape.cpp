// sse-cat's terminal_escape (examples/sse-cat/terminal_escape.hpp): what a
// message on standard error may hold, byte by byte. The cases through the
// tool itself, with a server sending the bytes, are in CMakeLists.txt
// (sse_cat.url.escape-*).
#include "terminal_escape.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

using sse_cat::terminal_escape;
using namespace std::string_view_literals;

TEST_CASE("printable ASCII is kept as it is") {
  const std::string all = [] {
    std::string s;
    for (char c = ' '; c < '\x7f'; ++c)
      if (c != '\\') s.push_back(c);
    return s;
  }();
  CHECK(terminal_escape(all) == all);
}

TEST_CASE("a backslash is doubled, so an escape in the input cannot pass for one") {
  CHECK(terminal_escape("a\\x1b") == "a\\\\x1b");
}

TEST_CASE("every C0 control and DEL is written as \\xHH in lowercase") {
  CHECK(terminal_escape("\0\x01\x07\x08"sv) == "\\x00\\x01\\x07\\x08");
  CHECK(terminal_escape("\t\n\r") == "\\x09\\x0a\\x0d");
  CHECK(terminal_escape("\x1b]0;pwned\x07") == "\\x1b]0;pwned\\x07");
  CHECK(terminal_escape("\x1f\x7f") == "\\x1f\\x7f");
}

TEST_CASE("the C1 controls U+0080..U+009F are escaped as their UTF-8 bytes") {
  CHECK(terminal_escape("\xc2\x80") == "\\xc2\\x80");
  CHECK(terminal_escape("\xc2\x9b"
                        "2J") == "\\xc2\\x9b2J");
  CHECK(terminal_escape("\xc2\x9f") == "\\xc2\\x9f");
  // U+00A0, the first character after them, is printable.
  CHECK(terminal_escape("\xc2\xa0") == "\xc2\xa0");
}

TEST_CASE("well-formed UTF-8 of 2, 3 and 4 bytes is kept") {
  const std::string_view text = "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf";
  CHECK(terminal_escape(text) == text);
}

TEST_CASE("each byte of malformed UTF-8 is escaped, one maximal subpart at a time") {
  SUBCASE("a lone continuation byte: 0x9B is CSI to an 8-bit terminal") {
    CHECK(terminal_escape("\x9b"
                          "2J") == "\\x9b2J");
  }
  SUBCASE("bytes that never start a sequence") {
    CHECK(terminal_escape("\xc0\xaf\xff") == "\\xc0\\xaf\\xff");
  }
  SUBCASE("a sequence cut by an ASCII byte keeps that byte") {
    CHECK(terminal_escape("\xe2\x82x") == "\\xe2\\x82x");
  }
  SUBCASE("a sequence cut by the end of the text") {
    CHECK(terminal_escape("\xf0\x9f\x98") == "\\xf0\\x9f\\x98");
  }
  SUBCASE("an overlong form and a UTF-16 surrogate") {
    CHECK(terminal_escape("\xe0\x80\xaf") == "\\xe0\\x80\\xaf");
    CHECK(terminal_escape("\xed\xa0\x80") == "\\xed\\xa0\\x80");
  }
  SUBCASE("a malformed sequence before a good one leaves the good one") {
    CHECK(terminal_escape("\xe2\xc3\xa9") == "\\xe2\xc3\xa9");
  }
}
