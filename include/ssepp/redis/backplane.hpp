// A Redis backplane for a hub: one channel across many processes. Every
// node publishes through Redis (one script per event or batch numbers it,
// appends it to the channel's stream and announces it), subscribes once
// per channel that has local subscribers, and applies what Redis announces
// to its own hub by sequence, so ids mean the same on every node and a
// client resumes on any of them. The decisions are protocol.hpp's; this
// header does the I/O, on hiredis's async API driven by Asio (either
// flavour, ssepp/asio/net.hpp). Link ssepp::redis and ssepp::asio (or
// ssepp::boost).
#pragma once

#include "../asio/net.hpp"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../error.hpp"
#include "../event.hpp"
#include "../format.hpp"
#include "../hub.hpp"
#include "detail/asio_events.hpp"
#include "protocol.hpp"
#include "scripts.hpp"

namespace ssepp::redis {
inline namespace SSEPP_ASIO_FLAVOUR {

namespace net = ::ssepp::asio::net;

/// How a backplane reaches Redis and bounds what it keeps there; the
/// defaults match hub_options' history bounds.
struct backplane_options {
  address redis;
  /// Every name the backplane uses in Redis starts with this (key_names):
  /// nodes with one prefix share channels and ids; another prefix on the
  /// same Redis is another, separate id space.
  std::string prefix = "ssepp:";
  /// A channel's stream keeps this many events at most (the history a node
  /// that lacks it resumes a client from). Exact up to 10,000, approximate
  /// (Redis's `MAXLEN ~`, cheaper) beyond.
  std::size_t stream_events = 1024;
  /// ... and events this young at most; an idle stream expires after it.
  std::chrono::milliseconds stream_age = std::chrono::minutes{5};
  /// First delay before connecting again after Redis went away; it doubles
  /// up to max_reconnect_delay.
  std::chrono::milliseconds reconnect_delay = std::chrono::milliseconds{100};
  std::chrono::milliseconds max_reconnect_delay = std::chrono::seconds{2};
  /// Channels per SUBSCRIBE when a node subscribes again after Redis came
  /// back, so one command never carries thousands.
  std::size_t resubscribe_batch = 256;
  /// A channel with no local subscriber for this long is unsubscribed
  /// from (its history stays in the hub until its bounds evict it).
  std::chrono::milliseconds unsubscribe_after = std::chrono::seconds{5};
  /// Publish scripts sent and not yet answered, at most; a publish beyond
  /// them fails at once with errc::backplane_unavailable (503), so a Redis
  /// slower than the publishers costs bounded memory, not a growing queue.
  std::size_t max_publishes_in_flight = 4096;
  /// A Redis that answers nothing for this long while commands wait (a
  /// hung server, a network that drops packets without a reset) is given
  /// up on: the session ends, pending publishes fail, and the backplane
  /// connects again.
  std::chrono::milliseconds command_timeout = std::chrono::seconds{5};
  /// Live events a channel holds while a read of its stream is in flight;
  /// past it they are dropped and the stream is read again after.
  std::size_t max_held_events = 65536;
  /// Receives log lines (connection changes, holes that could not be
  /// filled); none are printed without it.
  std::function<void(std::string_view)> log;
};

/// Counters of a backplane's life, read with `backplane::stats()`.
struct backplane_stats {
  std::uint64_t published = 0;      ///< events Redis numbered for this node
  std::uint64_t publish_calls = 0;  ///< publish scripts run (one per publish or batch)
  std::uint64_t reads = 0;          ///< stream reads (catch-up, holes, resumes)
  std::uint64_t subscribe_calls = 0;
  std::uint64_t applied = 0;     ///< events applied to the hub
  std::uint64_t dropped = 0;     ///< live events applied already
  std::uint64_t holes = 0;       ///< jumps in a channel's sequence
  std::uint64_t lost_holes = 0;  ///< ... that Redis could no longer fill
  std::uint64_t epochs = 0;      ///< epoch changes seen
  std::uint64_t connects = 0;    ///< sessions begun (both connections up)
  std::uint64_t resumes_local = 0, resumes_redis = 0, resumes_gap = 0;
  std::uint64_t resumes_shared = 0;  ///< resumes from Redis that took another's read
  std::size_t channels = 0;          ///< channels subscribed to now
  bool connected = false;
};

/// A Redis backplane for `Hub` (an ssepp::hub<Transport, Clock>).
///
/// - `publish(channel, events, done)` runs one script in Redis: the events
///   get consecutive ids "<epoch>-<seq>" from the prefix's one count, go
///   to the channel's stream (bounded by stream_events and stream_age) and
///   are announced. `done` gets their ids, or errc::backplane_unavailable
///   when Redis is not reachable (nothing was published), or
///   errc::backplane_refused. Events' own ids are not used: Redis assigns
///   every id. The local hub gets the events like every node does, from
///   Redis's announcement.
/// - `resume(channels, last_event_id, ready)` readies a new stream: the
///   node subscribes to each channel in Redis (once per channel), then
///   says how the stream resumes: nullopt to resume from the hub's own
///   history (it holds the id, or there is no id), else a replay_plan
///   built from Redis (the channels' streams after the id, merged with
///   what the hub applied since), or with the gap event (an id of another
///   epoch or never issued: "unknown"; Redis not reachable and the hub not
///   holding it: "unavailable"; events after it gone from Redis:
///   "evicted"). The caller subscribes with it (hub::subscribe_with_replay).
/// - Live events are applied to the hub by sequence (protocol.hpp's
///   on_live_event): a hole is filled with one read of the stream first.
/// - Redis gone: publishing fails at once, streams stay open (the hub's
///   heartbeats go on), and the backplane connects again with backoff,
///   subscribes again in batches and catches each channel up from the last
///   event it applied, without disconnecting anyone. A Redis that lost its
///   count, or went back to an older one, gets a new epoch (never reused
///   ids), and each channel catches up under it.
///
/// Thread safety: the public member functions may be called from any
/// thread; everything runs on `io`, which the owner runs on one thread, so
/// the connection to Redis is never held up by anything but the hub's
/// publish calls (which only hand events to the hub's shards). `done` and
/// `ready` run there. Call `stop()` (and let `io` run it) before
/// destroying the backplane, and destroy it before the hub.
template <class Hub>
class backplane {
 public:
  using publish_handler = std::function<void(batch_publish_result)>;
  using resume_handler = std::function<void(std::optional<replay_plan>)>;

  backplane(net::io_context& io, Hub& hub, backplane_options options)
      : io_(io),
        hub_(hub),
        options_(std::move(options)),
        keys_{options_.prefix},
        timer_(io),
        reconnect_timer_(io) {}
  backplane(const backplane&) = delete;
  backplane& operator=(const backplane&) = delete;
  ~backplane() { drop_links(); }

  /// Connects to Redis (and keeps connecting until stop()).
  void start() {
    net::post(io_, [this] {
      stopping_ = false;
      connect();
      tick();
    });
  }

  /// Disconnects; pending publishes fail and pending resumes are answered.
  void stop() {
    net::post(io_, [this] {
      stopping_ = true;
      timer_.cancel();
      reconnect_timer_.cancel();
      session_down();
    });
  }

  void publish(std::string channel, std::vector<event> events, publish_handler done) {
    net::post(io_, [this, channel = std::move(channel), events = std::move(events),
                    done = std::move(done)]() mutable {
      do_publish(std::move(channel), std::move(events), std::move(done));
    });
  }

  void resume(std::vector<std::string> channels, std::string last_event_id, resume_handler ready) {
    net::post(io_, [this, channels = std::move(channels), id = std::move(last_event_id),
                    ready = std::move(ready)]() mutable {
      auto op = std::make_shared<resume_op>();
      op->channels = std::move(channels);
      op->last_event_id = std::move(id);
      op->ready = std::move(ready);
      begin_resume(op);
    });
  }

  backplane_stats stats() const {
    backplane_stats s;
    s.published = counters_.published;
    s.publish_calls = counters_.publish_calls;
    s.reads = counters_.reads;
    s.subscribe_calls = counters_.subscribe_calls;
    s.applied = counters_.applied;
    s.dropped = counters_.dropped;
    s.holes = counters_.holes;
    s.lost_holes = counters_.lost_holes;
    s.epochs = counters_.epochs;
    s.connects = counters_.connects;
    s.resumes_local = counters_.resumes_local;
    s.resumes_redis = counters_.resumes_redis;
    s.resumes_gap = counters_.resumes_gap;
    s.resumes_shared = counters_.resumes_shared;
    s.channels = counters_.channels;
    s.connected = counters_.connected;
    return s;
  }

  const backplane_options& options() const noexcept { return options_; }

 private:
  using clock = std::chrono::steady_clock;

  struct shared_read;

  // What the node knows of one channel (see the member comment below).
  struct channel_state {
    channel_position pos;
    bool positioned = false;       // pos is known (a baseline read, or events applied)
    bool requested = false;        // SUBSCRIBE sent in this session
    bool subscribed = false;       // ... and confirmed
    bool reading = false;          // a read of its stream is in flight
    bool from_start = false;       // the next read takes the whole stream (new epoch)
    bool reread = false;           // held overflowed: read again after this read
    bool unsubscribing = false;    // UNSUBSCRIBE sent, its reply not yet in
    std::vector<wire_event> held;  // live events that came during the read
    std::vector<std::function<void()>> when_ready;
    clock::time_point last_use{};
    clock::time_point requested_at{};
    // The hub's history of the channel holds every event applied after
    // this mark, with no hole (from where the node first stood, or from the
    // last hole Redis could not fill): a resume from an id before it is
    // not served from the hub alone.
    history_mark complete_after{};
    // The read of the stream that resumes are waiting for, while in flight
    // (see read_for_resume).
    std::shared_ptr<shared_read> resume_read;
  };

  // One read of a channel's stream for resumes: every single-channel
  // resume from a seq at or after `from` takes its answer, so a crowd of
  // clients reconnecting to one channel (a node went down) costs one read.
  struct shared_read {
    std::uint64_t from = 0;  // the entries after this seq
    channel_read read;       // ... up to read.applied, where the node stood
    history_mark mark;       // what the node applied since is after this
    bool failed = false;
    std::vector<std::function<void(const shared_read&)>> waiters;
  };

  struct resume_op {
    std::vector<std::string> channels;
    std::string last_event_id;
    resume_handler ready;
    bool caught_up = false;
  };

  // --- Redis commands -----------------------------------------------------

  // A command's reply handler: called once, with the reply or (the
  // connection went) null, and never after the session it was sent in.
  struct pending_reply {
    backplane* self;
    std::uint64_t session;
    std::function<void(redisReply*)> handler;
  };

  static void on_reply(redisAsyncContext*, void* reply, void* privdata) {
    std::unique_ptr<pending_reply> p(static_cast<pending_reply*>(privdata));
    auto& self = *p->self;
    --self.commands_in_flight_;
    self.last_progress_ = clock::now();
    if (p->session != self.session_) return p->handler(nullptr);
    p->handler(static_cast<redisReply*>(reply));
  }

  // Sends `args` (binary-safe) on `link`; hiredis's status.
  static int send(redisAsyncContext* link, redisCallbackFn* fn, void* privdata,
                  const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lengths.push_back(a.size());
    }
    return redisAsyncCommandArgv(link, fn, privdata, static_cast<int>(argv.size()), argv.data(),
                                 lengths.data());
  }

  void command(const std::vector<std::string>& args, std::function<void(redisReply*)> handler) {
    if (!command_link_) return handler(nullptr);
    auto* p = new pending_reply{this, session_, std::move(handler)};
    if (commands_in_flight_++ == 0) last_progress_ = clock::now();
    if (send(command_link_, &backplane::on_reply, p, args) != REDIS_OK) {
      std::unique_ptr<pending_reply> owned(p);
      --commands_in_flight_;
      owned->handler(nullptr);
    }
  }

  static bool is_error(const redisReply* r) { return !r || r->type == REDIS_REPLY_ERROR; }
  static std::string_view text(const redisReply* r) {
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
                 r->type == REDIS_REPLY_ERROR)
               ? std::string_view(r->str, r->len)
               : std::string_view{};
  }

  // The entries of an XRANGE or XREVRANGE reply (malformed ones skipped).
  static std::vector<wire_event> entries_of(const redisReply* r) {
    std::vector<wire_event> out;
    if (!r || r->type != REDIS_REPLY_ARRAY) return out;
    for (std::size_t i = 0; i < r->elements; ++i) {
      const redisReply* entry = r->element[i];
      if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2) continue;
      const redisReply* fields = entry->element[1];
      std::vector<std::pair<std::string_view, std::string_view>> pairs;
      if (fields->type == REDIS_REPLY_ARRAY)
        for (std::size_t j = 0; j + 1 < fields->elements; j += 2)
          pairs.emplace_back(text(fields->element[j]), text(fields->element[j + 1]));
      if (auto e = parse_entry(text(entry->element[0]), pairs)) out.push_back(std::move(*e));
    }
    return out;
  }

  // --- connections --------------------------------------------------------
  //
  // A session is both connections up: one for commands, one in pub/sub
  // mode (Redis allows nothing else on it). Either one failing ends the
  // session: both are dropped, and the next session starts afresh, so no
  // state is half up. Channels keep their positions across sessions.

  void log(const std::string& line) const {
    if (options_.log) options_.log(line);
  }

  static void on_connect(const redisAsyncContext* c, int status) {
    auto* self = static_cast<backplane*>(c->data);
    if (status != REDIS_OK) {
      // hiredis frees the context after this callback.
      self->log("Redis: cannot connect to " + self->options_.redis.host + ":" +
                std::to_string(self->options_.redis.port) + ": " + c->errstr);
      self->forget(c);
      self->session_down();
      return;
    }
    self->link_up(c);
  }

  static void on_disconnect(const redisAsyncContext* c, int) {
    auto* self = static_cast<backplane*>(c->data);
    // hiredis frees the context after this callback.
    self->forget(c);
    self->session_down();
  }

  void forget(const redisAsyncContext* c) {
    if (c == command_link_) command_link_ = nullptr;
    if (c == pubsub_link_) pubsub_link_ = nullptr;
  }

  redisAsyncContext* open_link() {
    redisAsyncContext* c = redisAsyncConnect(options_.redis.host.c_str(), options_.redis.port);
    if (!c) return nullptr;
    if (c->err) {
      log(std::string("Redis: cannot connect: ") + c->errstr);
      redisAsyncFree(c);
      return nullptr;
    }
    c->data = this;
    // A peer that vanishes without a reset is noticed (and command_timeout
    // bounds what waits on it).
    (void)redisEnableKeepAlive(&c->c);
    detail::asio_events::attach(io_.get_executor(), c);
    connect_started_ = clock::now();
    redisAsyncSetConnectCallback(c, &backplane::on_connect);
    redisAsyncSetDisconnectCallback(c, &backplane::on_disconnect);
    return c;
  }

  void connect() {
    if (stopping_ || command_link_ || pubsub_link_) return;
    command_up_ = pubsub_up_ = false;
    command_link_ = open_link();
    pubsub_link_ = command_link_ ? open_link() : nullptr;
    if (!command_link_ || !pubsub_link_) session_down();
  }

  void link_up(const redisAsyncContext* c) {
    if (c == command_link_) {
      command_up_ = true;
      if (options_.redis.db != 0)
        command({"SELECT", std::to_string(options_.redis.db)}, [this](redisReply* r) {
          // Another database than asked for would be another id space.
          if (r && r->type == REDIS_REPLY_ERROR) {
            log("Redis: cannot select database " + std::to_string(options_.redis.db) + ": " +
                std::string(text(r)));
            session_down();
          }
        });
      command({"SCRIPT", "LOAD", scripts::publish}, [this](redisReply* r) {
        if (!is_error(r)) publish_sha_ = std::string(text(r));
      });
      // The count, checked against what this node has seen: a Redis that
      // lost it or went back gets a new epoch here, before anything else.
      command({"EVAL", scripts::check, "1", keys_.meta(), epoch_, std::to_string(seen_seq_)},
              [this](redisReply* r) { on_checked(r); });
    } else if (c == pubsub_link_) {
      pubsub_up_ = true;  // (pub/sub channels are the same in every database)
      maybe_session_up();
    }
  }

  void on_checked(redisReply* r) {
    if (is_error(r) || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
      log("Redis: the epoch check failed: " + std::string(text(r)));
      return session_down();
    }
    const std::string epoch(text(r->element[0]));
    const auto seq = http::parse_decimal<std::uint64_t>(text(r->element[1])).value_or(0);
    if (epoch != epoch_) note_epoch(epoch, seq);
    checked_ = true;
    maybe_session_up();
  }

  void maybe_session_up() {
    if (!command_up_ || !pubsub_up_ || !checked_ || session_live_) return;
    session_live_ = true;
    counters_.connected = true;
    ++counters_.connects;
    reconnect_delay_ = options_.reconnect_delay;
    log("Redis: connected to " + options_.redis.host + ":" + std::to_string(options_.redis.port));
    resubscribe();
  }

  // Both links go; the next session starts after a delay.
  void session_down() {
    const bool was_live = session_live_;
    session_live_ = false;
    counters_.connected = false;
    counters_.channels = 0;
    checked_ = false;
    ++session_;
    drop_links();
    std::vector<std::function<void()>> waiting;
    for (auto& [name, st] : channels_) {
      st.requested = st.subscribed = st.reading = st.unsubscribing = false;
      st.held.clear();
      for (auto& w : st.when_ready) waiting.push_back(std::move(w));
      st.when_ready.clear();
    }
    // Streams opening now are answered from the hub alone (after the loop:
    // answering may add channels to the map).
    for (auto& w : waiting) w();
    if (was_live) log("Redis: connection lost; connecting again");
    if (stopping_) return;
    reconnect_timer_.expires_after(reconnect_delay_);
    reconnect_delay_ = std::min(reconnect_delay_ * 2, options_.max_reconnect_delay);
    reconnect_timer_.async_wait([this](const ::ssepp::asio::error_code& ec) {
      if (!ec) connect();
    });
  }

  // Frees both contexts now; their pending callbacks run with null.
  void drop_links() {
    auto* a = std::exchange(command_link_, nullptr);
    auto* b = std::exchange(pubsub_link_, nullptr);
    command_up_ = pubsub_up_ = false;
    if (a) {
      a->onDisconnect = nullptr;
      redisAsyncFree(a);
    }
    if (b) {
      b->onDisconnect = nullptr;
      redisAsyncFree(b);
    }
  }

  // --- epochs ---------------------------------------------------------------

  // Redis numbers anew under `epoch`: every channel catches up from the
  // start of its stream, taking what is of the new epoch.
  void note_epoch(const std::string& epoch, std::uint64_t seq) {
    if (!epoch_.empty()) {
      ++counters_.epochs;
      log("Redis: new epoch " + epoch + " (was " + epoch_ + "): its count was lost or went back");
      for (auto& [name, st] : channels_)
        if (st.positioned) st.from_start = true;
    }
    epoch_ = epoch;
    seen_seq_ = seq;
  }

  // --- subscriptions ----------------------------------------------------------

  static void on_pubsub(redisAsyncContext*, void* reply, void* privdata) {
    auto* self = static_cast<backplane*>(privdata);
    auto* r = static_cast<redisReply*>(reply);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3) return;
    const auto kind = text(r->element[0]);
    const auto name = self->keys_.channel_of_pubsub(text(r->element[1]));
    if (!name) return;
    if (kind == "message") {
      for (auto& e : parse_message(text(r->element[2]))) self->on_live(*name, std::move(e));
    } else if (kind == "subscribe") {
      self->on_subscribed(*name);
    } else if (kind == "unsubscribe") {
      self->on_unsubscribed(*name);
    }
  }

  void subscribe_now(const std::vector<std::string>& names) {
    if (!pubsub_link_ || names.empty()) return;
    std::vector<std::string> args{"SUBSCRIBE"};
    for (const auto& n : names) args.push_back(keys_.pubsub(n));
    ++counters_.subscribe_calls;
    send(pubsub_link_, &backplane::on_pubsub, this, args);
  }

  void unsubscribe_now(const std::string& name) {
    if (!pubsub_link_) return;
    send(pubsub_link_, &backplane::on_pubsub, this, {"UNSUBSCRIBE", keys_.pubsub(name)});
  }

  // A channel a stream needs: subscribed to, if the session is up.
  channel_state& need(const std::string& name) {
    auto& st = channels_[name];
    st.last_use = clock::now();
    // While an UNSUBSCRIBE is answered, a SUBSCRIBE would race it (hiredis
    // drops the channel's callback on the UNSUBSCRIBE's reply): it goes
    // once that reply is in (on_unsubscribed).
    if (session_live_ && !st.requested && !st.unsubscribing) {
      st.requested = true;
      st.requested_at = st.last_use;
      subscribe_now({name});
    }
    return st;
  }

  // After a session begins: every channel that local streams use, in
  // batches.
  void resubscribe() {
    std::vector<std::string> batch;
    for (auto& [name, st] : channels_) {
      if (st.requested || st.unsubscribing) continue;
      if (hub_.subscribers(name) == 0 && st.when_ready.empty() &&
          clock::now() - st.last_use > options_.unsubscribe_after)
        continue;
      st.requested = true;
      st.requested_at = clock::now();
      batch.push_back(name);
      if (batch.size() >= std::max<std::size_t>(options_.resubscribe_batch, 1)) {
        subscribe_now(batch);
        batch.clear();
      }
    }
    subscribe_now(batch);
  }

  void on_subscribed(const std::string& name) {
    const auto it = channels_.find(name);
    if (it == channels_.end() || !it->second.requested || it->second.subscribed) return;
    it->second.subscribed = true;
    ++counters_.channels;
    read_stream(name);
  }

  void on_unsubscribed(const std::string& name) {
    const auto it = channels_.find(name);
    if (it == channels_.end() || !it->second.unsubscribing) return;
    it->second.unsubscribing = false;
    // A stream wanted it again meanwhile.
    if (!it->second.when_ready.empty() || hub_.subscribers(name) != 0) need(name);
  }

  static bool ready(const channel_state& st) {
    return st.subscribed && st.positioned && !st.reading;
  }

  // --- applying events ----------------------------------------------------------

  void apply(const std::string& name, channel_state& st, const std::vector<wire_event>& events) {
    if (events.empty()) return;
    std::vector<event_view> views;
    std::vector<std::string> ids;
    ids.reserve(events.size());
    views.reserve(events.size());
    for (const auto& e : events) ids.push_back(e.id());
    for (std::size_t i = 0; i < events.size(); ++i)
      views.push_back(event_view{events[i].data, events[i].type, ids[i]});
    (void)hub_.publish_batch(name, views);
    st.pos = {events.back().epoch, events.back().seq};
    st.positioned = true;
    if (events.back().epoch == epoch_) seen_seq_ = std::max(seen_seq_, events.back().seq);
    counters_.applied += events.size();
  }

  void on_live(const std::string& name, wire_event e) {
    const auto it = channels_.find(name);
    if (it == channels_.end() || !it->second.subscribed) return;
    auto& st = it->second;
    if (!ready(st)) {
      if (st.held.size() >= options_.max_held_events) {
        st.held.clear();
        st.reread = true;
      }
      st.held.push_back(std::move(e));
      return;
    }
    take_live(name, st, std::move(e));
  }

  // A live event for a channel that is ready; may start a read (and hold it).
  void take_live(const std::string& name, channel_state& st, wire_event e) {
    switch (on_live_event(st.pos, e)) {
      case live_action::apply:
        apply(name, st, {e});
        return;
      case live_action::drop:
        ++counters_.dropped;
        return;
      case live_action::fill_hole:
        ++counters_.holes;
        break;
      case live_action::new_epoch:
        if (e.epoch != epoch_) note_epoch(e.epoch, e.seq);
        st.from_start = true;
        break;
    }
    st.held.push_back(std::move(e));
    read_stream(name);
  }

  // Reads the channel's stream: the last entry for a channel never seen
  // (where it stands), else what came after the last event applied (or
  // the whole stream under a new epoch), applied in order. Live events
  // that arrive meanwhile are held, then taken in order.
  void read_stream(const std::string& name) {
    auto& st = channels_[name];
    if (st.reading) return;
    st.reading = true;
    ++counters_.reads;
    const std::string stream = keys_.stream(name);
    const bool baseline = !st.positioned;
    const bool whole = st.from_start;
    st.from_start = false;
    // Where a channel never seen stands: its last seq (kept past its
    // stream's expiry, so the next event's prev matches it).
    std::vector<std::string> args =
        baseline ? std::vector<std::string>{"GET", keys_.last(name)}
        : st.from_start
            ? std::vector<std::string>{"XRANGE", stream, "-", "+"}
            : std::vector<std::string>{"XRANGE", stream, std::to_string(st.pos.applied + 1), "+"};
    command(args, [this, name, baseline, whole](redisReply* r) {
      const auto it = channels_.find(name);
      if (it == channels_.end()) return;
      auto& s = it->second;
      if (!r) return;  // the session ended: the next one reads again
      s.reading = false;
      if (baseline) {
        s.pos = {epoch_, http::parse_decimal<std::uint64_t>(text(r)).value_or(0)};
        s.positioned = true;
        s.complete_after = hub_.mark();
      } else {
        auto entries = entries_of(r);
        const std::uint64_t last = entries.empty() ? 0 : entries.back().seq;
        auto fresh = new_entries(s.pos, epoch_, std::move(entries));
        if (whole && fresh.empty()) {
          // Nothing yet under the new epoch, whose count may have started
          // below this node's: its first event will follow the stream's
          // last entry, whatever that entry's epoch.
          s.pos = {epoch_, last};
        }
        if (!fresh.empty() && fresh.front().epoch == s.pos.epoch &&
            fresh.front().prev > s.pos.applied)
          lost_between(name, s, fresh.front());
        apply(name, s, fresh);
      }
      // Held events overflowed, or a new epoch was learnt meanwhile: read
      // again before taking live events.
      if (std::exchange(s.reread, false) || s.from_start) return read_stream(name);
      auto held = std::move(s.held);
      s.held.clear();
      for (std::size_t i = 0; i < held.size(); ++i) {
        if (s.reading) {
          // Another read began (a new epoch): the rest waits for it.
          s.held.insert(s.held.end(),
                        std::make_move_iterator(held.begin() + static_cast<std::ptrdiff_t>(i)),
                        std::make_move_iterator(held.end()));
          return;
        }
        auto& e = held[i];
        if (on_live_event(s.pos, e) == live_action::fill_hole) {
          // Just read, and still a hole: Redis no longer has those events
          // (trimmed meanwhile).
          lost_between(name, s, e);
          apply(name, s, {e});
          continue;
        }
        take_live(name, s, std::move(e));
      }
      if (!s.reading) {
        auto waiting = std::move(s.when_ready);
        s.when_ready.clear();
        for (auto& w : waiting) w();
      }
    });
  }

  // Events of the channel between what the node applied and `next` are
  // gone from Redis: the streams open now miss them (said in the log and
  // counted), and resumes from before `next` are no longer served from the
  // hub's history, which lacks them, but from Redis, which says they are
  // gone (the gap event).
  void lost_between(const std::string& name, channel_state& st, const wire_event& next) {
    ++counters_.lost_holes;
    log("Redis: events of channel " + name + " after " + std::to_string(st.pos.applied) +
        " and before " + std::to_string(next.seq) + " are gone from its stream");
    st.complete_after = hub_.mark();
  }

  // --- publishing --------------------------------------------------------------

  void do_publish(std::string channel, std::vector<event> events, publish_handler done) {
    batch_publish_result result;
    for (std::size_t i = 0; i < events.size(); ++i) {
      event_view v = events[i];
      v.id = {};
      if ((result.error = validate(v))) {
        result.failed = i;
        return done(std::move(result));
      }
    }
    if (events.empty()) return done(std::move(result));
    if (!session_live_ || publishes_in_flight_ >= options_.max_publishes_in_flight) {
      result.error = make_error_code(errc::backplane_unavailable);
      return done(std::move(result));
    }
    const bool exact = options_.stream_events <= 10000;
    auto args = std::make_shared<std::vector<std::string>>(std::vector<std::string>{
        "EVALSHA", publish_sha_, "3", keys_.meta(), keys_.stream(channel), keys_.last(channel),
        keys_.pubsub(channel), std::to_string(std::max<std::size_t>(options_.stream_events, 1)),
        exact ? "=" : "~", std::to_string(std::max<long long>(options_.stream_age.count(), 1)),
        epoch_, std::to_string(seen_seq_)});
    for (const auto& e : events) {
      args->push_back(e.type);
      args->push_back(e.data);
    }
    send_publish(args, events.size(), std::move(done), publish_sha_.empty());
  }

  void send_publish(std::shared_ptr<std::vector<std::string>> args, std::size_t n,
                    publish_handler done, bool as_eval) {
    if (as_eval) {
      (*args)[0] = "EVAL";
      (*args)[1] = scripts::publish;
    }
    ++counters_.publish_calls;
    ++publishes_in_flight_;
    command(*args, [this, args, n, done = std::move(done), as_eval](redisReply* r) mutable {
      --publishes_in_flight_;
      batch_publish_result result;
      if (!r) {
        result.error = make_error_code(errc::backplane_unavailable);
        return done(std::move(result));
      }
      if (r->type == REDIS_REPLY_ERROR && !as_eval && text(r).substr(0, 8) == "NOSCRIPT")
        return send_publish(args, n, std::move(done), true);
      if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        log("Redis refused a publish: " + std::string(text(r)));
        result.error = make_error_code(errc::backplane_refused);
        return done(std::move(result));
      }
      const std::string epoch(text(r->element[0]));
      const auto last = http::parse_decimal<std::uint64_t>(text(r->element[1])).value_or(0);
      if (epoch != epoch_) note_epoch(epoch, last);
      seen_seq_ = std::max(seen_seq_, last);
      for (std::uint64_t seq = last - n + 1; seq <= last; ++seq)
        result.ids.push_back(format_id(epoch, seq));
      counters_.published += n;
      done(std::move(result));
    });
  }

  // --- resuming ------------------------------------------------------------------

  void begin_resume(const std::shared_ptr<resume_op>& op) {
    if (!session_live_) {
      // Known now, so the next session subscribes to them.
      for (const auto& name : op->channels) need(name);
      return decide(op);
    }
    // Every channel subscribed to and caught up first, so the hub's
    // history is complete up to where the node stands.
    auto pending = std::make_shared<std::size_t>(0);
    for (const auto& name : op->channels) {
      auto& st = need(name);
      if (ready(st)) continue;
      ++*pending;
      st.when_ready.push_back([this, op, pending] {
        if (--*pending == 0) decide(op);
      });
    }
    if (*pending == 0) decide(op);
  }

  void decide(const std::shared_ptr<resume_op>& op) {
    // The stream subscribes soon: the channels count as used until then.
    for (const auto& name : op->channels) channels_[name].last_use = clock::now();
    bool held = false;
    if (!op->last_event_id.empty()) {
      // Served by the hub alone only if every channel's history is
      // complete from the id on.
      if (const auto at = hub_.find_in_history(op->channels, op->last_event_id)) {
        held = true;
        for (const auto& name : op->channels)
          held = held && at->position >= channels_[name].complete_after.position;
      }
    }
    const auto d = decide_resume(op->last_event_id, held, epoch_, session_live_);
    switch (d.kind) {
      case resume_kind::live:
        return op->ready(std::nullopt);
      case resume_kind::local:
        ++counters_.resumes_local;
        return op->ready(std::nullopt);
      case resume_kind::gap: {
        ++counters_.resumes_gap;
        replay_plan plan;
        plan.gap_reason = d.gap_reason;
        plan.last_event_id = op->last_event_id;
        return op->ready(std::move(plan));
      }
      case resume_kind::from_redis:
        break;
    }
    // A client ahead of this node (it saw events through another one that
    // have not reached this node yet): catch those channels up, then look
    // again; the id is then in the hub's history.
    if (!op->caught_up) {
      op->caught_up = true;
      auto pending = std::make_shared<std::size_t>(0);
      for (const auto& name : op->channels) {
        auto& st = channels_[name];
        if (st.pos.applied >= d.after && st.pos.epoch == epoch_) continue;
        if (st.pos.epoch != epoch_) st.from_start = true;
        ++*pending;
        st.when_ready.push_back([this, op, pending] {
          if (--*pending == 0) begin_resume(op);
        });
        read_stream(name);
      }
      if (*pending != 0) return;
    }
    read_for_resume(op, d.after);
  }

  // The channels' streams after `after`, up to where the node stands now;
  // what the node applies meanwhile is in the hub after the mark taken now.
  void read_for_resume(const std::shared_ptr<resume_op>& op, std::uint64_t after) {
    ++counters_.resumes_redis;
    auto finish = [this, op, after](const shared_read& r) {
      finish_resume(op, {r.read}, r.mark, r.failed, after);
    };
    if (op->channels.size() == 1) {
      // A read in flight from at most `after` serves this resume too: its
      // entries after `after`, and the history after its (earlier) mark.
      // Not across channels: each read has a mark of its own, and one plan
      // has one mark.
      auto& st = channels_[op->channels.front()];
      if (st.resume_read && st.resume_read->from <= after) {
        ++counters_.resumes_shared;
        st.resume_read->waiters.push_back(finish);
        return;
      }
    }
    auto reads = std::make_shared<std::vector<std::shared_ptr<shared_read>>>();
    auto pending = std::make_shared<std::size_t>(op->channels.size());
    const auto mark = hub_.mark();
    auto gathered = [this, op, reads, pending, mark, after](const shared_read&) {
      if (--*pending != 0) return;
      std::vector<channel_read> all;
      bool failed = false;
      for (const auto& r : *reads) {
        all.push_back(r->read);
        failed = failed || r->failed;
      }
      finish_resume(op, std::move(all), mark, failed, after);
    };
    for (const auto& name : op->channels) {
      auto r = std::make_shared<shared_read>();
      r->from = after;
      r->mark = mark;
      r->read.applied = channels_[name].pos.applied;
      r->waiters.push_back(gathered);
      reads->push_back(r);
      if (r->read.applied <= after) {
        // Nothing after the id that the node has not in its history.
        auto waiting = std::move(r->waiters);
        for (auto& w : waiting) w(*r);
        continue;
      }
      if (op->channels.size() == 1) channels_[name].resume_read = r;
      ++counters_.reads;
      command({"XRANGE", keys_.stream(name), std::to_string(after + 1),
               std::to_string(r->read.applied)},
              [this, name, r](redisReply* reply) {
                if (!reply || reply->type == REDIS_REPLY_ERROR) r->failed = true;
                // The current epoch only: another's sequences are not after
                // the id.
                for (auto& e : entries_of(reply))
                  if (e.epoch == epoch_) r->read.entries.push_back(std::move(e));
                const auto it = channels_.find(name);
                if (it != channels_.end() && it->second.resume_read == r)
                  it->second.resume_read.reset();
                auto waiting = std::move(r->waiters);
                for (auto& w : waiting) w(*r);
              });
    }
  }

  void finish_resume(const std::shared_ptr<resume_op>& op, std::vector<channel_read> reads,
                     history_mark mark, bool failed, std::uint64_t after) {
    replay_plan plan;
    plan.last_event_id = op->last_event_id;
    if (failed) {
      plan.gap_reason = "unavailable";
      return op->ready(std::move(plan));
    }
    auto replay = plan_redis_replay(after, std::move(reads));
    if (replay.lost) plan.gap_reason = "evicted";
    for (const auto& e : replay.events) {
      std::string bytes;
      const std::string id = e.id();
      (void)format(bytes, event_view{e.data, e.type, id});
      plan.events.push_back(std::move(bytes));
    }
    plan.after = mark;
    for (const auto& name : op->channels) channels_[name].last_use = clock::now();
    op->ready(std::move(plan));
  }

  // --- upkeep --------------------------------------------------------------------

  // Once a second: unsubscribe from channels no local stream has used for
  // unsubscribe_after, and forget those whose stream has expired since.
  void tick() {
    if (stopping_) return;
    const auto now = clock::now();
    // Nothing may wait on Redis for longer than command_timeout: commands,
    // a SUBSCRIBE's confirmation, the connection and its epoch check.
    bool hung =
        session_live_ && commands_in_flight_ > 0 && now - last_progress_ > options_.command_timeout;
    if (!session_live_ && (command_link_ || pubsub_link_) &&
        now - connect_started_ > options_.command_timeout)
      hung = true;
    for (const auto& entry : channels_)
      if (session_live_ &&
          ((entry.second.requested && !entry.second.subscribed) || entry.second.unsubscribing) &&
          now - entry.second.requested_at > options_.command_timeout)
        hung = true;
    if (hung) {
      log("Redis: no answer for " + std::to_string(options_.command_timeout.count()) +
          " ms; connecting again");
      session_down();
    }
    for (auto it = channels_.begin(); it != channels_.end();) {
      auto& [name, st] = *it;
      const bool idle = st.when_ready.empty() && !st.reading && hub_.subscribers(name) == 0 &&
                        now - st.last_use > options_.unsubscribe_after;
      if (idle && st.requested && st.subscribed) {
        --counters_.channels;
        unsubscribe_now(name);
        st.requested = st.subscribed = false;
        st.unsubscribing = true;
        st.requested_at = now;
        st.held.clear();
      }
      if (idle && !st.requested && !st.unsubscribing &&
          now - st.last_use > options_.stream_age + options_.unsubscribe_after) {
        it = channels_.erase(it);
      } else {
        ++it;
      }
    }
    timer_.expires_after(std::chrono::seconds{1});
    timer_.async_wait([this](const ::ssepp::asio::error_code& ec) {
      if (!ec) tick();
    });
  }

  net::io_context& io_;
  Hub& hub_;
  backplane_options options_;
  key_names keys_;
  net::steady_timer timer_;
  net::steady_timer reconnect_timer_;

  // Everything below is used on io_'s thread only, but for counters_,
  // which stats() reads from any thread.
  redisAsyncContext* command_link_ = nullptr;
  redisAsyncContext* pubsub_link_ = nullptr;
  bool command_up_ = false, pubsub_up_ = false;
  bool checked_ = false;       // the epoch check ran in this session
  bool session_live_ = false;  // both links up and checked
  bool stopping_ = false;
  std::uint64_t session_ = 0;  // counts sessions; stale replies are dropped
  std::chrono::milliseconds reconnect_delay_ = options_.reconnect_delay;
  std::string publish_sha_;
  std::size_t commands_in_flight_ = 0;   // sent on the command link, not answered
  std::size_t publishes_in_flight_ = 0;  // of which publish scripts
  clock::time_point last_progress_{};    // the last answer (or the first of a wait)
  clock::time_point connect_started_{};
  // The epoch Redis numbers under, and the highest seq this node has seen
  // under it (given to every script, so Redis can tell it went back).
  std::string epoch_;
  std::uint64_t seen_seq_ = 0;
  // Every channel a local stream used lately. A channel's events reach the
  // hub only through apply(), in sequence: everything up to pos.applied
  // is in the hub's history (until its bounds evict it) with no hole. Live
  // events wait in `held` while a read of the stream is in flight, and
  // streams opening wait in `when_ready` until the channel is subscribed
  // and caught up.
  std::unordered_map<std::string, channel_state> channels_;
  struct atomic_counters {
    std::atomic<std::uint64_t> published{0}, publish_calls{0}, reads{0}, subscribe_calls{0},
        applied{0}, dropped{0}, holes{0}, lost_holes{0}, epochs{0}, connects{0}, resumes_local{0},
        resumes_redis{0}, resumes_gap{0}, resumes_shared{0};
    std::atomic<std::size_t> channels{0};
    std::atomic<bool> connected{false};
  } counters_;
};

}  // namespace SSEPP_ASIO_FLAVOUR
}  // namespace ssepp::redis
