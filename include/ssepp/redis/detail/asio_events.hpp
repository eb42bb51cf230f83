// Drives a hiredis async context from Asio: hiredis says when it wants to
// read or write (its ev hooks), and Asio waits for the socket to be ready
// and hands the turn back to hiredis. hiredis ships adapters for libevent,
// libev, libuv and others, but none for Asio. Either Asio flavour
// (ssepp/asio/net.hpp).
#pragma once

#include "../../asio/net.hpp"

#include <hiredis/async.h>

#include <memory>
#include <utility>

namespace ssepp::redis {
inline namespace SSEPP_ASIO_FLAVOUR {
namespace detail {

namespace net = ::ssepp::asio::net;

// One context's watch on its socket. Shared by the pending waits (each
// holds it), so it outlives the context, which hiredis may free inside
// any redisAsyncHandle* call (a disconnect): `context` is then null and
// every later wakeup does nothing.
class asio_events : public std::enable_shared_from_this<asio_events> {
 public:
  asio_events(net::any_io_executor executor, redisAsyncContext* context)
      : context_(context), socket_(std::move(executor), context->c.fd) {}

  // Hooks the context's ev callbacks to a new watch; the context owns it
  // (through ev.data) until it is cleaned up.
  static void attach(net::any_io_executor executor, redisAsyncContext* context) {
    auto* owner = new std::shared_ptr<asio_events>(
        std::make_shared<asio_events>(std::move(executor), context));
    context->ev.data = owner;
    context->ev.addRead = [](void* p) { (*static_cast<holder*>(p))->want(true, true); };
    context->ev.delRead = [](void* p) { (*static_cast<holder*>(p))->want(true, false); };
    context->ev.addWrite = [](void* p) { (*static_cast<holder*>(p))->want(false, true); };
    context->ev.delWrite = [](void* p) { (*static_cast<holder*>(p))->want(false, false); };
    context->ev.cleanup = [](void* p) {
      auto* h = static_cast<holder*>(p);
      (*h)->detach();
      delete h;
    };
  }

  ~asio_events() { release(); }

 private:
  using holder = std::shared_ptr<asio_events>;

  void want(bool read, bool on) {
    (read ? want_read_ : want_write_) = on;
    if (on) wait(read);
  }

  void wait(bool read) {
    bool& waiting = read ? reading_ : writing_;
    if (waiting || !context_) return;
    waiting = true;
    socket_.async_wait(
        read ? net::posix::stream_descriptor::wait_read : net::posix::stream_descriptor::wait_write,
        [self = shared_from_this(), read](const ::ssepp::asio::error_code& ec) {
          (read ? self->reading_ : self->writing_) = false;
          if (ec || !self->context_) return;
          if (!(read ? self->want_read_ : self->want_write_)) return;
          // May free the context (and detach this watch).
          if (read) {
            redisAsyncHandleRead(self->context_);
          } else {
            redisAsyncHandleWrite(self->context_);
          }
          if (self->context_ && (read ? self->want_read_ : self->want_write_)) self->wait(read);
        });
  }

  // The context is going: stop watching. The descriptor is hiredis's to
  // close, so Asio lets go of it instead of closing it.
  void detach() {
    context_ = nullptr;
    want_read_ = want_write_ = false;
    release();
  }

  void release() {
    if (!socket_.is_open()) return;
    ::ssepp::asio::error_code ignored;
    socket_.cancel(ignored);
    (void)socket_.release();
  }

  redisAsyncContext* context_;
  net::posix::stream_descriptor socket_;
  bool want_read_ = false, want_write_ = false;
  bool reading_ = false, writing_ = false;
};

}  // namespace detail
}  // namespace SSEPP_ASIO_FLAVOUR
}  // namespace ssepp::redis
