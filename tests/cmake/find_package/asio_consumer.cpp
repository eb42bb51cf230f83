// An installed ssepp used with Asio: the asio component's asio::asio target
// must give a working standalone Asio (include path, defines, threads).
#include <ssepp/ssepp.hpp>

#include <asio.hpp>
#include <cstdio>
#include <string>

int main() {
  asio::io_context io;
  std::string wire;
  ssepp::event_view ev;
  ev.data = "from asio";
  asio::post(io, [&] {
    if (ssepp::format(wire, ev)) wire = "format failed";
  });
  io.run();
  if (wire != "data: from asio\n\n") {
    std::fprintf(stderr, "formatting inside asio::io_context gave '%s'\n", wire.c_str());
    return 1;
  }
  std::printf("ssepp %d.%d.%d formatted an event inside asio::io_context\n", SSEPP_VERSION_MAJOR,
              SSEPP_VERSION_MINOR, SSEPP_VERSION_PATCH);
  return 0;
}
