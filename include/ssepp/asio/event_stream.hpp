// Serves an event stream from a hub on an Asio stream that is already
// connected and whose request has been read (a tcp socket, Beast's
// tcp_stream, an ssl stream): the response head, the subscription, and
// noticing the client leave. Works on either Asio flavour (net.hpp).
#pragma once

#include "net.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "../http/event_stream.hpp"
#include "../http/format.hpp"
#include "../hub.hpp"
#include "stream_transport.hpp"

namespace ssepp::asio {
inline namespace SSEPP_ASIO_FLAVOUR {

/// How `start_event_stream` serves a stream; the defaults suit a stream
/// with no extra fields that resumes nowhere.
struct event_stream_options {
  /// Fields added to the head after the event stream's own
  /// (ssepp::http::event_stream_fields()) and before `Connection: close`:
  /// CORS's Access-Control-Allow-Origin, a Set-Cookie. Names and values
  /// must not contain CR, LF or NUL, nor repeat a field ssepp sends.
  std::vector<std::pair<std::string, std::string>> fields;
  /// Resume after this id (ssepp::http::last_event_id() finds it in a
  /// request); empty: live events only.
  std::string last_event_id;
  /// Resume as this plan says instead (a backplane made it: see
  /// ssepp::replay_plan and ssepp/redis); last_event_id is then unused.
  std::optional<ssepp::replay_plan> replay;
  /// Called once when the stream ends, on the stream's strand, and never
  /// inside the start_event_stream call (even when the stream ends at
  /// once, as it does with no channels):
  /// close_reason::peer_gone when the client left (noticed by the read
  /// watch, or a write that failed), slow_consumer, or hub_closed
  /// (hub::close_all, the hub's destruction, event_stream::close(), or no
  /// channels to subscribe to).
  std::function<void(close_reason, std::error_code)> on_close;
  /// Serializes the stream's handlers. Unset: the stream's own executor,
  /// which must then be a strand (Beast's examples make it with
  /// net::make_strand) unless a single thread runs its execution context.
  std::optional<net::any_io_executor> strand;
  /// The hub shard the subscriber belongs to (see ssepp::hub's threading
  /// model): the one whose thread runs `strand`. The default lets the hub
  /// spread streams over its shards, which suits a hub of one shard, or one
  /// whose shards all run on this stream's executor.
  std::size_t shard = static_cast<std::size_t>(-1);
  /// Bytes the client may send after its request (an EventSource sends
  /// none). They are read and dropped, never stored; past this many the
  /// stream ends as peer_gone with std::errc::message_size. 0: no limit.
  std::size_t max_client_bytes = 64 * 1024;
  /// Bytes the kernel may hold unsent for this stream (TCP only). A reader
  /// that stalls costs the hub's queue bound (hub_options::max_queued_bytes)
  /// plus this, and no more: left alone, Linux grows a socket's send buffer
  /// to megabytes (tcp_wmem) outside any bound ssepp sets. SO_SNDBUF is set
  /// to half of it, since Linux doubles what it is given for bookkeeping.
  /// 0 leaves the kernel's own tuning. Throughput to one client is then at
  /// most this per round trip (256 KiB over 50 ms: 40 Mbit/s). Not much
  /// less: the buffer must hold several segments, or every segment waits
  /// for the receiver's delayed ACK (on loopback, whose segments are 64 KiB,
  /// 64 KiB here gave 2 MB/s).
  std::size_t send_buffer_bytes = 256 * 1024;
};

namespace detail {
// What an event_stream handle can do to its stream, whatever the stream's
// type.
struct event_stream_control {
  virtual ~event_stream_control() = default;
  virtual void close() = 0;
  std::atomic<bool> open{true};
};
template <class Stream, class Clock>
class event_stream_connection;
}  // namespace detail

/// A handle on a stream started by `start_event_stream`. The stream runs
/// on whether the handle is kept or dropped; the handle does not keep it
/// alive (it holds it weakly), so keeping one costs no connection.
///
/// Thread safety: `active()` and `close()` may be called from any thread.
class event_stream {
 public:
  event_stream() = default;

  /// True until the stream ends (by either side).
  bool active() const noexcept {
    const auto c = control_.lock();
    return c && c->open.load();
  }

  /// Ends the stream: unsubscribes and closes the connection at once
  /// (queued events are dropped; hub::close_all drains instead). The close
  /// handler gets close_reason::hub_closed. Does nothing once ended.
  void close() {
    if (const auto c = control_.lock()) c->close();
  }

 private:
  template <class Stream, class Clock>
  friend class detail::event_stream_connection;
  explicit event_stream(std::weak_ptr<detail::event_stream_control> c) : control_(std::move(c)) {}
  std::weak_ptr<detail::event_stream_control> control_;
};

/// Starts an event stream on `stream`, a connected stream whose request
/// has been read and whose response has not begun:
///
/// 1. the head: `HTTP/1.1 200 OK`, the fields of event_stream_fields(),
///    `options.fields`, `Connection: close`, and no Content-Length (the
///    body ends with the connection, which suits HTTP/1.0 clients too);
/// 2. the subscription to `channels` (with `options.last_event_id`), made
///    *before* the head is sent: a client that sees the stream open is
///    subscribed, so an event published on that signal reaches it;
/// 3. the head alone, unless the hub's first write already carries it
///    (with TCP_NODELAY set, so no event waits for the last one's ACK);
/// 4. a watch for the client leaving, which unsubscribes at once. On a
///    plain tcp socket (or Beast's tcp_stream) it waits for readability and
///    reads stray bytes into a small buffer on the stack, so an idle stream
///    holds no read buffer; through any other layer (TLS) it keeps a
///    256-byte read going.
///
/// The hub's transport is `stream_transport<Stream>`. The hub need only
/// exist during this call: afterwards the stream holds the subscription,
/// which outlives the hub safely (the hub's destruction ends the stream).
/// With no channels, nothing is sent and the connection is closed.
///
/// Lifetime: the stream keeps itself alive (pending operations and the
/// hub's close handler hold it) until it ends; every end breaks those
/// references, so nothing survives the close.
///
/// Thread safety: call it from any thread; the stream is used on its strand
/// (options.strand) from then on, and must not be touched by the caller.
template <class Stream, class Clock>
event_stream start_event_stream(ssepp::hub<stream_transport<Stream>, Clock>& hub,
                                std::shared_ptr<Stream> stream, std::vector<std::string> channels,
                                event_stream_options options = {});

/// As above, taking the stream by value (moved to the heap).
template <class Stream, class Clock>
event_stream start_event_stream(ssepp::hub<stream_transport<Stream>, Clock>& hub, Stream stream,
                                std::vector<std::string> channels,
                                event_stream_options options = {}) {
  return start_event_stream(hub, std::make_shared<Stream>(std::move(stream)), std::move(channels),
                            std::move(options));
}

// ---------------------------------------------------------------------------
// Implementation

namespace detail {
template <class S, class = void>
struct has_async_wait : std::false_type {};
template <class S>
struct has_async_wait<S, std::void_t<decltype(std::declval<S&>().async_wait(
                             S::wait_read, std::declval<void (*)(error_code)>()))>>
    : std::true_type {};

// Whether reading the socket under `Stream` reads the stream's own bytes:
// true for a socket and for Beast's basic_stream (socket()), false through
// a layer that transforms them (TLS), whose records must go through it.
template <class Stream>
constexpr bool watch_socket_directly() {
  using socket_type = std::remove_reference_t<decltype(socket_of(std::declval<Stream&>()))>;
  if constexpr (!has_async_wait<socket_type>::value) {
    return false;
  } else {
    return std::is_same_v<socket_type, Stream> || has_socket_member<Stream>::value;
  }
}

// Watching for a client leaving a connection whose request has been read
// (an event stream's, an event_feed's): after its request an HTTP client
// sends nothing, so the socket turns readable when it leaves (EOF, reset).
// The owner keeps this and provides, on its strand:
//   Stream& watched_stream();  net::any_io_executor watch_strand();
//   client_watch& watch_state();  void client_left(std::error_code);
// The pending operation holds the owner, so a watched connection stays
// alive until it ends; client_left is called once, when the client left,
// sent more than max_bytes (std::errc::message_size), or the owner closed
// the socket (the read fails).
struct client_watch {
  std::unique_ptr<std::array<char, 256>> buffer;  // only through a layer (TLS)
  std::size_t bytes = 0;                          // read and dropped so far
  std::size_t max_bytes = 0;                      // 0: no limit
};

// Counts dropped bytes; false (and the client reported gone) past the limit.
template <class Owner>
bool client_bytes_allowed(Owner& owner, std::size_t n) {
  auto& state = owner.watch_state();
  state.bytes += n;
  if (state.max_bytes == 0 || state.bytes <= state.max_bytes) return true;
  owner.client_left(std::make_error_code(std::errc::message_size));
  return false;
}

template <class Owner>
void wait_client_readable(std::shared_ptr<Owner> owner) {
  auto& socket = socket_of(owner->watched_stream());
  using socket_type = std::remove_reference_t<decltype(socket)>;
  const net::any_io_executor strand = owner->watch_strand();
  socket.async_wait(
      socket_type::wait_read,
      net::bind_executor(strand, [owner = std::move(owner)](error_code ec) mutable {
        if (ec) return owner->client_left(ec);
        // Stray bytes go to a small buffer on the stack: an idle
        // stream keeps no read buffer.
        std::array<char, 256> discard;
        error_code read_error;
        const std::size_t n =
            socket_of(owner->watched_stream()).read_some(net::buffer(discard), read_error);
        if (read_error == net::error::would_block) return wait_client_readable(std::move(owner));
        if (read_error || n == 0) return owner->client_left(read_error);
        if (client_bytes_allowed(*owner, n)) wait_client_readable(std::move(owner));
      }));
}

template <class Owner>
void read_client_some(std::shared_ptr<Owner> owner) {
  auto& state = owner->watch_state();
  const net::any_io_executor strand = owner->watch_strand();
  owner->watched_stream().async_read_some(
      net::buffer(*state.buffer),
      net::bind_executor(strand, [owner = std::move(owner)](error_code ec, std::size_t n) mutable {
        if (ec) return owner->client_left(ec);
        if (client_bytes_allowed(*owner, n)) read_client_some(std::move(owner));
      }));
}

template <class Owner>
void watch_client(std::shared_ptr<Owner> owner) {
  using Stream = std::remove_reference_t<decltype(owner->watched_stream())>;
  if constexpr (watch_socket_directly<Stream>()) {
    error_code ignored;
    socket_of(owner->watched_stream()).non_blocking(true, ignored);
    wait_client_readable(std::move(owner));
  } else {
    // Through a layer (TLS), whose records must go through it: a 256-byte
    // read stays pending.
    owner->watch_state().buffer = std::make_unique<std::array<char, 256>>();
    read_client_some(std::move(owner));
  }
}

// The head of an event stream's response, an event_feed's too: 200, the
// event stream's own fields, `extra`, and `Connection: close` with no
// Content-Length (the body ends with the connection).
inline std::string event_stream_head(std::vector<std::pair<std::string, std::string>>& extra) {
  auto fields = ssepp::http::event_stream_fields();
  fields.insert(fields.end(), std::make_move_iterator(extra.begin()),
                std::make_move_iterator(extra.end()));
  fields.emplace_back("Connection", "close");
  return ssepp::http::format_response_head(200, fields, std::nullopt);
}

// Nagle's algorithm would hold a small event back until the client ACKs
// the previous one (up to its delayed-ACK time, ~40 ms), and the kernel's
// send buffer would grow outside any bound ssepp sets (see
// event_stream_options::send_buffer_bytes). Not a TCP socket (a local
// one): the options fail, harmlessly.
template <class Stream>
void tune_stream_socket(Stream& stream, std::size_t send_buffer_bytes) {
  using socket_type = std::remove_reference_t<decltype(socket_of(stream))>;
  if constexpr (has_async_wait<socket_type>::value) {
    error_code ignored;
    auto& socket = socket_of(stream);
    socket.set_option(net::ip::tcp::no_delay(true), ignored);
    if (send_buffer_bytes != 0) {
      const auto half = static_cast<int>(std::min<std::size_t>(send_buffer_bytes / 2, 1 << 30));
      socket.set_option(net::socket_base::send_buffer_size(half), ignored);
    }
  }
}

// One stream's state, shared by its pending operations and the hub's close
// handler; event_stream holds it weakly.
template <class Stream, class Clock>
class event_stream_connection final
    : public event_stream_control,
      public std::enable_shared_from_this<event_stream_connection<Stream, Clock>> {
 public:
  using hub_type = ssepp::hub<stream_transport<Stream>, Clock>;

  event_stream_connection(std::shared_ptr<Stream> stream, net::any_io_executor strand,
                          event_stream_options& options)
      : stream_(std::move(stream)),
        strand_(std::move(strand)),
        on_close_(std::move(options.on_close)),
        send_buffer_bytes_(options.send_buffer_bytes) {
    watch_.max_bytes = options.max_client_bytes;
  }

  event_stream start(hub_type& hub, const std::vector<std::string>& channels,
                     event_stream_options& options) {
    stream_transport<Stream> transport(stream_, strand_, event_stream_head(options.fields));
    auto self = this->shared_from_this();
    // The handler holds the connection (and so the subscription): were the
    // connection to go first, the subscription's reset would cancel this
    // very notification. The hub calls it for every close it makes, and
    // reset() drops it, so no cycle outlives the stream.
    //
    // Posted, never dispatched: the hub calls it inside subscribe() when
    // the replay alone overflows the queue, and on_close must not run
    // inside start_event_stream, whose caller may hold a lock on_close
    // takes, or not have stored the returned handle yet.
    auto on_close = [self](close_reason why, std::error_code ec) {
      net::post(self->strand_, [self, why, ec] { self->finish(why, ec); });
    };
    subscription_ = options.replay ? hub.subscribe_with_replay(channels, transport, *options.replay,
                                                               std::move(on_close), options.shard)
                                   : hub.subscribe(channels, transport, options.last_event_id,
                                                   std::move(on_close), options.shard);
    // Until the handlers below run, none on the strand touches
    // subscription_ (finish() does not), so assigning it here is safe.
    if (!subscription_.active()) {
      // No channels (nothing subscribed, the hub reports nothing) or a
      // replay that overflowed (the hub's report, posted above, runs first
      // on the strand and its reason wins): posted for the same reason.
      net::post(strand_, [self] { self->finish(close_reason::hub_closed, {}); });
    } else {
      net::dispatch(strand_, [self, transport]() mutable {
        tune_stream_socket(*self->stream_, self->send_buffer_bytes_);
        transport.send_preamble();
        watch_client(self);
      });
    }
    return event_stream(std::weak_ptr<event_stream_control>(self));
  }

  void close() override {
    auto self = this->shared_from_this();
    net::dispatch(strand_, [self] { self->end(close_reason::hub_closed, {}); });
  }

  // The watch's side (watch_client), on the strand.
  Stream& watched_stream() { return *stream_; }
  net::any_io_executor watch_strand() const { return strand_; }
  client_watch& watch_state() { return watch_; }
  void client_left(std::error_code ec) { end(close_reason::peer_gone, ec); }

 private:
  // The stream ends from this side (the client left, or close()). When the
  // hub closed it instead, the read fails because the hub closed the
  // socket, and the subscription is no longer active: the hub's handler
  // reports that close (with its reason), so it is left to it.
  void end(close_reason why, std::error_code ec) {
    if (subscription_.active()) {
      subscription_.reset();  // unsubscribes without calling the handler
      finish(why, ec);
    }
    close_stream(*stream_);
  }

  // On the strand: the one report of the stream's end.
  void finish(close_reason why, std::error_code ec) {
    if (!open.exchange(false)) return;
    close_stream(*stream_);
    if (auto handler = std::move(on_close_)) handler(why, ec);
    on_close_ = nullptr;
  }

  std::shared_ptr<Stream> stream_;
  net::any_io_executor strand_;
  // Everything below is used on strand_ only.
  typename hub_type::subscription subscription_;
  std::function<void(close_reason, std::error_code)> on_close_;
  client_watch watch_;
  std::size_t send_buffer_bytes_;
};
}  // namespace detail

template <class Stream, class Clock>
event_stream start_event_stream(ssepp::hub<stream_transport<Stream>, Clock>& hub,
                                std::shared_ptr<Stream> stream, std::vector<std::string> channels,
                                event_stream_options options) {
  net::any_io_executor strand =
      options.strand ? std::move(*options.strand) : net::any_io_executor(stream->get_executor());
  auto connection = std::make_shared<detail::event_stream_connection<Stream, Clock>>(
      std::move(stream), std::move(strand), options);
  return connection->start(hub, channels, options);
}

}  // namespace SSEPP_ASIO_FLAVOUR
}  // namespace ssepp::asio
