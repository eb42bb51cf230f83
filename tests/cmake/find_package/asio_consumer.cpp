// An installed ssepp used with Asio: the asio component's asio::asio target
// must give a working standalone Asio (include path, defines, threads).
#include <ssepp/ssepp.hpp>

#include <asio.hpp>
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
  return wire == "data: from asio\n\n" ? 0 : 1;
}
