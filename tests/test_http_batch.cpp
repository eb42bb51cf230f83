// parse_event_batch and is_event_stream_body: a publish body of several
// events, read strictly, without sockets.
#include <ssepp/http/batch.hpp>

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

namespace http = ssepp::http;

namespace {
// "type|data|id" per event, or "error N: message".
std::vector<std::string> read(std::string_view body) {
  const auto batch = http::parse_event_batch(body);
  if (batch.failed) return {"error " + std::to_string(batch.failed) + ": " + batch.error};
  std::vector<std::string> out;
  for (const auto& e : batch.events) out.push_back(e.type + "|" + e.data + "|" + e.id);
  return out;
}
bool refused_at(std::string_view body, std::size_t event, std::string_view why) {
  const auto batch = http::parse_event_batch(body);
  CAPTURE(batch.error);
  return batch.failed == event && batch.events.empty() &&
         batch.error.find(why) != std::string::npos;
}
using strings = std::vector<std::string>;
}  // namespace

TEST_CASE("a batch is every event of the body, each with its own type and id") {
  CHECK(read("data: one\n\nevent: cokolwiek\ndata: 4444\nid: x-1\n\ndata: a\ndata: b\n\n") ==
        strings{"|one|", "cokolwiek|4444|x-1", "|a\nb|"});
}

TEST_CASE("an event's id is its own: it does not carry over to the next event") {
  CHECK(read("id: 7\ndata: a\n\ndata: b\n\n") == strings{"|a|7", "|b|"});
}

TEST_CASE("lines may end with CRLF, LF or CR; comments and a leading BOM are allowed") {
  CHECK(read("\xEF\xBB\xBF: a comment\r\ndata: a\r\n\r\ndata: b\r\rdata: c\n\n") ==
        strings{"|a|", "|b|", "|c|"});
}

TEST_CASE("a field other than data, event and id refuses the whole batch") {
  CHECK(refused_at("data: a\n\ndata: b\ncolour: red\n\n", 2, "unknown field 'colour'"));
  CHECK(refused_at("data: a\n\nretry: 10\ndata: b\n\n", 2, "retry"));
  CHECK(refused_at("dat: a\n\n", 1, "unknown field 'dat'"));
}

TEST_CASE("an event without data, an id with NUL, or bad UTF-8 refuses the batch") {
  CHECK(refused_at("data: a\n\nevent: x\n\n", 2, "no data field"));
  CHECK(refused_at(std::string_view("data: a\nid: a\0b\n\n", 17), 1, "NUL"));
  CHECK(refused_at("data: \xC3\x28\n\n", 1, "UTF-8"));
}

TEST_CASE("a body cut short, or with no event, is refused") {
  CHECK(refused_at("data: a\n\ndata: b\n", 2, "not ended by a blank line"));
  CHECK(refused_at("data: a\n\ndata: b", 2, "not ended by a blank line"));
  CHECK(refused_at("", 1, "no event"));
  CHECK(refused_at(": only a comment\n\n", 1, "no event"));
}

TEST_CASE("text/event-stream bodies are told by their media type, not its parameters") {
  CHECK(http::is_event_stream_body("text/event-stream"));
  CHECK(http::is_event_stream_body("Text/Event-Stream; charset=utf-8"));
  CHECK_FALSE(http::is_event_stream_body("text/plain"));
  CHECK_FALSE(http::is_event_stream_body("text/event-streams"));
  CHECK_FALSE(http::is_event_stream_body(""));
}
