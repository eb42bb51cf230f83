// ssepp::beast::serve_events in a small Boost.Beast server over real
// loopback: the exact head, events, Last-Event-ID (header and
// ?lastEventId=) replay, a client leaving (unsubscribed promptly), Beast's
// timeouts turned off for the idle stream, the hub driver's heartbeats,
// and a clean stop (io_context::run returns by itself). That this file
// compiles is the proof that Beast and ssepp share a translation unit: it
// is built without SSEPP_ASIO_BOOST, which the header sets.
//
// The client is a blocking POSIX socket reading raw bytes; every wait polls
// a condition against a deadline, nothing sleeps to wait for something.
#include <ssepp/beast/event_stream.hpp>

#include <ssepp/asio/server.hpp>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <doctest/doctest.h>

#include "loopback_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

static_assert(SSEPP_ASIO_BOOST == 1, "the Beast header chooses the Boost flavour");

using namespace std::chrono_literals;
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

using ssepp_test::client;
using ssepp_test::eventually;
using ssepp_test::patience;

// A Beast HTTP server of the usual shape (a session per connection on its
// own strand, reading a request with a timeout), serving GET /events/{channel}
// with ssepp and 404 for anything else. Two I/O threads, so the strands
// matter.
struct beast_server {
  struct session : std::enable_shared_from_this<session> {
    session(beast_server& s, tcp::socket socket) : server(s), stream(std::move(socket)) {}

    void run() {
      net::dispatch(stream.get_executor(), [self = shared_from_this()] { self->read(); });
    }
    void read() {
      // Beast's examples time out a request after 30 s; this one sooner,
      // so a test can show the event stream outlives it.
      stream.expires_after(server.request_timeout);
      http::async_read(stream, buffer, req,
                       [self = shared_from_this()](beast::error_code ec, std::size_t) {
                         if (!ec) self->handle();
                       });
    }
    void handle() {
      const std::string_view target(req.target().data(), req.target().size());
      if (target.substr(0, 8) == "/events/") {
        const std::string channel(target.substr(8, target.find('?') - 8));
        ssepp::beast::serve_events(server.hub, std::move(stream), req, {channel});
        return;
      }
      auto res = std::make_shared<http::response<http::string_body>>(http::status::not_found,
                                                                     req.version());
      res->body() = "not found\n";
      res->prepare_payload();
      http::async_write(stream, *res,
                        [self = shared_from_this(), res](beast::error_code, std::size_t) {
                          beast::error_code ignored;
                          self->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
                        });
    }

    beast_server& server;
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
  };

  explicit beast_server(ssepp::hub_options options = no_retry(),
                        std::chrono::milliseconds timeout = std::chrono::seconds{30})
      : request_timeout(timeout),
        acceptor(net::make_strand(io), tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)),
        driver(io.get_executor()),
        hub(driver.wire(std::move(options))) {
    driver.start(hub);
    accept();
    for (auto& t : threads) t = std::thread([this] { io.run(); });
  }
  ~beast_server() { stop(); }

  static ssepp::hub_options no_retry() {
    ssepp::hub_options o;
    o.initial_retry = std::nullopt;
    return o;
  }

  void accept() {
    acceptor.async_accept(net::make_strand(io), [this](beast::error_code ec, tcp::socket s) {
      if (ec) return;
      std::make_shared<session>(*this, std::move(s))->run();
      accept();
    });
  }

  // A graceful stop, as a program does it: no new connections, streams get
  // what is queued, the driver stops; then run() returns on its own, with
  // no io_context::stop(). Returns whether it did, within patience.
  bool stop() {
    if (stopped) return true;
    stopped = true;
    net::post(acceptor.get_executor(), [this] { acceptor.close(); });
    hub.close_all();
    eventually([&] { return hub.stats().subscribers == 0; });
    driver.stop();
    bool returned = true;
    for (auto& t : threads) {
      auto joined = std::async(std::launch::async, [&t] { t.join(); });
      if (joined.wait_for(patience) != std::future_status::ready) {
        returned = false;
        io.stop();
      }
    }
    return returned;
  }

  std::uint16_t port() { return acceptor.local_endpoint().port(); }

  // Connects and sends a GET for `target` with `fields` ("Name: value\r\n"...).
  std::unique_ptr<client> get(const std::string& target, const std::string& fields = "") {
    auto c = std::make_unique<client>(port());
    REQUIRE(c->send_all("GET " + target + " HTTP/1.1\r\nHost: test\r\n" + fields + "\r\n"));
    return c;
  }

  std::chrono::milliseconds request_timeout;
  net::io_context io;
  tcp::acceptor acceptor;
  ssepp::beast::hub_driver driver;
  ssepp::beast::hub hub;
  std::thread threads[2];
  bool stopped = false;
};

}  // namespace

TEST_CASE("the Beast server's event stream head is exact, without Content-Length") {
  beast_server s;
  auto c = s.get("/events/a");
  REQUIRE(c->read_until_contains("\r\n\r\n"));
  CHECK(c->data() ==
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: text/event-stream\r\n"
        "Cache-Control: no-cache\r\n"
        "X-Accel-Buffering: no\r\n"
        "Content-Encoding: identity\r\n"
        "Connection: close\r\n"
        "\r\n");
}

TEST_CASE("events published to the channel arrive on the Beast connection") {
  beast_server s;
  auto c = s.get("/events/a");
  REQUIRE(c->read_until_contains("\r\n\r\n"));
  s.hub.publish("a", {"one", "", "1"});
  s.hub.publish("b", {"elsewhere"});
  s.hub.publish("a", {"two", "greeting", "2"});
  REQUIRE(c->read_until_contains("data: two\n\n"));
  CHECK(c->body() == "id: 1\ndata: one\n\nevent: greeting\nid: 2\ndata: two\n\n");
}

TEST_CASE("a Last-Event-ID header replays the events after it") {
  beast_server s;
  s.hub.publish("a", {"one", "", "1"});
  s.hub.publish("a", {"two", "", "2"});
  auto c = s.get("/events/a", "Last-Event-ID: 1\r\n");
  REQUIRE(c->read_until_contains("data: two\n\n"));
  CHECK(c->body() == "id: 2\ndata: two\n\n");
}

TEST_CASE("?lastEventId= in the target replays the events after it") {
  beast_server s;
  s.hub.publish("a", {"one", "", "x 1"});
  s.hub.publish("a", {"two", "", "x 2"});
  auto c = s.get("/events/a?lastEventId=x%201");
  REQUIRE(c->read_until_contains("data: two\n\n"));
  CHECK(c->body() == "id: x 2\ndata: two\n\n");
}

TEST_CASE("a Beast client that leaves is unsubscribed promptly") {
  beast_server s;
  auto c = s.get("/events/a");
  REQUIRE(c->read_until_contains("\r\n\r\n"));
  REQUIRE(s.hub.stats().subscribers == 1);
  c->close();
  // The default heartbeat (15 s) is far off: the read watch noticed it.
  CHECK(eventually([&] { return s.hub.stats().subscribers == 0; }));
}

TEST_CASE("the hub driver's heartbeats reach an idle Beast stream") {
  ssepp::hub_options o = beast_server::no_retry();
  o.heartbeat_interval = 30ms;
  beast_server s(o);
  auto c = s.get("/events/a");
  CHECK(c->read_until([&] { return c->body().find(":\n:\n") != std::string::npos; }));
  // Counted when the write completes, which may be after the client read it.
  CHECK(eventually([&] { return s.hub.stats().heartbeats >= 2; }));
}

TEST_CASE("Beast's request timeout does not cut the idle event stream") {
  ssepp::hub_options o = beast_server::no_retry();
  o.heartbeat_interval = 20ms;
  beast_server s(o, 100ms);  // the session's expires_after before reading
  auto c = s.get("/events/a");
  // Heartbeats keep coming well past the request's timeout.
  const auto start = std::chrono::steady_clock::now();
  CHECK(c->read_until([&] { return std::chrono::steady_clock::now() - start > 400ms; }));
  CHECK_FALSE(c->ended());
  s.hub.publish("a", {"alive"});
  CHECK(c->read_until_contains("data: alive\n\n"));
}

TEST_CASE("a non-GET request to serve_events gets the connection closed, no response") {
  beast_server s;
  auto c = std::make_unique<client>(s.port());
  REQUIRE(c->send_all("POST /events/a HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n"));
  CHECK(c->read_to_end());
  CHECK(c->data().empty());
  CHECK(s.hub.stats().subscribers == 0);
}

TEST_CASE("the Beast server's other routes are untouched") {
  beast_server s;
  auto c = s.get("/other");
  REQUIRE(c->read_until_contains("not found\n"));
  CHECK(c->data().find("HTTP/1.1 404 Not Found\r\n") == 0);
}

TEST_CASE("stopping lets queued events out, ends the streams, and run() returns by itself") {
  beast_server s;
  auto c = s.get("/events/a");
  REQUIRE(c->read_until_contains("\r\n\r\n"));
  s.hub.publish("a", {"last", "", "9"});
  CHECK(s.stop());
  CHECK(c->read_to_end());
  CHECK(c->body() == "id: 9\ndata: last\n\n");
}

TEST_CASE(
    "README: Beast shutdown, close_all then driver.stop() at once, still drains every event") {
  ssepp::hub_options o = beast_server::no_retry();
  o.max_events_per_write = 4;  // the backlog takes many writes, each within the window
  beast_server s{o};
  auto c = s.get("/events/a");
  REQUIRE(c->read_until_contains("\r\n\r\n"));
  std::string expected;
  for (int i = 1; i <= 40; ++i) {
    const std::string n = std::to_string(i);
    s.hub.publish("a", {n, "", n});
    expected += "id: " + n + "\ndata: " + n + "\n\n";
  }
  // As the README's snippet: no wait between them, so no flush can help.
  s.hub.close_all(ssepp::event_view{"bye", "shutdown"});
  s.driver.stop();
  CHECK(c->read_to_end());
  CHECK(c->body() == expected + "event: shutdown\ndata: bye\n\n");
  CHECK(s.stop());
}

TEST_CASE("ssepp's own server runs on Beast's tcp_stream too (basic_server<tcp_stream>)") {
  ssepp::asio::server_options o;
  o.port = 0;
  o.threads = 2;
  o.hub.epoch = "b";
  o.hub.initial_retry = std::nullopt;
  o.publish_prefix = "/publish/";
  ssepp::asio::basic_server<beast::tcp_stream> server(o);
  server.start();
  client c(server.port());
  REQUIRE(c.send_all("GET /events/news HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  REQUIRE(c.read_until_contains("\r\n\r\n"));
  CHECK(c.data().rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  REQUIRE(eventually([&] { return server.hub().stats().subscribers == 1; }));
  client publisher(server.port());
  REQUIRE(publisher.send_all(
      "POST /publish/news HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello"));
  // The answer's body is the id (the connection stays open: keep-alive).
  CHECK(publisher.read_until_contains("\r\n\r\nb-1"));
  REQUIRE(c.read_until_contains("data: hello\n\n"));
  CHECK(c.body() == "id: b-1\ndata: hello\n\n");
  c.close();
  CHECK(eventually([&] { return server.hub().stats().subscribers == 0; }));
}
