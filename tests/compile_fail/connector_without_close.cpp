// Misuse: a client on a connector without close() (here it has shutdown).
// With SSEPP_COMPILE_FAIL=1 this must not compile, and the diagnostic must
// name the missing member; with 0 it builds and runs.
#include <ssepp/asio/client.hpp>

#include <cstddef>
#include <string>
#include <system_error>

namespace net = ssepp::asio::net;

// A connector that never connects: every attempt fails, not to be retried.
struct refusing_connector {
  using executor_type = net::any_io_executor;
  template <class Options>
  refusing_connector(executor_type executor, const Options&) : executor_(executor) {}
  executor_type get_executor() const { return executor_; }
  template <class Handler>
  void async_connect(const ssepp::http::url& u, Handler&& h) {
    net::post(executor_, [h = std::forward<Handler>(h), what = u.str()]() mutable {
      h(std::make_error_code(std::errc::connection_refused), what, false);
    });
  }
  template <class Buffers, class Handler>
  void async_read_some(const Buffers&, Handler&&) {}
  template <class Buffers, class Handler>
  void async_write_some(const Buffers&, Handler&&) {}
#if SSEPP_COMPILE_FAIL
  void shutdown() noexcept {}
#else
  void close() noexcept {}
#endif
  static bool is_clean_end(const ssepp::asio::error_code&) { return false; }
  executor_type executor_;
};

int main() {
  net::io_context io;
  bool failed = false;
  auto source = ssepp::asio::basic_event_source<refusing_connector>::create(
      io.get_executor(), "http://127.0.0.1:1/events");
  source->on_error([&](const ssepp::asio::client_error&) { failed = true; });
  source->start();
  io.run();
  return failed && source->state() == ssepp::asio::ready_state::closed ? 0 : 1;
}
