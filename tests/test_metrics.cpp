// The Prometheus page of a hub: its format (families declared before their
// samples, escaping, exact decimals) and its values after known workloads
// on the in-memory transport, where the virtual clock makes every delay
// exact. promtool's own check runs in tests/integration/metrics.mjs.
#include <ssepp/metrics.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <ssepp/testing.hpp>

using namespace std::chrono_literals;
using ssepp::testing::memory_loop;
using ssepp::testing::memory_peer;
using ssepp::testing::memory_transport;
using ssepp::testing::virtual_clock;

namespace {

using hub_type = ssepp::hub<memory_transport, virtual_clock>;

struct metrics_test {
  memory_loop loop;
  virtual_clock clock;
  hub_type hub{options(), clock};

  static ssepp::hub_options options() {
    ssepp::hub_options o;
    o.epoch = "e";
    o.initial_retry = std::nullopt;
    return o;
  }
  ~metrics_test() {
    hub.close_all(std::nullopt, false);
    loop.run();
  }
  struct client {
    hub_type::subscription sub;
    memory_peer peer;
  };
  client subscribe(const std::vector<std::string>& channels, std::string_view last_id = {}) {
    auto connection = loop.connect();
    return {hub.subscribe(channels, std::move(connection.first), last_id),
            std::move(connection.second)};
  }
  void publish(std::string_view channel, std::string_view data) {
    REQUIRE_FALSE(hub.publish(channel, ssepp::event_view{data}).error);
  }
  // Sample name (labels included, as written) -> value.
  std::map<std::string, std::string> samples() const {
    std::map<std::string, std::string> out;
    std::istringstream lines(ssepp::prometheus_metrics(hub.stats()));
    for (std::string line; std::getline(lines, line);) {
      if (line.empty() || line[0] == '#') continue;
      const auto space = line.rfind(' ');
      out[line.substr(0, space)] = line.substr(space + 1);
    }
    return out;
  }
};

}  // namespace

TEST_CASE("every sample follows a HELP and a TYPE line of its family, each family once") {
  metrics_test f;
  const std::string text = ssepp::prometheus_metrics(f.hub.stats());
  std::istringstream lines(text);
  std::set<std::string> declared;
  std::map<std::string, std::string> types;
  std::string current;
  std::size_t samples = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# HELP ", 0) == 0) {
      current = line.substr(7, line.find(' ', 7) - 7);
      CHECK(declared.insert(current).second);
    } else if (line.rfind("# TYPE ", 0) == 0) {
      const auto name = line.substr(7, line.find(' ', 7) - 7);
      CHECK(name == current);
      types[name] = line.substr(line.rfind(' ') + 1);
    } else {
      ++samples;
      const auto name = line.substr(0, line.find_first_of("{ "));
      const bool own =
          name == current ||
          (types[current] == "histogram" &&
           (name == current + "_bucket" || name == current + "_sum" || name == current + "_count"));
      CHECK_MESSAGE(own, line);
      CHECK(name.rfind("ssepp_", 0) == 0);
    }
  }
  CHECK(text.back() == '\n');
  CHECK(declared.size() == 14);
  CHECK(samples == 12 + (10 + 1 + 2) + (16 + 1 + 2));
  for (const auto& family : types) {
    const std::string& name = family.first;
    const bool total = name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0;
    CHECK_MESSAGE(total == (family.second == "counter"), name);
  }
}

TEST_CASE("after a known workload the gauges and counters say what happened") {
  metrics_test f;
  auto a1 = f.subscribe({"a"});
  auto a2 = f.subscribe({"a"});
  auto b = f.subscribe({"b"});
  for (int i = 0; i < 3; ++i) f.publish("a", "x");
  f.publish("b", "y");
  f.loop.run();
  const auto s = f.samples();
  CHECK(s.at("ssepp_subscribers") == "3");
  CHECK(s.at("ssepp_channels") == "2");
  CHECK(s.at("ssepp_history_events") == "4");
  CHECK(s.at("ssepp_events_published_total") == "4");
  CHECK(s.at("ssepp_deliveries_total") == "7");
  const std::size_t bytes = 2 * (3 * std::string_view("id: e-1\ndata: x\n\n").size()) +
                            std::string_view("id: e-4\ndata: y\n\n").size();
  CHECK(s.at("ssepp_written_bytes_total") == std::to_string(bytes));
  CHECK(s.at("ssepp_writes_total") == std::to_string(f.hub.stats().writes));
  CHECK(s.at("ssepp_heartbeats_total") == "0");
  CHECK(s.at("ssepp_events_per_write_sum") == "7");
  CHECK(s.at("ssepp_events_per_write_count") == s.at("ssepp_writes_total"));
  CHECK(s.at("ssepp_delivery_delay_seconds_count") == "7");

  b.sub.reset();
  f.loop.run();
  CHECK(f.samples().at("ssepp_subscribers") == "2");
}

TEST_CASE("the delay histogram puts each live event in the bucket of its publish-to-write time") {
  metrics_test f;
  auto a = f.subscribe({"a"});
  a.peer.stall();
  f.publish("a", "1");  // its write starts at once, and completes 3 ms later
  f.clock.advance(3ms);
  a.peer.stall(false);
  f.loop.run();
  auto s = f.samples();
  CHECK(s.at("ssepp_delivery_delay_seconds_bucket{le=\"0.001\"}") == "0");
  CHECK(s.at("ssepp_delivery_delay_seconds_bucket{le=\"0.0025\"}") == "0");
  CHECK(s.at("ssepp_delivery_delay_seconds_bucket{le=\"0.005\"}") == "1");
  CHECK(s.at("ssepp_delivery_delay_seconds_bucket{le=\"+Inf\"}") == "1");
  CHECK(s.at("ssepp_delivery_delay_seconds_sum") == "0.003");

  SUBCASE("a value on a bound falls in that bound's bucket; beyond the last, in +Inf only") {
    f.publish("a", "2");
    f.loop.run();  // no time passes: 0 s
    a.peer.stall();
    f.publish("a", "3");
    f.clock.advance(10s);
    a.peer.stall(false);
    f.loop.run();
    a.peer.stall();
    f.publish("a", "4");
    f.clock.advance(11s);
    a.peer.stall(false);
    f.loop.run();
    s = f.samples();
    CHECK(s.at("ssepp_delivery_delay_seconds_bucket{le=\"0.0001\"}") == "1");
    CHECK(s.at("ssepp_delivery_delay_seconds_bucket{le=\"5\"}") == "2");
    CHECK(s.at("ssepp_delivery_delay_seconds_bucket{le=\"10\"}") == "3");
    CHECK(s.at("ssepp_delivery_delay_seconds_bucket{le=\"+Inf\"}") == "4");
    CHECK(s.at("ssepp_delivery_delay_seconds_sum") == "21.003");
  }
  SUBCASE("a replay from history is a delivery but not a delay") {
    f.clock.advance(1s);
    auto late = f.subscribe({"a"}, "e-0");
    f.loop.run();
    s = f.samples();
    CHECK(s.at("ssepp_deliveries_total") == "2");
    CHECK(s.at("ssepp_delivery_delay_seconds_count") == "1");
    CHECK(s.at("ssepp_delivery_delay_seconds_sum") == "0.003");
  }
}

TEST_CASE("events per write: a queue that built up behind a slow write goes out in one") {
  metrics_test f;
  auto a = f.subscribe({"a"});
  a.peer.stall();
  for (int i = 0; i < 6; ++i) f.publish("a", "x");  // one in flight, five queued
  a.peer.stall(false);
  f.loop.run();
  const auto s = f.samples();
  CHECK(s.at("ssepp_events_per_write_bucket{le=\"1\"}") == "1");
  CHECK(s.at("ssepp_events_per_write_bucket{le=\"4\"}") == "1");
  CHECK(s.at("ssepp_events_per_write_bucket{le=\"8\"}") == "2");
  CHECK(s.at("ssepp_events_per_write_bucket{le=\"+Inf\"}") == "2");
  CHECK(s.at("ssepp_events_per_write_sum") == "6");
  CHECK(s.at("ssepp_events_per_write_count") == "2");
}

TEST_CASE("the writer escapes help texts and label values as the text format asks") {
  std::string out;
  ssepp::prometheus_writer w(out);
  w.family("x_total", "counter", "a \\ and a\nnew line");
  w.sample("x_total", {{"path", "a\"b\\c\nd"}, {"code", "200"}}, 5);
  CHECK(out ==
        "# HELP x_total a \\\\ and a\\nnew line\n# TYPE x_total counter\n"
        "x_total{path=\"a\\\"b\\\\c\\nd\",code=\"200\"} 5\n");
}

TEST_CASE("decimals are exact, with no exponent and no trailing zeros") {
  using w = ssepp::prometheus_writer;
  CHECK(w::decimal(100, 6) == "0.0001");
  CHECK(w::decimal(250, 6) == "0.00025");
  CHECK(w::decimal(1000000, 6) == "1");
  CHECK(w::decimal(2500000, 6) == "2.5");
  CHECK(w::decimal(0, 9) == "0");
  CHECK(w::decimal(21003000000, 9) == "21.003");
  CHECK(w::decimal(1, 9) == "0.000000001");
}
