// The hub driver: ticks at its interval (shortened for short heartbeats),
// flushes what write coalescing held back (also a flush asked for before
// start), and stops cleanly from any thread, from inside a tick, and when
// the hub outlives it. Built twice: on standalone Asio and, as
// test_hub_driver_boost, on Boost.Asio.
//
// The timers are real Asio timers, so the tests run the io_context and poll
// for what they expect against a deadline; nothing sleeps.
#include <ssepp/asio/hub_driver.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include <ssepp/testing.hpp>

using namespace std::chrono_literals;
namespace net = ssepp::asio::net;
using ssepp::asio::hub_driver;
using ssepp::asio::hub_driver_options;

namespace {

// How long any one wait may take before the test calls it a failure. Only a
// bound for a hung test: nothing asserts how fast anything happens.
constexpr std::chrono::milliseconds patience{5000};

// Runs `io` until `done()` holds or `patience` passes; returns done().
template <class Condition>
bool run_until(net::io_context& io, Condition done) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(10ms);
  }
  return true;
}

// Runs `io` until it has no work left (as a program's run() returns), at
// most `patience`; returns whether it ran out of work.
bool run_to_completion(net::io_context& io) {
  io.restart();
  const auto deadline = std::chrono::steady_clock::now() + patience;
  while (!io.stopped()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    io.run_one_for(10ms);
  }
  return true;
}

// Stands in for a hub: counts the driver's calls.
struct counting_hub {
  std::atomic<int> ticks{0};
  std::atomic<int> flushes{0};
  std::function<void()> on_tick;
  ssepp::hub_options hub_options;

  void tick() {
    ++ticks;
    if (on_tick) on_tick();
  }
  void flush() { ++flushes; }
  const ssepp::hub_options& options() const { return hub_options; }
};

using memory_hub = ssepp::hub<ssepp::testing::memory_transport, ssepp::testing::virtual_clock>;

}  // namespace

TEST_CASE("the driver ticks the hub at its interval until stopped") {
  net::io_context io;
  counting_hub hub;
  hub_driver driver(io.get_executor(), hub_driver_options{20ms});
  driver.start(hub);
  CHECK(driver.running());
  REQUIRE(run_until(io, [&] { return hub.ticks >= 3; }));
  driver.stop();
  CHECK_FALSE(driver.running());
  const int ticks = hub.ticks;
  // The cancelled timers were its only work: run() returns, with no tick.
  CHECK(run_to_completion(io));
  CHECK(hub.ticks == ticks);
}

TEST_CASE("start shortens the tick interval to half a shorter heartbeat interval") {
  net::io_context io;
  auto interval_for = [&](std::chrono::milliseconds heartbeat) {
    counting_hub hub;
    hub.hub_options.heartbeat_interval = heartbeat;
    hub_driver driver(io.get_executor());  // tick_interval 1 s
    driver.start(hub);
    return driver.tick_interval();
  };
  CHECK(interval_for(15s) == 1s);
  CHECK(interval_for(1500ms) == 750ms);
  CHECK(interval_for(8ms) == 10ms);  // not below 10 ms
  CHECK(interval_for(0ms) == 1s);    // no heartbeats
}

TEST_CASE("an idle subscriber receives heartbeats from the driver's ticks") {
  net::io_context io;
  ssepp::testing::memory_loop loop;
  ssepp::testing::virtual_clock clock;
  ssepp::hub_options options;
  options.heartbeat_interval = 40ms;
  options.initial_retry = std::nullopt;
  hub_driver driver(io.get_executor());
  memory_hub hub(driver.wire(options), clock);
  driver.start(hub);
  // (Not a structured binding: lambdas cannot capture those before C++20.)
  auto connection = loop.connect();
  auto& peer = connection.second;
  auto subscription = hub.subscribe({"a"}, connection.first);
  clock.advance(40ms);
  CHECK(run_until(io, [&] {
    loop.run();
    return peer.received() == ":\n";
  }));
  driver.stop();
}

TEST_CASE("writes held back by coalescing go out when the driver flushes") {
  net::io_context io;
  ssepp::testing::memory_loop loop;
  ssepp::testing::virtual_clock clock;  // stands still: every write is "recent"
  ssepp::hub_options options;
  options.initial_retry = std::nullopt;
  options.coalesce_window = 5ms;
  hub_driver driver(io.get_executor());
  memory_hub hub(driver.wire(options), clock);
  driver.start(hub);
  // (Not a structured binding: lambdas cannot capture those before C++20.)
  auto connection = loop.connect();
  auto& peer = connection.second;
  auto subscription = hub.subscribe({"a"}, connection.first);
  hub.publish("a", {"one", "", "1"});
  loop.run();
  hub.publish("a", {"two", "", "2"});
  loop.run();
  REQUIRE(peer.received() == "id: 1\ndata: one\n\n");  // "two" waits for a flush
  CHECK(run_until(io, [&] {
    loop.run();
    return peer.received() == "id: 1\ndata: one\n\nid: 2\ndata: two\n\n";
  }));
  driver.stop();
}

TEST_CASE("a flush the hub asks for before start runs at start") {
  net::io_context io;
  counting_hub hub;
  hub_driver driver(io.get_executor());
  hub.hub_options = driver.wire({});
  hub.hub_options.schedule_flush(0us);
  CHECK(run_to_completion(io));  // the flush timer fired with no hub to flush
  CHECK(hub.flushes == 0);
  driver.start(hub);
  CHECK(run_until(io, [&] { return hub.flushes == 1; }));
  driver.stop();
}

TEST_CASE("wire keeps a schedule_flush of the caller's own") {
  net::io_context io;
  hub_driver driver(io.get_executor());
  int asked = 0;
  ssepp::hub_options mine;
  mine.schedule_flush = [&](std::chrono::microseconds) { ++asked; };
  driver.wire(mine).schedule_flush(1ms);
  CHECK(asked == 1);
  CHECK(driver.wire({}).schedule_flush);
}

TEST_CASE("no tick or flush runs after stop() returns on another thread") {
  net::io_context io;
  counting_hub hub;
  hub_driver driver(io.get_executor(), hub_driver_options{10ms});
  hub.hub_options = driver.wire({});
  driver.start(hub);
  std::atomic<bool> done{false};
  std::thread runner([&] {
    io.run();
    done = true;
  });
  const auto deadline = std::chrono::steady_clock::now() + patience;
  while (hub.ticks < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  REQUIRE(hub.ticks >= 2);
  driver.stop();
  const int ticks = hub.ticks;
  const int flushes = hub.flushes;
  hub.hub_options.schedule_flush(0us);  // too late: must not flush
  // With the timers cancelled, run() runs out of work and returns.
  while (!done && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  CHECK(done);
  if (!done) io.stop();
  runner.join();
  CHECK(hub.ticks == ticks);
  CHECK(hub.flushes == flushes);
}

TEST_CASE("stop() from inside a tick ends the ticking without deadlock") {
  net::io_context io;
  counting_hub hub;
  hub_driver driver(io.get_executor(), hub_driver_options{10ms});
  hub.on_tick = [&] { driver.stop(); };
  driver.start(hub);
  CHECK(run_to_completion(io));
  CHECK(hub.ticks == 1);
  CHECK_FALSE(driver.running());
}

TEST_CASE("a hub may outlive its driver: its schedule_flush then does nothing") {
  net::io_context io;
  ssepp::testing::memory_loop loop;
  ssepp::testing::virtual_clock clock;
  ssepp::hub_options options;
  options.initial_retry = std::nullopt;
  auto driver = std::make_unique<hub_driver>(io.get_executor());
  memory_hub hub(driver->wire(options), clock);
  driver->start(hub);
  // (Not a structured binding: lambdas cannot capture those before C++20.)
  auto connection = loop.connect();
  auto& peer = connection.second;
  auto subscription = hub.subscribe({"a"}, connection.first);
  hub.publish("a", {"one"});
  loop.run();
  driver.reset();
  hub.publish("a", {"two"});  // held back: asks the gone driver for a flush
  loop.run();
  CHECK(run_to_completion(io));
  CHECK(peer.received().find("two") == std::string::npos);
  // The hub (and the flush function it holds) is destroyed after the driver.
}

TEST_CASE("a driver destroyed without start leaves nothing running") {
  net::io_context io;
  {
    hub_driver driver(io.get_executor());
    auto flush = driver.schedule_flush();
    flush(1ms);
  }
  CHECK(run_to_completion(io));
}
