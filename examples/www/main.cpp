// www: serves the demo page (public/front.html) from a port of its own, so
// the page reads naive_backend's events cross-origin, as real sites read an
// API on another host. A static file server and nothing else: the SSE
// endpoint is turned off.
#include <asio.hpp>

#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include <ssepp/asio/server.hpp>

#include "../common/command_line.hpp"

namespace {

constexpr const char* usage_text =
    R"(Usage: www [OPTION]...
Serve the demo page front.html, which shows the events of naive_backend.

Options:
  --host ADDRESS   address to listen on (default 127.0.0.1)
  --port N         port to listen on; 0 picks a free one (default 8080)
  --root DIR       folder to serve (default: the source tree's
                   examples/www/public, else the public folder next to
                   this program)
  --backend URL    event stream the page opens; added to the printed link
                   as ?backend=URL (default: the page's own host, port 8081,
                   path /events)
  -h, --help       print this help and exit
Prints "www: open URL" once listening; SIGINT or SIGTERM stops it.
)";

struct command_line {
  ssepp::asio::server_options server;
  std::string backend;
  bool help = false;
};

// The source folder when it is still there (edits show on reload), else the
// copy the build puts next to the program.
std::string default_root(const char* argv0) {
  std::error_code ec;
  if (std::filesystem::is_directory(SSEPP_WWW_SOURCE_ROOT, ec)) return SSEPP_WWW_SOURCE_ROOT;
  return (std::filesystem::path(argv0).parent_path() / "public").string();
}

command_line parse_command_line(int argc, char** argv) {
  command_line cl;
  cl.server.port = 8080;
  cl.server.threads = 2;         // a demo needs no more
  cl.server.events_prefix = "";  // static files only
  cl.server.log = [](ssepp::asio::log_level level, std::string_view text) {
    if (level >= ssepp::asio::log_level::warning)
      std::fprintf(stderr, "www: %.*s\n", static_cast<int>(text.size()), text.data());
  };
  example::arguments args(argc, argv);
  while (args.next()) {
    if (args.flag("-h") || args.flag("--help")) {
      cl.help = true;
    } else if (args.is("--host")) {
      cl.server.host = args.value();
    } else if (args.is("--port")) {
      cl.server.port = args.number<std::uint16_t>();
    } else if (args.is("--root")) {
      cl.server.static_root = args.value();
    } else if (args.is("--backend")) {
      cl.backend = args.value();
    } else {
      args.unknown();
    }
  }
  if (cl.server.static_root.empty()) cl.server.static_root = default_root(argv[0]);
  return cl;
}

// Percent-encodes a query parameter value (RFC 3986 unreserved kept).
std::string query_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '-' ||
        u == '.' || u == '_' || u == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 15]);
    }
  }
  return out;
}

int run(const command_line& cl) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(std::filesystem::path(cl.server.static_root) / "front.html",
                                        ec)) {
    std::fprintf(stderr, "www: no front.html in '%s'; point --root at examples/www/public\n",
                 cl.server.static_root.c_str());
    return 1;
  }

  ssepp::asio::server server(cl.server);
  asio::io_context io;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code, int) { server.stop(); });

  try {
    server.start();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "www: cannot listen on %s port %u: %s\n", cl.server.host.c_str(),
                 static_cast<unsigned>(cl.server.port), e.what());
    return 1;
  }
  std::string url = example::http_origin(cl.server.host, server.port()) + "/front.html";
  if (!cl.backend.empty()) url += "?backend=" + query_encode(cl.backend);
  std::printf("www: open %s\n", url.c_str());
  std::fflush(stdout);
  io.run();
  server.wait();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return example::main("www", usage_text, argc, argv, parse_command_line, run);
}
