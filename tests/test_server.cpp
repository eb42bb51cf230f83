// The embedded Asio server: SSE headers and flushing, replay, CORS, the auth
// hook, the publish endpoint, static files, user routes, event feeds
// (stream_route), every bad-input answer while other clients keep
// receiving, clients leaving, slow consumers, graceful stop and concurrent
// publishing.
//
// One suite, two backends, chosen when it is built:
// - in memory (test_server, test_server_boost): a basic_server<memory_stream>
//   started without listening; each client connection is a memory_stream
//   pair whose server end goes to serve(). Its hooks do what sockets cannot
//   do deterministically: a request read one byte at a time or in reads of
//   any size, a write or read that fails at the Nth call, a client that
//   never reads at all.
// - over real loopback sockets (test_server_loopback, SSEPP_TEST_LOOPBACK):
//   a listening server on 127.0.0.1 and a free port, and blocking POSIX
//   clients, for what users meet on sockets: the acceptor, a reset (RST),
//   SIGPIPE, the kernel's buffers.
// The cases are written once, against `connection` (raw bytes out, raw
// response in, on either backend); event streams are read with
// ssepp::parser. Nothing sleeps to wait for something: every wait polls a
// condition against a deadline.
#include <ssepp/asio/server.hpp>

#include <doctest/doctest.h>

#if defined(SSEPP_TEST_LOOPBACK)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#else
#include <ssepp/asio/memory_stream.hpp>
#endif
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <ssepp/parser.hpp>

using namespace std::chrono_literals;
namespace net = ssepp::asio::net;
using ssepp::asio::log_level;
using ssepp::asio::server_options;
#if defined(SSEPP_TEST_LOOPBACK)
using server = ssepp::asio::server;
#else
using ssepp::asio::memory_stream;
using server = ssepp::asio::basic_server<memory_stream>;
#endif

namespace ssepp_test {

using steady = std::chrono::steady_clock;

// How long any one wait may take before the test calls it a failure. Only a
// bound for a hung test: nothing asserts how fast anything happens.
constexpr std::chrono::milliseconds patience{5000};

// Polls `done` until it holds or `limit` passes; returns whether it held.
template <class Condition>
bool eventually(Condition done, std::chrono::milliseconds limit = patience) {
  const auto deadline = steady::now() + limit;
  while (!done()) {
    if (steady::now() >= deadline) return false;
    std::this_thread::sleep_for(1ms);  // the poll interval
  }
  return true;
}

// --- the server under test ---------------------------------------------------------

// Collects the server's log lines from any thread.
class log_book {
 public:
  std::function<void(log_level, std::string_view)> sink() {
    return [this](log_level level, std::string_view text) {
      std::lock_guard<std::mutex> lock(mutex_);
      lines_.emplace_back(level, std::string(text));
    };
  }
  std::size_t count(log_level at_least) const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::size_t n = 0;
    for (const auto& line : lines_) n += line.first >= at_least;
    return n;
  }
  std::size_t count_containing(log_level level, std::string_view text) const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::size_t n = 0;
    for (const auto& line : lines_)
      n += line.first == level && line.second.find(text) != std::string::npos;
    return n;
  }
  std::string dump(log_level at_least) const {
    std::lock_guard<std::mutex> lock(mutex_);
    static const char* names[] = {"debug", "info", "warning", "error"};
    std::string out;
    for (const auto& [level, text] : lines_)
      if (level >= at_least)
        out += std::string(names[static_cast<int>(level)]) + ": " + text + "\n";
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::pair<log_level, std::string>> lines_;
};

// A started server logging into `logs`: listening on 127.0.0.1 and a free
// port (loopback), or taking connections through serve() only (memory).
// When it goes away, no warning or error may have been logged unless the
// test said so.
class test_server {
 public:
  explicit test_server(server_options options = {},
                       const std::function<void(server&)>& setup = {}) {
    if (options.threads == 0) options.threads = 2;
    options.log = logs.sink();
#if defined(SSEPP_TEST_LOOPBACK)
    options.host = "127.0.0.1";
    options.port = 0;
#endif
    server_ = std::make_unique<server>(std::move(options));
    if (setup) setup(*server_);
#if defined(SSEPP_TEST_LOOPBACK)
    server_->start();
#else
    server_->start_without_listening();
#endif
  }
  test_server(const test_server&) = delete;
  test_server& operator=(const test_server&) = delete;
  ~test_server() {
    server_.reset();
#if !defined(SSEPP_TEST_LOOPBACK)
    retired_.clear();  // the server's threads are joined: no one touches them now
#endif
    if (!warnings_expected)
      CHECK_MESSAGE(logs.count(log_level::warning) == 0, "unexpected log lines:\n",
                    logs.dump(log_level::warning));
  }

  server& operator*() { return *server_; }
  server* operator->() { return server_.get(); }
#if defined(SSEPP_TEST_LOOPBACK)
  std::uint16_t port() const { return server_->port(); }
#endif

  // Publishes and returns the event's id.
  std::string publish(std::string_view channel, std::string_view data, std::string_view type = {}) {
    const auto result = server_->hub().publish(channel, ssepp::event_view{data, type});
    REQUIRE_FALSE(result.error);
    return result.id;
  }
  std::size_t subscribers() { return server_->hub().stats().subscribers; }

#if !defined(SSEPP_TEST_LOOPBACK)
  // Keeps a gone client's io_context until the server's threads are joined,
  // as make_memory_stream_pair asks: a server thread that completes a
  // client's read posts to the client's context, and may still hold a copy
  // of its executor after the client ran the handler and moved on.
  void retire(std::unique_ptr<net::io_context> io) {
    std::lock_guard<std::mutex> lock(retired_mutex_);
    retired_.push_back(std::move(io));
  }
#endif

  log_book logs;
  bool warnings_expected = false;

 private:
  std::unique_ptr<server> server_;
#if !defined(SSEPP_TEST_LOOPBACK)
  std::mutex retired_mutex_;
  std::vector<std::unique_ptr<net::io_context>> retired_;
#endif
};

// --- a blocking test client ---------------------------------------------------

// How a client's connection behaves beyond sending and reading.
struct client_options {
  client_options() = default;
  explicit client_options(int bytes) : receive_buffer(bytes) {}

  // > 0: the client's receive buffer holds about this many bytes, so a
  // client that stops reading fills it quickly. Loopback: SO_RCVBUF;
  // memory: max_buffered on the server's end.
  int receive_buffer = 0;
#if !defined(SSEPP_TEST_LOOPBACK)
  // Applied to the server's end before serve() gets it: the hooks
  // (read_size, write_size, max_buffered, fail_read, fail_write).
  std::function<void(memory_stream&)> server_end;

  static client_options with(std::function<void(memory_stream&)> hooks) {
    client_options o;
    o.server_end = std::move(hooks);
    return o;
  }
#endif
};

// One client connection to the server under test, used from one thread:
// sends raw bytes, collects what arrives. The same interface on both
// backends; only making the connection, send_all, receive and close differ.
class connection {
 public:
  explicit connection(test_server& srv, const client_options& options = {});
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection();

  // Sends every byte; false if the peer is gone.
  bool send_all(std::string_view bytes);

  // Reads until `done()` holds, the peer ends the connection, or `limit`
  // passes. Returns done().
  template <class Condition>
  bool read_until(Condition done, std::chrono::milliseconds limit = patience) {
    const auto deadline = steady::now() + limit;
    while (!done()) {
      if (ended_ || steady::now() >= deadline) return false;
      // At most 100 ms at a time, so `done` is asked again now and then.
      receive((std::min)(deadline, steady::now() + 100ms));
    }
    return true;
  }

  // Reads until the peer ends the connection; false if it did not in time.
  bool read_to_end(std::chrono::milliseconds limit = patience) {
    return read_until([] { return false; }, limit) || ended_;
  }

  bool ended() const noexcept { return ended_; }
  const std::string& data() const noexcept { return data_; }

  // Orderly close (loopback: FIN, or RST if unread data is pending, as the
  // kernel does; memory: the server reads the end of the stream).
  void close();

#if defined(SSEPP_TEST_LOOPBACK)
  // Abortive close: SO_LINGER 0 makes close() send RST.
  void reset() {
    if (fd_ < 0) return;
    const linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close();
  }

  static sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
  }

  // Whether anything accepts connections on the port now.
  static bool accepting(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const sockaddr_in address = loopback(port);
    const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return ok;
  }
#endif

 private:
  // Waits until `deadline` at most for bytes, appending what arrives to
  // data_; sets ended_ when the peer ends the connection.
  void receive(steady::time_point deadline);

  std::string data_;
  bool ended_ = false;
#if defined(SSEPP_TEST_LOOPBACK)
  int fd_ = -1;
#else
  // Runs the client end's handlers (bound to it), on the thread that uses
  // the connection; it outlives the connection (test_server::retire).
  std::unique_ptr<net::io_context> io_ = std::make_unique<net::io_context>();
  std::optional<memory_stream> stream_;
  // Handed to serve() at the first send or read, so that a request sent at
  // once is there when the server starts on it, as a socket's bytes are in
  // flight before accept() returns (a server answering before the request
  // is written would otherwise make the write fail at random).
  test_server* server_;
  std::optional<memory_stream> server_end_;

  void hand_over() {
    if (!server_end_) return;
    memory_stream end = std::move(*server_end_);
    server_end_.reset();
    (*server_)->serve(std::move(end), "127.0.0.1");
  }

  // Runs the client's handlers until `done` or `deadline`; then cancels
  // what is pending and runs its handler, so no buffer stays in use.
  void run_until(const bool& done, steady::time_point deadline) {
    while (!done && steady::now() < deadline) {
      io_->restart();
      io_->run_one_until(deadline);
    }
    if (done) return;
    stream_->cancel();
    while (!done) {
      io_->restart();
      io_->run_one();
    }
  }
#endif
};

#if defined(SSEPP_TEST_LOOPBACK)

// Connects to 127.0.0.1 and the server's port. A receive_buffer > 0 shrinks
// SO_RCVBUF first.
inline connection::connection(test_server& srv, const client_options& options) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd_ >= 0);
  if (options.receive_buffer > 0)
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &options.receive_buffer,
                 sizeof options.receive_buffer);
  const sockaddr_in address = loopback(srv.port());
  REQUIRE_MESSAGE(::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0,
                  "connect: ", std::strerror(errno));
}

// MSG_NOSIGNAL: the test itself must not raise SIGPIPE, since one test
// counts them.
inline bool connection::send_all(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

inline void connection::receive(steady::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
  if (left.count() <= 0) return;
  pollfd p{fd_, POLLIN, 0};
  const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
  if (ready <= 0) return;  // nothing yet (or EINTR): the caller asks again
  char buffer[65536];
  const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
  if (n > 0) {
    data_.append(buffer, static_cast<std::size_t>(n));
  } else if (n == 0 || errno == ECONNRESET) {
    // Linux hands over what arrived before a reset, then ECONNRESET: the
    // response is complete either way.
    ended_ = true;
  } else if (errno != EINTR && errno != EAGAIN) {
    ended_ = true;
  }
}

inline void connection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

inline connection::~connection() { close(); }

#else

// A client that stops reading pushes back on the server as a socket's
// buffers would (and memory stays bounded); receive_buffer makes it sooner.
constexpr std::size_t default_receive_window = 1024 * 1024;

inline connection::connection(test_server& srv, const client_options& options) : server_(&srv) {
  auto [client, server_end] = ssepp::asio::make_memory_stream_pair(srv->get_executor());
  server_end.max_buffered(options.receive_buffer > 0
                              ? static_cast<std::size_t>(options.receive_buffer)
                              : default_receive_window);
  if (options.server_end) options.server_end(server_end);
  stream_.emplace(std::move(client));
  server_end_.emplace(std::move(server_end));
}

inline bool connection::send_all(std::string_view bytes) {
  bool done = false;
  ssepp::asio::error_code result;
  net::async_write(*stream_, net::buffer(bytes.data(), bytes.size()),
                   net::bind_executor(*io_, [&](ssepp::asio::error_code ec, std::size_t) {
                     result = ec;
                     done = true;
                   }));
  hand_over();
  run_until(done, steady::now() + patience);
  return !result;
}

inline void connection::receive(steady::time_point deadline) {
  hand_over();
  char buffer[65536];
  bool done = false;
  stream_->async_read_some(net::buffer(buffer),
                           net::bind_executor(*io_, [&](ssepp::asio::error_code ec, std::size_t n) {
                             data_.append(buffer, n);
                             if (ec && ec != net::error::operation_aborted) ended_ = true;
                             done = true;
                           }));
  run_until(done, deadline);
}

inline void connection::close() {
  if (stream_) stream_->close();
}

inline connection::~connection() {
  close();
  server_->retire(std::move(io_));
}

#endif

// Leaves as abruptly as the backend can: loopback, an RST; memory (which has
// no RST), a close.
inline void leave_abruptly(connection& c) {
#if defined(SSEPP_TEST_LOOPBACK)
  c.reset();
#else
  c.close();
#endif
}

struct http_response {
  int status = 0;  // 0: no complete head arrived
  std::string status_line;
  std::vector<std::pair<std::string, std::string>> fields;  // names lower-cased
  std::string body;

  std::optional<std::string> field(std::string_view lower_name) const {
    for (const auto& [name, value] : fields)
      if (name == lower_name) return value;
    return std::nullopt;
  }
  std::size_t count(std::string_view lower_name) const {
    std::size_t n = 0;
    for (const auto& f : fields) n += f.first == lower_name;
    return n;
  }
};

// Splits raw bytes into a response head and what follows it.
http_response parse_response(std::string_view raw) {
  http_response r;
  const std::size_t end = raw.find("\r\n\r\n");
  if (end == std::string_view::npos) return r;
  std::string_view head = raw.substr(0, end + 2);
  r.body = std::string(raw.substr(end + 4));
  std::size_t eol = head.find("\r\n");
  r.status_line = std::string(head.substr(0, eol));
  head.remove_prefix(eol + 2);
  if (r.status_line.size() < 12 || r.status_line.compare(0, 9, "HTTP/1.1 ") != 0) return r;
  r.status = std::atoi(r.status_line.substr(9, 3).c_str());
  while ((eol = head.find("\r\n")) != std::string_view::npos) {
    const std::string_view line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    const std::size_t colon = line.find(':');
    REQUIRE(colon != std::string_view::npos);
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    r.fields.emplace_back(std::move(name), std::string(value));
  }
  return r;
}

// True once `raw` holds a whole final response: its head and, unless it
// has none (a HEAD request's, 1xx, 204, 304), Content-Length bytes of body.
bool holds_whole_response(std::string_view raw, bool head_request) {
  for (;;) {
    const std::size_t end = raw.find("\r\n\r\n");
    if (end == std::string_view::npos) return false;
    const auto r = parse_response(raw.substr(0, end + 4));
    if (r.status / 100 == 1) {  // interim (100 Continue): the final one follows
      raw.remove_prefix(end + 4);
      continue;
    }
    if (head_request || r.status == 204 || r.status == 304) return true;
    const auto length = r.field("content-length");
    return length && raw.size() - (end + 4) >= std::stoul(*length);
  }
}

// Sends a raw request and reads the whole response: to the end of the
// connection or, on one the server keeps open (HTTP/1.1 keep-alive), to
// the end of its body.
http_response fetch(test_server& srv, std::string_view raw_request,
                    const client_options& options = {}) {
  connection c(srv, options);
  (void)c.send_all(raw_request);  // the server may answer before reading it all
  const bool head_request = raw_request.substr(0, 5) == "HEAD ";
  CHECK_MESSAGE(c.read_until([&] { return holds_whole_response(c.data(), head_request); }),
                "no whole response arrived: ", c.data());
  return parse_response(c.data());
}

http_response get(test_server& srv, const std::string& target, const std::string& fields = {}) {
  return fetch(srv, "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + fields + "\r\n");
}

std::string post_request(const std::string& target, const std::string& body,
                         const std::string& fields = {}) {
  return "POST " + target +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         fields + "\r\n" + body;
}

http_response post(test_server& srv, const std::string& target, const std::string& body,
                   const std::string& fields = {}) {
  return fetch(srv, post_request(target, body, fields));
}

// --- an event stream client -----------------------------------------------------

struct received_event {
  std::string type, data, id;
};

struct collector {
  std::vector<received_event>* events;
  std::vector<std::chrono::milliseconds>* retries;
  void on_event(const ssepp::message& m) {
    events->push_back({std::string(m.type), std::string(m.data), std::string(m.last_event_id)});
  }
  void on_retry(std::chrono::milliseconds ms) { retries->push_back(ms); }
};

std::string sse_request(const std::string& target, const std::string& fields = {}) {
  return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n" +
         fields + "\r\n";
}

class sse_client {
 public:
  // Sends GET `target` with `fields` (each "Name: value\r\n") and reads the
  // response head; an event stream's bytes then go through ssepp::parser.
  sse_client(test_server& srv, const std::string& target, const std::string& fields = {},
             const client_options& options = {})
      : connection_(srv, options), parser_(collector{&events_, &retries_}) {
    REQUIRE(connection_.send_all(sse_request(target, fields)));
    REQUIRE_MESSAGE(connection_.read_until(
                        [&] { return connection_.data().find("\r\n\r\n") != std::string::npos; }),
                    "no response head: ", connection_.data());
    head_ = parse_response(connection_.data());
    fed_ = connection_.data().find("\r\n\r\n") + 4;
    feed();
  }

  const http_response& head() const noexcept { return head_; }
  const std::vector<received_event>& events() const noexcept { return events_; }
  const std::vector<std::chrono::milliseconds>& retries() const noexcept { return retries_; }
  // The stream's bytes after the head, exactly as they arrived.
  std::string body() const {
    return connection_.data().substr(connection_.data().find("\r\n\r\n") + 4);
  }

  bool wait_for_events(std::size_t n, std::chrono::milliseconds limit = patience) {
    return connection_.read_until(
        [&] {
          feed();
          return events_.size() >= n;
        },
        limit);
  }
  bool wait_for_retry() {
    return connection_.read_until([&] {
      feed();
      return !retries_.empty();
    });
  }
  // Reads everything up to the end of the stream.
  bool wait_for_end() {
    const bool ended = connection_.read_to_end();
    feed();
    return ended;
  }
  // The connection under the client (its raw bytes, close()).
  connection& raw() noexcept { return connection_; }

 private:
  void feed() {
    const std::string& all = connection_.data();
    if (fed_ < all.size()) {
      REQUIRE_FALSE(parser_.feed(std::string_view(all).substr(fed_)));
      fed_ = all.size();
    }
  }

  connection connection_;
  std::vector<received_event> events_;
  std::vector<std::chrono::milliseconds> retries_;
  ssepp::parser<collector> parser_;
  http_response head_;
  std::size_t fed_ = 0;
};

std::string media_type(const std::optional<std::string>& content_type) {
  if (!content_type) return {};
  return content_type->substr(0, content_type->find(';'));
}
// A directory removed with everything in it when the test ends.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "ssepp-test-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  void write(const std::filesystem::path& relative, std::string_view content) const {
    std::filesystem::create_directories((path / relative).parent_path());
    std::ofstream(path / relative, std::ios::binary) << content;
  }
};

// Counts SIGPIPE while installed (the disposition stays "deliver", so a
// SIGPIPE the server raised would be seen, not ignored).
std::atomic<int> sigpipes{0};
extern "C" void count_sigpipe(int) { sigpipes.fetch_add(1); }

class sigpipe_counter {
 public:
  sigpipe_counter() {
    struct sigaction action {};
    action.sa_handler = count_sigpipe;
    sigemptyset(&action.sa_mask);
    REQUIRE(::sigaction(SIGPIPE, &action, &previous_) == 0);
    // The test runs with SIGPIPE's default action, not ignored.
    const bool was_ignored = previous_.sa_handler == SIG_IGN;
    CHECK_FALSE(was_ignored);
    sigpipes = 0;
  }
  ~sigpipe_counter() { ::sigaction(SIGPIPE, &previous_, nullptr); }
  int count() const { return sigpipes.load(); }

 private:
  struct sigaction previous_ {};
};

// Runs `body` on a thread; a failed REQUIRE there is recorded by doctest and
// ends only that thread (an exception escaping a thread would terminate).
template <class Body>
std::thread guarded_thread(Body body) {
  return std::thread([body = std::move(body)]() mutable {
    try {
      body();
    } catch (...) {
      FAIL_CHECK("a helper thread stopped on a failed requirement");
    }
  });
}

}  // namespace ssepp_test

using namespace ssepp_test;

// --- event streams -----------------------------------------------------------------

TEST_CASE("an event stream: 200 with the SSE headers, no length, never compressed") {
  test_server srv;
  sse_client client(srv, "/events/news", "Accept-Encoding: gzip, deflate, br\r\n");
  const auto& head = client.head();
  CHECK(head.status_line == "HTTP/1.1 200 OK");
  CHECK(head.count("content-type") == 1);
  CHECK(media_type(head.field("content-type")) == "text/event-stream");
  CHECK(head.field("cache-control") == "no-cache");
  CHECK(head.field("x-accel-buffering") == "no");
  CHECK(head.count("content-length") == 0);
  // Never compressed, whatever the client accepts. "identity" (no coding)
  // is allowed: it is what keeps nginx's gzip filter off the stream.
  CHECK(head.field("content-encoding").value_or("identity") == "identity");
  CHECK(head.count("transfer-encoding") == 0);

  REQUIRE(eventually([&] { return srv.subscribers() == 1; }));
  const std::string id = srv.publish("news", "line one\nline two", "update");
  REQUIRE(client.wait_for_events(1));
  CHECK(client.retries() == std::vector<std::chrono::milliseconds>{3000ms});
  // The body is exactly the formatted events: plain text/event-stream bytes.
  CHECK(client.body() ==
        "retry: 3000\n\nevent: update\nid: " + id + "\ndata: line one\ndata: line two\n\n");
  CHECK(client.events()[0].type == "update");
  CHECK(client.events()[0].data == "line one\nline two");
  CHECK(client.events()[0].id == id);
}

TEST_CASE("an event stream over HTTP/1.0") {
  test_server srv;
  connection c(srv);
  REQUIRE(c.send_all("GET /events/old HTTP/1.0\r\n\r\n"));
  REQUIRE(c.read_until([&] { return c.data().find("retry: 3000\n\n") != std::string::npos; }));
  CHECK(parse_response(c.data()).status == 200);
}

TEST_CASE("each event reaches the client before the next one is published") {
  test_server srv;
  sse_client client(srv, "/events/ticks");
  REQUIRE(eventually([&] { return srv.subscribers() == 1; }));
  for (std::size_t i = 0; i < 20; ++i) {
    srv.publish("ticks", "tick " + std::to_string(i));
    REQUIRE_MESSAGE(client.wait_for_events(i + 1), "event ", i, " was not flushed");
    CHECK(client.events()[i].data == "tick " + std::to_string(i));
  }
}

TEST_CASE("an event stream path with no channel, or a nested one, is 404") {
  test_server srv;
  CHECK(get(srv, "/events/").status == 404);
  CHECK(get(srv, "/events/a/b").status == 404);
  CHECK(get(srv, "/events/a%2Fb").status == 404);
  CHECK(srv.subscribers() == 0);
}

TEST_CASE("reconnecting with a last event ID replays what came after it") {
  test_server srv;
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(srv.publish("news", "e" + std::to_string(i)));

  auto check_replay = [&](sse_client& client, std::vector<std::string> expected) {
    REQUIRE(client.head().status == 200);
    REQUIRE(client.wait_for_events(expected.size()));
    REQUIRE(eventually([&] { return srv.subscribers() == 1; }));
    // A live event follows the replay with no gap and no duplicate.
    srv.publish("news", "live");
    expected.push_back("live");
    REQUIRE(client.wait_for_events(expected.size()));
    std::vector<std::string> got;
    for (const auto& e : client.events()) got.push_back(e.data);
    CHECK(got == expected);
  };

  SUBCASE("from the Last-Event-ID header") {
    sse_client client(srv, "/events/news", "Last-Event-ID: " + ids[1] + "\r\n");
    check_replay(client, {"e2", "e3", "e4"});
  }
  SUBCASE("from the lastEventId query parameter (EventSource's first request)") {
    sse_client client(srv, "/events/news?lastEventId=" + ids[2]);
    check_replay(client, {"e3", "e4"});
  }
  SUBCASE("a percent-encoded lastEventId is decoded") {
    std::string encoded;
    for (const char c : ids[0]) encoded += c == '-' ? std::string("%2D") : std::string(1, c);
    sse_client client(srv, "/events/news?x=1&lastEventId=" + encoded);
    check_replay(client, {"e1", "e2", "e3", "e4"});
  }
  SUBCASE("the header wins over the query parameter") {
    sse_client client(srv, "/events/news?lastEventId=" + ids[0],
                      "Last-Event-ID: " + ids[3] + "\r\n");
    check_replay(client, {"e4"});
  }
  SUBCASE("an unknown id gets the gap event first, never a silent gap") {
    sse_client client(srv, "/events/news", "Last-Event-ID: from-another-server\r\n");
    REQUIRE(client.wait_for_events(1));
    CHECK(client.events()[0].type == "ssepp-gap");
    CHECK(client.events()[0].data == R"({"lastEventId":"from-another-server","reason":"unknown"})");
  }
  SUBCASE("a lastEventId that does not decode gets the gap event too, as an unknown header does") {
    for (const char* raw : {"%zz", "%00", "a%2"}) {
      CAPTURE(raw);
      sse_client client(srv, std::string("/events/news?lastEventId=") + raw);
      REQUIRE(client.wait_for_events(1));
      CHECK(client.events()[0].type == "ssepp-gap");
      CHECK(client.events()[0].data ==
            std::string(R"({"lastEventId":")") + raw + R"(","reason":"unknown"})");
    }
  }
}

// --- CORS ------------------------------------------------------------------------------

TEST_CASE("CORS: an allowed origin is echoed, with credentials and Vary: Origin") {
  server_options o;
  o.cors_origins = {"http://front.example:8000", "https://other.example"};
  test_server srv(o, [](server& s) {
    s.route("GET", "/hello", [](const ssepp::asio::request&) {
      return ssepp::asio::response{200, "text/plain", "hi", {}};
    });
  });
  auto check_cors = [](const http_response& r, const std::string& origin) {
    CHECK(r.field("access-control-allow-origin") == origin);
    CHECK(r.field("access-control-allow-credentials") == "true");
    CHECK(r.field("vary") == "Origin");
  };
  SUBCASE("on an event stream") {
    sse_client client(srv, "/events/news", "Origin: http://front.example:8000\r\n");
    CHECK(client.head().status == 200);
    check_cors(client.head(), "http://front.example:8000");
  }
  SUBCASE("on a plain route") {
    const auto r = get(srv, "/hello", "Origin: https://other.example\r\n");
    CHECK(r.status == 200);
    check_cors(r, "https://other.example");
  }
  SUBCASE("on a 404") {
    const auto r = get(srv, "/nothing-here", "Origin: https://other.example\r\n");
    CHECK(r.status == 404);
    check_cors(r, "https://other.example");
  }
  SUBCASE("without Origin (same-origin, or not a browser) there are no CORS fields") {
    const auto r = get(srv, "/hello");
    CHECK(r.status == 200);
    CHECK(r.count("access-control-allow-origin") == 0);
    CHECK(r.count("access-control-allow-credentials") == 0);
  }
}

TEST_CASE("CORS: an origin not on the list is refused 403 and subscribes nothing") {
  server_options o;
  o.cors_origins = {"http://front.example"};
  test_server srv(o);
  for (const char* origin : {"http://evil.example", "http://front.example.evil.example",
                             "https://front.example", "http://front.example:8080", "null"}) {
    CAPTURE(origin);
    const auto r = get(srv, "/events/news", std::string("Origin: ") + origin + "\r\n");
    CHECK(r.status == 403);
    CHECK(r.count("access-control-allow-origin") == 0);
  }
  CHECK(srv.subscribers() == 0);
  CHECK(srv->hub().stats().writes == 0);
}

TEST_CASE("CORS: a preflight is answered 204 with the allowed methods and headers") {
  server_options o;
  o.cors_origins = {"http://front.example"};
  test_server srv(o);
  const auto r =
      fetch(srv,
            "OPTIONS /events/news HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://front.example\r\n"
            "Access-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: last-event-id, "
            "x-token\r\n\r\n");
  CHECK(r.status_line == "HTTP/1.1 204 No Content");
  CHECK(r.field("access-control-allow-origin") == "http://front.example");
  CHECK(r.field("access-control-allow-credentials") == "true");
  CHECK(r.field("vary") == "Origin");
  const std::string methods = r.field("access-control-allow-methods").value_or("");
  CHECK(methods.find("GET") != std::string::npos);
  CHECK(methods.find("POST") != std::string::npos);
  CHECK(r.field("access-control-allow-headers") == "last-event-id, x-token");
  // RFC 9110 section 8.6: no Content-Length in a 204, and no content.
  CHECK(r.count("content-length") == 0);
  CHECK(r.body.empty());
  CHECK(srv.subscribers() == 0);

  SUBCASE("from an origin not on the list: 403") {
    const auto refused =
        fetch(srv,
              "OPTIONS /events/news HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://evil.example\r\n"
              "Access-Control-Request-Method: GET\r\n\r\n");
    CHECK(refused.status == 403);
    CHECK(refused.count("access-control-allow-origin") == 0);
  }
}

TEST_CASE("CORS: '*' admits any origin by echoing it, never a literal '*'") {
  server_options o;
  o.cors_origins = {"*"};
  test_server srv(o);
  sse_client client(srv, "/events/news", "Origin: http://anywhere.example\r\n");
  CHECK(client.head().status == 200);
  CHECK(client.head().field("access-control-allow-origin") == "http://anywhere.example");
  CHECK(client.head().field("access-control-allow-credentials") == "true");
}

// --- authorization ---------------------------------------------------------------------

TEST_CASE("the authorization hook sees method, path, headers, cookies and body") {
  std::mutex mutex;
  std::vector<ssepp::asio::request> seen;
  server_options o;
  o.publish_prefix = "/publish/";
  o.authorize = [&](const ssepp::asio::request& req) {
    std::lock_guard<std::mutex> lock(mutex);
    seen.push_back(req);
    return ssepp::asio::auth_result{};
  };
  test_server srv(o);
  sse_client client(srv, "/events/company-7?lastEventId=x",
                    "X-Token: t0k\r\nCookie: theme=dark; sid=s3cr3t\r\n");
  CHECK(client.head().status == 200);
  const auto published =
      post(srv, "/publish/company-7?event=update", "payload", "Cookie: sid=admin\r\n");
  CHECK(published.status == 200);

  std::lock_guard<std::mutex> lock(mutex);
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].method == "GET");
  CHECK(seen[0].path == "/events/company-7");
  CHECK(seen[0].query_param("lastEventId") == std::optional<std::string>("x"));
  CHECK(seen[0].header("x-token") == std::optional<std::string_view>("t0k"));
  CHECK(seen[0].cookie("sid") == std::optional<std::string>("s3cr3t"));
  CHECK(seen[0].cookie("theme") == std::optional<std::string>("dark"));
  CHECK(seen[0].remote_address == "127.0.0.1");
  CHECK(seen[1].method == "POST");
  CHECK(seen[1].path == "/publish/company-7");
  CHECK(seen[1].cookie("sid") == std::optional<std::string>("admin"));
  CHECK(seen[1].body == "payload");
}

TEST_CASE("the authorization hook's 401 and 403 come before anything is subscribed or published") {
  std::atomic<int> calls{0};
  server_options o;
  o.publish_prefix = "/publish/";
  o.cors_origins = {"http://front.example"};
  o.authorize = [&](const ssepp::asio::request& req) {
    ++calls;
    const auto sid = req.cookie("sid");
    if (!sid) return ssepp::asio::auth_result{401, "log in first\n"};
    if (*sid != "good") return ssepp::asio::auth_result{403, ""};
    return ssepp::asio::auth_result{};
  };
  test_server srv(o);

  const auto anonymous = get(srv, "/events/news");
  CHECK(anonymous.status == 401);
  CHECK(anonymous.body == "log in first\n");
  const auto forbidden =
      get(srv, "/events/news", "Cookie: sid=bad\r\nOrigin: http://front.example\r\n");
  CHECK(forbidden.status == 403);
  CHECK(forbidden.body == "Forbidden\n");
  // A refusal still carries CORS fields, so the page can read why.
  CHECK(forbidden.field("access-control-allow-origin") == "http://front.example");
  CHECK(post(srv, "/publish/news", "x", "Cookie: sid=bad\r\n").status == 403);

  CHECK(srv.subscribers() == 0);
  const auto stats = srv->hub().stats();
  CHECK(stats.published == 0);
  CHECK(stats.writes == 0);
  CHECK(stats.channels == 0);

  // Preflights never carry cookies, so the hook does not see them.
  const int before = calls.load();
  const auto preflight =
      fetch(srv,
            "OPTIONS /events/news HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://front.example\r\n"
            "Access-Control-Request-Method: GET\r\n\r\n");
  CHECK(preflight.status == 204);
  CHECK(calls.load() == before);

  sse_client allowed(srv, "/events/news", "Cookie: sid=good\r\n");
  CHECK(allowed.head().status == 200);
  CHECK(eventually([&] { return srv.subscribers() == 1; }));
}

// --- the publish endpoint ----------------------------------------------------------

TEST_CASE("the publish endpoint answers the event's id and subscribers get the event") {
  server_options o;
  o.publish_prefix = "/publish/";
  test_server srv(o);
  sse_client client(srv, "/events/news");
  REQUIRE(eventually([&] { return srv.subscribers() == 1; }));

  const auto first = post(srv, "/publish/news?event=update", "hello\nworld");
  CHECK(first.status == 200);
  CHECK_FALSE(first.body.empty());
  const auto second = post(srv, "/publish/news?id=custom-7", "{\"n\":2}");
  CHECK(second.status == 200);
  CHECK(second.body == "custom-7");
  const auto third = post(srv, "/publish/news?event=a+b%21", "");
  CHECK(third.status == 200);

  REQUIRE(client.wait_for_events(3));
  CHECK(client.events()[0].type == "update");
  CHECK(client.events()[0].data == "hello\nworld");
  CHECK(client.events()[0].id == first.body);
  CHECK(client.events()[1].type == "message");
  CHECK(client.events()[1].data == "{\"n\":2}");
  CHECK(client.events()[1].id == "custom-7");
  CHECK(client.events()[2].type == "a b!");
  CHECK(client.events()[2].data.empty());
}

TEST_CASE("the publish endpoint refuses a bad event with 400 and publishes nothing") {
  server_options o;
  o.publish_prefix = "/publish/";
  test_server srv(o);
  sse_client client(srv, "/events/news");
  REQUIRE(eventually([&] { return srv.subscribers() == 1; }));

  for (const char* target :
       {"/publish/news?event=a%0Ab", "/publish/news?event=a%0Db", "/publish/news?id=a%0Ab",
        "/publish/news?id=a%0D%0Aevent:%20x",
        // A malformed escape must not publish under a default type or id.
        "/publish/news?event=update%2", "/publish/news?event=%00", "/publish/news?id=%zz"}) {
    CAPTURE(target);
    const auto r = post(srv, target, "data");
    CHECK(r.status == 400);
    CHECK_FALSE(r.body.empty());
  }
  CHECK(srv->hub().stats().published == 0);
  // The next event is the first the subscriber sees.
  srv.publish("news", "marker");
  REQUIRE(client.wait_for_events(1));
  CHECK(client.events()[0].data == "marker");
}

TEST_CASE("a text/event-stream body publishes every event, in order, and answers their ids") {
  server_options o;
  o.publish_prefix = "/publish/";
  test_server srv(o);
  sse_client client(srv, "/events/news");
  REQUIRE(eventually([&] { return srv.subscribers() == 1; }));

  const auto r =
      post(srv, "/publish/news",
           "data: one\n\nevent: cokolwiek\ndata: 4444\nid: own-7\n\n: note\ndata: a\ndata: b\n\n",
           "Content-Type: text/event-stream; charset=utf-8\r\n");
  CHECK(r.status == 200);
  REQUIRE(client.wait_for_events(3));
  const auto& got = client.events();
  CHECK(got[0].data == "one");
  CHECK(got[0].type == "message");
  CHECK(got[1].type == "cokolwiek");
  CHECK(got[1].data == "4444");
  CHECK(got[1].id == "own-7");
  CHECK(got[2].data == "a\nb");
  CHECK(r.body == got[0].id + "\n" + got[1].id + "\n" + got[2].id + "\n");
  CHECK(srv->hub().stats().published == 3);
}

TEST_CASE("one bad event in a batch refuses the whole batch with 400, naming it") {
  server_options o;
  o.publish_prefix = "/publish/";
  test_server srv(o);
  sse_client client(srv, "/events/news");
  REQUIRE(eventually([&] { return srv.subscribers() == 1; }));
  const std::string stream = "Content-Type: text/event-stream\r\n";
  const auto unknown =
      post(srv, "/publish/news", "data: ok\n\ndata: ok\ncolour: red\n\ndata: ok\n\n", stream);
  CHECK(unknown.status == 400);
  CHECK(unknown.body.find("event 2") != std::string::npos);
  // A batch names each event's type and id itself: the query may not.
  CHECK(post(srv, "/publish/news?event=x", "data: ok\n\n", stream).status == 400);
  CHECK(post(srv, "/publish/news", "data: cut short\n", stream).status == 400);
  CHECK(srv->hub().stats().published == 0);
  srv.publish("news", "marker");
  REQUIRE(client.wait_for_events(1));
  CHECK(client.events()[0].data == "marker");
}

TEST_CASE("publishes over one keep-alive connection are all answered, in order") {
  server_options o;
  o.publish_prefix = "/publish/";
  test_server srv(o);
  sse_client client(srv, "/events/news");
  REQUIRE(eventually([&] { return srv.subscribers() == 1; }));
  connection c(srv);
  std::string requests;
  for (int i = 0; i < 5; ++i)
    requests += post_request("/publish/news?id=p" + std::to_string(i), "x");
  REQUIRE(c.send_all(requests));
  REQUIRE(c.read_until([&] {
    std::size_t n = 0;
    for (std::size_t at = 0; (at = c.data().find("HTTP/1.1 200", at)) != std::string::npos; ++at)
      ++n;
    return n == 5 && c.data().size() >= c.data().rfind("\r\n\r\n") + 4 + 2;
  }));
  for (int i = 0; i < 5; ++i)
    CHECK(c.data().find("\r\n\r\np" + std::to_string(i)) != std::string::npos);
  CHECK_FALSE(c.ended());
  REQUIRE(client.wait_for_events(5));
  for (int i = 0; i < 5; ++i)
    CHECK(client.events()[static_cast<std::size_t>(i)].id == "p" + std::to_string(i));
}

TEST_CASE("the publish endpoint answers 503 with Retry-After when max_channels are all in use") {
  server_options o;
  o.publish_prefix = "/publish/";
  o.hub.max_channels = 1;
  test_server srv(o);
  sse_client client(srv, "/events/news");
  REQUIRE(eventually([&] { return srv.subscribers() == 1; }));
  const auto r = post(srv, "/publish/other", "x");
  CHECK(r.status == 503);
  CHECK(r.field("retry-after") == "1");
  CHECK(r.body.find("max_channels") != std::string::npos);
  CHECK(post(srv, "/publish/news", "x").status == 200);  // the channel in use still works
}

TEST_CASE("the publish endpoint: no channel is 404, GET is 405") {
  server_options o;
  o.publish_prefix = "/publish/";
  test_server srv(o);
  CHECK(post(srv, "/publish/", "x").status == 404);
  CHECK(post(srv, "/publish/a/b", "x").status == 404);
  const auto r = get(srv, "/publish/news");
  CHECK(r.status == 405);
  CHECK(r.field("allow").value_or("").find("POST") != std::string::npos);
  CHECK(srv->hub().stats().published == 0);
}

// --- static files -------------------------------------------------------------------

TEST_CASE("static files are served with their content types") {
  temp_dir dir;
  const std::map<std::string, std::string> files = {{"index.html", "<h1>home</h1>"},
                                                    {"app.js", "console.log(1)"},
                                                    {"app.mjs", "export {}"},
                                                    {"style.css", "body{}"},
                                                    {"data.json", "{}"},
                                                    {"logo.svg", "<svg/>"},
                                                    {"img.png", std::string("\x89PNG\0\x01", 6)},
                                                    {"favicon.ico", "ico"},
                                                    {"blob.bin", "raw"},
                                                    {"sub/page.html", "<p>sub</p>"}};
  for (const auto& [name, content] : files) dir.write(name, content);
  server_options o;
  o.static_root = dir.path.string();
  test_server srv(o);

  const std::map<std::string, std::string> types = {{"index.html", "text/html"},
                                                    {"app.js", "text/javascript"},
                                                    {"app.mjs", "text/javascript"},
                                                    {"style.css", "text/css"},
                                                    {"data.json", "application/json"},
                                                    {"logo.svg", "image/svg+xml"},
                                                    {"img.png", "image/png"},
                                                    {"favicon.ico", "image/x-icon"},
                                                    {"blob.bin", "application/octet-stream"},
                                                    {"sub/page.html", "text/html"}};
  for (const auto& entry : types) {
    const std::string& name = entry.first;
    CAPTURE(name);
    const auto r = get(srv, "/" + name);
    CHECK(r.status == 200);
    CHECK(media_type(r.field("content-type")) == entry.second);
    CHECK(r.body == files.at(name));
    CHECK(r.field("content-length") == std::to_string(files.at(name).size()));
  }
  SUBCASE("'/' serves index.html") {
    const auto r = get(srv, "/");
    CHECK(r.status == 200);
    CHECK(r.body == "<h1>home</h1>");
  }
  SUBCASE("a percent-encoded name is decoded") {
    dir.write("with space.txt", "spaced");
    CHECK(get(srv, "/with%20space.txt").body == "spaced");
  }
  SUBCASE("HEAD: the length, no body") {
    const auto r = fetch(srv, "HEAD /app.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    CHECK(r.status == 200);
    CHECK(r.field("content-length") == "14");
    CHECK(r.body.empty());
  }
  SUBCASE("a missing file or a directory is 404") {
    CHECK(get(srv, "/missing.html").status == 404);
    CHECK(get(srv, "/sub").status == 404);
    CHECK(get(srv, "/sub/").status == 404);
  }
}

TEST_CASE("static files never escape the root") {
  temp_dir dir;
  dir.write("secret.txt", "TOP SECRET");
  dir.write("www/index.html", "public");
  dir.write("www/inner.txt", "inner");
  std::filesystem::create_symlink(dir.path / "secret.txt", dir.path / "www" / "link-out.txt");
  std::filesystem::create_directory_symlink(dir.path, dir.path / "www" / "dir-out");
  std::filesystem::create_symlink(dir.path / "www" / "inner.txt", dir.path / "www" / "link-in.txt");
  server_options o;
  o.static_root = (dir.path / "www").string();
  test_server srv(o);

  const std::vector<std::string> escapes = {
      "/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt", "/.%2e/secret.txt",
      "/sub/../../secret.txt", "/%2e%2e%2fsecret.txt", "/..%2Fsecret.txt", "/..%5csecret.txt",
      "/link-out.txt", "/dir-out/secret.txt", "/dir-out/www/../secret.txt", "//etc/passwd",
      "/%2fetc/passwd",
      // An absolute path: root / "/abs" would be "/abs" itself.
      "/" + dir.path.string() + "/secret.txt"};
  for (const auto& target : escapes) {
    CAPTURE(target);
    const auto r = get(srv, target);
    CHECK(r.status == 404);
    CHECK(r.body.find("SECRET") == std::string::npos);
  }
  SUBCASE("an encoded or raw NUL is refused as malformed") {
    for (const auto& target :
         {std::string("/index.html%00.txt"), std::string("/index.html\0.txt", 16)}) {
      const auto r = get(srv, target);
      CHECK(r.status == 400);
      CHECK(r.body.find("public") == std::string::npos);
    }
  }
  SUBCASE("a symlink that stays inside the root is served") {
    CHECK(get(srv, "/link-in.txt").body == "inner");
  }
}

// --- user routes ----------------------------------------------------------------------

TEST_CASE("user routes: exact and prefix paths, 405 with Allow, 404") {
  using ssepp::asio::request;
  using ssepp::asio::response;
  test_server srv({}, [](server& s) {
    s.route("GET", "/hello", [](const request& req) {
      return response{
          200, "text/plain", "hi " + req.query_param("name").value_or("?"), {{"X-Route", "hello"}}};
    });
    s.route("POST", "/hello", [](const request& req) {
      return response{201, "text/plain", "got " + req.body, {}};
    });
    s.route("GET", "/api/*", [](const request& req) {
      return response{200, "application/json", "\"" + req.path + "\"", {}};
    });
  });
  const auto hello = get(srv, "/hello?name=Ada");
  CHECK(hello.status == 200);
  CHECK(hello.body == "hi Ada");
  CHECK(hello.field("x-route") == "hello");
  CHECK(media_type(hello.field("content-type")) == "text/plain");
  const auto created = post(srv, "/hello", "body!");
  CHECK(created.status == 201);
  CHECK(created.body == "got body!");
  CHECK(get(srv, "/api/v1/things").body == "\"/api/v1/things\"");
  CHECK(get(srv, "/api/").status == 200);

  SUBCASE("a method no route takes is 405, and Allow lists the ones they do") {
    const auto r = fetch(srv, "DELETE /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    CHECK(r.status == 405);
    const std::string allow = r.field("allow").value_or("");
    CHECK(allow.find("GET") != std::string::npos);
    CHECK(allow.find("POST") != std::string::npos);
    CHECK(allow.find("DELETE") == std::string::npos);
    const auto on_prefix = post(srv, "/api/x", "");
    CHECK(on_prefix.status == 405);
    CHECK(on_prefix.field("allow").value_or("").find("GET") != std::string::npos);
  }
  SUBCASE("no route, no static root: 404") {
    CHECK(get(srv, "/hello/more").status == 404);
    CHECK(get(srv, "/api").status == 404);
    CHECK(get(srv, "/").status == 404);
  }
}

TEST_CASE("a handler that throws is answered 500 and logged as an error") {
  test_server srv({}, [](server& s) {
    s.route("GET", "/boom", [](const ssepp::asio::request&) -> ssepp::asio::response {
      throw std::runtime_error("kaput");
    });
  });
  srv.warnings_expected = true;
  const auto r = get(srv, "/boom");
  CHECK(r.status == 500);
  CHECK(r.body.find("kaput") == std::string::npos);  // internals stay in the log
  CHECK(srv.logs.count_containing(log_level::error, "kaput") == 1);
  sse_client still_serving(srv, "/events/x");
  CHECK(still_serving.head().status == 200);
}

// --- bad input -------------------------------------------------------------------------

TEST_CASE("bad input is answered as stated while a subscriber keeps receiving") {
  server_options o;
  o.publish_prefix = "/publish/";
  o.request_timeout = 200ms;
  o.max_header_bytes = 2048;
  o.max_body_bytes = 1024;
  test_server srv(o);
  sse_client witness(srv, "/events/w");
  REQUIRE(eventually([&] { return srv.subscribers() == 1; }));

  // After each bad request: the subscriber still gets events, and the bad
  // connection is gone.
  std::size_t published = 0;
  auto witness_still_served = [&] {
    srv.publish("w", "still here " + std::to_string(published));
    ++published;
    REQUIRE(witness.wait_for_events(published));
    CHECK(eventually([&] { return srv->connections() == 1; }));
  };
  auto answered = [&](std::string_view raw, int status) {
    const auto r = fetch(srv, raw);
    CHECK(r.status == status);
    CHECK_FALSE(r.body.empty());  // a clear answer says what was wrong
    witness_still_served();
    return r;
  };

  SUBCASE("malformed requests: 400") {
    for (const char* raw :
         {"NONSENSE\r\n\r\n", "GET /\r\n\r\n",
          "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nno colon\r\n\r\n",
          "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX: folded\r\n continued\r\n\r\n",
          "GET /%zz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
          "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Name: x\r\n\r\n",
          "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nName : x\r\n\r\n",
          "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX: a\nb\r\n\r\n",
          "POST /publish/w HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 12abc\r\n\r\n",
          "POST /publish/w HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n\r\n",
          "POST /publish/w HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: "
          "99999999999999999999\r\n\r\n",
          "POST /publish/w HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\nContent-Length: "
          "5\r\n\r\nzzzzz",
          "POST /publish/w HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nTransfer-Encoding: "
          "chunked\r\n\r\n"}) {
      CAPTURE(raw);
      answered(raw, 400);
    }
  }
  SUBCASE("an HTTP major version other than 1: 505") {
    for (const char* raw : {"GET / HTTP/9.9\r\n\r\n", "GET / HTTP/2.0\r\n\r\n"}) {
      CAPTURE(raw);
      answered(raw, 505);
    }
  }
  SUBCASE("wrong method on an event stream: 405 with Allow") {
    // "get" is a method too (a token, case-sensitive): one this route
    // does not take.
    for (const char* raw :
         {"DELETE /events/w HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
          "get /events/w HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
          "POST /events/w HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n",
          "HEAD /events/w HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"}) {
      CAPTURE(raw);
      const auto r = fetch(srv, raw);
      CHECK(r.status == 405);
      CHECK(r.field("allow") == "GET, OPTIONS");
      witness_still_served();
    }
  }
  SUBCASE("a head over the limit: 431") {
    answered("GET /events/w HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(4000, 'a') +
                 "\r\n\r\n",
             431);
    // Never ending: the limit applies before the blank line arrives.
    answered("GET /events/w HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(4000, 'a'), 431);
    answered(
        "GET /events/w HTTP/1.1\r\nHost: 127.0.0.1\r\n" + std::string(200, 'x') + ": 1\r\n" +
            [] {
              std::string many;
              for (int i = 0; i < 300; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
              return many;
            }() +
            "\r\n",
        431);
  }
  SUBCASE("a body over the limit: 413, nothing published") {
    answered("POST /publish/w HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1025\r\n\r\n" +
                 std::string(1025, 'b'),
             413);
    answered("POST /publish/w HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000000\r\n\r\n",
             413);
    CHECK(srv->hub().stats().published == published);
  }
  SUBCASE("a chunked body is decoded and published, as nginx does; too large a one: 413") {
    const auto r = fetch(srv,
                         "POST /publish/w HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: "
                         "chunked\r\n\r\n5\r\nhello\r\n1;ext=1\r\n!\r\n0\r\n\r\n");
    CHECK(r.status == 200);
    ++published;
    REQUIRE(witness.wait_for_events(published));
    CHECK(witness.events().back().data == "hello!");
    std::string big =
        "POST /publish/w HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 3; ++i) big += "200\r\n" + std::string(512, 'b') + "\r\n";
    answered(big + "0\r\n\r\n", 413);
    answered(
        "POST /publish/w HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\n",
        400);
    CHECK(srv->hub().stats().published == published);
  }
  SUBCASE("RFC 9112 section 3.2: no Host, two, or a malformed one: 400") {
    for (const char* raw :
         {"GET /events/w HTTP/1.1\r\n\r\n",
          "GET /events/w HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: 127.0.0.1\r\n\r\n",
          "GET /events/w HTTP/1.1\r\nHost: a b\r\n\r\n", "GET /events/w HTTP/1.1\r\nHost: \r\n\r\n",
          "GET /events/w HTTP/1.1\r\nHost: u@127.0.0.1\r\n\r\n"}) {
      CAPTURE(raw);
      answered(raw, 400);
    }
  }
  SUBCASE("a server on loopback answers no other host name (DNS rebinding): 421") {
    for (const char* raw :
         {"GET /events/w HTTP/1.1\r\nHost: evil.example:8080\r\nOrigin: "
          "http://evil.example:8080\r\n\r\n",
          "POST /publish/w HTTP/1.1\r\nHost: evil.example\r\nContent-Length: 1\r\n\r\nz",
          "GET http://evil.example/events/w HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"}) {
      CAPTURE(raw);
      answered(raw, 421);
    }
    CHECK(srv->hub().stats().published == published);
  }
  SUBCASE("an Origin of another scheme is cross-origin: 403") {
    answered("GET /events/w HTTP/1.1\r\nHost: 127.0.0.1:80\r\nOrigin: https://127.0.0.1:80\r\n\r\n",
             403);
  }
  SUBCASE("too slow to send the head (slowloris): 408") {
    connection slow(srv);
    REQUIRE(slow.send_all("GET /events/w HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
    REQUIRE(slow.read_to_end());
    const auto r = parse_response(slow.data());
    CHECK(r.status == 408);
    CHECK(srv.subscribers() == 1);
    witness_still_served();
  }
  SUBCASE("trickling a byte at a time does not extend the deadline: 408") {
    connection slow(srv);
    const std::string head =
        "GET /events/w HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + std::string(200, 'p');
    std::size_t sent = 0;
    // One byte whenever 20 ms pass without an answer, as a slowloris does.
    while (!slow.ended() && sent < head.size()) {
      if (!slow.send_all(head.substr(sent++, 1))) break;
      slow.read_until([] { return false; }, 20ms);
    }
    REQUIRE(slow.read_to_end());
    CHECK(parse_response(slow.data()).status == 408);
    CHECK(sent < head.size());
    witness_still_served();
  }
  SUBCASE("a body that never completes: 408, nothing published") {
    connection slow(srv);
    REQUIRE(slow.send_all(
        "POST /publish/w HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\nabc"));
    REQUIRE(slow.read_to_end());
    CHECK(parse_response(slow.data()).status == 408);
    CHECK(srv->hub().stats().published == published);
    witness_still_served();
  }
  SUBCASE("an idle connection that sends nothing: 408") {
    connection idle(srv);
    REQUIRE(idle.read_to_end());
    CHECK(parse_response(idle.data()).status == 408);
    witness_still_served();
  }
}

TEST_CASE("too many connections: 503 with Retry-After, and served again once some leave") {
  server_options o;
  o.max_connections = 3;
  test_server srv(o);
  sse_client witness(srv, "/events/w");
  auto a = std::make_unique<sse_client>(srv, "/events/w");
  auto b = std::make_unique<sse_client>(srv, "/events/w");
  REQUIRE(eventually([&] { return srv.subscribers() == 3; }));

  const auto refused = get(srv, "/events/w");
  CHECK(refused.status == 503);
  CHECK(refused.field("retry-after") == "1");
  CHECK_FALSE(refused.body.empty());
  const auto refused_stream = sse_client(srv, "/events/w").head();
  CHECK(refused_stream.status == 503);
  CHECK(srv.subscribers() == 3);

  srv.publish("w", "one");
  REQUIRE(witness.wait_for_events(1));
  REQUIRE(a->wait_for_events(1));

  a.reset();
  b.reset();
  REQUIRE(eventually([&] { return srv->connections() == 1; }));
  sse_client again(srv, "/events/w");
  CHECK(again.head().status == 200);
  REQUIRE(again.wait_for_retry());  // sent on subscribing: it now gets events
  srv.publish("w", "two");
  REQUIRE(witness.wait_for_events(2));
  REQUIRE(again.wait_for_events(1));
}

// --- clients leaving, slow clients ------------------------------------------------------

TEST_CASE("clients leaving mid-stream are a normal close: no warning, no SIGPIPE, nothing left") {
  sigpipe_counter sigpipe;
  server_options o;
  o.threads = 4;
  // Clients here stop reading before they leave: dropping their oldest
  // events keeps them from being cut off as slow consumers first.
  o.hub.overflow = ssepp::overflow_policy::drop_oldest;
  test_server srv(o);
  std::atomic<bool> publishing{true};
  std::vector<std::thread> publishers;
  for (int t = 0; t < 2; ++t)
    publishers.push_back(guarded_thread([&, t] {
      const std::string data(4096, static_cast<char>('a' + t));
      while (publishing) (void)srv->hub().publish("busy", ssepp::event_view{data});
    }));

  for (int round = 0; round < 5; ++round) {
    std::vector<std::unique_ptr<sse_client>> clients;
    for (int i = 0; i < 20; ++i)
      clients.push_back(std::make_unique<sse_client>(srv, "/events/busy"));
    for (auto& c : clients) REQUIRE(c->wait_for_events(1));
    // Leave with data in flight both ways: half with close() (FIN, or RST
    // over unread data), half as abruptly as the backend can (loopback: RST
    // via SO_LINGER 0).
    for (std::size_t i = 0; i < clients.size(); ++i) {
      if (i % 2)
        leave_abruptly(clients[i]->raw());
      else
        clients[i]->raw().close();
    }
  }
  CHECK(eventually([&] { return srv.subscribers() == 0 && srv->connections() == 0; }));
  publishing = false;
  for (auto& t : publishers) t.join();
  CHECK(srv.subscribers() == 0);
  CHECK(srv.logs.count(log_level::warning) == 0);
  CHECK(sigpipe.count() == 0);
}

TEST_CASE("a client that never reads is cut off as a slow consumer; the others keep receiving") {
  server_options o;
  o.hub.max_queued_bytes = 256 * 1024;
  o.hub.max_queued_events = 16;
  test_server srv(o);
  srv.warnings_expected = true;
  sse_client reader(srv, "/events/big");
  connection stalled(srv, client_options(4096));
  REQUIRE(stalled.send_all("GET /events/big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  REQUIRE(eventually([&] { return srv.subscribers() == 2; }));

  const std::string big(64 * 1024, 'x');
  std::size_t sent = 0;
  // Publish until the hub gives up on the stalled client; each event reaches
  // the reader before the next is published, so only the stalled one lags.
  while (srv->hub().stats().slow_consumer_disconnects == 0 && sent < 2000) {
    srv.publish("big", big);
    ++sent;
    REQUIRE(reader.wait_for_events(sent));
  }
  REQUIRE(srv->hub().stats().slow_consumer_disconnects == 1);
  CHECK(eventually([&] { return srv.subscribers() == 1; }));
  // The close is logged on the stream's strand, just after the hub lets go.
  CHECK(eventually([&] { return srv.logs.count_containing(log_level::warning, "slow") == 1; }));
  CHECK(srv.logs.count(log_level::warning) == 1);
  CHECK(srv.logs.count(log_level::error) == 0);

  for (int i = 0; i < 5; ++i) {
    srv.publish("big", big);
    ++sent;
    REQUIRE(reader.wait_for_events(sent));
  }
  for (const auto& e : reader.events()) CHECK(e.data.size() == big.size());
  // The stalled client's stream ends (after what its buffers held).
  CHECK(stalled.read_to_end());
}

// --- event feeds (stream_route) ---------------------------------------------------

// The events in an event stream's body.
std::vector<received_event> events_in(std::string_view body) {
  std::vector<received_event> events;
  std::vector<std::chrono::milliseconds> retries;
  ssepp::parser<collector> parser(collector{&events, &retries});
  REQUIRE_FALSE(parser.feed(body));
  return events;
}

// What a feed's close handler reported, from the feed's strand.
struct feed_end {
  std::atomic<int> calls{0};
  std::atomic<ssepp::close_reason> why{ssepp::close_reason::hub_closed};
  std::function<void(ssepp::close_reason, std::error_code)> handler() {
    return [this](ssepp::close_reason reason, std::error_code) {
      why = reason;
      calls.fetch_add(1);
    };
  }
};

TEST_CASE("a stream route answers with the events its handler sends, then ends the connection") {
  feed_end ended;
  test_server srv({}, [&](server& s) {
    s.stream_route("POST", "/v1/answer", [&](const ssepp::asio::request& req, auto answer) {
      const auto feed = answer.start({{"X-Request-Id", "7"}}, ended.handler());
      CHECK(feed.send(ssepp::event_view{"you said: " + req.body}));
      // From another thread, as a producer would.
      std::thread([feed] {
        for (int i = 0; i < 50; ++i)
          CHECK(feed.send(ssepp::event_view{std::to_string(i), "token"}));
        CHECK(feed.send(ssepp::event_view{"[DONE]"}));
        feed.end();
        CHECK_FALSE(feed.send(ssepp::event_view{"after the end"}));
      }).detach();
    });
  });
  connection c(srv);
  REQUIRE(c.send_all(post_request("/v1/answer", "hello")));
  REQUIRE(c.read_to_end());
  const auto r = parse_response(c.data());
  CHECK(r.status == 200);
  CHECK(media_type(r.field("content-type")) == "text/event-stream");
  CHECK(r.field("cache-control") == "no-cache");
  CHECK(r.field("x-request-id") == "7");
  CHECK(r.field("connection") == "close");
  CHECK(r.count("content-length") == 0);
  const auto events = events_in(r.body);
  REQUIRE(events.size() == 52);
  CHECK(events.front().data == "you said: hello");
  for (int i = 0; i < 50; ++i) {
    CHECK(events[static_cast<std::size_t>(i + 1)].data == std::to_string(i));
    CHECK(events[static_cast<std::size_t>(i + 1)].type == "token");
  }
  CHECK(events.back().data == "[DONE]");
  CHECK(eventually([&] { return ended.calls == 1 && srv->feeds() == 0; }));
  CHECK(ended.why == ssepp::close_reason::hub_closed);
  CHECK(eventually([&] { return srv->connections() == 0; }));
}

TEST_CASE("a stream route refuses with a plain response; only the first answer counts") {
  test_server srv({}, [](server& s) {
    s.stream_route("POST", "/v1/answer", [](const ssepp::asio::request&, auto answer) {
      ssepp::asio::response refused;
      refused.status = 401;
      refused.body = "{\"error\":\"no key\"}";
      refused.content_type = "application/json";
      answer.reply(refused);
      const auto late = answer.start();
      CHECK_FALSE(late.active());
      CHECK_FALSE(late.send(ssepp::event_view{"never sent"}));
    });
  });
  const auto r = post(srv, "/v1/answer", "{}");
  CHECK(r.status == 401);
  CHECK(r.body == "{\"error\":\"no key\"}");
  CHECK(media_type(r.field("content-type")) == "application/json");
  CHECK(srv->feeds() == 0);
  // GET on the route is 405, as on any route.
  CHECK(get(srv, "/v1/answer").status == 405);
}

TEST_CASE("a stream route's plain answers keep the connection for the next request") {
  test_server srv({}, [](server& s) {
    s.stream_route("POST", "/v1/answer", [](const ssepp::asio::request& req, auto answer) {
      if (req.body == "stream") {
        const auto feed = answer.start();
        (void)feed.send(ssepp::event_view{"streamed"});
        return feed.end();
      }
      ssepp::asio::response r;
      r.body = "plain " + req.body;
      answer.reply(r);
    });
  });
  connection c(srv);
  REQUIRE(c.send_all(post_request("/v1/answer", "one")));
  REQUIRE(c.read_until([&] { return holds_whole_response(c.data(), false); }));
  CHECK(parse_response(c.data()).body == "plain one");
  CHECK(parse_response(c.data()).field("connection") != "close");
  // The next request on the same connection is answered too, plainly and
  // then as a stream, which ends the connection.
  const std::size_t first = c.data().size();
  REQUIRE(c.send_all(post_request("/v1/answer", "two")));
  REQUIRE(c.read_until([&] { return holds_whole_response(c.data().substr(first), false); }));
  CHECK(parse_response(c.data().substr(first)).body == "plain two");
  const std::size_t second = c.data().size();
  REQUIRE(c.send_all(post_request("/v1/answer", "stream")));
  REQUIRE(c.read_to_end());
  const auto streamed = parse_response(c.data().substr(second));
  CHECK(streamed.status == 200);
  REQUIRE(events_in(streamed.body).size() == 1);
  CHECK(events_in(streamed.body).front().data == "streamed");
}

TEST_CASE("a client leaving a feed is reported at once as peer_gone; later sends fail") {
  feed_end ended;
  std::mutex mutex;
  ssepp::asio::event_feed kept;
  test_server srv({}, [&](server& s) {
    s.stream_route("POST", "/v1/answer", [&](const ssepp::asio::request&, auto answer) {
      std::lock_guard<std::mutex> lock(mutex);
      kept = answer.start({}, ended.handler());
      CHECK(kept.send(ssepp::event_view{"first"}));
    });
  });
  {
    connection c(srv);
    REQUIRE(c.send_all(post_request("/v1/answer", "")));
    REQUIRE(c.read_until([&] { return c.data().find("data: first") != std::string::npos; }));
    CHECK(srv->feeds() == 1);
    leave_abruptly(c);
  }
  // Nothing is sent after "first": only the watch can notice the leaving.
  CHECK(eventually([&] { return ended.calls == 1; }));
  CHECK(ended.why == ssepp::close_reason::peer_gone);
  std::lock_guard<std::mutex> lock(mutex);
  CHECK_FALSE(kept.active());
  CHECK_FALSE(kept.send(ssepp::event_view{"to nobody"}));
  CHECK(srv->feeds() == 0);
  CHECK(eventually([&] { return srv->connections() == 0; }));
}

TEST_CASE("a feed whose client does not read ends as a slow consumer at max_queued_bytes") {
  server_options o;
  o.hub.max_queued_bytes = 256 * 1024;
  feed_end ended;
  std::atomic<std::size_t> queued{0};
  std::atomic<bool> refused{false};
  test_server srv(o, [&](server& s) {
    s.stream_route("POST", "/v1/answer", [&](const ssepp::asio::request&, auto answer) {
      const auto feed = answer.start({}, ended.handler());
      std::thread([&, feed] {
        const std::string big(16 * 1024, 'x');
        // Bounded by the queue: far fewer than this fit in it and the
        // buffers of a client that never reads.
        for (int i = 0; i < 10000; ++i) {
          if (!feed.send(ssepp::event_view{big})) return refused.store(true);
          queued.fetch_add(big.size());
        }
      }).detach();
    });
  });
  srv.warnings_expected = true;
  connection stalled(srv, client_options(4096));
  REQUIRE(stalled.send_all(post_request("/v1/answer", "")));
  REQUIRE(eventually([&] { return refused.load(); }));
  CHECK(queued < 10000u * 16 * 1024);
  CHECK(eventually([&] { return ended.calls == 1; }));
  CHECK(ended.why == ssepp::close_reason::slow_consumer);
  CHECK(srv.logs.count_containing(log_level::warning, "too slowly") == 1);
  CHECK(eventually([&] { return srv->feeds() == 0; }));
}

TEST_CASE("stop: a feed gets what was queued, then the end of its stream") {
  feed_end ended;
  test_server srv({}, [&](server& s) {
    s.stream_route("POST", "/v1/answer", [&](const ssepp::asio::request&, auto answer) {
      const auto feed = answer.start({}, ended.handler());
      for (int i = 0; i < 10; ++i) CHECK(feed.send(ssepp::event_view{std::to_string(i)}));
    });
  });
  connection c(srv);
  REQUIRE(c.send_all(post_request("/v1/answer", "")));
  REQUIRE(c.read_until([&] { return c.data().find("data: 9\n\n") != std::string::npos; }));
  std::thread stopper([&] { srv->stop(); });
  CHECK(c.read_to_end());
  stopper.join();
  CHECK(events_in(parse_response(c.data()).body).size() == 10);
  CHECK(eventually([&] { return ended.calls == 1; }));
  CHECK(ended.why == ssepp::close_reason::hub_closed);
}

// --- graceful stop ------------------------------------------------------------------------

TEST_CASE("stop: every subscriber gets the last word, then the end of its stream") {
  server_options o;
  o.last_word = ssepp::event{"{\"reason\":\"restart\"}", "bye", ""};
  test_server srv(o);
  std::vector<std::unique_ptr<sse_client>> clients;
  for (const char* target : {"/events/a", "/events/a", "/events/b"})
    clients.push_back(std::make_unique<sse_client>(srv, target));
  REQUIRE(eventually([&] { return srv.subscribers() == 3; }));
  srv.publish("a", "to a");
  srv.publish("b", "to b");
  for (auto& c : clients) REQUIRE(c->wait_for_events(1));

  auto stopped = std::async(std::launch::async, [&] {
    srv->stop();
    srv->wait();
  });
  for (auto& c : clients) {
    REQUIRE(c->wait_for_end());
    REQUIRE(c->events().size() == 2);
    CHECK(c->events()[1].type == "bye");
    CHECK(c->events()[1].data == "{\"reason\":\"restart\"}");
  }
  REQUIRE(stopped.wait_for(o.stop_grace + patience) == std::future_status::ready);
  CHECK(srv.subscribers() == 0);
  // No new connections: the acceptor is closed, and serve() closes what it
  // is handed at once, unanswered.
#if defined(SSEPP_TEST_LOOPBACK)
  CHECK_FALSE(connection::accepting(srv.port()));
#else
  connection late(srv);
  (void)late.send_all(sse_request("/events/a"));
  CHECK(late.read_to_end());
  CHECK(late.data().empty());
  CHECK(srv->connections() == 0);
#endif
}

TEST_CASE("stop: a client that reads nothing cannot hold the server past stop_grace") {
  server_options o;
  o.stop_grace = 300ms;
  o.hub.max_queued_bytes = std::size_t{64} << 20;
  o.hub.max_queued_events = 100000;
  o.last_word = ssepp::event{"bye"};
  test_server srv(o);
  sse_client reader(srv, "/events/s");
  connection stalled(srv, client_options(4096));
  REQUIRE(stalled.send_all("GET /events/s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  REQUIRE(eventually([&] { return srv.subscribers() == 2; }));
  const std::string big(64 * 1024, 's');
  for (int i = 0; i < 200; ++i) srv.publish("s", big);  // ~13 MB: more than the socket buffers hold
  REQUIRE(reader.wait_for_events(200));

  auto stopped = std::async(std::launch::async, [&] {
    srv->stop();
    srv->wait();
  });
  REQUIRE(reader.wait_for_end());
  CHECK(reader.events().back().data == "bye");
  REQUIRE(stopped.wait_for(o.stop_grace + patience) == std::future_status::ready);
}

TEST_CASE("stop: a request arriving on a connection opened before the stop is answered 503") {
  server_options o;
  o.stop_grace = patience;  // the stalled subscriber holds the drain until it leaves
  o.hub.max_queued_bytes = std::size_t{64} << 20;
  test_server srv(o);
  // A subscriber that reads nothing keeps the stop draining: the server is
  // still running, and stopping, when the late request arrives.
  connection stalled(srv, client_options(4096));
  REQUIRE(stalled.send_all(sse_request("/events/s")));
  REQUIRE(eventually([&] { return srv.subscribers() == 1; }));
  const std::string big(64 * 1024, 's');
  for (int i = 0; i < 200; ++i) srv.publish("s", big);  // ~13 MB: more than the socket buffers hold

  // Connected before the stop, its request not finished until after it.
  const std::string request = sse_request("/events/s");
  connection late(srv);
  REQUIRE(late.send_all(request.substr(0, 10)));
  REQUIRE(eventually([&] { return srv->connections() == 2; }));
  srv->stop();
  REQUIRE(late.send_all(request.substr(10)));
  REQUIRE(late.read_until([&] { return late.data().find("\r\n\r\n") != std::string::npos; }));
  const auto answer = parse_response(late.data());
  CHECK(answer.status == 503);
  CHECK(answer.field("retry-after") == "1");
  CHECK(answer.field("connection") == "close");
  CHECK(late.read_to_end());
  CHECK(srv.subscribers() <= 1);  // the late request subscribed nothing

  auto stopped = std::async(std::launch::async, [&] { srv->wait(); });
  stalled.close();  // the drain ends with the stalled subscriber
  REQUIRE(stopped.wait_for(patience) == std::future_status::ready);
}

#if defined(SSEPP_TEST_LOOPBACK)
// Over sockets only: the race is with the acceptor.
TEST_CASE("stop while clients connect and publishers publish") {
  server_options o;
  o.threads = 4;
  o.tick_interval = 1ms;
  o.hub.heartbeat_interval = 1ms;
  // These clients never read: keep them from being cut off as slow.
  o.hub.overflow = ssepp::overflow_policy::drop_oldest;
  test_server srv(o);
  const std::uint16_t port = srv.port();
  std::atomic<bool> running{true};
  std::atomic<int> connected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.push_back(guarded_thread([&] {
      while (running) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const sockaddr_in address = connection::loopback(port);
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
          static constexpr char request[] = "GET /events/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
          (void)::send(fd, request, sizeof request - 1, MSG_NOSIGNAL);
          char buffer[256];
          (void)::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
          ++connected;
        }
        ::close(fd);
      }
    }));
  threads.push_back(guarded_thread([&] {
    while (running) (void)srv->hub().publish("x", ssepp::event_view{"tick"});
  }));
  CHECK(eventually([&] { return connected >= 200; }));
  auto stopped = std::async(std::launch::async, [&] {
    srv->stop();
    srv->wait();
  });
  CHECK(stopped.wait_for(o.stop_grace + patience) == std::future_status::ready);
  running = false;
  for (auto& t : threads) t.join();
  CHECK_FALSE(connection::accepting(port));
}
#endif

// --- in memory only: what sockets cannot do deterministically -------------------------

#if !defined(SSEPP_TEST_LOOPBACK)

TEST_CASE("a request head read one byte at a time is served as if it came whole") {
  server_options o;
  o.cors_origins = {"http://front.example"};
  test_server srv(o);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(srv.publish("news", "e" + std::to_string(i)));
  sse_client client(srv, "/events/news?x=1",
                    "Origin: http://front.example\r\nLast-Event-ID: " + ids[0] + "\r\n",
                    client_options::with([](memory_stream& s) { s.read_size(1); }));
  CHECK(client.head().status_line == "HTTP/1.1 200 OK");
  CHECK(media_type(client.head().field("content-type")) == "text/event-stream");
  CHECK(client.head().field("access-control-allow-origin") == "http://front.example");
  REQUIRE(client.wait_for_events(2));
  REQUIRE(eventually([&] { return srv.subscribers() == 1; }));
  srv.publish("news", "live");
  REQUIRE(client.wait_for_events(3));
  std::vector<std::string> got;
  for (const auto& e : client.events()) got.push_back(e.data);
  CHECK(got == std::vector<std::string>{"e1", "e2", "live"});
}

TEST_CASE("a publish request read in pieces of every size, 1 byte to all of it, publishes once") {
  server_options o;
  o.publish_prefix = "/publish/";
  test_server srv(o);
  sse_client subscriber(srv, "/events/news");
  REQUIRE(eventually([&] { return srv.subscribers() == 1; }));
  const std::string body = "line one\nline two";
  auto request = [&](std::size_t n) {
    return post_request("/publish/news?event=update&id=e" + std::to_string(n), body,
                        "X-Padding: " + std::string(20, 'p') + "\r\n");
  };
  std::size_t n = 1;
  for (; n <= request(n).size(); ++n) {
    CAPTURE(n);
    const auto r =
        fetch(srv, request(n), client_options::with([n](memory_stream& s) { s.read_size(n); }));
    CHECK(r.status == 200);
    CHECK(r.body == "e" + std::to_string(n));
    REQUIRE(subscriber.wait_for_events(n));
    CHECK(subscriber.events().back().type == "update");
    CHECK(subscriber.events().back().data == body);
    CHECK(subscriber.events().back().id == "e" + std::to_string(n));
  }
  CHECK(n > 100);  // the last one read the whole request at once
  CHECK(srv->hub().stats().published == n - 1);
}

TEST_CASE("a write failing at any write ends that stream as a client leaving; others receive") {
  std::size_t write_size = 0;
  SUBCASE("whole writes") {}
  SUBCASE("writes of 5 bytes at most, so a failure falls inside the head and inside events") {
    write_size = 5;
  }
  test_server srv;
  sse_client witness(srv, "/events/news");
  REQUIRE(eventually([&] { return srv.subscribers() == 1; }));
  const std::string& seen = witness.raw().data();
  // What a subscriber of the same request receives first.
  const std::string head = seen.substr(0, seen.find("\r\n\r\n") + 4) + "retry: 3000\n\n";

  std::size_t published = 0, failed = 0, n = 1;
  for (;; ++n) {
    CAPTURE(n);
    REQUIRE(n < 1000);
    connection failing(srv, client_options::with([n, write_size](memory_stream& s) {
                         s.write_size(write_size);
                         s.fail_write(n);
                       }));
    REQUIRE(failing.send_all(sse_request("/events/news")));
    // Subscribed once its head is out (the subscription comes first), or
    // ended trying.
    (void)failing.read_until([&] { return failing.data().size() >= head.size(); });
    const std::size_t before = seen.size();
    for (int i = 0; i < 3; ++i) {
      srv.publish("news", "event " + std::to_string(published++));
      REQUIRE(witness.wait_for_events(published));
    }
    const std::string expected = head + seen.substr(before);
    if (failing.read_until([&] { return failing.data() == expected; })) break;  // no write failed
    // Write n failed: the stream ended right there, after what came before.
    ++failed;
    CHECK(failing.ended());
    CHECK(failing.data().size() < expected.size());
    CHECK(expected.compare(0, failing.data().size(), failing.data()) == 0);
    CHECK(eventually([&] { return srv.subscribers() == 1 && srv->connections() == 1; }));
  }
  CHECK(failed >= 2);  // at least the head's write and an event's (events may share one)
  CHECK(eventually([&] { return srv.subscribers() == 1 && srv->connections() == 1; }));
  srv.publish("news", "after");
  REQUIRE(witness.wait_for_events(published + 1));
  // Each one a normal close: logged as a client leaving (the last one left
  // by itself), never as a slow consumer or a warning.
  CHECK(eventually(
      [&] { return srv.logs.count_containing(log_level::debug, "client left") == failed + 1; }));
  CHECK(srv->hub().stats().slow_consumer_disconnects == 0);
}

TEST_CASE("a read that fails, at any read, closes only that connection, unanswered or as leaving") {
  test_server srv;
  sse_client witness(srv, "/events/news");
  REQUIRE(eventually([&] { return srv.subscribers() == 1; }));
  const std::string head =
      witness.raw().data().substr(0, witness.raw().data().find("\r\n\r\n") + 4);
  const std::string request = sse_request("/events/news");
  constexpr std::size_t piece = 16;
  const std::size_t request_reads = (request.size() + piece - 1) / piece;
  std::size_t published = 0;
  for (std::size_t n = 1; n <= request_reads + 2; ++n) {
    CAPTURE(n);
    connection c(srv, client_options::with([n](memory_stream& s) {
                   s.read_size(piece);
                   s.fail_read(n);
                 }));
    REQUIRE(c.send_all(request));
    (void)c.read_until([&] { return c.data().size() >= head.size(); });
    srv.publish("news", "event " + std::to_string(published++));
    REQUIRE(witness.wait_for_events(published));
    const std::string event = "data: event " + std::to_string(published - 1) + "\n\n";
    const bool streaming = c.read_until([&] { return c.data().find(event) != std::string::npos; });
    if (n <= request_reads) {
      // While the request arrives: closed with no answer at all.
      CHECK_FALSE(streaming);
      CHECK(c.ended());
      CHECK(c.data().empty());
    } else if (n == request_reads + 1) {
      // The stream's watch for the client leaving: it left, as far as the
      // server can tell, so the stream ends (with what was already out).
      CHECK_FALSE(streaming);
      CHECK(c.ended());
      CHECK(head.compare(0, (std::min)(head.size(), c.data().size()), c.data(), 0, head.size()) ==
            0);
    } else {
      CHECK(streaming);  // every read succeeded
      CHECK_FALSE(c.ended());
    }
    if (n <= request_reads + 1)
      CHECK(eventually([&] { return srv.subscribers() == 1 && srv->connections() == 1; }));
  }
}

TEST_CASE("a subscriber that never reads a byte is cut off as a slow consumer; others receive") {
  server_options o;
  o.hub.max_queued_bytes = 256 * 1024;
  o.hub.max_queued_events = 16;
  test_server srv(o);
  srv.warnings_expected = true;
  sse_client reader(srv, "/events/big");
  connection stalled(srv, client_options::with([](memory_stream& s) { s.max_buffered(0); }));
  REQUIRE(stalled.send_all(sse_request("/events/big")));
  REQUIRE(eventually([&] { return srv.subscribers() == 2; }));

  const std::string big(4096, 'x');
  std::size_t sent = 0;
  while (srv->hub().stats().slow_consumer_disconnects == 0 && sent < 100) {
    srv.publish("big", big);
    ++sent;
    REQUIRE(reader.wait_for_events(sent));
  }
  REQUIRE(srv->hub().stats().slow_consumer_disconnects == 1);
  CHECK(sent <= 20);  // about max_queued_events: nothing went out to hold them
  CHECK(eventually([&] { return srv.subscribers() == 1; }));
  // The close is logged on the stream's strand, just after the hub lets go.
  CHECK(eventually([&] { return srv.logs.count_containing(log_level::warning, "slow") == 1; }));
  CHECK(srv.logs.count(log_level::warning) == 1);
  CHECK(srv.logs.count(log_level::error) == 0);
  // Not a byte reached it, not even the head; its stream ends all the same.
  CHECK(stalled.read_to_end());
  CHECK(stalled.data().empty());
  srv.publish("big", big);
  REQUIRE(reader.wait_for_events(sent + 1));
}

#endif

// --- concurrency ---------------------------------------------------------------------------

TEST_CASE("publishing from several threads while clients come and go") {
  server_options o;
  o.threads = 4;
  o.tick_interval = 5ms;
  o.hub.heartbeat_interval = 5ms;
  // Unbounded enough that no one is cut off as a slow consumer here.
  o.hub.max_queued_events = 1000000;
  o.hub.max_queued_bytes = std::size_t{256} << 20;
  test_server srv(o);
  sse_client stable(srv, "/events/t");
  REQUIRE(eventually([&] { return srv.subscribers() == 1; }));

  constexpr int publishers = 4, per_publisher = 300;
  std::atomic<int> publishing{publishers};
  std::vector<std::thread> threads;
  for (int p = 0; p < publishers; ++p)
    threads.push_back(guarded_thread([&, p] {
      for (int i = 0; i < per_publisher; ++i) {
        const std::string data = std::to_string(p) + ":" + std::to_string(i);
        CHECK_FALSE(srv->hub().publish("t", ssepp::event_view{data}).error);
        CHECK_FALSE(srv->hub().publish("u", ssepp::event_view{data}).error);
      }
      --publishing;
    }));
  std::atomic<int> churned{0};
  for (int c = 0; c < 2; ++c)
    threads.push_back(guarded_thread([&, c] {
      // Keep connecting and leaving until the publishers are done.
      for (int n = 0; publishing > 0 || n < 10; ++n) {
        sse_client client(srv, n % 2 ? "/events/t" : "/events/u");
        CHECK(client.head().status == 200);
        client.wait_for_retry();
        if ((n + c) % 2) leave_abruptly(client.raw());
        ++churned;
      }
    }));
  for (auto& t : threads) t.join();

  REQUIRE(stable.wait_for_events(publishers * per_publisher));
  // Each publisher's events arrive exactly once and in its order; ids rise.
  std::vector<int> next(publishers, 0);
  std::uint64_t last_seq = 0;
  for (const auto& e : stable.events()) {
    const int p = std::stoi(e.data.substr(0, e.data.find(':')));
    const int i = std::stoi(e.data.substr(e.data.find(':') + 1));
    CHECK(i == next[static_cast<std::size_t>(p)]);
    next[static_cast<std::size_t>(p)] = i + 1;
    const std::uint64_t seq = std::stoull(e.id.substr(e.id.find('-') + 1));
    CHECK(seq > last_seq);
    last_seq = seq;
  }
  CHECK(stable.events().size() == publishers * per_publisher);
  CHECK(churned >= 20);
  CHECK(eventually([&] { return srv.subscribers() == 1 && srv->connections() == 1; }));
}
