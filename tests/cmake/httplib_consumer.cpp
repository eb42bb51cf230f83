// A project using ssepp's cpp-httplib adapter through ssepp::httplib: the
// target must give cpp-httplib with the flags its library was built with
// (Debian's is compiled: a header without its CPPHTTPLIB_* macros does not
// link against it) and threads.
#include <ssepp/httplib/event_stream.hpp>
#include <ssepp/ssepp.hpp>

#include <cstdio>

int main() {
  ::httplib::Server server;
  ssepp::httplib::event_stream_server events(server);
  server.Get("/health", [](const ::httplib::Request&, ::httplib::Response& res) {
    res.set_content("ok", "text/plain");
  });
  ssepp::event_view ev;
  ev.data = "nobody listens yet";
  (void)events.publish("news", ev);
  if (!server.is_valid()) {
    std::fprintf(stderr, "cpp-httplib's server is not valid\n");
    return 1;
  }
  std::printf("ssepp %d.%d.%d on cpp-httplib: route registered, one event published\n",
              SSEPP_VERSION_MAJOR, SSEPP_VERSION_MINOR, SSEPP_VERSION_PATCH);
  return 0;
}
