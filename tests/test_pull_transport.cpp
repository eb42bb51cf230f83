// The pull transport: a real hub writes to it, a puller (a test thread, as a
// blocking server's would be) pulls the bytes out; what the puller wrote is
// read back with ssepp's own parser. Waits are bounded by deadlines, and
// never assert how long anything took.
#include <ssepp/pull_transport.hpp>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <future>
#include <memory>
#include <optional>
#include <ostream>  // doctest prints std::error_code through it
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <ssepp/hub.hpp>
#include <ssepp/parser.hpp>

using namespace std::chrono_literals;
using ssepp::pull_status;
using ssepp::pull_stream;
using ssepp::pull_transport;
using strings = std::vector<std::string>;

static_assert(ssepp::is_transport_v<pull_transport>);

namespace {

using hub_type = ssepp::hub<pull_transport>;

// Fixed ids ("e-1", ...) and no initial retry: a stream holds only events.
ssepp::hub_options plain_options() {
  ssepp::hub_options o;
  o.epoch = "e";
  o.initial_retry = std::nullopt;
  return o;
}

// The data of every event in `bytes`, as a browser would read them.
strings data_of(const std::string& bytes) {
  struct reader {
    strings data;
    void on_event(const ssepp::message& m) { data.emplace_back(m.data); }
    void on_retry(std::chrono::milliseconds) {}
    void on_comment(std::string_view) {}
  };
  ssepp::parser<reader> p{reader{}};
  REQUIRE_FALSE(p.feed(bytes));
  return std::move(p.handler().data);
}

// A puller that appends what it is given, as a socket write that succeeds.
struct collector {
  std::string bytes;
  std::vector<std::size_t> write_sizes;
  bool operator()(std::string_view b) {
    bytes.append(b.data(), b.size());
    write_sizes.push_back(b.size());
    return true;
  }
};

// Pulls until `want` events arrived or a generous deadline passed.
std::string pull_events(pull_stream& stream, std::size_t want) {
  collector out;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (data_of(out.bytes).size() < want && std::chrono::steady_clock::now() < deadline)
    if (stream.pull_until(deadline, std::ref(out)) != pull_status::written) break;
  return out.bytes;
}

// What a completion handler was called with, and on which stack.
struct completion_record {
  int calls = 0;
  std::error_code error;
  std::size_t bytes = 0;
  auto handler() {
    return [this](std::error_code ec, std::size_t n) {
      ++calls;
      error = ec;
      bytes = n;
    };
  }
};

// A clock that counts its live copies: the hub's core holds one, so zero
// copies alive proves the hub and every subscriber were freed.
struct counted_clock {
  static int& alive() {
    static int n = 0;
    return n;
  }
  counted_clock() { ++alive(); }
  counted_clock(const counted_clock&) { ++alive(); }
  counted_clock& operator=(const counted_clock&) = default;
  ~counted_clock() { --alive(); }
  std::chrono::steady_clock::time_point now() const noexcept {
    return std::chrono::steady_clock::now();
  }
};

}  // namespace

// =============================================================================
// With a hub
// =============================================================================

TEST_CASE("events published to the hub are pulled and written in order") {
  hub_type hub{plain_options()};
  pull_stream stream;
  auto sub = hub.subscribe({"news"}, stream.transport());
  for (const char* data : {"1", "2", "3"}) REQUIRE_FALSE(hub.publish("news", {data}).error);
  CHECK(data_of(pull_events(stream, 3)) == strings{"1", "2", "3"});
}

TEST_CASE("the header's puller loop serves a stream until the hub closes it") {
  hub_type hub{plain_options()};
  pull_stream stream;
  auto sub = hub.subscribe({"news"}, stream.transport());
  REQUIRE_FALSE(hub.publish("news", {"last"}).error);
  hub.close_all();
  collector socket;
  auto blocking_write = [](collector& s, std::string_view b) { return s(b); };
  auto client_still_there = [] { return true; };
  for (;;) {
    auto st = stream.pull_for(10s, [&](std::string_view bytes) {
      return blocking_write(socket, bytes);  // false: the client left
    });
    if (st == ssepp::pull_status::closed || st == ssepp::pull_status::failed) break;
    if (st == ssepp::pull_status::timeout && !client_still_there()) break;
  }
  CHECK(data_of(socket.bytes) == strings{"last"});
  CHECK_FALSE(sub.active());
}

TEST_CASE("a puller waiting with nothing queued is woken by a publish") {
  hub_type hub{plain_options()};
  pull_stream stream;
  auto sub = hub.subscribe({"news"}, stream.transport());
  auto puller = std::async(std::launch::async, [&] {
    collector out;
    const auto st = stream.pull_for(60s, std::ref(out));
    return std::make_pair(st, out.bytes);
  });
  REQUIRE_FALSE(hub.publish("news", {"wake"}).error);
  REQUIRE(puller.wait_for(30s) == std::future_status::ready);
  const auto [status, bytes] = puller.get();
  CHECK(status == pull_status::written);
  CHECK(data_of(bytes) == strings{"wake"});
}

TEST_CASE("ending the subscription wakes a waiting puller with closed") {
  hub_type hub{plain_options()};
  pull_stream stream;
  auto sub = hub.subscribe({"news"}, stream.transport());
  auto puller = std::async(std::launch::async, [&] {
    collector out;
    return stream.pull_for(60s, std::ref(out));
  });
  sub.reset();
  REQUIRE(puller.wait_for(30s) == std::future_status::ready);
  CHECK(puller.get() == pull_status::closed);
  CHECK(hub.stats().subscribers == 0);
}

TEST_CASE("a puller whose write fails makes the hub drop the subscriber as peer_gone") {
  hub_type hub{plain_options()};
  pull_stream stream;
  int closes = 0;
  std::optional<ssepp::close_reason> reason;
  std::error_code error;
  auto sub = hub.subscribe({"news"}, stream.transport(), {},
                           [&](ssepp::close_reason r, std::error_code ec) {
                             ++closes;
                             reason = r;
                             error = ec;
                           });
  REQUIRE_FALSE(hub.publish("news", {"1"}).error);
  CHECK(stream.pull_for(10s, [](std::string_view) { return false; }) == pull_status::failed);
  CHECK(closes == 1);
  CHECK(reason == ssepp::close_reason::peer_gone);
  CHECK(error == std::errc::broken_pipe);
  CHECK(hub.stats().subscribers == 0);
  CHECK_FALSE(sub.active());
  // The stream stays failed: the server's thread ends the response.
  CHECK(stream.pull_for(0s, collector{}) == pull_status::failed);
}

TEST_CASE("a closed stream frees the hub's subscriber, the hub and the stream") {
  REQUIRE(counted_clock::alive() == 0);
  SUBCASE("stream destroyed last, with a write outstanding") {
    std::optional<pull_stream> stream{std::in_place};
    {
      ssepp::hub<pull_transport, counted_clock> hub{plain_options()};
      auto sub = hub.subscribe({"news"}, stream->transport());
      REQUIRE_FALSE(hub.publish("news", {"never pulled"}).error);
    }
    // The outstanding write's handler still owns the subscriber (and the
    // hub's core): destroying the stream completes it and frees them.
    CHECK(counted_clock::alive() == 1);
    stream.reset();
    CHECK(counted_clock::alive() == 0);
  }
  SUBCASE("stream destroyed first, with a write outstanding") {
    ssepp::hub<pull_transport, counted_clock> hub{plain_options()};
    std::optional<pull_stream> stream{std::in_place};
    auto sub = hub.subscribe({"news"}, stream->transport());
    REQUIRE_FALSE(hub.publish("news", {"never pulled"}).error);
    stream.reset();
    CHECK(hub.stats().subscribers == 0);  // completed with an error: peer_gone
  }
  CHECK(counted_clock::alive() == 0);
}

// =============================================================================
// The transport alone
// =============================================================================

TEST_CASE("async_write never completes the write itself; the puller does, once") {
  pull_stream stream;
  auto transport = stream.transport();
  const std::string_view buffers[] = {"ab", "cde"};
  completion_record done;
  transport.async_write({buffers, 2}, done.handler());
  CHECK(done.calls == 0);
  collector out;
  CHECK(stream.pull_for(10s, std::ref(out)) == pull_status::written);
  CHECK(done.calls == 1);
  CHECK_FALSE(done.error);
  CHECK(done.bytes == 5);
  CHECK(out.bytes == "abcde");
  CHECK(stream.pull_for(0s, std::ref(out)) == pull_status::timeout);
  CHECK(done.calls == 1);
}

TEST_CASE("a pull with nothing queued times out without writing") {
  pull_stream stream;
  collector out;
  CHECK(stream.pull_for(1ms, std::ref(out)) == pull_status::timeout);
  CHECK(out.write_sizes.empty());
}

TEST_CASE("empty buffers are never handed to the puller's write") {
  // cpp-httplib, for one, ends the body at a zero-byte write.
  pull_stream stream;
  const std::string_view buffers[] = {"a", "", "b", ""};
  completion_record done;
  stream.transport().async_write({buffers, 4}, done.handler());
  collector out;
  CHECK(stream.pull_for(10s, std::ref(out)) == pull_status::written);
  CHECK(out.write_sizes == std::vector<std::size_t>{1, 1});
  CHECK(done.bytes == 2);
}

TEST_CASE("closing with a write outstanding cancels it unwritten, and the pull reports closed") {
  pull_stream stream;
  auto transport = stream.transport();
  const std::string_view buffers[] = {"x"};
  completion_record done;
  transport.async_write({buffers, 1}, done.handler());
  transport.close();
  transport.close();  // idempotent
  collector out;
  CHECK(stream.pull_for(10s, std::ref(out)) == pull_status::closed);
  CHECK(done.calls == 1);
  CHECK(done.error == std::errc::operation_canceled);
  CHECK(out.bytes.empty());
  CHECK(stream.pull_for(10s, std::ref(out)) == pull_status::closed);
}

TEST_CASE("destroying the stream completes an outstanding write with broken_pipe") {
  completion_record done;
  {
    pull_stream stream;
    const std::string_view buffers[] = {"x"};
    stream.transport().async_write({buffers, 1}, done.handler());
  }
  CHECK(done.calls == 1);
  CHECK(done.error == std::errc::broken_pipe);
}

TEST_CASE("a write after the stream is gone destroys its handler without calling it") {
  std::optional<pull_stream> stream{std::in_place};
  auto transport = stream->transport();
  stream.reset();
  auto token = std::make_shared<int>(0);
  const std::string_view buffers[] = {"x"};
  transport.async_write({buffers, 1}, [token](std::error_code, std::size_t) { ++*token; });
  CHECK(token.use_count() == 1);  // the handler was destroyed
  CHECK(*token == 0);
  transport.close();  // still safe
}

TEST_CASE("a move-only completion handler is accepted, called, then freed") {
  pull_stream stream;
  auto calls = std::make_shared<int>(0);
  auto owned = std::make_unique<std::shared_ptr<int>>(calls);  // makes the handler move-only
  const std::string_view buffers[] = {"x"};
  stream.transport().async_write(
      {buffers, 1}, [owned = std::move(owned)](std::error_code, std::size_t) { ++**owned; });
  CHECK(stream.pull_for(10s, collector{}) == pull_status::written);
  CHECK(*calls == 1);
  CHECK(calls.use_count() == 1);
}
