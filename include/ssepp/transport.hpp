// The transport concept: what the hub needs from a connection to a client,
// so that channels and fan-out work on any socket layer (raw Asio, Beast,
// a pull-style server's output queue, an in-memory test double).
#pragma once

#include <cstddef>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "detail/config.hpp"

#if SSEPP_HAS_CONCEPTS
#include <concepts>
#endif

namespace ssepp {

/// A sequence of byte ranges written together (a gather write). The viewed
/// bytes stay valid until the write's completion handler has been called.
struct buffer_span {
  const std::string_view* data = nullptr;
  std::size_t size = 0;

  const std::string_view* begin() const noexcept { return data; }
  const std::string_view* end() const noexcept { return data + size; }
  /// Total bytes in all buffers.
  std::size_t bytes() const noexcept {
    std::size_t n = 0;
    for (const auto& b : *this) n += b.size();
    return n;
  }
};

// ---------------------------------------------------------------------------
// The transport concept
//
// For a value `t` of type T, `b` of type ssepp::buffer_span, and `h` a
// completion handler callable as h(std::error_code, std::size_t):
//
//   expression          | semantics
//   --------------------+----------------------------------------------------
//   t.async_write(b, h) | Writes every byte of `b`, in order, then calls
//                       | h(error, bytes_written) exactly once.
//                       | The hub keeps at most one write outstanding per
//                       | transport and may call async_write from any
//                       | thread: a transport serializes this with its own
//                       | I/O (the Asio adapter posts to its strand).
//                       | On error (the peer left: EPIPE, ECONNRESET, EOF)
//                       | h receives it; the hub treats it as a normal close.
//                       | Should not call h from inside async_write (the
//                       | hub holds a lock while starting a write, and
//                       | Asio's rule "never invoke a handler inline" says
//                       | the same). A transport that does anyway (a
//                       | blocking server's buffer with room) is detected
//                       | and its completion run once the hub's locks are
//                       | released: harmless, but each such write costs a
//                       | hand-off.
//   t.close()           | Ends the connection; an outstanding write then
//                       | completes (usually with an error), preferably
//                       | later; completing it inside close() is handled
//                       | like an inline completion of async_write.
//                       | Idempotent, callable from any thread, must not
//                       | throw.
//
// T must be move-constructible: the hub owns each subscriber's transport.
// A blocking, pull-style server (cpp-httplib's content provider, which
// writes from the server's own thread) models this too: async_write hands
// the buffers to the provider thread, which writes them and then calls h.
//
// Exemplar:
//
//   struct my_transport {
//     my_socket* s;
//     template <class Handler>
//     void async_write(ssepp::buffer_span b, Handler&& h) {
//       s->post_write(b, std::forward<Handler>(h));  // completes later
//     }
//     void close() noexcept { s->shutdown(); }
//   };
//
// Bundled models: ssepp::asio::stream_transport<AsyncWriteStream> (any Asio
// stream: tcp socket, ssl stream), ssepp::pull_transport (pull_transport.hpp:
// for blocking servers whose own thread pulls the bytes and writes them, as
// ssepp::httplib does on cpp-httplib) and ssepp::testing::memory_transport.
// ---------------------------------------------------------------------------

namespace detail {
// What the hub passes as a completion handler, for checking transports.
struct write_handler_archetype {
  void operator()(std::error_code, std::size_t) const {}
};

template <class T, class = void>
struct has_async_write : std::false_type {};
template <class T>
struct has_async_write<T, std::void_t<decltype(std::declval<T&>().async_write(
                              std::declval<buffer_span>(), write_handler_archetype{}))>>
    : std::true_type {};
template <class T, class = void>
struct has_close : std::false_type {};
template <class T>
struct has_close<T, std::void_t<decltype(std::declval<T&>().close())>> : std::true_type {};
}  // namespace detail

/// True when T models the transport concept (see the table above).
template <class T>
inline constexpr bool is_transport_v = detail::has_async_write<T>::value&&
    detail::has_close<T>::value&& std::is_move_constructible_v<T>;

#if SSEPP_HAS_CONCEPTS
/// C++20 spelling of `is_transport_v`.
template <class T>
concept transport = is_transport_v<T>;
#endif

/// Compile-time check with one readable message per missing requirement.
template <class T>
constexpr bool check_transport() {
  static_assert(
      detail::has_async_write<T>::value,
      "ssepp transport must have: template <class H> void async_write(ssepp::buffer_span, H&& "
      "handler), the handler being called as handler(std::error_code, std::size_t)");
  static_assert(detail::has_close<T>::value, "ssepp transport must have: void close()");
  static_assert(std::is_move_constructible_v<T>, "ssepp transport must be move-constructible");
  return true;
}

}  // namespace ssepp
