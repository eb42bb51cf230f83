// Channels, history and fan-out on any transport: publish an event once and
// every subscriber of its channel receives it, with nothing lost across a
// reconnect that carries Last-Event-ID. No I/O of its own: it writes through
// the transport concept (transport.hpp).
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
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
  /// At most this many queued events go out in one gather write, and at
  /// most max_bytes_per_write bytes of them (but always one event). A write
  /// must be able to take a backlog at least as fast as publishers add to
  /// it between two of its completions, or a reader that keeps up is cut
  /// off as a slow consumer: with 64 per write, 100,000 events/s in
  /// batches outran one reader that had room for all of them.
  std::size_t max_events_per_write = 1024;
  /// See max_events_per_write.
  std::size_t max_bytes_per_write = 64 * 1024;
  /// Write coalescing, in three steps (measured in tests/bench/fanout):
  /// 1. an event for a subscriber whose socket is idle is written at once;
  /// 2. events that arrive while a write is in progress queue behind it and
  ///    go out together, in one gather write, when it completes; so do the
  ///    events one shard delivers in one `run_shard` pass (see shards);
  /// 3. only while a subscriber's writes start more often than
  ///    `coalesce_rate` per second (an estimate over its last writes) and
  ///    its previous write started less than `coalesce_window` ago, newly
  ///    queued events wait (at most this long) for `flush()`: under load
  ///    many events share one system call, while a stream that hears a few
  ///    events a second never waits.
  /// Step 3 takes effect only with `schedule_flush` (ssepp's Asio server
  /// sets it); a zero window turns it off.
  ///
  /// Coalescing only ever delays a small write, never a backlog: once a
  /// waiting queue holds a full write (64 events or max_events_per_write,
  /// or coalesce_bytes, or half of either queue bound) it is written at once,
  /// so a reader that keeps up is never cut off as a slow consumer.
  std::chrono::microseconds coalesce_window = std::chrono::milliseconds{10};
  /// Writes per second per subscriber above which step 3 of coalescing
  /// applies (see coalesce_window); 0: whenever the previous write started
  /// within the window, whatever the rate.
  double coalesce_rate = 200;
  /// Bytes that coalescing may hold back at most (see coalesce_window).
  std::size_t coalesce_bytes = 64 * 1024;
  /// Asks the owner to call `hub::flush()` once, `delay` from now. Called
  /// from any thread, with hub locks held: it must only schedule (arm a
  /// timer, post), never call into the hub itself.
  std::function<void(std::chrono::microseconds delay)> schedule_flush;
  /// Shards: each subscriber belongs to one (`subscribe`'s `shard`), and
  /// its deliveries, writes and heartbeats run in that shard's
  /// `run_shard()`. A server gives each I/O thread a shard of its own, so
  /// no two cores ever touch one subscriber (see the class comment). At
  /// least 1; one shard with no `wake_shard` is the hub of a single
  /// publisher-driven thread, where `publish` delivers before it returns.
  std::size_t shards = 1;
  /// Asks the owner to call `hub::run_shard(shard)` soon, on that shard's
  /// thread. Called from any thread, never with hub locks held, at most
  /// once until that run begins. Unset: the thread that publishes (or
  /// ticks, or flushes) runs the shard itself before returning.
  std::function<void(std::size_t shard)> wake_shard;
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

/// A histogram's counts over fixed bucket bounds: `buckets[i]` counts the
/// values at most `bounds[i]` and above the bound before (not cumulative:
/// Prometheus's `le` buckets are their running sums), the last one those
/// above every bound.
template <std::size_t Bounds>
struct histogram_counts {
  std::array<std::uint64_t, Bounds + 1> buckets{};
  std::uint64_t sum = 0;  ///< of the values counted, in the histogram's unit
  std::uint64_t count() const noexcept {
    std::uint64_t n = 0;
    for (const auto b : buckets) n += b;
    return n;
  }
};

/// The bounds of hub_stats::events_per_write: powers of two up to 512 (a
/// write carries at most hub_options::max_events_per_write events).
inline constexpr std::array<std::uint64_t, 10> events_per_write_bounds{1,  2,  4,   8,   16,
                                                                       32, 64, 128, 256, 512};
/// The bounds of hub_stats::delivery_delay, in microseconds: 100 us to
/// 10 s, Prometheus's default buckets with finer steps below 5 ms, where
/// a fan-out's delay lives.
inline constexpr std::array<std::uint64_t, 16> delivery_delay_bounds_us{
    100,   250,    500,    1000,   2500,    5000,    10000,   25000,
    50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};

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
  /// Events per completed write, over the writes that carried any (a
  /// heartbeat's write alone is not counted); the sum is their events.
  histogram_counts<events_per_write_bounds.size()> events_per_write;
  /// From publish to the completed write, per live event delivered (a
  /// replay from history is not counted: its age is not a delay); the sum
  /// is in nanoseconds. A backplane's events count from their publish on
  /// this hub, not on the node that took the request.
  histogram_counts<delivery_delay_bounds_us.size()> delivery_delay;
};

/// What `hub::publish` returns: the id the event got, or why it was refused.
struct publish_result {
  std::error_code error;
  std::string id;
};

/// What `hub::publish_batch` returns: every event's id in order, or why
/// the batch was refused (and then none of it was published).
struct batch_publish_result {
  std::error_code error;
  std::size_t failed = 0;  ///< with an error: the index of the event refused
  std::vector<std::string> ids;
};

/// A position in a hub's history: every event published after it (see
/// `hub::mark()`). Meaningful only to the hub that made it.
struct history_mark {
  std::uint64_t position = 0;
};

/// A replay that something other than the hub's own history assembled: a
/// backplane resuming a subscriber from a store that several hubs share
/// (ssepp/redis). See `hub::subscribe_with_replay`.
struct replay_plan {
  /// Non-empty: the gap event (hub_options::gap_event_type) goes first,
  /// with this reason and `last_event_id` in its data.
  std::string gap_reason;
  std::string last_event_id;
  /// Formatted events (format.hpp's output, each ending in its blank
  /// line), sent in order after the gap event.
  std::vector<std::string> events;
  /// Then every event of the channels' history published after this mark,
  /// then live events; nullopt: live events only. An event after the mark
  /// that the history has evicted meanwhile makes the gap event come first
  /// (reason "evicted"), as a resume from the hub's own history would.
  std::optional<history_mark> after;
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
struct channel;

template <class Transport, class Clock>
struct subscriber {
  using core_type = hub_core<Transport, Clock>;
  using channel_ptr = std::shared_ptr<channel<Transport, Clock>>;

  subscriber(std::shared_ptr<core_type> c, Transport t, std::size_t k)
      : core(std::move(c)), transport(std::move(t)), shard(k) {}

  std::shared_ptr<core_type> core;
  std::weak_ptr<subscriber> self;  // set once by subscribe; for completion handlers
  std::mutex mutex;
  Transport transport;
  const std::size_t shard;
  std::vector<channel_ptr> channels;  // sorted by name, set once by subscribe
  // Events with a seq up to this one were published before the subscription
  // (and replayed from history if asked for): a shard's inbox may still
  // hold some of them, and they are not delivered again.
  std::uint64_t start_seq = 0;
  std::uint64_t pass = 0;  // the last shard pass that listed it (under the shard's mutex)
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
  std::chrono::steady_clock::time_point last_write_start{};
  // An estimate of the time between live events (see note_arrival); zero at
  // first, so a new subscriber under load coalesces at once.
  std::chrono::steady_clock::time_point last_arrival{};
  std::chrono::steady_clock::duration event_interval{};
  bool writing = false;
  bool deferred = false;  // waiting in its shard's flush list (coalescing)
  bool closing = false;   // close once the queue drains (graceful stop)
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
  explicit channel(std::string n, std::size_t shards) : name(std::move(n)), members(shards, 0) {}
  const std::string name;
  std::mutex mutex;
  // Guarded by mutex:
  ring<event_ptr> history;
  std::size_t history_bytes = 0;
  std::vector<std::uint32_t> members;  // subscribers per shard
  std::size_t subscribers = 0;         // in all shards
  bool dead = false;                   // removed from the hub's map
  // Highest seq evicted from history. Written under mutex; atomic because
  // the hub's eviction order reads it without the lock to skip its entries
  // for events already gone.
  std::atomic<std::uint64_t> evicted_up_to{0};
};

// One shard: the subscribers one thread serves, and what publishers hand
// it. See the lock order at hub_core's members.
template <class Transport, class Clock>
struct alignas(64) shard {
  using subscriber_ptr = std::shared_ptr<subscriber<Transport, Clock>>;
  using channel_ptr = std::shared_ptr<channel<Transport, Clock>>;
  struct handoff {
    channel_ptr channel;  // null: a heartbeat round or a flush (see kind)
    event_ptr event;
    enum kind_type : unsigned char { deliver, heartbeat, flush } kind = deliver;
  };

  // What publishers, tick() and flush() hand over, in id order.
  std::mutex inbox_mutex;
  std::vector<handoff> inbox;
  // Set by the first handover after a pass took the inbox: that one wakes
  // the shard (wake_shard) or runs it. Guarded by inbox_mutex.
  bool woken = false;

  // The shard's own state, taken by run_shard, subscribe and unsubscribe:
  // in a server only by the shard's thread, so it never bounces.
  std::mutex mutex;
  std::unordered_map<const channel<Transport, Clock>*, std::vector<subscriber_ptr>> members;
  std::vector<handoff> draining;  // the inbox being delivered
  std::uint64_t passes = 0;       // counts run_shard passes (see subscriber::pass)

  // Coalescing's flush list. Weak: a subscriber owns the core, so owning
  // it here would be a cycle whenever no flush comes. Innermost lock.
  std::mutex deferred_mutex;
  std::vector<std::weak_ptr<subscriber<Transport, Clock>>> deferred;

  // Counters of completed writes, per shard so that completions on
  // different cores never share a cache line; hub::stats() sums them.
  std::atomic<std::uint64_t> deliveries{0}, bytes_written{0}, writes{0}, heartbeats{0};
  std::array<std::atomic<std::uint64_t>, events_per_write_bounds.size() + 1> events_per_write{};
  std::array<std::atomic<std::uint64_t>, delivery_delay_bounds_us.size() + 1> delivery_delay{};
  std::atomic<std::uint64_t> delivery_delay_ns{0};
};

// The bucket of `value` among `bounds` (inclusive upper bounds, ascending):
// a linear scan, since the common values sit in the first few buckets.
template <std::size_t N>
std::size_t bucket_of(std::uint64_t value, const std::array<std::uint64_t, N>& bounds) noexcept {
  std::size_t i = 0;
  while (i < N && value > bounds[i]) ++i;
  return i;
}

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
  using shard_type = shard<Transport, Clock>;
  using handoff = typename shard_type::handoff;

  hub_core(hub_options o, Clock c)
      : options(std::move(o)),
        clock(std::move(c)),
        shards(std::max<std::size_t>(options.shards, 1)) {
    options.shards = shards.size();
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
    auto c = std::make_shared<channel_type>(std::string(name), shards.size());
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
      if (entry.second->subscribers != 0) continue;
      auto& h = entry.second->history;
      const std::uint64_t front = h.empty() ? 0 : h.front()->seq;
      if (!victim || front < victim_front) {
        victim = entry.second;
        victim_front = front;
      }
    }
    if (!victim) return false;
    std::lock_guard<std::mutex> lock(victim->mutex);
    drop_locked(*victim);
    return true;
  }

  // Removes a channel without subscribers from the map, history and all
  // (callers hold channels_mutex and the channel).
  void drop_locked(channel_type& c) {
    while (!c.history.empty()) evict_front_locked(c);
    dropped_evicted_up_to = std::max(dropped_evicted_up_to, c.evicted_up_to.load());
    c.dead = true;
    channels.erase(c.name);
  }

  // Locks a live channel by name (re-looking it up if it was dropped between
  // the lookup and the lock, so nothing is published into a dead channel);
  // a null channel when max_channels are in use.
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
    if (c->subscribers == 0 && c->history.empty()) drop_locked(*c);
  }

  // --- history --------------------------------------------------------------

  // The life of a history event: publish appends it to its channel's
  // history and, under order_mutex, to `history_order` (the whole hub's
  // events in id order) and to the totals. It leaves by its channel's
  // bounds (evict, oldest first), by the total bound (evict_over_total,
  // the hub's oldest first), or with its channel (drop_locked); each way
  // goes through evict_front_locked. Its history_order entry is not
  // removed then (it may be anywhere in the ring): an entry whose seq is at
  // most its channel's evicted_up_to is stale, skipped when it comes to the
  // front and swept out when stale entries outnumber live ones.

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
        emptied = c->history.empty() && c->subscribers == 0;
      }
      if (emptied) drop_if_unused(c->name);
    }
  }

  // --- publishing -------------------------------------------------------------

  // Publishes already validated events to a locked channel: numbers,
  // formats and records each, and hands each to every shard with
  // subscribers of the channel. Numbering and handing over happen together
  // under order_mutex, so every shard's inbox is in id order across
  // channels: a subscriber of several channels then gets all its events in
  // id order (a reconnect after a higher id must not skip a lower one).
  // Returns the shards to wake (see wake_shards).
  template <class Events>
  std::vector<std::size_t> publish_locked(const channel_ptr& c, const Events& events,
                                          std::vector<std::string>& ids) {
    std::vector<std::size_t> woken;
    const auto now = clock.now();
    std::vector<event_ptr> made;
    made.reserve(events.size());
    {
      std::lock_guard<std::mutex> order(order_mutex);
      for (const event_view& ev : events) {
        auto e = std::make_shared<stored_event>();
        e->seq = next_seq.fetch_add(1, std::memory_order_relaxed) + 1;
        if (ev.id.empty()) {
          e->id = options.epoch + "-" + std::to_string(e->seq);
        } else {
          e->id.assign(ev.id.data(), ev.id.size());
        }
        event_view with_id = ev;
        with_id.id = e->id;
        (void)format(e->bytes, with_id);
        e->published = now;
        record_history_locked(c, *e);
        ids.push_back(e->id);
        made.push_back(std::move(e));
      }
      if (c->subscribers != 0) {
        for (std::size_t k = 0; k < shards.size(); ++k) {
          if (c->members[k] == 0) continue;
          auto& sh = shards[k];
          std::lock_guard<std::mutex> lock(sh.inbox_mutex);
          for (const auto& e : made) sh.inbox.push_back({c, e, handoff::deliver});
          if (!std::exchange(sh.woken, true)) woken.push_back(k);
        }
      }
    }
    for (auto& e : made) {
      c->history_bytes += e->bytes.size();
      c->history.push_back(std::move(e));
    }
    evict(*c, now);
    return woken;
  }

  // Runs the shards that publish_locked (or tick, or flush) handed work to:
  // their owner's thread through wake_shard, or this thread.
  void wake_shards(const std::vector<std::size_t>& woken) {
    for (const std::size_t k : woken) {
      if (options.wake_shard) {
        options.wake_shard(k);
      } else {
        run_shard(k);
      }
    }
  }

  // Hands `kind` (a heartbeat round or a flush) to every shard.
  void hand_to_all(typename handoff::kind_type kind) {
    std::vector<std::size_t> woken;
    for (std::size_t k = 0; k < shards.size(); ++k) {
      auto& sh = shards[k];
      std::lock_guard<std::mutex> lock(sh.inbox_mutex);
      sh.inbox.push_back({nullptr, nullptr, kind});
      if (!std::exchange(sh.woken, true)) woken.push_back(k);
    }
    wake_shards(woken);
  }

  // --- a shard's pass ----------------------------------------------------------

  // Delivers what was handed to shard k, in order, to its subscribers. The
  // events are queued under the shard's lock, and the writes start after
  // it, once the whole inbox is queued: a burst shares one write per
  // subscriber, and a transport slow to start a write holds up no other
  // pass (without wake_shard, several threads may each run one).
  void run_shard(std::size_t k) {
    auto& sh = shards[k];
    std::vector<subscriber_ptr> to_write, to_close;
    {
      std::lock_guard<std::mutex> lock(sh.mutex);
      {
        // From here on, what is handed over wakes the shard again.
        std::lock_guard<std::mutex> inbox_lock(sh.inbox_mutex);
        sh.draining.swap(sh.inbox);
        sh.woken = false;
      }
      const std::uint64_t pass = ++sh.passes;
      const auto now = clock.now();
      for (const auto& item : sh.draining) {
        if (item.kind == handoff::deliver) {
          deliver_locked(sh, *item.channel, item.event, now, pass, to_write, to_close);
        } else if (item.kind == handoff::heartbeat) {
          heartbeat_locked(sh, now, pass, to_write, to_close);
        } else {
          flush_locked(sh);
        }
      }
      sh.draining.clear();
    }
    for (const auto& s : to_write) {
      std::lock_guard<std::mutex> lock(s->mutex);
      if (!s->closed && !s->writing && !s->deferred && !s->queue.empty()) write_or_defer_locked(*s);
    }
    for (const auto& s : to_close) finish_close(*s);
    run_inline_completions();
  }

  // One event for the shard's subscribers of channel c (under sh.mutex).
  void deliver_locked(shard_type& sh, const channel_type& c, const event_ptr& e,
                      std::chrono::steady_clock::time_point now, std::uint64_t pass,
                      std::vector<subscriber_ptr>& to_write,
                      std::vector<subscriber_ptr>& to_close) {
    const auto it = sh.members.find(&c);
    if (it == sh.members.end()) return;
    for (const auto& s : it->second) {
      std::lock_guard<std::mutex> lock(s->mutex);
      if (e->seq <= s->start_seq) continue;
      note_arrival(*s, now);
      queued_in_pass_locked(*s, e, pass, to_write, to_close);
    }
  }

  // Queues e for s, to be written after the pass (s.mutex and the shard's
  // held).
  void queued_in_pass_locked(subscriber_type& s, const event_ptr& e, std::uint64_t pass,
                             std::vector<subscriber_ptr>& to_write,
                             std::vector<subscriber_ptr>& to_close) {
    const bool was_closed = s.closed;
    queue_locked(s, e, true);
    if (s.closed) {
      if (!was_closed) to_close.push_back(s.self.lock());
    } else if (!s.writing && std::exchange(s.pass, pass) != pass) {
      to_write.push_back(s.self.lock());
    }
  }

  // A comment line to each of the shard's idle subscribers (under sh.mutex).
  void heartbeat_locked(shard_type& sh, std::chrono::steady_clock::time_point now,
                        std::uint64_t pass, std::vector<subscriber_ptr>& to_write,
                        std::vector<subscriber_ptr>& to_close) {
    const auto interval = options.heartbeat_interval;
    for (const auto& [c, subs] : sh.members) {
      for (const auto& s : subs) {
        if (s->channels.front().get() != c) continue;  // once per subscriber
        std::lock_guard<std::mutex> lock(s->mutex);
        if (s->closed || s->writing || !s->queue.empty() || now - s->last_activity < interval)
          continue;
        // (Closing only with degenerate queue bounds.)
        queued_in_pass_locked(*s, heartbeat, pass, to_write, to_close);
      }
    }
  }

  // Starts the writes that coalescing held back (under sh.mutex).
  void flush_locked(shard_type& sh) {
    std::vector<std::weak_ptr<subscriber_type>> due;
    {
      std::lock_guard<std::mutex> lock(sh.deferred_mutex);
      due.swap(sh.deferred);
    }
    for (const auto& weak : due) {
      const auto s = weak.lock();
      if (!s) continue;  // unsubscribed meanwhile
      std::lock_guard<std::mutex> lock(s->mutex);
      s->deferred = false;
      if (!s->closed && !s->writing && !s->queue.empty()) start_write_locked(*s);
    }
  }

  // --- per-subscriber queue (callers hold s.mutex) ---------------------------

  // Queues an event and writes it (or lets coalescing hold it).
  // `bounded` is false for a reconnect's replay: history has bounds of its
  // own, and refusing it would make the client reconnect forever.
  void enqueue_locked(subscriber_type& s, const event_ptr& e, bool bounded = true) {
    // A deferred subscriber waits for the flush, unless queue_locked found
    // it holding a full write and started it.
    if (queue_locked(s, e, bounded) && !s.writing && !s.deferred) write_or_defer_locked(s);
  }

  // Queues an event within the subscriber's bounds; false if it was not
  // queued (closed, or it overflowed and the policy closed it).
  bool queue_locked(subscriber_type& s, const event_ptr& e, bool bounded) {
    if (s.closed || s.closing) return false;
    const std::size_t size = e->bytes.size();
    auto fits = [&] {
      return s.queue.size() < s.max_events && s.queued_bytes + size <= s.max_bytes;
    };
    if (bounded && !fits()) {
      if (options.overflow == overflow_policy::disconnect) {
        slow_consumer_disconnects.fetch_add(1, std::memory_order_relaxed);
        close_locked(s, close_reason::slow_consumer, {});
        return false;
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
    if (s.deferred && !s.writing && holds_full_write(s)) {
      // Waiting longer would only throttle it: the flush finds it writing.
      s.deferred = false;
      start_write_locked(s);
    }
    return true;
  }

  // True when the queue is worth a write of its own, coalescing or not.
  bool holds_full_write(const subscriber_type& s) const {
    // 64 events share a system call well enough (the floor's cost per event
    // barely moves beyond 16): holding more back would only add latency.
    const std::size_t events =
        std::min({options.max_events_per_write, std::size_t{64}, s.max_events / 2});
    const std::size_t bytes = std::min(options.coalesce_bytes, s.max_bytes / 2);
    return s.queue.size() >= std::max<std::size_t>(events, 1) || s.queued_bytes >= bytes;
  }

  // Writes now, unless coalescing's step 3 applies (see coalesce_window):
  // then the subscriber waits for the next flush with whatever queues up.
  void write_or_defer_locked(subscriber_type& s) {
    const auto window = options.coalesce_window;
    const auto now = clock.now();
    // A closing subscriber is never held back: its last word must not wait
    // for a flush that a stopping server may never run.
    if (window.count() <= 0 || !options.schedule_flush || s.closing ||
        now - s.last_write_start >= window || holds_full_write(s) || arrives_slowly(s))
      return start_write_locked(s);
    s.deferred = true;
    bool schedule = false;
    {
      std::lock_guard<std::mutex> lock(shards[s.shard].deferred_mutex);
      auto& list = shards[s.shard].deferred;
      list.push_back(s.self);
      schedule = list.size() == 1 && !flush_scheduled.exchange(true);
    }
    if (schedule) options.schedule_flush(window);
  }

  // Below coalesce_rate: the subscriber's events arrive further apart than
  // 1/coalesce_rate seconds. The rate of arrivals, not of writes: it is
  // the rate of writes that a subscriber would see without the timer, and
  // measuring the writes instead would make the timer switch itself off
  // (once it holds events back, writes are rare).
  bool arrives_slowly(const subscriber_type& s) const {
    if (options.coalesce_rate <= 0) return false;
    return std::chrono::duration<double>(s.event_interval).count() * options.coalesce_rate >= 1.0;
  }

  // Updates the estimate of the gap between a subscriber's live events:
  // an exponential average with gain 1/4 (a few events show a change of
  // pace), each gap counted as at most the window, so a quiet spell reads
  // as "slow" without drowning the estimate.
  void note_arrival(subscriber_type& s, std::chrono::steady_clock::time_point now) const {
    const auto window =
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(options.coalesce_window);
    const auto gap = std::min<std::chrono::steady_clock::duration>(now - s.last_arrival, window);
    s.event_interval += (gap - s.event_interval) / 4;
    s.last_arrival = now;
  }

  // What hub::flush does: every shard flushes its held-back writes.
  void flush() {
    flush_scheduled = false;
    hand_to_all(handoff::flush);
  }

  void start_write_locked(subscriber_type& s) {
    const std::size_t n = std::min(s.queue.size(), options.max_events_per_write);
    s.in_flight.clear();
    s.buffers.clear();
    std::size_t write_bytes = 0;
    for (std::size_t i = 0; i < n; ++i) {
      write_bytes += s.queue.front()->bytes.size();
      if (i > 0 && write_bytes > options.max_bytes_per_write) break;
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
                                core.inline_pending.store(true);
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
  // again, as many times as the queue holds writes. The flag keeps the
  // common case (none stashed, an Asio transport) off the shared mutex.
  void run_inline_completions() {
    while (inline_pending.load()) {
      inline_completion c;
      {
        std::lock_guard<std::mutex> lock(inline_mutex);
        if (inline_completions.empty()) {
          inline_pending.store(false);
          return;
        }
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
        auto& sh = shards[s.shard];
        const auto now = clock.now();
        std::size_t events = 0;
        // The write's delays, summed here first: one atomic add per bucket
        // it touches rather than per event.
        std::array<std::uint32_t, delivery_delay_bounds_us.size() + 1> delays{};
        std::uint64_t delay_ns = 0;
        for (const auto& e : s.in_flight) {
          s.queued_bytes -= e->bytes.size();
          if (e->seq != 0) {
            ++events;
            if (e->seq > s.start_seq) {
              const auto ns = static_cast<std::uint64_t>(std::max<std::int64_t>(
                  std::chrono::duration_cast<std::chrono::nanoseconds>(now - e->published).count(),
                  0));
              ++delays[bucket_of(ns / 1000, delivery_delay_bounds_us)];
              delay_ns += ns;
            }
          } else if (e == heartbeat) {
            sh.heartbeats.fetch_add(1, std::memory_order_relaxed);
          }
        }
        if (events != 0) {
          sh.deliveries.fetch_add(events, std::memory_order_relaxed);
          sh.events_per_write[bucket_of(events, events_per_write_bounds)].fetch_add(
              1, std::memory_order_relaxed);
          for (std::size_t i = 0; i < delays.size(); ++i)
            if (delays[i] != 0)
              sh.delivery_delay[i].fetch_add(delays[i], std::memory_order_relaxed);
          if (delay_ns != 0) sh.delivery_delay_ns.fetch_add(delay_ns, std::memory_order_relaxed);
        }
        sh.bytes_written.fetch_add(bytes, std::memory_order_relaxed);
        sh.writes.fetch_add(1, std::memory_order_relaxed);
        s.in_flight.clear();
        s.last_activity = now;
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
  // finish_close without holding any lock (it takes the shard's and the
  // channels' locks).
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
    bool removed = false;
    {
      auto& sh = shards[s.shard];
      std::lock_guard<std::mutex> lock(sh.mutex);
      for (const auto& c : s.channels) {
        const auto it = sh.members.find(c.get());
        if (it == sh.members.end()) continue;
        auto& subs = it->second;
        const auto at = std::find_if(subs.begin(), subs.end(),
                                     [&](const subscriber_ptr& p) { return p.get() == &s; });
        if (at == subs.end()) continue;
        *at = std::move(subs.back());
        subs.pop_back();
        if (subs.empty()) sh.members.erase(it);
        removed = true;
        std::lock_guard<std::mutex> channel_lock(c->mutex);
        --c->members[s.shard];
        --c->subscribers;
      }
    }
    if (!removed) return;
    subscriber_count.fetch_sub(1, std::memory_order_relaxed);
    for (const auto& c : s.channels) drop_if_unused(c->name);
  }

  hub_options options;
  Clock clock;
  event_ptr heartbeat;
  event_ptr initial_retry;

  // Lock order, outermost first; no thread takes one while holding a later
  // one, except where noted:
  //   1. a shard's mutex (run_shard, subscribe, detach, close_all);
  //   2. channels_mutex (the map), then channels' mutexes, in name order;
  //   3. order_mutex (numbering, the history totals and eviction order);
  //   4. a shard's inbox_mutex;
  //   5. a subscriber's mutex (taken after 1 or 2, never with 3 or 4);
  //   6. innermost: a shard's deferred_mutex, inline_mutex.
  // (find_or_create takes channels_mutex and, while it holds it, a
  // channel's mutex: nothing holding a channel takes channels_mutex.)
  std::deque<shard_type> shards;  // a deque: shards are neither movable nor copyable
  std::atomic<std::uint64_t> next_seq{0};
  std::mutex order_mutex;
  struct order_entry {
    std::weak_ptr<channel_type> channel;
    std::uint64_t seq = 0;
  };
  ring<order_entry> history_order;
  std::size_t history_total = 0;             // cost of every channel's history
  std::size_t history_count = 0;             // events in every channel's history
  std::atomic<bool> flush_scheduled{false};  // one schedule_flush per flush()
  // Completions a transport delivered inside async_write or close(); each
  // owns its subscriber until run, and every public operation (and
  // subscription::reset) runs them before it returns, so none outlives the
  // call that started its write or closed its transport.
  struct inline_completion {
    subscriber_ptr s;
    std::error_code ec;
    std::size_t bytes = 0;
  };
  std::mutex inline_mutex;
  std::vector<inline_completion> inline_completions;
  std::atomic<bool> inline_pending{false};

  std::mutex channels_mutex;
  std::unordered_map<std::string, channel_ptr> channels;
  std::uint64_t dropped_evicted_up_to = 0;  // guarded by channels_mutex

  std::atomic<std::size_t> subscriber_count{0};
  std::atomic<std::size_t> next_shard{0};  // round robin for subscribe's any_shard
  std::atomic<std::uint64_t> published{0}, history_evictions{0}, slow_consumer_disconnects{0},
      dropped_events{0};
};

}  // namespace detail

/// Channels with history and fan-out over a transport (see transport.hpp).
///
/// - `publish(channel, event)` formats the event once, stores it in the
///   channel's history once and hands it once to each shard that has
///   subscribers of the channel; each subscriber gets one gather write for
///   whatever is queued, so a burst costs one write.
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
/// Threading model. Every member function may be called from any thread.
/// Subscribers live in shards (hub_options::shards; `subscribe` says which).
/// A shard's subscribers are only ever queued to, written, heartbeaten and
/// flushed inside that shard's `run_shard()`, and their transports' write
/// completions come back on the thread the transport runs them on. A
/// publisher touches only the channel (its lock, the history) and, once per
/// event and shard, that shard's inbox; it never walks subscribers.
/// - With `wake_shard` set (ssepp's Asio server: one shard per I/O thread,
///   each connection's transport on its shard's thread), a publish hands
///   the event over and returns, and each shard's thread delivers it: no
///   lock or subscriber state is shared between cores on the delivery
///   path, and one pass of `run_shard` starts one write per subscriber for
///   everything handed over meanwhile.
/// - Without it (the default: one shard, as for a transport of the user's
///   own), `publish`, `tick` and `flush` run the shard on the calling
///   thread before they return, so an event is queued, and its write
///   started, when `publish` returns.
/// Close handlers run on the thread whose call found the connection gone
/// (a transport's completion, a shard's pass that overflowed a queue, or
/// the call that closed).
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

  /// Publishes `events` to `channel`, all or none: every event is checked
  /// first (`failed` names the first invalid one, and nothing is published),
  /// then all are numbered, stored and handed over together, under one
  /// lock, so they get consecutive hub-assigned ids and no other event of
  /// the channel comes between them.
  /// Complexity: linear in the events, plus one handover per shard with
  /// subscribers of the channel.
  batch_publish_result publish_batch(std::string_view channel,
                                     const std::vector<event_view>& events);

  /// `subscribe`'s shard argument for "any": the hub spreads such
  /// subscribers over the shards in turn.
  static constexpr std::size_t any_shard = static_cast<std::size_t>(-1);

  /// Subscribes `transport` to `channels`. With a non-empty `last_event_id`,
  /// first replays what the channels' history holds after that id (or sends
  /// the gap event). `on_close` runs once if the hub closes the subscriber.
  /// `shard` (taken modulo hub_options::shards) is the shard the subscriber
  /// belongs to: the one whose thread runs its transport (see the class
  /// comment).
  subscription subscribe(const std::vector<std::string>& channels, Transport transport,
                         std::string_view last_event_id = {}, close_handler on_close = {},
                         std::size_t shard = any_shard);

  /// Subscribes `transport` to `channels` with a replay that `plan`
  /// describes instead of a Last-Event-ID: the gap event if it names a
  /// reason, its events, the history published after its mark, then live
  /// events, with no event twice (see replay_plan). Otherwise as above.
  subscription subscribe_with_replay(const std::vector<std::string>& channels, Transport transport,
                                     const replay_plan& plan, close_handler on_close = {},
                                     std::size_t shard = any_shard);

  /// Now, as a position in the history: a subscription whose replay_plan
  /// names it gets every event published after this call.
  history_mark mark() const noexcept { return {core_->next_seq.load()}; }

  /// Where the event with this id stands in the history of one of
  /// `channels`: a subscription resuming from the id replays what the
  /// history holds after this mark. nullopt when none of them holds it.
  /// Complexity: linear in those channels' history.
  std::optional<history_mark> find_in_history(const std::vector<std::string>& channels,
                                              std::string_view id) const;

  /// Subscribers of `channel` now (0 for a channel that does not exist).
  std::size_t subscribers(std::string_view channel) const;

  /// Delivers what publishers, `tick()` and `flush()` handed to `shard`
  /// (taken modulo hub_options::shards) since its last run, and starts the
  /// writes. Call it when `hub_options::wake_shard` asks, on the shard's
  /// thread; without wake_shard the hub calls it itself.
  void run_shard(std::size_t shard) {
    core_->run_shard(shard % core_->shards.size());
    core_->run_inline_completions();
  }

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
  // What a subscription replays: from a Last-Event-ID, or from a plan.
  struct resume_request {
    std::string_view last_event_id;
    const replay_plan* plan = nullptr;
  };
  subscription subscribe_resuming(const std::vector<std::string>& channels, Transport transport,
                                  resume_request resume, close_handler on_close, std::size_t shard);

  std::shared_ptr<core_type> core_;
};

// ---------------------------------------------------------------------------
// Implementation

template <class Transport, class Clock>
publish_result hub<Transport, Clock>::publish(std::string_view channel_name, const event_view& ev) {
  publish_result result;
  if ((result.error = validate(ev))) return result;
  auto& core = *core_;
  std::vector<std::string> ids;
  std::vector<std::size_t> woken;
  {
    auto locked = core.lock_channel(channel_name);
    if (!locked.first) {
      result.error = make_error_code(errc::too_many_channels);
      return result;
    }
    const std::array<event_view, 1> one{ev};
    woken = core.publish_locked(locked.first, one, ids);
  }
  core.published.fetch_add(1, std::memory_order_relaxed);
  core.evict_over_total();
  core.wake_shards(woken);
  core.run_inline_completions();
  result.id = std::move(ids.front());
  return result;
}

template <class Transport, class Clock>
batch_publish_result hub<Transport, Clock>::publish_batch(std::string_view channel_name,
                                                          const std::vector<event_view>& events) {
  batch_publish_result result;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if ((result.error = validate(events[i]))) {
      result.failed = i;
      return result;
    }
  }
  if (events.empty()) return result;
  auto& core = *core_;
  std::vector<std::size_t> woken;
  result.ids.reserve(events.size());
  {
    auto locked = core.lock_channel(channel_name);
    if (!locked.first) {
      result.error = make_error_code(errc::too_many_channels);
      return result;
    }
    woken = core.publish_locked(locked.first, events, result.ids);
  }
  core.published.fetch_add(events.size(), std::memory_order_relaxed);
  core.evict_over_total();
  core.wake_shards(woken);
  core.run_inline_completions();
  return result;
}

template <class Transport, class Clock>
typename hub<Transport, Clock>::subscription hub<Transport, Clock>::subscribe(
    const std::vector<std::string>& channel_names, Transport transport,
    std::string_view last_event_id, close_handler on_close, std::size_t shard) {
  return subscribe_resuming(channel_names, std::move(transport), {last_event_id, nullptr},
                            std::move(on_close), shard);
}

template <class Transport, class Clock>
typename hub<Transport, Clock>::subscription hub<Transport, Clock>::subscribe_with_replay(
    const std::vector<std::string>& channel_names, Transport transport, const replay_plan& plan,
    close_handler on_close, std::size_t shard) {
  return subscribe_resuming(channel_names, std::move(transport), {plan.last_event_id, &plan},
                            std::move(on_close), shard);
}

template <class Transport, class Clock>
std::optional<history_mark> hub<Transport, Clock>::find_in_history(
    const std::vector<std::string>& channel_names, std::string_view id) const {
  auto& core = *core_;
  for (const auto& name : channel_names) {
    typename core_type::channel_ptr c;
    {
      std::lock_guard<std::mutex> lock(core.channels_mutex);
      const auto it = core.channels.find(name);
      if (it == core.channels.end()) continue;
      c = it->second;
    }
    std::lock_guard<std::mutex> lock(c->mutex);
    for (std::size_t i = c->history.size(); i-- > 0;)
      if (c->history[i]->id == id) return history_mark{c->history[i]->seq};
  }
  return std::nullopt;
}

template <class Transport, class Clock>
std::size_t hub<Transport, Clock>::subscribers(std::string_view channel_name) const {
  auto& core = *core_;
  typename core_type::channel_ptr c;
  {
    std::lock_guard<std::mutex> lock(core.channels_mutex);
    const auto it = core.channels.find(std::string(channel_name));
    if (it == core.channels.end()) return 0;
    c = it->second;
  }
  std::lock_guard<std::mutex> lock(c->mutex);
  return c->subscribers;
}

template <class Transport, class Clock>
typename hub<Transport, Clock>::subscription hub<Transport, Clock>::subscribe_resuming(
    const std::vector<std::string>& channel_names, Transport transport, resume_request resume,
    close_handler on_close, std::size_t shard) {
  const std::string_view last_event_id = resume.last_event_id;
  auto& core = *core_;
  if (channel_names.empty()) {
    // Nothing to subscribe to: the stream would stay silent forever.
    transport.close();
    return subscription{};
  }
  const std::size_t k =
      (shard == any_shard ? core.next_shard.fetch_add(1, std::memory_order_relaxed) : shard) %
      core.shards.size();
  auto& sh = core.shards[k];
  auto s = std::make_shared<subscriber_type>(core_, std::move(transport), k);
  s->self = s;
  s->on_close = std::move(on_close);
  std::vector<std::string> names = channel_names;
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());

  // The hand-over happens under the shard's lock and every channel's (in
  // name order, so concurrent subscribers cannot deadlock): the replay is
  // taken from history and the subscriber joins the shard with no publish
  // in between. Events of these channels already in the shard's inbox are
  // in the replay or before the subscription (start_seq), so there is no
  // gap and no duplicate.
  std::unique_lock<std::mutex> shard_lock(sh.mutex);
  std::vector<typename core_type::channel_ptr> chans;
  std::vector<std::unique_lock<std::mutex>> locks;
  for (bool all_live = false; !all_live;) {
    locks.clear();
    chans.clear();
    for (const auto& name : names) {
      chans.push_back(core.find_or_create(name));
      if (!chans.back()) {
        // max_channels are all in use (see hub_options).
        s->transport.close();
        for (const auto& made : names) core.drop_if_unused(made);
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
  if (resume.plan) {
    // A backplane's plan: its events, then the history after its mark.
    gap_reason = resume.plan->gap_reason;
    for (const auto& bytes : resume.plan->events) replay.push_back(core_type::make_control(bytes));
    if (const auto mark = resume.plan->after) {
      std::vector<detail::event_ptr> later;
      for (auto& c : chans) {
        if (c->evicted_up_to > mark->position && gap_reason.empty()) gap_reason = "evicted";
        for (std::size_t i = 0; i < c->history.size(); ++i)
          if (c->history[i]->seq > mark->position) later.push_back(c->history[i]);
      }
      std::sort(
          later.begin(), later.end(),
          [](const detail::event_ptr& a, const detail::event_ptr& b) { return a->seq < b->seq; });
      replay.insert(replay.end(), later.begin(), later.end());
    }
  } else if (!last_event_id.empty()) {
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
    // Every event of these channels numbered so far is in the history (or
    // gone from it), since numbering takes the channel's lock.
    s->start_seq = core.next_seq.load();
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
    ++c->members[k];
    ++c->subscribers;
    sh.members[c.get()].push_back(s);
  }
  s->channels = std::move(chans);
  core.subscriber_count.fetch_add(1, std::memory_order_relaxed);
  locks.clear();
  shard_lock.unlock();

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
  for (auto& [name, c] : snapshot) {
    {
      std::lock_guard<std::mutex> lock(c->mutex);
      core.evict(*c, now);
    }
    core.drop_if_unused(name);
  }
  // Each shard looks for its idle subscribers in its own pass.
  if (core.options.heartbeat_interval.count() > 0) core.hand_to_all(core_type::handoff::heartbeat);
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
  for (auto& sh : core.shards) {
    std::vector<std::shared_ptr<subscriber_type>> all, closed;
    std::unique_lock<std::mutex> shard_lock(sh.mutex);
    for (const auto& entry : sh.members)
      all.insert(all.end(), entry.second.begin(), entry.second.end());
    std::sort(all.begin(), all.end());
    all.erase(std::unique(all.begin(), all.end()), all.end());
    for (const auto& s : all) {
      std::lock_guard<std::mutex> lock(s->mutex);
      if (s->closed) continue;
      if (word) core.enqueue_locked(*s, word);
      if (s->closed) {
        // The last word overflowed the queue and closed it (disconnect
        // policy): it must still be detached and its owner told.
        closed.push_back(s);
      } else if (drain && (s->writing || !s->queue.empty())) {
        // A subscriber held back by coalescing writes its queue now.
        if (!s->writing) core.start_write_locked(*s);
        s->closing = true;  // write_done closes it once the queue drains
      } else {
        core.close_locked(*s, close_reason::hub_closed, {});
        closed.push_back(s);
      }
    }
    shard_lock.unlock();
    for (const auto& s : closed) core.finish_close(*s);
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
  for (const auto& sh : core.shards) {
    st.deliveries += sh.deliveries.load();
    st.bytes_written += sh.bytes_written.load();
    st.writes += sh.writes.load();
    st.heartbeats += sh.heartbeats.load();
    for (std::size_t i = 0; i < sh.events_per_write.size(); ++i)
      st.events_per_write.buckets[i] += sh.events_per_write[i].load();
    for (std::size_t i = 0; i < sh.delivery_delay.size(); ++i)
      st.delivery_delay.buckets[i] += sh.delivery_delay[i].load();
    st.delivery_delay.sum += sh.delivery_delay_ns.load();
  }
  st.events_per_write.sum = st.deliveries;
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
