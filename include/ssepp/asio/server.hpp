// The embedded HTTP/1.1 server on standalone Asio: SSE endpoints backed by a
// hub, an optional publish endpoint, static files and user routes, with
// CORS, an authorization hook, and a clear answer to every bad request.
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
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "../hub.hpp"
#include "http.hpp"
#include "stream_transport.hpp"

namespace ssepp::asio {
inline namespace SSEPP_ASIO_FLAVOUR {

/// Severity of a server log line. A client leaving is `debug`: it is the
/// normal end of an event stream, never an error.
enum class log_level { debug, info, warning, error };

/// What an authorization hook decides: `status` 0 lets the request through;
/// 401 or 403 (or any 4xx) refuses it with `message` as the body, before
/// anything is subscribed or published.
struct auth_result {
  int status = 0;
  std::string message;
};

/// Everything the server can be told; the defaults are safe for production
/// behind a proxy and for the bundled demos.
struct server_options {
  std::string host = "127.0.0.1";  ///< address to listen on
  std::uint16_t port = 8080;       ///< 0 picks a free port (see server::port())
  /// I/O threads; 0 means one per core.
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
  /// How often the hub's `tick()` runs (heartbeats, history aging).
  std::chrono::milliseconds tick_interval = std::chrono::seconds{1};
  /// How long `stop()` lets subscribers receive their last events.
  std::chrono::milliseconds stop_grace = std::chrono::seconds{2};
  /// Origins allowed to read responses cross-origin, credentials included
  /// (cookies, EventSource's withCredentials). "*" allows any origin (the
  /// origin is echoed, since credentials forbid a literal "*"). Requests from
  /// an origin not listed are answered 403.
  std::vector<std::string> cors_origins;
  /// SSE endpoint: GET <prefix><channel>. Empty disables it.
  std::string events_prefix = "/events/";
  /// Publish endpoint: POST <prefix><channel>?event=TYPE&id=ID with the body
  /// as data; answers the event's id. Empty (the default) disables it.
  std::string publish_prefix;
  /// Directory served for GET requests no other route takes; empty: none.
  /// Paths are confined to it: no "..", no symlink escapes.
  std::string static_root;
  /// Sees every request but CORS preflights (method, path, headers, cookies).
  std::function<auth_result(const request&)> authorize;
  /// Receives log lines; none are printed without it.
  std::function<void(log_level, std::string_view)> log;
  hub_options hub;
  /// Sent to every subscriber by `stop()` before the stream closes.
  std::optional<ssepp::event> last_word;
};

/// An HTTP/1.1 server for SSE on standalone Asio.
///
/// Thread safety: `publish` through `hub()` and `stop()` may be called from
/// any thread; configure routes before `start()`.
class server {
 public:
  using socket_type = net::ip::tcp::socket;
  using transport_type = stream_transport<socket_type>;
  using hub_type = ssepp::hub<transport_type>;
  /// A plain request handler: gets the request, returns the response.
  using handler = std::function<response(const request&)>;
  /// Maps an SSE request to the channels it subscribes to (empty: 404).
  using channel_mapper = std::function<std::vector<std::string>(const request&)>;

  explicit server(server_options options = {});
  server(const server&) = delete;
  server& operator=(const server&) = delete;
  /// Stops (gracefully) and joins the I/O threads.
  ~server();

  /// Answers `method` requests for exactly `path` (or, when `path` ends with
  /// '*', every path starting with what precedes it).
  void route(std::string method, std::string path, handler h);
  /// Serves an event stream for GET requests under `prefix`, subscribing to
  /// the channels `channels` returns.
  void sse_route(std::string prefix, channel_mapper channels);

  /// Binds, listens and starts the I/O threads; returns at once. Throws
  /// std::system_error when the address cannot be bound.
  void start();
  /// Blocks until the server has stopped.
  void wait();
  /// Graceful stop: no new connections, subscribers get the last word and
  /// what is queued (for up to `stop_grace`), then everything closes.
  void stop();

  /// The port listened on (useful with port 0).
  std::uint16_t port() const noexcept { return port_; }
  hub_type& hub() noexcept { return hub_; }
  const server_options& options() const noexcept { return options_; }
  /// Connections open now.
  std::size_t connections() const noexcept { return connections_.load(); }

 private:
  class connection;
  struct route_entry {
    std::string method, path;
    bool prefix = false;
    handler h;
  };
  struct sse_entry {
    std::string prefix;
    channel_mapper channels;
  };

  void log(log_level level, std::string_view text) const {
    if (options_.log) options_.log(level, text);
  }
  void accept();
  void schedule_tick();
  // Each connection's handlers must not run concurrently: a strand of its
  // own when several threads run the io_context; with one thread the
  // io_context's executor already guarantees it, without a strand's memory
  // or a post per write.
  net::any_io_executor connection_executor() {
    if (thread_count_ == 1) return io_.get_executor();
    return net::make_strand(io_);
  }
  // The hub's options with schedule_flush arming flush_timer_ (unless the
  // caller brought their own scheduler).
  hub_options with_flush_timer(hub_options o) {
    if (!o.schedule_flush)
      o.schedule_flush = [this](std::chrono::microseconds delay) {
        net::post(strand_, [this, delay] {
          flush_timer_.expires_after(delay);
          flush_timer_.async_wait([this](error_code ec) {
            if (!ec) hub_.flush();
          });
        });
      };
    return o;
  }
  void handle(const std::shared_ptr<connection>& c, request& req);
  std::optional<response> cors_check(
      const request& req, std::vector<std::pair<std::string, std::string>>& fields) const;
  response serve_static(const request& req) const;

  server_options options_;
  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  // The acceptor and the server's timers run their handlers here, and so
  // does stop(): with several I/O threads, stop's acceptor_.close() and
  // tick_timer_.cancel() otherwise raced the accept and tick handlers
  // re-arming them (Asio objects are not safe for concurrent use).
  net::strand<net::io_context::executor_type> strand_;
  net::ip::tcp::acceptor acceptor_;
  net::steady_timer tick_timer_;
  net::steady_timer stop_timer_;
  net::steady_timer flush_timer_;  // drives the hub's write coalescing
  hub_type hub_;
  std::vector<route_entry> routes_;
  std::vector<sse_entry> sse_routes_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> connections_{0};
  std::atomic<bool> stopping_{false};
  std::uint16_t port_ = 0;
  std::size_t thread_count_ = 1;  // I/O threads, fixed by start()
  std::mutex join_mutex_;
};

// ---------------------------------------------------------------------------
// Implementation

class server::connection : public std::enable_shared_from_this<connection> {
 public:
  connection(server& s, socket_type socket)
      : server_(s),
        strand_(socket.get_executor()),  // accept() gave it connection_executor()
        socket_(std::make_shared<socket_type>(std::move(socket))),
        timer_(std::make_unique<net::steady_timer>(strand_)) {
    server_.connections_.fetch_add(1);
  }
  ~connection() { server_.connections_.fetch_sub(1); }

  void start() {
    auto self = shared_from_this();
    net::dispatch(strand_, [self] {
      error_code ec;
      const auto endpoint = self->socket_->remote_endpoint(ec);
      if (!ec) self->request_->remote_address = endpoint.address().to_string();
      self->timer_->expires_after(self->server_.options_.request_timeout);
      self->timer_->async_wait([self](error_code e) {
        if (!e && !self->request_done_)
          self->reply_error(408, "request not received within the request timeout\n");
      });
      self->read_request();
    });
  }

  // Answers a request that will not be served further, then closes.
  void reply_error(int status, std::string message,
                   std::vector<std::pair<std::string, std::string>> fields = {}) {
    response r;
    r.status = status;
    r.body = std::move(message);
    r.headers = std::move(fields);
    reply(std::move(r));
  }

  void reply(response r) {
    request_done_ = true;
    if (timer_) timer_->cancel();
    // RFC 9110 sections 8.6 and 15.3.5: a 204 (the CORS preflight's answer)
    // has no content, so it must not carry Content-Length (nor a type).
    const bool no_content = r.status == 204;
    if (!no_content) r.headers.emplace_back("Content-Type", r.content_type);
    r.headers.emplace_back("Connection", "close");
    out_ = response_head(r.status, r.headers,
                         no_content ? std::nullopt : std::optional<std::size_t>(r.body.size())) +
           (request_->method == "HEAD" || no_content ? std::string{} : r.body);
    auto self = shared_from_this();
    net::async_write(*socket_, net::buffer(out_),
                        net::bind_executor(strand_, [self](error_code, std::size_t) {
                          error_code ignored;
                          self->socket_->shutdown(net::socket_base::shutdown_both, ignored);
                          self->socket_->close(ignored);
                        }));
  }

  // Starts the event stream: head first, then the subscription, then reads
  // that only watch for the client leaving.
  void stream(std::vector<std::string> channels,
              std::vector<std::pair<std::string, std::string>> fields, std::string last_event_id) {
    request_done_ = true;
    if (timer_) timer_->cancel();
    fields.emplace_back("Content-Type", "text/event-stream; charset=utf-8");
    // no-cache and X-Accel-Buffering stop proxies (nginx) from holding
    // events back; no Content-Length and no compression, so every event is
    // flushed to the client as it is written.
    fields.emplace_back("Cache-Control", "no-cache");
    fields.emplace_back("X-Accel-Buffering", "no");
    // nginx gzips every type in gzip_types (text/event-stream is often
    // there) and ignores Cache-Control: no-transform; a Content-Encoding
    // already set is the only thing its gzip filter checks to stay off.
    // "identity" is no coding: Chromium, curl and Node's fetch read the
    // stream as is. Checked by tests/integration/nginx_proxy.mjs.
    fields.emplace_back("Content-Encoding", "identity");
    fields.emplace_back("Connection", "close");
    // Subscribe first, with the head as the transport's preamble: the head
    // leaves with the hub's first write (or alone, just below), so by the
    // time a client sees the stream open it is subscribed, and an event
    // published on that signal reaches it.
    const transport_type transport(socket_, strand_, response_head(200, fields, std::nullopt));
    // An idle stream should cost as little as possible (19,000 of them fit
    // in one process): the request is done with.
    request_.reset();
    timer_.reset();
    auto self = shared_from_this();
    // The handler holds the connection (and so its subscription): were the
    // connection to go first, its subscription's reset would cancel this
    // very notification. The hub calls the handler for every close it
    // makes, and reset() drops it, so no cycle stays.
    subscription_ = server_.hub_.subscribe(
        channels, transport, last_event_id, [c = self](close_reason why, std::error_code e) {
          c->server_.log(
              why == close_reason::slow_consumer ? log_level::warning : log_level::debug,
              why == close_reason::slow_consumer ? "closing a subscriber that reads too slowly"
              : why == close_reason::peer_gone   ? "client left (" + e.message() + ")"
                                                 : std::string("stream ended by the server"));
          net::dispatch(c->strand_, [c] { c->close(); });
        });
    auto preamble = transport;
    preamble.send_preamble();
    watch_for_close();
  }

  void close() {
    error_code ignored;
    socket_->shutdown(net::socket_base::shutdown_both, ignored);
    socket_->close(ignored);
  }

 private:
  // Reads straight into in_'s spare room: no fixed per-connection buffer
  // (an idle stream keeps none at all once its request is parsed).
  void read_request() {
    constexpr std::size_t read_size = 4096;
    const std::size_t used = in_.size();
    in_.resize(used + read_size);
    auto self = shared_from_this();
    socket_->async_read_some(
        net::buffer(&in_[used], read_size),
        net::bind_executor(strand_, [self, used](error_code ec, std::size_t n) {
          self->in_.resize(used + n);
          if (ec || self->request_done_) return self->close_quietly();
          self->on_input();
        }));
  }

  void on_input() {
    const auto& opts = server_.options_;
    if (head_size_ == 0) {
      std::size_t head_size = 0;
      switch (parse_request_head(in_, opts.max_header_bytes, *request_, head_size)) {
        case parse_status::incomplete:
          return read_request();
        case parse_status::too_large:
          return reply_error(431, "request head larger than " +
                                      std::to_string(opts.max_header_bytes) + " bytes\n");
        case parse_status::bad_version:
          return reply_error(400, "only HTTP/1.0 and HTTP/1.1 are spoken here\n");
        case parse_status::bad_request:
          return reply_error(400, "malformed HTTP request\n");
        case parse_status::complete:
          break;
      }
      head_size_ = head_size;
      if (request_->header("transfer-encoding"))
        return reply_error(
            411, "send the body with Content-Length (chunked request bodies are not accepted)\n");
      if (const auto length = request_->header("content-length")) {
        std::size_t n = 0;
        if (length->empty() || length->size() > 12)
          return reply_error(400, "malformed Content-Length\n");
        for (const char ch : *length) {
          if (ch < '0' || ch > '9') return reply_error(400, "malformed Content-Length\n");
          n = n * 10 + static_cast<std::size_t>(ch - '0');
        }
        if (n > opts.max_body_bytes)
          return reply_error(
              413, "request body larger than " + std::to_string(opts.max_body_bytes) + " bytes\n");
        body_size_ = n;
      }
    }
    if (in_.size() - head_size_ < body_size_) return read_request();
    request_->body = in_.substr(head_size_, body_size_);
    in_.clear();
    in_.shrink_to_fit();
    server_.handle(shared_from_this(), *request_);
  }

  // After the head, an SSE client sends nothing; the socket becomes readable
  // only when it leaves (EOF, reset), which ends the subscription. Waiting
  // for readability needs no buffer; stray bytes are read into a small one
  // on the stack and dropped, so they cannot grow memory.
  void watch_for_close() {
    auto self = shared_from_this();
    socket_->async_wait(
        socket_type::wait_read, net::bind_executor(strand_, [self](error_code ec) {
          if (ec) return self->close_quietly();
          std::array<char, 256> discard;
          error_code read_error;
          self->socket_->non_blocking(true, read_error);
          const std::size_t n = self->socket_->read_some(net::buffer(discard), read_error);
          if (read_error == net::error::would_block || (!read_error && n > 0))
            return self->watch_for_close();
          self->close_quietly();  // EOF or an error: the client is gone
        }));
  }

  void close_quietly() {
    // Unsubscribe only a client that left. When the hub closed the stream
    // (slow consumer, stop), the read fails because the hub closed the
    // socket, and reset() now would race the hub's close handler and could
    // swallow its report (the slow-consumer warning went missing).
    if (subscription_.active()) subscription_.reset();
    if (timer_) timer_->cancel();
    close();
  }

  server& server_;
  net::any_io_executor strand_;  // serializes this connection's handlers
  std::shared_ptr<socket_type> socket_;
  // The request phase's state lives on the heap and is freed once a stream
  // starts: an idle stream keeps only what streaming needs.
  std::unique_ptr<net::steady_timer> timer_;
  std::string in_;
  std::string out_;
  std::unique_ptr<request> request_ = std::make_unique<request>();
  std::size_t head_size_ = 0;
  std::size_t body_size_ = 0;
  bool request_done_ = false;
  hub_type::subscription subscription_;
};

inline server::server(server_options options)
    : options_(std::move(options)),
      work_(net::make_work_guard(io_)),
      strand_(net::make_strand(io_)),
      acceptor_(strand_),
      tick_timer_(strand_),
      stop_timer_(strand_),
      flush_timer_(strand_),
      hub_(with_flush_timer(options_.hub)) {
  if (!options_.events_prefix.empty()) {
    const std::string prefix = options_.events_prefix;
    sse_route(prefix, [prefix](const request& req) {
      std::string channel = req.path.substr(prefix.size());
      if (channel.empty() || channel.find('/') != std::string::npos)
        return std::vector<std::string>{};
      return std::vector<std::string>{std::move(channel)};
    });
  }
  if (!options_.publish_prefix.empty()) {
    const std::string prefix = options_.publish_prefix;
    route("POST", prefix + "*", [this, prefix](const request& req) {
      response r;
      const std::string channel = req.path.substr(prefix.size());
      if (channel.empty() || channel.find('/') != std::string::npos) {
        r.status = 404;
        r.body = "publish to " + prefix + "{channel}\n";
        return r;
      }
      // query_param cannot tell a missing parameter from one that does not
      // decode: refuse a malformed escape rather than publish the event
      // under the default type or a hub-assigned id.
      if (!percent_decode(req.query, true)) {
        r.status = 400;
        r.body = "malformed percent-escape in the query\n";
        return r;
      }
      const auto type = req.query_param("event").value_or("");
      const auto id = req.query_param("id").value_or("");
      const auto result = hub_.publish(channel, ssepp::event_view{req.body, type, id});
      if (result.error) {
        r.status = 400;
        r.body = result.error.message() + "\n";
        return r;
      }
      r.body = result.id;
      return r;
    });
  }
}

inline server::~server() {
  stop();
  wait();
}

inline void server::route(std::string method, std::string path, handler h) {
  route_entry e;
  e.method = std::move(method);
  e.prefix = !path.empty() && path.back() == '*';
  if (e.prefix) path.pop_back();
  e.path = std::move(path);
  e.h = std::move(h);
  routes_.push_back(std::move(e));
}

inline void server::sse_route(std::string prefix, channel_mapper channels) {
  sse_routes_.push_back({std::move(prefix), std::move(channels)});
}

inline void server::start() {
  const auto address = net::ip::make_address(options_.host);
  const net::ip::tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
  port_ = acceptor_.local_endpoint().port();
  thread_count_ =
      options_.threads ? options_.threads : std::max(1u, std::thread::hardware_concurrency());
  accept();
  schedule_tick();
  for (std::size_t i = 0; i < thread_count_; ++i) threads_.emplace_back([this] { io_.run(); });
}

inline void server::wait() {
  std::lock_guard<std::mutex> lock(join_mutex_);
  for (auto& t : threads_)
    if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
}

inline void server::stop() {
  if (stopping_.exchange(true)) return;
  net::post(strand_, [this] {
    error_code ignored;
    acceptor_.close(ignored);
    tick_timer_.cancel();
    if (options_.last_word) {
      hub_.close_all(ssepp::event_view(*options_.last_word), true);
    } else {
      hub_.close_all(std::nullopt, true);
    }
    // Wait for subscribers to drain, up to stop_grace, then end the loop.
    const auto deadline = std::chrono::steady_clock::now() + options_.stop_grace;
    auto poll = std::make_shared<std::function<void()>>();
    *poll = [this, deadline, poll] {
      if (hub_.stats().subscribers == 0 || std::chrono::steady_clock::now() >= deadline) {
        work_.reset();
        io_.stop();
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
  if (threads_.empty()) {
    work_.reset();
    io_.stop();
  }
}

inline void server::accept() {
  acceptor_.async_accept(connection_executor(), [this](error_code ec, socket_type socket) {
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
    auto c = std::make_shared<connection>(*this, std::move(socket));
    if (connections_.load() > options_.max_connections) {
      c->reply_error(503, "too many connections; retry shortly\n", {{"Retry-After", "1"}});
    } else {
      c->start();
    }
    accept();
  });
}

inline void server::schedule_tick() {
  tick_timer_.expires_after(options_.tick_interval);
  tick_timer_.async_wait([this](error_code ec) {
    if (ec || stopping_) return;
    hub_.tick();
    schedule_tick();
  });
}

inline std::optional<response> server::cors_check(
    const request& req, std::vector<std::pair<std::string, std::string>>& fields) const {
  const auto origin = req.header("origin");
  if (!origin) return std::nullopt;  // same-origin or not a browser
  // Browsers send Origin on same-origin POSTs too (fetch, forms): a page this
  // server serves (static_root) may always call it, whatever the allowlist.
  if (const auto host = req.header("host")) {
    const std::size_t scheme_end = origin->find("://");
    if (scheme_end != std::string_view::npos && origin->substr(scheme_end + 3) == *host)
      return std::nullopt;
  }
  const bool allowed = std::find_if(options_.cors_origins.begin(), options_.cors_origins.end(),
                                    [&](const std::string& o) {
                                      return o == "*" || o == *origin;
                                    }) != options_.cors_origins.end();
  if (!allowed) {
    response r;
    r.status = 403;
    r.body = "origin " + std::string(*origin) + " is not allowed\n";
    return r;
  }
  fields.emplace_back("Access-Control-Allow-Origin", std::string(*origin));
  fields.emplace_back("Access-Control-Allow-Credentials", "true");
  fields.emplace_back("Vary", "Origin");
  return std::nullopt;
}

inline void server::handle(const std::shared_ptr<connection>& c, request& req) {
  std::vector<std::pair<std::string, std::string>> cors;
  if (auto refused = cors_check(req, cors)) return c->reply(std::move(*refused));

  if (req.method == "OPTIONS") {  // CORS preflight
    response r;
    r.status = 204;
    r.headers = cors;
    r.headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    if (const auto asked = req.header("access-control-request-headers"))
      r.headers.emplace_back("Access-Control-Allow-Headers", std::string(*asked));
    r.headers.emplace_back("Access-Control-Max-Age", "600");
    return c->reply(std::move(r));
  }

  if (options_.authorize) {
    auth_result verdict = options_.authorize(req);
    if (verdict.status != 0) {
      response r;
      r.status = verdict.status;
      r.body = verdict.message.empty() ? std::string(reason_phrase(verdict.status)) + "\n"
                                       : verdict.message;
      r.headers = cors;
      return c->reply(std::move(r));
    }
  }

  for (const auto& s : sse_routes_) {
    if (req.path.compare(0, s.prefix.size(), s.prefix) != 0) continue;
    if (req.method != "GET") {
      std::vector<std::pair<std::string, std::string>> fields = cors;
      fields.emplace_back("Allow", "GET, OPTIONS");
      return c->reply_error(405, "an event stream is read with GET\n", std::move(fields));
    }
    auto channels = s.channels(req);
    if (channels.empty()) return c->reply_error(404, "no such event stream\n", cors);
    // Browsers cannot set headers on EventSource's first request, so the
    // id may also come as ?lastEventId=…; the header wins on reconnects.
    std::string last_id;
    if (const auto h = req.header("last-event-id")) {
      last_id = std::string(*h);
    } else if (auto q = req.query_param("lastEventId")) {
      last_id = std::move(*q);
    }
    return c->stream(std::move(channels), std::move(cors), std::move(last_id));
  }

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
      out = r.h(req);
    } catch (const std::exception& e) {
      log(log_level::error, std::string("handler for ") + req.path + " threw: " + e.what());
      out.status = 500;
      out.body = "internal error\n";
    }
    out.headers.insert(out.headers.end(), cors.begin(), cors.end());
    return c->reply(std::move(out));
  }
  if (!allowed.empty()) {
    std::vector<std::pair<std::string, std::string>> fields = cors;
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

inline response server::serve_static(const request& req) const {
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
