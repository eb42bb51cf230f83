// A transport for blocking, pull-style servers (cpp-httplib's content
// provider, a CGI loop, any server that writes a response body from its own
// thread): the hub queues bytes without blocking, and the server's thread
// pulls them out and writes them with its own blocking write. Standard
// library only.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "transport.hpp"

namespace ssepp {

class pull_stream;

namespace detail {

// A move-only, type-erased completion handler: the transport concept lets a
// handler be move-only, so std::function (which must copy) will not do.
class pull_handler {
 public:
  pull_handler() = default;
  template <class Handler>
  explicit pull_handler(Handler&& h)
      : impl_(std::make_unique<model<std::decay_t<Handler>>>(std::forward<Handler>(h))) {}
  explicit operator bool() const noexcept { return impl_ != nullptr; }
  void operator()(std::error_code ec, std::size_t bytes) { impl_->call(ec, bytes); }

 private:
  struct concept_base {
    virtual ~concept_base() = default;
    virtual void call(std::error_code, std::size_t) = 0;
  };
  template <class Handler>
  struct model final : concept_base {
    explicit model(Handler h) : handler(std::move(h)) {}
    void call(std::error_code ec, std::size_t bytes) override { handler(ec, bytes); }
    Handler handler;
  };
  std::unique_ptr<concept_base> impl_;
};

// What a pull_stream and its transports share. Owned by the pull_stream
// alone; transports hold it weakly. That is what keeps this design free of
// cycles: a queued handler owns the hub's subscriber, which owns the
// transport, and a strong pointer from there back to this state would keep
// all of it alive whenever nobody pulls the handler out again.
struct pull_state {
  std::mutex mutex;
  std::condition_variable wake;
  // Guarded by mutex:
  std::vector<std::string_view> buffers;  // the outstanding write's bytes
  pull_handler handler;                   // empty: no write outstanding
  bool closed = false;                    // the transport side called close()
  bool failed = false;                    // a write of the puller failed
};

}  // namespace detail

/// The hub's end of a pull_stream: models the transport concept
/// (transport.hpp). Made by `pull_stream::transport()`; copies and moves
/// refer to the same stream.
///
/// - `async_write` records the buffers (views: the hub keeps the bytes valid
///   until the handler runs) and wakes the puller. It never blocks on the
///   client, and never calls the handler itself: the puller's thread does,
///   after writing, so the hub's locks are never re-entered.
/// - `close` wakes the puller, which then reports `pull_status::closed`; an
///   outstanding write completes with std::errc::operation_canceled, its
///   bytes unwritten, as closing a socket aborts its write.
/// - After the pull_stream is destroyed, `async_write` destroys the handler
///   without calling it (no thread is left to call it on, as Asio destroys
///   the handlers of an io_context that will not run again); unsubscribe
///   first, as ssepp::httplib does, and this never happens.
///
/// Thread safety: every member function may be called from any thread,
/// concurrently with the pull_stream's.
class pull_transport {
 public:
  template <class Handler>
  void async_write(buffer_span buffers, Handler&& handler) {
    const auto state = state_.lock();
    if (!state) return;  // the puller is gone: see the class comment
    {
      std::lock_guard<std::mutex> lock(state->mutex);
      // The hub keeps one write outstanding per transport (transport.hpp).
      if (state->handler) return;
      state->buffers.assign(buffers.begin(), buffers.end());
      state->handler = detail::pull_handler(std::forward<Handler>(handler));
    }
    state->wake.notify_all();
  }

  void close() noexcept {
    const auto state = state_.lock();
    if (!state) return;
    {
      std::lock_guard<std::mutex> lock(state->mutex);
      state->closed = true;
    }
    state->wake.notify_all();
  }

 private:
  friend class pull_stream;
  explicit pull_transport(std::weak_ptr<detail::pull_state> s) : state_(std::move(s)) {}
  std::weak_ptr<detail::pull_state> state_;
};

static_assert(check_transport<pull_transport>());

/// What `pull_stream::pull_for` / `pull_until` found.
enum class pull_status {
  written,  ///< bytes were queued, written, and the write completed
  timeout,  ///< nothing came before the deadline: check the client, pull again
  closed,   ///< the transport was closed (by the hub): end the response
  failed,   ///< a write failed (now or before): the client is gone
};

/// The server thread's end: a queue of at most one write, which the thread
/// that serves the response pulls from.
///
///   ssepp::pull_stream stream;
///   auto sub = hub.subscribe({"news"}, stream.transport());
///   for (;;) {
///     auto st = stream.pull_for(200ms, [&](std::string_view bytes) {
///       return blocking_write(socket, bytes);  // false: the client left
///     });
///     if (st == ssepp::pull_status::closed || st == ssepp::pull_status::failed) break;
///     if (st == ssepp::pull_status::timeout && !client_still_there()) break;
///   }
///
/// `write` is called with each non-empty buffer of the write, in order; it
/// returns true when all of the bytes were written, false on failure. A
/// failure completes the hub's write with std::errc::broken_pipe (the hub
/// then drops the subscriber as close_reason::peer_gone) and every later
/// pull returns `failed` at once.
///
/// Destroying the stream completes an outstanding write with
/// std::errc::broken_pipe, on the destroying thread.
///
/// Thread safety: one thread at a time pulls (pull_for, pull_until,
/// destruction); `transport()` may be called from any thread.
class pull_stream {
 public:
  pull_stream() = default;
  pull_stream(const pull_stream&) = delete;
  pull_stream& operator=(const pull_stream&) = delete;
  ~pull_stream() {
    detail::pull_handler handler;
    {
      std::lock_guard<std::mutex> lock(state_->mutex);
      handler = std::move(state_->handler);
      state_->buffers.clear();
    }
    if (handler) handler(std::make_error_code(std::errc::broken_pipe), 0);
  }

  /// A transport for the hub to write to. Holds the stream weakly.
  pull_transport transport() const { return pull_transport{state_}; }

  /// Waits until the hub queues bytes, the transport is closed, or
  /// `timeout` passes, then writes and completes as the class comment says.
  /// Blocks for at most `timeout` plus the time `write` takes.
  template <class Rep, class Period, class Write>
  pull_status pull_for(std::chrono::duration<Rep, Period> timeout, Write&& write) {
    return pull_until(std::chrono::steady_clock::now() + timeout, std::forward<Write>(write));
  }

  /// pull_for with a deadline.
  template <class Write>
  pull_status pull_until(std::chrono::steady_clock::time_point deadline, Write&& write) {
    detail::pull_handler handler;
    std::vector<std::string_view> buffers;
    bool closed = false;
    {
      std::unique_lock<std::mutex> lock(state_->mutex);
      auto& s = *state_;
      s.wake.wait_until(lock, deadline, [&] { return s.handler || s.closed || s.failed; });
      if (s.failed) return pull_status::failed;
      if (!s.handler && !s.closed) return pull_status::timeout;
      closed = s.closed;
      handler = std::move(s.handler);
      buffers.swap(s.buffers);
    }
    if (closed) {
      // Closed with a write outstanding: abort it, as closing a socket does.
      if (handler) handler(std::make_error_code(std::errc::operation_canceled), 0);
      return pull_status::closed;
    }
    // Written outside the lock, so a slow client never blocks the hub's
    // close(), which runs with the hub's locks held. The views stay valid:
    // the hub keeps the bytes until the handler has run.
    std::size_t written = 0;
    for (const auto b : buffers) {
      if (b.empty()) continue;  // some servers take a zero-byte write as end of body
      if (!write(b)) {
        {
          std::lock_guard<std::mutex> lock(state_->mutex);
          state_->failed = true;
        }
        handler(std::make_error_code(std::errc::broken_pipe), written);
        return pull_status::failed;
      }
      written += b.size();
    }
    handler(std::error_code{}, written);
    return pull_status::written;
  }

 private:
  std::shared_ptr<detail::pull_state> state_ = std::make_shared<detail::pull_state>();
};

}  // namespace ssepp
