// What the server examples on ssepp::asio::server share and a reader need
// not study: where their log lines go, and starting to listen with the
// first line the tests wait for.
#pragma once

#include <cstdio>
#include <exception>
#include <functional>
#include <string_view>

#include <ssepp/asio/server.hpp>

#include "command_line.hpp"

namespace example {

/// Log lines to stderr, prefixed with `program`: warnings and errors, and
/// with `verbose` everything (a client leaving is logged at debug level:
/// normal, not a warning).
inline std::function<void(ssepp::asio::log_level, std::string_view)> stderr_log(const char* program,
                                                                                bool verbose) {
  return [program, verbose](ssepp::asio::log_level level, std::string_view text) {
    if (verbose || level >= ssepp::asio::log_level::warning)
      std::fprintf(stderr, "%s: %.*s\n", program, static_cast<int>(text.size()), text.data());
  };
}

/// Starts `s` listening and prints "PROGRAM: listening on http://HOST:PORT/"
/// (the real port with --port 0) as the first line of stdout, or why it
/// cannot listen (false).
template <class Server>
bool start_listening(const char* program, Server& s) {
  const auto& o = s.options();
  try {
    s.start();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: cannot listen on %s port %u: %s\n", program, o.host.c_str(),
                 static_cast<unsigned>(o.port), e.what());
    return false;
  }
  std::printf("%s: listening on %s/\n", program, http_origin(o.host, s.port()).c_str());
  std::fflush(stdout);
  return true;
}

/// For --redis in a program built without ssepp::redis: says so; exit 1.
inline int redis_not_built(const char* program) {
  std::fprintf(stderr,
               "%s: built without the Redis backplane (ssepp::redis needs libhiredis-dev): --redis "
               "is not available\n",
               program);
  return 1;
}

}  // namespace example
