// What a new user writes first: one include, format an event, parse it back.
// Shared by every packaging test; exits nonzero when the round trip fails.
#include <ssepp/ssepp.hpp>

#include <cstdio>
#include <string>

#ifndef SSEPP_CONSUMER_SABOTAGE
#define SSEPP_CONSUMER_SABOTAGE 0
#endif

namespace {

struct collect {
  int events = 0;
  std::string type, data, last_event_id;
  void on_event(const ssepp::message& m) {
    ++events;
    type = m.type;
    data = m.data;
    last_event_id = m.last_event_id;
  }
};

}  // namespace

int main() {
  ssepp::event ev;
  ev.type = "greeting";
  ev.id = "42";
  ev.data = " hello\nworld";

  std::string wire;
  if (const std::error_code ec = ssepp::format(wire, ev)) {
    std::fprintf(stderr, "format failed: %s\n", ec.message().c_str());
    return 1;
  }

  ssepp::parser<collect> parser{collect{}};
  if (const std::error_code ec = parser.feed(wire)) {
    std::fprintf(stderr, "parse failed: %s\n", ec.message().c_str());
    return 1;
  }

  // The sabotaged build expects something else, proving a failed round trip
  // fails the test.
  const std::string expected_data = SSEPP_CONSUMER_SABOTAGE ? "not what was sent" : ev.data;
  const collect& got = parser.handler();
  if (got.events != 1 || got.type != ev.type || got.data != expected_data ||
      got.last_event_id != ev.id) {
    std::fprintf(stderr, "round trip failed: %d event(s), type '%s', data '%s', id '%s'\n",
                 got.events, got.type.c_str(), got.data.c_str(), got.last_event_id.c_str());
    return 1;
  }
  std::printf("ssepp %d.%d.%d round trip ok\n", SSEPP_VERSION_MAJOR, SSEPP_VERSION_MINOR,
              SSEPP_VERSION_PATCH);
  return 0;
}
