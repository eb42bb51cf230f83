// beast_server: an ordinary Boost.Beast HTTP server (async sessions, each on
// its own strand, in the shape of Beast's own examples) that gains event
// streams from ssepp. Its route GET /hello is plain Beast; GET
// /events/{channel} is handed to ssepp in one call; POST
// /publish/{channel}?event=TYPE&id=ID publishes the body as data. Every
// event gets an id and stays in the channel's history, so a browser that
// reconnects with Last-Event-ID misses nothing; idle streams get heartbeats.
//
// Tests run this server: it is quiet on stdout after its first line.
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <ssepp/beast/event_stream.hpp>

#include "../common/command_line.hpp"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr const char* usage_text =
    R"(Usage: beast_server [OPTION]...
A Boost.Beast HTTP server with event streams by channel, fed by HTTP POSTs:
  GET  /hello                            a plain Beast route
  GET  /events/{channel}                 subscribe (Last-Event-ID header or
                                         ?lastEventId=ID resumes after ID)
  POST /publish/{channel}?event=TYPE&id=ID
                                         publish the body as data; TYPE and ID
                                         are optional; answers the event's id

Options:
  --host ADDRESS        address to listen on (default 127.0.0.1)
  --port N              port to listen on; 0 picks a free one (default 8083)
  --heartbeat-ms N      comment line to streams idle this long; 0: none
                        (default 15000)
  --history N           events kept per channel for replay (default 1024)
  --queue-events N      events queued per slow subscriber at most (default 1024)
  -h, --help            print this help and exit
Prints "beast_server: listening on http://HOST:PORT/" once listening (the
real port with --port 0); SIGINT or SIGTERM stops it gracefully.
)";

struct command_line {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8083;
  ssepp::hub_options hub;
  bool help = false;
};

command_line parse_command_line(int argc, char** argv) {
  command_line cl;
  example::arguments args(argc, argv);
  while (args.next()) {
    if (args.flag("-h") || args.flag("--help")) {
      cl.help = true;
    } else if (args.is("--host")) {
      cl.host = args.value();
    } else if (args.is("--port")) {
      cl.port = args.number<std::uint16_t>();
    } else if (args.is("--heartbeat-ms")) {
      cl.hub.heartbeat_interval = std::chrono::milliseconds{args.number<std::uint32_t>()};
    } else if (args.is("--history")) {
      cl.hub.history_events = args.number<std::size_t>();
    } else if (args.is("--queue-events")) {
      cl.hub.max_queued_events = args.number<std::size_t>(1);
    } else {
      args.unknown();
    }
  }
  return cl;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// One HTTP connection: reads requests and answers them, until the client
// closes, a timeout, or an event stream takes the connection over.
class session : public std::enable_shared_from_this<session> {
 public:
  session(tcp::socket socket, ssepp::beast::hub& hub) : stream_(std::move(socket)), hub_(hub) {}

  void run() {
    // On the session's strand from the start, as every later handler is.
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&session::read, shared_from_this()));
  }

 private:
  void read() {
    req_ = {};
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, req_,
                     beast::bind_front_handler(&session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream) return close();
    if (ec) return;  // timeout, reset, malformed request: the session ends
    route();
  }

  void route() {
    const std::string_view target(req_.target().data(), req_.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    const std::string_view query =
        path.size() < target.size() ? target.substr(path.size() + 1) : std::string_view{};
    const auto method = req_.method();

    if (path == "/hello") {
      if (method != http::verb::get) return reply(http::status::method_not_allowed, "", "GET");
      return reply(http::status::ok, "hello from Beast\n");
    }

    if (starts_with(path, "/events/")) {
      const std::string channel(path.substr(8));
      if (channel.empty() || channel.find('/') != std::string::npos)
        return reply(http::status::not_found, "no such event stream\n");
      // HEAD too: an event stream is all body, which HEAD must not have.
      if (method != http::verb::get)
        return reply(http::status::method_not_allowed, "an event stream is read with GET\n", "GET");
      ssepp::beast::serve_events(hub_, std::move(stream_), req_, {channel});
      return;  // the connection is the event stream's now
    }

    if (starts_with(path, "/publish/")) {
      const std::string channel(path.substr(9));
      if (channel.empty() || channel.find('/') != std::string::npos)
        return reply(http::status::not_found, "publish to /publish/{channel}\n");
      if (method != http::verb::post)
        return reply(http::status::method_not_allowed, "publish with POST\n", "POST");
      // query_param cannot tell a missing parameter from one that does not
      // decode: refuse a malformed escape rather than publish with defaults.
      if (!ssepp::http::percent_decode(query, true))
        return reply(http::status::bad_request, "malformed percent-escape in the query\n");
      const auto type = ssepp::http::query_param(query, "event").value_or("");
      const auto id = ssepp::http::query_param(query, "id").value_or("");
      const auto result = hub_.publish(channel, {req_.body(), type, id});
      if (result.error) return reply(http::status::bad_request, result.error.message() + "\n");
      return reply(http::status::ok, result.id);
    }

    reply(http::status::not_found, "not found\n");
  }

  void reply(http::status status, std::string body, const char* allow = nullptr) {
    auto res = std::make_shared<http::response<http::string_body>>(status, req_.version());
    res->set(http::field::content_type, "text/plain; charset=utf-8");
    if (allow) res->set(http::field::allow, allow);
    res->keep_alive(req_.keep_alive());
    res->body() = std::move(body);
    res->prepare_payload();
    if (req_.method() == http::verb::head) res->body().clear();  // the length stays
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
                        if (ec) return;
                        if (!res->keep_alive()) return self->close();
                        self->read();
                      });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> req_;
  ssepp::beast::hub& hub_;
};

// Accepts connections, each with a strand of its own, until stopped.
class listener : public std::enable_shared_from_this<listener> {
 public:
  listener(net::io_context& io, const tcp::endpoint& endpoint, ssepp::beast::hub& hub)
      : io_(io), acceptor_(net::make_strand(io)), hub_(hub) {
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(net::socket_base::max_listen_connections);
  }

  void run() { accept(); }
  void stop() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      self->acceptor_.close(ignored);
    });
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  void accept() {
    acceptor_.async_accept(net::make_strand(io_),
                           beast::bind_front_handler(&listener::on_accept, shared_from_this()));
  }
  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted) return;  // stopped
    if (ec) {
      std::fprintf(stderr, "beast_server: accept failed: %s\n", ec.message().c_str());
    } else {
      std::make_shared<session>(std::move(socket), hub_)->run();
    }
    accept();
  }

  net::io_context& io_;
  tcp::acceptor acceptor_;
  ssepp::beast::hub& hub_;
};

int run(const command_line& cl) {
  net::io_context io;
  // The hub, and the driver that runs its timers (heartbeats, history
  // aging, write coalescing) on the io_context.
  ssepp::beast::hub_driver driver(io.get_executor());
  ssepp::beast::hub hub(driver.wire(cl.hub));
  driver.start(hub);

  std::shared_ptr<listener> server;
  try {
    const tcp::endpoint endpoint(net::ip::make_address(cl.host), cl.port);
    server = std::make_shared<listener>(io, endpoint, hub);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "beast_server: cannot listen on %s port %u: %s\n", cl.host.c_str(),
                 static_cast<unsigned>(cl.port), e.what());
    return 1;
  }
  server->run();
  std::printf("beast_server: listening on %s/\n",
              example::http_origin(cl.host, server->port()).c_str());
  std::fflush(stdout);

  // SIGINT or SIGTERM: stop accepting, let every stream take what is queued
  // (for up to 2 s), then end the loop (idle keep-alive sessions with it).
  net::signal_set signals(io, SIGINT, SIGTERM);
  net::steady_timer drain(io);
  std::chrono::steady_clock::time_point deadline;
  std::function<void()> wait_for_drain = [&] {
    if (hub.stats().subscribers == 0 || std::chrono::steady_clock::now() >= deadline) {
      driver.stop();
      return io.stop();
    }
    drain.expires_after(std::chrono::milliseconds(20));
    drain.async_wait([&](beast::error_code) { wait_for_drain(); });
  };
  signals.async_wait([&](beast::error_code, int) {
    server->stop();
    hub.close_all();
    deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    wait_for_drain();
  });
  io.run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return example::main("beast_server", usage_text, argc, argv, parse_command_line, run);
}
