// Channels, history and fan-out on any transport: publish an event once and
// every subscriber of its channel receives it, with nothing lost across a
// reconnect that carries Last-Event-ID. No I/O of its own: it writes through
// the transport concept (transport.hpp).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "detail/json.hpp"
#include "detail/ring.hpp"
#include "error.hpp"
#include "event.hpp"
#include "format.hpp"
#include "http/decimal.hpp"
#include "transport.hpp"

namespace ssepp {

/// What a hub does when a subscriber's queue is full (it reads slower than
/// events are published).
enum class overflow_policy {
  /// Close the connection. The client reconnects with Last-Event-ID and the
  /// history fills the gap, so nothing is lost that the history still holds.
  /// The default: a silent gap is worse than a reconnect.
  disconnect,
  /// Drop the oldest queued events to make room; the client never learns.
  drop_oldest,
};

/// Why the hub closed a subscriber (reported to its close handler).
enum class close_reason {
  peer_gone,      ///< a write failed: the client left (a normal close)
  slow_consumer,  ///< its queue overflowed under overflow_policy::disconnect
  hub_closed,     ///< `hub::close_all` ended the stream
};

/// Tuning of a hub; every field has a production-ready default.
struct hub_options {
  /// Per subscriber: events waiting to be written (bounds memory per slow
  /// client together with max_queued_bytes).
  std::size_t max_queued_events = 1024;
  /// Per subscriber: bytes waiting or being written.
  std::size_t max_queued_bytes = std::size_t{1} << 20;
  overflow_policy overflow = overflow_policy::disconnect;
  /// At most this many queued events go out in one gather write.
  std::size_t max_events_per_write = 64;
  /// Write coalescing. When a subscriber's previous write started less than
  /// this long ago, newly queued events wait (at most this long) and go out
  /// together in one gather write: under load many events share one system
  /// call, while an event after a quiet spell is written at once, so an idle
  /// stream gets no added latency. Takes effect only with `schedule_flush`
  /// (ssepp's Asio server sets it); zero turns coalescing off.
  ///
  /// Coalescing only ever delays a small write, never a backlog: once a
  /// waiting queue holds a full write (max_events_per_write events, or
  /// coalesce_bytes, or half of either queue bound) it is written at once,
  /// so a reader that keeps up is never cut off as a slow consumer.
  std::chrono::microseconds coalesce_window = std::chrono::milliseconds{10};
  /// Bytes that coalescing may hold back at most (see coalesce_window).
  std::size_t coalesce_bytes = 64 * 1024;
  /// Asks the owner to call `hub::flush()` once, `delay` from now. Called
  /// from any thread, with hub locks held: it must only schedule (arm a
  /// timer, post), never call into the hub itself.
  std::function<void(std::chrono::microseconds delay)> schedule_flush;
  /// Per channel history for Last-Event-ID replay, bounded three ways;
  /// whichever bound is hit first evicts the oldest events.
  std::size_t history_events = 1024;
  std::size_t history_bytes = std::size_t{1} << 20;
  std::chrono::milliseconds history_age = std::chrono::minutes{5};
  /// The history of all channels together, in bytes: each event counts its
  /// formatted size plus history_event_overhead for its bookkeeping. Past
  /// it, the oldest events of the whole hub are evicted first, whatever
  /// their channel (a resume from them then gets the gap event).
  std::size_t history_total_bytes = std::size_t{64} << 20;
  /// Channels at most. Making one more first drops the channel without
  /// subscribers whose history is oldest (with that history); when every
  /// channel has subscribers, publishing to a new channel fails with
  /// errc::too_many_channels and subscribing to one is refused.
  std::size_t max_channels = 100000;
  /// A comment line goes to subscribers that received nothing for this long,
  /// so proxies and platforms (Heroku cuts idle connections at 55 s) keep
  /// the stream open. Zero turns heartbeats off. Needs `tick()` calls.
  std::chrono::milliseconds heartbeat_interval = std::chrono::seconds{15};
  /// Sent as `retry:` to every new subscriber; nullopt sends none.
  std::optional<std::chrono::milliseconds> initial_retry = std::chrono::milliseconds{3000};
  /// Qualifies hub-assigned ids ("<epoch>-<sequence>") so an id from an
  /// earlier run of the process is never taken for a position in this run's
  /// history. Empty: a random one per hub. Must not contain '-'.
  std::string epoch;
  /// Type of the in-band event sent before live events when a subscriber's
  /// Last-Event-ID cannot be resumed from (unknown, or already evicted). Its
  /// data is JSON: {"lastEventId":"…","reason":"unknown"|"evicted"}.
  std::string gap_event_type = "ssepp-gap";
};

/// Counters of a hub's life, read with `hub::stats()`.
struct hub_stats {
  std::size_t channels = 0;
  std::size_t subscribers = 0;
  std::uint64_t published = 0;      ///< events accepted by publish
  std::uint64_t deliveries = 0;     ///< events written to a subscriber
  std::uint64_t bytes_written = 0;  ///< bytes of completed writes
  std::uint64_t writes = 0;         ///< completed gather writes
  std::uint64_t heartbeats = 0;
  std::uint64_t history_evictions = 0;  ///< by any history bound, channel drops included
  std::size_t history_events = 0;       ///< events held in all channels' history
  std::size_t history_bytes = 0;        ///< their cost (see history_total_bytes)
  std::uint64_t slow_consumer_disconnects = 0;
  std::uint64_t dropped_events = 0;  ///< overflow_policy::drop_oldest drops
};

/// What `hub::publish` returns: the id the event got, or why it was refused.
struct publish_result {
  std::error_code error;
  std::string id;
};

/// The default clock source of a hub: std::chrono::steady_clock.
struct steady_clock_source {
  using time_point = std::chrono::steady_clock::time_point;
  time_point now() const noexcept { return std::chrono::steady_clock::now(); }
};

namespace detail {

struct stored_event {
  std::uint64_t seq = 0;  // 0: not a channel event (retry, heartbeat, gap)
  std::string id;
  std::string bytes;  // formatted once, shared by every subscriber
  std::chrono::steady_clock::time_point published{};
};
using event_ptr = std::shared_ptr<const stored_event>;

// What one history event costs against hub_options::history_total_bytes:
// its bytes and id, the event itself with its shared_ptr control block, its
// slot in the channel's ring and its entry in the hub's eviction order.
inline std::size_t history_cost(const stored_event& e) {
  return e.bytes.size() + e.id.size() + sizeof(stored_event) + 96;
}

template <class Transport, class Clock>
class hub_core;

template <class Transport, class Clock>
struct subscriber {
  using core_type = hub_core<Transport, Clock>;

  subscriber(std::shared_ptr<core_type> c, Transport t)
      : core(std::move(c)), transport(std::move(t)) {}

  std::shared_ptr<core_type> core;
  std::weak_ptr<subscriber> self;  // set once by subscribe; for completion handlers
  std::mutex mutex;
  Transport transport;
  std::vector<std::string> channels;
  std::function<void(close_reason, std::error_code)> on_close;

  // Guarded by mutex:
  ring<event_ptr> queue;
  std::vector<event_ptr> in_flight;
  std::vector<std::string_view> buffers;
  std::size_t queued_bytes = 0;  // queued and in flight
  // The queue bounds: hub_options' plus what a reconnect's replay needed,
  // so a client that resumes from deep in the history is not cut off as a
  // slow consumer by the first live event (and reconnecting forever).
  std::size_t max_events = 0;
  std::size_t max_bytes = 0;
  std::chrono::steady_clock::time_point last_activity{};
  bool writing = false;
  bool deferred = false;  // waiting in the hub's flush list (coalescing)
  std::chrono::steady_clock::time_point last_write_start{};
  bool closing = false;  // close once the queue drains (graceful stop)
  bool closed = false;
  std::optional<close_reason> reason;  // set when the hub closed it
  std::error_code close_error;
  // The thread inside transport.async_write, while it is there (else no
  // thread): a completion arriving on that thread is inline, with `mutex`
  // held further up the same stack (see start_write_locked).
  std::atomic<std::thread::id> write_starter{};
};

template <class Transport, class Clock>
struct channel {
  using subscriber_ptr = std::shared_ptr<subscriber<Transport, Clock>>;
  explicit channel(std::string n) : name(std::move(n)) {}
  const std::string name;
  std::mutex mutex;
  std::vector<subscriber_ptr> subscribers;
  ring<event_ptr> history;
  std::size_t history_bytes = 0;
  // Highest seq evicted from history. Written under mutex; atomic because
  // the hub's eviction order reads it without the lock to skip its entries
  // for events already gone.
  std::atomic<std::uint64_t> evicted_up_to{0};
  std::size_t multi_channel_subscribers = 0;  // subscribers of more than this channel
  bool dead = false;                          // removed from the hub's map
};

inline std::string random_epoch() {
  std::random_device device;
  std::uint64_t bits =
      (std::uint64_t{device()} << 32) ^ device() ^
      static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  static constexpr char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string s;
  for (int i = 0; i < 8; ++i, bits /= 36) s.push_back(digits[bits % 36]);
  return s;
}

template <class Transport, class Clock>
class hub_core : public std::enable_shared_from_this<hub_core<Transport, Clock>> {
 public:
  using subscriber_type = subscriber<Transport, Clock>;
  using subscriber_ptr = std::shared_ptr<subscriber_type>;
  using channel_type = channel<Transport, Clock>;
  using channel_ptr = std::shared_ptr<channel_type>;

  hub_core(hub_options o, Clock c) : options(std::move(o)), clock(std::move(c)) {
    if (options.epoch.empty()) options.epoch = random_epoch();
    if (options.max_events_per_write == 0) options.max_events_per_write = 1;
    heartbeat = make_control(":\n");
    if (options.initial_retry) {
      std::string bytes;
      (void)format_retry(bytes, *options.initial_retry);
      bytes.push_back('\n');
      initial_retry = make_control(std::move(bytes));
    }
  }

  static event_ptr make_control(std::string bytes) {
    auto e = std::make_shared<stored_event>();
    e->bytes = std::move(bytes);
    return e;
  }

  // --- channels -----------------------------------------------------------

  // Null when max_channels are all in use by subscribers.
  channel_ptr find_or_create(std::string_view name) {
    std::lock_guard<std::mutex> lock(channels_mutex);
    auto it = channels.find(std::string(name));
    if (it != channels.end()) return it->second;
    if (channels.size() >= options.max_channels && !drop_oldest_idle_channel()) return nullptr;
    auto c = std::make_shared<channel_type>(std::string(name));
    // A channel made anew cannot know what an earlier one of this name
    // evicted; assume the worst of any dropped channel, so a late reconnect
    // gets the gap event (at worst a needless one) rather than a silent gap.
    c->evicted_up_to = dropped_evicted_up_to;
    channels.emplace(std::string(name), c);
    return c;
  }

  // At max_channels (callers hold channels_mutex): drops the channel without
  // subscribers whose oldest event is oldest, history and all. A scan of
  // every channel, but only when a new one is made at the limit.
  bool drop_oldest_idle_channel() {
    channel_ptr victim;
    std::uint64_t victim_front = 0;
    for (const auto& entry : channels) {
      std::lock_guard<std::mutex> lock(entry.second->mutex);
      if (!entry.second->subscribers.empty()) continue;
      auto& h = entry.second->history;
      const std::uint64_t front = h.empty() ? 0 : h.front()->seq;
      if (!victim || front < victim_front) {
        victim = entry.second;
        victim_front = front;
      }
    }
    if (!victim) return false;
    std::lock_guard<std::mutex> lock(victim->mutex);
    while (!victim->history.empty()) evict_front_locked(*victim);
    dropped_evicted_up_to = std::max(dropped_evicted_up_to, victim->evicted_up_to.load());
    victim->dead = true;
    channels.erase(victim->name);
    return true;
  }

  // Locks a live channel by name (re-looking it up if it was dropped between
  // the lookup and the lock, so nothing is published into a dead channel);
  // a null channel when max_channels are in use.
  // Lock order everywhere: channels_mutex, then a channel, then order_mutex
  // or a subscriber; never channels_mutex while holding a channel.
  std::pair<channel_ptr, std::unique_lock<std::mutex>> lock_channel(std::string_view name) {
    for (;;) {
      channel_ptr c = find_or_create(name);
      if (!c) return {};
      std::unique_lock<std::mutex> lock(c->mutex);
      if (!c->dead) return {std::move(c), std::move(lock)};
    }
  }

  // Drops a channel that has neither subscribers nor history.
  void drop_if_unused(std::string_view name) {
    std::lock_guard<std::mutex> map_lock(channels_mutex);
    auto it = channels.find(std::string(name));
    if (it == channels.end()) return;
    // Held past the lock: erasing the map's pointer may destroy the channel,
    // whose mutex must outlive its unlock.
    const channel_ptr c = it->second;
    std::lock_guard<std::mutex> lock(c->mutex);
    if (!c->subscribers.empty() || !c->history.empty()) return;
    dropped_evicted_up_to = std::max(dropped_evicted_up_to, c->evicted_up_to.load());
    c->dead = true;
    channels.erase(it);
  }

  // --- history --------------------------------------------------------------

  // The life of a history event: publish appends it to its channel's
  // history and, under order_mutex, to `history_order` (the whole hub's
  // events in id order) and to the totals. It leaves by its channel's
  // bounds (evict, oldest first), by the total bound (evict_over_total,
  // the hub's oldest first), or with its channel (drop_oldest_idle_channel);
  // each way goes through evict_front_locked. Its history_order entry is
  // not removed then (it may be anywhere in the ring): an entry whose seq
  // is at most its channel's evicted_up_to is stale, skipped when it comes
  // to the front and swept out when stale entries outnumber live ones.

  // Per channel bounds (count, bytes, age); the caller holds c.mutex.
  void evict(channel_type& c, std::chrono::steady_clock::time_point now) {
    auto over = [&] {
      if (c.history.empty()) return false;
      const auto& oldest = *c.history.front();
      return c.history.size() > options.history_events || c.history_bytes > options.history_bytes ||
             now - oldest.published > options.history_age;
    };
    while (over()) evict_front_locked(c);
  }

  void evict_front_locked(channel_type& c) {
    const auto& oldest = *c.history.front();
    c.evicted_up_to.store(oldest.seq, std::memory_order_relaxed);
    c.history_bytes -= oldest.bytes.size();
    {
      std::lock_guard<std::mutex> lock(order_mutex);
      history_total -= history_cost(oldest);
      --history_count;
    }
    c.history.pop_front();
    history_evictions.fetch_add(1, std::memory_order_relaxed);
  }

  // Appends a just-published event to the hub's eviction order; the caller
  // holds order_mutex (and the event's channel).
  void record_history_locked(const channel_ptr& c, const stored_event& e) {
    history_total += history_cost(e);
    ++history_count;
    history_order.push_back({c, e.seq});
    if (history_order.size() > 2 * history_count + 64) {
      // Sweep stale entries: amortised O(1) per event, and the ring stays
      // within twice the live history.
      ring<order_entry> live;
      for (std::size_t i = 0; i < history_order.size(); ++i) {
        const auto& entry = history_order[i];
        const auto ch = entry.channel.lock();
        if (ch && entry.seq > ch->evicted_up_to.load(std::memory_order_relaxed))
          live.push_back(entry);
      }
      history_order = std::move(live);
    }
  }

  // The total bound: evicts the hub's oldest events until the history fits.
  // Called with no lock held.
  void evict_over_total() {
    for (;;) {
      order_entry oldest;
      {
        std::lock_guard<std::mutex> lock(order_mutex);
        if (history_total <= options.history_total_bytes || history_order.empty()) return;
        oldest = std::move(history_order.front());
        history_order.pop_front();
      }
      const auto c = oldest.channel.lock();
      if (!c) continue;
      bool emptied = false;
      {
        std::lock_guard<std::mutex> lock(c->mutex);
        // Usually exactly the front; nothing if its channel evicted it first.
        while (!c->history.empty() && c->history.front()->seq <= oldest.seq) evict_front_locked(*c);
        emptied = c->history.empty() && c->subscribers.empty();
      }
      if (emptied) drop_if_unused(c->name);
    }
  }

  // --- per-subscriber queue (callers hold s.mutex) ---------------------------

  // `bounded` is false for a reconnect's replay: history has bounds of its
  // own, and refusing it would make the client reconnect forever.
  void enqueue_locked(subscriber_type& s, const event_ptr& e, bool bounded = true) {
    if (s.closed || s.closing) return;
    const std::size_t size = e->bytes.size();
    auto fits = [&] {
      return s.queue.size() < s.max_events && s.queued_bytes + size <= s.max_bytes;
    };
    if (bounded && !fits()) {
      if (options.overflow == overflow_policy::disconnect) {
        slow_consumer_disconnects.fetch_add(1, std::memory_order_relaxed);
        close_locked(s, close_reason::slow_consumer, {});
        return;
      }
      while (!fits() && !s.queue.empty()) {
        s.queued_bytes -= s.queue.front()->bytes.size();
        s.queue.pop_front();
        dropped_events.fetch_add(1, std::memory_order_relaxed);
      }
      // Bytes in flight cannot be dropped; the bound is then exceeded by at
      // most this one event.
    }
    s.queue.push_back(e);
    s.queued_bytes += size;
    if (s.writing) return;
    if (!s.deferred) {
      write_or_defer_locked(s);
    } else if (holds_full_write(s)) {
      // Waiting longer would only throttle it: the flush finds it writing.
      s.deferred = false;
      start_write_locked(s);
    }
  }

  // True when the queue is worth a write of its own, coalescing or not.
  bool holds_full_write(const subscriber_type& s) const {
    const std::size_t events = std::min(options.max_events_per_write, s.max_events / 2);
    const std::size_t bytes = std::min(options.coalesce_bytes, s.max_bytes / 2);
    return s.queue.size() >= std::max<std::size_t>(events, 1) || s.queued_bytes >= bytes;
  }

  // Writes now, unless the last write started within the coalescing window
  // and the queue holds less than a full write: then the subscriber waits
  // for the next flush() with whatever queues up.
  void write_or_defer_locked(subscriber_type& s) {
    const auto window = options.coalesce_window;
    // A closing subscriber is never held back: its last word must not wait
    // for a flush that a stopping server may never run.
    if (window.count() <= 0 || !options.schedule_flush || s.closing ||
        clock.now() - s.last_write_start >= window || holds_full_write(s))
      return start_write_locked(s);
    s.deferred = true;
    bool schedule = false;
    {
      std::lock_guard<std::mutex> lock(deferred_mutex);
      deferred.push_back(s.self);
      schedule = !std::exchange(flush_scheduled, true);
    }
    if (schedule) options.schedule_flush(window);
  }

  // Starts the writes that coalescing held back.
  void flush() {
    std::vector<std::weak_ptr<subscriber_type>> due;
    {
      std::lock_guard<std::mutex> lock(deferred_mutex);
      due.swap(deferred);
      flush_scheduled = false;
    }
    for (const auto& weak : due) {
      const auto s = weak.lock();
      if (!s) continue;  // unsubscribed meanwhile
      std::lock_guard<std::mutex> lock(s->mutex);
      s->deferred = false;
      if (!s->closed && !s->writing && !s->queue.empty()) start_write_locked(*s);
    }
  }

  void start_write_locked(subscriber_type& s) {
    const std::size_t n = std::min(s.queue.size(), options.max_events_per_write);
    s.in_flight.clear();
    s.buffers.clear();
    for (std::size_t i = 0; i < n; ++i) {
      s.buffers.emplace_back(s.queue.front()->bytes);
      s.in_flight.push_back(std::move(s.queue.front()));
      s.queue.pop_front();
    }
    s.writing = true;
    s.last_activity = s.last_write_start = clock.now();
    // The subscriber (and through it this core) stays alive until the
    // transport calls back, even if it is unsubscribed meanwhile.
    auto self = s.self.lock();
    // transport.hpp discourages completing inside async_write, but a transport
    // that does (a blocking server's buffer with room, a hand-written test
    // double) would deadlock here on s.mutex, which this thread holds. So an
    // inline completion is recognised by its thread and stashed; the hub
    // call that started the write runs it once it has released its locks
    // (run_inline_completions, the last step of every public operation).
    s.write_starter.store(std::this_thread::get_id());
    s.transport.async_write(buffer_span{s.buffers.data(), s.buffers.size()},
                            [self](std::error_code ec, std::size_t bytes) {
                              auto& core = *self->core;
                              if (self->write_starter.load() == std::this_thread::get_id()) {
                                std::lock_guard<std::mutex> lock(core.inline_mutex);
                                core.inline_completions.push_back({self, ec, bytes});
                                return;
                              }
                              core.write_done(*self, ec, bytes);
                            });
    s.write_starter.store(std::thread::id{});
  }

  // What a transport's completion handler calls (off the starting stack).
  void write_done(subscriber_type& s, std::error_code ec, std::size_t bytes) {
    complete_write(s, ec, bytes);
    run_inline_completions();
  }

  // Runs the completions stashed by start_write_locked. A loop, not
  // recursion: each may start the next write, which may complete inline
  // again, as many times as the queue holds writes.
  void run_inline_completions() {
    for (;;) {
      inline_completion c;
      {
        std::lock_guard<std::mutex> lock(inline_mutex);
        if (inline_completions.empty()) return;
        c = std::move(inline_completions.back());
        inline_completions.pop_back();
      }
      complete_write(*c.s, c.ec, c.bytes);
    }
  }

  void complete_write(subscriber_type& s, std::error_code ec, std::size_t bytes) {
    bool notify = false;
    {
      std::lock_guard<std::mutex> lock(s.mutex);
      s.writing = false;
      if (ec) {
        notify = !s.closed;
        close_locked(s, close_reason::peer_gone, ec);
        s.in_flight.clear();
        s.queued_bytes = 0;
      } else {
        std::size_t events = 0;
        for (const auto& e : s.in_flight) {
          s.queued_bytes -= e->bytes.size();
          if (e->seq != 0)
            ++events;
          else if (e == heartbeat)
            heartbeats.fetch_add(1, std::memory_order_relaxed);
        }
        deliveries.fetch_add(events, std::memory_order_relaxed);
        bytes_written.fetch_add(bytes, std::memory_order_relaxed);
        writes.fetch_add(1, std::memory_order_relaxed);
        s.in_flight.clear();
        s.last_activity = clock.now();
        if (s.closed) {
          // closed meanwhile (unsubscribed): nothing more to write
        } else if (!s.queue.empty()) {
          write_or_defer_locked(s);
        } else if (s.closing) {
          notify = true;
          close_locked(s, close_reason::hub_closed, {});
        }
      }
    }
    if (notify) finish_close(s);
  }

  // Marks closed and closes the transport; the caller then runs
  // finish_close without holding any lock (it takes channel locks).
  void close_locked(subscriber_type& s, close_reason why, std::error_code ec) {
    if (s.closed) return;
    s.closed = true;
    s.reason = why;
    s.close_error = ec;
    s.queue.clear();
    if (!s.writing) {
      s.in_flight.clear();
      s.queued_bytes = 0;
    }
    // Closing may cancel a write in progress, and a transport may run the
    // canceled write's handler inside close(), on this thread, which holds
    // s.mutex: marked like an inline write completion, it is stashed and run
    // by the public operation that closed (see start_write_locked).
    const auto starter = s.write_starter.exchange(std::this_thread::get_id());
    s.transport.close();
    s.write_starter.store(starter);
  }

  // Detaches a closed subscriber from its channels and tells its owner.
  void finish_close(subscriber_type& s) {
    detach(s);
    std::function<void(close_reason, std::error_code)> handler;
    close_reason why;
    std::error_code ec;
    {
      std::lock_guard<std::mutex> lock(s.mutex);
      handler = std::move(s.on_close);
      s.on_close = nullptr;
      why = s.reason.value_or(close_reason::hub_closed);
      ec = s.close_error;
    }
    if (handler) handler(why, ec);
  }

  void detach(subscriber_type& s) {
    bool removed_any = false;
    for (const auto& name : s.channels) {
      channel_ptr c;
      {
        std::lock_guard<std::mutex> map_lock(channels_mutex);
        auto it = channels.find(name);
        if (it == channels.end()) continue;
        c = it->second;
      }
      std::lock_guard<std::mutex> lock(c->mutex);
      auto& subs = c->subscribers;
      auto it = std::find_if(subs.begin(), subs.end(),
                             [&](const subscriber_ptr& p) { return p.get() == &s; });
      if (it != subs.end()) {
        *it = std::move(subs.back());
        subs.pop_back();
        removed_any = true;
        if (s.channels.size() > 1) --c->multi_channel_subscribers;
      }
    }
    if (removed_any) subscriber_count.fetch_sub(1, std::memory_order_relaxed);
    for (const auto& name : s.channels) drop_if_unused(name);
  }

  hub_options options;
  Clock clock;
  event_ptr heartbeat;
  event_ptr initial_retry;
  std::atomic<std::uint64_t> next_seq{0};
  // See publish: after a channel's mutex, before a subscriber's. Also
  // guards the hub's history totals and eviction order (see evict).
  std::mutex order_mutex;
  struct order_entry {
    std::weak_ptr<channel_type> channel;
    std::uint64_t seq = 0;
  };
  ring<order_entry> history_order;
  std::size_t history_total = 0;  // cost of every channel's history
  std::size_t history_count = 0;  // events in every channel's history
  std::mutex deferred_mutex;      // innermost: taken with a subscriber's mutex held
  // Weak: a subscriber owns the core, so owning it here would be a cycle
  // whenever no flush comes (a hub destroyed with writes held back).
  std::vector<std::weak_ptr<subscriber_type>> deferred;
  bool flush_scheduled = false;
  // Completions a transport delivered inside async_write or close(); each
  // owns its subscriber until run, and every public operation (and
  // subscription::reset) runs them before it returns, so none outlives the
  // call that started its write or closed its transport.
  struct inline_completion {
    subscriber_ptr s;
    std::error_code ec;
    std::size_t bytes = 0;
  };
  std::mutex inline_mutex;  // innermost, like deferred_mutex
  std::vector<inline_completion> inline_completions;

  std::mutex channels_mutex;
  std::unordered_map<std::string, channel_ptr> channels;
  std::uint64_t dropped_evicted_up_to = 0;  // guarded by channels_mutex

  std::atomic<std::size_t> subscriber_count{0};
  std::atomic<std::uint64_t> published{0}, deliveries{0}, bytes_written{0}, writes{0},
      heartbeats{0}, history_evictions{0}, slow_consumer_disconnects{0}, dropped_events{0};
};

}  // namespace detail

/// Channels with history and fan-out over a transport (see transport.hpp).
///
/// - `publish(channel, event)` formats the event once and queues the same
///   bytes for every subscriber of the channel; each subscriber gets one
///   gather write for whatever is queued, so a burst costs one write.
/// - Ids: an event published without an id gets "<epoch>-<n>", n counting up
///   across the hub (so ids order events within each channel), the epoch
///   telling this hub's ids from those of an earlier run.
/// - History per channel, bounded by count, bytes and age: `subscribe` with
///   a Last-Event-ID replays every later event in order, then live ones, with
///   no gap and no duplicate. If the id is unknown or already evicted, an
///   event of type `hub_options::gap_event_type` comes first.
/// - Channels appear on first use and vanish when they have no subscriber and
///   no history left.
/// - Heartbeats and history aging run in `tick()`, which the owner calls
///   about once a second from one timer (ssepp's Asio server does).
///
/// - Subscribers of several channels receive all their events in id order
///   too, so resuming after any id never skips an event of another channel.
/// - Memory per subscriber is bounded by max_queued_events/_bytes, plus, for
///   a reconnect, the replay it asked for (itself bounded by the history).
///
/// Thread safety: every member function may be called from any thread.
/// Close handlers run on the thread whose call found the connection gone
/// (a transport's completion, or a publish that overflowed a queue).
///
/// Clock: a copyable type with `now()` returning
/// std::chrono::steady_clock::time_point, callable from any thread
/// (steady_clock_source; ssepp::testing::virtual_clock in tests).
template <class Transport, class Clock = steady_clock_source>
class hub {
  static_assert(check_transport<Transport>());
  using core_type = detail::hub_core<Transport, Clock>;
  using subscriber_type = typename core_type::subscriber_type;

 public:
  /// Called once when the hub closes a subscriber; see close_reason.
  using close_handler = std::function<void(close_reason, std::error_code)>;

  /// A live subscription; unsubscribes (and closes the transport) when
  /// destroyed. Movable, not copyable.
  class subscription {
   public:
    subscription() = default;
    subscription(subscription&&) noexcept = default;
    subscription& operator=(subscription&& other) noexcept {
      if (this != &other) {
        reset();
        state_ = std::move(other.state_);
      }
      return *this;
    }
    ~subscription() { reset(); }

    /// True until unsubscribed or closed by the hub.
    bool active() const {
      if (!state_) return false;
      std::lock_guard<std::mutex> lock(state_->mutex);
      return !state_->closed;
    }
    /// Unsubscribes now; the close handler is not called.
    void reset() {
      if (!state_) return;
      auto state = std::move(state_);
      {
        std::lock_guard<std::mutex> lock(state->mutex);
        state->on_close = nullptr;
        state->core->close_locked(*state, close_reason::hub_closed, {});
      }
      state->core->detach(*state);
      state->core->run_inline_completions();
    }

   private:
    friend class hub;
    explicit subscription(std::shared_ptr<subscriber_type> s) : state_(std::move(s)) {}
    std::shared_ptr<subscriber_type> state_;
  };

  explicit hub(hub_options options = {}, Clock clock = {})
      : core_(std::make_shared<core_type>(std::move(options), std::move(clock))) {}
  hub(const hub&) = delete;
  hub& operator=(const hub&) = delete;
  /// Closes every subscriber's transport.
  ~hub() { close_all(std::nullopt, false); }

  /// Publishes `ev` to `channel`. Returns the id it was sent with (its own,
  /// or one the hub assigned), or the formatter's error for an invalid event
  /// (nothing is then published). Never blocks on a subscriber.
  /// Complexity: linear in the channel's subscribers.
  publish_result publish(std::string_view channel, const event_view& ev);

  /// Subscribes `transport` to `channels`. With a non-empty `last_event_id`,
  /// first replays what the channels' history holds after that id (or sends
  /// the gap event). `on_close` runs once if the hub closes the subscriber.
  subscription subscribe(const std::vector<std::string>& channels, Transport transport,
                         std::string_view last_event_id = {}, close_handler on_close = {});

  /// Sends heartbeats to idle subscribers and ages out history. Call about
  /// once a second (at least twice per heartbeat interval).
  void tick();

  /// Writes what coalescing held back (see hub_options::coalesce_window);
  /// call when `schedule_flush` asks.
  void flush() {
    core_->flush();
    core_->run_inline_completions();
  }

  /// Graceful stop: every subscriber gets `last_word` (if any) after what is
  /// already queued, then its transport is closed (close_reason::hub_closed).
  /// With `drain` false, transports are closed at once.
  void close_all(std::optional<event_view> last_word = std::nullopt, bool drain = true);

  hub_stats stats() const;
  const hub_options& options() const noexcept { return core_->options; }

 private:
  std::shared_ptr<core_type> core_;
};

// ---------------------------------------------------------------------------
// Implementation

template <class Transport, class Clock>
publish_result hub<Transport, Clock>::publish(std::string_view channel_name, const event_view& ev) {
  publish_result result;
  if ((result.error = validate(ev))) return result;
  auto& core = *core_;
  auto event = std::make_shared<detail::stored_event>();
  std::vector<std::shared_ptr<subscriber_type>> closed;
  {
    // (Not a structured binding: lambdas cannot capture those before C++20.)
    auto locked = core.lock_channel(channel_name);
    const auto& c = locked.first;
    if (!c) {
      result.error = make_error_code(errc::too_many_channels);
      return result;
    }
    auto deliver = [&](const detail::event_ptr& e, bool multi_channel) {
      for (const auto& s : c->subscribers) {
        if ((s->channels.size() > 1) != multi_channel) continue;
        std::lock_guard<std::mutex> sub_lock(s->mutex);
        const bool was_closed = s->closed;
        core.enqueue_locked(*s, e);
        if (!was_closed && s->closed) closed.push_back(s);
      }
    };
    detail::event_ptr shared;
    {
      // The sequence is taken under the channel lock, so a channel's events
      // are queued in id order. Subscribers of several channels must also
      // get events of different channels in id order (or a reconnect after
      // the higher id would skip the lower one), so for them taking the
      // number and queueing happen together under one hub-wide lock, held
      // only that long.
      std::lock_guard<std::mutex> order(core.order_mutex);
      event->seq = core.next_seq.fetch_add(1, std::memory_order_relaxed) + 1;
      if (ev.id.empty()) {
        event->id = core.options.epoch + "-" + std::to_string(event->seq);
      } else {
        event->id.assign(ev.id.data(), ev.id.size());
      }
      event_view with_id = ev;
      with_id.id = event->id;
      (void)format(event->bytes, with_id);
      event->published = core.clock.now();
      shared = event;
      core.record_history_locked(c, *event);
      if (c->multi_channel_subscribers != 0) deliver(shared, true);
    }
    c->history.push_back(shared);
    c->history_bytes += event->bytes.size();
    core.evict(*c, event->published);
    deliver(shared, false);
  }
  core.published.fetch_add(1, std::memory_order_relaxed);
  core.evict_over_total();
  for (const auto& s : closed) core.finish_close(*s);
  core.run_inline_completions();
  result.id = event->id;
  return result;
}

template <class Transport, class Clock>
typename hub<Transport, Clock>::subscription hub<Transport, Clock>::subscribe(
    const std::vector<std::string>& channel_names, Transport transport,
    std::string_view last_event_id, close_handler on_close) {
  auto& core = *core_;
  if (channel_names.empty()) {
    // Nothing to subscribe to: the stream would stay silent forever.
    transport.close();
    return subscription{};
  }
  auto s = std::make_shared<subscriber_type>(core_, std::move(transport));
  s->self = s;
  s->channels = channel_names;
  std::sort(s->channels.begin(), s->channels.end());
  s->channels.erase(std::unique(s->channels.begin(), s->channels.end()), s->channels.end());
  s->on_close = std::move(on_close);

  // Lock every channel (in name order, so concurrent subscribers cannot
  // deadlock) for the hand-over: history replay and joining the live list
  // happen with no publish in between, hence no gap and no duplicate.
  std::vector<typename core_type::channel_ptr> chans;
  std::vector<std::unique_lock<std::mutex>> locks;
  for (bool all_live = false; !all_live;) {
    locks.clear();
    chans.clear();
    for (const auto& name : s->channels) {
      chans.push_back(core.find_or_create(name));
      if (!chans.back()) {
        // max_channels are all in use (see hub_options).
        s->transport.close();
        for (const auto& made : s->channels) core.drop_if_unused(made);
        return subscription{};
      }
    }
    all_live = true;
    for (auto& c : chans) {
      locks.emplace_back(c->mutex);
      all_live = all_live && !c->dead;
    }
  }

  std::vector<detail::event_ptr> replay;
  std::string gap_reason;
  if (!last_event_id.empty()) {
    // Where to resume: the sequence number after which events are missing.
    std::optional<std::uint64_t> after;
    const std::string_view epoch = core.options.epoch;
    if (last_event_id.size() > epoch.size() + 1 && last_event_id.substr(0, epoch.size()) == epoch &&
        last_event_id[epoch.size()] == '-') {
      // A number past 64 bits was never issued here (parse_decimal refuses
      // it): wrapped around, it could land on a real position and skip
      // events with no gap event.
      const auto seq = http::parse_decimal<std::uint64_t>(last_event_id.substr(epoch.size() + 1));
      if (seq && *seq <= core.next_seq.load()) after = seq;
    }
    if (!after) {
      // A publisher-chosen id: look for it in the channels' history.
      for (auto& c : chans)
        for (std::size_t i = c->history.size(); i-- > 0;)
          if (c->history[i]->id == last_event_id) {
            after = std::max(after.value_or(0), c->history[i]->seq);
            break;
          }
    }
    if (!after) {
      gap_reason = "unknown";
    } else {
      for (auto& c : chans) {
        if (c->evicted_up_to > *after) gap_reason = "evicted";
        for (std::size_t i = 0; i < c->history.size(); ++i)
          if (c->history[i]->seq > *after) replay.push_back(c->history[i]);
      }
      std::sort(
          replay.begin(), replay.end(),
          [](const detail::event_ptr& a, const detail::event_ptr& b) { return a->seq < b->seq; });
    }
  }

  {
    std::lock_guard<std::mutex> lock(s->mutex);
    s->max_events = core.options.max_queued_events + replay.size();
    s->max_bytes = core.options.max_queued_bytes;
    for (const auto& e : replay) s->max_bytes += e->bytes.size();
    s->last_activity = core.clock.now();
    if (core.initial_retry) core.enqueue_locked(*s, core.initial_retry);
    if (!gap_reason.empty()) {
      std::string data = "{\"lastEventId\":";
      detail::append_json_string(data, last_event_id);
      data += ",\"reason\":\"" + gap_reason + "\"}";
      std::string bytes;
      (void)format(bytes, event_view{data, core.options.gap_event_type});
      core.enqueue_locked(*s, core_type::make_control(std::move(bytes)));
    }
    for (const auto& e : replay) core.enqueue_locked(*s, e, false);
  }
  for (auto& c : chans) {
    c->subscribers.push_back(s);
    if (chans.size() > 1) ++c->multi_channel_subscribers;
  }
  core.subscriber_count.fetch_add(1, std::memory_order_relaxed);
  locks.clear();

  bool overflowed;
  {
    std::lock_guard<std::mutex> lock(s->mutex);
    overflowed = s->closed;  // the replay alone overflowed the queue
  }
  if (overflowed) core.finish_close(*s);
  core.run_inline_completions();
  return subscription{std::move(s)};
}

template <class Transport, class Clock>
void hub<Transport, Clock>::tick() {
  auto& core = *core_;
  const auto now = core.clock.now();
  std::vector<std::pair<std::string, typename core_type::channel_ptr>> snapshot;
  {
    std::lock_guard<std::mutex> lock(core.channels_mutex);
    snapshot.assign(core.channels.begin(), core.channels.end());
  }
  const auto interval = core.options.heartbeat_interval;
  std::vector<std::shared_ptr<subscriber_type>> closed;
  for (auto& [name, c] : snapshot) {
    {
      std::lock_guard<std::mutex> lock(c->mutex);
      core.evict(*c, now);
      if (interval.count() > 0) {
        for (const auto& s : c->subscribers) {
          std::lock_guard<std::mutex> sub_lock(s->mutex);
          if (s->closed || s->writing || !s->queue.empty() || now - s->last_activity < interval)
            continue;
          core.enqueue_locked(*s, core.heartbeat);
          if (s->closed) closed.push_back(s);  // only with degenerate queue bounds
        }
      }
    }
    core.drop_if_unused(name);
  }
  for (const auto& s : closed) core.finish_close(*s);
  core.run_inline_completions();
}

template <class Transport, class Clock>
void hub<Transport, Clock>::close_all(std::optional<event_view> last_word, bool drain) {
  auto& core = *core_;
  detail::event_ptr word;
  if (last_word) {
    std::string bytes;
    if (!format(bytes, *last_word)) word = core_type::make_control(std::move(bytes));
  }
  std::vector<typename core_type::channel_ptr> chans;
  {
    std::lock_guard<std::mutex> lock(core.channels_mutex);
    for (auto& entry : core.channels) chans.push_back(entry.second);
  }
  std::vector<std::shared_ptr<subscriber_type>> all;
  for (auto& c : chans) {
    std::lock_guard<std::mutex> channel_lock(c->mutex);
    all.insert(all.end(), c->subscribers.begin(), c->subscribers.end());
  }
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  for (const auto& s : all) {
    bool now_closed = false;
    {
      std::lock_guard<std::mutex> lock(s->mutex);
      if (s->closed) continue;
      if (word) core.enqueue_locked(*s, word);
      if (s->closed) {
        // The last word overflowed the queue and closed it (disconnect
        // policy): it must still be detached and its owner told.
        now_closed = true;
      } else if (drain && (s->writing || !s->queue.empty())) {
        // A subscriber held back by coalescing writes its queue now.
        if (!s->writing) core.start_write_locked(*s);
        s->closing = true;  // write_done closes it once the queue drains
      } else {
        core.close_locked(*s, close_reason::hub_closed, {});
        now_closed = true;
      }
    }
    if (now_closed) core.finish_close(*s);
  }
  core.run_inline_completions();
}

template <class Transport, class Clock>
hub_stats hub<Transport, Clock>::stats() const {
  auto& core = *core_;
  hub_stats st;
  {
    std::lock_guard<std::mutex> lock(core.channels_mutex);
    st.channels = core.channels.size();
  }
  st.subscribers = core.subscriber_count.load();
  st.published = core.published.load();
  st.deliveries = core.deliveries.load();
  st.bytes_written = core.bytes_written.load();
  st.writes = core.writes.load();
  st.heartbeats = core.heartbeats.load();
  st.history_evictions = core.history_evictions.load();
  {
    std::lock_guard<std::mutex> lock(core.order_mutex);
    st.history_events = core.history_count;
    st.history_bytes = core.history_total;
  }
  st.slow_consumer_disconnects = core.slow_consumer_disconnects.load();
  st.dropped_events = core.dropped_events.load();
  return st;
}

}  // namespace ssepp
