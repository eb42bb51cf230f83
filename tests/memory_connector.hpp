// Test helper: a connector (connector.hpp's concept) that reaches
// in-process servers over ssepp::asio::memory_stream instead of sockets, and
// the memory_network of "host:port" addresses it connects to. A test puts an
// ssepp server (basic_server<memory_stream>::serve), a scripted bad server
// or a proxy at an address; a client made with
// basic_event_source<memory_connector>::create(executor, url, options,
// network) then gets, for each attempt, a fresh memory_stream pair whose far
// end goes to that address's listener. The network also lets a test reach
// both ends of each connection before any byte moves (read_size,
// fail_read, fail_write...) and records what the client sent on each.
#pragma once

#include <ssepp/asio/connector.hpp>
#include <ssepp/asio/memory_stream.hpp>

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include <ssepp/error.hpp>
#include <ssepp/http/url.hpp>

namespace ssepp_test {

/// Addresses ("host:port") and what listens there, for memory_connector.
///
/// A listener is called, with the network's lock held, on the thread of the
/// client that connects: it must take its end (server.serve(), a thread of
/// its own, a post to its own io_context) and return, without calling back
/// into the network. That lock is what makes a listening's end final: once
/// `listening::reset()` (or its destructor) returns, no call to that
/// listener is running or will start.
///
/// Thread safety: every member may be called from any thread.
class memory_network {
 public:
  using stream = ssepp::asio::memory_stream;
  /// Takes the server's end of a new connection.
  using listener = std::function<void(stream server_end)>;
  /// Sees both ends of the `index`-th connection to an address (0 for the
  /// first) before the listener gets its end: where a test sets read_size,
  /// fail_read, max_buffered... The ends are valid only during the call.
  using connect_hook =
      std::function<void(stream& client_end, stream& server_end, std::size_t index)>;

  /// An address that listens while this lives.
  class listening {
   public:
    listening() = default;
    listening(listening&& other) noexcept
        : network_(std::exchange(other.network_, nullptr)), address_(std::move(other.address_)) {}
    listening& operator=(listening&& other) noexcept {
      if (this != &other) {
        reset();
        network_ = std::exchange(other.network_, nullptr);
        address_ = std::move(other.address_);
      }
      return *this;
    }
    listening(const listening&) = delete;
    listening& operator=(const listening&) = delete;
    ~listening() { reset(); }

    /// Stops listening: later connections to the address are refused.
    void reset() {
      if (network_) std::exchange(network_, nullptr)->unlisten(address_);
    }
    const std::string& address() const noexcept { return address_; }

   private:
    friend class memory_network;
    listening(memory_network* network, std::string address)
        : network_(network), address_(std::move(address)) {}
    memory_network* network_ = nullptr;
    std::string address_;
  };

  memory_network() = default;
  memory_network(const memory_network&) = delete;
  memory_network& operator=(const memory_network&) = delete;

  /// The executor to make the network's memory_stream pairs on. A pair has
  /// one executor for both ends, but its ends belong to two sides (a client
  /// and a server, each with an io_context of its own, either of which may
  /// go first): an end holding a strand of the side that went first is a
  /// use-after-free when it is destroyed (~strand_impl). So the pairs use
  /// the network's own context, which outlives both sides and is never run:
  /// every operation's handler must be bound to its side's executor (the
  /// client and ssepp's server bind all theirs).
  ssepp::asio::net::any_io_executor wire_executor() { return wire_.get_executor(); }

  /// Listens on `address`; throws std::logic_error if something already does.
  [[nodiscard]] listening listen(const std::string& address, listener l) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& entry = addresses_[address];
    if (entry.listen) throw std::logic_error("memory_network: " + address + " is in use");
    entry.listen = std::move(l);
    return listening(this, address);
  }

  /// Calls `h` for every later connection to `address` (which must listen);
  /// it ends with the listening.
  void on_connect(const std::string& address, connect_hook h) {
    std::lock_guard<std::mutex> lock(mutex_);
    addresses_.at(address).hook = std::move(h);
  }

  /// What clients sent on each connection accepted at `address`, in order.
  std::vector<std::string> sent(const std::string& address) const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> out;
    for (const auto& c : connections_)
      if (c.address == address) out.push_back(c.sent);
    return out;
  }

  /// Connection attempts to `address`, refused ones included.
  std::size_t attempts(const std::string& address) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = attempts_.find(address);
    return it == attempts_.end() ? 0 : it->second;
  }

  // --- for connectors ---------------------------------------------------------

  /// Hands `server_end` to what listens on `address` (after its hook has
  /// seen both ends); the connection's number for record_sent(), or nullopt
  /// (connection refused) when nothing listens there.
  std::optional<std::size_t> connect(const std::string& address, stream& client_end,
                                     stream server_end) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++attempts_[address];
    const auto it = addresses_.find(address);
    if (it == addresses_.end() || !it->second.listen) return std::nullopt;
    if (it->second.hook) it->second.hook(client_end, server_end, it->second.accepted);
    ++it->second.accepted;
    connections_.push_back(connection_record{address, {}});
    it->second.listen(std::move(server_end));
    return connections_.size() - 1;
  }

  /// Appends what a client wrote on connection `id`.
  void record_sent(std::size_t id, const std::string& bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    connections_.at(id).sent += bytes;
  }

 private:
  struct address_entry {
    listener listen;
    connect_hook hook;
    std::size_t accepted = 0;
  };
  struct connection_record {
    std::string address;
    std::string sent;
  };

  void unlisten(const std::string& address) {
    std::lock_guard<std::mutex> lock(mutex_);
    addresses_.erase(address);
  }

  ssepp::asio::net::io_context wire_;
  mutable std::mutex mutex_;
  std::map<std::string, address_entry> addresses_;
  std::map<std::string, std::size_t> attempts_;
  std::vector<connection_record> connections_;
};

/// The connector concept (connector.hpp) over a memory_network: each
/// async_connect makes a memory_stream pair (on the network's wire_executor;
/// handlers still run on the client's strand), keeps
/// the near end and gives the far end to whatever listens on the URL's
/// "host:port"; connection_refused when nothing does. No TLS: https:// is
/// tls_unavailable (final), as for tcp_connector built without OpenSSL.
///
/// Thread safety: like tcp_connector, use from the executor only.
class memory_connector {
 public:
  using executor_type = ssepp::asio::net::any_io_executor;

  template <class Options>
  memory_connector(executor_type executor, const Options&, memory_network& network)
      : executor_(std::move(executor)), network_(network) {}

  executor_type get_executor() const noexcept { return executor_; }

  template <class Handler>
  void async_connect(const ssepp::http::url& u, Handler&& handler) {
    namespace net = ssepp::asio::net;
    close();
    const unsigned generation = generation_;
    std::error_code ec;
    std::string what;
    bool retryable = true;
    if (u.tls()) {
      ec = make_error_code(ssepp::errc::tls_unavailable);
      what = u.str();
      retryable = false;
    } else {
      auto [client_end, server_end] =
          ssepp::asio::make_memory_stream_pair(network_.wire_executor());
      const std::string address = u.host + ":" + std::to_string(u.port);
      if (const auto id = network_.connect(address, client_end, std::move(server_end))) {
        stream_.emplace(std::move(client_end));
        record_ = *id;
      } else {
        ec = ssepp::asio::error_code(net::error::connection_refused);
        what = "connecting to " + u.str();
      }
    }
    // Never from the initiating function; and a close() in between wins, as
    // it does for a socket's pending connect.
    net::post(executor_, [this, generation, ec, what = std::move(what), retryable,
                          h = std::forward<Handler>(handler)]() mutable {
      if (generation != generation_)
        return h(ssepp::asio::error_code(net::error::operation_aborted), "connecting", true);
      h(ec, std::move(what), retryable);
    });
  }

  template <class Buffers, class Handler>
  void async_read_some(const Buffers& buffers, Handler&& h) {
    if (!stream_) return fail(std::forward<Handler>(h));
    stream_->async_read_some(buffers, std::forward<Handler>(h));
  }

  // Records what was written (the bytes the write reports) for the network.
  template <class Buffers, class Handler>
  void async_write_some(const Buffers& buffers, Handler&& h) {
    namespace net = ssepp::asio::net;
    if (!stream_) return fail(std::forward<Handler>(h));
    const executor_type executor = net::get_associated_executor(h, executor_);
    stream_->async_write_some(
        buffers,
        net::bind_executor(
            executor, [&network = network_, id = record_, buffers, h = std::forward<Handler>(h)](
                          ssepp::asio::error_code ec, std::size_t n) mutable {
              std::string bytes(n, '\0');
              net::buffer_copy(net::buffer(bytes), buffers, n);
              network.record_sent(id, bytes);
              std::move(h)(ec, n);
            }));
  }

  void close() noexcept {
    ++generation_;
    if (stream_) stream_->close();
  }

  static bool is_clean_end(const ssepp::asio::error_code& ec) noexcept {
    return ec == ssepp::asio::net::error::eof;
  }

 private:
  template <class Handler>
  void fail(Handler&& h) {
    namespace net = ssepp::asio::net;
    const auto executor = net::get_associated_executor(h, executor_);
    net::post(executor, [h = std::forward<Handler>(h)]() mutable {
      std::move(h)(ssepp::asio::error_code(net::error::bad_descriptor), std::size_t{0});
    });
  }

  executor_type executor_;
  memory_network& network_;
  std::optional<ssepp::asio::memory_stream> stream_;
  std::size_t record_ = 0;
  unsigned generation_ = 0;  // counts connects and closes
};

}  // namespace ssepp_test
