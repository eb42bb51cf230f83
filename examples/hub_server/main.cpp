// hub_server: the production pattern. Browsers subscribe to a channel (say,
// a company id) with GET /events/{channel}; the application publishes to it
// with POST /publish/{channel}?event=TYPE and the body as data. Every event
// gets an id and stays in the channel's history, so a browser that
// reconnects with Last-Event-ID misses nothing; idle streams get heartbeats;
// a cookie check stands in for the application's session check.
//
// With --redis, several of them share their channels through Redis (the
// ssepp::redis backplane): publish to any, subscribe to any, resume on any.
//
// Benchmarks and tests run this server: it is quiet on stdout after its
// first line, and logs only warnings and errors (to stderr) unless --verbose.
#include <asio.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <memory>
#include <thread>

#include <ssepp/asio/metrics.hpp>
#include <ssepp/asio/server.hpp>
#if SSEPP_HUB_SERVER_REDIS
#include "../common/redis_node.hpp"
#endif

#include "../common/command_line.hpp"
#include "../common/server_main.hpp"

namespace {

constexpr const char* usage_text =
    R"(Usage: hub_server [OPTION]...
Serve event streams by channel, fed by HTTP POSTs:
  GET  /events/{channel}                 subscribe (Last-Event-ID header or
                                         ?lastEventId=ID resumes after ID)
  POST /publish/{channel}?event=TYPE&id=ID
                                         publish the body as data; TYPE and ID
                                         are optional; answers the event's id
  GET  /metrics                          Prometheus metrics (with --metrics)

Options:
  --host ADDRESS        address to listen on (default 127.0.0.1)
  --port N              port to listen on; 0 picks a free one (default 8082)
  --threads N           I/O threads; 0: one per core (default 0)
  --cors ORIGIN         origin whose pages may subscribe and publish, with
                        cookies; repeatable; "*" allows any (default: none,
                        same-origin only)
  --allowed-host NAME   a host name the server answers for (NAME, NAME:PORT,
                        *.DOMAIN or *); repeatable; others get 421 (default:
                        loopback names only when --host is a loopback
                        address, else any)
  --static DIR          also serve the files in DIR
  --auth-cookie NAME=VALUE
                        /events/, /publish/ (and /metrics) require the
                        cookie NAME with this VALUE: 401 without it, 403
                        with another value (default: no check)
  --metrics             serve GET /metrics: the hub's and the server's
                        counters in Prometheus's text format (default: off)
  --heartbeat-ms N      comment line to streams idle this long; 0: none
                        (default 15000)
  --retry-ms N          reconnection delay sent to each new stream
                        (default 3000)
  --history N           events kept per channel for replay (default 1024)
  --history-bytes N     bytes of history kept per channel (default 1048576)
  --history-total-bytes N
                        bytes of history kept across all channels, the
                        oldest evicted first (default 67108864)
  --max-channels N      channels at most; a new one replaces the idle channel
                        with the oldest history (default 100000)
  --max-connections N   open connections at most; more get 503 (default 10000)
  --queue-events N      events queued per slow subscriber at most (default 1024)
  --queue-bytes N       bytes queued per slow subscriber at most
                        (default 1048576)
  --send-buffer-bytes N bytes the kernel may hold unsent per stream; 0: the
                        kernel's own tuning (default 262144)
  --coalesce-us N       longest a write may wait for more events while a
                        stream hears more than --coalesce-rate events/s;
                        0: never (default 10000)
  --coalesce-rate N     events/s per stream above which writes wait; 0: any
                        write within --coalesce-us of the last (default 200)
  --overflow POLICY     when a subscriber's queue is full: disconnect (it
                        reconnects and replays from history) or drop-oldest
                        (default disconnect)
  --redis redis://HOST[:PORT][/DB]
                        share channels with every hub_server on this Redis:
                        publishing goes through it (503 with Retry-After
                        while it is unreachable), ids are assigned by it, and
                        a client resumes on any server (default: none)
  --redis-prefix P      the Redis key prefix; servers with the same one share
                        channels and ids (default ssepp:)
  --verbose             also log every stream's end and, on exit, the hub's
                        counters (to stderr)
  -h, --help            print this help and exit
Prints "hub_server: listening on http://HOST:PORT/" once listening (the real
port with --port 0); SIGINT or SIGTERM stops it gracefully.
)";

struct command_line {
  ssepp::asio::server_options server;
  std::optional<std::string> cookie_name;
  std::string cookie_value;
  std::optional<std::string> redis_url;
  std::string redis_prefix = "ssepp:";
  bool metrics = false;
  bool verbose = false;
  bool help = false;
};

command_line parse_command_line(int argc, char** argv) {
  command_line cl;
  auto& o = cl.server;
  o.port = 8082;
  o.events_prefix = "/events/";
  o.publish_prefix = "/publish/";
  example::arguments args(argc, argv);
  while (args.next()) {
    if (args.flag("-h") || args.flag("--help")) {
      cl.help = true;
    } else if (args.flag("--verbose")) {
      cl.verbose = true;
    } else if (args.flag("--metrics")) {
      cl.metrics = true;
    } else if (args.is("--host")) {
      o.host = args.value();
    } else if (args.is("--port")) {
      o.port = args.number<std::uint16_t>();
    } else if (args.is("--threads")) {
      o.threads = args.number<std::size_t>(0, 1024);
    } else if (args.is("--cors")) {
      o.cors_origins.push_back(args.value());
    } else if (args.is("--allowed-host")) {
      o.allowed_hosts.push_back(args.value());
    } else if (args.is("--static")) {
      o.static_root = args.value();
    } else if (args.is("--auth-cookie")) {
      const std::string pair = args.value();
      const std::size_t equals = pair.find('=');
      if (equals == 0 || equals == std::string::npos)
        throw example::usage_error("--auth-cookie needs NAME=VALUE, got '" + pair + "'");
      cl.cookie_name = pair.substr(0, equals);
      cl.cookie_value = pair.substr(equals + 1);
    } else if (args.is("--heartbeat-ms")) {
      o.hub.heartbeat_interval = std::chrono::milliseconds{args.number<std::uint32_t>()};
    } else if (args.is("--retry-ms")) {
      o.hub.initial_retry = std::chrono::milliseconds{args.number<std::uint32_t>()};
    } else if (args.is("--history")) {
      o.hub.history_events = args.number<std::size_t>();
    } else if (args.is("--history-bytes")) {
      o.hub.history_bytes = args.number<std::size_t>();
    } else if (args.is("--history-total-bytes")) {
      o.hub.history_total_bytes = args.number<std::size_t>();
    } else if (args.is("--max-channels")) {
      o.hub.max_channels = args.number<std::size_t>(1);
    } else if (args.is("--max-connections")) {
      o.max_connections = args.number<std::size_t>(1);
    } else if (args.is("--queue-events")) {
      o.hub.max_queued_events = args.number<std::size_t>(1);
    } else if (args.is("--queue-bytes")) {
      o.hub.max_queued_bytes = args.number<std::size_t>(1);
    } else if (args.is("--send-buffer-bytes")) {
      o.send_buffer_bytes = args.number<std::size_t>();
    } else if (args.is("--coalesce-us")) {
      o.hub.coalesce_window = std::chrono::microseconds{args.number<std::uint32_t>()};
    } else if (args.is("--coalesce-rate")) {
      o.hub.coalesce_rate = static_cast<double>(args.number<std::uint32_t>());
    } else if (args.is("--redis")) {
      cl.redis_url = args.value();
    } else if (args.is("--redis-prefix")) {
      cl.redis_prefix = args.value();
      if (cl.redis_prefix.empty()) throw example::usage_error("--redis-prefix needs a prefix");
    } else if (args.is("--overflow")) {
      const std::string policy = args.value();
      if (policy == "disconnect") {
        o.hub.overflow = ssepp::overflow_policy::disconnect;
      } else if (policy == "drop-oldest") {
        o.hub.overflow = ssepp::overflow_policy::drop_oldest;
      } else {
        throw example::usage_error("--overflow is disconnect or drop-oldest, got '" + policy + "'");
      }
    } else {
      args.unknown();
    }
  }
  // Heartbeats are sent from the server's tick: tick at least twice per
  // interval so an idle stream hears from us within 1.5 intervals.
  const auto heartbeat = o.hub.heartbeat_interval;
  if (heartbeat.count() > 0 && heartbeat < 2 * o.tick_interval)
    o.tick_interval = std::max(std::chrono::milliseconds{10}, heartbeat / 2);
  return cl;
}

constexpr std::string_view metrics_path = "/metrics";

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

int run(command_line& cl) {
  auto& o = cl.server;
  std::error_code ec;
  if (!o.static_root.empty() && !std::filesystem::is_directory(o.static_root, ec)) {
    std::fprintf(stderr, "hub_server: --static '%s' is not a folder\n", o.static_root.c_str());
    return 1;
  }
  const bool verbose = cl.verbose;
  o.log = example::stderr_log("hub_server", verbose);
  if (cl.cookie_name) {
    // Runs before anything is subscribed or published. A real application
    // looks the session cookie up in its session store here.
    // The metrics page tells how many subscribe to what: private too.
    o.authorize = [name = *cl.cookie_name, value = cl.cookie_value,
                   prefixes = std::array<std::string, 2>{o.events_prefix, o.publish_prefix},
                   metrics = cl.metrics](const ssepp::asio::request& req) {
      ssepp::asio::auth_result verdict;
      if (!starts_with(req.path, prefixes[0]) && !starts_with(req.path, prefixes[1]) &&
          !(metrics && req.path == metrics_path))
        return verdict;  // static files are public
      const auto cookie = req.cookie(name);
      if (!cookie) {
        verdict.status = 401;
        verdict.message = "log in first: cookie " + name + " missing\n";
      } else if (*cookie != value) {
        verdict.status = 403;
        verdict.message = "cookie " + name + " does not grant access\n";
      }
      return verdict;
    };
  }

#if SSEPP_HUB_SERVER_REDIS
  example::redis_node redis("hub_server");
  if (cl.redis_url && !redis.configure(*cl.redis_url, cl.redis_prefix, o)) return 1;
#else
  if (cl.redis_url) return example::redis_not_built("hub_server");
#endif

  ssepp::asio::server server(o);
  if (cl.metrics) {
    server.route("GET", std::string(metrics_path), [&server](const ssepp::asio::request&) {
      return ssepp::asio::metrics_response(server);
    });
  }
#if SSEPP_HUB_SERVER_REDIS
  const auto redis_running = redis.start(server);
#endif
  asio::io_context io;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code, int) { server.stop(); });

  if (!example::start_listening("hub_server", server)) return 1;
  io.run();
  server.wait();

  if (verbose) {
    const auto s = server.hub().stats();
    using std::to_string;
    const std::string counters =
        to_string(s.published) + " events published, " + to_string(s.deliveries) +
        " delivered in " + to_string(s.writes) + " writes (" + to_string(s.bytes_written) +
        " bytes), " + to_string(s.heartbeats) + " heartbeats, " +
        to_string(s.slow_consumer_disconnects) + " slow subscribers disconnected, " +
        to_string(s.dropped_events) + " events dropped, " + to_string(s.history_evictions) +
        " evicted from history";
    std::fprintf(stderr, "hub_server: stopped; %s\n", counters.c_str());
#if SSEPP_HUB_SERVER_REDIS
    if (const auto* backplane = redis.backplane()) {
      const auto b = backplane->stats();
      std::fprintf(
          stderr,
          "hub_server: Redis: %llu events published in %llu scripts, %llu applied, "
          "%llu stream reads, %llu holes (%llu not filled), %llu epoch changes, "
          "%llu sessions; resumes: %llu local, %llu from Redis, %llu with a gap event\n",
          static_cast<unsigned long long>(b.published),
          static_cast<unsigned long long>(b.publish_calls),
          static_cast<unsigned long long>(b.applied), static_cast<unsigned long long>(b.reads),
          static_cast<unsigned long long>(b.holes), static_cast<unsigned long long>(b.lost_holes),
          static_cast<unsigned long long>(b.epochs), static_cast<unsigned long long>(b.connects),
          static_cast<unsigned long long>(b.resumes_local),
          static_cast<unsigned long long>(b.resumes_redis),
          static_cast<unsigned long long>(b.resumes_gap));
    }
#endif
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return example::main("hub_server", usage_text, argc, argv, parse_command_line, run);
}
