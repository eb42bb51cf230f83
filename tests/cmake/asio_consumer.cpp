// A project using ssepp's Asio parts through a component target: ssepp::asio
// (standalone Asio) or ssepp::boost (Boost.Asio, in the same translation
// unit as Boost.Beast, which is what a Beast program does). The target must
// give a working Asio: include path, defines (SSEPP_ASIO_BOOST=1 from
// ssepp::boost), threads, and with ssepp::openssl TLS. The consumer project
// says which flavour it linked (SSEPP_CONSUMER_BOOST) and whether it linked
// ssepp::openssl (SSEPP_CONSUMER_OPENSSL), so a target that forgets its
// define fails here rather than quietly building the other flavour.
#if SSEPP_CONSUMER_BOOST
#if !defined(SSEPP_ASIO_BOOST) || !SSEPP_ASIO_BOOST
#error "ssepp::boost did not define SSEPP_ASIO_BOOST=1"
#endif
#include <boost/beast.hpp>
#endif
#if SSEPP_CONSUMER_OPENSSL && !defined(SSEPP_ENABLE_OPENSSL)
#error "ssepp::openssl did not define SSEPP_ENABLE_OPENSSL"
#endif
#include <ssepp/asio/server.hpp>
#include <ssepp/ssepp.hpp>

#include <cstdio>
#include <string>
#include <type_traits>

#if SSEPP_CONSUMER_BOOST
static_assert(std::is_same_v<ssepp::asio::error_code, boost::system::error_code>,
              "ssepp::boost must build ssepp/asio on Boost.Asio");
#else
static_assert(std::is_same_v<ssepp::asio::error_code, std::error_code>,
              "ssepp::asio must build ssepp/asio on standalone Asio");
#endif

namespace net = ssepp::asio::net;

int main() {
  // An Asio program: an event formatted inside the io_context.
  net::io_context io;
  std::string wire;
  ssepp::event_view ev;
  ev.data = "from asio";
  net::post(io, [&] {
    if (ssepp::format(wire, ev)) wire = "format failed";
  });
  io.run();
  if (wire != "data: from asio\n\n") {
    std::fprintf(stderr, "formatting inside the io_context gave '%s'\n", wire.c_str());
    return 1;
  }

  // ssepp's server on that Asio, listening on a free loopback port.
  ssepp::asio::server_options options;
  options.port = 0;
  options.threads = 1;
  ssepp::asio::server server(options);
  server.start();
  const auto port = server.port();
  server.stop();
  server.wait();
  if (port == 0) {
    std::fprintf(stderr, "the server did not listen\n");
    return 1;
  }

#if SSEPP_CONSUMER_OPENSSL
  // TLS: OpenSSL is linked and ssepp's TLS server type is there.
  net::ssl::context tls(net::ssl::context::tls_server);
  static_assert(std::is_class_v<ssepp::asio::tls_server>, "SSEPP_ENABLE_OPENSSL gives tls_server");
#endif

  std::printf("ssepp %d.%d.%d served on %s (port %u)%s\n", SSEPP_VERSION_MAJOR, SSEPP_VERSION_MINOR,
              SSEPP_VERSION_PATCH,
              SSEPP_CONSUMER_BOOST ? "Boost.Asio next to Beast" : "standalone Asio",
              static_cast<unsigned>(port), SSEPP_CONSUMER_OPENSSL ? ", TLS linked" : "");
  return 0;
}
