// The Redis backplane against a real redis-server, which each test case
// starts on a free port: hubs of two "nodes" in one process share channels
// through it. Their transports are in memory (testing.hpp), so what each
// subscriber received is read back exactly; the backplanes' I/O runs on an
// io_context thread of their own, as in a server.
#include <ssepp/redis/backplane.hpp>

#include <doctest/doctest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <ssepp/parser.hpp>
#include <ssepp/testing.hpp>

#ifndef SSEPP_REDIS_SERVER
#define SSEPP_REDIS_SERVER "redis-server"
#endif

extern char** environ;

using namespace std::chrono_literals;
using ssepp::testing::memory_loop;
using ssepp::testing::memory_peer;
using ssepp::testing::memory_transport;
using strings = std::vector<std::string>;
namespace net = ssepp::asio::net;

namespace {

using hub_type = ssepp::hub<memory_transport>;
using backplane_type = ssepp::redis::backplane<hub_type>;

std::uint16_t free_port() {
  net::io_context io;
  net::ip::tcp::acceptor a(io, {net::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

bool can_connect(std::uint16_t port) {
  net::io_context io;
  net::ip::tcp::socket s(io);
  ssepp::asio::error_code ec;
  s.connect({net::ip::make_address("127.0.0.1"), port}, ec);
  return !ec;
}

// A redis-server of the test's own, stopped with the test case.
class redis_process {
 public:
  redis_process() : port_(free_port()) {
    const std::string port = std::to_string(port_);
    const char* argv[] = {SSEPP_REDIS_SERVER, "--port", port.c_str(),   "--bind", "127.0.0.1",
                          "--save",           "",       "--appendonly", "no",     "--logfile",
                          "/dev/null",        nullptr};
    REQUIRE(posix_spawnp(&pid_, argv[0], nullptr, nullptr, const_cast<char**>(argv), environ) == 0);
    for (int i = 0; i < 500 && !can_connect(port_); ++i) std::this_thread::sleep_for(10ms);
    REQUIRE(can_connect(port_));
  }
  ~redis_process() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  std::uint16_t port() const { return port_; }
  void pause() { kill(pid_, SIGSTOP); }
  void resume() { kill(pid_, SIGCONT); }

 private:
  std::uint16_t port_;
  pid_t pid_ = 0;
};

// What a subscriber received, as "<type>|<data>|<id>" per event.
strings events_of(const memory_peer& peer) {
  struct collect {
    strings* out;
    void on_event(const ssepp::message& m) {
      out->push_back(std::string(m.type) + "|" + std::string(m.data) + "|" +
                     std::string(m.last_event_id));
    }
  };
  strings out;
  ssepp::parser<collect> p{collect{&out}};
  REQUIRE_FALSE(p.feed(peer.received()));
  return out;
}

// One node: a hub with its backplane, the backplane on a thread of its own.
struct node {
  explicit node(std::uint16_t redis_port, std::string prefix = "t:",
                std::function<void(ssepp::redis::backplane_options&)> tune = {}) {
    ssepp::hub_options ho;
    ho.initial_retry = std::nullopt;
    hub = std::make_unique<hub_type>(ho);
    ssepp::redis::backplane_options o;
    o.redis.port = redis_port;
    o.prefix = std::move(prefix);
    o.reconnect_delay = 20ms;
    o.max_reconnect_delay = 100ms;
    if (tune) tune(o);
    backplane = std::make_unique<backplane_type>(io, *hub, o);
    backplane->start();
    thread = std::thread([this] { io.run(); });
  }
  ~node() {
    backplane->stop();
    work.reset();
    thread.join();
    backplane.reset();
    hub->close_all(std::nullopt, false);
    loop.run();
  }
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  bool connected(std::chrono::milliseconds within = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (!backplane->stats().connected) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }

  ssepp::batch_publish_result publish(const std::string& channel, strings data) {
    std::vector<ssepp::event> events;
    for (auto& d : data) events.push_back(ssepp::event{d, "t", ""});
    std::promise<ssepp::batch_publish_result> done;
    auto result = done.get_future();
    backplane->publish(channel, std::move(events),
                       [&done](ssepp::batch_publish_result r) { done.set_value(std::move(r)); });
    REQUIRE(result.wait_for(5s) == std::future_status::ready);
    return result.get();
  }

  // A stream of `channels` resuming after `id`, subscribed the way a
  // server does it: the backplane readies it, then the hub subscribes.
  struct stream {
    hub_type::subscription sub;
    memory_peer peer;
    std::optional<ssepp::replay_plan> plan;
  };
  stream subscribe(strings channels, std::string id = {}) {
    std::promise<std::optional<ssepp::replay_plan>> ready;
    auto plan = ready.get_future();
    backplane->resume(channels, id, [&ready](std::optional<ssepp::replay_plan> p) {
      ready.set_value(std::move(p));
    });
    REQUIRE(plan.wait_for(5s) == std::future_status::ready);
    stream s;
    s.plan = plan.get();
    auto connection = loop.connect();
    s.sub = s.plan ? hub->subscribe_with_replay(channels, std::move(connection.first), *s.plan)
                   : hub->subscribe(channels, std::move(connection.first), id);
    s.peer = std::move(connection.second);
    return s;
  }

  // Waits until `peer` received `n` events (writes complete as they come).
  strings await_events(const memory_peer& peer, std::size_t n,
                       std::chrono::milliseconds within = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    for (;;) {
      loop.run();
      auto got = events_of(peer);
      if (got.size() >= n || std::chrono::steady_clock::now() > deadline) return got;
      std::this_thread::sleep_for(2ms);
    }
  }

  memory_loop loop;
  net::io_context io{1};
  net::executor_work_guard<net::io_context::executor_type> work = net::make_work_guard(io);
  std::unique_ptr<hub_type> hub;
  std::unique_ptr<backplane_type> backplane;
  std::thread thread;
};

// One redis-server and two nodes on it, both connected.
struct two_nodes {
  redis_process redis;
  node a{redis.port()};
  node b{redis.port()};
  two_nodes() {
    REQUIRE(a.connected());
    REQUIRE(b.connected());
  }
};

std::string seq_suffix(const std::string& id) { return id.substr(id.rfind('-') + 1); }

}  // namespace

TEST_CASE("a publish through Redis gets consecutive ids from one count, on every node") {
  two_nodes f;
  auto& a = f.a;
  auto& b = f.b;
  const auto one = a.publish("news", {"1"});
  const auto two = b.publish("other", {"2", "3"});
  REQUIRE_FALSE(one.error);
  REQUIRE_FALSE(two.error);
  REQUIRE(one.ids.size() == 1);
  REQUIRE(two.ids.size() == 2);
  CHECK(seq_suffix(one.ids[0]) == "1");
  CHECK(seq_suffix(two.ids[0]) == "2");
  CHECK(seq_suffix(two.ids[1]) == "3");
  const auto epoch = one.ids[0].substr(0, one.ids[0].rfind('-'));
  CHECK(two.ids[0] == epoch + "-2");
}

TEST_CASE("an event published on one node reaches the subscribers of every node, once") {
  two_nodes f;
  auto& a = f.a;
  auto& b = f.b;
  auto on_a = a.subscribe({"news"});
  auto on_b = b.subscribe({"news"});
  const auto r = a.publish("news", {"x", "y"});
  REQUIRE_FALSE(r.error);
  const strings want{"t|x|" + r.ids[0], "t|y|" + r.ids[1]};
  CHECK(a.await_events(on_a.peer, 2) == want);
  CHECK(b.await_events(on_b.peer, 2) == want);
  CHECK(b.backplane->stats().applied == 2);
}

TEST_CASE("a client resumes on a node without the channel's history from Redis") {
  two_nodes f;
  auto& a = f.a;
  auto& b = f.b;
  auto on_a = a.subscribe({"news"});
  const auto r = a.publish("news", {"1", "2", "3", "4"});
  REQUIRE_FALSE(r.error);
  REQUIRE(a.await_events(on_a.peer, 4).size() == 4);
  // b has never served "news": the events after the second one come from
  // the channel's stream in Redis.
  auto on_b = b.subscribe({"news"}, r.ids[1]);
  REQUIRE(on_b.plan);
  CHECK(on_b.plan->gap_reason.empty());
  CHECK(on_b.plan->events.size() == 2);
  const auto live = a.publish("news", {"5"});
  CHECK(b.await_events(on_b.peer, 3) ==
        strings{"t|3|" + r.ids[2], "t|4|" + r.ids[3], "t|5|" + live.ids[0]});
  CHECK(b.backplane->stats().resumes_redis == 1);
}

TEST_CASE("a client resumes from the node's own history when it holds the id") {
  redis_process redis;
  node a(redis.port());
  REQUIRE(a.connected());
  auto first = a.subscribe({"news"});
  const auto r = a.publish("news", {"1", "2", "3"});
  REQUIRE(a.await_events(first.peer, 3).size() == 3);
  auto again = a.subscribe({"news"}, r.ids[0]);
  CHECK_FALSE(again.plan);
  CHECK(a.await_events(again.peer, 2) == strings{"t|2|" + r.ids[1], "t|3|" + r.ids[2]});
  CHECK(a.backplane->stats().resumes_local == 1);
}

TEST_CASE(
    "a client that saw the newest event resumes on a node new to the channel with live ones") {
  two_nodes f;
  auto& a = f.a;
  auto& b = f.b;
  auto on_a = a.subscribe({"news"});
  const auto r = a.publish("news", {"1", "2"});
  REQUIRE(a.await_events(on_a.peer, 2).size() == 2);
  // b learns where the channel stands when it subscribes: nothing to
  // replay, and nothing the client saw comes again.
  auto resumed = b.subscribe({"news"}, r.ids[1]);
  REQUIRE(resumed.plan);
  CHECK(resumed.plan->events.empty());
  CHECK(resumed.plan->gap_reason.empty());
  const auto live = a.publish("news", {"3"});
  CHECK(b.await_events(resumed.peer, 1) == strings{"t|3|" + live.ids[0]});
}

TEST_CASE("an id of another epoch or never issued gets the gap event") {
  redis_process redis;
  node a(redis.port());
  REQUIRE(a.connected());
  (void)a.publish("news", {"1"});
  auto other_epoch = a.subscribe({"news"}, "zzzz-1");
  REQUIRE(other_epoch.plan);
  CHECK(other_epoch.plan->gap_reason == "unknown");
  auto not_ours = a.subscribe({"news"}, "p3");
  REQUIRE(not_ours.plan);
  CHECK(not_ours.plan->gap_reason == "unknown");
}

TEST_CASE("events trimmed from the stream make a resume from Redis send the gap event") {
  redis_process redis;
  node a(redis.port());
  REQUIRE(a.connected());
  // The stream keeps 1024 events by default: publish more than that, so
  // the first ones are gone from Redis, and resume from the first on a
  // node that never had them.
  strings data;
  for (int i = 0; i < 1100; ++i) data.push_back(std::to_string(i));
  const auto r = a.publish("news", data);
  REQUIRE_FALSE(r.error);
  node b(redis.port());
  REQUIRE(b.connected());
  auto resumed = b.subscribe({"news"}, r.ids[0]);
  REQUIRE(resumed.plan);
  CHECK(resumed.plan->gap_reason == "evicted");
  CHECK(resumed.plan->events.size() == 1024);
}

TEST_CASE("with Redis unreachable, publishing fails at once and resumes fall back") {
  node a(free_port());  // nothing listens there
  CHECK_FALSE(a.connected(200ms));
  const auto r = a.publish("news", {"1"});
  CHECK(r.error == ssepp::errc::backplane_unavailable);
  auto s = a.subscribe({"news"}, "abc-5");
  REQUIRE(s.plan);
  CHECK(s.plan->gap_reason == "unavailable");
  auto fresh = a.subscribe({"news"});
  CHECK_FALSE(fresh.plan);
}

TEST_CASE("an invalid event is refused before it reaches Redis") {
  redis_process redis;
  node a(redis.port());
  REQUIRE(a.connected());
  std::promise<ssepp::batch_publish_result> done;
  auto result = done.get_future();
  a.backplane->publish("news", {ssepp::event{"ok", "t", ""}, ssepp::event{"x", "bad\ntype", ""}},
                       [&done](ssepp::batch_publish_result r) { done.set_value(std::move(r)); });
  REQUIRE(result.wait_for(5s) == std::future_status::ready);
  const auto r = result.get();
  CHECK(r.error == ssepp::errc::invalid_event_type);
  CHECK(r.failed == 1);
  CHECK(a.backplane->stats().publish_calls == 0);
}

TEST_CASE("two prefixes on one Redis are two separate id spaces") {
  redis_process redis;
  node a(redis.port(), "one:"), b(redis.port(), "two:");
  REQUIRE(a.connected());
  REQUIRE(b.connected());
  auto on_b = b.subscribe({"news"});
  const auto r1 = a.publish("news", {"1"});
  const auto r2 = b.publish("news", {"2"});
  CHECK(seq_suffix(r1.ids[0]) == "1");
  CHECK(seq_suffix(r2.ids[0]) == "1");
  CHECK(b.await_events(on_b.peer, 1) == strings{"t|2|" + r2.ids[0]});
}

TEST_CASE(
    "a Redis that stops answering is given up on, and publishes beyond the bound fail at once") {
  redis_process redis;
  node a(redis.port(), "t:", [](ssepp::redis::backplane_options& o) {
    o.command_timeout = 300ms;
    o.max_publishes_in_flight = 2;
  });
  REQUIRE(a.connected());
  redis.pause();
  std::vector<std::future<ssepp::batch_publish_result>> waiting;
  for (int i = 0; i < 3; ++i) {
    auto done = std::make_shared<std::promise<ssepp::batch_publish_result>>();
    waiting.push_back(done->get_future());
    a.backplane->publish("news", {ssepp::event{"x", "", ""}},
                         [done](ssepp::batch_publish_result r) { done->set_value(std::move(r)); });
  }
  // The third is over the bound: refused without waiting for Redis.
  REQUIRE(waiting[2].wait_for(2s) == std::future_status::ready);
  CHECK(waiting[2].get().error == ssepp::errc::backplane_unavailable);
  CHECK(waiting[0].wait_for(0ms) == std::future_status::timeout);
  // The two in flight fail once the timeout gives up on the session.
  for (int i = 0; i < 2; ++i) {
    REQUIRE(waiting[static_cast<std::size_t>(i)].wait_for(5s) == std::future_status::ready);
    CHECK(waiting[static_cast<std::size_t>(i)].get().error == ssepp::errc::backplane_unavailable);
  }
  redis.resume();
  REQUIRE(a.connected());
  CHECK_FALSE(a.publish("news", {"after"}).error);
}

TEST_CASE("a stream of two channels resumes from Redis when one of them is new to the node") {
  two_nodes f;
  auto& a = f.a;
  auto& b = f.b;
  auto on_b = b.subscribe({"x"});  // b serves x, not y
  const auto first = a.publish("x", {"x1"});
  const auto y = a.publish("y", {"y1"});
  const auto x = a.publish("x", {"x2"});
  REQUIRE(b.await_events(on_b.peer, 2).size() == 2);
  // The id is in b's history of x, but b has no history of y: the hub
  // alone would skip y1.
  auto both = b.subscribe({"x", "y"}, first.ids[0]);
  REQUIRE(both.plan);
  CHECK(b.await_events(both.peer, 2) == strings{"t|y1|" + y.ids[0], "t|x2|" + x.ids[0]});
}

TEST_CASE("a channel unsubscribed from when idle catches up when a stream needs it again") {
  redis_process redis;
  node a(redis.port()),
      b(redis.port(), "t:", [](ssepp::redis::backplane_options&o) { o.unsubscribe_after = 0ms; });
  REQUIRE(a.connected());
  REQUIRE(b.connected());
  std::string last;
  {
    auto s = b.subscribe({"news"});
    const auto r = a.publish("news", {"1"});
    REQUIRE(b.await_events(s.peer, 1).size() == 1);
    last = r.ids[0];
  }
  // b's upkeep (once a second) unsubscribes from the idle channel.
  for (int i = 0; i < 300 && b.backplane->stats().channels != 0; ++i)
    std::this_thread::sleep_for(10ms);
  REQUIRE(b.backplane->stats().channels == 0);
  const auto missed = a.publish("news", {"2", "3"});
  auto again = b.subscribe({"news"}, last);
  CHECK(b.await_events(again.peer, 2) == strings{"t|2|" + missed.ids[0], "t|3|" + missed.ids[1]});
  CHECK(b.backplane->stats().channels == 1);
}

TEST_CASE("after stop, publishes fail and resumes are answered at once") {
  redis_process redis;
  node a(redis.port());
  REQUIRE(a.connected());
  a.backplane->stop();
  for (int i = 0; i < 300 && a.backplane->stats().connected; ++i) std::this_thread::sleep_for(10ms);
  CHECK(a.publish("news", {"1"}).error == ssepp::errc::backplane_unavailable);
  auto s = a.subscribe({"news"}, "abc-1");
  REQUIRE(s.plan);
  CHECK(s.plan->gap_reason == "unavailable");
}

TEST_CASE("resumes of one channel arriving together share one read of its stream") {
  two_nodes f;
  auto& a = f.a;
  auto& b = f.b;
  auto on_a = a.subscribe({"news"});
  const auto r = a.publish("news", {"1", "2", "3", "4"});
  REQUIRE(a.await_events(on_a.peer, 4).size() == 4);
  // Both wait for b to subscribe to the channel, then both need Redis.
  // Asked from one handler on b's own thread, both are queued there before
  // any answer from Redis is read: they arrive together however this
  // thread is scheduled (asked from here, the first could finish before
  // the second arrived).
  std::promise<std::optional<ssepp::replay_plan>> first, second;
  net::post(b.io, [&] {
    b.backplane->resume({"news"}, r.ids[0],
                        [&](std::optional<ssepp::replay_plan> p) { first.set_value(p); });
    b.backplane->resume({"news"}, r.ids[1],
                        [&](std::optional<ssepp::replay_plan> p) { second.set_value(p); });
  });
  auto f1 = first.get_future(), f2 = second.get_future();
  REQUIRE(f1.wait_for(5s) == std::future_status::ready);
  REQUIRE(f2.wait_for(5s) == std::future_status::ready);
  const auto p1 = f1.get(), p2 = f2.get();
  REQUIRE(p1);
  REQUIRE(p2);
  CHECK(p1->events.size() == 3);  // after the first: 2, 3, 4
  CHECK(p2->events.size() == 2);  // after the second: 3, 4
  const auto stats = b.backplane->stats();
  CHECK(stats.resumes_redis == 2);
  CHECK(stats.resumes_shared == 1);
}

TEST_CASE("a Redis whose count went back (an older snapshot) numbers under a new epoch") {
  two_nodes f;
  auto& a = f.a;
  auto& b = f.b;
  auto on_b = b.subscribe({"news"});
  const auto before = a.publish("news", {"1", "2", "3", "4", "5"});
  REQUIRE(b.await_events(on_b.peer, 5).size() == 5);
  // What a restart from a snapshot taken after the second event does to
  // the count (its streams too, which matter less here).
  redisContext* raw = redisConnect("127.0.0.1", f.redis.port());
  REQUIRE(raw);
  REQUIRE(raw->err == 0);
  freeReplyObject(redisCommand(raw, "HSET t:meta seq 2"));
  redisFree(raw);
  const auto after = a.publish("news", {"6"});
  REQUIRE_FALSE(after.error);
  const auto old_epoch = before.ids[0].substr(0, before.ids[0].rfind('-'));
  const auto new_epoch = after.ids[0].substr(0, after.ids[0].rfind('-'));
  // "<old epoch>-3" again would name another event than the one clients hold.
  CHECK(new_epoch != old_epoch);
  CHECK(a.backplane->stats().epochs == 1);
  // b learns the new epoch from the event, and delivers it.
  const auto got = b.await_events(on_b.peer, 6);
  REQUIRE(got.size() == 6);
  CHECK(got.back() == "t|6|" + after.ids[0]);
}
