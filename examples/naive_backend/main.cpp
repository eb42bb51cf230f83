// naive_backend: the simplest event source worth a browser tab. GET /events
// answers 200 with the SSE headers and then, every --interval-ms, a plain
// message ("tick #N") and a named event (`event: cokolwiek`, "4444 #N"),
// readable cross-origin by the demo page that `www` serves.
//
// The whole recipe: an ssepp::asio::server, one hub channel behind a fixed
// path, a timer that publishes, and signals that stop the server gracefully.
#include <asio.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include <ssepp/asio/server.hpp>

#include "../common/command_line.hpp"

namespace {

constexpr const char* usage_text =
    R"(Usage: naive_backend [OPTION]...
Serve an endless event stream at GET /events: every interval a message event
"tick #N" and an event of type "cokolwiek" with data "4444 #N".

Options:
  --host ADDRESS      address to listen on (default 127.0.0.1)
  --port N            port to listen on; 0 picks a free one (default 8081)
  --interval-ms N     time between ticks in milliseconds (default 1000)
  --cors ORIGIN       origin whose pages may read the stream, with cookies;
                      repeatable; "*" allows any. Default: the www example's
                      http://127.0.0.1:8080 and http://localhost:8080
  -h, --help          print this help and exit
Prints "naive_backend: events at URL" once listening; SIGINT or SIGTERM
stops it.
)";

constexpr const char* channel = "ticks";

struct command_line {
  ssepp::asio::server_options server;
  std::chrono::milliseconds interval{1000};
  bool help = false;
};

command_line parse_command_line(int argc, char** argv) {
  command_line cl;
  cl.server.port = 8081;
  cl.server.threads = 2;         // a demo needs no more
  cl.server.events_prefix = "";  // only GET /events, routed below
  cl.server.log = [](ssepp::asio::log_level level, std::string_view text) {
    if (level >= ssepp::asio::log_level::warning)
      std::fprintf(stderr, "naive_backend: %.*s\n", static_cast<int>(text.size()), text.data());
  };
  std::vector<std::string> cors;
  example::arguments args(argc, argv);
  while (args.next()) {
    if (args.flag("-h") || args.flag("--help")) {
      cl.help = true;
    } else if (args.is("--host")) {
      cl.server.host = args.value();
    } else if (args.is("--port")) {
      cl.server.port = args.number<std::uint16_t>();
    } else if (args.is("--interval-ms")) {
      cl.interval = std::chrono::milliseconds{args.number<std::uint32_t>(1)};
    } else if (args.is("--cors")) {
      cors.push_back(args.value());
    } else {
      args.unknown();
    }
  }
  cl.server.cors_origins =
      cors.empty() ? std::vector<std::string>{"http://127.0.0.1:8080", "http://localhost:8080"}
                   : cors;
  return cl;
}

// Publishes one tick (a message and a "cokolwiek" event) every interval,
// on deadlines rather than delays so the ticks do not drift.
class ticker {
 public:
  ticker(asio::io_context& io, ssepp::asio::server::hub_type& hub,
         std::chrono::milliseconds interval)
      : timer_(io), hub_(hub), interval_(interval) {}

  void start() {
    timer_.expires_after(interval_);
    wait();
  }
  void stop() { timer_.cancel(); }

 private:
  void wait() {
    timer_.async_wait([this](std::error_code ec) {
      if (ec) return;  // stopped
      ++count_;
      const std::string n = std::to_string(count_);
      const std::string tick = "tick #" + n;
      const std::string named = "4444 #" + n;
      // No id given: the hub assigns one, so a reconnecting browser's
      // Last-Event-ID resumes right after the last tick it saw.
      hub_.publish(channel, ssepp::event_view{tick});
      hub_.publish(channel, ssepp::event_view{named, "cokolwiek"});
      timer_.expires_at(timer_.expiry() + interval_);
      wait();
    });
  }

  asio::steady_timer timer_;
  ssepp::asio::server::hub_type& hub_;
  std::chrono::milliseconds interval_;
  std::uint64_t count_ = 0;
};

int run(const command_line& cl) {
  ssepp::asio::server server(cl.server);
  server.sse_route("/events", [](const ssepp::asio::request& req) {
    // The prefix also matches "/events/x" and "/eventsx": only the exact
    // path is the stream; the rest is 404.
    return req.path == "/events" ? std::vector<std::string>{channel} : std::vector<std::string>{};
  });

  // The server runs on its own threads; this context runs the ticks and
  // waits for the signal to stop.
  asio::io_context io;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  ticker ticks(io, server.hub(), cl.interval);
  signals.async_wait([&](std::error_code, int) {
    ticks.stop();
    server.stop();
  });

  try {
    server.start();
  } catch (const std::exception& e) {
    // Typically the address: in use, or not one of this machine's.
    std::fprintf(stderr, "naive_backend: cannot listen on %s port %u: %s\n", cl.server.host.c_str(),
                 static_cast<unsigned>(cl.server.port), e.what());
    return 1;
  }
  std::printf("naive_backend: events at %s/events\n",
              example::http_origin(cl.server.host, server.port()).c_str());
  std::fflush(stdout);
  ticks.start();
  io.run();
  server.wait();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return example::main("naive_backend", usage_text, argc, argv, parse_command_line, run);
}
