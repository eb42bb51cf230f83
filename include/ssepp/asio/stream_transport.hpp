// Models the transport concept (transport.hpp) on any Asio AsyncWriteStream
// (a tcp socket, an ssl stream), so the hub can write to Asio connections.
#pragma once

#include <asio.hpp>

#include <memory>
#include <utility>
#include <vector>

#include "../transport.hpp"

namespace ssepp::asio {

/// A transport over a shared Asio stream, with writes and close serialized
/// on `strand` (the same strand the owner reads on), because Asio streams
/// are not safe for concurrent use while the hub writes from any thread.
///
/// Thread safety: async_write and close may be called from any thread.
template <class Stream>
class stream_transport {
 public:
  using strand_type = ::asio::strand<typename Stream::executor_type>;

  stream_transport(std::shared_ptr<Stream> stream, strand_type strand)
      : state_(std::make_shared<state>(std::move(stream), std::move(strand))) {}

  template <class Handler>
  void async_write(buffer_span buffers, Handler&& handler) {
    auto st = state_;
    // The hub keeps one write outstanding, so one buffer vector is reused.
    st->buffers.clear();
    for (const auto& b : buffers) st->buffers.emplace_back(b.data(), b.size());
    ::asio::dispatch(st->strand, [st, h = std::forward<Handler>(handler)]() mutable {
      ::asio::async_write(*st->stream, st->buffers,
                          ::asio::bind_executor(st->strand, std::move(h)));
    });
  }

  void close() noexcept {
    auto st = state_;
    ::asio::dispatch(st->strand, [st] {
      std::error_code ignored;
      st->stream->lowest_layer().shutdown(::asio::socket_base::shutdown_both, ignored);
      st->stream->lowest_layer().close(ignored);
    });
  }

 private:
  struct state {
    state(std::shared_ptr<Stream> s, strand_type st)
        : stream(std::move(s)), strand(std::move(st)) {}
    std::shared_ptr<Stream> stream;
    strand_type strand;
    std::vector<::asio::const_buffer> buffers;
  };
  std::shared_ptr<state> state_;
};

}  // namespace ssepp::asio
