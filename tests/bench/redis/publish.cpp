// Publish throughput through the Redis backplane: one node's backplane
// publishes --events events of --payload bytes to one channel, --batch per
// script, with --in-flight scripts outstanding (pipelined on the one
// connection, as a server with many publishing clients does), and reports
// events/s, scripts/s, and the CPU that Redis (--redis-pid) and this
// process spent per event. One JSON line on stdout. Never run as a test.
#include <ssepp/redis/backplane.hpp>

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <ssepp/testing.hpp>

namespace {

using hub_type = ssepp::hub<ssepp::testing::memory_transport>;
using backplane_type = ssepp::redis::backplane<hub_type>;

// utime + stime of a process, in seconds (/proc/PID/stat fields 14, 15).
double process_cpu_s(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i)
    if (i == 14 || i == 15) ticks += std::stod(field);
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double self_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 6379, redis_pid = 0;
  std::size_t events = 100000, batch = 1, in_flight = 64, payload = 100;
  std::string label = "publish";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const auto v = std::strtoull(argv[i + 1], nullptr, 10);
    if (a == "--port")
      port = static_cast<int>(v);
    else if (a == "--redis-pid")
      redis_pid = static_cast<int>(v);
    else if (a == "--events")
      events = v;
    else if (a == "--batch")
      batch = v ? v : 1;
    else if (a == "--in-flight")
      in_flight = v ? v : 1;
    else if (a == "--payload")
      payload = v;
    else if (a == "--label")
      label = argv[i + 1];
    else {
      std::fprintf(stderr,
                   "usage: ssepp-bench-redis-publish --port N [--redis-pid P] [--events N] "
                   "[--batch B] [--in-flight K] [--payload BYTES] [--label L]\n");
      return 2;
    }
  }
  hub_type hub;
  ssepp::asio::net::io_context io(1);
  ssepp::redis::backplane_options o;
  o.redis.port = static_cast<std::uint16_t>(port);
  o.prefix = "bench:";
  backplane_type backplane(io, hub, o);
  backplane.start();
  std::thread thread([&io] {
    auto work = ssepp::asio::net::make_work_guard(io);
    io.run();
  });
  for (int i = 0; i < 500 && !backplane.stats().connected; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (!backplane.stats().connected) {
    std::fprintf(stderr, "publish: no Redis on port %d\n", port);
    std::_Exit(1);
  }

  const std::string data(payload, 'x');
  std::atomic<std::size_t> done{0}, failed{0};
  std::atomic<std::size_t> sent{0};
  std::promise<void> finished;
  const std::size_t scripts = (events + batch - 1) / batch;
  std::function<void()> send_one;
  send_one = [&] {
    const std::size_t k = sent.fetch_add(1);
    if (k >= scripts) return;
    const std::size_t n = std::min(batch, events - k * batch);
    std::vector<ssepp::event> list(n, ssepp::event{data, "tick", ""});
    backplane.publish("bench", std::move(list), [&, n](ssepp::batch_publish_result r) {
      if (r.error) failed.fetch_add(1);
      if (done.fetch_add(n) + n >= events) finished.set_value();
      send_one();
    });
  };
  const double redis_before = redis_pid ? process_cpu_s(redis_pid) : 0;
  const double self_before = self_cpu_s();
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < in_flight; ++i) send_one();
  finished.get_future().wait();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double redis_cpu = redis_pid ? process_cpu_s(redis_pid) - redis_before : 0;
  const double self_cpu = self_cpu_s() - self_before;
  const auto stats = backplane.stats();
  std::printf(
      "{\"tool\":\"redis-publish\",\"label\":\"%s\",\"events\":%zu,\"batch\":%zu,\"in_flight\":%zu,"
      "\"payload\":%zu,\"failed_scripts\":%zu,\"seconds\":%.3f,\"events_per_s\":%.0f,"
      "\"scripts_per_s\":%.0f,\"redis_cpu_us_per_event\":%.3f,\"node_cpu_us_per_event\":%.3f,"
      "\"round_trips_per_event\":%.4f}\n",
      label.c_str(), events, batch, in_flight, payload, failed.load(), seconds,
      static_cast<double>(events) / seconds, static_cast<double>(scripts) / seconds,
      redis_cpu * 1e6 / static_cast<double>(events), self_cpu * 1e6 / static_cast<double>(events),
      static_cast<double>(stats.publish_calls) / static_cast<double>(stats.published));
  std::fflush(stdout);
  backplane.stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  io.stop();
  thread.join();
  return failed.load() == 0 ? 0 : 1;
}
