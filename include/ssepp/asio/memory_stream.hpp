// An in-memory, connected pair of Asio streams with fault injection, so code
// templated over its stream (the server's connections, the client) is tested
// without sockets: every split of the bytes, every failed write, a peer that
// stops reading, a peer that leaves.
#pragma once

#include "net.hpp"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace ssepp::asio {
inline namespace SSEPP_ASIO_FLAVOUR {

class memory_stream;

namespace detail {
struct memory_stream_state;
}

/// One end of an in-memory connection, made by make_memory_stream_pair.
/// Models AsyncReadStream and AsyncWriteStream, so net::async_read,
/// net::async_write, net::async_read_until and any stream template accept
/// it. It has the socket's close, shutdown and cancel, so ssepp's
/// close_stream (stream_transport.hpp) closes it as it would a socket, and
/// it is its own lowest layer, as the layers stacked on a stream expect
/// (`net::ssl::stream<memory_stream>` names its lowest_layer_type).
///
/// | operation        | completes with                                      |
/// |------------------|-----------------------------------------------------|
/// | async_read_some  | 1 to min(buffer size, read_size) unread bytes, in   |
/// |                  | the order written; waits while there are none;      |
/// |                  | eof once they are drained and the peer has closed   |
/// |                  | or shut down sending                                |
/// | async_write_some | 1 to min(buffer size, write_size, room) bytes, room |
/// |                  | being max_buffered less the peer's unread bytes;    |
/// |                  | waits while there is no room; broken_pipe once the  |
/// |                  | peer has closed or shut down receiving              |
/// | either, empty    | success, 0 bytes (as a socket does)                 |
/// | either, on a     | bad_descriptor                                      |
/// | closed end       |                                                     |
/// | a second one of  | in_progress: one read and one write may be          |
/// | the same kind    | outstanding per end; this catches a composed        |
/// | while one waits  | operation that breaks the rule                      |
///
/// `close()` (also done by the destructor and by move assignment) and
/// `cancel()` complete this end's waiting operations with operation_aborted;
/// `shutdown(what)` does so for the directions it shuts.
///
/// Completion: a handler is never invoked from the initiating function, nor
/// from any other member: it is posted to its associated executor
/// (net::get_associated_executor(handler, get_executor())), so
/// net::bind_executor and strands are honoured. Any completion token that
/// net::async_initiate supports may be passed.
///
/// Lifetime: a waiting operation is held in state shared by the two ends,
/// not in the end, so destroying an end while an operation waits is safe:
/// it completes with operation_aborted and the peer sees the end close. The
/// buffers passed must outlive the operation, as with any Asio stream. A
/// moved-from end may only be destroyed or assigned to.
///
/// Thread safety: every member locks the state shared with the peer, so
/// one end may be used on one thread while the other is used on another;
/// members of one end may even be called concurrently, except that moving,
/// assigning or destroying an end must not race with any other use of it.
///
/// Test hooks (after Beast's test::stream): read_size, write_size,
/// max_buffered, fail_read, fail_write, and str/take/buffered to inspect
/// what the peer wrote to this end.
class memory_stream {
 public:
  using executor_type = net::any_io_executor;
  using lowest_layer_type = memory_stream;

  /// For read_size, write_size and max_buffered: no limit (the default).
  static constexpr std::size_t no_limit = std::numeric_limits<std::size_t>::max();

  memory_stream(memory_stream&& other) noexcept
      : state_(std::move(other.state_)),
        index_(other.index_),
        executor_(std::move(other.executor_)) {}
  /// Closes this end first, as destroying it would.
  memory_stream& operator=(memory_stream&& other) noexcept;
  memory_stream(const memory_stream&) = delete;
  memory_stream& operator=(const memory_stream&) = delete;
  /// Closes this end (see close()).
  ~memory_stream();

  executor_type get_executor() const noexcept { return executor_; }
  lowest_layer_type& lowest_layer() noexcept { return *this; }
  const lowest_layer_type& lowest_layer() const noexcept { return *this; }

  /// Reads what the peer wrote (see the table above). The handler's
  /// signature is void(error_code, std::size_t).
  template <class MutableBufferSequence, class ReadToken>
  auto async_read_some(const MutableBufferSequence& buffers, ReadToken&& token) {
    static_assert(net::is_mutable_buffer_sequence<MutableBufferSequence>::value,
                  "memory_stream::async_read_some needs a MutableBufferSequence");
    return net::async_initiate<ReadToken, void(error_code, std::size_t)>(initiate_read{this}, token,
                                                                         buffers);
  }

  /// Writes for the peer to read (see the table above). The handler's
  /// signature is void(error_code, std::size_t).
  template <class ConstBufferSequence, class WriteToken>
  auto async_write_some(const ConstBufferSequence& buffers, WriteToken&& token) {
    static_assert(net::is_const_buffer_sequence<ConstBufferSequence>::value,
                  "memory_stream::async_write_some needs a ConstBufferSequence");
    return net::async_initiate<WriteToken, void(error_code, std::size_t)>(initiate_write{this},
                                                                          token, buffers);
  }

  /// False once close() was called (or the end was moved from).
  bool is_open() const;

  /// Closes this end: its waiting operations complete with
  /// operation_aborted, later ones with bad_descriptor; the peer reads the
  /// bytes already written and then eof, and its writes fail with
  /// broken_pipe. The bytes written to this end stay inspectable (str()).
  void close();
  /// As close(); never fails (ec is cleared), like closing an open socket.
  void close(error_code& ec);

  /// Shuts down sending (the peer reads eof after the written bytes),
  /// receiving (the peer's writes fail with broken_pipe, this end's reads
  /// complete with eof), or both; waiting operations in a shut direction
  /// complete with operation_aborted. The end stays open. On a closed end:
  /// ec is bad_descriptor.
  void shutdown(net::socket_base::shutdown_type what, error_code& ec);

  /// Completes this end's waiting operations with operation_aborted.
  void cancel();
  void cancel(error_code& ec);

  /// Each read on this end returns at most `n` bytes (0: no_limit), to
  /// grind a parser through every split of its input.
  void read_size(std::size_t n);
  /// Each write on this end transfers at most `n` bytes (0: no_limit), so
  /// net::async_write must loop.
  void write_size(std::size_t n);
  /// Writes on this end wait while the peer holds `n` bytes unread, and
  /// resume as the peer reads (or take()s): a slow consumer. 0 models a
  /// peer that never reads again.
  void max_buffered(std::size_t n);

  /// The n-th async_read_some on this end from now (n = 1: the next one)
  /// completes with `ec` and reads nothing; later reads are unaffected.
  /// n = 0 cancels a pending injection. For reaching every error path by
  /// looping n = 1, 2, ... until the code under test succeeds.
  void fail_read(std::size_t n, error_code ec = net::error::connection_reset);
  /// As fail_read, for async_write_some (each write_some counts: one
  /// net::async_write may make several).
  void fail_write(std::size_t n, error_code ec = net::error::connection_reset);

  /// The number of bytes the peer wrote that this end has not read.
  std::size_t buffered() const;
  /// Those bytes, left unread.
  std::string str() const;
  /// Those bytes, consumed as a read would: the peer's waiting write can
  /// resume.
  std::string take();

 private:
  friend std::pair<memory_stream, memory_stream> make_memory_stream_pair(
      const net::any_io_executor& executor);

  struct initiate_read {
    memory_stream* self;
    using executor_type = memory_stream::executor_type;
    executor_type get_executor() const noexcept { return self->get_executor(); }
    template <class Handler, class Buffers>
    void operator()(Handler&& handler, const Buffers& buffers) const;
  };
  struct initiate_write {
    memory_stream* self;
    using executor_type = memory_stream::executor_type;
    executor_type get_executor() const noexcept { return self->get_executor(); }
    template <class Handler, class Buffers>
    void operator()(Handler&& handler, const Buffers& buffers) const;
  };

  memory_stream(std::shared_ptr<detail::memory_stream_state> state, int index,
                executor_type executor)
      : state_(std::move(state)), index_(index), executor_(std::move(executor)) {}

  // Runs f on this end and its peer under the shared lock, then completes
  // whatever operations that allowed, outside it.
  template <class F>
  auto locked(F&& f) const;

  std::shared_ptr<detail::memory_stream_state> state_;
  int index_ = 0;  // which of the state's two ends this is
  executor_type executor_;
};

/// Creates two connected ends: bytes written on one are read on the other.
/// Their operations track work on `executor` and on each handler's
/// associated executor; `executor`'s execution context must outlive the
/// ends' pending operations, as with a socket. When that context shuts down
/// (an io_context is destroyed), handlers still pending are destroyed
/// without being invoked, so a handler that owns its stream frees it.
///
/// Unlike a socket's, an operation may be completed on the peer's thread (a
/// write there satisfies a read here): its handler is posted to the
/// handler's executor from that thread. So a handler's execution context
/// must outlive the peer's use of the pair, not only this end's: with the
/// two ends on separate io_contexts, destroy neither while the other end
/// still reads or writes.
std::pair<memory_stream, memory_stream> make_memory_stream_pair(
    const net::any_io_executor& executor);

/// The same on `context.get_executor()` (an io_context, a thread_pool).
template <class ExecutionContext,
          std::enable_if_t<std::is_convertible<ExecutionContext&, net::execution_context&>::value,
                           int> = 0>
std::pair<memory_stream, memory_stream> make_memory_stream_pair(ExecutionContext& context) {
  return make_memory_stream_pair(context.get_executor());
}

// ---------------------------------------------------------------------------
// Implementation.

namespace detail {

// A waiting operation, its handler's type erased so the shared state can
// hold it.
struct memory_op {
  virtual ~memory_op() = default;
  // Posts the handler with the result; never invokes it here.
  virtual void complete(error_code ec, std::size_t n) = 0;
};

template <class Buffer>
struct memory_buffers_op : memory_op {
  std::vector<Buffer> buffers;
};

// Work counted on a handler's executor until its completion is posted. A
// standard executor (an io_context's, any_io_executor, a strand of either)
// counts it through prefer(outstanding_work.tracked), as Asio's own
// operations do; executor_work_guard would take the TS form for
// strand<any_io_executor> (it declares on_work_started) and fail to compile
// (any_io_executor has none). Only a TS-only executor gets a work guard.
template <class Executor, class = void>
class memory_work {
 public:
  explicit memory_work(const Executor& e) : guard_(e) {}
  Executor get_executor() const { return guard_.get_executor(); }
  void reset() { guard_.reset(); }

 private:
  net::executor_work_guard<Executor> guard_;
};

template <class Executor>
class memory_work<Executor, std::enable_if_t<net::execution::is_executor<Executor>::value>> {
  using tracked_type = std::decay_t<decltype(net::prefer(
      std::declval<const Executor&>(), net::execution::outstanding_work.tracked))>;

 public:
  explicit memory_work(const Executor& e)
      : tracked_(net::prefer(e, net::execution::outstanding_work.tracked)) {}
  const tracked_type& get_executor() const { return *tracked_; }
  void reset() { tracked_.reset(); }

 private:
  std::optional<tracked_type> tracked_;
};

template <class Buffer, class Handler>
class memory_op_for final : public memory_buffers_op<Buffer> {
 public:
  memory_op_for(Handler handler, const net::any_io_executor& io_executor)
      : handler_(std::move(handler)),
        io_executor_(io_executor),
        work_(net::get_associated_executor(handler_, io_executor)) {}

  // Called on whichever thread completed the operation (the peer's, often).
  // The work count goes with the handler and is released where it runs,
  // after it ran: released here, it could reach a context the handler's
  // owner destroyed as soon as the handler had run. The post itself uses
  // an untracked copy of the executor, whose destruction here counts no
  // work. (A strand's copy still refers to its context: hence the rule in
  // make_memory_stream_pair's comment.)
  void complete(error_code ec, std::size_t n) override {
    const auto executor = net::get_associated_executor(handler_, io_executor_);
    net::post(executor, [h = std::move(handler_), work = std::move(work_), ec, n]() mutable {
      std::move(h)(ec, n);
    });
  }

 private:
  Handler handler_;
  net::any_io_executor io_executor_;  // the stream's, when the handler has none
  memory_work<net::associated_executor_t<Handler, net::any_io_executor>> work_;
};

struct memory_completion {
  std::unique_ptr<memory_op> op;
  error_code ec;
  std::size_t n = 0;
};

// One end's half of the shared state. Its input holds what the peer wrote.
struct memory_end {
  std::string input;
  std::size_t input_begin = 0;  // input[input_begin, size) is unread
  std::unique_ptr<memory_buffers_op<net::mutable_buffer>> read;
  std::unique_ptr<memory_buffers_op<net::const_buffer>> write;
  bool open = true;
  bool sending = true;
  bool receiving = true;
  std::size_t read_size = memory_stream::no_limit;
  std::size_t write_size = memory_stream::no_limit;
  std::size_t max_buffered = memory_stream::no_limit;
  std::size_t reads_to_fail = 0;  // countdown to the failing read; 0: none
  std::size_t writes_to_fail = 0;
  error_code read_error;
  error_code write_error;

  std::size_t unread() const noexcept { return input.size() - input_begin; }
  void consume(std::size_t n) {
    input_begin += n;
    // Reclaim the front now and then, not per read: one-byte reads over a
    // long input would otherwise be quadratic.
    if (input_begin == input.size()) {
      input.clear();
      input_begin = 0;
    } else if (input_begin > 4096 && input_begin > input.size() / 2) {
      input.erase(0, input_begin);
      input_begin = 0;
    }
  }
};

// The lock guards both ends; all members but the mutex are read and written
// only under it. A waiting operation is completed at most once: it is moved
// out of its end (into a completion list) under the lock, and its handler
// is posted after the lock is released, since posting or destroying a
// handler may destroy an end, which takes the lock.
struct memory_stream_state {
  std::mutex mutex;
  memory_end ends[2];

  static void finish(std::unique_ptr<memory_op> op, error_code ec, std::size_t n,
                     std::vector<memory_completion>& done) {
    done.push_back(memory_completion{std::move(op), ec, n});
  }

  bool try_read(int i, std::vector<memory_completion>& done) {
    memory_end& e = ends[i];
    const memory_end& peer = ends[1 - i];
    if (!e.read) return false;
    const std::size_t want = net::buffer_size(e.read->buffers);
    if (want == 0) {
      finish(std::move(e.read), {}, 0, done);
    } else if (!e.receiving) {
      finish(std::move(e.read), net::error::eof, 0, done);
    } else if (e.unread() > 0) {
      const std::size_t n = (std::min)({e.unread(), e.read_size, want});
      net::buffer_copy(e.read->buffers, net::buffer(e.input.data() + e.input_begin, n));
      e.consume(n);
      finish(std::move(e.read), {}, n, done);
    } else if (!peer.sending) {
      finish(std::move(e.read), net::error::eof, 0, done);
    } else {
      return false;
    }
    return true;
  }

  bool try_write(int i, std::vector<memory_completion>& done) {
    memory_end& e = ends[i];
    memory_end& peer = ends[1 - i];
    if (!e.write) return false;
    const std::size_t want = net::buffer_size(e.write->buffers);
    if (want == 0) {
      finish(std::move(e.write), {}, 0, done);
    } else if (!e.sending || !peer.receiving) {
      finish(std::move(e.write), net::error::broken_pipe, 0, done);
    } else {
      const std::size_t room = e.max_buffered == memory_stream::no_limit ? memory_stream::no_limit
                               : e.max_buffered > peer.unread() ? e.max_buffered - peer.unread()
                                                                : 0;
      if (room == 0) return false;
      const std::size_t n = (std::min)({want, e.write_size, room});
      const std::size_t at = peer.input.size();
      peer.input.resize(at + n);
      net::buffer_copy(net::buffer(&peer.input[at], n), e.write->buffers);
      finish(std::move(e.write), {}, n, done);
    }
    return true;
  }

  // Completes every operation the current state allows: a write fills the
  // peer's input, which may complete its read, which may make room for
  // another write, so it loops until nothing moves.
  void advance(std::vector<memory_completion>& done) {
    bool moved = true;
    while (moved) {
      moved = false;
      for (int i = 0; i < 2; ++i) {
        moved = try_write(i, done) || moved;
        moved = try_read(i, done) || moved;
      }
    }
  }

  void abort(memory_end& e, bool reads, bool writes, std::vector<memory_completion>& done) {
    if (reads && e.read) finish(std::move(e.read), net::error::operation_aborted, 0, done);
    if (writes && e.write) finish(std::move(e.write), net::error::operation_aborted, 0, done);
  }

  // For the service's shutdown: the context will run no more handlers.
  void drop_waiting_operations() {
    std::vector<std::unique_ptr<memory_op>> dropped;
    {
      std::lock_guard<std::mutex> lock(mutex);
      for (auto& e : ends) {
        if (e.read) dropped.push_back(std::move(e.read));
        if (e.write) dropped.push_back(std::move(e.write));
      }
    }
    // Destroyed here, unlocked: a handler may own an end.
  }
};

// Without it, a handler that owns its stream (a session kept alive by its
// own pending read, the usual Asio pattern) would keep itself alive for
// ever once its io_context is destroyed: the operation lives in the stream's
// state, where the context's shutdown cannot reach it. The service, one per
// execution context, lets the shutdown reach it, as a socket's service does.
class memory_stream_service final : public net::execution_context::service {
 public:
  static inline net::execution_context::id id;

  explicit memory_stream_service(net::execution_context& context)
      : net::execution_context::service(context) {}

  void add(const std::shared_ptr<memory_stream_state>& state) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (states_.size() >= prune_at_) {
      states_.erase(
          std::remove_if(states_.begin(), states_.end(), [](const auto& w) { return w.expired(); }),
          states_.end());
      prune_at_ = (std::max)(std::size_t{64}, 2 * states_.size());
    }
    states_.push_back(state);
  }

 private:
  void shutdown() override {
    std::vector<std::shared_ptr<memory_stream_state>> live;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto& w : states_)
        if (auto s = w.lock()) live.push_back(std::move(s));
      states_.clear();
    }
    for (auto& s : live) s->drop_waiting_operations();
  }

  std::mutex mutex_;
  std::vector<std::weak_ptr<memory_stream_state>> states_;  // pruned of expired ones lazily
  std::size_t prune_at_ = 64;
};

}  // namespace detail

inline std::pair<memory_stream, memory_stream> make_memory_stream_pair(
    const net::any_io_executor& executor) {
  auto state = std::make_shared<detail::memory_stream_state>();
  net::use_service<detail::memory_stream_service>(
      net::query(executor, net::execution::context_as<net::execution_context&>))
      .add(state);
  return {memory_stream(state, 0, executor), memory_stream(state, 1, executor)};
}

template <class F>
auto memory_stream::locked(F&& f) const {
  std::vector<detail::memory_completion> done;
  auto complete_all = [&done] {
    for (auto& c : done) c.op->complete(c.ec, c.n);
  };
  std::unique_lock<std::mutex> lock(state_->mutex);
  auto& self = state_->ends[index_];
  auto& peer = state_->ends[1 - index_];
  if constexpr (std::is_void_v<decltype(f(self, peer, done))>) {
    f(self, peer, done);
    state_->advance(done);
    lock.unlock();
    complete_all();
  } else {
    auto result = f(self, peer, done);
    state_->advance(done);
    lock.unlock();
    complete_all();
    return result;
  }
}

template <class Handler, class Buffers>
void memory_stream::initiate_read::operator()(Handler&& handler, const Buffers& buffers) const {
  using op_type = detail::memory_op_for<net::mutable_buffer, std::decay_t<Handler>>;
  auto op = std::make_unique<op_type>(std::forward<Handler>(handler), self->executor_);
  for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers); ++it)
    op->buffers.push_back(net::mutable_buffer(*it));
  self->locked([&](detail::memory_end& e, detail::memory_end&, auto& done) {
    using state = detail::memory_stream_state;
    if (!e.open) {
      state::finish(std::move(op), net::error::bad_descriptor, 0, done);
    } else if (e.read) {
      state::finish(std::move(op), net::error::in_progress, 0, done);
    } else if (e.reads_to_fail != 0 && --e.reads_to_fail == 0) {
      state::finish(std::move(op), e.read_error, 0, done);
    } else {
      e.read = std::move(op);
    }
  });
}

template <class Handler, class Buffers>
void memory_stream::initiate_write::operator()(Handler&& handler, const Buffers& buffers) const {
  using op_type = detail::memory_op_for<net::const_buffer, std::decay_t<Handler>>;
  auto op = std::make_unique<op_type>(std::forward<Handler>(handler), self->executor_);
  for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers); ++it)
    op->buffers.push_back(net::const_buffer(*it));
  self->locked([&](detail::memory_end& e, detail::memory_end&, auto& done) {
    using state = detail::memory_stream_state;
    if (!e.open) {
      state::finish(std::move(op), net::error::bad_descriptor, 0, done);
    } else if (e.write) {
      state::finish(std::move(op), net::error::in_progress, 0, done);
    } else if (e.writes_to_fail != 0 && --e.writes_to_fail == 0) {
      state::finish(std::move(op), e.write_error, 0, done);
    } else {
      e.write = std::move(op);
    }
  });
}

inline memory_stream& memory_stream::operator=(memory_stream&& other) noexcept {
  if (this != &other) {
    if (state_) close();
    state_ = std::move(other.state_);
    index_ = other.index_;
    executor_ = std::move(other.executor_);
  }
  return *this;
}

inline memory_stream::~memory_stream() {
  if (state_) close();
}

inline bool memory_stream::is_open() const {
  if (!state_) return false;
  std::lock_guard<std::mutex> lock(state_->mutex);
  return state_->ends[index_].open;
}

inline void memory_stream::close() {
  locked([&](detail::memory_end& e, detail::memory_end&, auto& done) {
    state_->abort(e, true, true, done);
    e.open = e.sending = e.receiving = false;
  });
}

inline void memory_stream::close(error_code& ec) {
  ec = {};
  close();
}

inline void memory_stream::shutdown(net::socket_base::shutdown_type what, error_code& ec) {
  ec = locked([&](detail::memory_end& e, detail::memory_end&, auto& done) -> error_code {
    if (!e.open) return net::error::bad_descriptor;
    const bool reads = what != net::socket_base::shutdown_send;
    const bool writes = what != net::socket_base::shutdown_receive;
    state_->abort(e, reads, writes, done);
    if (reads) e.receiving = false;
    if (writes) e.sending = false;
    return {};
  });
}

inline void memory_stream::cancel() {
  locked([&](detail::memory_end& e, detail::memory_end&, auto& done) {
    state_->abort(e, true, true, done);
  });
}

inline void memory_stream::cancel(error_code& ec) {
  ec = {};
  cancel();
}

inline void memory_stream::read_size(std::size_t n) {
  locked(
      [&](detail::memory_end& e, detail::memory_end&, auto&) { e.read_size = n ? n : no_limit; });
}

inline void memory_stream::write_size(std::size_t n) {
  locked(
      [&](detail::memory_end& e, detail::memory_end&, auto&) { e.write_size = n ? n : no_limit; });
}

inline void memory_stream::max_buffered(std::size_t n) {
  locked([&](detail::memory_end& e, detail::memory_end&, auto&) { e.max_buffered = n; });
}

inline void memory_stream::fail_read(std::size_t n, error_code ec) {
  locked([&](detail::memory_end& e, detail::memory_end&, auto&) {
    e.reads_to_fail = n;
    e.read_error = ec;
  });
}

inline void memory_stream::fail_write(std::size_t n, error_code ec) {
  locked([&](detail::memory_end& e, detail::memory_end&, auto&) {
    e.writes_to_fail = n;
    e.write_error = ec;
  });
}

inline std::size_t memory_stream::buffered() const {
  return locked([](detail::memory_end& e, detail::memory_end&, auto&) { return e.unread(); });
}

inline std::string memory_stream::str() const {
  return locked([](detail::memory_end& e, detail::memory_end&, auto&) {
    return e.input.substr(e.input_begin);
  });
}

inline std::string memory_stream::take() {
  return locked([](detail::memory_end& e, detail::memory_end&, auto&) {
    std::string bytes = e.input.substr(e.input_begin);
    e.consume(e.unread());
    return bytes;
  });
}

}  // namespace SSEPP_ASIO_FLAVOUR
}  // namespace ssepp::asio
