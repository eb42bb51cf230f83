// The EventSource client, built three ways from this one file:
//
//   test_client           over memory_connector (tests/memory_connector.hpp):
//                         every connection is an in-memory stream pair, so a
//                         test can split the server's bytes at any index and
//                         fail any read or write;
//   test_client_boost     the same on Boost.Asio (SSEPP_ASIO_BOOST);
//   test_client_loopback  over tcp_connector and real loopback sockets
//                         (SSEPP_TEST_LOOPBACK), where users meet it.
//
// The shared cases run against the same peers in every build: ssepp's own
// server (start_server), a proxy that cuts connections (cutting_proxy), and
// tiny servers that misbehave on purpose (raw_server, a thread per
// connection running a script). Each build supplies them over its
// transport, with the same interface. Cases that only real sockets can
// check (TLS with a certificate made here, DNS, a listener that never
// accepts) use tcp_connector and run where SSEPP_TEST_TCP_CONNECTOR is set
// (the loopback build, and the Boost build so tcp_connector keeps running on
// both Asios); cases only memory streams can make deterministic (one byte
// per read, every split, injected failures) run in the memory builds.
//
// The client's io_context runs on the test thread, so callbacks need no
// locks; every wait polls it with a deadline. Nothing sleeps and no duration
// is asserted: delays are checked as the values the client reports
// (client_error::retry_in), never as elapsed time.
#include <ssepp/asio/client.hpp>

#include <ssepp/asio/server.hpp>

#include <doctest/doctest.h>

#if !defined(SSEPP_TEST_LOOPBACK)
#define SSEPP_TEST_LOOPBACK 0
#endif
#if !defined(SSEPP_TEST_TCP_CONNECTOR)
#define SSEPP_TEST_TCP_CONNECTOR SSEPP_TEST_LOOPBACK
#endif

#if SSEPP_TEST_LOOPBACK || SSEPP_TEST_TCP_CONNECTOR
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <fstream>
#include <functional>
#include <future>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "raw_head.hpp"

#if !SSEPP_TEST_LOOPBACK
#include <array>
#include <ssepp/asio/memory_stream.hpp>

#include "memory_connector.hpp"
#endif

#if defined(SSEPP_ENABLE_OPENSSL) && SSEPP_TEST_TCP_CONNECTOR
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <filesystem>
#endif

using namespace std::chrono_literals;
using std::chrono::milliseconds;
namespace sa = ssepp::asio;
namespace net = ssepp::asio::net;
// The client reports std::error_code whichever Asio it runs on; these give
// the chosen Asio's codes and categories in that form.
std::error_code as_std(ssepp::asio::error_code e) { return e; }
#if defined(SSEPP_ENABLE_OPENSSL) && SSEPP_TEST_TCP_CONNECTOR
const std::error_category& ssl_category() {
  return as_std(ssepp::asio::error_code(0, net::error::get_ssl_category())).category();
}
#endif
using ssepp::errc;

namespace std::chrono {
// doctest prints durations as bytes unless an overload is found by ADL.
inline doctest::String toString(const milliseconds& ms) {
  return (std::to_string(ms.count()) + " ms").c_str();
}
}  // namespace std::chrono

namespace ssepp::asio {
inline doctest::String toString(ready_state s) {
  switch (s) {
    case ready_state::connecting:
      return "connecting";
    case ready_state::open:
      return "open";
    case ready_state::closed:
      return "closed";
  }
  return "?";
}
}  // namespace ssepp::asio

namespace {

// --- the client's side ---------------------------------------------------------

// A client's io_context. Over memory streams, a peer's thread completes
// the client's operations: memory_stream posts the handler to the client's
// strand and then, still on the peer's thread, destroys the completed
// operation, which holds copies of that strand; the client may already have
// run the handler, closed and finished by then. So in the memory builds the
// context lives until the program ends (when every peer is gone), not
// until the test does; over sockets it is the test's.
class client_context {
 public:
#if SSEPP_TEST_LOOPBACK
  net::io_context& get() { return io_; }

 private:
  net::io_context io_;
#else
  client_context() {
    static std::mutex mutex;
    static std::vector<std::unique_ptr<net::io_context>> contexts;
    std::lock_guard<std::mutex> lock(mutex);
    contexts.push_back(std::make_unique<net::io_context>());
    io_ = contexts.back().get();
  }
  net::io_context& get() { return *io_; }

 private:
  net::io_context* io_ = nullptr;
#endif
};

// The client's io_context, run on the test thread.
struct client_loop {
  client_context context;
  net::io_context& io = context.get();
  net::executor_work_guard<net::io_context::executor_type> work = net::make_work_guard(io);

  // Runs the client until `done()` holds; false if it did not within `limit`.
  template <class Pred>
  bool run_until(Pred done, std::chrono::steady_clock::duration limit = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      io.run_one_for(10ms);
    }
    return true;
  }

  // Runs every handler that is ready, until none is: with memory streams,
  // the client has then done all it can with the bytes it was given.
  void settle() {
    while (io.poll() > 0) {
    }
  }

  // True when the client has nothing left to do: no timer, no socket
  // operation pending, so no reconnect is scheduled and nothing keeps the
  // client alive. Ends the loop.
  bool drained(std::chrono::steady_clock::duration limit = 5s) {
    work.reset();
    io.run_for(limit);
    return io.stopped();
  }
};

// Everything the client reported, in order.
struct record {
  std::vector<std::string> events;  // "type|data|lastEventId"
  std::vector<sa::client_error> errors;
  std::vector<milliseconds> retries;
  int opens = 0;
  int closes = 0;
};

std::string show(const ssepp::message& m) {
  return std::string(m.type) + "|" + std::string(m.data) + "|" + std::string(m.last_event_id);
}

// Quick defaults for tests: short backoff, long enough timeouts that they
// never fire unless a test means them to.
sa::client_options quick_options() {
  sa::client_options o;
  o.backoff.initial = 20ms;
  o.backoff.max = 100ms;
  o.connect_timeout = 10s;
  o.stall_timeout = 30s;
  return o;
}

// Makes a Client whose callbacks fill `r`; `connector_args` go to create().
template <class Client, class... ConnectorArgs>
std::shared_ptr<Client> make_client_of(client_loop& loop, const std::string& url, record& r,
                                       sa::client_options options,
                                       ConnectorArgs&&... connector_args) {
  auto es = Client::create(loop.io.get_executor(), url, std::move(options),
                           std::forward<ConnectorArgs>(connector_args)...);
  es->on_any([&r](const ssepp::message& m) { r.events.push_back(show(m)); });
  es->on_open([&r] { ++r.opens; });
  es->on_error([&r](const sa::client_error& e) { r.errors.push_back(e); });
  es->on_close([&r] { ++r.closes; });
  es->on_retry([&r](milliseconds ms) { r.retries.push_back(ms); });
  return es;
}

// Closes the client, lets it wind down, and checks it left nothing behind:
// no pending operation and no reference to itself.
template <class Client>
void close_and_drain(client_loop& loop, std::shared_ptr<Client>& es) {
  es->close();
  CHECK(loop.drained());
  CHECK(es->state() == sa::ready_state::closed);
  CHECK(es.use_count() == 1);
}

using ssepp_test::header_value;

std::string request_line(std::string_view request) {
  return std::string(request.substr(0, request.find("\r\n")));
}

std::string request_body(std::string_view request) {
  const std::size_t end = request.find("\r\n\r\n");
  return end == std::string_view::npos ? std::string() : std::string(request.substr(end + 4));
}

// True once `bytes` hold a whole request: the head and its Content-Length body.
bool is_whole_request(std::string_view bytes) {
  const std::size_t head_end = bytes.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return false;
  const std::size_t length = std::stoul(header_value(bytes, "content-length").value_or("0"));
  return bytes.size() >= head_end + 4 + length;
}

const std::string stream_head =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n";

// ssepp's server with the options every test wants (a quick retry, one
// thread, a short stop), then `tweak`.
sa::server_options test_server_options(std::uint16_t port,
                                       const std::function<void(sa::server_options&)>& tweak) {
  sa::server_options o;
  o.port = port;
  o.threads = 1;
  o.hub.initial_retry = 20ms;  // the server's retry is the floor: keep tests quick
  o.hub.epoch = "run";
  o.stop_grace = 500ms;
  if (tweak) tweak(o);
  return o;
}

}  // namespace

// --- real sockets ----------------------------------------------------------------

#if SSEPP_TEST_LOOPBACK || SSEPP_TEST_TCP_CONNECTOR
namespace {

int connect_to(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// A listening socket on 127.0.0.1 and a thread per accepted connection
// running `serve(fd, index)`. Sockets are tracked so drop_all() can cut
// them (both directions), which also wakes any thread blocked on one; the
// destructor does that and joins every thread.
class tcp_listener {
 public:
  using handler = std::function<void(int fd, std::size_t index)>;

  explicit tcp_listener(handler serve) : serve_(std::move(serve)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(listen_fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listen_fd_, 64) == 0);
    socklen_t length = sizeof addr;
    REQUIRE(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &length) == 0);
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  tcp_listener(const tcp_listener&) = delete;
  tcp_listener& operator=(const tcp_listener&) = delete;

  ~tcp_listener() {
    stopping_ = true;
    const int wake = connect_to(port_);  // unblocks accept()
    if (wake >= 0) ::close(wake);
    accept_thread_.join();
    ::close(listen_fd_);
    drop_all();
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }

  std::uint16_t port() const { return port_; }

  // Cuts every connection open now.
  void drop_all() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  }

  // Tracks a socket a handler opened itself (e.g. to an upstream).
  void track(int fd) {
    std::lock_guard<std::mutex> lock(mutex_);
    fds_.push_back(fd);
    if (stopping_) ::shutdown(fd, SHUT_RDWR);
  }
  // Stops tracking and closes (under the lock, so drop_all never touches a
  // descriptor number that was closed and reused).
  void close_tracked(int fd) {
    std::lock_guard<std::mutex> lock(mutex_);
    fds_.erase(std::remove(fds_.begin(), fds_.end(), fd), fds_.end());
    ::close(fd);
  }

 private:
  void accept_loop() {
    for (std::size_t index = 0;; ++index) {
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (stopping_) {
        if (fd >= 0) ::close(fd);
        return;
      }
      if (fd < 0) continue;
      std::lock_guard<std::mutex> lock(mutex_);
      fds_.push_back(fd);
      threads_.emplace_back([this, fd, index] {
        serve_(fd, index);
        close_tracked(fd);
      });
    }
  }

  handler serve_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
  std::thread accept_thread_;
};

// A port nothing listens on (bound, then released).
std::uint16_t free_tcp_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t length = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// The client over tcp_connector, whatever the build's peers are.
std::shared_ptr<sa::event_source> make_tcp_client(client_loop& loop, const std::string& url,
                                                  record& r,
                                                  sa::client_options options = quick_options()) {
  return make_client_of<sa::event_source>(loop, url, r, std::move(options));
}

}  // namespace
#endif

// --- the peers, over loopback sockets ----------------------------------------------

#if SSEPP_TEST_LOOPBACK
namespace {

using client_type = sa::event_source;
using ssepp_server = sa::server;  // what start_server's before_start sees
using test_server = sa::server;   // what start_server returns

std::shared_ptr<client_type> create_client(net::any_io_executor executor, const std::string& url,
                                           sa::client_options options) {
  return client_type::create(std::move(executor), url, std::move(options));
}

std::shared_ptr<client_type> make_client(client_loop& loop, const std::string& url, record& r,
                                         sa::client_options options = quick_options()) {
  return make_client_of<client_type>(loop, url, r, std::move(options));
}

// Reads one request (head and Content-Length body); false if the peer left.
bool read_request(int fd, std::string& out) {
  char buffer[4096];
  while (!is_whole_request(out)) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return true;
}

// A server that reads each request and then runs a script on the socket:
// the script writes canned bytes, waits, or holds the connection open.
// When the script returns the connection is closed (FIN).
class raw_server {
 public:
  struct connection {
    int fd;
    std::size_t index;  // 0 for the first connection, 1 for the next...
    std::string request;

    // False when the client is gone.
    bool write(std::string_view bytes) const { return send_all(fd, bytes); }
    // Blocks until the client closes the connection (or the server stops).
    void wait_closed() const {
      char buffer[1024];
      while (::recv(fd, buffer, sizeof buffer, 0) > 0) {
      }
    }
  };
  using script = std::function<void(connection&)>;

  explicit raw_server(script s) : script_(std::move(s)) {}

  std::uint16_t port() const { return listener_.port(); }
  std::string url(std::string_view target = "/") const {
    return "http://127.0.0.1:" + std::to_string(port()) + std::string(target);
  }
  std::vector<std::string> requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }
  std::size_t request_count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_.size();
  }

 private:
  void serve(int fd, std::size_t index) {
    connection c{fd, index, {}};
    if (!read_request(fd, c.request)) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      requests_.push_back(c.request);
    }
    script_(c);
    ::shutdown(fd, SHUT_WR);
  }

  script script_;
  mutable std::mutex mutex_;
  std::vector<std::string> requests_;
  tcp_listener listener_{
      [this](int fd, std::size_t index) { serve(fd, index); }};  // last: joins first
};

// A proxy to 127.0.0.1:upstream whose connections the test can cut.
class cutting_proxy {
 public:
  explicit cutting_proxy(std::uint16_t upstream) : upstream_(upstream) {}

  std::string url(std::string_view target) const {
    return "http://127.0.0.1:" + std::to_string(listener_.port()) + std::string(target);
  }
  void cut() { listener_.drop_all(); }
  std::size_t connections() const { return connections_.load(); }

 private:
  void serve(int client) {
    ++connections_;
    const int server = connect_to(upstream_);
    if (server < 0) return;
    listener_.track(server);
    pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    char buffer[16384];
    for (bool open = true; open;) {
      if (::poll(fds, 2, -1) < 0) break;
      for (int i = 0; i < 2 && open; ++i) {
        if (fds[i].revents == 0) continue;
        const ssize_t n = ::recv(fds[i].fd, buffer, sizeof buffer, 0);
        open = n > 0 && send_all(fds[1 - i].fd, {buffer, static_cast<std::size_t>(n)});
      }
    }
    ::shutdown(client, SHUT_RDWR);
    ::shutdown(server, SHUT_RDWR);
    listener_.close_tracked(server);
  }

  std::uint16_t upstream_;
  std::atomic<std::size_t> connections_{0};
  tcp_listener listener_{[this](int fd, std::size_t) { serve(fd); }};
};

// A port nothing listens on.
std::uint16_t closed_port() { return free_tcp_port(); }

std::unique_ptr<test_server> start_server(
    std::uint16_t port = 0, const std::function<void(sa::server_options&)>& tweak = {},
    const std::function<void(ssepp_server&)>& before_start = {}) {
  auto s = std::make_unique<sa::server>(test_server_options(port, tweak));
  if (before_start) before_start(*s);
  s->start();
  return s;
}

}  // namespace
#endif

// --- the peers, over memory streams ------------------------------------------------

#if !SSEPP_TEST_LOOPBACK
namespace {

using ssepp_test::memory_connector;
using ssepp_test::memory_network;
using client_type = sa::basic_event_source<memory_connector>;
using ssepp_server = sa::basic_server<sa::memory_stream>;

// The network every memory peer listens on and every client connects
// through. Each peer takes a port of its own (127.0.0.1:<port>), so the
// URLs, Host fields and redirects look as they do over loopback.
memory_network& network() {
  static memory_network n;
  return n;
}
std::uint16_t fresh_port() {
  static std::atomic<std::uint16_t> next{20000};
  return next++;
}
std::string address_of(std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

// What a peer lets a client send it before its writes wait: a socket's
// buffer, so a server streaming without end (or a 100 MB line) is held in
// bounded memory, as the kernel would hold it.
constexpr std::size_t socket_buffer = 256 * 1024;

std::shared_ptr<client_type> create_client(net::any_io_executor executor, const std::string& url,
                                           sa::client_options options) {
  return client_type::create(std::move(executor), url, std::move(options), network());
}

std::shared_ptr<client_type> make_client(client_loop& loop, const std::string& url, record& r,
                                         sa::client_options options = quick_options()) {
  return make_client_of<client_type>(loop, url, r, std::move(options), network());
}

// One end of a memory connection driven by blocking calls, for a script on
// a thread of its own: each call runs its operation on a private
// io_context. close() may come from another thread, and wakes a blocked call.
class blocking_end {
 public:
  explicit blocking_end(sa::memory_stream s) : stream_(std::move(s)) {}

  // Appends what the peer wrote; eof once the peer closed and all was read.
  sa::error_code read_some(std::string& out) {
    std::array<char, 4096> buffer;
    const auto [ec, n] = run(
        [&](auto handler) { stream_.async_read_some(net::buffer(buffer), std::move(handler)); });
    out.append(buffer.data(), n);
    return ec;
  }
  sa::error_code write(std::string_view bytes) {
    return run([&](auto handler) {
             net::async_write(stream_, net::buffer(bytes.data(), bytes.size()), std::move(handler));
           })
        .first;
  }
  void close() { stream_.close(); }

 private:
  template <class Start>
  std::pair<sa::error_code, std::size_t> run(Start start) {
    // An operation whose handler was dropped unrun (the stream's context
    // shut down) must not read as a success.
    sa::error_code result = net::error::operation_aborted;
    std::size_t bytes = 0;
    io_.restart();
    start(net::bind_executor(io_, [&](sa::error_code ec, std::size_t n) {
      result = ec;
      bytes = n;
    }));
    io_.run();
    return {result, bytes};
  }

  net::io_context io_;  // before stream_: outlives what stream_'s close posts
  sa::memory_stream stream_;
};

// A server that reads each request and then runs a script on the
// connection: the script writes canned bytes, waits, or holds the connection
// open. When the script returns the connection is closed.
class raw_server {
 public:
  struct connection {
    std::shared_ptr<blocking_end> end;
    std::size_t index;  // 0 for the first connection, 1 for the next...
    std::string request;

    // False when the client is gone.
    bool write(std::string_view bytes) const { return !end->write(bytes); }
    // Blocks until the client closes the connection (or the server stops).
    void wait_closed() const {
      std::string ignored;
      while (!end->read_some(ignored)) ignored.clear();
    }
  };
  using script = std::function<void(connection&)>;

  explicit raw_server(script s)
      : script_(std::move(s)),
        port_(fresh_port()),
        listening_(network().listen(address(),
                                    [this](sa::memory_stream end) { accept(std::move(end)); })) {}
  raw_server(const raw_server&) = delete;
  raw_server& operator=(const raw_server&) = delete;

  // Stops listening, closes every connection (waking its script) and joins.
  ~raw_server() {
    listening_.reset();
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto& end : ends_) end->close();
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }

  std::uint16_t port() const { return port_; }
  std::string address() const { return address_of(port_); }
  std::string url(std::string_view target = "/") const {
    return "http://" + address() + std::string(target);
  }
  std::vector<std::string> requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }
  std::size_t request_count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_.size();
  }

 private:
  // On the connecting client's thread, under the network's lock.
  void accept(sa::memory_stream s) {
    s.max_buffered(socket_buffer);
    auto end = std::make_shared<blocking_end>(std::move(s));
    std::lock_guard<std::mutex> lock(mutex_);
    ends_.push_back(end);
    threads_.emplace_back([this, end, index = accepted_++] { serve(end, index); });
  }

  void serve(const std::shared_ptr<blocking_end>& end, std::size_t index) {
    connection c{end, index, {}};
    while (!is_whole_request(c.request))
      if (end->read_some(c.request)) return end->close();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      requests_.push_back(c.request);
    }
    script_(c);
    end->close();
  }

  script script_;
  std::uint16_t port_;
  mutable std::mutex mutex_;
  std::vector<std::string> requests_;
  std::vector<std::shared_ptr<blocking_end>> ends_;
  std::vector<std::thread> threads_;
  std::size_t accepted_ = 0;
  memory_network::listening listening_;  // last: ends first
};

// A proxy to 127.0.0.1:upstream whose connections the test can cut. It
// copies bytes both ways on an io_context (and thread) of its own.
class cutting_proxy {
 public:
  explicit cutting_proxy(std::uint16_t upstream)
      : upstream_(address_of(upstream)),
        port_(fresh_port()),
        listening_(network().listen(address_of(port_),
                                    [this](sa::memory_stream s) { accept(std::move(s)); })) {}
  cutting_proxy(const cutting_proxy&) = delete;
  cutting_proxy& operator=(const cutting_proxy&) = delete;

  ~cutting_proxy() {
    listening_.reset();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    cut();
    work_.reset();
    thread_.join();
  }

  std::string url(std::string_view target) const {
    return "http://" + address_of(port_) + std::string(target);
  }
  // Closes both sides of every connection open now.
  void cut() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& weak : links_)
      if (auto l = weak.lock()) l->close();
  }
  std::size_t connections() const { return connections_.load(); }

 private:
  struct link {
    link(sa::memory_stream c, sa::memory_stream s) : client(std::move(c)), server(std::move(s)) {}
    void close() {
      client.close();
      server.close();
    }
    sa::memory_stream client, server;
    std::array<char, 16384> up{}, down{};
  };

  void accept(sa::memory_stream s) {
    ++connections_;
    auto client = std::make_shared<sa::memory_stream>(std::move(s));
    // Connecting upstream goes through the network: not under its lock.
    net::post(io_, [this, client] {
      auto [near, far] = sa::make_memory_stream_pair(network().wire_executor());
      if (!network().connect(upstream_, near, std::move(far))) return client->close();
      auto l = std::make_shared<link>(std::move(*client), std::move(near));
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_) return l->close();
        links_.push_back(l);
      }
      pump(l, l->client, l->server, l->up);
      pump(l, l->server, l->client, l->down);
    });
  }

  void pump(const std::shared_ptr<link>& l, sa::memory_stream& from, sa::memory_stream& to,
            std::array<char, 16384>& buffer) {
    from.async_read_some(
        net::buffer(buffer),
        net::bind_executor(io_, [this, l, &from, &to, &buffer](sa::error_code ec, std::size_t n) {
          if (ec) return l->close();
          net::async_write(to, net::buffer(buffer.data(), n),
                           net::bind_executor(
                               io_, [this, l, &from, &to, &buffer](sa::error_code e, std::size_t) {
                                 if (e) return l->close();
                                 pump(l, from, to, buffer);
                               }));
        }));
  }

  std::string upstream_;
  std::uint16_t port_;
  std::atomic<std::size_t> connections_{0};
  std::mutex mutex_;
  std::vector<std::weak_ptr<link>> links_;
  bool stopping_ = false;
  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> work_ = net::make_work_guard(io_);
  std::thread thread_{[this] { io_.run(); }};
  memory_network::listening listening_;  // last: ends first
};

// A port nothing listens on.
std::uint16_t closed_port() { return fresh_port(); }

// ssepp's server, serving the memory connections made to its address.
class test_server {
 public:
  test_server(std::uint16_t port, sa::server_options options,
              const std::function<void(ssepp_server&)>& before_start)
      : port_(port ? port : fresh_port()),
        server_(std::make_unique<ssepp_server>(std::move(options))) {
    if (before_start) before_start(*server_);
    server_->start_without_listening();
    listening_ = network().listen(address_of(port_), [this](sa::memory_stream s) {
      s.max_buffered(socket_buffer);
      server_->serve(std::move(s), "127.0.0.1");
    });
  }
  // Stops listening first: a client reconnecting meets connection_refused.
  ~test_server() {
    listening_.reset();
    server_.reset();
  }

  std::uint16_t port() const { return port_; }
  ssepp_server::hub_type& hub() { return server_->hub(); }

 private:
  std::uint16_t port_;
  std::unique_ptr<ssepp_server> server_;
  memory_network::listening listening_;
};

std::unique_ptr<test_server> start_server(
    std::uint16_t port = 0, const std::function<void(sa::server_options&)>& tweak = {},
    const std::function<void(ssepp_server&)>& before_start = {}) {
  return std::make_unique<test_server>(port, test_server_options(port, tweak), before_start);
}

}  // namespace
#endif

namespace {

std::string events_url(const test_server& s, std::string_view channel) {
  return "http://127.0.0.1:" + std::to_string(s.port()) + "/events/" + std::string(channel);
}

// Answers every request with `bytes`, then closes.
raw_server::script replies(std::string bytes) {
  return [bytes](const raw_server::connection& c) { c.write(bytes); };
}
// Answers every request with `bytes`, then holds the connection open.
raw_server::script replies_and_holds(std::string bytes) {
  return [bytes](const raw_server::connection& c) {
    c.write(bytes);
    c.wait_closed();
  };
}

// --- memory ----------------------------------------------------------------------

// A field of /proc/self/status in KiB (VmRSS, VmHWM), or -1.
long status_kib(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.compare(0, field.size() + 1, field + ":") == 0)
      return std::stol(line.substr(field.size() + 1));
  return -1;
}

// How many times its own size a heap block costs in RSS. ThreadSanitizer
// maps shadow memory for every byte the allocator hands out and keeps it
// after the block is freed: a std::string grown by appends to 16 MiB raised
// RSS by 49 MB under TSan against 16 MB without, and in CI's TSan run the
// client's 16 MiB line bound peaked at +100 MB. A missing bound (a 100 MB
// line kept whole) still costs several times that.
#if defined(__SANITIZE_THREAD__)
constexpr long heap_rss_factor = 4;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr long heap_rss_factor = 4;
#else
constexpr long heap_rss_factor = 1;
#endif
#else
constexpr long heap_rss_factor = 1;
#endif

// Resets VmHWM (peak RSS) to the current RSS; false where unsupported.
bool reset_peak_rss() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  return static_cast<bool>(clear);
}

}  // namespace
// --- against ssepp's server ------------------------------------------------------

TEST_CASE("events reach listeners by type; on_any sees every event; lastEventId follows ids") {
  auto server = start_server();
  client_loop loop;
  record r;
  auto es = make_client(loop, events_url(*server, "news"), r);
  std::vector<std::string> messages, greetings, greetings_again;
  es->on("message", [&](const ssepp::message& m) { messages.emplace_back(m.data); });
  es->on("greeting", [&](const ssepp::message& m) { greetings.emplace_back(m.data); });
  es->on("greeting", [&](const ssepp::message& m) { greetings_again.emplace_back(m.data); });
  es->on("unused", [&](const ssepp::message&) { FAIL("no event of this type was sent"); });
  es->start();
  REQUIRE(loop.run_until([&] { return server->hub().stats().subscribers == 1; }));

  auto& hub = server->hub();
  hub.publish("news", ssepp::event_view{"one", "", "1"});
  hub.publish("news", ssepp::event_view{"two", "greeting", "2"});
  hub.publish("other-channel", ssepp::event_view{"not for us", "", "x"});
  hub.publish("news", ssepp::event_view{"three\nlines\nhere", "other", "3"});
  hub.publish("news", ssepp::event_view{"four", "", "4"});
  REQUIRE(loop.run_until([&] { return r.events.size() == 4; }));

  CHECK(r.events == std::vector<std::string>{"message|one|1", "greeting|two|2",
                                             "other|three\nlines\nhere|3", "message|four|4"});
  CHECK(messages == std::vector<std::string>{"one", "four"});
  CHECK(greetings == std::vector<std::string>{"two"});
  CHECK(greetings_again == greetings);
  CHECK(es->last_event_id() == "4");
  CHECK(r.retries == std::vector<milliseconds>{20ms});  // the hub's initial retry
  CHECK(es->reconnection_time() == 20ms);
  CHECK(r.errors.empty());

  close_and_drain(loop, es);
  CHECK(r.closes == 1);
  CHECK(r.errors.empty());
}

TEST_CASE("readyState: connecting, open, closed; open and close are reported once") {
  auto server = start_server();
  client_loop loop;
  record r;
  const std::string url = events_url(*server, "c");
  auto es = make_client(loop, url, r);
  CHECK(es->state() == sa::ready_state::connecting);
  CHECK(es->url().empty());
  es->start();
  CHECK(es->state() == sa::ready_state::connecting);
  REQUIRE(loop.run_until([&] { return r.opens == 1; }));
  CHECK(es->state() == sa::ready_state::open);
  CHECK(es->url() == url);
  es->close();
  REQUIRE(loop.run_until([&] { return r.closes == 1; }));
  CHECK(es->state() == sa::ready_state::closed);
  es->close();  // a second close changes nothing
  CHECK(loop.drained());
  CHECK(r.opens == 1);
  CHECK(r.closes == 1);
  CHECK(r.errors.empty());
  CHECK(es.use_count() == 1);
}

TEST_CASE(
    "the first request sends client_options::last_event_id, and the server resumes after it") {
  auto server = start_server();
  auto& hub = server->hub();
  for (const char* id : {"1", "2", "3", "4"})
    hub.publish("c", ssepp::event_view{std::string("e") + id, "", id});
  client_loop loop;
  record r;
  auto options = quick_options();
  options.last_event_id = "2";
  auto es = make_client(loop, events_url(*server, "c"), r, options);
  CHECK(es->last_event_id() == "2");
  es->start();
  REQUIRE(loop.run_until([&] { return r.events.size() == 2; }));
  CHECK(r.events == std::vector<std::string>{"message|e3|3", "message|e4|4"});
  close_and_drain(loop, es);
}

TEST_CASE("the connection is cut mid-stream again and again: every event arrives once, in order") {
  std::mutex ids_mutex;
  std::vector<std::string> last_ids;  // Last-Event-ID of each request the server saw
  auto server = start_server(0, [&](sa::server_options& o) {
    o.authorize = [&](const sa::request& req) {
      std::lock_guard<std::mutex> lock(ids_mutex);
      last_ids.emplace_back(req.header("last-event-id").value_or("(none)"));
      return sa::auth_result{};
    };
  });
  cutting_proxy proxy(server->port());
  client_loop loop;
  record r;
  auto es = make_client(loop, proxy.url("/events/feed"), r);
  es->start();

  constexpr int rounds = 5, per_round = 40;
  int published = 0;
  for (int round = 0; round < rounds; ++round) {
    REQUIRE(loop.run_until(
        [&] { return server->hub().stats().subscribers == 1 && r.opens == round + 1; }));
    for (int i = 0; i < per_round; ++i) {
      ++published;
      server->hub().publish("feed", ssepp::event_view{"event " + std::to_string(published)});
    }
    // Odd rounds cut at once (events may be in flight, in the proxy or
    // half-written); even rounds after the client has them all.
    if (round % 2 == 0)
      REQUIRE(loop.run_until([&] { return r.events.size() == std::size_t(published); }));
    proxy.cut();
  }
  REQUIRE(loop.run_until(
      [&] { return r.events.size() >= std::size_t(published) && r.opens == rounds + 1; }));

  // Exactly once, in order, whatever the cuts hit.
  std::vector<std::string> expected;
  for (int i = 1; i <= published; ++i)
    expected.push_back("message|event " + std::to_string(i) + "|run-" + std::to_string(i));
  CHECK(r.events == expected);
  CHECK(es->last_event_id() == "run-" + std::to_string(published));
  CHECK(proxy.connections() == rounds + 1);
  for (const auto& e : r.errors) {
    CHECK(e.will_reconnect);
    CHECK(e.retry_in >= 20ms);  // the server's retry is the floor
  }
  CHECK(r.errors.size() == rounds);
  {
    std::lock_guard<std::mutex> lock(ids_mutex);
    REQUIRE(last_ids.size() == rounds + 1);
    CHECK(last_ids.front() == "(none)");
    for (std::size_t i = 1; i < last_ids.size(); ++i) {
      INFO("request " << i);
      CHECK(last_ids[i].rfind("run-", 0) == 0);  // every reconnect sends the last id it has
    }
  }
  close_and_drain(loop, es);
}

TEST_CASE("the server stops mid-stream and restarts: the client resumes with Last-Event-ID") {
  auto first = start_server();
  const std::uint16_t port = first->port();
  client_loop loop;
  record r;
  auto options = quick_options();
  auto es = make_client(loop, events_url(*first, "c"), r, options);
  es->start();
  REQUIRE(loop.run_until([&] { return first->hub().stats().subscribers == 1; }));
  const std::vector<std::string> ids = {"1", "2", "3", "4", "5", "6", "7", "8"};
  for (std::size_t i = 0; i < 5; ++i)
    first->hub().publish("c", ssepp::event_view{"e" + ids[i], "", ids[i]});
  REQUIRE(loop.run_until([&] { return r.events.size() == 5; }));

  first.reset();  // stop and join: the stream ends, reconnects are refused
  REQUIRE(loop.run_until([&] { return r.errors.size() >= 2; }));
  CHECK(r.errors[0].code == errc::stream_ended);
  CHECK(r.errors[1].code == as_std(net::error::connection_refused));
  CHECK(es->state() == sa::ready_state::connecting);

  // The restarted server has the same history (a persisted store would).
  std::mutex id_mutex;
  std::string resumed_from;
  auto second = start_server(
      port,
      [&](sa::server_options& o) {
        o.authorize = [&](const sa::request& req) {
          std::lock_guard<std::mutex> lock(id_mutex);
          resumed_from = std::string(req.header("last-event-id").value_or(""));
          return sa::auth_result{};
        };
      },
      [&](ssepp_server& s) {
        for (const auto& id : ids) s.hub().publish("c", ssepp::event_view{"e" + id, "", id});
      });
  REQUIRE(loop.run_until([&] { return r.events.size() >= 8; }));
  std::vector<std::string> expected;
  for (const auto& id : ids) expected.push_back("message|e" + id + "|" + id);
  CHECK(r.events == expected);
  CHECK(r.opens == 2);
  {
    std::lock_guard<std::mutex> lock(id_mutex);
    CHECK(resumed_from == "5");
  }
  for (const auto& e : r.errors) CHECK(e.will_reconnect);
  close_and_drain(loop, es);
}

// --- reconnection, against raw servers ------------------------------------------

TEST_CASE("a partial event at a drop is not dispatched; the reconnect asks for what follows") {
  raw_server server([](const raw_server::connection& c) {
    if (c.index == 0) {
      c.write(stream_head + "id: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: never fin");
      return;  // close-delimited body ends mid-event
    }
    c.write(stream_head + "id: 3\ndata: c\n\n");
    c.wait_closed();
  });
  client_loop loop;
  record r;
  auto es = make_client(loop, server.url("/s"), r);
  es->start();
  REQUIRE(loop.run_until([&] { return r.events.size() == 3; }));
  CHECK(r.events == std::vector<std::string>{"message|a|1", "message|b|2", "message|c|3"});
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == errc::stream_ended);
  CHECK(r.errors[0].will_reconnect);
  const auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK_FALSE(header_value(requests[0], "last-event-id"));
  CHECK(header_value(requests[1], "last-event-id") == "2");
  close_and_drain(loop, es);
}

TEST_CASE("retry: from the server is the reconnect floor, above the backoff cap") {
  raw_server server([](const raw_server::connection& c) {
    if (c.index == 0) {
      c.write(stream_head + "retry: 300\ndata: a\n\n");
      return;
    }
    c.write(stream_head);
    c.wait_closed();
  });
  client_loop loop;
  record r;
  auto options = quick_options();
  options.backoff.initial = 10ms;
  options.backoff.max = 50ms;
  auto es = make_client(loop, server.url(), r, options);
  es->start();
  REQUIRE(loop.run_until([&] { return r.opens == 2; }));
  CHECK(r.retries == std::vector<milliseconds>{300ms});
  CHECK(es->reconnection_time() == 300ms);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == errc::stream_ended);
  CHECK(r.errors[0].will_reconnect);
  CHECK(r.errors[0].retry_in >= 300ms);
  close_and_drain(loop, es);
}

TEST_CASE("a retry too large for a timer waits (practically) forever instead of overflowing") {
  raw_server server(replies(stream_head + "retry: 99999999999999999999\ndata: a\n\n"));
  client_loop loop;
  record r;
  auto es = make_client(loop, server.url(), r);
  es->start();
  REQUIRE(loop.run_until([&] { return r.errors.size() == 1; }));
  CHECK(r.errors[0].will_reconnect);
  CHECK(r.errors[0].retry_in >= milliseconds{std::numeric_limits<milliseconds::rep>::max() / 2});
  // Let the loop run: an overflowed timer would expire at once and reconnect.
  CHECK_FALSE(loop.run_until([&] { return server.request_count() > 1; }, 200ms));
  close_and_drain(loop, es);
  CHECK(server.request_count() == 1);
}

TEST_CASE("backoff grows while failures repeat and starts over once a stream opens") {
  raw_server server([](const raw_server::connection& c) {
    if (c.index < 3) {
      c.write("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");  // no Retry-After
      return;
    }
    c.write(stream_head + "data: up\n\n");
    if (c.index > 3) c.wait_closed();  // the fourth connection ends, the fifth stays
  });
  client_loop loop;
  record r;
  auto options = quick_options();
  options.backoff.jitter = 0;  // exact delays
  options.backoff.max = 1000ms;
  auto es = make_client(loop, server.url(), r, options);
  es->start();
  REQUIRE(loop.run_until([&] { return r.errors.size() == 4 && r.opens == 2; }));
  CHECK(r.errors[0].retry_in == 20ms);
  CHECK(r.errors[1].retry_in == 40ms);
  CHECK(r.errors[2].retry_in == 80ms);
  CHECK(r.errors[3].code == errc::stream_ended);
  CHECK(r.errors[3].retry_in == 20ms);
  close_and_drain(loop, es);
}

TEST_CASE("an empty id: clears the last event ID, and the reconnect sends none") {
  raw_server server([](const raw_server::connection& c) {
    if (c.index == 0) {
      c.write(stream_head + "id: 5\ndata: a\n\nid\ndata: b\n\n");
      return;
    }
    c.write(stream_head);
    c.wait_closed();
  });
  client_loop loop;
  record r;
  auto es = make_client(loop, server.url(), r);
  es->start();
  REQUIRE(loop.run_until([&] { return server.request_count() == 2 && r.opens == 2; }));
  CHECK(r.events == std::vector<std::string>{"message|a|5", "message|b|"});
  CHECK(es->last_event_id().empty());
  CHECK_FALSE(header_value(server.requests()[1], "last-event-id"));
  close_and_drain(loop, es);
}

TEST_CASE("comments (heartbeats) reach on_comment and are not events") {
  raw_server server(replies_and_holds(stream_head + ":\n: keep-alive\ndata: x\n\n"));
  client_loop loop;
  record r;
  auto es = make_client(loop, server.url(), r);
  std::vector<std::string> comments;
  es->on_comment([&](std::string_view text) { comments.emplace_back(text); });
  es->start();
  REQUIRE(loop.run_until([&] { return r.events.size() == 1; }));
  CHECK(comments == std::vector<std::string>{"", "keep-alive"});
  CHECK(r.events == std::vector<std::string>{"message|x|"});
  close_and_drain(loop, es);
}

TEST_CASE("options.reconnect = false: the end of the stream is final") {
  raw_server server(replies(stream_head + "data: a\n\n"));
  client_loop loop;
  record r;
  auto options = quick_options();
  options.reconnect = false;
  auto es = make_client(loop, server.url(), r, options);
  es->start();
  REQUIRE(loop.run_until([&] { return r.closes == 1; }));
  CHECK(r.events == std::vector<std::string>{"message|a|"});
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == errc::stream_ended);
  CHECK_FALSE(r.errors[0].will_reconnect);
  CHECK(loop.drained());
  CHECK(es->state() == sa::ready_state::closed);
  CHECK(server.request_count() == 1);
}

TEST_CASE("a refused connection is retried") {
  const std::uint16_t port = closed_port();
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  SUBCASE("with reconnect on, again and again") {
    client_loop loop;
    record r;
    auto es = make_client(loop, url, r);
    es->start();
    REQUIRE(loop.run_until([&] { return r.errors.size() == 3; }));
    for (const auto& e : r.errors) {
      CHECK(e.code == as_std(net::error::connection_refused));
      CHECK(e.will_reconnect);
      CHECK(e.retry_in >= 20ms);
    }
    CHECK(es->state() == sa::ready_state::connecting);
    close_and_drain(loop, es);
    CHECK(r.closes == 1);
  }
  SUBCASE("with reconnect off, once") {
    client_loop loop;
    record r;
    auto options = quick_options();
    options.reconnect = false;
    auto es = make_client(loop, url, r, options);
    es->start();
    REQUIRE(loop.run_until([&] { return r.closes == 1; }));
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].code == as_std(net::error::connection_refused));
    CHECK_FALSE(r.errors[0].will_reconnect);
    CHECK(loop.drained());
  }
}

// --- bad servers ------------------------------------------------------------------

// Runs a client against `server` until it closes; the error must be final
// and the client must not have tried again.
void expect_final(raw_server& server, const std::string& target, record& r,
                  sa::client_options options = quick_options()) {
  client_loop loop;
  auto es = make_client(loop, server.url(target), r, std::move(options));
  es->start();
  REQUIRE(loop.run_until([&] { return r.closes == 1; }));
  CHECK(es->state() == sa::ready_state::closed);
  CHECK(loop.drained());  // no reconnect pending
  CHECK(es.use_count() == 1);
  for (const auto& e : r.errors) CHECK_FALSE(e.will_reconnect);
}

TEST_CASE("bad server: a Content-Type other than text/event-stream is final") {
  raw_server server(replies_and_holds(
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\ndata: x\n\n"));
  record r;
  expect_final(server, "/", r);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == errc::wrong_content_type);
  CHECK(r.errors[0].status == 200);
  CHECK(r.errors[0].message.find("text/plain") != std::string::npos);
  CHECK(r.events.empty());
  CHECK(r.opens == 0);
  CHECK(server.request_count() == 1);
}

TEST_CASE("bad server: a missing Content-Type is final too") {
  raw_server server(replies("HTTP/1.1 200 OK\r\n\r\ndata: x\n\n"));
  record r;
  expect_final(server, "/", r);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == errc::wrong_content_type);
  CHECK(r.events.empty());
}

TEST_CASE("Content-Type parameters and case do not matter") {
  raw_server server(replies_and_holds(
      "HTTP/1.1 200 OK\r\nContent-Type: Text/Event-Stream ; charset=utf-8\r\n\r\ndata: x\n\n"));
  client_loop loop;
  record r;
  auto es = make_client(loop, server.url(), r);
  es->start();
  REQUIRE(loop.run_until([&] { return r.events.size() == 1; }));
  CHECK(r.errors.empty());
  close_and_drain(loop, es);
}

TEST_CASE("bad server: HTTP 500 is final, with the status") {
  raw_server server(
      replies("HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/event-stream\r\n"
              "Content-Length: 5\r\n\r\noops\n"));
  record r;
  expect_final(server, "/", r);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == errc::http_status);
  CHECK(r.errors[0].status == 500);
  CHECK(r.errors[0].message.find("500") != std::string::npos);
  CHECK(server.request_count() == 1);
}

TEST_CASE("bad server: 404 and 401 are final") {
  for (const std::string status : {"404 Not Found", "401 Unauthorized"}) {
    raw_server server(replies("HTTP/1.1 " + status + "\r\nContent-Length: 0\r\n\r\n"));
    record r;
    expect_final(server, "/", r);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].code == errc::http_status);
    CHECK(r.errors[0].status == std::stoi(status));
  }
}

TEST_CASE("204 No Content closes the client without an error and without reconnecting") {
  raw_server server(replies("HTTP/1.1 204 No Content\r\n\r\n"));
  record r;
  expect_final(server, "/", r);
  CHECK(r.errors.empty());
  CHECK(r.closes == 1);
  CHECK(r.opens == 0);
  CHECK(server.request_count() == 1);
}

namespace {
// Connects a client to `url`, runs until its first event, checks that event
// ("type|data|last event id") and that the stream opened once without an
// error, then closes it.
void expect_first_event(const std::string& url, const std::string& expected) {
  client_loop loop;
  record r;
  auto es = make_client(loop, url, r);
  es->start();
  REQUIRE(loop.run_until([&] { return r.events.size() == 1; }));
  CHECK(r.events[0] == expected);
  CHECK(r.opens == 1);
  CHECK(r.errors.empty());
  close_and_drain(loop, es);
}
}  // namespace

TEST_CASE("interim 1xx responses (100 Continue, 103 Early Hints) are skipped to the real one") {
  const std::string interim =
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n";
  SUBCASE("in one write with the response") {
    raw_server server(replies_and_holds(interim + stream_head + "data: after hints\n\n"));
    expect_first_event(server.url(), "message|after hints|");
  }
  SUBCASE("each head in a write of its own") {
    raw_server server([&](const raw_server::connection& c) {
      c.write("HTTP/1.1 103 Early Hints\r\nLink: </a.js>; rel=preload\r\n\r\n");
      c.write(interim);
      c.write(stream_head);
      c.write("data: after hints\n\n");
      c.wait_closed();
    });
    client_loop loop;
    record r;
    auto es = make_client(loop, server.url(), r);
    es->start();
    REQUIRE(loop.run_until([&] { return r.events.size() == 1; }));
    CHECK(r.events[0] == "message|after hints|");
    CHECK(r.opens == 1);
    CHECK(r.errors.empty());
    CHECK(server.request_count() == 1);
    close_and_drain(loop, es);
  }
}

TEST_CASE("bad server: endless redirects end with too_many_redirects") {
  raw_server server([](const raw_server::connection& c) {
    c.write("HTTP/1.1 302 Found\r\nLocation: /loop/" + std::to_string(c.index + 1) +
            "\r\nContent-Length: 0\r\n\r\n");
  });
  record r;
  auto options = quick_options();
  options.max_redirects = 3;
  expect_final(server, "/loop/0", r, options);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == errc::too_many_redirects);
  CHECK(r.errors[0].status == 302);
  const auto requests = server.requests();
  REQUIRE(requests.size() == 4);  // the first request and three redirects
  for (std::size_t i = 0; i < requests.size(); ++i)
    CHECK(request_line(requests[i]) == "GET /loop/" + std::to_string(i) + " HTTP/1.1");
}

TEST_CASE("redirected once per reconnect, more often than max_redirects: still reconnecting") {
  // The budget is per attempt: each reconnect starts at the first URL again.
  const std::string redirect =
      "HTTP/1.1 307 Temporary Redirect\r\nLocation: /moved\r\nContent-Length: 0\r\n\r\n";
  auto options = quick_options();
  options.max_redirects = 2;
  SUBCASE("the redirected URL is busy (503) every time") {
    raw_server server([&](const raw_server::connection& c) {
      c.write(request_line(c.request) == "GET /start HTTP/1.1"
                  ? redirect
                  : "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
    });
    client_loop loop;
    record r;
    auto es = make_client(loop, server.url("/start"), r, options);
    es->start();
    REQUIRE(loop.run_until([&] { return r.errors.size() == 6 || r.closes == 1; }));
    for (const auto& e : r.errors) {
      CHECK(e.code == errc::http_status);
      CHECK(e.status == 503);
      CHECK(e.will_reconnect);
    }
    CHECK(r.closes == 0);
    close_and_drain(loop, es);
  }
  SUBCASE("the redirected stream ends every time") {
    raw_server server([&](const raw_server::connection& c) {
      c.write(request_line(c.request) == "GET /start HTTP/1.1" ? redirect
                                                               : stream_head + "data: x\n\n");
    });
    client_loop loop;
    record r;
    auto es = make_client(loop, server.url("/start"), r, options);
    es->start();
    REQUIRE(loop.run_until([&] { return r.opens == 6 || r.closes == 1; }));
    for (const auto& e : r.errors) CHECK(e.code == errc::stream_ended);
    CHECK(r.closes == 0);
    close_and_drain(loop, es);
  }
}

TEST_CASE("bad server: a redirect without Location is final") {
  raw_server server(replies("HTTP/1.1 301 Moved Permanently\r\nContent-Length: 0\r\n\r\n"));
  record r;
  expect_final(server, "/", r);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == errc::bad_response);
}

TEST_CASE("a relative redirect is followed, and url() reports where the stream is") {
  raw_server server([](const raw_server::connection& c) {
    if (c.index == 0) {
      c.write("HTTP/1.1 307 Temporary Redirect\r\nLocation: next?x=1\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    c.write(stream_head + "data: moved\n\n");
    c.wait_closed();
  });
  client_loop loop;
  record r;
  auto es = make_client(loop, server.url("/dir/start"), r);
  es->start();
  REQUIRE(loop.run_until([&] { return r.events.size() == 1; }));
  CHECK(r.events[0] == "message|moved|");
  CHECK(r.errors.empty());
  CHECK(es->url() == server.url("/dir/next?x=1"));
  const auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(request_line(requests[1]) == "GET /dir/next?x=1 HTTP/1.1");
  CHECK(header_value(requests[1], "host") == "127.0.0.1:" + std::to_string(server.port()));
  close_and_drain(loop, es);
}

TEST_CASE(
    "redirects after a POST: 303 (and 301/302) continue as GET, 307/308 keep the method and body") {
  for (const std::string status : {"303 See Other", "302 Found", "301 Moved Permanently",
                                   "307 Temporary Redirect", "308 Permanent Redirect"}) {
    CAPTURE(status);
    raw_server server([status](const raw_server::connection& c) {
      if (c.index == 0) {
        c.write("HTTP/1.1 " + status + "\r\nLocation: /stream\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      c.write(stream_head + "data: ok\n\n");
      c.wait_closed();
    });
    client_loop loop;
    record r;
    auto options = quick_options();
    options.method = "POST";
    options.body = R"({"q":1})";
    options.headers = {{"Content-Type", "application/json"}};
    auto es = make_client(loop, server.url("/ask"), r, options);
    es->start();
    REQUIRE(loop.run_until([&] { return r.events.size() == 1; }));
    const auto requests = server.requests();
    REQUIRE(requests.size() == 2);
    CHECK(request_line(requests[0]) == "POST /ask HTTP/1.1");
    CHECK(request_body(requests[0]) == R"({"q":1})");
    const bool keeps = status[0] == '3' && (status[2] == '7' || status[2] == '8');
    if (keeps) {
      CHECK(request_line(requests[1]) == "POST /stream HTTP/1.1");
      CHECK(request_body(requests[1]) == R"({"q":1})");
    } else {
      CHECK(request_line(requests[1]) == "GET /stream HTTP/1.1");
      CHECK(request_body(requests[1]).empty());
      CHECK_FALSE(header_value(requests[1], "content-length"));
    }
    close_and_drain(loop, es);
  }
}

TEST_CASE(
    "a redirect to another origin leaves out Authorization and Cookie; same-origin keeps them") {
  raw_server elsewhere(replies(stream_head + "data: elsewhere\n\n"));  // ends: a reconnect follows
  const std::string elsewhere_url = elsewhere.url("/stream");
  raw_server server([&](const raw_server::connection& c) {
    const std::string line = request_line(c.request);
    if (line == "GET /cross HTTP/1.1") {
      c.write("HTTP/1.1 307 Temporary Redirect\r\nLocation: " + elsewhere_url +
              "\r\nContent-Length: 0\r\n\r\n");
    } else if (line == "GET /same HTTP/1.1") {
      c.write("HTTP/1.1 307 Temporary Redirect\r\nLocation: /next\r\nContent-Length: 0\r\n\r\n");
    } else {
      c.write(stream_head + "data: here\n\n");
      c.wait_closed();
    }
  });
  auto options = quick_options();
  options.headers = {{"authorization", "Bearer secret"}, {"COOKIE", "session=1"}, {"X-Other", "k"}};
  SUBCASE("another origin (another port): left out, and sent again on the reconnect") {
    client_loop loop;
    record r;
    auto es = make_client(loop, server.url("/cross"), r, options);
    es->start();
    REQUIRE(loop.run_until([&] { return server.request_count() == 2; }));
    const auto there = elsewhere.requests();
    REQUIRE(there.size() >= 1);
    CHECK(request_line(there[0]) == "GET /stream HTTP/1.1");
    CHECK_FALSE(header_value(there[0], "authorization"));
    CHECK_FALSE(header_value(there[0], "cookie"));
    CHECK(header_value(there[0], "x-other") == "k");
    // The reconnect starts at the first URL, which gets its credentials.
    for (const auto& request : server.requests()) {
      CHECK(header_value(request, "authorization") == "Bearer secret");
      CHECK(header_value(request, "cookie") == "session=1");
    }
    CHECK(r.events.at(0) == "message|elsewhere|");
    close_and_drain(loop, es);
  }
  SUBCASE("the same origin: kept") {
    client_loop loop;
    record r;
    auto es = make_client(loop, server.url("/same"), r, options);
    es->start();
    REQUIRE(loop.run_until([&] { return r.events.size() == 1; }));
    const auto requests = server.requests();
    REQUIRE(requests.size() == 2);
    CHECK(request_line(requests[1]) == "GET /next HTTP/1.1");
    CHECK(header_value(requests[1], "authorization") == "Bearer secret");
    CHECK(header_value(requests[1], "cookie") == "session=1");
    CHECK(header_value(requests[1], "x-other") == "k");
    close_and_drain(loop, es);
  }
}

TEST_CASE("503 and 429 with Retry-After: retried, no sooner than asked") {
  for (const std::string status : {"503 Service Unavailable", "429 Too Many Requests"}) {
    CAPTURE(status);
    raw_server server([status](const raw_server::connection& c) {
      if (c.index == 0) {
        c.write("HTTP/1.1 " + status + "\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      c.write(stream_head + "data: back\n\n");
      c.wait_closed();
    });
    client_loop loop;
    record r;
    auto es = make_client(loop, server.url(), r);
    es->start();
    REQUIRE(loop.run_until([&] { return r.errors.size() == 1; }));
    CHECK(r.errors[0].code == errc::http_status);
    CHECK(r.errors[0].status == std::stoi(status));
    CHECK(r.errors[0].will_reconnect);
    CHECK(r.errors[0].retry_in >= 1000ms);
    CHECK(es->state() == sa::ready_state::connecting);
    REQUIRE(loop.run_until([&] { return r.events.size() == 1; }));
    CHECK(server.request_count() == 2);
    close_and_drain(loop, es);
  }
}

TEST_CASE("503 with an HTTP-date Retry-After falls back to the backoff delay") {
  raw_server server(
      replies("HTTP/1.1 503 Service Unavailable\r\nRetry-After: Wed, 21 Oct 2037 07:28:00 "
              "GMT\r\nContent-Length: "
              "0\r\n\r\n"));
  client_loop loop;
  record r;
  auto es = make_client(loop, server.url(), r);
  es->start();
  REQUIRE(loop.run_until([&] { return r.errors.size() == 1; }));
  CHECK(r.errors[0].will_reconnect);
  CHECK(r.errors[0].retry_in >= 20ms);
  CHECK(r.errors[0].retry_in <= 100ms);
  close_and_drain(loop, es);
}

TEST_CASE("bad server: accepts and never answers: connect_timeout, then a new attempt") {
  raw_server server([](const raw_server::connection& c) { c.wait_closed(); });
  client_loop loop;
  record r;
  auto options = quick_options();
  options.connect_timeout = 100ms;
  auto es = make_client(loop, server.url(), r, options);
  es->start();
  REQUIRE(loop.run_until([&] { return !r.errors.empty() && server.request_count() >= 2; }));
  CHECK(r.errors[0].code == errc::connect_timeout);
  CHECK(r.errors[0].will_reconnect);
  CHECK(r.opens == 0);
  close_and_drain(loop, es);
}

TEST_CASE("bad server: sends the head and then nothing: stalled, then a new attempt") {
  raw_server server(replies_and_holds(stream_head));
  client_loop loop;
  record r;
  auto options = quick_options();
  options.stall_timeout = 100ms;
  auto es = make_client(loop, server.url(), r, options);
  es->start();
  REQUIRE(loop.run_until([&] { return !r.errors.empty() && r.opens >= 2; }));
  CHECK(r.errors[0].code == errc::stalled);
  CHECK(r.errors[0].will_reconnect);
  close_and_drain(loop, es);
}

TEST_CASE("bad server: not HTTP at all is final") {
  raw_server server(replies("data: this is not a response head\n\n\r\n\r\n"));
  record r;
  expect_final(server, "/", r);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == errc::bad_response);
}

TEST_CASE("bad server: a response head past max_header_bytes is final") {
  raw_server server(replies_and_holds(
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Pad: " + std::string(200000, 'p') +
      "\r\n\r\n"));
  record r;
  expect_final(server, "/", r);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == errc::response_head_too_large);
}

TEST_CASE("bad server: a 100 MB line ends with line_too_long, in bounded memory") {
  raw_server server([](const raw_server::connection& c) {
    if (!c.write(stream_head + "data: ")) return;
    const std::string block(64 * 1024, 'x');
    for (std::size_t sent = 0; sent < (std::size_t{100} << 20); sent += block.size())
      if (!c.write(block)) return;  // the client hung up, as it should
    c.write("\n\n");
    c.wait_closed();
  });
  const bool peak_resets = reset_peak_rss();
  const long before = status_kib("VmRSS");
  REQUIRE(before > 0);
  record r;
  expect_final(server, "/", r);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == errc::line_too_long);
  CHECK(r.events.empty());
  CHECK(r.opens == 1);
  // The parser holds at most max_line_size (16 MiB) of a line; the whole
  // line would be 100 MB. Allow for allocator growth and sanitizer shadow
  // (ASan's is an eighth; TSan's is heap_rss_factor).
  const long after = status_kib(peak_resets ? "VmHWM" : "VmRSS");
  INFO("RSS before " << before << " KiB, " << std::string(peak_resets ? "peak" : "after") << " "
                     << after << " KiB");
  CHECK(after - before < heap_rss_factor * 64 * 1024);
}

TEST_CASE("a chunked body, chunks cut at odd places and across reads") {
  std::mutex mutex;
  std::condition_variable cv;
  bool first_seen = false;
  raw_server server([&](const raw_server::connection& c) {
    if (c.index > 0) return c.wait_closed();
    c.write(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
    // "data: one\n\n" then "id: 2\nevent: t\ndata: two\n\n", cut inside
    // field names, inside a chunk-size line, between CR and LF.
    c.write("3\r\ndat\r\n8;ext=1\r\na: one\n\n\r\n4\r\nid: \r\n1");
    {
      // The rest only once the client has the first event: the next read
      // starts inside a chunk-size line.
      std::unique_lock<std::mutex> lock(mutex);
      cv.wait_for(lock, 20s, [&] { return first_seen; });
    }
    c.write("1\r\n2\nevent: t\ndata: \r");  // 0x11 bytes of data, then CR | LF
    c.write("\n5\r\ntwo\n\n\r\n0\r\nX-Trailer: yes\r\n\r\n");
    c.wait_closed();  // the body ended with the last chunk, not the connection
  });
  client_loop loop;
  record r;
  auto es = make_client(loop, server.url(), r);
  es->on_any([&](const ssepp::message&) {
    std::lock_guard<std::mutex> lock(mutex);
    first_seen = true;
    cv.notify_all();
  });
  es->start();
  REQUIRE(loop.run_until([&] { return r.events.size() == 2 && !r.errors.empty(); }));
  CHECK(r.events == std::vector<std::string>{"message|one|", "t|two|2"});
  CHECK(r.errors[0].code == errc::stream_ended);
  CHECK(r.errors[0].will_reconnect);
  REQUIRE(loop.run_until([&] { return server.request_count() == 2; }));
  CHECK(header_value(server.requests()[1], "last-event-id") == "2");
  close_and_drain(loop, es);
}

TEST_CASE("a malformed chunked body is an error, and retried") {
  raw_server server(replies_and_holds(
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
      "b\r\ndata: one\n\n\r\nzz\r\n"));
  client_loop loop;
  record r;
  auto es = make_client(loop, server.url(), r);
  es->start();
  REQUIRE(loop.run_until([&] { return r.errors.size() == 1; }));
  CHECK(r.events == std::vector<std::string>{"message|one|"});
  CHECK(r.errors[0].code == errc::bad_response);
  CHECK(r.errors[0].will_reconnect);
  close_and_drain(loop, es);
}

TEST_CASE("a close-delimited body (HTTP/1.0 style): the close ends it, the client reconnects") {
  raw_server server([](const raw_server::connection& c) {
    if (c.index == 0) {
      c.write(
          "HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\nid: 1\ndata: a\n\nid: "
          "2\ndata: b\n\n");
      return;
    }
    c.write("HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\nid: 3\ndata: c\n\n");
    c.wait_closed();
  });
  client_loop loop;
  record r;
  auto es = make_client(loop, server.url(), r);
  es->start();
  REQUIRE(loop.run_until([&] { return r.events.size() == 3; }));
  CHECK(r.events == std::vector<std::string>{"message|a|1", "message|b|2", "message|c|3"});
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == errc::stream_ended);
  CHECK(header_value(server.requests()[1], "last-event-id") == "2");
  close_and_drain(loop, es);
}

TEST_CASE("a Content-Length body: its end is the stream's end, bytes past it are ignored") {
  SUBCASE("the length covers one event") {
    raw_server server([](const raw_server::connection& c) {
      if (c.index == 0) {
        const std::string body = "id: 1\ndata: a\n\n";
        // The connection stays open and more bytes follow: only the
        // length counts.
        c.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body + "data: past the end\n\n");
        return c.wait_closed();
      }
      c.write(stream_head);
      c.wait_closed();
    });
    client_loop loop;
    record r;
    auto es = make_client(loop, server.url(), r);
    es->start();
    REQUIRE(loop.run_until([&] { return server.request_count() == 2 && r.opens == 2; }));
    CHECK(r.events == std::vector<std::string>{"message|a|1"});
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].code == errc::stream_ended);
    CHECK(r.errors[0].will_reconnect);
    CHECK(header_value(server.requests()[1], "last-event-id") == "1");
    close_and_drain(loop, es);
  }
  SUBCASE("the body arrives after the head, in pieces") {
    raw_server server([](const raw_server::connection& c) {
      if (c.index == 0) {
        c.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 15\r\n\r\n");
        c.write("id: 7\ndata");
        c.write(": b\n\n");
        return c.wait_closed();
      }
      c.wait_closed();
    });
    client_loop loop;
    record r;
    auto es = make_client(loop, server.url(), r);
    es->start();
    REQUIRE(loop.run_until([&] { return server.request_count() == 2; }));
    CHECK(r.events == std::vector<std::string>{"message|b|7"});
    close_and_drain(loop, es);
  }
  SUBCASE("Content-Length: 0 ends at once") {
    raw_server server(replies_and_holds(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 0\r\n\r\n"));
    client_loop loop;
    record r;
    auto es = make_client(loop, server.url(), r);
    es->start();
    REQUIRE(loop.run_until([&] { return server.request_count() == 2; }));
    REQUIRE_FALSE(r.errors.empty());
    CHECK(r.errors[0].code == errc::stream_ended);
    close_and_drain(loop, es);
  }
}

// --- requests ------------------------------------------------------------------------

TEST_CASE("a POST with a JSON body and an Authorization header, as LLM APIs want") {
  raw_server server(
      replies_and_holds(stream_head + "event: token\ndata: Hel\n\nevent: token\ndata: lo\n\n"));
  client_loop loop;
  record r;
  auto options = quick_options();
  options.method = "POST";
  options.body = R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})";
  options.headers = {{"Authorization", "Bearer sk-test-123"}, {"Content-Type", "application/json"}};
  auto es = make_client(loop, server.url("/v1/chat/completions?x=1"), r, options);
  std::string text;
  es->on("token", [&](const ssepp::message& m) { text += m.data; });
  es->start();
  REQUIRE(loop.run_until([&] { return r.events.size() == 2; }));
  CHECK(text == "Hello");
  const auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  const std::string& req = requests[0];
  CHECK(request_line(req) == "POST /v1/chat/completions?x=1 HTTP/1.1");
  CHECK(header_value(req, "authorization") == "Bearer sk-test-123");
  CHECK(header_value(req, "content-type") == "application/json");
  CHECK(header_value(req, "content-length") == std::to_string(options.body.size()));
  CHECK(header_value(req, "accept") == "text/event-stream");
  CHECK(header_value(req, "cache-control") == "no-cache");
  CHECK(header_value(req, "host") == "127.0.0.1:" + std::to_string(server.port()));
  CHECK_FALSE(header_value(req, "last-event-id"));
  CHECK(request_body(req) == options.body);
  close_and_drain(loop, es);
}

TEST_CASE("a reconnect repeats the method, headers and body") {
  raw_server server([](const raw_server::connection& c) {
    c.write(stream_head + "id: " + std::to_string(c.index + 1) + "\ndata: x\n\n");
    if (c.index > 0) c.wait_closed();
  });
  client_loop loop;
  record r;
  auto options = quick_options();
  options.method = "PUT";
  options.body = "payload";
  options.headers = {{"X-Token", "t"}};
  auto es = make_client(loop, server.url("/p"), r, options);
  es->start();
  REQUIRE(loop.run_until([&] { return r.events.size() == 2; }));
  const auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  for (const auto& req : requests) {
    CHECK(request_line(req) == "PUT /p HTTP/1.1");
    CHECK(header_value(req, "x-token") == "t");
    CHECK(request_body(req) == "payload");
  }
  CHECK(header_value(requests[1], "last-event-id") == "1");
  close_and_drain(loop, es);
}

TEST_CASE("a GET without a body sends no Content-Length") {
  raw_server server(replies_and_holds(stream_head));
  client_loop loop;
  record r;
  auto es = make_client(loop, server.url(), r);
  es->start();
  REQUIRE(loop.run_until([&] { return r.opens == 1; }));
  const auto req = server.requests().at(0);
  CHECK(request_line(req) == "GET / HTTP/1.1");
  CHECK_FALSE(header_value(req, "content-length"));
  close_and_drain(loop, es);
}

TEST_CASE("a URL that is not http(s) is a final bad_url error") {
  for (const std::string url :
       {"ftp://127.0.0.1/", "127.0.0.1:80/x", "http://user@127.0.0.1/", ""}) {
    CAPTURE(url);
    client_loop loop;
    record r;
    auto es = make_client(loop, url, r);
    es->start();
    REQUIRE(loop.run_until([&] { return r.closes == 1; }));
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].code == errc::bad_url);
    CHECK_FALSE(r.errors[0].will_reconnect);
    CHECK(loop.drained());
    CHECK(es.use_count() == 1);
  }
}

TEST_CASE("a method, header or Last-Event-ID with CR or LF is refused before connecting") {
  auto bad_method = quick_options();
  bad_method.method = "GET /x HTTP/1.1\r\nX-Forged: 1\r\n";
  auto bad_header = quick_options();
  bad_header.headers.emplace_back("X-Ok", "a\r\nX-Forged: 1");
  auto bad_name = quick_options();
  bad_name.headers.emplace_back("X-Bad:", "v");
  auto bad_id = quick_options();
  bad_id.last_event_id = "7\nX-Forged: 1";
  for (const auto& options : {bad_method, bad_header, bad_name, bad_id}) {
    client_loop loop;
    record r;
    auto es = make_client(loop, "http://127.0.0.1:9/events", r, options);
    es->start();
    REQUIRE(loop.run_until([&] { return r.closes == 1; }));
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].code == errc::invalid_request);
    CHECK_FALSE(r.errors[0].will_reconnect);
  }
}

TEST_CASE("a method or header name that is not an HTTP token is refused before connecting") {
  std::vector<sa::client_options> bad;
  for (const std::string method : {"G(ET", "GET /x", "P\"OST", "GET:", "", "G\xc3\x89T"}) {
    bad.push_back(quick_options());
    bad.back().method = method;
  }
  for (const std::string name : {"X(y)", "X Bad", "Bad@Name", "X-Bad:", "", "{x}"}) {
    bad.push_back(quick_options());
    bad.back().headers.emplace_back(name, "v");
  }
  raw_server server(replies_and_holds(stream_head));
  for (const auto& options : bad) {
    CAPTURE(options.method);
    CAPTURE(options.headers.empty() ? std::string() : options.headers[0].first);
    client_loop loop;
    record r;
    auto es = make_client(loop, server.url(), r, options);
    es->start();
    REQUIRE(loop.run_until([&] { return r.closes == 1; }));
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].code == errc::invalid_request);
    CHECK_FALSE(r.errors[0].will_reconnect);
    CHECK(r.errors[0].message.find("is not an HTTP token") != std::string::npos);
    CHECK(r.errors[0].message.find(options.headers.empty()
                                       ? "client_options::method"
                                       : "client_options::headers") != std::string::npos);
  }
  CHECK(server.request_count() == 0);
}

TEST_CASE("any token is a method or header name, punctuation included") {
  raw_server server(replies_and_holds(stream_head));
  client_loop loop;
  record r;
  auto options = quick_options();
  options.method = "M-SEARCH";
  options.headers = {{"X_Odd.Name~1!#$%&'*+^`|", "a value: with (anything) \"but\" line ends"}};
  auto es = make_client(loop, server.url(), r, options);
  es->start();
  REQUIRE(loop.run_until([&] { return r.opens == 1; }));
  const auto req = server.requests().at(0);
  CHECK(request_line(req) == "M-SEARCH / HTTP/1.1");
  CHECK(header_value(req, "x_odd.name~1!#$%&'*+^`|") == options.headers[0].second);
  close_and_drain(loop, es);
}

TEST_CASE("close() from another thread: readyState is closed when it returns") {
  client_loop loop;
  record r;
  auto es = make_client(loop, "http://127.0.0.1:9/events", r);
  std::thread([&] { es->close(); }).join();
  CHECK(es->state() == ssepp::asio::ready_state::closed);
  REQUIRE(loop.run_until([&] { return r.closes == 1; }));
}

// --- close() ---------------------------------------------------------------------------

TEST_CASE(
    "close() from another thread is prompt: no event after it returns, nothing left running") {
  // A server that streams as fast as it can until the client hangs up.
  raw_server server([](const raw_server::connection& c) {
    if (!c.write(stream_head)) return;
    // retry: in every event, so the client updates its reconnection time
    // while another thread reads it.
    for (std::uint64_t i = 1;; ++i)
      if (!c.write("retry: 20\nid: " + std::to_string(i) + "\ndata: tick " + std::to_string(i) +
                   "\n\n"))
        return;
  });
  client_context context;
  net::io_context& io = context.get();
  std::atomic<std::uint64_t> received{0}, after_close{0};
  std::atomic<bool> closed{false};
  std::atomic<int> close_callbacks{0};
  std::mutex mutex;
  std::condition_variable cv;
  auto es = create_client(io.get_executor(), server.url(), quick_options());
  es->on_any([&](const ssepp::message&) {
    if (closed) ++after_close;
    if (++received == 1000) {
      std::lock_guard<std::mutex> lock(mutex);
      cv.notify_all();
    }
  });
  es->on_close([&] { ++close_callbacks; });
  es->start();
  std::promise<void> io_done;
  auto io_finished = io_done.get_future();
  std::thread io_thread([&] {
    io.run();
    io_done.set_value();
  });
  {
    std::unique_lock<std::mutex> lock(mutex);
    CHECK(cv.wait_for(lock, 20s, [&] { return received >= 1000; }));
  }
  // The accessors are safe from any thread while the client runs.
  CHECK(es->state() == sa::ready_state::open);
  CHECK_FALSE(es->last_event_id().empty());
  CHECK(es->url() == server.url());
  CHECK(es->reconnection_time() >= 0ms);

  es->close();
  closed = true;
  const bool finished = io_finished.wait_for(20s) == std::future_status::ready;
  CHECK(finished);  // the loop ran out of work: no timer, no socket left
  if (!finished) io.stop();
  io_thread.join();
  // At most the one event whose dispatch was already running.
  CHECK(after_close <= 1);
  CHECK(close_callbacks == 1);
  CHECK(es->state() == sa::ready_state::closed);
  CHECK(es.use_count() == 1);
}

TEST_CASE(
    "close() from another thread as the stream opens: once it returns, readyState stays closed") {
  // close() races the client's strand as it takes the response head; a
  // readyState set to open without looking at close() undid its "closed".
  // And the client's handlers stop as soon as they see close(): its
  // io_context must not run out of work (run() returning) before the
  // closing is done.
  raw_server server(replies_and_holds(stream_head + "data: x\n\n"));
  for (int round = 0; round < 200; ++round) {
    CAPTURE(round);
    client_context context;
    net::io_context& io = context.get();
    auto es = create_client(io.get_executor(), server.url(), quick_options());
    int closes = 0;  // on the io thread; read after it is joined
    es->on_close([&closes] { ++closes; });
    const std::size_t requests = server.request_count();
    es->start();
    std::thread io_thread([&] { io.run(); });
    // Mostly close as the head arrives; now and then at once.
    if (round % 4 != 0)
      while (server.request_count() == requests) std::this_thread::yield();
    for (int spin = 0; spin < round % 50; ++spin) std::this_thread::yield();
    es->close();
    CHECK(es->state() == sa::ready_state::closed);
    io_thread.join();  // run() returns once the client has wound down
    CHECK(es->state() == sa::ready_state::closed);
    CHECK(closes == 1);
    CHECK(es.use_count() == 1);
  }
}

TEST_CASE("close() inside a listener: no further event is dispatched") {
  std::string burst = stream_head;
  for (int i = 1; i <= 10; ++i)
    burst += "id: " + std::to_string(i) + "\ndata: " + std::to_string(i) + "\n\n";
  raw_server server(replies_and_holds(burst));
  client_loop loop;
  record r;
  auto es = make_client(loop, server.url(), r);
  client_type* raw = es.get();  // a shared_ptr here would be a cycle
  es->on_any([&r, raw](const ssepp::message&) {
    if (r.events.size() == 3) raw->close();
  });
  es->start();
  REQUIRE(loop.run_until([&] { return r.closes == 1; }));
  CHECK(r.events == std::vector<std::string>{"message|1|1", "message|2|2", "message|3|3"});
  CHECK(r.errors.empty());
  CHECK(loop.drained());
  CHECK(es->state() == sa::ready_state::closed);
  CHECK(es.use_count() == 1);
}

TEST_CASE("close() inside on_open: no event, nothing left running") {
  raw_server server(replies_and_holds(stream_head + "data: too late\n\n"));
  client_loop loop;
  record r;
  auto options = quick_options();
  options.stall_timeout = 60s;  // a watchdog left armed would keep the client alive
  auto es = make_client(loop, server.url(), r, options);
  client_type* raw = es.get();
  es->on_open([raw] { raw->close(); });
  es->start();
  REQUIRE(loop.run_until([&] { return r.closes == 1; }));
  CHECK(r.events.empty());
  CHECK(loop.drained());
  CHECK(es.use_count() == 1);
}

TEST_CASE("close() inside on_error: no reconnect") {
  const std::uint16_t port = closed_port();
  client_loop loop;
  record r;
  auto es = make_client(loop, "http://127.0.0.1:" + std::to_string(port) + "/", r);
  client_type* raw = es.get();
  es->on_error([&r, raw](const sa::client_error& e) {
    r.errors.push_back(e);
    raw->close();
  });
  es->start();
  REQUIRE(loop.run_until([&] { return r.closes == 1; }));
  CHECK(r.errors.size() == 1);
  CHECK(loop.drained());
  CHECK(es.use_count() == 1);
}

TEST_CASE("close() during the backoff wait cancels the reconnect") {
  raw_server server(replies("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 3600\r\n\r\n"));
  client_loop loop;
  record r;
  auto es = make_client(loop, server.url(), r);
  es->start();
  REQUIRE(loop.run_until([&] { return r.errors.size() == 1; }));
  CHECK(r.errors[0].retry_in >= 3600s);
  close_and_drain(loop, es);  // drained within seconds, not an hour
  CHECK(r.closes == 1);
  CHECK(server.request_count() == 1);
}

TEST_CASE("close() before start(): closed, and start() then does nothing") {
  raw_server server(replies_and_holds(stream_head));
  client_loop loop;
  record r;
  auto es = make_client(loop, server.url(), r);
  es->close();
  es->start();
  REQUIRE(loop.run_until([&] { return r.closes == 1; }));
  CHECK(loop.drained());
  CHECK(es->state() == sa::ready_state::closed);
  CHECK(server.request_count() == 0);
  CHECK(r.errors.empty());
}

// --- memory streams only: splits and failures on demand ------------------------------

#if !SSEPP_TEST_LOOPBACK

TEST_CASE("a response delivered one byte per read is parsed as when it comes whole") {
  const std::string response =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Long: " + std::string(100, 'h') +
      "\r\nCache-Control: no-cache\r\n\r\n"
      "retry: 50\n: hello\nid: 1\nevent: t\ndata: a\ndata: b\n\n"
      "data: c\r\n\r\n";
  for (const std::size_t read_size : {0u, 1u, 2u, 3u, 7u}) {  // 0: as much as the buffer takes
    CAPTURE(read_size);
    raw_server server(replies_and_holds(response));
    network().on_connect(server.address(),
                         [read_size](sa::memory_stream& client_end, sa::memory_stream&,
                                     std::size_t) { client_end.read_size(read_size); });
    client_loop loop;
    record r;
    auto es = make_client(loop, server.url(), r);
    std::vector<std::string> comments;
    es->on_comment([&](std::string_view text) { comments.emplace_back(text); });
    es->start();
    REQUIRE(loop.run_until([&] { return r.events.size() == 2; }));
    CHECK(r.events == std::vector<std::string>{"t|a\nb|1", "message|c|1"});
    CHECK(r.retries == std::vector<milliseconds>{50ms});
    CHECK(comments == std::vector<std::string>{"hello"});
    CHECK(r.opens == 1);
    CHECK(r.errors.empty());
    close_and_drain(loop, es);
  }
}

TEST_CASE("interim 1xx heads read a few bytes at a time are skipped as when they come whole") {
  const std::string response =
      "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
      "HTTP/1.1 100 Continue\r\n\r\n" +
      stream_head + "id: 1\ndata: a\n\n";
  for (const std::size_t read_size : {1u, 2u, 5u, 31u}) {
    CAPTURE(read_size);
    raw_server server(replies_and_holds(response));
    network().on_connect(server.address(),
                         [read_size](sa::memory_stream& client_end, sa::memory_stream&,
                                     std::size_t) { client_end.read_size(read_size); });
    expect_first_event(server.url(), "message|a|1");
  }
}

TEST_CASE("a request written one byte per write arrives whole") {
  raw_server server(replies_and_holds(stream_head + "data: ok\n\n"));
  network().on_connect(server.address(), [](sa::memory_stream& client_end, sa::memory_stream&,
                                            std::size_t) { client_end.write_size(1); });
  client_loop loop;
  record r;
  auto options = quick_options();
  options.method = "POST";
  options.body = R"({"q":1})";
  options.headers = {{"Authorization", "Bearer t"}};
  auto es = make_client(loop, server.url("/ask"), r, options);
  es->start();
  REQUIRE(loop.run_until([&] { return r.events.size() == 1; }));
  const auto requests = server.requests();
  REQUIRE(requests.size() == 1);
  CHECK(request_line(requests[0]) == "POST /ask HTTP/1.1");
  CHECK(header_value(requests[0], "authorization") == "Bearer t");
  CHECK(request_body(requests[0]) == options.body);
  CHECK(network().sent(server.address()) == requests);
  close_and_drain(loop, es);
}

TEST_CASE("a chunked response split at every index gives the same events") {
  // Chunks cut inside field names, inside a chunk-size line, between CR and
  // LF; an extension and a trailer.
  const std::string response =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\ndat\r\n8;ext=1\r\na: one\n\n\r\n4\r\nid: \r\n11\r\n2\nevent: t\ndata: \r\n"
      "5\r\ntwo\n\n\r\n0\r\nX-Trailer: yes\r\n\r\n";
  const std::uint16_t port = fresh_port();
  std::optional<sa::memory_stream> server_end;
  auto listening = network().listen(address_of(port),
                                    [&](sa::memory_stream s) { server_end.emplace(std::move(s)); });
  auto options = quick_options();
  options.reconnect = false;  // one connection per split
  for (std::size_t split = 0; split <= response.size(); ++split) {
    CAPTURE(split);
    client_loop loop;
    record r;
    auto es = make_client(loop, "http://" + address_of(port) + "/", r, options);
    es->start();
    REQUIRE(loop.run_until([&] { return server_end && is_whole_request(server_end->str()); }));
    const std::string_view whole(response);
    for (const std::string_view part : {whole.substr(0, split), whole.substr(split)}) {
      bool written = false;
      net::async_write(*server_end, net::buffer(part.data(), part.size()),
                       net::bind_executor(loop.io, [&](sa::error_code ec, std::size_t) {
                         CHECK_FALSE(ec);
                         written = true;
                       }));
      REQUIRE(loop.run_until([&] { return written; }));
      // The client has now read all of `part`, and nothing after it: the
      // split is exactly here, whatever the timing.
      loop.settle();
    }
    REQUIRE(loop.run_until([&] { return r.closes == 1; }));
    CHECK(r.events == std::vector<std::string>{"message|one|", "t|two|2"});
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].code == errc::stream_ended);
    CHECK(r.opens == 1);
    server_end.reset();
    CHECK(loop.drained());
    CHECK(es.use_count() == 1);
  }
}

TEST_CASE("a read error at every read of the stream is retried with the right Last-Event-ID") {
  // Five events; every connection sends those after its Last-Event-ID.
  auto events_after = [](int last) {
    std::string bytes;
    for (int i = last + 1; i <= 5; ++i)
      bytes += "id: " + std::to_string(i) + "\ndata: e" + std::to_string(i) + "\n\n";
    return bytes;
  };
  const raw_server::script script = [&](const raw_server::connection& c) {
    c.write(stream_head +
            events_after(std::stoi(header_value(c.request, "last-event-id").value_or("0"))));
    c.wait_closed();
  };
  std::vector<std::string> all;
  for (int i = 1; i <= 5; ++i)
    all.push_back("message|e" + std::to_string(i) + "|" + std::to_string(i));
  // The first reply arrives in one write and is read 16 bytes at a time, so
  // the n-th read is always the same bytes; read reads + 1 waits past the end.
  constexpr std::size_t read_size = 16;
  const std::size_t reads =
      (stream_head.size() + events_after(0).size() + read_size - 1) / read_size;
  std::vector<std::size_t> delivered_before;  // events dispatched before the error, per n
  for (std::size_t n = 1; n <= reads + 1; ++n) {
    CAPTURE(n);
    raw_server server(script);
    network().on_connect(server.address(),
                         [n](sa::memory_stream& client_end, sa::memory_stream&, std::size_t index) {
                           if (index > 0) return;
                           client_end.read_size(read_size);
                           client_end.fail_read(n);
                         });
    client_loop loop;
    record r;
    std::size_t delivered = 0;
    int opens_before = 0;
    auto es = make_client(loop, server.url(), r);
    es->on_error([&](const sa::client_error& e) {
      if (r.errors.empty()) {
        delivered = r.events.size();
        opens_before = r.opens;
      }
      r.errors.push_back(e);
    });
    es->start();
    // Open on the second connection, with every event.
    REQUIRE(loop.run_until([&] {
      return server.request_count() == 2 && es->state() == sa::ready_state::open &&
             r.events.size() == 5;
    }));
    CHECK(r.opens == opens_before + 1);
    CHECK(r.events == all);  // each once, in order: none lost, none repeated
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].code == as_std(net::error::connection_reset));
    CHECK(r.errors[0].will_reconnect);
    const auto requests = server.requests();
    REQUIRE(requests.size() == 2);
    CHECK_FALSE(header_value(requests[0], "last-event-id"));
    const auto resumed = header_value(requests[1], "last-event-id");
    if (delivered == 0) {
      CHECK_FALSE(resumed);
    } else {
      CHECK(resumed == std::to_string(delivered));
    }
    delivered_before.push_back(delivered);
    close_and_drain(loop, es);
  }
  // The sweep went from before the head was parsed to after the last event.
  CHECK(delivered_before.front() == 0);
  CHECK(delivered_before.back() == 5);
  CHECK(std::is_sorted(delivered_before.begin(), delivered_before.end()));
}

TEST_CASE("a write error at every write of the request is retried") {
  auto options = quick_options();
  options.method = "POST";
  options.body = R"({"model":"m","stream":true})";
  constexpr std::size_t write_size = 8;
  for (std::size_t n = 1;; ++n) {
    CAPTURE(n);
    REQUIRE(n < 1000);
    raw_server server(replies_and_holds(stream_head + "data: ok\n\n"));
    network().on_connect(server.address(),
                         [n](sa::memory_stream& client_end, sa::memory_stream&, std::size_t index) {
                           client_end.write_size(write_size);
                           if (index == 0) client_end.fail_write(n);
                         });
    client_loop loop;
    record r;
    auto es = make_client(loop, server.url("/v1/stream"), r, options);
    es->start();
    REQUIRE(loop.run_until([&] { return r.events.size() == 1; }));
    CHECK(r.events[0] == "message|ok|");
    const auto sent = network().sent(server.address());
    if (r.errors.empty()) {
      // The request took fewer than n writes: every failing one was met.
      REQUIRE(sent.size() == 1);
      CHECK(n > 1);
      CHECK((sent[0].size() + write_size - 1) / write_size == n - 1);
      CHECK(server.requests() == sent);
      close_and_drain(loop, es);
      break;
    }
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].code == as_std(net::error::connection_reset));
    CHECK(r.errors[0].message.find("sending the request") != std::string::npos);
    CHECK(r.errors[0].will_reconnect);
    CHECK(r.opens == 1);
    REQUIRE(sent.size() == 2);
    // What went out before the failure, and only the retry arrived whole.
    CHECK(sent[0] == sent[1].substr(0, (n - 1) * write_size));
    CHECK(server.requests() == std::vector<std::string>{sent[1]});
    CHECK(request_line(sent[1]) == "POST /v1/stream HTTP/1.1");
    CHECK(request_body(sent[1]) == options.body);
    close_and_drain(loop, es);
  }
}

TEST_CASE("nothing listening at an address: connection_refused, counted by the network") {
  const std::uint16_t port = closed_port();
  client_loop loop;
  record r;
  auto options = quick_options();
  options.reconnect = false;
  auto es = make_client(loop, "http://" + address_of(port) + "/", r, options);
  es->start();
  REQUIRE(loop.run_until([&] { return r.closes == 1; }));
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == as_std(net::error::connection_refused));
  CHECK(r.errors[0].message.find("connecting to http://" + address_of(port) + "/") !=
        std::string::npos);
  CHECK(network().attempts(address_of(port)) == 1);
  CHECK(network().sent(address_of(port)).empty());
  CHECK(loop.drained());
}

#endif  // !SSEPP_TEST_LOOPBACK

// --- tcp_connector: what only real sockets show ---------------------------------------

#if SSEPP_TEST_TCP_CONNECTOR

namespace {

// Reads one request head from a socket; false if the peer left first.
bool read_request_head(int fd, std::string& out) {
  char buffer[4096];
  while (out.find("\r\n\r\n") == std::string::npos) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

TEST_CASE("tcp_connector: a host name is resolved, and the Host field keeps it") {
  std::mutex mutex;
  std::vector<std::string> requests;
  tcp_listener listener([&](int fd, std::size_t) {
    std::string request;
    if (!read_request_head(fd, request)) return;
    {
      std::lock_guard<std::mutex> lock(mutex);
      requests.push_back(request);
    }
    send_all(fd, stream_head + "data: found\n\n");
    char buffer[256];
    while (::recv(fd, buffer, sizeof buffer, 0) > 0) {
    }
  });
  const std::string url = "http://localhost:" + std::to_string(listener.port()) + "/named";
  client_loop loop;
  record r;
  auto es = make_tcp_client(loop, url, r);
  es->start();
  REQUIRE(loop.run_until([&] { return r.events.size() == 1; }));
  CHECK(r.events[0] == "message|found|");
  CHECK(r.errors.empty());  // ::1 may be tried first and refused: that is no error
  CHECK(es->url() == url);
  {
    std::lock_guard<std::mutex> lock(mutex);
    REQUIRE(requests.size() == 1);
    CHECK(header_value(requests[0], "host") == "localhost:" + std::to_string(listener.port()));
  }
  close_and_drain(loop, es);
}

TEST_CASE("tcp_connector: a refused connection is the OS's connection_refused, retried") {
  client_loop loop;
  record r;
  auto es = make_tcp_client(loop, "http://127.0.0.1:" + std::to_string(free_tcp_port()) + "/", r);
  es->start();
  REQUIRE(loop.run_until([&] { return r.errors.size() == 2; }));
  for (const auto& e : r.errors) {
    CHECK(e.code == as_std(net::error::connection_refused));
    CHECK(e.message.find("connecting to http://127.0.0.1:") != std::string::npos);
    CHECK(e.will_reconnect);
  }
  close_and_drain(loop, es);
}

TEST_CASE("tcp_connector: a listener that never accepts: connect_timeout, then a new attempt") {
  // The kernel completes the handshake into the backlog; nobody ever
  // reads the request.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(fd, 8) == 0);
  socklen_t length = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) == 0);
  client_loop loop;
  record r;
  auto options = quick_options();
  options.connect_timeout = 100ms;
  auto es = make_tcp_client(loop, "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/",
                            r, options);
  es->start();
  REQUIRE(loop.run_until([&] { return r.errors.size() == 2; }));
  for (const auto& e : r.errors) {
    CHECK(e.code == errc::connect_timeout);
    CHECK(e.will_reconnect);
  }
  CHECK(r.opens == 0);
  close_and_drain(loop, es);
  ::close(fd);
}

// --- TLS

#if defined(SSEPP_ENABLE_OPENSSL)

namespace {

// A self-signed certificate and its key, in PEM, made with OpenSSL's API.
struct test_certificate {
  std::string cert_pem;
  std::string key_pem;
};

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

test_certificate make_certificate(const char* subject_alt_names) {
  EVP_PKEY_CTX* kctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nullptr);
  REQUIRE(kctx);
  REQUIRE(EVP_PKEY_keygen_init(kctx) == 1);
  REQUIRE(EVP_PKEY_CTX_set_ec_paramgen_curve_nid(kctx, NID_X9_62_prime256v1) == 1);
  EVP_PKEY* key = nullptr;
  REQUIRE(EVP_PKEY_keygen(kctx, &key) == 1);
  EVP_PKEY_CTX_free(kctx);

  X509* cert = X509_new();
  X509_set_version(cert, 2);
  static std::atomic<long> serial{1};
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("ssepp test"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  const std::pair<int, const char*> extensions[] = {
      {NID_subject_alt_name, subject_alt_names},
      {NID_basic_constraints, "critical,CA:TRUE"},
      {NID_key_usage, "critical,digitalSignature,keyCertSign"}};
  for (const auto& [nid, value] : extensions) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    REQUIRE(ext);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  REQUIRE(X509_sign(cert, key, EVP_sha256()) > 0);

  test_certificate out;
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  out.cert_pem = bio_text(bio);
  BIO_free(bio);
  bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  out.key_pem = bio_text(bio);
  BIO_free(bio);
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

// A file holding `text`, removed with the object.
class temp_file {
 public:
  explicit temp_file(const std::string& text) {
    static std::atomic<int> counter{0};
    path_ = (std::filesystem::temp_directory_path() / ("ssepp-test-" + std::to_string(::getpid()) +
                                                       "-" + std::to_string(counter++) + ".pem"))
                .string();
    std::ofstream(path_, std::ios::binary) << text;
  }
  ~temp_file() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A TLS server (asio::ssl, blocking, a thread per connection) that answers
// every request with `reply` and holds the connection open.
class tls_server {
 public:
  tls_server(const test_certificate& cert, std::string reply) : reply_(std::move(reply)) {
    context_.use_certificate_chain(net::buffer(cert.cert_pem));
    context_.use_private_key(net::buffer(cert.key_pem), net::ssl::context::pem);
  }
  std::uint16_t port() const { return listener_.port(); }
  std::string url(const std::string& host) const {
    return "https://" + host + ":" + std::to_string(port()) + "/events";
  }
  std::size_t handshakes() const { return handshakes_.load(); }
  std::vector<std::string> requests() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }

 private:
  void serve(int fd) {
    net::io_context io;
    net::ip::tcp::socket socket(io);
    sa::error_code ec;
    socket.assign(net::ip::tcp::v4(), ::dup(fd), ec);
    if (ec) return;
    net::ssl::stream<net::ip::tcp::socket&> tls(socket, context_);
    tls.handshake(net::ssl::stream_base::server, ec);
    if (ec) return;
    ++handshakes_;
    std::string request;
    net::read_until(tls, net::dynamic_buffer(request), "\r\n\r\n", ec);
    if (ec) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      requests_.push_back(request);
    }
    net::write(tls, net::buffer(reply_), ec);
    char buffer[256];
    while (!ec) tls.read_some(net::buffer(buffer), ec);  // until the client leaves
  }

  std::string reply_;
  net::ssl::context context_{net::ssl::context::tls_server};
  std::atomic<std::size_t> handshakes_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> requests_;
  tcp_listener listener_{[this](int fd, std::size_t) { serve(fd); }};
};

const std::string tls_reply = stream_head + "id: 1\ndata: secret\n\n";

}  // namespace

TEST_CASE("https: a certificate trusted through ca_file; events arrive") {
  const auto cert = make_certificate("DNS:localhost,IP:127.0.0.1");
  const temp_file ca(cert.cert_pem);
  tls_server server(cert, tls_reply);
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    CAPTURE(host);
    client_loop loop;
    record r;
    auto options = quick_options();
    options.ca_file = ca.path();
    auto es = make_tcp_client(loop, server.url(host), r, options);
    es->start();
    REQUIRE(loop.run_until([&] { return r.events.size() == 1; }));
    CHECK(r.events[0] == "message|secret|1");
    CHECK(r.errors.empty());
    CHECK(es->url() == server.url(host));
    close_and_drain(loop, es);
  }
  CHECK(server.handshakes() == 2);
  const auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(request_line(requests[0]) == "GET /events HTTP/1.1");
  CHECK(header_value(requests[1], "host") == "localhost:" + std::to_string(server.port()));
}

TEST_CASE("https: ssepp's own tls_server streams events, and a reconnect resumes from history") {
  const auto cert = make_certificate("DNS:localhost,IP:127.0.0.1");
  const temp_file ca(cert.cert_pem);
  net::ssl::context tls(net::ssl::context::tls_server);
  tls.use_certificate_chain(net::buffer(cert.cert_pem));
  tls.use_private_key(net::buffer(cert.key_pem), net::ssl::context::pem);
  sa::server_options o;
  o.port = 0;
  o.threads = 1;
  o.hub.initial_retry = 20ms;
  o.hub.epoch = "tls";
  o.stop_grace = 500ms;
  sa::tls_server server(o, sa::tls_stream_factory(tls));
  server.start();
  const std::string url = "https://localhost:" + std::to_string(server.port()) + "/events/vault";
  client_loop loop;
  record r;
  auto options = quick_options();
  options.ca_file = ca.path();
  auto es = make_tcp_client(loop, url, r, options);
  es->start();
  REQUIRE(loop.run_until([&] { return server.hub().stats().subscribers == 1; }));
  server.hub().publish("vault", ssepp::event_view{"one", "", ""});
  REQUIRE(loop.run_until([&] { return r.events.size() == 1; }));
  CHECK(r.events[0] == "message|one|tls-1");
  // Dropped by the server while an event is published in between: the
  // client comes back over TLS with Last-Event-ID and gets only what it missed.
  server.hub().close_all(std::nullopt, false);
  server.hub().publish("vault", ssepp::event_view{"two", "", ""});
  REQUIRE(loop.run_until([&] { return r.events.size() == 2; }));
  CHECK(r.events[1] == "message|two|tls-2");
  CHECK(r.opens == 2);
  close_and_drain(loop, es);
}

TEST_CASE("https: a CA file that cannot be loaded is a final error naming it") {
  const auto cert = make_certificate("DNS:localhost,IP:127.0.0.1");
  const temp_file garbage("not a certificate\n");
  tls_server server(cert, tls_reply);
  client_loop loop;
  record r;
  auto options = quick_options();
  options.ca_file = garbage.path();
  auto es = make_tcp_client(loop, server.url("127.0.0.1"), r, options);
  es->start();
  REQUIRE(loop.run_until([&] { return r.closes == 1; }));
  REQUIRE(r.errors.size() == 1);
  CHECK_FALSE(r.errors[0].will_reconnect);
  CHECK(r.errors[0].message.find(garbage.path()) != std::string::npos);
  CHECK(server.handshakes() == 0);
}

TEST_CASE("https: an untrusted certificate fails verification (verify_peer is the default)") {
  const auto cert = make_certificate("DNS:localhost,IP:127.0.0.1");
  tls_server server(cert, tls_reply);
  SUBCASE("retried, like any network error, while reconnect is on") {
    client_loop loop;
    record r;
    auto es = make_tcp_client(loop, server.url("127.0.0.1"), r);
    es->start();
    REQUIRE(loop.run_until([&] { return r.errors.size() == 2; }));
    for (const auto& e : r.errors) {
      CHECK(e.code.category() == ssl_category());
      CHECK(e.message.find("certificate verify failed") != std::string::npos);
      CHECK(e.will_reconnect);
    }
    CHECK(r.opens == 0);
    CHECK(r.events.empty());
    close_and_drain(loop, es);
  }
  SUBCASE("final with reconnect off") {
    client_loop loop;
    record r;
    auto options = quick_options();
    options.reconnect = false;
    auto es = make_tcp_client(loop, server.url("127.0.0.1"), r, options);
    es->start();
    REQUIRE(loop.run_until([&] { return r.closes == 1; }));
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].code.category() == ssl_category());
    CHECK_FALSE(r.errors[0].will_reconnect);
    CHECK(loop.drained());
  }
  CHECK(server.requests().empty());
}

TEST_CASE("https: a trusted certificate for another name fails verification") {
  const auto cert = make_certificate("DNS:example.invalid");
  const temp_file ca(cert.cert_pem);
  tls_server server(cert, tls_reply);
  client_loop loop;
  record r;
  auto options = quick_options();
  options.ca_file = ca.path();
  options.reconnect = false;
  auto es = make_tcp_client(loop, server.url("127.0.0.1"), r, options);
  es->start();
  REQUIRE(loop.run_until([&] { return r.closes == 1; }));
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code.category() == ssl_category());
  CHECK(r.events.empty());
  CHECK(server.requests().empty());
}

TEST_CASE("https: verify_peer = false accepts an untrusted certificate") {
  const auto cert = make_certificate("DNS:example.invalid");
  tls_server server(cert, tls_reply);
  client_loop loop;
  record r;
  auto options = quick_options();
  options.verify_peer = false;
  auto es = make_tcp_client(loop, server.url("127.0.0.1"), r, options);
  es->start();
  REQUIRE(loop.run_until([&] { return r.events.size() == 1; }));
  CHECK(r.events[0] == "message|secret|1");
  CHECK(r.errors.empty());
  close_and_drain(loop, es);
}

// tcp_connector's TLS stream must outlive every operation pending on it:
// destroying it under a pending handshake or read was a use-after-free
// (the aborted operation still touches the stream). These run the client
// through such closes; the ASan build checks that nothing touches freed
// memory.
TEST_CASE("https: close() while the TLS handshake is pending") {
  // A server that takes the ClientHello and never answers it.
  std::atomic<std::size_t> hellos{0};
  tcp_listener listener([&](int fd, std::size_t) {
    char buffer[4096];
    if (::recv(fd, buffer, sizeof buffer, 0) > 0) ++hellos;
    while (::recv(fd, buffer, sizeof buffer, 0) > 0) {
    }
  });
  const std::string url = "https://127.0.0.1:" + std::to_string(listener.port()) + "/events";
  SUBCASE("from the application") {
    client_loop loop;
    record r;
    auto es = make_tcp_client(loop, url, r);
    es->start();
    REQUIRE(loop.run_until([&] { return hellos == 1; }));
    close_and_drain(loop, es);
    CHECK(r.errors.empty());
    CHECK(r.opens == 0);
  }
  SUBCASE("by the connect timeout, again and again, each time with a new attempt") {
    client_loop loop;
    record r;
    auto options = quick_options();
    options.connect_timeout = 100ms;
    auto es = make_tcp_client(loop, url, r, options);
    es->start();
    REQUIRE(loop.run_until([&] { return r.errors.size() == 3; }));
    for (const auto& e : r.errors) {
      CHECK(e.code == errc::connect_timeout);
      CHECK(e.will_reconnect);
    }
    CHECK(hellos >= 3);
    close_and_drain(loop, es);
  }
}

TEST_CASE("https: a stalled TLS stream is closed mid-read and reopened, again and again") {
  const auto cert = make_certificate("DNS:localhost,IP:127.0.0.1");
  const temp_file ca(cert.cert_pem);
  tls_server server(cert, tls_reply);  // one event, then silence
  client_loop loop;
  record r;
  auto options = quick_options();
  options.ca_file = ca.path();
  options.stall_timeout = 150ms;
  auto es = make_tcp_client(loop, server.url("127.0.0.1"), r, options);
  es->start();
  REQUIRE(loop.run_until([&] { return r.opens == 3 && r.events.size() == 3; }));
  for (const auto& e : r.errors) {
    CHECK(e.code == errc::stalled);
    CHECK(e.will_reconnect);
  }
  CHECK(r.errors.size() >= 2);
  close_and_drain(loop, es);  // with the third stream's read pending
  CHECK(server.handshakes() >= 3);
}

#else

TEST_CASE("https:// without TLS support is a final tls_unavailable error") {
  client_loop loop;
  record r;
  auto es = make_tcp_client(loop, "https://127.0.0.1:1/events", r);
  es->start();
  REQUIRE(loop.run_until([&] { return r.closes == 1; }));
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].code == errc::tls_unavailable);
  CHECK_FALSE(r.errors[0].will_reconnect);
  CHECK(loop.drained());
}

#endif

#endif  // SSEPP_TEST_TCP_CONNECTOR
