// The transport concept: the exemplar from transport.hpp compiled, an
// archetype with exactly the required members driving a whole hub (proof the
// hub asks for nothing the table does not list), and types that fall short.
#include <ssepp/transport.hpp>

#include <doctest/doctest.h>

#include <cstddef>
#include <functional>
#include <ostream>  // doctest prints std::error_code through it
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <ssepp/hub.hpp>
#include <ssepp/testing.hpp>

// --- The exemplar, as written in transport.hpp ------------------------------

namespace ssepp_test {
// The socket layer the exemplar talks to: completes writes later, on demand.
struct my_socket {
  std::string sent;
  std::vector<std::function<void()>> completions;
  bool shut = false;

  template <class Handler>
  void post_write(ssepp::buffer_span b, Handler&& h) {
    std::string bytes;
    for (const auto& piece : b) bytes.append(piece.data(), piece.size());
    completions.emplace_back([this, bytes, h = std::forward<Handler>(h)]() mutable {
      sent += bytes;
      h(std::error_code{}, bytes.size());
    });
  }
  void shutdown() { shut = true; }
  void complete_all() {
    while (!completions.empty()) {
      auto pending = std::move(completions);
      completions.clear();
      for (auto& c : pending) c();
    }
  }
};

struct my_transport {
  my_socket* s;
  template <class Handler>
  void async_write(ssepp::buffer_span b, Handler&& h) {
    s->post_write(b, std::forward<Handler>(h));  // completes later
  }
  void close() noexcept { s->shutdown(); }
};
}  // namespace ssepp_test

static_assert(ssepp::is_transport_v<ssepp_test::my_transport>);
static_assert(ssepp::check_transport<ssepp_test::my_transport>());
#if SSEPP_HAS_CONCEPTS
static_assert(ssepp::transport<ssepp_test::my_transport>);
#endif

// --- The archetype: exactly the required members, nothing else --------------

namespace ssepp_test {
struct archetype_tag {};

// Not default-constructible, not copyable, not assignable: only movable.
// async_write accepts any handler and never calls it inline; close() is the
// only other member.
class transport_archetype {
 public:
  explicit transport_archetype(archetype_tag) {}
  transport_archetype(transport_archetype&&) = default;
  transport_archetype(const transport_archetype&) = delete;
  transport_archetype& operator=(const transport_archetype&) = delete;
  transport_archetype& operator=(transport_archetype&&) = delete;

  template <class Handler>
  void async_write(ssepp::buffer_span, Handler&&) {}
  void close() {}
};
}  // namespace ssepp_test

static_assert(ssepp::is_transport_v<ssepp_test::transport_archetype>);
static_assert(ssepp::check_transport<ssepp_test::transport_archetype>());
#if SSEPP_HAS_CONCEPTS
static_assert(ssepp::transport<ssepp_test::transport_archetype>);
#endif

// Every member of the hub (and of its subscription) compiled against it.
template class ssepp::hub<ssepp_test::transport_archetype>;
template class ssepp::hub<ssepp_test::transport_archetype, ssepp::testing::virtual_clock>;
template class ssepp::hub<ssepp_test::my_transport>;

// --- The bundled in-memory model ---------------------------------------------

static_assert(ssepp::is_transport_v<ssepp::testing::memory_transport>);
static_assert(ssepp::check_transport<ssepp::testing::memory_transport>());
#if SSEPP_HAS_CONCEPTS
static_assert(ssepp::transport<ssepp::testing::memory_transport>);
#endif

// --- Types that are not transports -------------------------------------------

namespace ssepp_test {
struct lacks_close {
  template <class Handler>
  void async_write(ssepp::buffer_span, Handler&&) {}
};
struct lacks_async_write {
  void close() {}
};
// A handler that only takes the error cannot be given the hub's handler,
// which reports (error, bytes).
struct handler_without_bytes {
  void async_write(ssepp::buffer_span, std::function<void(std::error_code)>) {}
  void close() {}
};
// The write takes no handler at all.
struct write_without_handler {
  void async_write(ssepp::buffer_span) {}
  void close() {}
};
// Writes a single string, not a buffer sequence.
struct writes_one_string {
  template <class Handler>
  void async_write(std::string_view, Handler&&) {}
  void close() {}
};
struct not_movable {
  not_movable() = default;
  not_movable(not_movable&&) = delete;
  template <class Handler>
  void async_write(ssepp::buffer_span, Handler&&) {}
  void close() {}
};
// close() needs an argument the hub does not have.
struct close_with_argument {
  template <class Handler>
  void async_write(ssepp::buffer_span, Handler&&) {}
  void close(int) {}
};
}  // namespace ssepp_test

static_assert(!ssepp::is_transport_v<ssepp_test::lacks_close>);
static_assert(!ssepp::is_transport_v<ssepp_test::lacks_async_write>);
static_assert(!ssepp::is_transport_v<ssepp_test::handler_without_bytes>);
static_assert(!ssepp::is_transport_v<ssepp_test::write_without_handler>);
static_assert(!ssepp::is_transport_v<ssepp_test::writes_one_string>);
static_assert(!ssepp::is_transport_v<ssepp_test::not_movable>);
static_assert(!ssepp::is_transport_v<ssepp_test::close_with_argument>);
static_assert(!ssepp::is_transport_v<int>);
#if SSEPP_HAS_CONCEPTS
static_assert(!ssepp::transport<ssepp_test::lacks_close>);
static_assert(!ssepp::transport<ssepp_test::lacks_async_write>);
static_assert(!ssepp::transport<ssepp_test::not_movable>);
#endif

// --- Run-time behaviour ------------------------------------------------------

TEST_CASE("a buffer span counts the bytes of all its buffers") {
  const std::string_view pieces[] = {"data: a\n\n", "", "data: bc\n\n"};
  const ssepp::buffer_span span{pieces, 3};
  CHECK(span.bytes() == 19);
  std::string joined;
  for (const auto& piece : span) joined += piece;
  CHECK(joined == "data: a\n\ndata: bc\n\n");
}

TEST_CASE("an empty buffer span has no bytes") {
  const ssepp::buffer_span span{};
  CHECK(span.begin() == span.end());
  CHECK(span.bytes() == 0);
}

TEST_CASE("the exemplar transport carries a hub's events to its socket") {
  ssepp_test::my_socket socket;
  ssepp::hub_options options;
  options.initial_retry = std::nullopt;
  options.epoch = "e";
  ssepp::hub<ssepp_test::my_transport> hub{options};
  auto sub = hub.subscribe({"news"}, ssepp_test::my_transport{&socket});
  CHECK_FALSE(hub.publish("news", {"hello"}).error);
  CHECK(socket.sent.empty());  // nothing completes inline
  socket.complete_all();
  CHECK(socket.sent == "id: e-1\ndata: hello\n\n");
  sub.reset();
  CHECK(socket.shut);
}

TEST_CASE("a hub on the archetype subscribes, publishes and closes") {
  ssepp::hub<ssepp_test::transport_archetype> hub;
  auto sub =
      hub.subscribe({"a", "b"}, ssepp_test::transport_archetype{ssepp_test::archetype_tag{}});
  CHECK(sub.active());
  CHECK_FALSE(hub.publish("a", {"x"}).error);
  CHECK(hub.stats().subscribers == 1);
  hub.close_all();
}
