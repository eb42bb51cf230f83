// What makes a response an event stream, and where a reconnecting client's
// Last-Event-ID is found in a request.
#include <ssepp/http/event_stream.hpp>

#include <doctest/doctest.h>

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using ssepp::http::last_event_id;
using sv = std::string_view;

TEST_CASE("an event stream's fields, exactly and in order") {
  using field = std::pair<std::string, std::string>;
  CHECK(ssepp::http::event_stream_fields() == std::vector<field>{
                                                  {"Content-Type", "text/event-stream"},
                                                  {"Cache-Control", "no-cache"},
                                                  {"X-Accel-Buffering", "no"},
                                                  {"Content-Encoding", "identity"},
                                              });
  // No charset parameter: some servers decide what to compress by the
  // whole value, and would compress (so hold back) anything else.
  CHECK(ssepp::http::event_stream_content_type == "text/event-stream");
}

TEST_CASE("last_event_id: the Last-Event-ID header") {
  CHECK(last_event_id(sv("42"), "") == "42");
  // As sent: a header value is never percent-decoded.
  CHECK(last_event_id(sv("a%20b"), "") == "a%20b");
  // A header that is present but empty is an empty id, not a missing one.
  CHECK(last_event_id(sv(""), "lastEventId=7") == "");
}

TEST_CASE("last_event_id: the header wins over the query") {
  CHECK(last_event_id(sv("from-header"), "lastEventId=from-query") == "from-header");
}

TEST_CASE("last_event_id: the lastEventId query parameter, percent-decoded") {
  CHECK(last_event_id(std::nullopt, "lastEventId=7") == "7");
  CHECK(last_event_id(std::nullopt, "x=1&lastEventId=a%20b+c&y=2") == "a b c");
  CHECK(last_event_id(std::nullopt, "%6castEventId=5") == "5");
  CHECK(last_event_id(std::nullopt, "lastEventId=1&lastEventId=2") == "1");
  CHECK(last_event_id(std::nullopt, "lastEventId") == "");
}

TEST_CASE("last_event_id: a query value that does not decode is returned as sent") {
  CHECK(last_event_id(std::nullopt, "lastEventId=%zz") == "%zz");
  CHECK(last_event_id(std::nullopt, "lastEventId=a%00b") == "a%00b");
  CHECK(last_event_id(std::nullopt, "lastEventId=50%") == "50%");
}

TEST_CASE("last_event_id: neither header nor parameter is empty") {
  CHECK(last_event_id(std::nullopt, "") == "");
  CHECK(last_event_id(std::nullopt, "lasteventid=7&last_event_id=8&lastEventIdx=9") == "");
}
