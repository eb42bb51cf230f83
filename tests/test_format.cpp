// The formatter: the exact bytes written, the refusals, and the sinks.
#include <ssepp/format.hpp>

#include <doctest/doctest.h>

#include <ostream>
#include <string>

using namespace std::string_literals;
using std::chrono::milliseconds;

namespace ssepp_test {
// Archetype: exactly the one required sink member.
struct sink_archetype {
  std::string* out;
  void append(const char* p, std::size_t n) { out->append(p, n); }
};
}  // namespace ssepp_test
static_assert(ssepp::is_sink_v<ssepp_test::sink_archetype>);
static_assert(ssepp::is_sink_v<std::string>);
static_assert(ssepp::is_sink_v<ssepp::fixed_buffer_sink>);
static_assert(!ssepp::is_sink_v<int>);
#if SSEPP_HAS_CONCEPTS
static_assert(ssepp::sink<ssepp_test::sink_archetype>);
#endif

namespace {
std::string formatted(const ssepp::event_view& ev) {
  std::string out;
  REQUIRE_FALSE(ssepp::format(out, ev));
  return out;
}
}  // namespace

TEST_CASE("data only") { CHECK(formatted({"hello"}) == "data: hello\n\n"); }

TEST_CASE("all fields, in a fixed order") {
  CHECK(formatted({"{\"a\":1}", "MENU_UPDATE_END", "42", milliseconds{1500}}) ==
        "event: MENU_UPDATE_END\nid: 42\nretry: 1500\ndata: {\"a\":1}\n\n");
}

TEST_CASE("empty data still writes a data line so the event is dispatched") {
  CHECK(formatted({""}) == "data:\n\n");
  CHECK(formatted({"", "ping"}) == "event: ping\ndata:\n\n");
}

TEST_CASE("LF, CR and CRLF in data each start a new data line") {
  CHECK(formatted({"a\nb"}) == "data: a\ndata: b\n\n");
  CHECK(formatted({"a\rb"}) == "data: a\ndata: b\n\n");
  CHECK(formatted({"a\r\nb"}) == "data: a\ndata: b\n\n");
  CHECK(formatted({"a\n\nb"}) == "data: a\ndata:\ndata: b\n\n");
  CHECK(formatted({"a\n"}) == "data: a\ndata:\n\n");
  CHECK(formatted({"\n"}) == "data:\ndata:\n\n");
  CHECK(formatted({"a\r\r\nb"}) == "data: a\ndata:\ndata: b\n\n");
}

TEST_CASE("a payload cannot end the event early or forge a field") {
  CHECK(formatted({"x\n\nevent: evil\nid: 666\n\ndata: y"}) ==
        "data: x\ndata:\ndata: event: evil\ndata: id: 666\ndata:\ndata: data: y\n\n");
}

TEST_CASE("leading spaces are kept behind the one separating space") {
  CHECK(formatted({"  two", " t"}) == "event:  t\ndata:   two\n\n");
}

TEST_CASE("retry is written as plain digits") {
  CHECK(formatted({"x", {}, {}, milliseconds{0}}) == "retry: 0\ndata: x\n\n");
}

TEST_CASE("an event type with a line break is refused and nothing is written") {
  std::string out = "before";
  CHECK(ssepp::format(out, {"x", "a\nb"}) == ssepp::errc::invalid_event_type);
  CHECK(ssepp::format(out, {"x", "a\rb"}) == ssepp::errc::invalid_event_type);
  CHECK(out == "before");
}

TEST_CASE("an id with a line break or NUL is refused and nothing is written") {
  std::string out;
  CHECK(ssepp::format(out, {"x", {}, "1\n"}) == ssepp::errc::invalid_event_id);
  CHECK(ssepp::format(out, {"x", {}, "\r1"}) == ssepp::errc::invalid_event_id);
  CHECK(ssepp::format(out, {"x", {}, "1\0"s}) == ssepp::errc::invalid_event_id);
  CHECK(out.empty());
}

TEST_CASE("a negative retry is refused") {
  std::string out;
  CHECK(ssepp::format(out, {"x", {}, {}, milliseconds{-1}}) == ssepp::errc::invalid_retry);
  CHECK(ssepp::format_retry(out, milliseconds{-5}) == ssepp::errc::invalid_retry);
  CHECK(out.empty());
}

TEST_CASE("validate reports what format would refuse") {
  CHECK_FALSE(ssepp::validate({"any\r\n\0data"s, "type", "id"}));
  CHECK(ssepp::validate({"", "t\n"}) == ssepp::errc::invalid_event_type);
}

TEST_CASE("formatted_size is exactly what format writes") {
  const ssepp::event_view cases[] = {
      {""},
      {"a"},
      {"a\nb\r\nc\rd\n"},
      {"x", "type"},
      {"x", {}, "id"},
      {"x", "t", "i", milliseconds{1234567}},
      {"\n\n\n"},
      {"", {}, {}, milliseconds{0}},
  };
  for (const auto& ev : cases) CHECK(ssepp::formatted_size(ev) == formatted(ev).size());
}

TEST_CASE("to_string formats or throws std::system_error") {
  CHECK(ssepp::to_string({"hi"}) == "data: hi\n\n");
  CHECK_THROWS_AS(ssepp::to_string({"hi", "bad\ntype"}), std::system_error);
  try {
    (void)ssepp::to_string({"hi", {}, "bad\0"s});
  } catch (const std::system_error& e) {
    CHECK(e.code() == ssepp::errc::invalid_event_id);
  }
}

TEST_CASE("an owning event formats like its view") {
  ssepp::event ev{"data", "type", "id", milliseconds{5}};
  CHECK(ssepp::to_string(ev) == "event: type\nid: id\nretry: 5\ndata: data\n\n");
}

TEST_CASE("comments: one line per line of text, never a field") {
  std::string out;
  CHECK_FALSE(ssepp::format_comment(out, "keep-alive"));
  CHECK_FALSE(ssepp::format_comment(out, ""));
  CHECK_FALSE(ssepp::format_comment(out, "a\ndata: forged\r\nb"));
  CHECK(out == ": keep-alive\n:\n: a\n: data: forged\n: b\n");
}

TEST_CASE("retry alone") {
  std::string out;
  CHECK_FALSE(ssepp::format_retry(out, milliseconds{3000}));
  CHECK(out == "retry: 3000\n");
}

TEST_CASE("appends to what the string already holds") {
  std::string out = "data: 1\n\n";
  CHECK_FALSE(ssepp::format(out, {"2"}));
  CHECK(out == "data: 1\n\ndata: 2\n\n");
}

TEST_CASE("a sink that only has append gets the same bytes") {
  std::string out;
  ssepp_test::sink_archetype sink{&out};
  CHECK_FALSE(ssepp::format(sink, {"a\nb", "t", "1", milliseconds{2}}));
  CHECK_FALSE(ssepp::format_comment(sink, "c"));
  CHECK_FALSE(ssepp::format_retry(sink, milliseconds{9}));
  CHECK(out == "event: t\nid: 1\nretry: 2\ndata: a\ndata: b\n\n: c\nretry: 9\n");
}

TEST_CASE("a fixed buffer takes a whole event or nothing") {
  const ssepp::event_view ev{"hello", "t"};
  const std::string expected = formatted(ev);
  SUBCASE("exactly enough room") {
    std::string storage(expected.size(), '\0');
    ssepp::fixed_buffer_sink sink{storage.data(), storage.size()};
    CHECK_FALSE(ssepp::format(sink, ev));
    CHECK(sink.view() == expected);
    CHECK(sink.remaining() == 0);
    CHECK(ssepp::format_comment(sink, "x") == ssepp::errc::sink_full);
    CHECK(ssepp::format_retry(sink, milliseconds{1}) == ssepp::errc::sink_full);
  }
  SUBCASE("one byte short") {
    std::string storage(expected.size() - 1, '\0');
    ssepp::fixed_buffer_sink sink{storage.data(), storage.size()};
    CHECK(ssepp::format(sink, ev) == ssepp::errc::sink_full);
    CHECK(sink.size() == 0);
  }
  SUBCASE("from an array, reusable after clear") {
    char buffer[64];
    ssepp::fixed_buffer_sink sink{buffer};
    CHECK_FALSE(ssepp::format(sink, ev));
    sink.clear();
    CHECK_FALSE(ssepp::format(sink, {"x"}));
    CHECK(sink.view() == "data: x\n\n");
  }
}
