// An event stream the application writes itself, answering one request: a
// POST whose answer streams (LLM APIs stream tokens so), a job's progress,
// a report being computed. Not a channel: nobody else subscribes to it and
// nothing of it is kept in a history, so it cannot be resumed; when its
// answer is complete the application ends it and the connection closes
// once every queued byte is written. Works on either Asio flavour (net.hpp)
// and on any stream the server takes (TCP, TLS, Beast's tcp_stream).
#pragma once

#include "net.hpp"

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "../format.hpp"
#include "../hub.hpp"
#include "event_stream.hpp"
#include "stream_transport.hpp"

namespace ssepp::asio {
inline namespace SSEPP_ASIO_FLAVOUR {

/// How `start_event_feed` serves a feed.
struct event_feed_options {
  /// Fields added to the head after the event stream's own
  /// (ssepp::http::event_stream_fields()) and before `Connection: close`.
  std::vector<std::pair<std::string, std::string>> fields;
  /// Called once when the feed ends, on the feed's strand:
  /// close_reason::peer_gone when the client left (an aborted request: stop
  /// producing), slow_consumer when a send would have queued more than
  /// max_queued_bytes, hub_closed when this side ended it (end() once the
  /// queue drained, close(), the server stopping).
  std::function<void(close_reason, std::error_code)> on_close;
  /// Bytes queued and not yet written, at most; a send past it ends the
  /// feed (slow_consumer) instead of growing the queue.
  std::size_t max_queued_bytes = std::size_t{1} << 20;
  /// Bytes the kernel may hold unsent (see event_stream_options).
  std::size_t send_buffer_bytes = 256 * 1024;
  /// Bytes the client may send after its request; read and dropped, past
  /// this many the feed ends as peer_gone (std::errc::message_size).
  std::size_t max_client_bytes = 64 * 1024;
  /// Serializes the feed's handlers; unset: the stream's own executor,
  /// which must then be a strand unless a single thread runs it.
  std::optional<net::any_io_executor> strand;
};

namespace detail {
// What an event_feed handle can do to its feed, whatever the stream's type.
struct event_feed_control {
  virtual ~event_feed_control() = default;
  virtual bool queue(std::string_view bytes) = 0;
  virtual void end() = 0;
  virtual void close() = 0;
  std::atomic<bool> open{true};
};
}  // namespace detail

class event_feed;

/// Starts a feed on `stream`, a connected stream whose request has been
/// read (body included) and whose response has not begun: it writes
/// `HTTP/1.1 200 OK` with the event stream's fields, options.fields and
/// `Connection: close`, then whatever the returned handle sends, in order,
/// and watches for the client leaving (as start_event_stream does).
///
/// Lifetime: the feed keeps itself alive (its pending operations hold it)
/// until it ends; its end closes the connection and breaks every
/// reference. Thread safety: call it from any thread; the stream is used on
/// the feed's strand from then on and must not be touched by the caller.
template <class Stream>
event_feed start_event_feed(std::shared_ptr<Stream> stream, event_feed_options options = {});

/// A handle on a feed started by `start_event_feed` (or a server's
/// stream_route). The feed runs whether the handle is kept or not; the
/// handle holds it weakly, so it never keeps a connection open by itself:
/// once the feed ended, every call does nothing.
///
/// Thread safety: every member function may be called from any thread.
class event_feed {
 public:
  event_feed() = default;

  /// Queues `e` to be written after what is queued already. False (and
  /// nothing queued) when the feed has ended or is ending, when `e` is not
  /// a valid event (ssepp::validate), or when it would take the queue past
  /// max_queued_bytes, which ends the feed as slow_consumer.
  bool send(const event_view& e) const {
    const auto c = control_.lock();
    std::string bytes;
    return c && !ssepp::format(bytes, e) && c->queue(bytes);
  }
  /// Queues a comment (`: text`), which clients ignore: a heartbeat for a
  /// feed that pauses longer than a proxy's idle timeout. False as send().
  bool comment(std::string_view text) const {
    const auto c = control_.lock();
    std::string bytes;
    return c && !ssepp::format_comment(bytes, text) && c->queue(bytes);
  }
  /// Ends the feed once what is queued has been written: the connection
  /// closes then (the client reads the end of the response). Later sends
  /// return false.
  void end() const {
    if (const auto c = control_.lock()) c->end();
  }
  /// Ends the feed now, dropping what is queued.
  void close() const {
    if (const auto c = control_.lock()) c->close();
  }
  /// True until the feed has ended (from either side).
  bool active() const noexcept {
    const auto c = control_.lock();
    return c && c->open.load();
  }

 private:
  template <class Stream>
  friend event_feed start_event_feed(std::shared_ptr<Stream> stream, event_feed_options options);
  explicit event_feed(std::weak_ptr<detail::event_feed_control> c) : control_(std::move(c)) {}
  std::weak_ptr<detail::event_feed_control> control_;
};

// ---------------------------------------------------------------------------
// Implementation

namespace detail {

template <class Stream>
class event_feed_connection final
    : public event_feed_control,
      public std::enable_shared_from_this<event_feed_connection<Stream>> {
 public:
  event_feed_connection(std::shared_ptr<Stream> stream, net::any_io_executor strand,
                        event_feed_options& options)
      : stream_(std::move(stream)),
        strand_(std::move(strand)),
        on_close_(std::move(options.on_close)),
        max_queued_bytes_(options.max_queued_bytes),
        send_buffer_bytes_(options.send_buffer_bytes) {
    watch_.max_bytes = options.max_client_bytes;
    // The head is the first thing queued; it goes out at once, so the
    // client sees the stream open before the first event is produced.
    pending_ = event_stream_head(options.fields);
    scheduled_ = true;
  }

  // Posted, never run inside start_event_feed: the caller may hold a lock
  // on_close takes.
  void begin() {
    net::post(strand_, [self = this->shared_from_this()] {
      tune_stream_socket(*self->stream_, self->send_buffer_bytes_);
      watch_client(self);
      self->write_next();
    });
  }

  bool queue(std::string_view bytes) override {
    bool overflow = false;
    bool schedule = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!open.load() || ending_ || overflowed_) return false;
      if (pending_.size() + in_flight_ + bytes.size() > max_queued_bytes_) {
        // Every later send fails too, until the posted close runs.
        overflow = overflowed_ = true;
      } else {
        pending_.append(bytes);
        schedule = !std::exchange(scheduled_, true) && in_flight_ == 0;
      }
    }
    if (overflow) {
      net::post(strand_, [self = this->shared_from_this()] {
        self->finish(close_reason::slow_consumer, {});
      });
      return false;
    }
    if (schedule) post_write();
    return true;
  }

  void end() override {
    bool schedule = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!open.load() || std::exchange(ending_, true)) return;
      schedule = !std::exchange(scheduled_, true) && in_flight_ == 0;
    }
    if (schedule) post_write();
  }

  void close() override {
    net::post(strand_,
              [self = this->shared_from_this()] { self->finish(close_reason::hub_closed, {}); });
  }

  // The watch's side (watch_client), on the strand.
  Stream& watched_stream() { return *stream_; }
  net::any_io_executor watch_strand() const { return strand_; }
  client_watch& watch_state() { return watch_; }
  void client_left(std::error_code ec) { finish(close_reason::peer_gone, ec); }

 private:
  void post_write() {
    net::post(strand_, [self = this->shared_from_this()] { self->write_next(); });
  }

  // On the strand: one write at a time, of everything queued so far (many
  // small events in one write: one syscall, as the hub's writes do).
  void write_next() {
    std::unique_lock<std::mutex> lock(mutex_);
    scheduled_ = false;
    if (!open.load() || in_flight_ != 0) return;
    if (pending_.empty()) {
      if (!ending_) return;
      lock.unlock();
      return finish(close_reason::hub_closed, {});
    }
    writing_.swap(pending_);
    pending_.clear();
    in_flight_ = writing_.size();
    lock.unlock();
    net::async_write(
        *stream_, net::buffer(writing_),
        net::bind_executor(strand_, [self = this->shared_from_this()](error_code ec, std::size_t) {
          {
            std::lock_guard<std::mutex> done(self->mutex_);
            self->in_flight_ = 0;
          }
          if (ec) return self->finish(close_reason::peer_gone, ec);
          self->write_next();
        }));
  }

  // On the strand: the one report of the feed's end.
  void finish(close_reason why, std::error_code ec) {
    if (!open.exchange(false)) return;
    close_stream(*stream_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      pending_ = std::string();
    }
    if (auto handler = std::move(on_close_)) handler(why, ec);
    on_close_ = nullptr;
  }

  std::shared_ptr<Stream> stream_;
  net::any_io_executor strand_;
  std::function<void(close_reason, std::error_code)> on_close_;  // on the strand
  client_watch watch_;                                           // on the strand
  std::string writing_;  // the write in flight's bytes (on the strand)
  std::size_t max_queued_bytes_;
  std::size_t send_buffer_bytes_;
  // What any thread's send touches:
  std::mutex mutex_;
  std::string pending_;        // queued, not yet being written
  std::size_t in_flight_ = 0;  // bytes of the write in flight (0: none)
  bool scheduled_ = false;     // a write_next is posted
  bool ending_ = false;        // end(): close once drained
  bool overflowed_ = false;    // a send found the queue full: closing
};

}  // namespace detail

template <class Stream>
event_feed start_event_feed(std::shared_ptr<Stream> stream, event_feed_options options) {
  net::any_io_executor strand =
      options.strand ? std::move(*options.strand) : net::any_io_executor(stream->get_executor());
  auto feed = std::make_shared<detail::event_feed_connection<Stream>>(std::move(stream),
                                                                      std::move(strand), options);
  feed->begin();
  return event_feed(std::weak_ptr<detail::event_feed_control>(feed));
}

}  // namespace SSEPP_ASIO_FLAVOUR
}  // namespace ssepp::asio
