// Test doubles for users' own tests (and ssepp's): an in-memory transport
// that records bytes and can stall, fail or close on demand, and a virtual
// clock, so hub behaviour (heartbeats, history age) is tested without sleep.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "transport.hpp"

namespace ssepp::testing {

/// A clock whose time moves only when told. Copies share one time, so a hub
/// holding a copy sees `advance` calls made on the test's copy.
///
/// Thread safety: `now` and `advance` may be called concurrently.
class virtual_clock {
 public:
  using duration = std::chrono::steady_clock::duration;
  using time_point = std::chrono::steady_clock::time_point;

  time_point now() const noexcept { return time_point{duration{ticks_->load()}}; }
  void advance(duration d) noexcept { ticks_->fetch_add(d.count()); }

 private:
  std::shared_ptr<std::atomic<duration::rep>> ticks_ =
      std::make_shared<std::atomic<duration::rep>>(duration::rep{1'000'000'000});
};

class memory_loop;
class memory_peer;

namespace detail {
struct memory_connection {
  std::string received;
  std::vector<std::string_view> pending;  // the outstanding write's buffers
  std::function<void(std::error_code, std::size_t)> handler;
  bool stalled = false;
  bool gone = false;    // the client left: writes fail with broken_pipe
  bool closed = false;  // the server side called close()
  std::size_t writes = 0;
  std::size_t pending_index = 0;  // which write (1-based) is outstanding
  std::size_t fail_write = 0;     // 1-based index of a write that fails; 0: none
  std::error_code fail_with;
  std::size_t concurrent_writes_seen = 0;  // > 0 breaks the one-write rule
};
struct memory_shared {
  std::mutex mutex;
  std::vector<std::shared_ptr<memory_connection>> connections;
};
}  // namespace detail

/// The server side of an in-memory connection: models the transport concept.
/// Writes complete only when the test runs `memory_loop::run()`, never inline.
///
/// Thread safety: may be used from any thread.
class memory_transport {
 public:
  template <class Handler>
  void async_write(buffer_span buffers, Handler&& handler) {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    auto& c = *connection_;
    if (c.handler) ++c.concurrent_writes_seen;
    c.pending_index = ++c.writes;
    c.pending.assign(buffers.begin(), buffers.end());
    c.handler = std::forward<Handler>(handler);
  }
  /// An outstanding write then completes (at the next `memory_loop::run`,
  /// stalled or not) with std::errc::operation_canceled, writing nothing.
  void close() noexcept {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    connection_->closed = true;
  }

 private:
  friend class memory_loop;
  memory_transport(std::shared_ptr<detail::memory_shared> shared,
                   std::shared_ptr<detail::memory_connection> connection)
      : shared_(std::move(shared)), connection_(std::move(connection)) {}
  std::shared_ptr<detail::memory_shared> shared_;
  std::shared_ptr<detail::memory_connection> connection_;
};

/// The client side of an in-memory connection, for the test to inspect and
/// to inject faults.
///
/// Thread safety: may be used from any thread.
class memory_peer {
  // (Defined first: the members below deduce their return types from it.)
  template <class F>
  auto locked(F&& f) const {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    return f(*connection_);
  }

 public:
  /// Every byte whose write has completed.
  std::string received() const {
    return locked([](auto& c) { return c.received; });
  }
  /// Writes started so far (completed or not).
  std::size_t writes() const {
    return locked([](auto& c) { return c.writes; });
  }
  /// True once the server side called close().
  bool closed() const {
    return locked([](auto& c) { return c.closed; });
  }
  /// True while a write is outstanding.
  bool write_pending() const {
    return locked([](auto& c) { return bool(c.handler); });
  }
  /// True if a write was ever started while another was outstanding.
  bool saw_concurrent_writes() const {
    return locked([](auto& c) { return c.concurrent_writes_seen != 0; });
  }
  /// A stalled client reads nothing: its writes stay outstanding.
  void stall(bool on = true) {
    locked([&](auto& c) { return c.stalled = on; });  // NOLINT: value unused
  }
  /// The client goes away: the outstanding write and later ones fail with
  /// broken_pipe, as a socket write to a departed peer does.
  void disconnect() {
    locked([](auto& c) { return c.gone = true; });
  }
  /// The n-th write (counting from 1 over the connection's life) fails
  /// with `ec`; for reaching every error path by looping n = 1, 2, ...
  void fail_write(std::size_t n,
                  std::error_code ec = std::make_error_code(std::errc::connection_reset)) {
    locked([&](auto& c) {
      c.fail_write = n;
      c.fail_with = ec;
      return 0;
    });
  }

 private:
  friend class memory_loop;
  std::shared_ptr<detail::memory_shared> shared_;
  std::shared_ptr<detail::memory_connection> connection_;
};

/// Creates in-memory connections and completes their writes on demand.
/// Like an io_context it is neither copied nor moved, and destroying it
/// destroys the handlers of writes it never completed.
///
/// Thread safety: `connect` and `run` may be called from any thread.
class memory_loop {
 public:
  memory_loop() = default;
  memory_loop(const memory_loop&) = delete;
  memory_loop& operator=(const memory_loop&) = delete;
  // A handler never run owns what it was given (a hub's subscriber, which
  // owns the transport, which owns the connection holding the handler): a
  // cycle nothing else would break, leaking the server side of a test that
  // ends with a write outstanding.
  ~memory_loop() {
    std::vector<std::function<void(std::error_code, std::size_t)>> never_run;
    {
      std::lock_guard<std::mutex> lock(shared_->mutex);
      for (auto& c : shared_->connections)
        if (c->handler) never_run.push_back(std::exchange(c->handler, nullptr));
    }
  }

  /// A new connection: the transport for the server, the peer for the test.
  std::pair<memory_transport, memory_peer> connect() {
    auto connection = std::make_shared<detail::memory_connection>();
    {
      std::lock_guard<std::mutex> lock(shared_->mutex);
      shared_->connections.push_back(connection);
    }
    memory_peer peer;
    peer.shared_ = shared_;
    peer.connection_ = connection;
    return {memory_transport{shared_, connection}, std::move(peer)};
  }

  /// Completes outstanding writes (and the writes their handlers start)
  /// until none is left that can complete. Returns how many completed.
  std::size_t run() {
    std::size_t completed = 0;
    for (;;) {
      std::vector<std::pair<std::function<void(std::error_code, std::size_t)>,
                            std::pair<std::error_code, std::size_t>>>
          ready;
      {
        std::lock_guard<std::mutex> lock(shared_->mutex);
        for (auto& c : shared_->connections) {
          // A closed connection completes its outstanding write even when
          // stalled: transport.hpp promises that close() lets it complete,
          // and a handler kept forever would keep its owner alive forever.
          if (!c->handler || (c->stalled && !c->gone && !c->closed)) continue;
          std::error_code ec;
          std::size_t n = 0;
          if (c->gone) {
            ec = std::make_error_code(std::errc::broken_pipe);
          } else if (c->closed) {
            ec = std::make_error_code(
                std::errc::operation_canceled);  // as closing a socket aborts its write
          } else if (c->pending_index == c->fail_write) {
            ec = c->fail_with;
          } else {
            for (const auto& b : c->pending) c->received.append(b.data(), b.size());
            n = buffer_span{c->pending.data(), c->pending.size()}.bytes();
          }
          c->pending.clear();
          ready.emplace_back(std::exchange(c->handler, nullptr), std::make_pair(ec, n));
        }
      }
      if (ready.empty()) return completed;
      for (auto& [handler, result] : ready) handler(result.first, result.second);
      completed += ready.size();
    }
  }

 private:
  std::shared_ptr<detail::memory_shared> shared_ = std::make_shared<detail::memory_shared>();
};

}  // namespace ssepp::testing
