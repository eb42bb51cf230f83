// The embedded HTTP/1.1 server on Asio (standalone or Boost, see net.hpp),
// generic over its stream (plain TCP, TLS, Beast's tcp_stream, an in-memory
// stream in tests): SSE endpoints backed by a hub, an optional publish
// endpoint, static files and user routes, with CORS, an authorization hook,
// and a clear answer to every bad request. The protocol decisions are
// ssepp::http's pure functions; this header only carries them out.
#pragma once

#include "net.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "../http/batch.hpp"
#include "../http/chunked.hpp"
#include "../http/format.hpp"
#include "../http/framing.hpp"
#include "../http/head.hpp"
#include "../http/message.hpp"
#include "../http/persistence.hpp"
#include "../http/request_decision.hpp"
#include "../hub.hpp"
#include "event_feed.hpp"
#include "event_stream.hpp"
#include "hub_driver.hpp"
#include "stream_transport.hpp"

namespace ssepp::asio {
inline namespace SSEPP_ASIO_FLAVOUR {

/// Severity of a server log line. A client leaving is `debug`: it is the
/// normal end of an event stream, never an error.
enum class log_level { debug, info, warning, error };

/// The request handlers see, and the response they return (ssepp::http's).
using request = http::request;
using response = http::response;
/// What the authorization hook decides (see http::auth_result).
using auth_result = http::auth_result;

/// A backplane the server publishes and resumes streams through, shared
/// with other servers (ssepp/redis's backplane provides both). Either
/// function may answer from any thread.
struct server_backplane {
  /// Publishes `events` to `channel` (their ids are the backplane's to
  /// assign) and calls `done` with the ids or the error; the server's
  /// publish endpoint answers 503 with Retry-After for
  /// errc::backplane_unavailable.
  std::function<void(std::string channel, std::vector<ssepp::event> events,
                     std::function<void(ssepp::batch_publish_result)> done)>
      publish;
  /// Readies a stream of `channels` resuming after `last_event_id` (maybe
  /// empty) and calls `ready` with how it resumes: nullopt from the hub's
  /// own history, else the plan to subscribe with.
  std::function<void(std::vector<std::string> channels, std::string last_event_id,
                     std::function<void(std::optional<ssepp::replay_plan>)> ready)>
      resume;
};

/// Everything the server can be told; the defaults are safe for production
/// behind a proxy and for the bundled demos.
struct server_options {
  std::string host = "127.0.0.1";  ///< address to listen on
  std::uint16_t port = 8080;       ///< 0 picks a free port (see server::port())
  /// I/O threads; 0 means one per core. Each runs an io_context of its
  /// own and is one shard of the hub (hub_options::shards is set to this):
  /// connections are spread over the threads as they are accepted, and a
  /// connection, its stream and its subscriber live on one thread for life,
  /// so fan-out on N threads shares no subscriber state between cores.
  std::size_t threads = 0;
  /// Open connections at most; more are answered 503 with Retry-After.
  std::size_t max_connections = 10000;
  /// Request line plus headers, in bytes; more is answered 431.
  std::size_t max_header_bytes = 16 * 1024;
  /// Request body in bytes (publish); more is answered 413.
  std::size_t max_body_bytes = 1024 * 1024;
  /// Time a client has to send its whole request (head and body); a client
  /// that dawdles (slowloris) is answered 408 and closed.
  std::chrono::milliseconds request_timeout = std::chrono::seconds{10};
  /// HTTP/1.1 persistent connections (RFC 9112 section 9.3): after a plain
  /// response, a connection waits this long for its next request, then
  /// closes quietly. Pipelined requests are answered in order, one at a
  /// time. An event stream always ends its connection. 75 s, as nginx's
  /// default: longer than the 60 s idle timeout of common load balancers,
  /// so the balancer, not the server, closes an idle connection first (a
  /// server closing it first races a request already on its way).
  std::chrono::milliseconds keep_alive_timeout = std::chrono::seconds{75};
  /// Requests one connection may carry (its last answer says
  /// `Connection: close`); 1 turns persistent connections off. 1000, as
  /// nginx's keepalive_requests.
  std::size_t max_requests_per_connection = 1000;
  /// How often the hub's `tick()` runs (heartbeats, history aging).
  std::chrono::milliseconds tick_interval = std::chrono::seconds{1};
  /// How long `stop()` lets subscribers receive their last events.
  std::chrono::milliseconds stop_grace = std::chrono::seconds{2};
  /// Origins allowed to read responses cross-origin, credentials included
  /// (cookies, EventSource's withCredentials). "*" allows any origin (the
  /// origin is echoed, since credentials forbid a literal "*"). Requests from
  /// an origin not listed are answered 403.
  std::vector<std::string> cors_origins;
  /// Host names the server answers for: "example.com" (any port),
  /// "example.com:8443", "*.example.com", "*" for any. Requests for another
  /// host are answered 421. Empty (the default): any host, except when
  /// `host` is a loopback address, where only loopback names (localhost,
  /// *.localhost, 127.x.y.z, [::1]) are answered, so that a page on
  /// another site cannot reach the server through a name of its own that
  /// resolves to 127.0.0.1 (DNS rebinding) and read it as same-origin.
  std::vector<std::string> allowed_hosts;
  /// SSE endpoint: GET <prefix><channel>. Empty disables it.
  std::string events_prefix = "/events/";
  /// Publish endpoint: POST <prefix><channel>?event=TYPE&id=ID with the body
  /// as data; answers the event's id. With `Content-Type: text/event-stream`
  /// the body is a batch of events instead (each with its own `event:` and
  /// `id:`; see http::parse_event_batch), published all or none, and the
  /// answer is their ids, one per line; a bad event is answered 400, naming
  /// it, and nothing is published. Empty (the default) disables it.
  std::string publish_prefix;
  /// Directory served for GET requests no other route takes; empty: none.
  /// Paths are confined to it: no "..", no symlink escapes.
  std::string static_root;
  /// Sees every request but CORS preflights (method, path, headers, cookies).
  std::function<auth_result(const request&)> authorize;
  /// Receives log lines; none are printed without it.
  std::function<void(log_level, std::string_view)> log;
  hub_options hub;
  /// Bytes the kernel may hold unsent per event stream, so that a reader
  /// that stalls costs hub.max_queued_bytes plus this at most (see
  /// event_stream_options::send_buffer_bytes); 0: the kernel's own tuning,
  /// which holds megabytes.
  std::size_t send_buffer_bytes = 256 * 1024;
  /// Sent to every subscriber by `stop()` before the stream closes.
  std::optional<ssepp::event> last_word;
  /// Several servers, one set of channels: publishing and resuming go
  /// through this backplane when its functions are set (hub_server's
  /// --redis). Unset: the hub alone.
  server_backplane backplane;
};

namespace detail {
// TLS streams (Asio's and Beast's) handshake before the request is read.
template <class S, class = void>
struct has_server_handshake : std::false_type {};
#if defined(SSEPP_ENABLE_OPENSSL)
template <class S>
struct has_server_handshake<
    S, std::void_t<decltype(std::declval<S&>().async_handshake(
           net::ssl::stream_base::server, std::declval<void (*)(error_code)>()))>>
    : std::true_type {};
#endif
}  // namespace detail

/// An HTTP/1.1 server for SSE on any Asio stream.
///
/// `Stream` is what each connection reads and writes: `net::ip::tcp::socket`
/// (the `server` alias), an `net::ssl::stream<net::ip::tcp::socket>` (the
/// `tls_server` alias, with SSEPP_ENABLE_OPENSSL), Beast's `tcp_stream`, or
/// any stream a test makes. The requirements on Stream:
///
///   expression                        | semantics
///   ----------------------------------+-------------------------------------
///   s.async_read_some(b, h)           | AsyncReadStream
///   net::async_write(s, b, h)         | AsyncWriteStream
///   detail::close_stream(s)           | a socket() or next_layer() chain
///                                     | down to something with shutdown()
///                                     | and close() (stream_transport.hpp)
///   s.async_handshake(server, h)      | optional: run before the request is
///                                     | read (TLS)
///   Stream(net::ip::tcp::socket&&)    | for start()'s acceptor, unless a
///                                     | stream_factory is given
///
/// Connections accepted by `start()` are made into Streams by the factory;
/// `serve()` takes a stream connected by other means.
///
/// Threads: `options.threads` I/O threads (one per core by default), each
/// running an io_context of its own and serving one shard of the hub
/// (see ssepp::hub's threading model). Connections go to the threads in
/// turn; a connection's handlers all run on its thread, so none needs a
/// strand. A publish, from any thread, hands each event to the threads
/// with subscribers of its channel, and each thread writes to its own.
///
/// Thread safety: `publish` through `hub()`, `serve()` and `stop()` may be
/// called from any thread; configure routes before `start()`. Do not
/// destroy the server on one of its own I/O threads (it joins them).
template <class Stream>
class basic_server {
 public:
  using stream_type = Stream;
  using transport_type = stream_transport<Stream>;
  using hub_type = ssepp::hub<transport_type>;
  using executor_type = net::io_context::executor_type;
  /// A plain request handler: gets the request, returns the response.
  using handler = std::function<response(const request&)>;
  /// A handler that answers later: it calls the function it is given once,
  /// from any thread, with the response (the request stays valid until
  /// then).
  using async_handler = std::function<void(const request&, std::function<void(response)>)>;
  /// Maps an SSE request to the channels it subscribes to (empty: 404).
  using channel_mapper = http::channel_mapper;
  class stream_answer;
  /// A handler whose answer may be an event stream it feeds itself (see
  /// stream_route): it answers through the stream_answer, at once or later,
  /// from any thread.
  using stream_handler = std::function<void(const request&, stream_answer)>;
  /// Makes a connection's stream from an accepted socket.
  using stream_factory = std::function<Stream(net::ip::tcp::socket&&)>;

  /// A server; `make_stream` defaults to constructing Stream from the
  /// socket (a TLS stream needs one that supplies its ssl::context, see
  /// tls_stream_factory).
  explicit basic_server(server_options options = {}, stream_factory make_stream = {});
  basic_server(const basic_server&) = delete;
  basic_server& operator=(const basic_server&) = delete;
  /// Stops (gracefully) and joins the I/O threads.
  ~basic_server();

  /// Answers `method` requests for exactly `path` (or, when `path` ends with
  /// '*', every path starting with what precedes it).
  void route(std::string method, std::string path, handler h);
  /// As route(), with a handler that answers later (a publish through a
  /// backplane, a call to another service).
  void route_async(std::string method, std::string path, async_handler h);
  /// Serves an event stream for GET requests under `prefix`, subscribing to
  /// the channels `channels` returns.
  void sse_route(std::string prefix, channel_mapper channels);
  /// As route(), for a request whose answer is an event stream of its own
  /// (an event_feed: a POST streaming its answer, as LLM APIs do), or a
  /// plain response (a refusal). The handler gets the request, body read,
  /// and a stream_answer to give one of the two with; the feed ends when
  /// the handler's code calls end() (the connection closes once the queue
  /// is written), when the client leaves (on_close says peer_gone: stop
  /// producing) or when the server stops (stop() ends every feed, letting
  /// it drain for up to stop_grace). The request stays valid until the
  /// answer ends.
  void stream_route(std::string method, std::string path, stream_handler h);

  /// Binds, listens and starts the I/O threads; returns at once. Throws
  /// std::system_error when the address cannot be bound.
  void start();
  /// Starts the I/O threads without listening: connections come only
  /// through serve() (an application with its own acceptor, or a test).
  void start_without_listening();
  /// Serves one connection on `stream`, already connected (and, for TLS,
  /// not yet handshaken: the server does it). `remote_address` is what
  /// handlers see as request::remote_address.
  void serve(Stream stream, std::string remote_address = {});
  /// Blocks until the server has stopped.
  void wait();
  /// Graceful stop: no new connections, a request still arriving on an open
  /// one is answered 503 with Retry-After, subscribers get the last word and
  /// what is queued (for up to `stop_grace`), then everything closes.
  void stop();

  /// The port listened on (useful with port 0).
  std::uint16_t port() const noexcept { return port_; }
  hub_type& hub() noexcept { return hub_; }
  const hub_type& hub() const noexcept { return hub_; }
  const server_options& options() const noexcept { return options_; }
  /// Connections open now.
  std::size_t connections() const noexcept { return connections_.load(); }
  /// Event feeds (stream_route's streams) open now.
  std::size_t feeds() const noexcept { return feeds_open_.load(); }
  /// Responses sent so far, by status: (status, count) for each status
  /// sent at least once, in ascending order. An event stream counts as a
  /// 200 when its head is due, a refused request as whatever refused it.
  std::vector<std::pair<int, std::uint64_t>> responses() const;
  /// The executor of the server's first io_context (to make streams for
  /// serve()).
  executor_type get_executor() noexcept { return io_.get_executor(); }
  /// I/O threads (and hub shards), fixed at construction.
  std::size_t threads() const noexcept { return thread_count_; }

 private:
  class connection;
  struct route_entry {
    std::string method, path;
    bool prefix = false;
    handler h;
    async_handler async_h;    // instead of h
    stream_handler stream_h;  // instead of h
  };

  void log(log_level level, std::string_view text) const {
    if (options_.log) options_.log(level, text);
  }
  void accept();
  void start_threads();
  void stop_io() {
    work_.clear();
    for (std::size_t k = 0; k < thread_count_; ++k) io_of(k).stop();
  }
  static std::vector<std::unique_ptr<net::io_context>> make_io_contexts(std::size_t n) {
    std::vector<std::unique_ptr<net::io_context>> v;
    for (std::size_t i = 0; i < n; ++i) v.push_back(std::make_unique<net::io_context>(1));
    return v;
  }
  std::vector<net::executor_work_guard<net::io_context::executor_type>> make_work_guards() {
    std::vector<net::executor_work_guard<net::io_context::executor_type>> v;
    for (std::size_t k = 0; k < thread_count_; ++k) v.push_back(net::make_work_guard(io_of(k)));
    return v;
  }
  // The io_context of thread (and shard) k; one thread runs each, so its
  // executor serializes a connection's handlers without a strand's memory
  // or a post per write.
  net::io_context& io_of(std::size_t k) { return k == 0 ? io_ : *more_io_[k - 1]; }
  // The next thread in turn, for a new connection.
  std::size_t next_shard() { return next_shard_.fetch_add(1) % thread_count_; }
  // The shard whose io_context `executor` belongs to (0 if none).
  std::size_t shard_of(const net::any_io_executor& executor) {
    for (std::size_t k = 0; k < thread_count_; ++k)
      if (executor == net::any_io_executor(io_of(k).get_executor())) return k;
    return 0;
  }
  // The hub's options: one shard per thread, each woken on its thread.
  hub_options sharded(hub_options o) {
    o.shards = thread_count_;
    o.wake_shard = [this](std::size_t k) { net::post(io_of(k), [this, k] { hub_.run_shard(k); }); };
    return driver_.wire(std::move(o));
  }
  void handle(const std::shared_ptr<connection>& c, request& req);
  void route_to_handlers(const std::shared_ptr<connection>& c, const request& req,
                         const http::field_list& cors);
  // What a publish request asks for: a channel and its events (all of
  // them or none), or the answer refusing it.
  struct publish_order {
    std::string channel;
    std::vector<ssepp::event> events;
    bool batch = false;  // a text/event-stream body, answered as a batch
  };
  std::variant<response, publish_order> read_publish(const request& req) const;
  static response publish_outcome(bool batch, const ssepp::batch_publish_result& result);
  response publish_answer(const request& req);
  void publish_through_backplane(const request& req, std::function<void(response)> reply);
  response serve_static(const request& req) const;

  server_options options_;
  stream_factory make_stream_;
  // Destruction order: members are destroyed in reverse, and io_'s
  // destructor destroys the handlers still queued in it (a stopped server's
  // connections, the event streams the hub's destruction just ended). Those
  // own connection slots, whose deleters decrement connections_: it must
  // still exist then, so it is declared before io_. Whatever io_ runs
  // (work_, strand_, the acceptor, the timers, the hub driver) is declared
  // after it and goes first, as Asio asks of I/O objects; the hub goes
  // before io_ too, and its transports' closes are queued there. ~basic_server
  // joins the threads, so nothing runs while the members go.
  std::atomic<std::size_t> connections_{0};
  std::size_t thread_count_;  // I/O threads and hub shards, fixed at construction
  // Threads 1 to thread_count_ - 1 (heap: io_context cannot move). Declared
  // before io_, so they go after it: an accept on io_ that has not run yet
  // holds a socket of one of them, which must still exist when io_'s
  // destructor destroys that handler; their own handlers refer to nothing
  // of io_'s.
  std::vector<std::unique_ptr<net::io_context>> more_io_;
  net::io_context io_;  // thread 0's
  std::vector<net::executor_work_guard<net::io_context::executor_type>> work_;
  // The acceptor and the stop timer run their handlers here, and so does
  // stop(): with several I/O threads, stop's acceptor_.close() otherwise
  // raced the accept handler re-arming it (Asio objects are not safe for
  // concurrent use). The hub driver has a strand of its own.
  net::strand<net::io_context::executor_type> strand_;
  net::ip::tcp::acceptor acceptor_;
  net::steady_timer stop_timer_;
  hub_driver driver_;  // the hub's tick() and flush(); before hub_, which it is wired into
  hub_type hub_;
  // CORS, authorization and the event-stream routes: what
  // http::decide_request decides by.
  http::server_rules rules_;
  std::vector<route_entry> routes_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
  std::uint16_t port_ = 0;
  std::atomic<std::size_t> next_shard_{0};
  std::mutex join_mutex_;
  // The feeds stream_route started, for stop() to end (handles are weak:
  // an ended feed costs its slot here until the next feed starts).
  std::mutex feeds_mutex_;
  std::vector<event_feed> feeds_;
  std::atomic<std::size_t> feeds_open_{0};
  void track_feed(event_feed feed);
  // responses(): one counter per status from 100 to 599.
  static constexpr int first_status = 100;
  std::array<std::atomic<std::uint64_t>, 500> responses_{};
  void count_response(int status) noexcept {
    if (status >= first_status && status < first_status + static_cast<int>(responses_.size()))
      responses_[static_cast<std::size_t>(status - first_status)].fetch_add(
          1, std::memory_order_relaxed);
  }
};

/// How a stream_route's handler answers: with reply() (a plain response,
/// such as a 401 or a 400) or with start() (an event stream it feeds), once;
/// whatever comes after the first answer is ignored. Copies share the one
/// answer. Thread safety: any thread.
template <class Stream>
class basic_server<Stream>::stream_answer {
 public:
  /// Answers with `r` (CORS fields added), as a plain route would.
  void reply(response r) const;
  /// Answers `200 OK` with an event stream (`fields` added to its head,
  /// CORS fields too) and returns the handle to feed it through. `on_close`
  /// is called once when the feed ends (see event_feed_options::on_close).
  /// Queue bounds are the server's: options().hub.max_queued_bytes and
  /// send_buffer_bytes. A second answer gets an inactive handle.
  event_feed start(http::field_list fields = {},
                   std::function<void(close_reason, std::error_code)> on_close = {}) const;

 private:
  friend class basic_server;
  stream_answer(std::shared_ptr<connection> c, http::field_list cors)
      : c_(std::move(c)), cors_(std::move(cors)) {}
  bool first() const;  // true for the first answer only
  std::shared_ptr<connection> c_;
  http::field_list cors_;
};

/// The server on plain TCP.
using server = basic_server<net::ip::tcp::socket>;

#if defined(SSEPP_ENABLE_OPENSSL)
/// The server on TLS (https://); construct it with tls_stream_factory.
using tls_server = basic_server<net::ssl::stream<net::ip::tcp::socket>>;

/// Makes TLS streams with `context` (which must outlive the server and hold
/// the certificate and key) for a tls_server.
inline tls_server::stream_factory tls_stream_factory(net::ssl::context& context) {
  return [&context](net::ip::tcp::socket&& socket) {
    return net::ssl::stream<net::ip::tcp::socket>(std::move(socket), context);
  };
}
#endif

// ---------------------------------------------------------------------------
// Implementation

template <class Stream>
class basic_server<Stream>::connection : public std::enable_shared_from_this<connection> {
 public:
  connection(basic_server& s, Stream stream, net::any_io_executor strand,
             std::string remote_address)
      : server_(s),
        strand_(std::move(strand)),
        stream_(std::make_shared<Stream>(std::move(stream))),
        timer_(std::make_unique<net::steady_timer>(strand_)),
        // Counts the connection in server::connections() until the slot goes:
        // with the connection, or with the event stream it becomes.
        slot_(&s.connections_, [](std::atomic<std::size_t>* n) { n->fetch_sub(1); }) {
    server_.connections_.fetch_add(1);
    request_->remote_address = std::move(remote_address);
  }

  void start() {
    auto self = this->shared_from_this();
    net::dispatch(strand_, [self] {
      self->arm_timer(self->server_.options_.request_timeout);
#if defined(SSEPP_ENABLE_OPENSSL)
      if constexpr (detail::has_server_handshake<Stream>::value) {
        self->stream_->async_handshake(
            net::ssl::stream_base::server, net::bind_executor(self->strand_, [self](error_code ec) {
              if (ec) {
                self->server_.log(log_level::debug, "TLS handshake failed: " + ec.message());
                return self->close_quietly();
              }
              self->read_request();
            }));
        return;
      }
#endif
      self->read_request();
    });
  }

  // Answers a request that will not be served further, then closes.
  void reply_error(int status, std::string message, http::field_list fields = {}) {
    response r;
    r.status = status;
    r.body = std::move(message);
    r.headers = std::move(fields);
    reply(std::move(r));
  }

  void reply(response r) {
    if (continue_pending_) {
      // One write at a time: the 100 Continue goes first (see expect_body).
      deferred_reply_ = std::move(r);
      return;
    }
    request_done_ = true;
    if (timer_) timer_->cancel();
    server_.count_response(r.status);
    // RFC 9110 sections 8.6 and 15.3.5: a 204 (the CORS preflight's answer)
    // has no content, so it must not carry Content-Length (nor a type).
    const bool no_content = r.status == 204;
    if (!no_content) r.headers.emplace_back("Content-Type", r.content_type);
    // Another request may follow on this connection only after a whole
    // request was read (so the next one's start is known), within the
    // per-connection cap, and not while stopping. A chunked body's end is
    // not told apart from what follows it, so it ends the connection too.
    const auto& opts = server_.options_;
    persist_ = head_done_ && !chunked_body_ && !server_.stopping_ &&
               ++requests_ < opts.max_requests_per_connection &&
               http::persists_after(*request_, r.status);
    if (!persist_) {
      r.headers.emplace_back("Connection", "close");
    } else if (request_->version_minor == 0) {
      r.headers.emplace_back("Connection", "keep-alive");
    }
    const bool head_only = request_ && request_->method == "HEAD";
    out_ = http::format_response_head(
               r.status, r.headers,
               no_content ? std::nullopt : std::optional<std::size_t>(r.body.size())) +
           (head_only || no_content ? std::string{} : r.body);
    auto self = this->shared_from_this();
    net::async_write(*stream_, net::buffer(out_),
                     net::bind_executor(strand_, [self](error_code ec, std::size_t) {
                       if (ec || !self->persist_) return detail::close_stream(*self->stream_);
                       self->next_request();
                     }));
  }

  // reply(), from any thread (an async handler's answer).
  void reply_from_anywhere(response r) {
    net::post(strand_, [self = this->shared_from_this(), r = std::move(r)]() mutable {
      self->reply(std::move(r));
    });
  }

  // Hands the connection over to an event stream (start_event_stream:
  // subscription before the head, the client's leaving noticed), keeping
  // only what the close report needs. With a backplane, it first says how
  // the stream resumes.
  void stream(http::stream_plan plan) {
    request_done_ = true;
    if (timer_) timer_->cancel();
    if (const auto& resume = server_.options_.backplane.resume) {
      auto shared = std::make_shared<http::stream_plan>(std::move(plan));
      auto channels = shared->channels;
      auto id = shared->last_event_id;
      return resume(std::move(channels), std::move(id),
                    [self = this->shared_from_this(), shared](std::optional<replay_plan> replay) {
                      net::post(self->strand_,
                                [self, shared, replay = std::move(replay)]() mutable {
                                  self->start_stream(std::move(*shared), std::move(replay));
                                });
                    });
    }
    start_stream(std::move(plan), std::nullopt);
  }

  void start_stream(http::stream_plan plan, std::optional<replay_plan> replay) {
    server_.count_response(200);
    // An idle stream should cost as little as possible (19,000 of them fit
    // in one process): the request phase's state goes now.
    request_.reset();
    timer_.reset();
    in_ = std::string();  // a request pipelined after it is never answered
    out_ = std::string();
    event_stream_options o;
    o.fields = std::move(plan.fields);
    o.last_event_id = std::move(plan.last_event_id);
    o.replay = std::move(replay);
    o.strand = strand_;
    o.shard = server_.shard_of(strand_);
    o.send_buffer_bytes = server_.options_.send_buffer_bytes;
    o.on_close = [&srv = server_, slot = std::move(slot_)](close_reason why, std::error_code e) {
      srv.log(why == close_reason::slow_consumer ? log_level::warning : log_level::debug,
              why == close_reason::slow_consumer ? "closing a subscriber that reads too slowly"
              : why == close_reason::peer_gone   ? "client left (" + e.message() + ")"
                                                 : std::string("stream ended by the server"));
    };
    start_event_stream(server_.hub_, stream_, std::move(plan.channels), std::move(o));
  }

  // Hands the connection over to an event feed (stream_route). The feed's
  // close handler holds the connection, so the request (which handlers
  // may still read) and the connection's slot last as long as the feed.
  event_feed start_feed(http::field_list fields,
                        std::function<void(close_reason, std::error_code)> on_close) {
    event_feed_options o;
    o.fields = std::move(fields);
    o.strand = strand_;
    o.max_queued_bytes = server_.options_.hub.max_queued_bytes;
    o.send_buffer_bytes = server_.options_.send_buffer_bytes;
    server_.feeds_open_.fetch_add(1);
    o.on_close = [self = this->shared_from_this(), on_close = std::move(on_close)](
                     close_reason why, std::error_code e) {
      self->server_.feeds_open_.fetch_sub(1);
      self->server_.log(
          why == close_reason::slow_consumer ? log_level::warning : log_level::debug,
          why == close_reason::slow_consumer ? "closing an event feed that reads too slowly"
          : why == close_reason::peer_gone   ? "client left an event feed (" + e.message() + ")"
                                             : std::string("event feed ended by the server"));
      if (on_close) on_close(why, e);
    };
    server_.count_response(200);
    auto feed = start_event_feed(stream_, std::move(o));
    server_.track_feed(feed);
    return feed;
  }

  // A stream_route handler is running or answering: the request timer no
  // longer applies (a feed may run for minutes).
  void await_stream_answer() {
    request_done_ = true;
    if (timer_) timer_->cancel();
  }
  // This request's stream_route answer was given (reset for the next
  // request on a persistent connection).
  std::atomic<bool> answered{false};

  void close() { detail::close_stream(*stream_); }

 private:
  // Reads straight into in_'s spare room: no fixed per-connection buffer
  // (an idle stream keeps none at all once its request is parsed).
  void read_request() {
    constexpr std::size_t read_size = 4096;
    const std::size_t used = in_.size();
    in_.resize(used + read_size);
    auto self = this->shared_from_this();
    stream_->async_read_some(
        net::buffer(&in_[used], read_size),
        net::bind_executor(strand_, [self, used](error_code ec, std::size_t n) {
          self->in_.resize(used + n);
          if (ec || self->request_done_) return self->close_quietly();
          if (std::exchange(self->idle_, false)) {
            // The next request on a persistent connection has begun: it has
            // request_timeout from now, as a first request has.
            self->arm_timer(self->server_.options_.request_timeout);
          }
          self->on_input();
        }));
  }

  void on_input() {
    const auto& opts = server_.options_;
    if (!head_done_) {
      std::size_t head_size = 0;
      std::string_view why;
      const http::head_limits limits{opts.max_header_bytes, 100};
      switch (http::parse_request_head(in_, limits, *request_, head_size, why)) {
        case http::head_result::incomplete:
          return read_request();
        case http::head_result::too_large:
          return reply_error(431, "request head larger than " +
                                      std::to_string(opts.max_header_bytes) +
                                      " bytes, or with more than 100 fields\n");
        case http::head_result::bad_version:
          return reply_error(505, "only HTTP/1.0 and HTTP/1.1 are spoken here\n");
        case http::head_result::malformed:
          return reply_error(400, "malformed HTTP request: " + std::string(why) + "\n");
        case http::head_result::complete:
          break;
      }
      head_done_ = true;
      in_.erase(0, head_size);
      const http::framing body = http::request_framing(*request_);
      switch (body.kind) {
        case http::body_kind::error:
          return reply_error(body.status, std::string(body.error) + "\n");
        case http::body_kind::chunked:
          chunked_ = std::make_unique<http::chunked_decoder>();
          break;
        case http::body_kind::content_length:
          if (body.length > opts.max_body_bytes) return body_too_large();
          body_size_ = static_cast<std::size_t>(body.length);
          break;
        case http::body_kind::none:
        case http::body_kind::until_close:
          break;
      }
      if (in_.empty() && (chunked_ || body_size_ > 0) && expects_continue()) return send_continue();
    }
    if (chunked_) return on_chunked_input();
    if (in_.size() < body_size_) return read_request();
    // What follows the body is the next request (pipelining), read once
    // this one is answered.
    request_->body.assign(in_, 0, body_size_);
    in_.erase(0, body_size_);
    server_.handle(this->shared_from_this(), *request_);
  }

  // A chunked body (RFC 9112 section 7.1), decoded as it arrives: only the
  // decoded body is kept, within max_body_bytes.
  void on_chunked_input() {
    const std::size_t limit = server_.options_.max_body_bytes;
    bool too_large = false;
    const auto result = chunked_->feed(in_, [&](std::string_view piece) {
      if (too_large || request_->body.size() + piece.size() > limit)
        too_large = true;
      else
        request_->body.append(piece);
    });
    in_.clear();
    if (too_large) return body_too_large();
    if (result == http::chunked_decoder::result::malformed)
      return reply_error(400, "malformed chunked request body\n");
    if (result == http::chunked_decoder::result::more) return read_request();
    chunked_.reset();
    chunked_body_ = true;
    in_.shrink_to_fit();
    server_.handle(this->shared_from_this(), *request_);
  }

  void body_too_large() {
    reply_error(413, "request body larger than " + std::to_string(server_.options_.max_body_bytes) +
                         " bytes\n");
  }

  // RFC 9110 section 10.1.1: a client that sent "Expect: 100-continue"
  // waits for an interim 100 before it sends the body (curl waits 1 s,
  // others until their timeout). Other expectations are ignored, as nginx
  // does.
  bool expects_continue() const {
    const auto expect = request_->header("expect");
    return expect && request_->version_minor >= 1 && http::detail::iequals(*expect, "100-continue");
  }

  void send_continue() {
    continue_pending_ = true;
    out_ = "HTTP/1.1 100 Continue\r\n\r\n";
    auto self = this->shared_from_this();
    net::async_write(*stream_, net::buffer(out_),
                     net::bind_executor(strand_, [self](error_code ec, std::size_t) {
                       self->continue_pending_ = false;
                       if (self->deferred_reply_) {
                         auto r = std::move(*self->deferred_reply_);
                         self->deferred_reply_.reset();
                         return self->reply(std::move(r));
                       }
                       if (ec) return self->close_quietly();
                       self->read_request();
                     }));
  }

  void close_quietly() {
    if (timer_) timer_->cancel();
    close();
  }

  // The request phase's timer: at `after`, a connection waiting idle
  // between requests closes quietly, and one in the middle of a request is
  // answered 408. A generation tells a wait that expired just before it
  // was re-armed from the current one.
  void arm_timer(std::chrono::milliseconds after) {
    const unsigned generation = ++timer_generation_;
    timer_->expires_after(after);
    timer_->async_wait([self = this->shared_from_this(), generation](error_code e) {
      if (e || generation != self->timer_generation_ || self->request_done_) return;
      if (self->idle_) return self->close_quietly();
      self->reply_error(408, "request not received within the request timeout\n");
    });
  }

  // After a response on a persistent connection: the next request, from
  // what was pipelined after this one or from the socket, with
  // keep_alive_timeout to begin. Only what the next request needs is kept.
  void next_request() {
    std::string remote = std::move(request_->remote_address);
    request_ = std::make_unique<request>();
    request_->remote_address = std::move(remote);
    out_ = std::string();
    head_done_ = false;
    body_size_ = 0;
    request_done_ = false;
    answered = false;
    if (!in_.empty()) {
      arm_timer(server_.options_.request_timeout);
      return on_input();
    }
    in_ = std::string();
    idle_ = true;
    arm_timer(server_.options_.keep_alive_timeout);
    read_request();
  }

  basic_server& server_;
  net::any_io_executor strand_;  // serializes this connection's handlers
  std::shared_ptr<Stream> stream_;
  // The request phase's state lives on the heap and is freed once a stream
  // starts: an idle stream keeps only what streaming needs.
  std::unique_ptr<net::steady_timer> timer_;
  std::string in_;
  std::string out_;
  std::unique_ptr<request> request_ = std::make_unique<request>();
  std::shared_ptr<std::atomic<std::size_t>> slot_;
  std::unique_ptr<http::chunked_decoder> chunked_;  // while reading a chunked body
  std::optional<response> deferred_reply_;          // waits for the 100 Continue
  std::size_t body_size_ = 0;
  bool head_done_ = false;
  bool continue_pending_ = false;  // the 100 Continue is being written
  bool request_done_ = false;
  bool persist_ = false;       // the response being written keeps the connection
  bool idle_ = false;          // waiting for the next request's first byte
  bool chunked_body_ = false;  // a chunked body was read: the connection ends
  std::size_t requests_ = 0;   // answered on this connection
  unsigned timer_generation_ = 0;
};

template <class Stream>
basic_server<Stream>::basic_server(server_options options, stream_factory make_stream)
    : options_(std::move(options)),
      make_stream_(std::move(make_stream)),
      thread_count_(options_.threads ? options_.threads
                                     : std::max(1u, std::thread::hardware_concurrency())),
      more_io_(make_io_contexts(thread_count_ - 1)),
      io_(1),
      work_(make_work_guards()),
      strand_(net::make_strand(io_)),
      acceptor_(strand_),
      stop_timer_(strand_),
      driver_(io_.get_executor(), hub_driver_options{options_.tick_interval}),
      hub_(sharded(options_.hub)) {
  if constexpr (std::is_constructible_v<Stream, net::ip::tcp::socket&&>) {
    if (!make_stream_)
      make_stream_ = [](net::ip::tcp::socket&& socket) { return Stream(std::move(socket)); };
  }
  rules_.hosts.allowed_hosts = options_.allowed_hosts;
  rules_.hosts.loopback_only = http::is_loopback_host(options_.host);
  rules_.scheme = detail::has_server_handshake<Stream>::value ? "https" : "http";
  rules_.cors_origins = options_.cors_origins;
  rules_.authorize = options_.authorize;
  if (!options_.events_prefix.empty()) {
    const std::string prefix = options_.events_prefix;
    sse_route(prefix,
              [prefix](const request& req) { return http::channel_after_prefix(req, prefix); });
  }
  if (options_.publish_prefix.empty()) {
  } else if (options_.backplane.publish) {
    route_async("POST", options_.publish_prefix + "*",
                [this](const request& req, std::function<void(response)> reply) {
                  publish_through_backplane(req, std::move(reply));
                });
  } else {
    route("POST", options_.publish_prefix + "*",
          [this](const request& req) { return publish_answer(req); });
  }
}

template <class Stream>
basic_server<Stream>::~basic_server() {
  stop();
  wait();
}

template <class Stream>
void basic_server<Stream>::route(std::string method, std::string path, handler h) {
  route_entry e;
  e.method = std::move(method);
  e.prefix = !path.empty() && path.back() == '*';
  if (e.prefix) path.pop_back();
  e.path = std::move(path);
  e.h = std::move(h);
  routes_.push_back(std::move(e));
}

template <class Stream>
void basic_server<Stream>::route_async(std::string method, std::string path, async_handler h) {
  route(std::move(method), std::move(path), handler{});
  routes_.back().async_h = std::move(h);
}

template <class Stream>
void basic_server<Stream>::stream_route(std::string method, std::string path, stream_handler h) {
  route(std::move(method), std::move(path), handler{});
  routes_.back().stream_h = std::move(h);
}

template <class Stream>
void basic_server<Stream>::track_feed(event_feed feed) {
  std::lock_guard<std::mutex> lock(feeds_mutex_);
  feeds_.erase(
      std::remove_if(feeds_.begin(), feeds_.end(), [](const event_feed& f) { return !f.active(); }),
      feeds_.end());
  feeds_.push_back(std::move(feed));
  // Started during stop(), after it ended the others: end this one too.
  if (stopping_) feeds_.back().end();
}

template <class Stream>
bool basic_server<Stream>::stream_answer::first() const {
  return !c_->answered.exchange(true);
}

template <class Stream>
void basic_server<Stream>::stream_answer::reply(response r) const {
  if (!first()) return;
  r.headers.insert(r.headers.end(), cors_.begin(), cors_.end());
  c_->reply_from_anywhere(std::move(r));
}

template <class Stream>
event_feed basic_server<Stream>::stream_answer::start(
    http::field_list fields, std::function<void(close_reason, std::error_code)> on_close) const {
  if (!first()) return {};
  fields.insert(fields.end(), cors_.begin(), cors_.end());
  return c_->start_feed(std::move(fields), std::move(on_close));
}

template <class Stream>
std::vector<std::pair<int, std::uint64_t>> basic_server<Stream>::responses() const {
  std::vector<std::pair<int, std::uint64_t>> counts;
  for (std::size_t i = 0; i < responses_.size(); ++i)
    if (const auto n = responses_[i].load(std::memory_order_relaxed))
      counts.emplace_back(first_status + static_cast<int>(i), n);
  return counts;
}

template <class Stream>
void basic_server<Stream>::sse_route(std::string prefix, channel_mapper channels) {
  rules_.event_routes.push_back({std::move(prefix), std::move(channels)});
}

template <class Stream>
void basic_server<Stream>::start() {
  if (!make_stream_)
    throw std::logic_error(
        "ssepp::asio::basic_server: this stream type needs a stream_factory (TLS: "
        "tls_stream_factory(context)) to accept connections");
  const auto address = net::ip::make_address(options_.host);
  const net::ip::tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
  port_ = acceptor_.local_endpoint().port();
  start_threads();
  accept();
}

template <class Stream>
void basic_server<Stream>::start_without_listening() {
  start_threads();
}

template <class Stream>
void basic_server<Stream>::start_threads() {
  driver_.start(hub_);
  for (std::size_t k = 0; k < thread_count_; ++k)
    threads_.emplace_back([&io = io_of(k)] { io.run(); });
}

template <class Stream>
void basic_server<Stream>::serve(Stream stream, std::string remote_address) {
  auto c = std::make_shared<connection>(*this, std::move(stream),
                                        net::any_io_executor(io_of(next_shard()).get_executor()),
                                        std::move(remote_address));
  if (stopping_) return c->close();
  if (connections_.load() > options_.max_connections) {
    c->reply_error(503, "too many connections; retry shortly\n", {{"Retry-After", "1"}});
  } else {
    c->start();
  }
}

template <class Stream>
void basic_server<Stream>::wait() {
  std::lock_guard<std::mutex> lock(join_mutex_);
  for (auto& t : threads_)
    if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
}

template <class Stream>
void basic_server<Stream>::stop() {
  if (stopping_.exchange(true)) return;
  net::post(strand_, [this] {
    error_code ignored;
    acceptor_.close(ignored);
    if (options_.last_word) {
      hub_.close_all(ssepp::event_view(*options_.last_word), true);
    } else {
      hub_.close_all(std::nullopt, true);
    }
    {
      std::lock_guard<std::mutex> lock(feeds_mutex_);
      for (const auto& feed : feeds_) feed.end();
    }
    // Wait for subscribers to drain, up to stop_grace, then end the loop.
    const auto deadline = std::chrono::steady_clock::now() + options_.stop_grace;
    auto poll = std::make_shared<std::function<void()>>();
    *poll = [this, deadline, poll] {
      if ((hub_.stats().subscribers == 0 && feeds_open_.load() == 0) ||
          std::chrono::steady_clock::now() >= deadline) {
        // The drain is over: no more ticks or flushes (stop() returns at
        // once here, inside the driver's own strand or not).
        driver_.stop();
        stop_io();
        *poll = nullptr;  // break the self-reference
        return;
      }
      stop_timer_.expires_after(std::chrono::milliseconds{20});
      stop_timer_.async_wait([poll](error_code) {
        if (*poll) (*poll)();
      });
    };
    (*poll)();
  });
  if (threads_.empty()) stop_io();
}

template <class Stream>
void basic_server<Stream>::accept() {
  acceptor_.async_accept(io_of(next_shard()), [this](error_code ec, net::ip::tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // Out of descriptors (EMFILE) or similar: say so and retry shortly
      // instead of spinning on an accept that keeps failing.
      log(log_level::warning, "accept failed: " + ec.message());
      auto retry = std::make_shared<net::steady_timer>(strand_, std::chrono::milliseconds{50});
      retry->async_wait([this, retry](error_code) { accept(); });
      return;
    }
    error_code ignored;
    socket.set_option(net::ip::tcp::no_delay(true), ignored);
    std::string remote;
    const auto endpoint = socket.remote_endpoint(ignored);
    if (!ignored) remote = endpoint.address().to_string();
    // The connection runs on the executor the socket was accepted on.
    const net::any_io_executor executor = socket.get_executor();
    auto c = std::make_shared<connection>(*this, make_stream_(std::move(socket)), executor,
                                          std::move(remote));
    if (connections_.load() > options_.max_connections) {
      c->reply_error(503, "too many connections; retry shortly\n", {{"Retry-After", "1"}});
    } else {
      c->start();
    }
    accept();
  });
}

template <class Stream>
void basic_server<Stream>::handle(const std::shared_ptr<connection>& c, request& req) {
  // A request can still arrive during a graceful stop, on a connection
  // accepted or served before it. A stream started now would subscribe
  // after stop's close_all and only hold the drain up to stop_grace; 503
  // with Retry-After sends the client back shortly (to the next instance).
  if (stopping_)
    return c->reply_error(503, "the server is stopping; retry shortly\n", {{"Retry-After", "1"}});
  auto decision = http::decide_request(req, rules_);
  if (auto* answer = std::get_if<response>(&decision)) return c->reply(std::move(*answer));
  if (auto* plan = std::get_if<http::stream_plan>(&decision)) return c->stream(std::move(*plan));
  route_to_handlers(c, req, std::get<http::route_request>(decision).cors_fields);
}

template <class Stream>
void basic_server<Stream>::route_to_handlers(const std::shared_ptr<connection>& c,
                                             const request& req, const http::field_list& cors) {
  // The methods of routes whose path matched: a 405 must list them in
  // Allow (RFC 9110 section 15.5.6); OPTIONS is answered on every path.
  std::string allowed;
  for (const auto& r : routes_) {
    const bool match =
        r.prefix ? req.path.compare(0, r.path.size(), r.path) == 0 : req.path == r.path;
    if (!match) continue;
    if (r.method != req.method) {
      allowed += r.method + ", ";
      continue;
    }
    response out;
    try {
      if (r.stream_h) {
        c->await_stream_answer();
        return r.stream_h(req, stream_answer(c, cors));
      }
      if (r.async_h) {
        // Answered on the connection's strand, whichever thread answers;
        // the connection (and its request) lives until then.
        return r.async_h(req, [c, cors](response answer) {
          answer.headers.insert(answer.headers.end(), cors.begin(), cors.end());
          c->reply_from_anywhere(std::move(answer));
        });
      }
      out = r.h(req);
    } catch (const std::exception& e) {
      log(log_level::error, std::string("handler for ") + req.path + " threw: " + e.what());
      // A stream handler that answered already keeps that answer.
      if (r.stream_h && c->answered.exchange(true)) return;
      out = response{};
      out.status = 500;
      out.body = "internal error\n";
    }
    out.headers.insert(out.headers.end(), cors.begin(), cors.end());
    return c->reply(std::move(out));
  }
  if (!allowed.empty()) {
    http::field_list fields = cors;
    fields.emplace_back("Allow", allowed + "OPTIONS");
    return c->reply_error(405, "method " + req.method + " not allowed here\n", std::move(fields));
  }
  if (!options_.static_root.empty() && (req.method == "GET" || req.method == "HEAD")) {
    response r = serve_static(req);
    r.headers.insert(r.headers.end(), cors.begin(), cors.end());
    return c->reply(std::move(r));
  }
  return c->reply_error(404, "not found\n", cors);
}

template <class Stream>
auto basic_server<Stream>::read_publish(const request& req) const
    -> std::variant<response, publish_order> {
  response r;
  r.status = 400;
  const std::string& prefix = options_.publish_prefix;
  const auto channel = http::channel_after_prefix(req, prefix);
  if (channel.empty()) {
    r.status = 404;
    r.body = "publish to " + prefix + "{channel}\n";
    return r;
  }
  // query_param cannot tell a missing parameter from one that does not
  // decode: refuse a malformed escape rather than publish the event under
  // the default type or a hub-assigned id.
  if (!http::percent_decode(req.query, true)) {
    r.body = "malformed percent-escape in the query\n";
    return r;
  }
  publish_order order;
  order.channel = channel.front();
  const auto type = req.query_param("event");
  const auto id = req.query_param("id");
  const auto content_type = req.header("content-type");
  if (content_type && http::is_event_stream_body(*content_type)) {
    // A batch: every event of the body, all or none.
    if (type || id) {
      r.body = "a text/event-stream body names each event's type and id itself, not the query\n";
      return r;
    }
    auto batch = http::parse_event_batch(req.body);
    if (batch.failed) {
      r.body = "nothing published: " + batch.error + "\n";
      return r;
    }
    order.batch = true;
    order.events.reserve(batch.events.size());
    for (auto& e : batch.events)
      order.events.push_back(ssepp::event{std::move(e.data), std::move(e.type), std::move(e.id)});
  } else {
    order.events.push_back(ssepp::event{req.body, type.value_or(""), id.value_or("")});
  }
  if (options_.backplane.publish) {
    // One id space across every server: the backplane assigns them all.
    for (const auto& e : order.events) {
      if (e.id.empty()) continue;
      r.body = "ids are assigned by the backplane (Redis): publish without one\n";
      return r;
    }
  }
  return order;
}

template <class Stream>
response basic_server<Stream>::publish_outcome(bool batch,
                                               const ssepp::batch_publish_result& result) {
  response r;
  const std::error_code error = result.error;
  if (!error) {
    if (batch) {
      for (const auto& event_id : result.ids) r.body.append(event_id).push_back('\n');
    } else {
      r.body = result.ids.front();
    }
    return r;
  }
  if (error == ssepp::errc::too_many_channels || error == ssepp::errc::backplane_unavailable) {
    // Not the request's fault: a channel frees up when a stream ends, and
    // Redis comes back.
    r.status = 503;
    r.headers.emplace_back("Retry-After", "1");
    r.body = error.message() + "\n";
    return r;
  }
  r.status = error == ssepp::errc::backplane_refused ? 502 : 400;
  r.body = batch ? "nothing published: event " + std::to_string(result.failed + 1) + ": " +
                       error.message() + "\n"
                 : error.message() + "\n";
  return r;
}

template <class Stream>
response basic_server<Stream>::publish_answer(const request& req) {
  auto read = read_publish(req);
  if (auto* refused = std::get_if<response>(&read)) return std::move(*refused);
  const auto& order = std::get<publish_order>(read);
  std::vector<ssepp::event_view> events(order.events.begin(), order.events.end());
  ssepp::batch_publish_result result;
  if (order.batch) {
    result = hub_.publish_batch(order.channel, events);
  } else {
    auto one = hub_.publish(order.channel, events.front());
    result.error = one.error;
    result.ids.push_back(std::move(one.id));
  }
  return publish_outcome(order.batch, result);
}

template <class Stream>
void basic_server<Stream>::publish_through_backplane(const request& req,
                                                     std::function<void(response)> reply) {
  auto read = read_publish(req);
  if (auto* refused = std::get_if<response>(&read)) return reply(std::move(*refused));
  auto& order = std::get<publish_order>(read);
  options_.backplane.publish(
      std::move(order.channel), std::move(order.events),
      [batch = order.batch, reply = std::move(reply)](ssepp::batch_publish_result result) {
        reply(publish_outcome(batch, result));
      });
}

template <class Stream>
response basic_server<Stream>::serve_static(const request& req) const {
  namespace fs = std::filesystem;
  response r;
  std::error_code ec;
  const fs::path root = fs::weakly_canonical(options_.static_root, ec);
  std::string rel = req.path.substr(1);
  if (rel.empty() || rel.back() == '/') rel += "index.html";
  const fs::path candidate = fs::weakly_canonical(root / fs::path(rel).lexically_normal(), ec);
  // Confinement: the resolved path (symlinks followed) must stay under root.
  const auto [root_end, ignored] =
      std::mismatch(root.begin(), root.end(), candidate.begin(), candidate.end());
  if (ec || root_end != root.end() || rel.find("..") != std::string::npos ||
      !fs::is_regular_file(candidate, ec)) {
    r.status = 404;
    r.body = "not found\n";
    return r;
  }
  std::ifstream file(candidate, std::ios::binary);
  std::ostringstream content;
  content << file.rdbuf();
  r.body = content.str();
  const std::string ext = candidate.extension().string();
  r.content_type = ext == ".html"                  ? "text/html; charset=utf-8"
                   : ext == ".js" || ext == ".mjs" ? "text/javascript; charset=utf-8"
                   : ext == ".css"                 ? "text/css; charset=utf-8"
                   : ext == ".json"                ? "application/json"
                   : ext == ".svg"                 ? "image/svg+xml"
                   : ext == ".png"                 ? "image/png"
                   : ext == ".ico"                 ? "image/x-icon"
                                                   : "application/octet-stream";
  r.headers.emplace_back("Cache-Control", "no-cache");
  return r;
}

}  // namespace SSEPP_ASIO_FLAVOUR
}  // namespace ssepp::asio
