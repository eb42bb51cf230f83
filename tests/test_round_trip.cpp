// The property that ties the two halves together: whatever event is
// formatted, the parser yields exactly that event back, for any chunking.
#include <ssepp/ssepp.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <ostream>
#include <random>
#include <string>
#include <vector>

namespace {

// Pieces random text is made of: ASCII, line breaks of every kind, control
// characters, NUL, spaces and colons (which matter to the field syntax) and
// multi-byte UTF-8 (2, 3 and 4 bytes).
const char* const pieces[] = {"a",
                              "Z",
                              "0",
                              " ",
                              "  ",
                              ":",
                              ": ",
                              "\t",
                              "\x01",
                              "\x1F",
                              "\x7F",
                              std::string_view("\0", 1).data(),
                              "\xC3\xB3",
                              "\xE2\x82\xAC",
                              "\xF0\x9F\x98\x80",
                              "\xEF\xBB\xBF",
                              "{\"k\":\"v\"}",
                              "data:",
                              "id:",
                              "\n",
                              "\r",
                              "\r\n"};
constexpr std::size_t line_break_pieces = 3;  // the last three

std::string random_text(std::mt19937& rng, bool line_breaks) {
  const std::size_t choices = std::size(pieces) - (line_breaks ? 0 : line_break_pieces);
  std::uniform_int_distribution<std::size_t> length(0, 12), pick(0, choices - 1);
  std::string s;
  for (std::size_t n = length(rng); n > 0; --n) {
    const std::size_t i = pick(rng);
    if (pieces[i][0] == '\0')
      s.push_back('\0');
    else
      s += pieces[i];
  }
  return s;
}

// What a receiver sees of formatted data: CR and CRLF arrive as LF.
std::string normalized(std::string s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

struct collected {
  std::vector<std::string> items;
  void on_event(const ssepp::message& m) {
    items.push_back(std::string(m.type) + "|" + std::string(m.data) + "|" +
                    std::string(m.last_event_id));
  }
  void on_retry(std::chrono::milliseconds ms) {
    items.push_back("retry " + std::to_string(ms.count()));
  }
};

}  // namespace

TEST_CASE("format then parse yields every event back, for any chunking") {
  std::mt19937 rng(20261124);
  for (int round = 0; round < 300; ++round) {
    std::string stream;
    std::vector<std::string> expected;
    std::string last_id;
    for (int e = 0; e < 8; ++e) {
      ssepp::event ev;
      ev.data = random_text(rng, true);
      ev.type = random_text(rng, false);
      ev.id = random_text(rng, false);
      ev.id.erase(std::remove(ev.id.begin(), ev.id.end(), '\0'), ev.id.end());
      if (rng() % 4 == 0) ev.retry = std::chrono::milliseconds{rng() % 100000};
      REQUIRE_FALSE(ssepp::format(stream, ev));
      if (!ev.id.empty()) last_id = ev.id;
      if (ev.retry) expected.push_back("retry " + std::to_string(ev.retry->count()));
      expected.push_back((ev.type.empty() ? std::string("message") : ev.type) + "|" +
                         normalized(ev.data) + "|" + last_id);
    }
    std::uniform_int_distribution<std::size_t> chunk(1, 64);
    for (int chunking = 0; chunking < 4; ++chunking) {
      ssepp::parser p{collected{}};
      for (std::size_t i = 0; i < stream.size();) {
        const std::size_t n = chunking == 0 ? stream.size() : chunk(rng);
        REQUIRE_FALSE(p.feed(std::string_view(stream).substr(i, n)));
        i += n;
      }
      CHECK(p.handler().items == expected);
      CHECK(p.last_event_id() == last_id);
    }
  }
}

TEST_CASE("data with LF line breaks round-trips byte for byte") {
  const std::string data = " leading\n\n trailing \nza\xC5\xBC\xC3\xB3\xC5\x82\xC4\x87\n";
  ssepp::parser p{collected{}};
  REQUIRE_FALSE(p.feed(ssepp::to_string({data, "cokolwiek", "4444"})));
  REQUIRE(p.handler().items.size() == 1);
  CHECK(p.handler().items[0] == "cokolwiek|" + data + "|4444");
}
