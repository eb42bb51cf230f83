// reconnect_policy: the server's retry as a floor, exponential backoff,
// the cap, jitter, reset on success, Retry-After, fixed seeds. Pure
// arithmetic, so no clock is involved.
#include <ssepp/reconnect.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <ostream>
#include <vector>

using ssepp::reconnect_options;
using ssepp::reconnect_policy;
using std::chrono::milliseconds;

namespace std::chrono {
// doctest prints durations as bytes unless an overload is found by ADL.
inline doctest::String toString(const milliseconds& ms) {
  return (std::to_string(ms.count()) + " ms").c_str();
}
}  // namespace std::chrono

namespace {

reconnect_options no_jitter(milliseconds initial, milliseconds max, double multiplier = 2.0) {
  reconnect_options o;
  o.initial = initial;
  o.max = max;
  o.multiplier = multiplier;
  o.jitter = 0;
  return o;
}

std::vector<milliseconds> delays(reconnect_policy& p, int n) {
  std::vector<milliseconds> out;
  for (int i = 0; i < n; ++i) out.push_back(p.next_delay());
  return out;
}

}  // namespace

TEST_CASE("the defaults are a browser's: 3 s, doubling, capped at 30 s, 30% jitter") {
  const reconnect_options o;
  CHECK(o.initial == milliseconds{3000});
  CHECK(o.multiplier == 2.0);
  CHECK(o.max == milliseconds{30000});
  CHECK(o.jitter == doctest::Approx(0.3));
  const reconnect_policy p;
  CHECK(p.retry() == milliseconds{3000});
  CHECK(p.failures() == 0);
}

TEST_CASE("the first delay is the initial reconnection time") {
  reconnect_policy p{no_jitter(milliseconds{3000}, milliseconds{30000})};
  CHECK(p.next_delay() == milliseconds{3000});
  CHECK(p.failures() == 1);
}

TEST_CASE("each further consecutive failure multiplies the delay") {
  SUBCASE("by two") {
    reconnect_policy p{no_jitter(milliseconds{100}, milliseconds{100000})};
    CHECK(delays(p, 6) == std::vector<milliseconds>{milliseconds{100}, milliseconds{200},
                                                    milliseconds{400}, milliseconds{800},
                                                    milliseconds{1600}, milliseconds{3200}});
  }
  SUBCASE("by three") {
    reconnect_policy p{no_jitter(milliseconds{10}, milliseconds{100000}, 3.0)};
    CHECK(delays(p, 4) == std::vector<milliseconds>{milliseconds{10}, milliseconds{30},
                                                    milliseconds{90}, milliseconds{270}});
  }
  SUBCASE("by one: a constant delay") {
    reconnect_policy p{no_jitter(milliseconds{250}, milliseconds{100000}, 1.0)};
    CHECK(delays(p, 3) == std::vector<milliseconds>(3, milliseconds{250}));
  }
}

TEST_CASE("no delay grows past the cap") {
  reconnect_policy p{no_jitter(milliseconds{100}, milliseconds{1000})};
  CHECK(delays(p, 8) == std::vector<milliseconds>{milliseconds{100}, milliseconds{200},
                                                  milliseconds{400}, milliseconds{800},
                                                  milliseconds{1000}, milliseconds{1000},
                                                  milliseconds{1000}, milliseconds{1000}});
}

TEST_CASE("many failures in a row stay at the cap") {
  reconnect_policy p{no_jitter(milliseconds{1}, milliseconds{30000})};
  milliseconds last{};
  for (int i = 0; i < 10000; ++i) last = p.next_delay();
  CHECK(last == milliseconds{30000});
  CHECK(p.failures() == 10000);
}

TEST_CASE("the server's retry is the floor of every delay") {
  SUBCASE("a retry replaces the initial time") {
    reconnect_policy p{no_jitter(milliseconds{3000}, milliseconds{30000})};
    p.set_retry(milliseconds{50});
    CHECK(p.retry() == milliseconds{50});
    CHECK(delays(p, 3) ==
          std::vector<milliseconds>{milliseconds{50}, milliseconds{100}, milliseconds{200}});
  }
  SUBCASE("a retry above the cap wins over the cap") {
    reconnect_policy p{no_jitter(milliseconds{100}, milliseconds{1000})};
    p.set_retry(milliseconds{5000});
    CHECK(delays(p, 4) == std::vector<milliseconds>(4, milliseconds{5000}));
  }
  SUBCASE("with jitter, no delay is ever below the floor, however many failures") {
    for (std::uint64_t seed = 0; seed < 200; ++seed) {
      reconnect_options o;
      o.initial = milliseconds{100};
      o.max = milliseconds{2000};
      reconnect_policy p{o, seed};
      p.set_retry(milliseconds{700});
      for (int i = 0; i < 12; ++i) {
        const auto d = p.next_delay();
        INFO("seed " << seed << ", failure " << i);
        CHECK(d >= milliseconds{700});
        CHECK(d <= milliseconds{2000});
      }
    }
  }
  SUBCASE("a retry arriving mid-backoff moves the floor, backoff continues from it") {
    reconnect_policy p{no_jitter(milliseconds{100}, milliseconds{100000})};
    CHECK(delays(p, 2) == std::vector<milliseconds>{milliseconds{100}, milliseconds{200}});
    p.set_retry(milliseconds{1000});
    CHECK(p.next_delay() == milliseconds{4000});  // third consecutive failure: floor * 2^2
  }
}

TEST_CASE("a retry too large for the delay arithmetic saturates instead of overflowing") {
  // The parser saturates a huge `retry:` to milliseconds::max(); the
  // conversion back from double must not overflow (UBSan checks it).
  for (const double jitter : {0.0, 0.3}) {
    reconnect_options o;
    o.jitter = jitter;
    reconnect_policy p{o, 1};
    p.set_retry(milliseconds::max());
    for (int i = 0; i < 3; ++i) {
      const auto d = p.next_delay();
      CHECK(d >= milliseconds{std::numeric_limits<milliseconds::rep>::max() / 2});
    }
  }
}

TEST_CASE("jitter spreads each delay over [d, d * (1 + jitter)]") {
  reconnect_options o;
  o.initial = milliseconds{1000};
  o.max = milliseconds{100000};
  o.jitter = 0.5;
  milliseconds lowest = milliseconds::max(), highest = milliseconds::min();
  for (std::uint64_t seed = 0; seed < 500; ++seed) {
    reconnect_policy p{o, seed};
    const auto first = p.next_delay();
    const auto second = p.next_delay();
    INFO("seed " << seed);
    CHECK(first >= milliseconds{1000});
    CHECK(first <= milliseconds{1500});
    CHECK(second >= milliseconds{2000});
    CHECK(second <= milliseconds{3000});
    lowest = std::min(lowest, first);
    highest = std::max(highest, first);
  }
  // The spread is real: 500 draws cover most of the interval.
  CHECK(lowest < milliseconds{1100});
  CHECK(highest > milliseconds{1400});
}

TEST_CASE("jitter never pushes a delay past the cap") {
  reconnect_options o;
  o.initial = milliseconds{800};
  o.max = milliseconds{1000};
  o.jitter = 1.0;
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    reconnect_policy p{o, seed};
    for (int i = 0; i < 4; ++i) {
      const auto d = p.next_delay();
      INFO("seed " << seed << ", failure " << i);
      CHECK(d >= milliseconds{800});
      CHECK(d <= milliseconds{1000});
    }
  }
}

TEST_CASE("jitter 0 gives exact delays whatever the seed") {
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    reconnect_policy p{no_jitter(milliseconds{100}, milliseconds{1000}), seed};
    CHECK(delays(p, 3) ==
          std::vector<milliseconds>{milliseconds{100}, milliseconds{200}, milliseconds{400}});
  }
}

TEST_CASE("a success starts the backoff over") {
  reconnect_policy p{no_jitter(milliseconds{100}, milliseconds{10000})};
  CHECK(delays(p, 4).back() == milliseconds{800});
  CHECK(p.failures() == 4);
  p.succeeded();
  CHECK(p.failures() == 0);
  CHECK(p.next_delay() == milliseconds{100});
  CHECK(p.next_delay() == milliseconds{200});
}

TEST_CASE("a success keeps the server's retry") {
  reconnect_policy p{no_jitter(milliseconds{100}, milliseconds{10000})};
  p.set_retry(milliseconds{300});
  (void)delays(p, 3);
  p.succeeded();
  CHECK(p.retry() == milliseconds{300});
  CHECK(p.next_delay() == milliseconds{300});
}

TEST_CASE("Retry-After is a minimum") {
  SUBCASE("longer than the backoff: Retry-After wins, even past the cap") {
    reconnect_policy p{no_jitter(milliseconds{100}, milliseconds{1000})};
    CHECK(p.next_delay(milliseconds{60000}) == milliseconds{60000});
  }
  SUBCASE("shorter than the backoff: the backoff wins") {
    reconnect_policy p{no_jitter(milliseconds{100}, milliseconds{10000})};
    (void)delays(p, 3);
    CHECK(p.next_delay(milliseconds{1}) == milliseconds{800});
  }
  SUBCASE("shorter than the floor: the floor wins") {
    reconnect_options o;
    o.initial = milliseconds{500};
    reconnect_policy p{o, 7};
    CHECK(p.next_delay(milliseconds{10}) >= milliseconds{500});
  }
  SUBCASE("it counts as a failure") {
    reconnect_policy p{no_jitter(milliseconds{100}, milliseconds{10000})};
    (void)p.next_delay(milliseconds{1000});
    CHECK(p.failures() == 1);
    CHECK(p.next_delay() == milliseconds{200});
  }
  SUBCASE("with jitter, never below Retry-After") {
    for (std::uint64_t seed = 0; seed < 100; ++seed) {
      reconnect_policy p{reconnect_options{}, seed};
      CHECK(p.next_delay(milliseconds{1000}) >= milliseconds{3000});
      CHECK(p.next_delay(milliseconds{120000}) == milliseconds{120000});
    }
  }
}

TEST_CASE("a fixed seed gives the same delays every time") {
  reconnect_options o;
  o.initial = milliseconds{100};
  o.max = milliseconds{100000};
  o.jitter = 0.5;
  reconnect_policy a{o, 42}, b{o, 42};
  const auto first = delays(a, 10);
  CHECK(first == delays(b, 10));
  // Some other seed gives another sequence (jitter is really drawn).
  bool differs = false;
  for (std::uint64_t seed = 0; seed < 10 && !differs; ++seed) {
    reconnect_policy c{o, seed};
    differs = delays(c, 10) != first;
  }
  CHECK(differs);
}

TEST_CASE("retry: 0 reconnects at once, then backs off from min_backoff") {
  ssepp::reconnect_options o;
  o.jitter = 0;
  o.min_backoff = std::chrono::milliseconds{100};
  ssepp::reconnect_policy p{o, 1};
  p.set_retry(std::chrono::milliseconds{0});
  CHECK(p.next_delay() == std::chrono::milliseconds{0});
  CHECK(p.next_delay() == std::chrono::milliseconds{200});
  CHECK(p.next_delay() == std::chrono::milliseconds{400});
  ssepp::reconnect_policy with_defaults{ssepp::reconnect_options{}, 1};
  with_defaults.set_retry(std::chrono::milliseconds{0});
  CHECK(with_defaults.next_delay() == std::chrono::milliseconds{0});
  CHECK(with_defaults.next_delay() > std::chrono::milliseconds{0});
}
