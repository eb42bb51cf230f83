// A C++ EventSource on Asio (standalone or Boost.Asio, see net.hpp), on any
// connector (connector.hpp): what a browser's EventSource does
// (reconnect with Last-Event-ID after the server's retry time, stop on 204
// and on wrong answers), plus what API clients need (method, headers, body,
// TLS, redirects, backoff with jitter, Retry-After, a stall watchdog).
#pragma once

#include "net.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../error.hpp"
#include "../event.hpp"
#include "../http/chunked.hpp"
#include "../http/detail/chars.hpp"
#include "../http/head.hpp"
#include "../http/response_action.hpp"
#include "../http/url.hpp"
#include "../parser.hpp"
#include "../reconnect.hpp"
#include "connector.hpp"

namespace ssepp::asio {
inline namespace SSEPP_ASIO_FLAVOUR {

/// How an event_source connects and reconnects. Defaults match a browser.
struct client_options {
  /// e.g. "POST" for LLM APIs; an HTTP token (RFC 9110), else the client
  /// fails with errc::invalid_request before connecting.
  std::string method = "GET";
  /// Extra request headers, e.g. {"Authorization", "Bearer …"}: names are
  /// tokens, values have no CR, LF or NUL (else errc::invalid_request).
  /// Authorization and Cookie are left out after a redirect to another
  /// origin (scheme, host or port), until the next reconnect.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  ///< request body (sent with Content-Length)
  /// Last-Event-ID for the first request (later ones use the stream's).
  std::string last_event_id;
  /// Reconnect after network errors and stream end (a browser always does).
  bool reconnect = true;
  reconnect_options backoff;
  /// Resolve + connect + TLS + response head, per attempt.
  std::chrono::milliseconds connect_timeout = std::chrono::seconds{10};
  /// Reconnect when no byte (heartbeats included) arrives for this long;
  /// zero disables. 45 s outlasts ssepp's 15 s heartbeat three times.
  std::chrono::milliseconds stall_timeout = std::chrono::seconds{45};
  std::size_t max_redirects = 10;  ///< per attempt: a reconnect starts a new count
  std::size_t max_header_bytes = 64 * 1024;
  /// Event and line limits (bounded memory whatever the server sends).
  parser_options parser;
  /// TLS: verify the server's certificate and name (on by default).
  bool verify_peer = true;
  /// Extra CA file (PEM) to trust, e.g. a test certificate.
  std::string ca_file;
};

/// The states of a browser's EventSource.readyState.
enum class ready_state { connecting = 0, open = 1, closed = 2 };

/// What went wrong, for the error callback.
struct client_error {
  std::error_code code;  ///< ssepp::errc or a network error
  int status = 0;        ///< the HTTP status, when the server answered one
  std::string message;   ///< readable, with the URL and details
  bool will_reconnect = false;
  std::chrono::milliseconds retry_in{0};  ///< when will_reconnect
};

/// A server-sent events client, on any connector (connector.hpp):
/// `event_source` connects over TCP and TLS; tests connect one to an
/// in-process server over memory streams.
///
/// Create with `event_source::create`, add listeners, `start()`. Callbacks
/// run on the client's strand (one at a time, on a thread running the
/// executor's io_context). `close()` is prompt: no callback runs after it
/// returns except those already running.
///
/// Thread safety: every member function may be called from any thread;
/// add listeners before `start()`.
template <class Connector>
class basic_event_source : public std::enable_shared_from_this<basic_event_source<Connector>> {
  static_assert(check_connector<Connector>());

 public:
  using listener = std::function<void(const message&)>;
  using connector_type = Connector;

  /// A client for `url` on `executor` (e.g. io_context.get_executor()).
  /// `connector_args` go to the connector's constructor after the client's
  /// strand and options.
  template <class... ConnectorArgs>
  static std::shared_ptr<basic_event_source> create(net::any_io_executor executor, std::string url,
                                                    client_options options = {},
                                                    ConnectorArgs&&... connector_args) {
    return std::shared_ptr<basic_event_source>(
        new basic_event_source(std::move(executor), std::move(url), std::move(options),
                               std::forward<ConnectorArgs>(connector_args)...));
  }
  ~basic_event_source() = default;

  /// Calls `f` for every event of `type` ("message" for unnamed events).
  void on(std::string type, listener f) { listeners_[std::move(type)].push_back(std::move(f)); }
  /// Calls `f` for every event, whatever its type.
  void on_any(listener f) { any_listeners_.push_back(std::move(f)); }
  void on_open(std::function<void()> f) { on_open_ = std::move(f); }
  void on_error(std::function<void(const client_error&)> f) { on_error_ = std::move(f); }
  /// Calls `f` once when the client reaches ready_state::closed.
  void on_close(std::function<void()> f) { on_close_ = std::move(f); }
  /// Calls `f` for each `retry:` the server sends.
  void on_retry(std::function<void(std::chrono::milliseconds)> f) { on_retry_ = std::move(f); }
  /// Calls `f` for each comment line (heartbeats included), without the
  /// colon and one leading space; `text` is valid only during the call.
  void on_comment(std::function<void(std::string_view)> f) { on_comment_ = std::move(f); }

  /// Connects (asynchronously).
  void start() {
    auto self = shared_from_this();
    net::dispatch(strand_, [self] { self->connect(self->url_text_); });
  }

  /// Stops for good: cancels everything, no reconnect, no more events.
  void close() {
    // Work from before closing_ is set until finish is queued: a handler
    // that sees closing_ in between stops and arms nothing, and the
    // io_context, out of work, would return from run() with finish (and
    // on_close) never to run.
    const auto work =
        net::prefer(strand_.get_inner_executor(), net::execution::outstanding_work.tracked);
    if (closing_.exchange(true)) return;
    // readyState is CLOSED as soon as close() returns, as in a browser.
    state_ = ready_state::closed;
    auto self = shared_from_this();
    net::dispatch(strand_, [self] { self->finish(); });
  }

  ready_state state() const noexcept { return state_.load(); }
  /// The last event ID (sent as Last-Event-ID on reconnect).
  std::string last_event_id() const {
    std::lock_guard<std::mutex> lock(id_mutex_);
    return last_event_id_;
  }
  /// The URL in use (after redirects).
  std::string url() const {
    std::lock_guard<std::mutex> lock(id_mutex_);
    return current_url_;
  }
  /// The reconnection time the server asked for (or the initial one).
  std::chrono::milliseconds reconnection_time() const {
    return std::chrono::milliseconds{retry_ms_.load()};
  }

 private:
  using std::enable_shared_from_this<basic_event_source>::shared_from_this;

  struct dispatcher {
    basic_event_source* self;
    void on_event(const message& m) { self->dispatch_event(m); }
    void on_retry(std::chrono::milliseconds ms) {
      self->policy_.set_retry(ms);
      self->retry_ms_ = ms.count();
      if (self->on_retry_) self->on_retry_(ms);
    }
    void on_comment(std::string_view text) {
      if (self->on_comment_ && !self->closing_) self->on_comment_(text);
    }
  };

  template <class... ConnectorArgs>
  basic_event_source(net::any_io_executor executor, std::string url, client_options options,
                     ConnectorArgs&&... connector_args)
      : strand_(net::make_strand(executor)),
        options_(std::move(options)),
        url_text_(std::move(url)),
        connector_(net::any_io_executor(strand_), options_,
                   std::forward<ConnectorArgs>(connector_args)...),
        connect_timer_(strand_),
        stall_timer_(strand_),
        retry_timer_(strand_),
        parser_(dispatcher{this}, options_.parser),
        policy_(options_.backoff) {
    last_event_id_ = options_.last_event_id;
    retry_ms_ = options_.backoff.initial.count();
    parser_.set_last_event_id(options_.last_event_id);
  }

  // --- connecting ---------------------------------------------------------

  // Request fields go into the request verbatim: a CR or LF (or NUL) in
  // them would let a caller's input forge headers, and a method or field
  // name that is not a token (RFC 9110 sections 9.1 and 5.1: no space,
  // colon, parenthesis, quote...) makes a request servers read differently
  // or refuse. So they are refused before connecting.
  static bool is_field_text(std::string_view s) {
    for (const char c : s)
      if (c == '\r' || c == '\n' || c == '\0') return false;
    return true;
  }
  // What is wrong with the request options, or nullopt.
  std::optional<std::string> invalid_request_field() const {
    constexpr const char* not_token =
        "' is not an HTTP token (RFC 9110 section 5.6.2: letters, digits and !#$%&'*+-.^_`|~)";
    if (!http::detail::is_token(options_.method))
      return "client_options::method '" + options_.method + not_token;
    for (const auto& [name, value] : options_.headers) {
      if (!http::detail::is_token(name))
        return "the client_options::headers name '" + name + not_token;
      if (!is_field_text(value))
        return "the value of client_options::headers '" + name + "' contains CR, LF or NUL";
    }
    if (!is_field_text(options_.last_event_id))
      return std::string("client_options::last_event_id contains CR, LF or NUL");
    return std::nullopt;
  }

  void connect(const std::string& target) {
    if (closing_) return;
    if (const auto bad = invalid_request_field())
      return fail_final(make_error_code(errc::invalid_request), 0, *bad);
    const auto u = http::parse_url(target);
    if (!u)
      return fail_final(make_error_code(errc::bad_url), 0, "cannot connect to '" + target + "'");
    {
      std::lock_guard<std::mutex> lock(id_mutex_);
      current_url_ = u->str();
    }
    url_ = *u;
    if (!enter(ready_state::connecting)) return;
    ++attempt_;
    const auto attempt = attempt_;
    auto self = shared_from_this();
    connect_timer_.expires_after(timer_duration(options_.connect_timeout));
    connect_timer_.async_wait([self, attempt](error_code ec) {
      if (!ec && attempt == self->attempt_ && !self->streaming_)
        self->retryable(make_error_code(errc::connect_timeout), 0, self->url_.str());
    });
    connector_.async_connect(url_,
                             [self, attempt](std::error_code ec, std::string what, bool can_retry) {
                               if (attempt != self->attempt_ || self->closing_) return;
                               if (ec && can_retry) return self->retryable(ec, 0, std::move(what));
                               if (ec) return self->fail_final(ec, 0, std::move(what));
                               self->send_request(attempt);
                             });
  }

  void send_request(unsigned attempt) {
    request_ = method_ + " " + url_.target + " HTTP/1.1\r\nHost: " + url_.host_header() +
               "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n";
    const std::string id = last_event_id();
    if (!id.empty()) request_ += "Last-Event-ID: " + id + "\r\n";
    for (const auto& [name, value] : options_.headers)
      if (credentials_ || !http::is_credential_field(name))
        request_ += name + ": " + value + "\r\n";
    if (!body_.empty() || method_ != "GET")
      request_ += "Content-Length: " + std::to_string(body_.size()) + "\r\n";
    request_ += "\r\n" + body_;
    auto self = shared_from_this();
    write(net::buffer(request_), [self, attempt](error_code ec, std::size_t) {
      if (attempt != self->attempt_ || self->closing_) return;
      if (ec) return self->retryable(ec, 0, "sending the request to " + self->url_.str());
      self->in_.clear();
      self->read_head(attempt);
    });
  }

  void read_head(unsigned attempt) {
    auto self = shared_from_this();
    read(net::buffer(buffer_), [self, attempt](error_code ec, std::size_t n) {
      if (attempt != self->attempt_ || self->closing_) return;
      if (ec) return self->retryable(ec, 0, "reading the response of " + self->url_.str());
      self->in_.append(self->buffer_.data(), n);
      self->take_head(attempt);
    });
  }

  // Parses the response head in in_ and acts on it. Interim 1xx heads are
  // dropped and the next one parsed: there may be any number (the connect
  // timeout, armed until the stream opens, bounds them), each within
  // max_header_bytes.
  void take_head(unsigned attempt) {
    for (;;) {
      http::response_head head;
      std::size_t size = 0;
      const http::head_limits limits{options_.max_header_bytes, 1000};
      switch (http::parse_response_head(in_, limits, head, size)) {
        case http::head_result::incomplete:
          return read_head(attempt);
        case http::head_result::too_large:
          return fail_final(make_error_code(errc::response_head_too_large), 0, url_.str());
        case http::head_result::malformed:
        case http::head_result::bad_version:
          return fail_final(make_error_code(errc::bad_response), 0, url_.str());
        case http::head_result::complete:
          break;
      }
      http::request_context ctx;
      ctx.target = url_;
      ctx.method = method_;
      ctx.redirects = redirects_;
      ctx.max_redirects = options_.max_redirects;
      http::response_action action = http::classify_response(head, ctx);
      if (action.step == http::client_step::interim) {
        in_.erase(0, size);
        continue;
      }
      return on_head(head, std::move(action), std::string_view(in_).substr(size), attempt);
    }
  }

  // Carries out what http::classify_response decided.
  void on_head(const http::response_head& head, http::response_action action, std::string_view rest,
               unsigned attempt) {
    switch (action.step) {
      case http::client_step::redirect:
        ++redirects_;
        if (action.drop_body) body_.clear();
        // Once the chain has left the origin they were meant for, stay
        // without them (even if it comes back), as Fetch does.
        if (action.cross_origin) credentials_ = false;
        method_ = action.method;
        connector_.close();
        return connect(action.location.str());
      case http::client_step::stop:  // the server says: stop reconnecting
        return finish();
      case http::client_step::retry:
        return retryable(action.error, head.status, std::move(action.message), action.retry_after);
      case http::client_step::fail:
        return fail_final(action.error, head.status, std::move(action.message));
      case http::client_step::interim:  // take_head skips these
      case http::client_step::open:
        break;
    }
    chunked_ = action.body.kind == http::body_kind::chunked;
    decoder_ = http::chunked_decoder{};
    remaining_length_.reset();
    if (action.body.kind == http::body_kind::content_length) remaining_length_ = action.body.length;
    streaming_ = true;
    connect_timer_.cancel();
    redirects_ = 0;
    policy_.succeeded();
    parser_.reset();
    // close() on another thread since the read completed: no open state,
    // no open event.
    if (!enter(ready_state::open) || closing_) return;
    if (on_open_) on_open_();
    // close() inside on_open already finished; arming the watchdog now would
    // keep the client (and its io_context) alive for a whole stall_timeout.
    if (closing_) return;
    arm_stall_timer();
    const std::string first(rest);
    in_.clear();
    // A Content-Length: 0 body is over before any read; consume() ends it
    // (otherwise the client waited for bytes that never come until the
    // stall watchdog fired).
    if ((!first.empty() || remaining_length_ == std::uint64_t{0}) && !consume(first)) return;
    read_body(attempt);
  }

  // --- streaming ------------------------------------------------------------

  void read_body(unsigned attempt) {
    auto self = shared_from_this();
    read(net::buffer(buffer_), [self, attempt](error_code ec, std::size_t n) {
      if (attempt != self->attempt_ || self->closing_) return;
      if (ec) {
        return self->retryable(
            Connector::is_clean_end(ec) ? make_error_code(errc::stream_ended) : std::error_code(ec),
            0, self->url_.str());
      }
      self->arm_stall_timer();
      if (self->consume(std::string_view(self->buffer_.data(), n))) self->read_body(attempt);
    });
  }

  // Feeds body bytes (de-chunked) to the parser; false when the stream is
  // over or failed (the reconnect is already scheduled).
  bool consume(std::string_view bytes) {
    std::error_code ec;
    bool ended = false;
    auto feed = [&](std::string_view piece) {
      if (!ec && !closing_) ec = parser_.feed(piece);
    };
    if (chunked_) {
      const auto r = decoder_.feed(bytes, feed);
      if (r == http::chunked_decoder::result::malformed) {
        retryable(make_error_code(errc::bad_response), 0,
                  "malformed chunked body from " + url_.str());
        return false;
      }
      ended = r == http::chunked_decoder::result::done;
    } else if (remaining_length_) {
      const auto n =
          static_cast<std::size_t>(std::min<std::uint64_t>(*remaining_length_, bytes.size()));
      feed(bytes.substr(0, n));
      *remaining_length_ -= n;
      ended = *remaining_length_ == 0;
    } else {
      feed(bytes);
    }
    if (closing_) return false;
    if (ec) {
      // A limit was exceeded: reconnecting would meet the same event again.
      fail_final(ec, 0, "from " + url_.str());
      return false;
    }
    if (ended) {
      retryable(make_error_code(errc::stream_ended), 0, url_.str());
      return false;
    }
    return true;
  }

  void dispatch_event(const message& m) {
    if (closing_) return;
    {
      std::lock_guard<std::mutex> lock(id_mutex_);
      last_event_id_.assign(m.last_event_id.data(), m.last_event_id.size());
    }
    const auto it = listeners_.find(std::string(m.type));
    if (it != listeners_.end())
      for (auto& f : it->second) f(m);
    for (auto& f : any_listeners_) f(m);
  }

  void arm_stall_timer() {
    if (options_.stall_timeout.count() <= 0) return;
    auto self = shared_from_this();
    const auto attempt = attempt_;
    stall_timer_.expires_after(timer_duration(options_.stall_timeout));
    stall_timer_.async_wait([self, attempt](error_code ec) {
      if (!ec && attempt == self->attempt_ && self->streaming_ && !self->closing_)
        self->retryable(make_error_code(errc::stalled), 0, self->url_.str());
    });
  }

  // --- ending ---------------------------------------------------------------

  void retryable(std::error_code ec, int status, std::string what,
                 std::chrono::milliseconds retry_after = {}) {
    if (closing_) return;
    end_attempt();
    // The last event ID the parser committed is what the next request sends.
    {
      std::lock_guard<std::mutex> lock(id_mutex_);
      last_event_id_.assign(parser_.last_event_id().data(), parser_.last_event_id().size());
    }
    parser_.reset();
    if (!options_.reconnect) return fail_final(ec, status, std::move(what));
    client_error e;
    e.code = ec;
    e.status = status;
    e.message = ec.message() + ": " + what;
    e.will_reconnect = true;
    e.retry_in = policy_.next_delay(retry_after);
    if (!enter(ready_state::connecting)) return;
    if (on_error_) on_error_(e);
    if (closing_) return;
    auto self = shared_from_this();
    retry_timer_.expires_after(timer_duration(e.retry_in));
    retry_timer_.async_wait([self](error_code timer_ec) {
      if (!timer_ec && !self->closing_) {
        // A reconnect starts over: the first URL, with the request as the
        // options give it, and a fresh redirect budget (max_redirects is per
        // attempt; counting across reconnects refused a client that was
        // redirected once per reconnect after max_redirects of them).
        self->method_ = self->options_.method;
        self->body_ = self->options_.body;
        self->credentials_ = true;
        self->redirects_ = 0;
        self->connect(self->url_text_);
      }
    });
  }

  void fail_final(std::error_code ec, int status, std::string what) {
    if (closing_ && state_ == ready_state::closed) return;
    end_attempt();
    client_error e;
    e.code = ec;
    e.status = status;
    e.message = ec.message() + ": " + what;
    if (on_error_ && !closing_) on_error_(e);
    finish();
  }

  // Moves readyState to `next` unless it is closed: close() stores closed
  // from any thread, and closed is final (a plain store here could undo it
  // after close() had returned). False when closed.
  bool enter(ready_state next) {
    ready_state now = state_.load();
    while (now != ready_state::closed)
      if (state_.compare_exchange_weak(now, next)) return true;
    return false;
  }

  void end_attempt() {
    ++attempt_;  // outstanding handlers of the old attempt see a new number
    streaming_ = false;
    connect_timer_.cancel();
    stall_timer_.cancel();
    connector_.close();
  }

  void finish() {
    closing_ = true;
    end_attempt();
    retry_timer_.cancel();
    state_ = ready_state::closed;
    if (!close_reported_ && on_close_) on_close_();
    close_reported_ = true;
  }

  // steady_timer counts nanoseconds: a longer wait than it holds (~292 years;
  // a saturated `retry:` asks for 292 million) overflowed in the conversion
  // and fired at once, turning "wait forever" into "reconnect now".
  static std::chrono::milliseconds timer_duration(std::chrono::milliseconds ms) {
    constexpr auto longest =
        std::chrono::duration_cast<std::chrono::milliseconds>(net::steady_timer::duration::max());
    return std::min(ms, longest);
  }

  // --- I/O on the connection ------------------------------------------------

  template <class Buffers, class Handler>
  void write(const Buffers& buffers, Handler&& h) {
    net::async_write(connector_, buffers, net::bind_executor(strand_, std::forward<Handler>(h)));
  }
  template <class Buffers, class Handler>
  void read(const Buffers& buffers, Handler&& h) {
    connector_.async_read_some(buffers, net::bind_executor(strand_, std::forward<Handler>(h)));
  }

  net::strand<net::any_io_executor> strand_;
  client_options options_;
  std::string url_text_;
  http::url url_;
  std::string method_ = options_.method;
  std::string body_ = options_.body;
  Connector connector_;
  net::steady_timer connect_timer_, stall_timer_, retry_timer_;
  parser<dispatcher> parser_;
  reconnect_policy policy_;
  http::chunked_decoder decoder_;
  std::optional<std::uint64_t> remaining_length_;
  bool chunked_ = false;
  bool streaming_ = false;
  unsigned attempt_ = 0;
  std::size_t redirects_ = 0;  // in this attempt's chain; reset by a reconnect
  bool credentials_ = true;    // false once a redirect left the first origin
  std::array<char, 64 * 1024> buffer_{};
  std::string in_;
  std::string request_;
  std::unordered_map<std::string, std::vector<listener>> listeners_;
  std::vector<listener> any_listeners_;
  std::function<void()> on_open_;
  std::function<void(const client_error&)> on_error_;
  std::function<void()> on_close_;
  std::function<void(std::chrono::milliseconds)> on_retry_;
  std::function<void(std::string_view)> on_comment_;
  std::atomic<ready_state> state_{ready_state::connecting};
  std::atomic<bool> closing_{false};
  bool close_reported_ = false;  // on_close runs once (on the strand)
  // policy_ belongs to the strand; reconnection_time() may be called from
  // any thread, so it reads this copy (reading policy_ was a data race).
  std::atomic<std::chrono::milliseconds::rep> retry_ms_{0};
  mutable std::mutex id_mutex_;
  std::string last_event_id_;
  std::string current_url_;
};

/// The client over TCP (and TLS for https:// with SSEPP_ENABLE_OPENSSL).
using event_source = basic_event_source<tcp_connector>;

}  // namespace SSEPP_ASIO_FLAVOUR
}  // namespace ssepp::asio
