// The parser against the WHATWG HTML "parse an event stream" and "interpret
// an event stream" rules, each input ground through every chunking.
#include <ssepp/parser.hpp>

#include <string>
#include <type_traits>

#include "grind.hpp"

using namespace std::string_literals;
using ssepp_test::events;
using ssepp_test::grind;

// The exemplar from parser.hpp's concept table, compiled, and an archetype
// with exactly the required member: the parser asks for nothing more.
namespace {
struct print_events {
  std::string out;
  void on_event(const ssepp::message& m) { out += m.data; }
};
}  // namespace
namespace ssepp_test {
struct handler_archetype {
  void on_event(const ssepp::message&) {}
};
}  // namespace ssepp_test
namespace {
using ssepp_test::handler_archetype;
static_assert(ssepp::is_parser_handler_v<print_events>);
static_assert(ssepp::is_parser_handler_v<handler_archetype>);
static_assert(ssepp::is_parser_handler_v<handler_archetype&>);
static_assert(!ssepp::is_parser_handler_v<int>);
#if SSEPP_HAS_CONCEPTS
static_assert(ssepp::parser_handler<handler_archetype>);
#endif
}  // namespace
template class ssepp::parser<ssepp_test::handler_archetype>;
template class ssepp::parser<ssepp_test::handler_archetype&>;

TEST_CASE("the minimal handler receives events") {
  ssepp::parser p{print_events{}};
  CHECK_FALSE(p.feed("data: hello\n\n"));
  CHECK(p.handler().out == "hello");
}

TEST_CASE("a handler held by reference sees the events") {
  print_events h;
  ssepp::parser<print_events&> p{h};
  CHECK_FALSE(p.feed("data: a\n\ndata: b\n\n"));
  CHECK(h.out == "ab");
}

TEST_CASE("a blank line dispatches the data as a message event") {
  CHECK(grind("data: hello\n\n").items == events({"event message|hello|"}));
}

TEST_CASE("lines end at LF, CR or CRLF") {
  SUBCASE("LF") { CHECK(grind("data: a\ndata: b\n\n").items == events({"event message|a\nb|"})); }
  SUBCASE("CR") { CHECK(grind("data: a\rdata: b\r\r").items == events({"event message|a\nb|"})); }
  SUBCASE("CRLF") {
    CHECK(grind("data: a\r\ndata: b\r\n\r\n").items == events({"event message|a\nb|"}));
  }
  SUBCASE("mixed") {
    CHECK(grind("data: a\rdata: b\ndata: c\r\n\n").items == events({"event message|a\nb\nc|"}));
  }
  SUBCASE("LF CR is two line ends, so a blank line") {
    CHECK(grind("data: a\n\rdata: b\n\n").items ==
          events({"event message|a|", "event message|b|"}));
  }
}

TEST_CASE("CR at chunk end then LF is one line end") {
  const auto r = ssepp_test::parse_chunks({"data: a\r", "\ndata: b\r", "\n\r", "\n"}, {});
  CHECK(r.items == events({"event message|a\nb|"}));
}

TEST_CASE("CR at chunk end then CR is two line ends") {
  const auto r = ssepp_test::parse_chunks({"data: a\r", "\r"}, {});
  CHECK(r.items == events({"event message|a|"}));
}

TEST_CASE("CR at chunk end survives an empty chunk before the LF") {
  const auto r = ssepp_test::parse_chunks({"data: a\r", "", "\ndata: b\n\n"}, {});
  CHECK(r.items == events({"event message|a\nb|"}));
}

TEST_CASE("a leading UTF-8 BOM is skipped once") {
  SUBCASE("whole") {
    CHECK(grind("\xEF\xBB\xBF"
                "data: a\n\n")
              .items == events({"event message|a|"}));
  }
  SUBCASE("a second BOM is part of the first field name, so the field is unknown") {
    CHECK(grind("\xEF\xBB\xBF\xEF\xBB\xBF"
                "data: a\n\ndata: b\n\n")
              .items == events({"event message|b|"}));
  }
  SUBCASE("a BOM later in the stream is content") {
    CHECK(grind("data: \xEF\xBB\xBF"
                "a\n\n")
              .items == events({"event message|\xEF\xBB\xBF"
                                "a|"}));
  }
  SUBCASE("a BOM prefix that is not a BOM is content") {
    // EF BB followed by 'd' is malformed UTF-8: one U+FFFD in a field name.
    CHECK(grind("\xEF\xBB"
                "data: a\n\ndata: b\n\n")
              .items == events({"event message|b|"}));
    ssepp::parser_options raw;
    raw.text = ssepp::text_mode::raw;
    CHECK(grind("\xEF\xBB\n"
                "data: b\n\n",
                raw)
              .items == events({"event message|b|"}));
  }
  SUBCASE("split across chunks") {
    const auto r = ssepp_test::parse_chunks({"\xEF", "\xBB",
                                             "\xBF"
                                             "da",
                                             "ta: a\n\n"},
                                            {});
    CHECK(r.items == events({"event message|a|"}));
  }
  SUBCASE("after reset, a new stream may start with a BOM again") {
    std::vector<std::string> items;
    ssepp::parser<ssepp_test::recorder> p{ssepp_test::recorder{&items}};
    CHECK_FALSE(
        p.feed("\xEF\xBB\xBF"
               "data: a\n\n"));
    p.reset();
    CHECK_FALSE(
        p.feed("\xEF\xBB\xBF"
               "data: b\n\n"));
    CHECK(items == events({"event message|a|", "event message|b|"}));
  }
}

TEST_CASE("comments are ignored, and reported to handlers that ask") {
  CHECK(grind(": hi\ndata: a\n:\n\n").items ==
        events({"comment hi", "comment ", "event message|a|"}));
  CHECK(grind(":  two spaces\n").items == events({"comment  two spaces"}));
  ssepp::parser p{print_events{}};  // no on_comment: comments just vanish
  CHECK_FALSE(p.feed(": x\ndata: a\n\n"));
  CHECK(p.handler().out == "a");
}

TEST_CASE("exactly one space after the colon is removed") {
  CHECK(grind("data:a\n\n").items == events({"event message|a|"}));
  CHECK(grind("data: a\n\n").items == events({"event message|a|"}));
  CHECK(grind("data:  a\n\n").items == events({"event message| a|"}));
  CHECK(grind("data:\ta\n\n").items == events({"event message|\ta|"}));
  CHECK(grind("data: a \n\n").items == events({"event message|a |"}));
}

TEST_CASE("only the first colon separates name and value") {
  CHECK(grind("data: a:b: c\n\n").items == events({"event message|a:b: c|"}));
}

TEST_CASE("a field without a colon has an empty value") {
  CHECK(grind("data\n\n").items == events({"event message||"}));
  CHECK(grind("data\ndata\n\n").items == events({"event message|\n|"}));
  CHECK(grind("event\ndata: x\n\n").items == events({"event message|x|"}));
}

TEST_CASE("field names are case-sensitive and unknown fields are ignored") {
  CHECK(grind("Data: a\nDATA: b\nfoo: c\n data: d\ndata : e\n\ndata: f\n\n").items ==
        events({"event message|f|"}));
}

TEST_CASE("the event field sets the type for one event only") {
  CHECK(grind("event: add\ndata: 1\n\ndata: 2\n\n").items ==
        events({"event add|1|", "event message|2|"}));
  CHECK(grind("event: add\nevent: remove\ndata: 1\n\n").items == events({"event remove|1|"}));
  CHECK(grind("event:\ndata: 1\n\n").items == events({"event message|1|"}));
}

TEST_CASE("a blank line without data dispatches nothing and clears the type") {
  CHECK(grind("event: add\n\ndata: 1\n\n").items == events({"event message|1|"}));
  CHECK(grind("\n\n\n").items.empty());
}

TEST_CASE("empty data still dispatches an event") {
  CHECK(grind("data:\n\n").items == events({"event message||"}));
  CHECK(grind("data\n\n").items == events({"event message||"}));
}

TEST_CASE("only one trailing LF is removed from the data") {
  CHECK(grind("data: a\ndata:\n\n").items == events({"event message|a\n|"}));
  CHECK(grind("data:\ndata:\n\n").items == events({"event message|\n|"}));
}

TEST_CASE("the last event ID persists across events") {
  const auto r = grind("id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n");
  CHECK(r.items == events({"event message|a|1", "event message|b|1", "event message|c|2"}));
  CHECK(r.last_event_id == "2");
}

TEST_CASE("an empty id resets the last event ID") {
  const auto r = grind("id: 1\ndata: a\n\nid\ndata: b\n\n");
  CHECK(r.items == events({"event message|a|1", "event message|b|"}));
  CHECK(r.last_event_id.empty());
  CHECK(grind("id: 1\ndata: a\n\nid:\ndata: b\n\n").items ==
        events({"event message|a|1", "event message|b|"}));
}

TEST_CASE("an id containing NUL is ignored") {
  const auto r = grind("id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n"s);
  CHECK(r.items == events({"event message|a|1", "event message|b|1"}));
  CHECK(r.last_event_id == "1");
}

TEST_CASE("a blank line commits the id even when it dispatches nothing") {
  CHECK(grind("id: 7\n\n").last_event_id == "7");
  CHECK(grind("id: 7\n\ndata: a\n\n").items == events({"event message|a|7"}));
}

TEST_CASE("an id in an event that never ends is not committed") {
  const auto r = grind("id: 1\ndata: a\n\nid: 2\ndata: b\n");
  CHECK(r.items == events({"event message|a|1"}));
  CHECK(r.last_event_id == "1");
}

TEST_CASE("the id applies to the event it appears in, wherever in the event") {
  CHECK(grind("data: a\nid: 5\n\n").items == events({"event message|a|5"}));
}

TEST_CASE("an unterminated event at end of stream is discarded") {
  CHECK(grind("data: a\n\ndata: b\n").items == events({"event message|a|"}));
  CHECK(grind("data: a\n\ndata: b").items == events({"event message|a|"}));
}

TEST_CASE("reset discards the unfinished event and keeps the last event ID") {
  std::vector<std::string> items;
  ssepp::parser<ssepp_test::recorder> p{ssepp_test::recorder{&items}};
  CHECK_FALSE(p.feed("id: 1\ndata: a\n\nid: 2\nevent: x\ndata: half"));
  p.reset();
  CHECK(p.last_event_id() == "1");
  CHECK_FALSE(p.feed("\ndata: b\n\n"));
  CHECK(items == events({"event message|a|1", "event message|b|1"}));
}

TEST_CASE("reset after a CR does not swallow the new stream's LF") {
  std::vector<std::string> items;
  ssepp::parser<ssepp_test::recorder> p{ssepp_test::recorder{&items}};
  CHECK_FALSE(p.feed("data: a\r"));
  p.reset();
  CHECK_FALSE(p.feed("\ndata: b\n\n"));
  CHECK(items == events({"event message|b|"}));
}

TEST_CASE("set_last_event_id seeds the ID a reconnecting stream starts from") {
  std::vector<std::string> items;
  ssepp::parser<ssepp_test::recorder> p{ssepp_test::recorder{&items}};
  p.set_last_event_id("41");
  CHECK_FALSE(p.feed("data: a\n\nid: 42\ndata: b\n\n"));
  CHECK(items == events({"event message|a|41", "event message|b|42"}));
}

TEST_CASE("retry is used only when it is all ASCII digits") {
  CHECK(grind("retry: 1500\n").items == events({"retry 1500"}));
  CHECK(grind("retry: 0\n").items == events({"retry 0"}));
  CHECK(grind("retry: 007\n").items == events({"retry 7"}));
  CHECK(grind("retry: 1.5\nretry: -1\nretry: 1 \nretry:  1\nretry: 1a\nretry: \xD9\xA1\n")
            .items.empty());
}

TEST_CASE("an empty retry restores the default reconnection time, as Chromium does") {
  CHECK(grind("retry:\n").items == events({"retry 3000"}));
  ssepp::parser_options options;
  options.default_retry = std::chrono::milliseconds{250};
  CHECK(grind("retry\n", options).items == events({"retry 250"}));
}

TEST_CASE("a retry too large for milliseconds saturates") {
  const auto max = std::to_string(std::chrono::milliseconds::max().count());
  CHECK(grind("retry: 99999999999999999999999999\n").items == events({("retry " + max).c_str()}));
  CHECK(grind("retry: 9223372036854775807\n").items == events({("retry " + max).c_str()}));
}

TEST_CASE("retry does not dispatch or interfere with an event") {
  CHECK(grind("data: a\nretry: 10\n\n").items == events({"retry 10", "event message|a|"}));
}

TEST_CASE("NUL bytes in data and type pass through") {
  CHECK(grind("event: a\0b\ndata: \0\n\n"s).items == std::vector<std::string>{"event a\0b|\0|"s});
}

TEST_CASE("invalid UTF-8 becomes U+FFFD as in a browser") {
  const std::string fffd = "\xEF\xBF\xBD";
  SUBCASE("a lone continuation byte") {
    CHECK(grind("data: a\x80z\n\n").items ==
          std::vector<std::string>{"event message|a" + fffd + "z|"});
  }
  SUBCASE("a truncated sequence cut by the line end") {
    CHECK(grind("data: \xE2\x82\n\n").items ==
          std::vector<std::string>{"event message|" + fffd + "|"});
  }
  SUBCASE("truncated sequences on two data lines stay two errors") {
    CHECK(grind("data: \xE2\ndata: \x82\xAC\n\n").items ==
          std::vector<std::string>{"event message|" + fffd + "\n" + fffd + fffd + "|"});
  }
  SUBCASE("an overlong form is one error per byte") {
    CHECK(grind("data: \xE0\x80\x80\n\n").items ==
          std::vector<std::string>{"event message|" + fffd + fffd + fffd + "|"});
  }
  SUBCASE("a surrogate") {
    CHECK(grind("data: \xED\xA0\x80\n\n").items ==
          std::vector<std::string>{"event message|" + fffd + fffd + fffd + "|"});
  }
  SUBCASE("beyond U+10FFFF") {
    CHECK(grind("data: \xF4\x90\x80\x80\n\n").items ==
          std::vector<std::string>{"event message|" + fffd + fffd + fffd + fffd + "|"});
  }
  SUBCASE("in the type and the id too") {
    CHECK(grind("event: \xFF\nid: \xC3\ndata: x\n\n").items ==
          std::vector<std::string>{"event " + fffd + "|x|" + fffd});
  }
  SUBCASE("valid multi-byte text is untouched") {
    CHECK(
        grind("data: za\xC5\xBC\xC3\xB3\xC5\x82\xC4\x87 \xF0\x9F\x98\x80 \xE4\xBD\xA0\n\n").items ==
        events(
            {"event message|za\xC5\xBC\xC3\xB3\xC5\x82\xC4\x87 \xF0\x9F\x98\x80 \xE4\xBD\xA0|"}));
  }
}

TEST_CASE("raw mode passes malformed bytes through") {
  ssepp::parser_options raw;
  raw.text = ssepp::text_mode::raw;
  CHECK(grind("data: a\x80\xFFz\n\n", raw).items == events({"event message|a\x80\xFFz|"}));
}

TEST_CASE("a line longer than max_line_size stops the parser") {
  ssepp::parser_options options;
  options.max_line_size = 8;
  SUBCASE("at the limit is fine") {
    CHECK(grind("data: ab\n\n", options).items == events({"event message|ab|"}));
  }
  SUBCASE("one past the limit fails, after the events before it") {
    const auto r = grind("data: a\n\ndata: abc\n\ndata: b\n\n", options);
    CHECK(r.items == events({"event message|a|"}));
    CHECK(r.error == ssepp::errc::line_too_long);
  }
  SUBCASE("a long unterminated line fails too") {
    CHECK(grind("data: abcdefgh", options).error == ssepp::errc::line_too_long);
  }
  SUBCASE("comments and unknown fields count as lines") {
    CHECK(grind(": abcdefgh\n", options).error == ssepp::errc::line_too_long);
  }
}

TEST_CASE("data larger than max_event_size stops the parser") {
  ssepp::parser_options options;
  options.max_event_size = 5;
  CHECK(grind("data: 12345\n\n", options).items == events({"event message|12345|"}));
  CHECK(grind("data: 12\ndata: 45\n\n", options).items == events({"event message|12\n45|"}));
  const auto r = grind("data: 1\n\ndata: 12\ndata: 456\n\n", options);
  CHECK(r.items == events({"event message|1|"}));
  CHECK(r.error == ssepp::errc::event_too_large);
  CHECK(grind("data: 123456\n\n", options).error == ssepp::errc::event_too_large);
}

TEST_CASE("after an error the parser reads nothing until reset") {
  ssepp::parser_options options;
  options.max_line_size = 4;
  std::vector<std::string> items;
  ssepp::parser<ssepp_test::recorder> p{ssepp_test::recorder{&items}, options};
  CHECK(p.feed("data: too long\n\n") == ssepp::errc::line_too_long);
  CHECK(p.feed("data\n\n") == ssepp::errc::line_too_long);
  CHECK(p.error() == ssepp::errc::line_too_long);
  CHECK(items.empty());
  p.reset();
  CHECK_FALSE(p.error());
  CHECK_FALSE(p.feed("data\n\n"));
  CHECK(items == events({"event message||"}));
}

TEST_CASE("memory stays bounded while a hostile line streams in") {
  ssepp::parser_options options;
  options.max_line_size = 1 << 16;
  ssepp::parser p{print_events{}, options};
  const std::string chunk(4096, 'x');
  std::error_code ec;
  std::size_t fed = 0;
  while (!ec && fed < (std::size_t{1} << 24)) {
    ec = p.feed(chunk);
    fed += chunk.size();
  }
  CHECK(ec == ssepp::errc::line_too_long);
  CHECK(fed <= options.max_line_size + chunk.size());
}

TEST_CASE("hostile input: floods of CRs, NULs and megabyte lines do not crash") {
  const std::string crs(1 << 20, '\r');
  CHECK(ssepp_test::parse_whole(crs).items.empty());
  const std::string nuls = "data: " + std::string(1 << 20, '\0') + "\n\n";
  const auto r = ssepp_test::parse_whole(nuls);
  REQUIRE(r.items.size() == 1);
  CHECK(r.items[0].size() == std::string("event message|").size() + (1 << 20) + 1);
  const std::string big = "data: " + std::string(3 << 20, '\xFF') + "\n\n";
  ssepp::parser_options options;
  options.max_event_size = options.max_line_size = 16 << 20;
  const auto b = ssepp_test::parse_whole(big, options);
  REQUIRE(b.items.size() == 1);
  CHECK(b.items[0].size() == std::string("event message|").size() + 3 * (3 << 20) + 1);
}

TEST_CASE("event data split across many chunks arrives whole") {
  std::string input = "event: big\ndata: ";
  std::string payload;
  for (int i = 0; i < 20000; ++i) payload += static_cast<char>('a' + i % 26);
  input += payload + "\ndata: tail\n\n";
  for (const std::size_t size : {1u, 7u, 100u, 4096u}) {
    std::vector<std::string_view> chunks;
    for (std::size_t i = 0; i < input.size(); i += size)
      chunks.push_back(std::string_view(input).substr(i, size));
    CHECK(ssepp_test::parse_chunks(chunks, {}).items ==
          std::vector<std::string>{"event big|" + payload + "\ntail|"});
  }
}

TEST_CASE("views handed to the handler stay valid for the whole call") {
  struct checker {
    std::vector<std::string> got;
    void on_event(const ssepp::message& m) { got.emplace_back(m.data); }
  };
  ssepp::parser p{checker{}};
  std::string chunk = "data: first\n\ndata: sec";
  CHECK_FALSE(p.feed(chunk));
  chunk.assign(chunk.size(), '#');  // the caller reuses its buffer
  CHECK_FALSE(p.feed("ond\n\n"));
  CHECK(p.handler().got == std::vector<std::string>{"first", "second"});
}

TEST_CASE("long lines: the line end and any malformed byte are found at every offset") {
  // Lines of a few hundred bytes cross from the short-line scan to the wide
  // one; a malformed byte must be repaired wherever it sits, and the line
  // must end exactly at its terminator.
  for (std::size_t length = 200; length < 1200; length += 61) {
    for (std::size_t bad = 0; bad < length; bad += 23) {
      std::string value(length, 'v');
      value[bad] = '\xFF';
      for (const char* terminator : {"\n", "\r", "\r\n"}) {
        const std::string input = "data: " + value + terminator + terminator;
        const auto r = ssepp_test::parse_whole(input + "data: next\n\n");
        std::string expected = value;
        expected.replace(bad, 1, "\xEF\xBF\xBD");
        REQUIRE(r.items.size() == 2);
        CHECK(r.items[0] == "event message|" + expected + "|");
      }
    }
  }
}
