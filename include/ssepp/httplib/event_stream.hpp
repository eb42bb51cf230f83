// ssepp hub channels on an existing cpp-httplib server (written for 0.11.4):
// one object registers GET <prefix>(.+) and serves each request as an event
// stream of a hub channel, with every trap of doing so by hand removed.
// Needs <httplib.h>; the core headers never include this one.
//
//   ::httplib::Server server;
//   ssepp::httplib::event_stream_server events(server);   // GET /events/{channel}
//   server.Post("/publish", [&](const auto& req, auto& res) {
//     res.set_content(events.publish("news", {req.body}).id, "text/plain");
//   });
//   server.listen("127.0.0.1", 8080);
//
// Threads. cpp-httplib (0.11) has no asynchronous responses: a streaming
// response's content provider runs on the pool thread that took the
// connection, until the stream ends. So each open stream holds one thread of
// the server's pool, and once the default pool (CPPHTTPLIB_THREAD_POOL_COUNT:
// 8 on most machines) is taken by streams, every other route, /publish
// included, waits. event_stream_server therefore
//   - sets `server.new_task_queue` to a pool of max_streams + plain_threads
//     threads (event_stream_options::size_thread_pool; construct it before
//     `listen`, which is when cpp-httplib makes the pool), and
//   - answers a stream request beyond max_streams with 503 and Retry-After
//     at once, so streams never take more than max_streams threads and the
//     plain_threads stay for the other routes.
// (A plain route's keep-alive connection also holds its thread while idle,
// up to cpp-httplib's keep-alive timeout: size plain_threads for that.)
//
// The other traps, and what this adapter does about each:
//   - The stream subscribes to the hub before the response head is sent, so
//     an event published as soon as the client sees the stream open is in
//     it.
//   - Content-Type is exactly "text/event-stream": cpp-httplib compresses
//     any other text/ type (a charset parameter included) when the client
//     accepts gzip or br, and a compressor holds events back.
//   - A zero-byte DataSink::write ends cpp-httplib's body: never written.
//   - A client that leaves an idle stream is noticed within poll_interval
//     (by DataSink::is_writable, which peeks at the socket), not at the
//     next heartbeat, and unsubscribed at once.
//   - Heartbeats, history aging and write coalescing need hub.tick() and
//     hub.flush() calls: a small thread owned by the event_stream_server
//     makes them, and its destructor ends it.
//   - No reference cycle: the pull_stream owns what its transport shares,
//     the transport holds it weakly, and a stream's state is owned by the
//     response alone, so a closed stream frees everything.
#pragma once

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "../http/event_stream.hpp"
#include "../http/request_decision.hpp"
#include "../hub.hpp"
#include "../pull_transport.hpp"

namespace ssepp::httplib {

/// The hub an event_stream_server owns.
using hub_type = ssepp::hub<ssepp::pull_transport>;

/// What an authorization hook decides about a stream request: status 0
/// lets it through; any other is the status to answer with (401, 403, ...),
/// with `message` as a text/plain body. The same type as the embedded
/// server's (ssepp::http::auth_result), so one hook serves both.
using authorization = ssepp::http::auth_result;

/// How an event_stream_server serves streams; every field has a default.
struct event_stream_options {
  /// Streams are served at GET <prefix>(.+); the rest of the path is the
  /// channel (cpp-httplib has percent-decoded it). Matched literally.
  std::string prefix = "/events/";
  /// The channels a request subscribes to; empty answers 404. Default: the
  /// one channel named by the path after `prefix` (request.matches[1]),
  /// none (404) when it holds a '/', as the embedded server's default does.
  std::function<std::vector<std::string>(const ::httplib::Request&)> channels;
  /// Runs first, before anything is subscribed. Default: everyone may.
  std::function<authorization(const ::httplib::Request&)> authorize;
  /// Streams open at most; one more is answered 503 with Retry-After, so
  /// that streams leave plain_threads of the pool to the other routes.
  std::size_t max_streams = 64;
  /// Pool threads kept for routes other than streams (and for refusing
  /// streams beyond max_streams).
  std::size_t plain_threads = 8;
  /// Set `server.new_task_queue` to a pool of max_streams + plain_threads
  /// threads. Turn off when the server's pool is configured elsewhere; it
  /// must then have more than max_streams threads.
  bool size_thread_pool = true;
  /// How often an idle stream checks that its client is still there.
  std::chrono::milliseconds poll_interval{200};
  /// How often the hub's tick() runs (heartbeats, history aging); at most
  /// half the heartbeat interval is used when that is shorter.
  std::chrono::milliseconds tick_interval{1000};
  /// Retry-After of a 503 (too many streams, or the server is stopping).
  std::chrono::seconds retry_after{5};
  /// The hub's options. `schedule_flush` is set by the event_stream_server
  /// (it owns the thread that flushes); a value given here is replaced.
  hub_options hub;
};

namespace detail {

// What the route handler, every open stream and the driver thread share;
// owned by the event_stream_server and, while they exist, by the server's
// route handler and each stream (so destroying the event_stream_server
// while cpp-httplib still runs a stream frees nothing under its feet).
// Nothing it owns points back at a stream: no cycle.
class event_stream_core {
 public:
  explicit event_stream_core(event_stream_options o)
      : options(std::move(o)), hub(hub_options_of(options, this)) {}

  // The hub calls schedule_flush with its locks held: only record and wake.
  void schedule_flush(std::chrono::microseconds delay) {
    {
      std::lock_guard<std::mutex> lock(driver_mutex);
      flush_at = std::min(flush_at, std::chrono::steady_clock::now() + delay);
    }
    driver_wake.notify_one();
  }

  // The driver thread: tick() on schedule, flush() when the hub asks.
  // driver_mutex is never held while calling into the hub.
  void drive() {
    const auto heartbeat = options.hub.heartbeat_interval;
    auto interval = std::max(options.tick_interval, std::chrono::milliseconds{1});
    if (heartbeat.count() > 0 && heartbeat < 2 * interval)
      interval = std::max(std::chrono::milliseconds{10}, heartbeat / 2);
    auto next_tick = std::chrono::steady_clock::now() + interval;
    std::unique_lock<std::mutex> lock(driver_mutex);
    while (!stopping) {
      driver_wake.wait_until(lock, std::min(next_tick, flush_at));
      if (stopping) break;
      const auto now = std::chrono::steady_clock::now();
      const bool flush = flush_at <= now;
      const bool tick = next_tick <= now;
      if (flush) flush_at = std::chrono::steady_clock::time_point::max();
      if (tick) next_tick = now + interval;
      lock.unlock();
      if (flush) hub.flush();
      if (tick) hub.tick();
      lock.lock();
    }
  }

  void stop_driver() {
    {
      std::lock_guard<std::mutex> lock(driver_mutex);
      stopping = true;
    }
    driver_wake.notify_one();
  }

  // Takes a stream slot; false when max_streams are open or stopping.
  bool open_stream() {
    std::size_t n = open_streams.load();
    do {
      if (n >= options.max_streams) return false;
    } while (!open_streams.compare_exchange_weak(n, n + 1));
    return true;
  }

  const event_stream_options options;
  hub_type hub;
  std::atomic<std::size_t> open_streams{0};
  std::atomic<bool> stopped{false};

 private:
  static hub_options hub_options_of(const event_stream_options& o, event_stream_core* self) {
    hub_options h = o.hub;
    h.schedule_flush = [self](std::chrono::microseconds delay) { self->schedule_flush(delay); };
    return h;
  }

  std::mutex driver_mutex;
  std::condition_variable driver_wake;
  std::chrono::steady_clock::time_point flush_at = std::chrono::steady_clock::time_point::max();
  bool stopping = false;
};

// One open stream, owned by its response's content provider. Members are
// destroyed in reverse order: the subscription ends first (the hub stops
// writing), then the pull_stream completes any write still outstanding.
struct stream_state {
  explicit stream_state(std::shared_ptr<event_stream_core> c) : core(std::move(c)) {}
  ~stream_state() {
    subscription.reset();
    core->open_streams.fetch_sub(1);
  }
  stream_state(const stream_state&) = delete;
  stream_state& operator=(const stream_state&) = delete;

  // One call of cpp-httplib's content provider, which calls it again while
  // it returns true and the body has not ended.
  bool provide(::httplib::DataSink& sink) {
    const auto status = stream.pull_for(core->options.poll_interval, [&](std::string_view bytes) {
      return sink.write(bytes.data(), bytes.size());  // pull_for never passes 0 bytes
    });
    switch (status) {
      case pull_status::written:
        return true;
      case pull_status::timeout:
        if (sink.is_writable()) return true;
        subscription.reset();  // the client left: unsubscribe now
        return false;
      case pull_status::closed:  // the hub ended it (stop, slow consumer)
        sink.done();
        return true;
      case pull_status::failed:
        break;
    }
    return false;
  }

  std::shared_ptr<event_stream_core> core;
  pull_stream stream;
  hub_type::subscription subscription;
};

inline std::string regex_escape(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

inline void refuse(::httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_content(message, "text/plain");
}

inline void serve_stream(const std::shared_ptr<event_stream_core>& core,
                         const ::httplib::Request& req, ::httplib::Response& res) {
  const auto& o = core->options;
  if (o.authorize) {
    const authorization verdict = o.authorize(req);
    if (verdict.status != 0) return refuse(res, verdict.status, verdict.message);
  }
  std::vector<std::string> channels;
  if (o.channels) {
    channels = o.channels(req);
  } else if (req.matches.size() > 1) {
    std::string channel = req.matches[1];
    if (channel.find('/') == std::string::npos) channels.push_back(std::move(channel));
  }
  if (channels.empty()) return refuse(res, 404, "no event stream at " + req.path + "\n");
  const auto retry_after = std::to_string(o.retry_after.count());
  if (core->stopped.load()) {
    res.set_header("Retry-After", retry_after);
    return refuse(res, 503, "the server is stopping\n");
  }
  if (!core->open_stream()) {
    res.set_header("Retry-After", retry_after);
    return refuse(res, 503,
                  "too many event streams: " + std::to_string(o.max_streams) +
                      " are open (event_stream_options::max_streams)\n");
  }
  auto state = std::make_shared<stream_state>(core);

  std::optional<std::string> header;
  if (req.has_header("Last-Event-ID")) header = req.get_header_value("Last-Event-ID");
  const auto question = req.target.find('?');
  const std::string_view query = question == std::string::npos
                                     ? std::string_view{}
                                     : std::string_view(req.target).substr(question + 1);
  // Before the head goes out: an event published once the client sees the
  // stream open must already find it subscribed.
  state->subscription = core->hub.subscribe(channels, state->stream.transport(),
                                            ssepp::http::last_event_id(header, query));
  // A stream that slipped in while stop() ran ends like the others.
  if (core->stopped.load()) state->subscription.reset();

  for (const auto& [name, value] : ssepp::http::event_stream_fields())
    if (name != "Content-Type") res.set_header(name, value);  // the provider sets it
  res.set_chunked_content_provider(
      std::string(ssepp::http::event_stream_content_type),
      [state](std::size_t, ::httplib::DataSink& sink) { return state->provide(sink); });
}

}  // namespace detail

/// Serves hub channels as event streams on a cpp-httplib server: registers
/// GET <prefix>(.+) (see event_stream_options), owns the hub and the thread
/// that drives its tick() and flush(). Publish with `publish` or `hub()`.
///
/// Construct before `server.listen` (the pool is sized then) and stop (or
/// destroy) it before stopping the server, so that streams end and
/// cpp-httplib's listen, which joins its pool, returns.
///
/// Thread safety: every member function may be called from any thread.
class event_stream_server {
 public:
  /// Registers the route on `server` and starts the driver thread.
  explicit event_stream_server(::httplib::Server& server, event_stream_options options = {})
      : core_(std::make_shared<detail::event_stream_core>(std::move(options))) {
    const auto& o = core_->options;
    if (o.size_thread_pool) {
      const std::size_t threads = o.max_streams + std::max<std::size_t>(o.plain_threads, 1);
      server.new_task_queue = [threads] { return new ::httplib::ThreadPool(threads); };
    }
    server.Get(detail::regex_escape(o.prefix) + "(.+)",
               [core = core_](const ::httplib::Request& req, ::httplib::Response& res) {
                 detail::serve_stream(core, req, res);
               });
    driver_ = std::thread([core = core_.get()] { core->drive(); });
  }
  event_stream_server(const event_stream_server&) = delete;
  event_stream_server& operator=(const event_stream_server&) = delete;
  /// stop(), then ends the driver thread.
  ~event_stream_server() {
    stop();
    core_->stop_driver();
    driver_.join();
  }

  /// Publishes to a channel's streams; see hub::publish.
  publish_result publish(std::string_view channel, const event_view& ev) {
    return core_->hub.publish(channel, ev);
  }

  hub_type& hub() noexcept { return core_->hub; }

  /// Streams open now.
  std::size_t open_streams() const noexcept { return core_->open_streams.load(); }

  const event_stream_options& options() const noexcept { return core_->options; }

  /// Graceful stop: every stream gets what is queued and `last_word` (if
  /// any), then ends, on its own thread, soon after this returns (poll
  /// open_streams() to wait); later stream requests get 503. Idempotent.
  /// Does not stop the cpp-httplib server, and the driver thread keeps
  /// flushing until destruction, so the last writes are not held back.
  void stop(std::optional<event_view> last_word = std::nullopt) {
    if (core_->stopped.exchange(true)) return;
    core_->hub.close_all(last_word);
  }

 private:
  std::shared_ptr<detail::event_stream_core> core_;
  std::thread driver_;
};

}  // namespace ssepp::httplib
