// Holds 19,000 concurrent event streams in one server process: every one
// receives a published event, then all leave cleanly. The server runs here;
// the clients run in a child process (hold_connections), because one
// process may hold at most 20,000 descriptors on these machines.
//
// SSEPP_LOAD_CONNECTIONS overrides the number of streams (for a quick run).
#include <ssepp/asio/server.hpp>

#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#ifndef SSEPP_HOLD_CONNECTIONS
#error "SSEPP_HOLD_CONNECTIONS must name the hold_connections program"
#endif

extern char** environ;

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

template <class Condition>
bool eventually(Condition done, std::chrono::milliseconds limit) {
  const auto deadline = steady::now() + limit;
  while (!done()) {
    if (steady::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);  // the poll interval
  }
  return true;
}

// This process's resident memory in KiB (VmRSS in /proc/self/status).
long resident_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return -1;
}

// A child process with its stdin and stdout on pipes, read line by line.
class child_process {
 public:
  explicit child_process(const std::vector<std::string>& args) {
    int to_child[2], from_child[2];
    REQUIRE(::pipe2(to_child, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(from_child, O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, to_child[0], 0);
    posix_spawn_file_actions_adddup2(&actions, from_child[1], 1);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int spawned = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(to_child[0]);
    ::close(from_child[1]);
    input_ = to_child[1];
    output_ = from_child[0];
    REQUIRE_MESSAGE(spawned == 0, "cannot run ", args[0]);
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(input_);
    ::close(output_);
  }

  // The next line the child prints, without its '\n'; nullopt if none comes
  // within `limit`.
  std::optional<std::string> read_line(std::chrono::milliseconds limit) {
    const auto deadline = steady::now() + limit;
    for (;;) {
      const std::size_t eol = buffer_.find('\n');
      if (eol != std::string::npos) {
        std::string line = buffer_.substr(0, eol);
        buffer_.erase(0, eol + 1);
        return line;
      }
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{output_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[256];
      const ssize_t n = ::read(output_, chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  bool write_line(const std::string& line) {
    const std::string bytes = line + "\n";
    return ::write(input_, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  }

  // Waits for the child to exit; its exit status, or -1.
  int wait() {
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) return -1;
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
  int input_ = -1;
  int output_ = -1;
  std::string buffer_;
};

// "word N M ..." -> the numbers after `word`, or nothing if the word differs.
std::vector<std::size_t> numbers_after(const std::optional<std::string>& line,
                                       const std::string& word) {
  std::vector<std::size_t> out;
  if (!line) return out;
  std::istringstream in(*line);
  std::string first;
  in >> first;
  if (first != word) return out;
  std::size_t n = 0;
  while (in >> n) out.push_back(n);
  return out;
}

}  // namespace

TEST_CASE("19,000 concurrent event streams all receive a published event, then all leave cleanly") {
  std::size_t count = 19000;
  if (const char* n = std::getenv("SSEPP_LOAD_CONNECTIONS")) count = std::strtoul(n, nullptr, 10);

  // Each stream is a descriptor here too: raise the soft limit to the hard.
  rlimit limit{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &limit) == 0);
  limit.rlim_cur = limit.rlim_max;
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &limit) == 0);
  std::cout << "descriptor limit (ulimit -n): " << limit.rlim_cur << "\n";
  REQUIRE_MESSAGE(limit.rlim_cur >= count + 100, "the descriptor limit ", limit.rlim_cur,
                  " is too low for ", count, " streams");

  std::mutex log_mutex;
  std::vector<std::string> warnings;
  ssepp::asio::server_options options;
  options.port = 0;
  options.max_connections = count + 50;
  options.log = [&](ssepp::asio::log_level level, std::string_view text) {
    if (level < ssepp::asio::log_level::warning) return;
    std::lock_guard<std::mutex> lock(log_mutex);
    warnings.emplace_back(text);
  };
  ssepp::asio::server server(options);
  server.start();
  const long rss_idle = resident_kib();
  const auto start = steady::now();

  child_process clients({SSEPP_HOLD_CONNECTIONS, "--port", std::to_string(server.port()), "--count",
                         std::to_string(count), "--path", "/events/load", "--expect", "to everyone",
                         "--timeout-ms", "40000"});
  const auto ready = numbers_after(clients.read_line(60s), "ready");
  REQUIRE(ready.size() == 2);
  CHECK(ready[0] == count);
  CHECK(ready[1] == 0);
  REQUIRE(eventually([&] { return server.hub().stats().subscribers == ready[0]; }, 20s));
  CHECK(server.connections() == ready[0]);
  const auto connected_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - start).count();
  const long rss_holding = resident_kib();
  std::cout << ready[0] << " event streams open after " << connected_ms << " ms\n"
            << "server VmRSS: " << rss_idle / 1024 << " MiB idle, " << rss_holding / 1024
            << " MiB holding " << ready[0] << " streams ("
            << (rss_holding - rss_idle) * 1024 /
                   static_cast<long>(std::max<std::size_t>(ready[0], 1))
            << " bytes per stream)\n";

  const auto published_at = steady::now();
  REQUIRE_FALSE(server.hub().publish("load", ssepp::event_view{"to everyone"}).error);
  const auto received = numbers_after(clients.read_line(60s), "received");
  REQUIRE(received.size() == 1);
  CHECK(received[0] == count);
  std::cout
      << received[0] << " streams received the event within "
      << std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - published_at).count()
      << " ms\n";
  // Counted when each write completes, which may trail the client's read.
  CHECK(eventually([&] { return server.hub().stats().deliveries == count; }, 10s));

  REQUIRE(clients.write_line("close"));
  const auto closed = numbers_after(clients.read_line(60s), "closed");
  REQUIRE(closed.size() == 1);
  CHECK(closed[0] == count);
  CHECK(clients.wait() == 0);
  CHECK(eventually(
      [&] { return server.hub().stats().subscribers == 0 && server.connections() == 0; }, 30s));
  std::cout << "all streams closed; server VmRSS now " << resident_kib() / 1024 << " MiB\n";

  server.stop();
  server.wait();
  std::lock_guard<std::mutex> lock(log_mutex);
  std::string logged;
  for (const auto& w : warnings) logged += w + "\n";
  CHECK_MESSAGE(warnings.empty(), "warnings logged:\n", logged);
}
