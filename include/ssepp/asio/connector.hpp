// How an event_source reaches its server: the connector concept, and the
// bundled tcp_connector (DNS, TCP, and TLS for https:// URLs). Templating
// the client on it lets the same client run over an in-memory stream in
// tests, or over a transport of the user's own.
#pragma once

#include "net.hpp"

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include "../error.hpp"
#include "../http/url.hpp"

namespace ssepp::asio {
inline namespace SSEPP_ASIO_FLAVOUR {

// ---------------------------------------------------------------------------
// The connector concept
//
// A basic_event_source<C> makes one C, as C(executor, options, args...)
// (executor: the client's strand; options: its client_options; args: what
// the caller passed to create()), and uses it for every attempt. For a value
// `c` of type C, `u` an http::url, `b` buffers and `h` handlers:
//
//   expression             | semantics
//   -----------------------+--------------------------------------------------
//   c.async_connect(u, h)  | Ends any previous connection, then connects to u
//                          | (resolving, TCP, a TLS handshake for https...).
//                          | Calls h(std::error_code ec, std::string what,
//                          | bool retryable) once, on the executor: ec empty
//                          | when connected; `what` names the failed step;
//                          | `retryable` false for errors a new attempt would
//                          | meet again (no TLS support, a bad CA file).
//   c.async_read_some(b,h) | AsyncReadStream on the connection
//   c.async_write_some(b,h)| AsyncWriteStream on the connection
//   c.get_executor()       | the executor given at construction
//   c.close()              | cancels a connect in progress and closes the
//                          | connection (pending reads then complete with an
//                          | error; what they use must stay alive until
//                          | they have); idempotent
//   C::is_clean_end(ec)    | static: true when a read error means the
//                          | server ended the stream (EOF; TLS without
//                          | close_notify)
//
// check_connector<C>() names each missing requirement at compile time;
// basic_event_source checks its connector with it.
//
// Bundled: tcp_connector. Tests use a connector that pairs the client with an
// in-process server over ssepp::asio::memory_stream (tests/memory_connector.hpp).
// ---------------------------------------------------------------------------

namespace detail {
// What basic_event_source passes, for checking connectors.
struct connect_handler_archetype {
  void operator()(std::error_code, std::string, bool) const {}
};
struct io_handler_archetype {
  void operator()(error_code, std::size_t) const {}
};

template <class C, class = void>
struct has_async_connect : std::false_type {};
template <class C>
struct has_async_connect<C, std::void_t<decltype(std::declval<C&>().async_connect(
                                std::declval<const http::url&>(), connect_handler_archetype{}))>>
    : std::true_type {};
template <class C, class = void>
struct has_async_read_some : std::false_type {};
template <class C>
struct has_async_read_some<C, std::void_t<decltype(std::declval<C&>().async_read_some(
                                  std::declval<net::mutable_buffer>(), io_handler_archetype{}))>>
    : std::true_type {};
template <class C, class = void>
struct has_async_write_some : std::false_type {};
template <class C>
struct has_async_write_some<C, std::void_t<decltype(std::declval<C&>().async_write_some(
                                   std::declval<net::const_buffer>(), io_handler_archetype{}))>>
    : std::true_type {};
template <class C, class = void>
struct has_connector_close : std::false_type {};
template <class C>
struct has_connector_close<C, std::void_t<decltype(std::declval<C&>().close())>> : std::true_type {
};
template <class C, class = void>
struct has_is_clean_end : std::false_type {};
template <class C>
struct has_is_clean_end<C, std::enable_if_t<std::is_convertible_v<
                               decltype(C::is_clean_end(std::declval<const error_code&>())), bool>>>
    : std::true_type {};
template <class C, class = void>
struct has_get_executor : std::false_type {};
template <class C>
struct has_get_executor<C, std::void_t<decltype(std::declval<C&>().get_executor())>>
    : std::true_type {};
}  // namespace detail

/// Compile-time check of the connector concept (the table above), one
/// readable message per missing requirement.
template <class C>
constexpr bool check_connector() {
  static_assert(detail::has_async_connect<C>::value,
                "ssepp connector must have: template <class H> void async_connect(const "
                "ssepp::http::url&, H&& handler), the handler called as handler(std::error_code, "
                "std::string what, bool retryable)");
  static_assert(detail::has_async_read_some<C>::value,
                "ssepp connector must have: async_read_some(buffers, handler) (AsyncReadStream)");
  static_assert(detail::has_async_write_some<C>::value,
                "ssepp connector must have: async_write_some(buffers, handler) (AsyncWriteStream)");
  static_assert(detail::has_get_executor<C>::value, "ssepp connector must have: get_executor()");
  static_assert(detail::has_connector_close<C>::value, "ssepp connector must have: void close()");
  static_assert(detail::has_is_clean_end<C>::value,
                "ssepp connector must have: static bool is_clean_end(const error_code&)");
  return true;
}

/// Connects over TCP, with TLS for https:// (when built with
/// SSEPP_ENABLE_OPENSSL): certificate and host name verified unless
/// client_options::verify_peer is false, SNI for host names, an extra CA
/// file from client_options::ca_file. Nagle is off: events are small.
///
/// Thread safety: like an Asio socket, use from the executor only.
class tcp_connector {
 public:
  using executor_type = net::any_io_executor;

  template <class Options>
  tcp_connector(executor_type executor, const Options& options)
      : executor_(executor),
        resolver_(executor),
        verify_peer_(options.verify_peer),
        ca_file_(options.ca_file) {}
  tcp_connector(const tcp_connector&) = delete;
  tcp_connector& operator=(const tcp_connector&) = delete;
  // Handlers still pending then see a closed connection and touch nothing
  // of the connector (see connection).
  ~tcp_connector() { close(); }

  executor_type get_executor() const noexcept { return executor_; }

  template <class Handler>
  void async_connect(const http::url& u, Handler&& handler) {
    close();
#if !defined(SSEPP_ENABLE_OPENSSL)
    if (u.tls())
      return net::post(executor_, [h = std::forward<Handler>(handler), what = u.str()]() mutable {
        h(make_error_code(errc::tls_unavailable), std::move(what), false);
      });
#endif
    auto c = std::make_shared<connection>(executor_, u);
    connection_ = c;
    auto h = std::make_shared<std::decay_t<Handler>>(std::forward<Handler>(handler));
    resolver_.async_resolve(
        u.host, std::to_string(u.port),
        [this, c, h](error_code ec, net::ip::tcp::resolver::results_type results) {
          // A resolve that completed just before close() must not go on to
          // connect: the attempt is over.
          if (!ec && c->closed) ec = net::error::operation_aborted;
          if (ec) return (*h)(ec, "resolving " + c->target.host, true);
          net::async_connect(c->socket, results, [this, c, h](error_code e, const auto&) {
            if (!e && c->closed) e = net::error::operation_aborted;
            if (e) return (*h)(e, "connecting to " + c->target.str(), true);
            error_code ignored;
            c->socket.set_option(net::ip::tcp::no_delay(true), ignored);
            handshake(c, h);
          });
        });
  }

  template <class Buffers, class Handler>
  void async_read_some(const Buffers& buffers, Handler&& handler) {
    const auto c = connection_;
    if (!c) return fail(std::forward<Handler>(handler));
    auto h = keep_alive(c, std::forward<Handler>(handler));
#if defined(SSEPP_ENABLE_OPENSSL)
    if (c->tls) return c->tls->async_read_some(buffers, std::move(h));
#endif
    c->socket.async_read_some(buffers, std::move(h));
  }
  template <class Buffers, class Handler>
  void async_write_some(const Buffers& buffers, Handler&& handler) {
    const auto c = connection_;
    if (!c) return fail(std::forward<Handler>(handler));
    auto h = keep_alive(c, std::forward<Handler>(handler));
#if defined(SSEPP_ENABLE_OPENSSL)
    if (c->tls) return c->tls->async_write_some(buffers, std::move(h));
#endif
    c->socket.async_write_some(buffers, std::move(h));
  }

  /// Cancels a connect in progress and closes the connection. The socket
  /// and TLS stream are released only when the last pending operation on
  /// them has completed (with an error).
  void close() noexcept {
    resolver_.cancel();
    if (const auto c = std::exchange(connection_, nullptr)) {
      c->closed = true;
      error_code ignored;
      c->socket.close(ignored);
    }
  }

  static bool is_clean_end(const error_code& ec) noexcept {
    return ec == net::error::eof
#if defined(SSEPP_ENABLE_OPENSSL)
           || ec == net::ssl::error::stream_truncated
#endif
        ;
  }

 private:
  // One attempt's socket and TLS stream. Every pending operation's handler
  // holds a reference: close() only closes the socket, so an operation it
  // aborts still finds its stream alive when it completes (an ssl::stream
  // destroyed under a pending read or handshake was a use-after-free: the
  // aborted operation still feeds the stream's engine and timers). A new
  // attempt gets a new connection; `closed` tells an old attempt's handlers
  // that it is over, even if their operation succeeded first.
  struct connection {
    connection(const executor_type& executor, http::url u)
        : target(std::move(u)), socket(executor) {}
    http::url target;
    net::ip::tcp::socket socket;
    bool closed = false;
#if defined(SSEPP_ENABLE_OPENSSL)
    std::shared_ptr<net::ssl::context> tls_context;  // outlives `tls`
    std::optional<net::ssl::stream<net::ip::tcp::socket&>> tls;
#endif
  };

  // `handler`, holding `c` until it has run, on the executor it is bound to.
  template <class Handler>
  auto keep_alive(std::shared_ptr<connection> c, Handler&& handler) const {
    const auto executor = net::get_associated_executor(handler, executor_);
    return net::bind_executor(executor,
                              [c = std::move(c), h = std::forward<Handler>(handler)](
                                  error_code ec, std::size_t n) mutable { std::move(h)(ec, n); });
  }

  // An operation on no connection (after close()), completed as an Asio
  // socket that is not open would: never from the initiating function.
  template <class Handler>
  void fail(Handler&& handler) const {
    const auto executor = net::get_associated_executor(handler, executor_);
    net::post(executor, [h = std::forward<Handler>(handler)]() mutable {
      std::move(h)(error_code(net::error::bad_descriptor), std::size_t{0});
    });
  }

  template <class SharedHandler>
  void handshake(const std::shared_ptr<connection>& c, const SharedHandler& h) {
#if defined(SSEPP_ENABLE_OPENSSL)
    if (c->target.tls()) {
      if (!tls_context_) {
        auto context = std::make_shared<net::ssl::context>(net::ssl::context::tls_client);
        context->set_default_verify_paths();
        if (!ca_file_.empty()) {
          error_code ca_error;
          context->load_verify_file(ca_file_, ca_error);
          // A CA file that cannot be used would only surface later as a
          // puzzling "certificate verify failed": say what is wrong now.
          if (ca_error) return (*h)(ca_error, "cannot load the CA file '" + ca_file_ + "'", false);
        }
        context->set_verify_mode(verify_peer_ ? net::ssl::verify_peer : net::ssl::verify_none);
        tls_context_ = std::move(context);
      }
      c->tls_context = tls_context_;
      c->tls.emplace(c->socket, *c->tls_context);
      const std::string& host = c->target.host;
      // SNI carries host names only (RFC 6066 section 3), never IP literals.
      error_code not_ip;
      (void)net::ip::make_address(host, not_ip);
      if (not_ip) SSL_set_tlsext_host_name(c->tls->native_handle(), host.c_str());
      if (verify_peer_) c->tls->set_verify_callback(net::ssl::host_name_verification(host));
      c->tls->async_handshake(net::ssl::stream_base::client, [c, h](error_code ec) {
        if (!ec && c->closed) ec = net::error::operation_aborted;
        (*h)(ec, ec ? "TLS handshake with " + c->target.str() : std::string{}, true);
      });
      return;
    }
#else
    (void)c;
#endif
    (*h)(std::error_code{}, std::string{}, true);
  }

  executor_type executor_;
  net::ip::tcp::resolver resolver_;
  [[maybe_unused]] bool verify_peer_;  // read only with SSEPP_ENABLE_OPENSSL
  std::string ca_file_;
  std::shared_ptr<connection> connection_;  // the current attempt's; null after close()
#if defined(SSEPP_ENABLE_OPENSSL)
  std::shared_ptr<net::ssl::context> tls_context_;  // made on the first https:// attempt
#endif
};

static_assert(check_connector<tcp_connector>());

}  // namespace SSEPP_ASIO_FLAVOUR
}  // namespace ssepp::asio
