// start_event_stream over real loopback sockets: the exact head, subscribed
// before the head, replay, a client leaving (unsubscribed promptly), stray
// client bytes dropped and bounded, every way a stream ends reported once
// (never inside the start_event_stream call), nothing kept alive after the
// end, and a stream behind a layer (as TLS is) watched by reading through
// it. Built twice: on standalone Asio and, as test_event_stream_boost, on
// Boost.Asio.
//
// The client is a blocking POSIX socket reading raw bytes; every wait polls
// a condition against a deadline, nothing sleeps to wait for something.
#include <ssepp/asio/event_stream.hpp>

#include <doctest/doctest.h>

#include "loopback_client.hpp"

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
namespace net = ssepp::asio::net;
using tcp = net::ip::tcp;
using ssepp::close_reason;

namespace {

using ssepp_test::client;
using ssepp_test::eventually;
using ssepp_test::patience;

// Stands for a TLS stream: its bytes go through it, not around it, so the
// stream must be watched by reading through it (the layered read path).
class layered_stream {
 public:
  using executor_type = tcp::socket::executor_type;
  explicit layered_stream(tcp::socket s) : next_(std::move(s)) {}
  executor_type get_executor() { return next_.get_executor(); }
  tcp::socket& next_layer() { return next_; }
  template <class Buffers, class Handler>
  auto async_read_some(const Buffers& b, Handler&& h) {
    ++reads;
    return next_.async_read_some(b, std::forward<Handler>(h));
  }
  template <class Buffers, class Handler>
  auto async_write_some(const Buffers& b, Handler&& h) {
    ++writes;
    return next_.async_write_some(b, std::forward<Handler>(h));
  }
  std::atomic<int> reads{0};
  std::atomic<int> writes{0};

 private:
  tcp::socket next_;
};

// What on_close reported.
struct close_log {
  std::mutex mutex;
  std::vector<std::pair<close_reason, std::error_code>> reports;

  std::function<void(close_reason, std::error_code)> handler() {
    return [this](close_reason why, std::error_code ec) {
      std::lock_guard<std::mutex> lock(mutex);
      reports.emplace_back(why, ec);
    };
  }
  std::size_t count() {
    std::lock_guard<std::mutex> lock(mutex);
    return reports.size();
  }
  close_reason first() {
    std::lock_guard<std::mutex> lock(mutex);
    return reports.at(0).first;
  }
  std::error_code first_error() {
    std::lock_guard<std::mutex> lock(mutex);
    return reports.at(0).second;
  }
};

// An acceptor and an io_context run by one thread; `accept()` returns the
// server side of a new client connection.
template <class Stream = tcp::socket>
struct loopback {
  using hub_type = ssepp::hub<ssepp::asio::stream_transport<Stream>>;

  explicit loopback(ssepp::hub_options options = no_retry())
      : acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)),
        hub(std::make_unique<hub_type>(std::move(options))) {
    thread = std::thread([this] { io.run(); });
  }
  ~loopback() {
    hub.reset();
    work.reset();
    if (!eventually([&] { return io.stopped(); })) io.stop();
    thread.join();
  }
  static ssepp::hub_options no_retry() {
    ssepp::hub_options o;
    o.initial_retry = std::nullopt;
    return o;
  }

  std::uint16_t port() { return acceptor.local_endpoint().port(); }
  tcp::socket accept() { return acceptor.accept(); }

  // A connected client and the event stream started for it.
  struct connection {
    std::unique_ptr<client> peer;
    ssepp::asio::event_stream stream;
    std::weak_ptr<Stream> server_side;
  };
  connection open(std::vector<std::string> channels, ssepp::asio::event_stream_options o = {}) {
    connection c;
    c.peer = std::make_unique<client>(port());
    auto stream = std::make_shared<Stream>(accept());
    c.server_side = stream;
    c.stream = ssepp::asio::start_event_stream(*hub, stream, std::move(channels), std::move(o));
    return c;
  }

  net::io_context io;
  net::executor_work_guard<net::io_context::executor_type> work{io.get_executor()};
  tcp::acceptor acceptor;
  std::unique_ptr<hub_type> hub;
  std::thread thread;
};

std::size_t subscribers(const loopback<>& l) { return l.hub->stats().subscribers; }

}  // namespace

TEST_CASE("the head is 200 with the event stream's fields, the caller's, Connection: close") {
  loopback<> l;
  ssepp::asio::event_stream_options o;
  o.fields = {{"Access-Control-Allow-Origin", "https://example.com"}};
  auto c = l.open({"a"}, o);
  REQUIRE(c.peer->read_until_contains("\r\n\r\n"));
  CHECK(c.peer->data() ==
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: text/event-stream\r\n"
        "Cache-Control: no-cache\r\n"
        "X-Accel-Buffering: no\r\n"
        "Content-Encoding: identity\r\n"
        "Access-Control-Allow-Origin: https://example.com\r\n"
        "Connection: close\r\n"
        "\r\n");
}

TEST_CASE("the client is subscribed before it sees the head") {
  loopback<> l;
  auto c = l.open({"a"});
  REQUIRE(c.peer->read_until_contains("\r\n\r\n"));
  // Published the moment the head arrived, and still received.
  l.hub->publish("a", {"first", "", "1"});
  REQUIRE(c.peer->read_until_contains("data: first\n\n"));
  CHECK(c.peer->body() == "id: 1\ndata: first\n\n");
}

TEST_CASE("the hub's first write carries the head with it") {
  ssepp::hub_options o;  // with the initial retry: written at once
  loopback<> l(o);
  auto c = l.open({"a"});
  REQUIRE(c.peer->read_until_contains("retry: 3000\n\n"));
  CHECK(c.peer->data().find("HTTP/1.1 200 OK\r\n") == 0);
}

TEST_CASE("the stream's socket has Nagle's algorithm off, so no event waits for an ACK") {
  loopback<> l;
  auto c = l.open({"a"});
  REQUIRE(c.peer->read_until_contains("\r\n\r\n"));  // the strand has set it by now
  const auto socket = c.server_side.lock();
  REQUIRE(socket);
  // Asked of the kernel, not of Asio: Asio's socket state belongs to the I/O
  // thread, which may still be touching it (the read watch). Even the
  // descriptor is read there: closing the socket at the end rewrites it.
  std::promise<int> descriptor;
  auto fd = descriptor.get_future();
  net::post(l.io, [&] { descriptor.set_value(socket->native_handle()); });
  int no_delay = 0;
  socklen_t size = sizeof no_delay;
  REQUIRE(::getsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &no_delay, &size) == 0);
  CHECK(no_delay != 0);
}

namespace {
// What the kernel holds unsent for the stream's socket (SIOCOUTQ), and its
// send buffer size, both asked on the I/O thread that owns the socket.
struct send_queue {
  int unsent = 0;
  int buffer = 0;
};
send_queue kernel_send_queue(loopback<>& l, const std::weak_ptr<tcp::socket>& server_side) {
  std::promise<send_queue> result;
  net::post(l.io, [&] {
    send_queue q;
    if (const auto socket = server_side.lock()) {
      const int fd = socket->native_handle();
      ::ioctl(fd, SIOCOUTQ, &q.unsent);
      socklen_t size = sizeof q.buffer;
      ::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &q.buffer, &size);
    }
    result.set_value(q);
  });
  return result.get_future().get();
}

// Publishes 8 MiB to a client that reads nothing (the hub's queue bound is
// set high, so only the kernel can hold it back) and reports the kernel's
// send queue once the hub's writes stop completing.
send_queue stalled_send_queue(std::size_t send_buffer_bytes) {
  ssepp::hub_options h = loopback<>::no_retry();
  h.max_queued_bytes = std::size_t{64} << 20;
  h.max_queued_events = 1 << 20;
  loopback<> l(h);
  ssepp::asio::event_stream_options o;
  o.send_buffer_bytes = send_buffer_bytes;
  auto c = l.open({"a"}, o);
  REQUIRE(c.peer->read_until_contains("\r\n\r\n"));  // then it never reads again
  const std::string chunk(64 * 1024, 'x');
  for (int i = 0; i < 128; ++i) l.hub->publish("a", {chunk});
  // Wait for the writes to stall: bytes_written stops moving.
  std::uint64_t written = 0;
  for (int still = 0; still < 5;) {
    std::this_thread::sleep_for(20ms);
    const auto now = l.hub->stats().bytes_written;
    still = now == written ? still + 1 : 0;
    written = now;
  }
  return kernel_send_queue(l, c.server_side);
}
}  // namespace

TEST_CASE("a stalled reader's unsent bytes in the kernel stay within send_buffer_bytes") {
  // Issue 10: the kernel grew a stalled stream's send buffer outside the
  // hub's bound. Linux counts its bookkeeping in the buffer, so the data
  // held is less than the size it reports.
  const auto capped = stalled_send_queue(256 * 1024);
  CHECK(capped.buffer <= 256 * 1024);
  CHECK(capped.unsent > 0);
  // The kernel lets the last write overshoot its limit a little.
  CHECK(capped.unsent <= 256 * 1024 + 4096);
  MESSAGE("unsent with send_buffer_bytes 256 KiB: " << capped.unsent << " bytes");
  // Without the cap, the kernel's own tuning holds more: what the bound
  // would miss.
  const auto tuned = stalled_send_queue(0);
  MESSAGE("unsent with the kernel's own tuning: " << tuned.unsent << " bytes");
  CHECK(tuned.unsent > 256 * 1024 + 4096);
}

TEST_CASE("a last_event_id option replays the events after it") {
  loopback<> l;
  l.hub->publish("a", {"one", "", "1"});
  l.hub->publish("a", {"two", "", "2"});
  l.hub->publish("a", {"three", "", "3"});
  ssepp::asio::event_stream_options o;
  o.last_event_id = "1";
  auto c = l.open({"a"}, o);
  REQUIRE(c.peer->read_until_contains("data: three\n\n"));
  CHECK(c.peer->body() == "id: 2\ndata: two\n\nid: 3\ndata: three\n\n");
}

TEST_CASE("a client that leaves is unsubscribed promptly and reported as peer_gone") {
  loopback<> l;
  close_log log;
  ssepp::asio::event_stream_options o;
  o.on_close = log.handler();
  auto c = l.open({"a"}, o);
  REQUIRE(c.peer->read_until_contains("\r\n\r\n"));
  REQUIRE(subscribers(l) == 1);
  c.peer->close();
  // No write is needed to notice: the stream is idle (no heartbeats here).
  CHECK(eventually([&] { return subscribers(l) == 0; }));
  REQUIRE(eventually([&] { return log.count() == 1; }));
  CHECK(log.first() == close_reason::peer_gone);
  CHECK(eventually([&] { return !c.stream.active(); }));
}

TEST_CASE("bytes the client sends are dropped and the stream carries on") {
  loopback<> l;
  auto c = l.open({"a"});
  REQUIRE(c.peer->read_until_contains("\r\n\r\n"));
  REQUIRE(c.peer->send_all(std::string(1000, 'x')));
  l.hub->publish("a", {"still here"});
  CHECK(c.peer->read_until_contains("data: still here\n\n"));
  CHECK(subscribers(l) == 1);
}

TEST_CASE("a client that sends more than max_client_bytes is cut off") {
  loopback<> l;
  close_log log;
  ssepp::asio::event_stream_options o;
  o.max_client_bytes = 100;
  o.on_close = log.handler();
  auto c = l.open({"a"}, o);
  REQUIRE(c.peer->read_until_contains("\r\n\r\n"));
  c.peer->send_all(std::string(1000, 'x'));
  CHECK(c.peer->read_to_end());
  CHECK(eventually([&] { return subscribers(l) == 0; }));
  REQUIRE(eventually([&] { return log.count() == 1; }));
  CHECK(log.first() == close_reason::peer_gone);
  CHECK(log.first_error() == std::errc::message_size);
}

TEST_CASE("close() through the handle ends the stream and reports hub_closed") {
  loopback<> l;
  close_log log;
  ssepp::asio::event_stream_options o;
  o.on_close = log.handler();
  auto c = l.open({"a"}, o);
  REQUIRE(c.peer->read_until_contains("\r\n\r\n"));
  CHECK(c.stream.active());
  c.stream.close();
  CHECK(c.peer->read_to_end());
  CHECK(eventually([&] { return subscribers(l) == 0; }));
  REQUIRE(eventually([&] { return log.count() == 1; }));
  CHECK(log.first() == close_reason::hub_closed);
  CHECK_FALSE(c.stream.active());
}

TEST_CASE("close_all sends what is queued, then ends the stream, reported once") {
  loopback<> l;
  close_log log;
  ssepp::asio::event_stream_options o;
  o.on_close = log.handler();
  auto c = l.open({"a"}, o);
  REQUIRE(c.peer->read_until_contains("\r\n\r\n"));
  l.hub->publish("a", {"last"});
  l.hub->close_all(ssepp::event_view{"bye", "end"});
  CHECK(c.peer->read_to_end());
  CHECK(c.peer->data().find("data: last\n\nevent: end\ndata: bye\n\n") != std::string::npos);
  REQUIRE(eventually([&] { return log.count() == 1; }));
  CHECK(log.first() == close_reason::hub_closed);
  CHECK(subscribers(l) == 0);
}

TEST_CASE("a dropped handle does not end the stream") {
  loopback<> l;
  auto c = l.open({"a"});
  c.stream = {};
  REQUIRE(c.peer->read_until_contains("\r\n\r\n"));
  l.hub->publish("a", {"kept"});
  CHECK(c.peer->read_until_contains("data: kept\n\n"));
}

TEST_CASE("nothing of a stream stays alive once it has ended") {
  loopback<> l;
  auto left = l.open({"a"});
  auto closed = l.open({"a"});
  auto ended_by_hub = l.open({"b"});
  REQUIRE(left.peer->read_until_contains("\r\n\r\n"));
  REQUIRE(closed.peer->read_until_contains("\r\n\r\n"));
  REQUIRE(ended_by_hub.peer->read_until_contains("\r\n\r\n"));
  left.peer->close();
  closed.stream.close();
  CHECK(eventually([&] { return left.server_side.expired(); }));
  CHECK(eventually([&] { return closed.server_side.expired(); }));
  CHECK_FALSE(ended_by_hub.server_side.expired());
  l.hub->close_all();
  CHECK(eventually([&] { return ended_by_hub.server_side.expired(); }));
}

TEST_CASE("destroying the hub ends its streams") {
  loopback<> l;
  auto c = l.open({"a"});
  REQUIRE(c.peer->read_until_contains("\r\n\r\n"));
  l.hub.reset();
  CHECK(c.peer->read_to_end());
  CHECK(eventually([&] { return c.server_side.expired(); }));
}

TEST_CASE("with no channels nothing is sent and the connection is closed") {
  loopback<> l;
  close_log log;
  ssepp::asio::event_stream_options o;
  o.on_close = log.handler();
  auto c = l.open({}, o);
  CHECK(c.peer->read_to_end());
  CHECK(c.peer->data().empty());
  REQUIRE(eventually([&] { return log.count() == 1; }));
  CHECK(log.first() == close_reason::hub_closed);
  CHECK(eventually([&] { return c.server_side.expired(); }));
}

// on_close must never run inside start_event_stream: the caller may hold a
// lock on_close takes, or not have stored the returned handle yet. Each case
// starts its stream from a handler on the stream's own executor, where a
// dispatched close report would run at once, on a socket never connected
// (nothing is written to it), and runs the io_context until nothing is left.
namespace {
struct started_in_handler {
  std::size_t reports_on_return = 0;  // on_close's reports when start_event_stream returned
  close_log log;

  started_in_handler(ssepp::hub_options hub_options, std::vector<std::string> channels,
                     std::string last_event_id = {}) {
    net::io_context io;
    loopback<>::hub_type hub(std::move(hub_options));
    net::post(io, [&] {
      ssepp::asio::event_stream_options o;
      o.on_close = log.handler();
      o.last_event_id = std::move(last_event_id);
      (void)ssepp::asio::start_event_stream(hub, tcp::socket(io), std::move(channels),
                                            std::move(o));
      reports_on_return = log.count();
    });
    io.run();
  }
};
}  // namespace

TEST_CASE("with no channels on_close runs after start_event_stream returns, never inside it") {
  started_in_handler s(loopback<>::no_retry(), {});
  CHECK(s.reports_on_return == 0);
  REQUIRE(s.log.count() == 1);
  CHECK(s.log.first() == close_reason::hub_closed);
}

TEST_CASE("a resumption that overflows the queue at once reports slow_consumer, after returning") {
  ssepp::hub_options o = loopback<>::no_retry();
  o.max_queued_bytes = 16;  // less than the gap event an unknown Last-Event-ID gets
  started_in_handler s(o, {"a"}, "unknown");
  CHECK(s.reports_on_return == 0);
  REQUIRE(s.log.count() == 1);
  CHECK(s.log.first() == close_reason::slow_consumer);
}

TEST_CASE("a stream behind a layer is watched by reading through the layer") {
  loopback<layered_stream> l;
  auto c = l.open({"a"});
  REQUIRE(c.peer->read_until_contains("\r\n\r\n"));
  const auto server_side = c.server_side.lock();
  REQUIRE(server_side);
  // The watch's read starts just after the head's write, in the same
  // handler: the head can arrive first.
  CHECK(eventually([&] { return server_side->reads >= 1; }));
  REQUIRE(c.peer->send_all("ignored"));
  l.hub->publish("a", {"through"});
  CHECK(c.peer->read_until_contains("data: through\n\n"));
  c.peer->close();
  CHECK(eventually([&] { return l.hub->stats().subscribers == 0; }));
}

TEST_CASE("a backlog of many small events reaches the stream in one write_some") {
  // Asio's composed write hands a stream at most 16 buffers per call, one
  // turn of the event loop each; the transport copies a write of many
  // small events into one buffer instead.
  loopback<layered_stream> l;
  auto c = l.open({"a"});
  REQUIRE(c.peer->read_until_contains("\r\n\r\n"));
  const auto server_side = c.server_side.lock();
  REQUIRE(server_side);
  CHECK(eventually([&] { return server_side->writes >= 1; }));
  const int before = server_side->writes;
  // Published on the I/O thread: the first event's write cannot complete
  // before the other 99 have queued behind it.
  net::post(l.io, [&] {
    for (int i = 0; i < 100; ++i) l.hub->publish("a", {std::to_string(i)});
  });
  REQUIRE(c.peer->read_until_contains("data: 99\n\n"));
  // Every event, in order (each has an id line of the hub's before it).
  const std::string body = c.peer->body();
  std::size_t at = 0;
  for (int i = 0; i < 100; ++i) {
    const auto found = body.find("\ndata: " + std::to_string(i) + "\n\n", at);
    REQUIRE(found != std::string::npos);
    at = found + 1;
  }
  CHECK(server_side->writes - before == 2);  // the first event, then the other 99
}
