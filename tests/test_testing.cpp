// The test doubles users get for their own tests: the in-memory transport
// (writes complete only when the loop runs; stall, disconnect, fail the n-th
// write) and the virtual clock (time moves only when told).
#include <ssepp/testing.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <ostream>  // doctest prints std::error_code through it
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

using ssepp::testing::memory_loop;
using ssepp::testing::memory_peer;
using ssepp::testing::memory_transport;
using ssepp::testing::virtual_clock;
using namespace std::chrono_literals;

static_assert(ssepp::is_transport_v<memory_transport>);
// Like an io_context: one loop, not copies of it.
static_assert(!std::is_copy_constructible_v<memory_loop>);
static_assert(!std::is_copy_assignable_v<memory_loop>);

namespace {

// What a completion handler was called with; `calls` proves "exactly once".
struct completion {
  std::size_t calls = 0;
  std::error_code error;
  std::size_t bytes = 0;
};

// Starts a write of `pieces` (which must outlive the write) on `t`.
void write(memory_transport& t, const std::vector<std::string_view>& pieces, completion& done) {
  t.async_write(ssepp::buffer_span{pieces.data(), pieces.size()},
                [&done](std::error_code ec, std::size_t n) {
                  ++done.calls;
                  done.error = ec;
                  done.bytes = n;
                });
}

}  // namespace

// --- virtual_clock -------------------------------------------------------------

TEST_CASE("the virtual clock stands still until advanced") {
  virtual_clock clock;
  const auto t0 = clock.now();
  CHECK(clock.now() == t0);
  clock.advance(1500ms);
  CHECK(clock.now() - t0 == 1500ms);
  clock.advance(0ms);
  CHECK(clock.now() - t0 == 1500ms);
}

TEST_CASE("copies of a virtual clock share one time") {
  virtual_clock clock;
  virtual_clock copy = clock;
  const auto t0 = clock.now();
  copy.advance(15s);
  CHECK(clock.now() - t0 == 15s);
  clock.advance(1s);
  CHECK(copy.now() - t0 == 16s);
}

TEST_CASE("separately made virtual clocks are independent") {
  virtual_clock a;
  virtual_clock b;
  const auto t0 = b.now();
  a.advance(1h);
  CHECK(b.now() == t0);
}

TEST_CASE("a virtual clock may be advanced and read from several threads") {
  virtual_clock clock;
  const auto t0 = clock.now();
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([clock]() mutable {
      for (int j = 0; j < 1000; ++j) {
        clock.advance(1ms);
        (void)clock.now();
      }
    });
  for (auto& t : threads) t.join();
  CHECK(clock.now() - t0 == 4000ms);
}

// --- memory_transport / memory_peer / memory_loop ------------------------------

TEST_CASE("a write never completes inside async_write") {
  memory_loop loop;
  auto [transport, peer] = loop.connect();
  const std::vector<std::string_view> pieces = {"data: a\n\n"};
  completion done;
  write(transport, pieces, done);
  CHECK(done.calls == 0);
  CHECK(peer.received().empty());
  CHECK(peer.write_pending());
  CHECK(peer.writes() == 1);
}

TEST_CASE("run completes a write: the peer receives its buffers in order") {
  memory_loop loop;
  auto [transport, peer] = loop.connect();
  const std::vector<std::string_view> pieces = {"data: a\n\n", "", ": hi\n", "data: b\n\n"};
  completion done;
  write(transport, pieces, done);
  CHECK(loop.run() == 1);
  CHECK(done.calls == 1);
  CHECK_FALSE(done.error);
  CHECK(done.bytes == 23);
  CHECK(peer.received() == "data: a\n\n: hi\ndata: b\n\n");
  CHECK_FALSE(peer.write_pending());
}

TEST_CASE("run with nothing outstanding completes nothing") {
  memory_loop loop;
  auto [transport, peer] = loop.connect();
  CHECK(loop.run() == 0);
  CHECK(peer.writes() == 0);
  CHECK(peer.received().empty());
}

TEST_CASE("run also completes the writes that completion handlers start") {
  memory_loop loop;
  auto [transport, peer] = loop.connect();
  const std::vector<std::string_view> first = {"1"}, second = {"2"}, third = {"3"};
  std::size_t completed = 0;
  transport.async_write({first.data(), 1}, [&, t = &transport](std::error_code, std::size_t) {
    ++completed;
    t->async_write({second.data(), 1}, [&, t](std::error_code, std::size_t) {
      ++completed;
      t->async_write({third.data(), 1}, [&](std::error_code, std::size_t) { ++completed; });
    });
  });
  CHECK(loop.run() == 3);
  CHECK(completed == 3);
  CHECK(peer.received() == "123");
  CHECK(peer.writes() == 3);
}

TEST_CASE("run completes the writes of every connection") {
  memory_loop loop;
  auto [t1, p1] = loop.connect();
  auto [t2, p2] = loop.connect();
  const std::vector<std::string_view> a = {"a"}, b = {"b"};
  completion d1, d2;
  write(t1, a, d1);
  write(t2, b, d2);
  CHECK(loop.run() == 2);
  CHECK(p1.received() == "a");
  CHECK(p2.received() == "b");
}

TEST_CASE("a stalled peer reads nothing until it resumes") {
  memory_loop loop;
  auto [transport, peer] = loop.connect();
  peer.stall();
  const std::vector<std::string_view> pieces = {"x"};
  completion done;
  write(transport, pieces, done);
  CHECK(loop.run() == 0);
  CHECK(done.calls == 0);
  CHECK(peer.write_pending());
  CHECK(peer.received().empty());
  peer.stall(false);
  CHECK(loop.run() == 1);
  CHECK(done.calls == 1);
  CHECK_FALSE(done.error);
  CHECK(peer.received() == "x");
}

TEST_CASE("after the peer disconnects, writes fail with broken_pipe") {
  memory_loop loop;
  auto [transport, peer] = loop.connect();
  const std::vector<std::string_view> pieces = {"x"};
  completion done;
  SUBCASE("the outstanding write") {
    write(transport, pieces, done);
    peer.disconnect();
  }
  SUBCASE("a later write") {
    peer.disconnect();
    write(transport, pieces, done);
  }
  SUBCASE("even while stalled") {
    peer.stall();
    write(transport, pieces, done);
    peer.disconnect();
  }
  CHECK(loop.run() == 1);
  CHECK(done.calls == 1);
  CHECK(done.error == std::errc::broken_pipe);
  CHECK(done.bytes == 0);
  CHECK(peer.received().empty());
}

TEST_CASE("fail_write(n) fails exactly the n-th write, for every n") {
  const std::vector<std::string_view> pieces = {"x"};
  for (std::size_t n = 1; n <= 4; ++n) {
    CAPTURE(n);
    memory_loop loop;
    auto [transport, peer] = loop.connect();
    peer.fail_write(n);
    for (std::size_t i = 1; i <= 4; ++i) {
      completion done;
      write(transport, pieces, done);
      CHECK(loop.run() == 1);
      CHECK(done.calls == 1);
      if (i == n) {
        CHECK(done.error == std::errc::connection_reset);
        CHECK(done.bytes == 0);
      } else {
        CHECK_FALSE(done.error);
        CHECK(done.bytes == 1);
      }
    }
    CHECK(peer.received() == "xxx");
  }
}

TEST_CASE("fail_write reports the error it is given") {
  memory_loop loop;
  auto [transport, peer] = loop.connect();
  peer.fail_write(1, std::make_error_code(std::errc::timed_out));
  const std::vector<std::string_view> pieces = {"x"};
  completion done;
  write(transport, pieces, done);
  loop.run();
  CHECK(done.error == std::errc::timed_out);
}

TEST_CASE("close marks the connection closed and may be repeated") {
  memory_loop loop;
  auto [transport, peer] = loop.connect();
  CHECK_FALSE(peer.closed());
  transport.close();
  CHECK(peer.closed());
  transport.close();
  CHECK(peer.closed());
}

TEST_CASE("a write outstanding at close completes with operation_canceled, writing nothing") {
  // transport.hpp: "t.close() ends the connection; an outstanding write then
  // completes". A stalled peer must not keep the handler (and whatever it
  // owns) forever.
  memory_loop loop;
  auto [transport, peer] = loop.connect();
  SUBCASE("reading peer") {}
  SUBCASE("stalled peer") { peer.stall(); }
  const std::vector<std::string_view> pieces = {"x"};
  completion done;
  write(transport, pieces, done);
  transport.close();
  CHECK(loop.run() == 1);
  CHECK(done.calls == 1);
  CHECK(done.error == std::errc::operation_canceled);
  CHECK(done.bytes == 0);
  CHECK(peer.received().empty());
}

TEST_CASE("destroying the loop destroys the handlers of writes it never completed") {
  auto owned = std::make_shared<int>(0);
  const std::weak_ptr<int> watch = owned;
  std::size_t calls = 0;
  std::optional<memory_peer> peer;
  {
    memory_loop loop;
    auto connection = loop.connect();
    peer = connection.second;
    SUBCASE("reading peer") {}
    SUBCASE("stalled peer") { peer->stall(); }
    const std::vector<std::string_view> pieces = {"x"};
    connection.first.async_write(
        {pieces.data(), 1},
        [&calls, o = std::move(owned)](std::error_code, std::size_t) { ++calls; });
  }
  CHECK(watch.expired());
  CHECK(calls == 0);
  CHECK_FALSE(peer->write_pending());
}

TEST_CASE("a second write while one is outstanding is recorded") {
  memory_loop loop;
  auto [transport, peer] = loop.connect();
  const std::vector<std::string_view> pieces = {"x"};
  completion first, second;
  write(transport, pieces, first);
  CHECK_FALSE(peer.saw_concurrent_writes());
  write(transport, pieces, second);
  CHECK(peer.saw_concurrent_writes());
}

TEST_CASE("writes one after another are not concurrent") {
  memory_loop loop;
  auto [transport, peer] = loop.connect();
  const std::vector<std::string_view> pieces = {"x"};
  for (int i = 0; i < 3; ++i) {
    completion done;
    write(transport, pieces, done);
    loop.run();
  }
  CHECK(peer.writes() == 3);
  CHECK_FALSE(peer.saw_concurrent_writes());
}

TEST_CASE("a moved transport writes to the same peer") {
  memory_loop loop;
  auto [transport, peer] = loop.connect();
  memory_transport moved = std::move(transport);
  const std::vector<std::string_view> pieces = {"x"};
  completion done;
  write(moved, pieces, done);
  loop.run();
  CHECK(peer.received() == "x");
}

TEST_CASE("writes started on one thread complete on a loop run by another") {
  memory_loop loop;
  auto [transport, peer] = loop.connect();
  const std::vector<std::string_view> pieces = {"x"};
  constexpr std::size_t total = 200;
  std::atomic<std::size_t> completed{0};
  std::thread writer([&, t = &transport] {
    for (std::size_t i = 0; i < total; ++i) {
      const std::size_t before = completed.load();
      t->async_write({pieces.data(), 1},
                     [&](std::error_code, std::size_t) { completed.fetch_add(1); });
      while (completed.load() == before) std::this_thread::yield();
    }
  });
  while (completed.load() < total) loop.run();
  writer.join();
  CHECK(peer.received() == std::string(total, 'x'));
  CHECK_FALSE(peer.saw_concurrent_writes());
}
