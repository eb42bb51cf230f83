// Models the transport concept (transport.hpp) on any Asio AsyncWriteStream
// (a tcp socket, an ssl stream, Beast's tcp_stream), so the hub can write
// to Asio connections.
#pragma once

#include "net.hpp"

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../transport.hpp"

namespace ssepp::asio {
inline namespace SSEPP_ASIO_FLAVOUR {

namespace detail {
// Asio's composed async_write hands a system call at most 16 buffers of a
// sequence (consuming_buffers), and an SSL stream encrypts only the first
// buffer per write_some: a write of many small events would take many
// system calls, each a separate turn of the event loop, while publishes
// keep queueing events behind it. Above this many buffers (and within
// flatten_bytes) a write is copied into one contiguous buffer instead:
// copying a few KiB costs far less than the system calls it saves.
inline constexpr std::size_t gather_buffers = 16;
inline constexpr std::size_t flatten_bytes = 256 * 1024;

template <class S, class = void>
struct has_socket_member : std::false_type {};
template <class S>
struct has_socket_member<S, std::void_t<decltype(std::declval<S&>().socket())>> : std::true_type {};
template <class S, class = void>
struct has_next_layer : std::false_type {};
template <class S>
struct has_next_layer<S, std::void_t<decltype(std::declval<S&>().next_layer())>> : std::true_type {
};

// The socket under any stack of layers: Beast's basic_stream (tcp_stream)
// holds it as socket(), an ssl::stream (or Beast's ssl_stream) as its
// next_layer(), and a socket is its own. Closing that socket ends the whole
// stack at once, which is what close() must do from any layer.
template <class Stream>
auto& socket_of(Stream& s) {
  if constexpr (has_socket_member<Stream>::value) {
    return s.socket();
  } else if constexpr (has_next_layer<Stream>::value) {
    return socket_of(s.next_layer());
  } else {
    return s;
  }
}

// Shuts the stream's socket down and closes it; errors are of no interest
// (the socket may already be gone).
template <class Stream>
void close_stream(Stream& s) noexcept {
  auto& socket = socket_of(s);
  error_code ignored;
  socket.shutdown(net::socket_base::shutdown_both, ignored);
  socket.close(ignored);
}
}  // namespace detail

/// A transport over a shared Asio stream, with writes and close serialized
/// on `strand` (the executor the owner reads on), because Asio streams are
/// not safe for concurrent use while the hub writes from any thread. With
/// an io_context run by one thread, its own executor serializes as well as
/// a strand would, and spares a post per write.
///
/// An optional `preamble` (an HTTP response head) goes out before anything
/// else: with the hub's first write, or alone when `send_preamble()` comes
/// first. That lets a server subscribe *before* the client can see the
/// response, so an event published as soon as the client sees the stream
/// open is never missed.
///
/// Thread safety: async_write, close and send_preamble may be called from
/// any thread.
template <class Stream>
class stream_transport {
 public:
  /// A strand, or any executor whose handlers never run concurrently.
  using strand_type = net::any_io_executor;

  stream_transport(std::shared_ptr<Stream> stream, strand_type strand, std::string preamble = {})
      : state_(std::make_shared<state>(std::move(stream), std::move(strand), std::move(preamble))) {
  }

  template <class Handler>
  void async_write(buffer_span buffers, Handler&& handler) {
    auto st = state_;
    net::dispatch(st->strand, [st, buffers, h = std::forward<Handler>(handler)]() mutable {
      st->start(buffers, std::move(h));
    });
  }

  /// Writes the preamble now unless a write already carries it.
  void send_preamble() {
    auto st = state_;
    net::dispatch(st->strand, [st] { st->send_preamble(); });
  }

  void close() noexcept {
    auto st = state_;
    net::dispatch(st->strand, [st] { detail::close_stream(*st->stream); });
  }

 private:
  // The preamble's bookkeeping lives on the heap only until it is sent: a
  // long-lived idle stream keeps none of it.
  struct preamble_data {
    std::string bytes;
    bool in_flight = false;
    bool carried = false;          // the write in flight includes it
    std::function<void()> parked;  // a write waiting for it to go out alone
  };

  // Everything below runs on the strand.
  struct state : std::enable_shared_from_this<state> {
    state(std::shared_ptr<Stream> s, strand_type st, std::string p)
        : stream(std::move(s)), strand(std::move(st)) {
      if (!p.empty()) preamble.reset(new preamble_data{std::move(p), false, false, nullptr});
    }

    template <class Handler>
    void start(buffer_span span, Handler&& h) {
      if (preamble && preamble->in_flight && !preamble->carried) {
        // The preamble is being written alone: this write follows it (the
        // hub keeps one write outstanding, so one can wait at most).
        preamble->parked = [self = this->shared_from_this(), span,
                            h = std::forward<Handler>(h)]() mutable {
          self->start(span, std::move(h));
        };
        return;
      }
      // The hub keeps one write outstanding, so one buffer vector is reused.
      buffers.clear();
      const bool with_preamble = preamble && !preamble->in_flight;
      if (with_preamble) {
        buffers.emplace_back(preamble->bytes.data(), preamble->bytes.size());
        preamble->in_flight = preamble->carried = true;
      }
      for (const auto& b : span) buffers.emplace_back(b.data(), b.size());
      flatten_if_many();
      net::async_write(
          *stream, buffers,
          net::bind_executor(
              strand, [self = this->shared_from_this(), with_preamble,
                       h = std::forward<Handler>(h)](error_code ec, std::size_t n) mutable {
                if (with_preamble) {
                  n -= std::min(n, self->preamble->bytes.size());  // only the caller's bytes
                  self->preamble.reset();
                }
                // An idle stream keeps no copy: the next burst allocates anew.
                std::string().swap(self->flat);
                h(ec, n);
              }));
    }

    // Replaces `buffers` by one buffer holding their bytes, when there are
    // more than a system call takes at once and they are small enough to
    // copy (see gather_buffers).
    void flatten_if_many() {
      if (buffers.size() <= detail::gather_buffers) return;
      std::size_t total = 0;
      for (const auto& b : buffers) total += b.size();
      if (total > detail::flatten_bytes) return;
      flat.reserve(total);
      for (const auto& b : buffers) flat.append(static_cast<const char*>(b.data()), b.size());
      buffers.assign(1, net::const_buffer(flat.data(), flat.size()));
    }

    void send_preamble() {
      if (!preamble || preamble->in_flight) return;
      preamble->in_flight = true;
      net::async_write(
          *stream, net::buffer(preamble->bytes),
          net::bind_executor(strand, [self = this->shared_from_this()](error_code, std::size_t) {
            // An error shows up again in the parked write.
            auto next = std::move(self->preamble->parked);
            self->preamble.reset();
            if (next) next();
          }));
    }

    std::shared_ptr<Stream> stream;
    strand_type strand;
    std::unique_ptr<preamble_data> preamble;
    std::vector<net::const_buffer> buffers;
    std::string flat;  // the write's bytes in one piece, while one is in flight
  };
  std::shared_ptr<state> state_;
};

}  // namespace SSEPP_ASIO_FLAVOUR
}  // namespace ssepp::asio
