// Runs a hub's two timers on an Asio executor: `tick()` at a fixed interval
// (heartbeats, history aging) and `flush()` when the hub's write coalescing
// asks for it (hub_options::schedule_flush). One driver per hub, on either
// Asio flavour (net.hpp).
#pragma once

#include "net.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>

#include "../hub.hpp"

namespace ssepp::asio {
inline namespace SSEPP_ASIO_FLAVOUR {

/// Tuning of a hub_driver.
struct hub_driver_options {
  /// How often `hub::tick()` runs. `start()` shortens it to half the hub's
  /// heartbeat interval (but not below 10 ms) when that is shorter, so an
  /// idle stream hears a heartbeat within 1.5 intervals. Default 1 s, as
  /// hub::tick() asks.
  std::chrono::milliseconds tick_interval = std::chrono::seconds{1};
};

/// Calls a hub's `tick()` periodically and its `flush()` when the hub asks
/// through `hub_options::schedule_flush`, on timers of its own (run on a
/// strand made on the given executor).
///
/// The hub needs the flush scheduler before it is constructed, so the order
/// is: driver, then hub with the driver's options, then `start`:
///
///     ssepp::asio::hub_driver driver(io.get_executor());
///     ssepp::hub<transport> hub(driver.wire(options));
///     driver.start(hub);
///     ...
///     driver.stop();  // before the hub goes
///
/// Lifetime:
/// - The hub must outlive the *running* driver: call `stop()` (or destroy
///   the driver) before the hub is destroyed. (Declared in the order above,
///   the hub is destroyed first: stop explicitly.)
/// - The hub may outlive the driver: the `schedule_flush` it holds refers
///   to the driver weakly and does nothing once the driver is gone.
/// - Like any Asio I/O object, the driver must be destroyed before its
///   execution context.
/// - A graceful stop needs no flush: `hub::close_all()` writes each
///   subscriber's queue without coalescing, so `stop()` may follow it at
///   once; the drain completes on the transports' own executors.
///
/// A flush the hub asks for before `start` is held and runs at `start`, so
/// none is lost (the hub asks again only after a flush).
///
/// Thread safety: `schedule_flush()`'s function, `stop()` and `running()`
/// may be called from any thread; `wire`, `schedule_flush` and `start` from
/// one thread, before the driver runs. `stop()` waits for a `tick()` or
/// `flush()` in progress on another thread, and none begins after it
/// returns; called from inside one (a close handler calling stop), it
/// returns at once and that call finishes first.
class hub_driver {
 public:
  /// `executor`: where the timers run (a strand is made on it).
  explicit hub_driver(net::any_io_executor executor, hub_driver_options options = {})
      : state_(std::make_shared<state>(std::move(executor))), options_(options) {}
  hub_driver(const hub_driver&) = delete;
  hub_driver& operator=(const hub_driver&) = delete;
  /// Stops the driver (see stop()).
  ~hub_driver() { stop(); }

  /// The function to put in `hub_options::schedule_flush`. It only posts
  /// to the driver's strand, as the hub requires (it calls it with its
  /// locks held, from any thread).
  std::function<void(std::chrono::microseconds)> schedule_flush() const {
    std::weak_ptr<state> weak = state_;
    return [weak](std::chrono::microseconds delay) {
      if (auto st = weak.lock()) net::post(st->strand, [st, delay] { st->arm_flush(delay); });
    };
  }

  /// `options` with `schedule_flush` set to this driver's, unless it
  /// already holds a scheduler of the caller's own (which then wins, and
  /// the driver only ticks).
  hub_options wire(hub_options options) const {
    if (!options.schedule_flush) options.schedule_flush = schedule_flush();
    return options;
  }

  /// Starts ticking `hub` and serving its flushes. `Hub` is an ssepp::hub
  /// (anything with `tick()`, `flush()` and `options().heartbeat_interval`).
  /// Only the first call on a driver that was not stopped has an effect.
  template <class Hub>
  void start(Hub& hub) {
    auto& st = *state_;
    std::lock_guard<std::recursive_mutex> lock(st.mutex);
    if (st.started || st.stopped) return;
    st.started = true;
    Hub* const h = &hub;
    st.tick = [h] { h->tick(); };
    st.flush = [h] { h->flush(); };
    st.interval = std::max(options_.tick_interval, std::chrono::milliseconds{1});
    const auto heartbeat = hub.options().heartbeat_interval;
    if (heartbeat.count() > 0 && heartbeat < 2 * st.interval)
      st.interval = std::max(std::chrono::milliseconds{10}, heartbeat / 2);
    net::post(st.strand, [s = state_] { s->begin(); });
  }

  /// Stops both timers; no `tick()` or `flush()` runs after it returns
  /// (see the class comment for a call from inside one). Idempotent.
  void stop() {
    {
      std::lock_guard<std::recursive_mutex> lock(state_->mutex);
      if (state_->stopped) return;
      state_->stopped = true;
    }
    // Timers are not safe for concurrent use: cancel them on their strand.
    // The cancelled waits complete at once, so a run() with nothing else to
    // do returns.
    net::post(state_->strand, [st = state_] {
      st->tick_timer.cancel();
      st->flush_timer.cancel();
    });
  }

  /// True between `start()` and `stop()`.
  bool running() const {
    std::lock_guard<std::recursive_mutex> lock(state_->mutex);
    return state_->started && !state_->stopped;
  }

  /// The interval `start()` settled on (see hub_driver_options).
  std::chrono::milliseconds tick_interval() const {
    std::lock_guard<std::recursive_mutex> lock(state_->mutex);
    return state_->interval;
  }

 private:
  // Shared with the handlers and (weakly) with the hub's schedule_flush, so
  // neither touches a destroyed driver.
  struct state : std::enable_shared_from_this<state> {
    explicit state(net::any_io_executor executor)
        : strand(net::make_strand(executor)), tick_timer(strand), flush_timer(strand) {}

    // Runs on the strand once started.
    void begin() {
      std::lock_guard<std::recursive_mutex> lock(mutex);
      if (stopped) return;
      arm_tick();
      if (std::exchange(flush_pending, false)) flush();
    }

    // On the strand, with mutex held.
    void arm_tick() {
      tick_timer.expires_after(interval);
      tick_timer.async_wait([self = shared_from_this()](error_code ec) {
        if (ec) return;
        std::lock_guard<std::recursive_mutex> lock(self->mutex);
        if (self->stopped) return;
        self->tick();
        if (!self->stopped) self->arm_tick();  // tick may have run a stop()
      });
    }

    // On the strand. The hub asks once per flush, so at most one wait is
    // pending; an earlier expiry is kept rather than pushed back.
    void arm_flush(std::chrono::microseconds delay) {
      const auto when = net::steady_timer::clock_type::now() + delay;
      if (flush_armed && flush_timer.expiry() <= when) return;
      flush_armed = true;
      flush_timer.expires_at(when);
      flush_timer.async_wait([self = shared_from_this()](error_code ec) {
        if (ec) return;  // cancelled by stop(), or re-armed earlier
        self->flush_armed = false;
        std::lock_guard<std::recursive_mutex> lock(self->mutex);
        if (self->stopped) return;
        if (!self->started) {
          self->flush_pending = true;  // begin() runs it
          return;
        }
        self->flush();
      });
    }

    net::any_io_executor strand;
    // Used on the strand only.
    net::steady_timer tick_timer;
    net::steady_timer flush_timer;
    bool flush_armed = false;

    // `mutex` guards what follows and is held while tick() or flush() runs:
    // taking it is how stop() waits for a call in progress. Recursive, so a
    // stop() from inside a call (a close handler) does not deadlock. Lock
    // order: this, then the hub's locks; schedule_flush never takes it,
    // since the hub calls that with its own locks held.
    mutable std::recursive_mutex mutex;
    std::function<void()> tick;
    std::function<void()> flush;
    std::chrono::milliseconds interval{0};
    bool started = false;
    bool stopped = false;
    bool flush_pending = false;
  };

  std::shared_ptr<state> state_;
  hub_driver_options options_;
};

}  // namespace SSEPP_ASIO_FLAVOUR
}  // namespace ssepp::asio
