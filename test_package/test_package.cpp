// Conan's check of the ssepp package: one event formatted, parsed back and
// compared, through the package's headers alone.
#include <ssepp/ssepp.hpp>

#include <cstdio>
#include <string>

namespace {

// A message's views last only during the call: keep copies.
struct last_message {
  int count = 0;
  std::string type, data, id;
  void on_event(const ssepp::message& m) {
    ++count;
    type = m.type;
    data = m.data;
    id = m.last_event_id;
  }
};

}  // namespace

int main() {
  const ssepp::event sent{"{\"menu\":\"updated\"}\nsecond line", "MENU_UPDATE_END", "7"};
  const std::string wire = ssepp::to_string(sent);

  ssepp::parser<last_message> parser{last_message{}};
  const std::error_code ec = parser.feed(wire);
  const last_message& h = parser.handler();
  if (ec || h.count != 1 || h.type != sent.type || h.data != sent.data || h.id != sent.id) {
    std::fprintf(stderr, "ssepp package: the event did not come back as sent\n%s", wire.c_str());
    return 1;
  }
  std::printf("ssepp %d.%d.%d package: formatted and parsed back %zu bytes\n", SSEPP_VERSION_MAJOR,
              SSEPP_VERSION_MINOR, SSEPP_VERSION_PATCH, wire.size());
  return 0;
}
