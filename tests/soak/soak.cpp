// soak: the real hub_server example under load and faults for a long time,
// checked event by event (the soak test of the issue; README.md here says
// why it is built this way).
//
// It starts hub_server on a free port, subscribes --clients event streams to
// --channels channels and a bulk one (large events) and publishes from
// --publishers threads and one more over HTTP (POST /publish/{channel}),
// for --seconds. Most clients read as fast as
// they can and drop their connection at random, resuming by Last-Event-ID
// header or ?lastEventId= query; some read slowly (and are cut off as slow
// consumers, then resume); some never read (and must be cut off). It checks:
//
//   - every reading client's events are exactly its channel's sequence
//     (the ids the POSTs were answered with) from its first event on: no
//     gap, no duplicate, order kept, across every reconnect, except a jump
//     forward right after an `ssepp-gap` event (history evicted);
//   - every event's data is what was published under its id;
//   - every stream that keeps reading has received its channel's last event
//     once publishing stops;
//   - never-reading clients are cut off by the server, fast readers never
//     (--max-fast-cuts);
//   - the server's stderr holds no line but the slow-consumer warning;
//   - the server's resident memory (VmRSS, sampled every 100 ms) stays under
//     the bound its options imply plus --rss-slack-mib;
//   - SIGTERM stops the server, with exit status 0.
//
// Usage: soak --hub-server PATH [--seconds N] [OPTION]... (--help lists
// them). Prints progress every 10 s and a summary line; exit status 0 when
// every check passed, 1 when one failed, 2 for a bad command line.
#include <asio.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <ssepp/format.hpp>
#include <ssepp/parser.hpp>

namespace {

using clock_type = std::chrono::steady_clock;
using std::chrono::milliseconds;
using tcp = asio::ip::tcp;

constexpr const char* usage_text = R"(Usage: soak --hub-server PATH [OPTION]...
Runs hub_server under load and faults and checks every event (see README.md).

  --hub-server PATH       the hub_server executable (required)
  --seconds N             how long to publish (default 60)
  --clients N             event streams (default 1000)
  --channels N            channels they are spread over (default 8)
  --publishers N          publishing threads (default 4)
  --rate N                events per second, all publishers together
                          (default 2000)
  --bulk-rate N           events per second to the bulk channel, from one
                          more publisher (default 60)
  --bulk-bytes N          the bulk channel's events carry up to this many
                          bytes of data (default 8192)
  --bulk-readers N        fast readers on the bulk channel (default 10)
  --slow-percent N        clients that read slowly, half of them on the
                          bulk channel (default 10)
  --silent-percent N      clients that never read, all on the bulk channel
                          (default 10)
  --mean-connection-ms N  mean life of a fast reader's connection before it
                          drops it (default 4000)
  --history N             hub_server --history (default 512)
  --history-total-bytes N hub_server --history-total-bytes (default 2097152:
                          below what the channels' own bounds allow, so the
                          hub-wide bound evicts too)
  --queue-events N        hub_server --queue-events (default 256)
  --queue-bytes N         hub_server --queue-bytes (default 65536)
  --heartbeat-ms N        hub_server --heartbeat-ms (default 1000)
  --send-buffer-bytes N   hub_server --send-buffer-bytes (default 262144, the
                          server's own default)
  --server-threads N      hub_server --threads (default 2)
  --reader-threads N      threads reading the streams (default 2)
  --rss-slack-mib N       allowed above the computed memory bound (default 64)
  --max-fast-cuts N       fail when more fast readers than this are cut off
                          as slow consumers on the regular channels (on the
                          bulk one they are only reported); -1: only report
                          (default 0)
  --seed N                seeds every random choice (default: random)
  -h, --help              print this help and exit
)";

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct config {
  std::string hub_server;
  std::uint32_t seconds = 60;
  std::size_t clients = 1000;
  std::size_t channels = 8;
  std::size_t publishers = 4;
  std::uint32_t rate = 2000;
  std::uint32_t bulk_rate = 60;
  std::size_t bulk_bytes = 8192;
  std::size_t bulk_readers = 10;
  std::uint32_t slow_percent = 10;
  std::uint32_t silent_percent = 10;
  std::uint32_t mean_connection_ms = 4000;
  std::size_t history = 512;
  std::size_t queue_events = 256;
  std::size_t queue_bytes = 64 * 1024;
  std::size_t history_total_bytes = 2 << 20;
  std::uint32_t heartbeat_ms = 1000;
  std::uint32_t server_threads = 2;
  std::size_t reader_threads = 2;
  std::size_t rss_slack_mib = 64;
  long long max_fast_cuts = 0;
  std::uint64_t seed = 0;
  std::size_t send_buffer_bytes = 262144;
  // Not an option: what the kernel may buffer unsent on a stream, worked
  // out at the start from send_buffer_bytes (see kernel_send_bytes()).
  std::uint64_t kernel_send_bytes = 0;
};

template <class T>
T parse_number(std::string_view name, std::string_view text, T least) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < least)
    throw usage_error(std::string(name) + " needs a number of at least " + std::to_string(least) +
                      ", got '" + std::string(text) + "'");
  return value;
}

std::optional<config> parse_command_line(int argc, char** argv) {
  config c;
  c.seed = std::random_device{}();
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") return std::nullopt;
    std::string_view value;
    if (const auto equals = arg.find('='); equals != std::string_view::npos) {
      value = arg.substr(equals + 1);
      arg = arg.substr(0, equals);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      throw usage_error("option '" + std::string(arg) + "' needs a value");
    }
    if (arg == "--hub-server") {
      c.hub_server = value;
    } else if (arg == "--seconds") {
      c.seconds = parse_number<std::uint32_t>(arg, value, 1);
    } else if (arg == "--clients") {
      c.clients = parse_number<std::size_t>(arg, value, 1);
    } else if (arg == "--channels") {
      c.channels = parse_number<std::size_t>(arg, value, 1);
    } else if (arg == "--publishers") {
      c.publishers = parse_number<std::size_t>(arg, value, 1);
    } else if (arg == "--rate") {
      c.rate = parse_number<std::uint32_t>(arg, value, 1);
    } else if (arg == "--bulk-rate") {
      c.bulk_rate = parse_number<std::uint32_t>(arg, value, 1);
    } else if (arg == "--bulk-bytes") {
      c.bulk_bytes = parse_number<std::size_t>(arg, value, 0);
    } else if (arg == "--bulk-readers") {
      c.bulk_readers = parse_number<std::size_t>(arg, value, 0);
    } else if (arg == "--slow-percent") {
      c.slow_percent = parse_number<std::uint32_t>(arg, value, 0);
    } else if (arg == "--silent-percent") {
      c.silent_percent = parse_number<std::uint32_t>(arg, value, 0);
    } else if (arg == "--mean-connection-ms") {
      c.mean_connection_ms = parse_number<std::uint32_t>(arg, value, 1);
    } else if (arg == "--history") {
      c.history = parse_number<std::size_t>(arg, value, 1);
    } else if (arg == "--history-total-bytes") {
      c.history_total_bytes = parse_number<std::size_t>(arg, value, 1);
    } else if (arg == "--queue-events") {
      c.queue_events = parse_number<std::size_t>(arg, value, 1);
    } else if (arg == "--queue-bytes") {
      c.queue_bytes = parse_number<std::size_t>(arg, value, 1);
    } else if (arg == "--heartbeat-ms") {
      c.heartbeat_ms = parse_number<std::uint32_t>(arg, value, 0);
    } else if (arg == "--send-buffer-bytes") {
      c.send_buffer_bytes = parse_number<std::size_t>(arg, value, 0);
    } else if (arg == "--server-threads") {
      c.server_threads = parse_number<std::uint32_t>(arg, value, 1);
    } else if (arg == "--reader-threads") {
      c.reader_threads = parse_number<std::size_t>(arg, value, 1);
    } else if (arg == "--rss-slack-mib") {
      c.rss_slack_mib = parse_number<std::size_t>(arg, value, 0);
    } else if (arg == "--max-fast-cuts") {
      c.max_fast_cuts = parse_number<long long>(arg, value, -1);
    } else if (arg == "--seed") {
      c.seed = parse_number<std::uint64_t>(arg, value, 0);
    } else {
      throw usage_error("unknown option '" + std::string(arg) + "'");
    }
  }
  if (c.hub_server.empty()) throw usage_error("--hub-server PATH is required");
  if (c.slow_percent + c.silent_percent > 100)
    throw usage_error("--slow-percent and --silent-percent add up to more than 100");
  return c;
}

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

std::uint64_t mix(std::uint64_t x) {
  // splitmix64's finalizer: cheap, and every input bit reaches every output bit.
  x += 0x9e3779b97f4a7c15u;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
  return x ^ (x >> 31);
}

// The data of publisher `p`'s n-th event on `channel`: it names all three,
// so a reader can tell where an event came from, and its length (between
// half of `most` and `most` bytes of padding) and an occasional line break
// inside (two `data:` lines) vary with them, so
// the parser and the hub's formatter see events of many shapes split at
// every place across reads.
std::string payload(std::size_t channel, std::size_t p, std::uint64_t n, std::size_t most) {
  std::string s =
      "c" + std::to_string(channel) + " p" + std::to_string(p) + " n" + std::to_string(n) + " ";
  const std::size_t prefix = s.size();
  const std::uint64_t h = mix((std::uint64_t{p} << 48) ^ n);
  const std::size_t pad = most / 2 + static_cast<std::size_t>(h % (most - most / 2 + 1));
  for (std::size_t i = 0; i < pad; ++i) s.push_back(static_cast<char>('a' + (n + i) % 26));
  if ((h >> 32) % 8 == 0) s.insert(prefix + pad / 2, 1, '\n');
  return s;
}

// Reads back what payload() wrote: the publisher and number, if `data` is
// exactly payload(channel, p, n, most) for some p and n.
std::optional<std::pair<std::size_t, std::uint64_t>> parse_payload(std::string_view data,
                                                                   std::size_t channel,
                                                                   std::size_t most) {
  const std::string head = "c" + std::to_string(channel) + " p";
  if (data.substr(0, head.size()) != head) return std::nullopt;
  const char* first = data.data() + head.size();
  const char* last = data.data() + data.size();
  std::size_t p = 0;
  std::uint64_t n = 0;
  auto r = std::from_chars(first, last, p);
  if (r.ec != std::errc{} || last - r.ptr < 2 || r.ptr[0] != ' ' || r.ptr[1] != 'n')
    return std::nullopt;
  r = std::from_chars(r.ptr + 2, last, n);
  if (r.ec != std::errc{} || payload(channel, p, n, most) != data) return std::nullopt;
  return std::pair{p, n};
}

std::string channel_name(std::size_t channel) { return "soak-" + std::to_string(channel); }

// The channels are 0 .. --channels - 1, and one more, the bulk channel,
// whose events are large: the never-reading clients are there, and it takes
// megabytes to fill what the kernel buffers for them (README.md).
std::size_t bulk_channel(const config& cfg) { return cfg.channels; }
std::size_t padding_limit(const config& cfg, std::size_t channel) {
  return channel == bulk_channel(cfg) ? cfg.bulk_bytes : 96;
}

// ---------------------------------------------------------------------------
// What failed: kept for the summary (the first few in full), counted all.

class failure_log {
 public:
  void add(std::string what) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (++count_ <= 20) {
      std::fprintf(stderr, "soak: FAILED: %s\n", what.c_str());
      first_.push_back(std::move(what));
    }
  }
  std::size_t count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return count_;
  }

 private:
  mutable std::mutex mutex_;
  std::size_t count_ = 0;
  std::vector<std::string> first_;
};

// ---------------------------------------------------------------------------
// The ground truth: what the hub answered each POST with.
//
// The hub numbers events "<epoch>-<n>", n counting up across all channels in
// publish order, and a channel's stream carries its events in that order.
// Publishers run concurrently and their answers come back in any order, so
// the truth is kept by n: an event is known once its POST was answered, and
// n is *settled* once every event up to it is known (every n is one of our
// POSTs: nothing else publishes). Each channel's sequence is appended to as
// n settles, so it is always sorted and complete up to the settled n, and a
// reader's events are checked only up to there.

struct published_event {
  std::uint32_t channel = 0;
  std::uint32_t publisher = 0;
  std::uint64_t number = 0;
  bool known = false;
};

class ground_truth {
 public:
  explicit ground_truth(std::size_t channels)
      : sequences_(channels), bytes_(channels), largest_(channels) {}

  // Records the answer to a POST, an event the hub stores in `size` bytes;
  // false when the hub gave out `n` twice.
  bool record(std::uint64_t n, published_event e, std::size_t size) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (n == 0) return false;
    bytes_[e.channel] += size;
    largest_[e.channel] = std::max(largest_[e.channel], size);
    if (events_.size() < n) events_.resize(static_cast<std::size_t>(n));
    auto& slot = events_[static_cast<std::size_t>(n - 1)];
    if (slot.known) return false;
    slot = e;
    slot.known = true;
    while (settled_ < events_.size() && events_[static_cast<std::size_t>(settled_)].known) {
      ++settled_;
      sequences_[events_[static_cast<std::size_t>(settled_ - 1)].channel].push_back(settled_);
    }
    return true;
  }

  std::unique_lock<std::mutex> lock() const { return std::unique_lock<std::mutex>(mutex_); }

  // With lock() held:
  std::uint64_t settled() const { return settled_; }
  std::uint64_t highest() const { return events_.size(); }
  const published_event& at(std::uint64_t n) const {
    return events_[static_cast<std::size_t>(n - 1)];
  }
  const std::vector<std::uint64_t>& sequence(std::size_t channel) const {
    return sequences_[channel];
  }

  // Bytes (as the hub formats them) published to `channel` so far, and the
  // largest event.
  std::uint64_t bytes(std::size_t channel) const {
    std::lock_guard<std::mutex> held(mutex_);
    return bytes_[channel];
  }
  std::size_t largest(std::size_t channel) const {
    std::lock_guard<std::mutex> held(mutex_);
    return largest_[channel];
  }

  // Set once, before any reader or publisher thread starts.
  std::string epoch;

 private:
  mutable std::mutex mutex_;
  std::vector<published_event> events_;  // [n - 1]
  std::uint64_t settled_ = 0;
  std::vector<std::vector<std::uint64_t>> sequences_;
  std::vector<std::uint64_t> bytes_;
  std::vector<std::size_t> largest_;
};

// The n of an id "<epoch>-<n>" of this run, or nullopt.
std::optional<std::uint64_t> parse_id(std::string_view id, std::string_view epoch) {
  if (id.size() <= epoch.size() + 1 || id.substr(0, epoch.size()) != epoch ||
      id[epoch.size()] != '-')
    return std::nullopt;
  std::uint64_t n = 0;
  const char* last = id.data() + id.size();
  const auto r = std::from_chars(id.data() + epoch.size() + 1, last, n);
  if (r.ec != std::errc{} || r.ptr != last || n == 0) return std::nullopt;
  return n;
}

// ---------------------------------------------------------------------------
// The server process: spawned with its stdout and stderr on pipes; a thread
// collects their lines, another samples its VmRSS.

class server_process {
 public:
  server_process(const std::string& path, const std::vector<std::string>& args) {
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
      throw std::system_error(errno, std::generic_category(), "pipe2");
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(path.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    // fork, not posix_spawn: the child asks to be killed when we die (a
    // ctest timeout, a crash), so no hub_server outlives its soak. Called
    // before any other thread exists.
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      dup2(out[1], 1);
      dup2(err[1], 2);
      execv(path.c_str(), argv.data());
      _exit(127);  // the parent sees the pipe close before the listening line
    }
    const int fork_error = errno;
    close(out[1]);
    close(err[1]);
    if (pid_ < 0)
      throw std::system_error(fork_error, std::generic_category(), "cannot start " + path);
    out_ = out[0];
    err_ = err[0];
    started_ = clock_type::now();
    try {
      port_ = read_port();
    } catch (...) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      close(out_);
      close(err_);
      throw;
    }
    rss_start_kib_ = read_rss_kib().value_or(0);
    collector_ = std::thread([this] { collect_output(); });
    sampler_ = std::thread([this] { sample_rss(); });
  }
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;
  ~server_process() {
    if (!exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      exited_ = true;
    }
    join();
  }

  std::uint16_t port() const { return port_; }
  std::size_t rss_start_kib() const { return rss_start_kib_; }

  // SIGTERM, then waits up to `patience`; an empty string when it exited
  // with status 0, else what happened.
  std::string terminate(milliseconds patience) {
    kill(pid_, SIGTERM);
    const auto deadline = clock_type::now() + patience;
    int status = 0;
    for (;;) {
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) break;
      if (clock_type::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        exited_ = true;
        join();
        return "hub_server did not exit within " + std::to_string(patience.count()) +
               " ms of SIGTERM (killed)";
      }
      std::this_thread::sleep_for(milliseconds{10});
    }
    exited_ = true;
    join();
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
    if (WIFEXITED(status))
      return "hub_server exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
      return "hub_server was killed by signal " + std::to_string(WTERMSIG(status));
    return "hub_server ended oddly (wait status " + std::to_string(status) + ")";
  }

  struct rss_report {
    std::size_t last_kib = 0;
    std::size_t peak_kib = 0;
    double peak_at = 0;
    std::size_t samples = 0;
    std::vector<std::size_t> quarters;  // the largest sample of each quarter of the run
  };
  rss_report rss() const {
    std::lock_guard<std::mutex> lock(mutex_);
    rss_report r;
    r.samples = rss_.size();
    if (!rss_.empty()) r.last_kib = rss_.back().second;
    r.quarters.assign(4, 0);
    for (std::size_t i = 0; i < rss_.size(); ++i) {
      if (rss_[i].second > r.peak_kib) {
        r.peak_kib = rss_[i].second;
        r.peak_at = rss_[i].first;
      }
      auto& q = r.quarters[std::min<std::size_t>(3, i * 4 / rss_.size())];
      q = std::max(q, rss_[i].second);
    }
    return r;
  }
  std::vector<std::string> stderr_lines() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return err_lines_;
  }
  std::vector<std::string> stdout_lines() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return out_lines_;
  }

 private:
  std::uint16_t read_port() {
    // The first line: "hub_server: listening on http://127.0.0.1:PORT/".
    std::string line;
    const auto deadline = clock_type::now() + std::chrono::seconds{10};
    while (line.find('\n') == std::string::npos) {
      pollfd p{out_, POLLIN, 0};
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - clock_type::now());
      if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0)
        throw std::runtime_error("hub_server printed no listening line within 10 s");
      char buf[256];
      const ssize_t n = read(out_, buf, sizeof buf);
      if (n <= 0) throw std::runtime_error("hub_server exited before listening");
      line.append(buf, static_cast<std::size_t>(n));
    }
    const std::string rest = line.substr(line.find('\n') + 1);
    line.resize(line.find('\n'));
    if (!rest.empty()) out_lines_.push_back(rest);
    const std::string marker = "listening on http://127.0.0.1:";
    const auto at = line.find(marker);
    unsigned port = 0;
    if (at != std::string::npos) {
      const char* first = line.data() + at + marker.size();
      std::from_chars(first, line.data() + line.size(), port);
    }
    if (port == 0 || port > 65535)
      throw std::runtime_error("unexpected first line from hub_server: '" + line + "'");
    return static_cast<std::uint16_t>(port);
  }

  void collect_output() {
    std::string partial[2];
    pollfd fds[2] = {{out_, POLLIN, 0}, {err_, POLLIN, 0}};
    int open_pipes = 2;
    while (open_pipes > 0) {
      if (poll(fds, 2, -1) < 0 && errno != EINTR) break;
      for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || fds[i].revents == 0) continue;
        char buf[4096];
        const ssize_t n = read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          close(fds[i].fd);
          fds[i].fd = -1;
          --open_pipes;
          if (!partial[i].empty()) partial[i].push_back('\n');
        } else {
          partial[i].append(buf, static_cast<std::size_t>(n));
        }
        std::size_t end;
        while ((end = partial[i].find('\n')) != std::string::npos) {
          std::lock_guard<std::mutex> lock(mutex_);
          (i == 0 ? out_lines_ : err_lines_).push_back(partial[i].substr(0, end));
          partial[i].erase(0, end + 1);
        }
      }
    }
  }

  std::optional<std::size_t> read_rss_kib() const {
    std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.compare(0, 6, "VmRSS:") != 0) continue;
      std::size_t kib = 0;
      const auto digits = line.find_first_of("0123456789");
      if (digits == std::string::npos) return std::nullopt;
      std::from_chars(line.data() + digits, line.data() + line.size(), kib);
      return kib;
    }
    return std::nullopt;  // gone, or a zombie
  }

  void sample_rss() {
    while (!stop_sampling_) {
      if (const auto kib = read_rss_kib()) {
        std::lock_guard<std::mutex> lock(mutex_);
        rss_.emplace_back(seconds_since(started_), *kib);
      }
      std::this_thread::sleep_for(milliseconds{100});
    }
  }

  void join() {
    stop_sampling_ = true;
    if (sampler_.joinable()) sampler_.join();
    if (collector_.joinable()) collector_.join();
  }

  pid_t pid_ = -1;
  int out_ = -1, err_ = -1;
  bool exited_ = false;
  std::uint16_t port_ = 0;
  std::size_t rss_start_kib_ = 0;
  clock_type::time_point started_;
  std::atomic<bool> stop_sampling_{false};
  mutable std::mutex mutex_;                         // guards the three below
  std::vector<std::pair<double, std::size_t>> rss_;  // (seconds since start, KiB)
  std::vector<std::string> out_lines_, err_lines_;
  std::thread collector_, sampler_;
};

// ---------------------------------------------------------------------------
// Publishers: each thread POSTs to random channels at its share of --rate
// (and one more to the bulk channel at --bulk-rate), one request per
// connection (the request asks for Connection: close).

struct publish_counters {
  std::atomic<std::uint64_t> published{0};
  std::atomic<std::uint64_t> slow_answers{0};  // took over 100 ms
  std::atomic<std::uint64_t> max_latency_us{0};
};

// POSTs `body` to `channel`; the id answered, or nullopt after logging why.
std::optional<std::string> post(asio::io_context& io, const tcp::endpoint& server,
                                std::size_t channel, const std::string& body,
                                failure_log& failures) {
  tcp::socket socket(io);
  std::error_code ec;
  socket.connect(server, ec);
  const std::string request = "POST /publish/" + channel_name(channel) +
                              " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(server.port()) +
                              "\r\nContent-Length: " + std::to_string(body.size()) +
                              "\r\nConnection: close\r\n\r\n" + body;
  if (!ec) asio::write(socket, asio::buffer(request), ec);
  std::string answer;
  if (!ec) {
    asio::read(socket, asio::dynamic_buffer(answer), ec);
    if (ec == asio::error::eof) ec = {};
  }
  if (ec) {
    failures.add("POST to " + channel_name(channel) + " failed: " + ec.message());
    return std::nullopt;
  }
  const auto end = answer.find("\r\n\r\n");
  if (answer.compare(0, 13, "HTTP/1.1 200 ") != 0 || end == std::string::npos) {
    failures.add("POST to " + channel_name(channel) +
                 " answered: " + answer.substr(0, answer.find('\r')));
    return std::nullopt;
  }
  return answer.substr(end + 4);
}

void record_publish(ground_truth& truth, publish_counters& counters, failure_log& failures,
                    const std::string& id, std::size_t channel, std::size_t publisher,
                    std::uint64_t number, const std::string& body) {
  const auto n = parse_id(id, truth.epoch);
  if (!n) return failures.add("POST answered '" + id + "', not an id of epoch " + truth.epoch);
  const published_event e{static_cast<std::uint32_t>(channel),
                          static_cast<std::uint32_t>(publisher), number, true};
  if (!truth.record(*n, e, ssepp::formatted_size(ssepp::event_view{body, {}, id})))
    return failures.add("the hub answered id " + id + " twice");
  counters.published.fetch_add(1, std::memory_order_relaxed);
}

// What one publisher thread does: publish to a random one of `channels`
// channels from `first` on, `rate` events per second.
struct publisher_plan {
  std::size_t index;
  std::size_t first, channels;
  double rate;
};

void publish_loop(const config& cfg, publisher_plan plan, std::uint16_t port, ground_truth& truth,
                  publish_counters& counters, failure_log& failures,
                  const std::atomic<bool>& stop) {
  asio::io_context io;
  const tcp::endpoint server(asio::ip::make_address_v4("127.0.0.1"), port);
  std::mt19937_64 choose(mix(cfg.seed ^ (0x1000 + plan.index)));
  const auto interval = std::chrono::duration_cast<clock_type::duration>(
      std::chrono::duration<double>(1.0 / plan.rate));
  auto next = clock_type::now();
  for (std::uint64_t number = 1; !stop.load(); ++number) {
    next += interval;
    const auto now = clock_type::now();
    if (next > now) {
      std::this_thread::sleep_until(next);
    } else if (now - next > std::chrono::seconds{1}) {
      next = now;  // fell far behind: carry on at the rate, without a burst
    }
    const std::size_t channel = plan.first + static_cast<std::size_t>(choose() % plan.channels);
    const std::string body = payload(channel, plan.index, number, padding_limit(cfg, channel));
    const auto sent = clock_type::now();
    const auto id = post(io, server, channel, body, failures);
    const auto us = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - sent).count());
    if (us > 100000) counters.slow_answers.fetch_add(1, std::memory_order_relaxed);
    std::uint64_t seen = counters.max_latency_us.load();
    while (us > seen && !counters.max_latency_us.compare_exchange_weak(seen, us)) {
    }
    if (id) record_publish(truth, counters, failures, *id, channel, plan.index, number, body);
  }
}

// ---------------------------------------------------------------------------
// Readers. A client is one logical EventSource: it keeps its place in its
// channel's sequence across all its connections. Clients are spread over
// --reader-threads io_contexts, each run by one thread, so a client's state
// needs no lock; only the ground truth is shared (checked in batches by a
// sweep every 200 ms, holding its lock once).

enum class role { fast, slow, silent };

struct reader_counters {
  std::atomic<std::uint64_t> connections{0}, resumed_by_header{0}, resumed_by_query{0}, events{0},
      checked{0}, gap_events{0}, skipped_by_gaps{0}, needless_gaps{0}, heartbeats{0}, drops{0},
      resets{0}, early_drops{0}, split_requests{0}, fast_cuts{0}, bulk_fast_cuts{0}, slow_cuts{0},
      silent_cuts{0}, silent_uncut{0}, bytes{0};
};

class client;

struct reader_thread {
  reader_thread(const config& c, ground_truth& t, failure_log& f, std::uint16_t port)
      : cfg(c),
        truth(t),
        failures(f),
        server(asio::ip::make_address_v4("127.0.0.1"), port),
        work(asio::make_work_guard(io)),
        sweep_timer(io) {}

  void sweep();        // checks what every client received since the last sweep
  void final_check();  // at the end: every pending event checked, every stream at its end

  const config& cfg;
  ground_truth& truth;
  failure_log& failures;
  asio::io_context io;
  tcp::endpoint server;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  asio::steady_timer sweep_timer;
  std::vector<std::unique_ptr<client>> clients;
  reader_counters counters;
  bool quiet = false;     // publishing stopped: no more self-inflicted drops
  bool stopping = false;  // the server is being stopped: no more reconnects
  std::thread thread;
};

struct stream_handler {
  client* owner;
  void on_event(const ssepp::message& m);
  void on_comment(std::string_view text);
};

class client {
 public:
  client(reader_thread& home, std::size_t index, role r, std::size_t channel)
      : home_(home),
        cfg_(home.cfg),
        index_(index),
        role_(r),
        channel_(channel),
        socket_(home.io),
        timer_(home.io),
        life_timer_(home.io),
        random_(mix(home.cfg.seed ^ index)) {}

  void start(milliseconds delay) {
    after(delay, [this] { connect(); });
  }

  // Stops reconnecting and closes (the run is over).
  void finish() {
    ++generation_;
    std::error_code ignored;
    socket_.close(ignored);
    timer_.cancel();
    life_timer_.cancel();
  }

  // Checks the events received so far against the truth, up to its settled
  // id. With the truth's lock held.
  void check(const ground_truth& truth) {
    if (role_ == role::silent) return;
    const auto& sequence = truth.sequence(channel_);
    while (!pending_.empty() && pending_.front().n <= truth.settled()) {
      const received r = pending_.front();
      pending_.pop_front();
      const published_event& e = truth.at(r.n);
      if (e.channel != channel_ || e.publisher != r.publisher || e.number != r.number) {
        fail("event " + id_of(r.n) + " carries publisher " + std::to_string(r.publisher) +
             "'s event " + std::to_string(r.number) + " of channel " + std::to_string(channel_) +
             ", but the hub answered that POST with another id");
        continue;
      }
      // Where r.n is in the channel's sequence (it is there: e.channel matches).
      const std::size_t at = static_cast<std::size_t>(
          std::lower_bound(sequence.begin(), sequence.end(), r.n) - sequence.begin());
      home_.counters.checked.fetch_add(1, std::memory_order_relaxed);
      if (!placed_) {
        placed_ = true;  // the client's first event: its sequence starts here
      } else if (at == next_) {
        if (r.after_gap) home_.counters.needless_gaps.fetch_add(1, std::memory_order_relaxed);
      } else if (at > next_ && r.after_gap) {
        home_.counters.skipped_by_gaps.fetch_add(at - next_, std::memory_order_relaxed);
      } else if (at > next_) {
        fail("gap: after " + id_of(sequence[next_ - 1]) + " came " + id_of(r.n) + ", " +
             std::to_string(at - next_) + " event(s) missing (from " + id_of(sequence[next_]) +
             "), with no ssepp-gap event");
      } else {
        // Behind where the client is: its place stays, so what follows is
        // checked against it.
        fail((at + 1 == next_ ? "duplicate: " : "out of order: ") + id_of(r.n) + " came after " +
             id_of(sequence[next_ - 1]));
        continue;
      }
      next_ = at + 1;
    }
  }

  // At the end, with the truth's lock held and every POST answered.
  void final_check(const ground_truth& truth) {
    check(truth);
    if (!pending_.empty())
      fail(std::to_string(pending_.size()) + " event(s) with ids never published, the first " +
           id_of(pending_.front().n));
    // A stream that reads as fast as it can and has been open a while must
    // have its channel's last event by now (else the hub stopped sending it
    // events, which no check above can see: no event follows the missing ones).
    const auto& sequence = truth.sequence(channel_);
    const bool settled_stream = streaming_ && seconds_since(stream_since_) > 1.0;
    if (role_ == role::fast && settled_stream && placed_ && next_ < sequence.size())
      fail("stream stalled: " + std::to_string(sequence.size() - next_) +
           " event(s) not received, from " + id_of(sequence[next_]) + ", " +
           std::to_string(seconds_since(stream_since_)) + " s into its connection");
    if (role_ == role::fast && settled_stream) ++caught_up_checked;
  }

  std::size_t caught_up_checked = 0;

 private:
  friend struct stream_handler;

  struct received {
    std::uint64_t n;
    std::size_t publisher;
    std::uint64_t number;
    bool after_gap;  // an ssepp-gap event came just before, on the same connection
  };

  template <class F>
  void after(milliseconds delay, F f) {
    timer_.expires_after(delay);
    timer_.async_wait([this, gen = generation_, f](std::error_code ec) {
      if (!ec && gen == generation_) f();
    });
  }

  template <class T>
  T uniform(T low, T high) {
    return std::uniform_int_distribution<T>(low, high)(random_);
  }
  bool chance(unsigned percent) { return uniform<unsigned>(0, 99) < percent; }

  std::string id_of(std::uint64_t n) const { return home_.truth.epoch + "-" + std::to_string(n); }

  void fail(const std::string& what) {
    static constexpr const char* names[] = {"fast", "slow", "never-reading"};
    home_.failures.add(std::string(names[static_cast<int>(role_)]) + " client " +
                       std::to_string(index_) + " on " + channel_name(channel_) + ": " + what);
  }

  void connect() {
    if (home_.stopping) return;
    const std::uint64_t gen = ++generation_;
    std::error_code ignored;
    socket_.close(ignored);
    socket_.open(tcp::v4(), ignored);
    // Small receive buffers make the kernel's share of a slow stream small,
    // so the hub's queue bound, not the kernel, is what cuts it off.
    if (role_ != role::fast)
      socket_.set_option(asio::socket_base::receive_buffer_size(role_ == role::slow ? 16384 : 4096),
                         ignored);
    head_.clear();
    head_done_ = false;
    streaming_ = false;
    gap_pending_ = false;
    events_on_connection_ = 0;
    parser_.emplace(stream_handler{this});
    socket_.async_connect(home_.server, [this, gen](std::error_code ec) {
      if (gen != generation_) return;
      if (ec) {
        fail("cannot connect: " + ec.message());
        return reconnect_later();
      }
      home_.counters.connections.fetch_add(1, std::memory_order_relaxed);
      send_request(gen);
    });
  }

  void send_request(std::uint64_t gen) {
    resumed_from_.clear();
    std::string target = "/events/" + channel_name(channel_);
    std::string fields;
    if (role_ != role::silent && !last_id_.empty()) {
      resumed_from_ = last_id_;
      if (chance(50)) {
        fields = "Last-Event-ID: " + last_id_ + "\r\n";
        home_.counters.resumed_by_header.fetch_add(1, std::memory_order_relaxed);
      } else {
        std::string id = last_id_;
        // Now and then percent-encoded, which the server must decode.
        if (chance(25)) id.replace(id.find('-'), 1, "%2D");
        target += "?lastEventId=" + id;
        home_.counters.resumed_by_query.fetch_add(1, std::memory_order_relaxed);
      }
    }
    request_ = "GET " + target +
               " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(home_.server.port()) +
               "\r\nAccept: text/event-stream\r\n" + fields + "\r\n";
    // Now and then the request comes in two pieces, a moment apart.
    std::size_t first = request_.size();
    if (chance(10)) {
      first = uniform<std::size_t>(1, request_.size() - 1);
      home_.counters.split_requests.fetch_add(1, std::memory_order_relaxed);
    }
    asio::async_write(socket_, asio::buffer(request_.data(), first),
                      [this, gen, first](std::error_code ec, std::size_t) {
                        if (gen != generation_) return;
                        if (ec) return lost(ec);
                        if (first < request_.size()) {
                          return after(milliseconds{uniform(5, 50)}, [this, gen, first] {
                            asio::async_write(
                                socket_,
                                asio::buffer(request_.data() + first, request_.size() - first),
                                [this, gen](std::error_code e, std::size_t) {
                                  if (gen != generation_) return;
                                  if (e) return lost(e);
                                  requested(gen);
                                });
                          });
                        }
                        requested(gen);
                      });
  }

  void requested(std::uint64_t gen) {
    if (role_ == role::silent) {
      hold_bytes_ = home_.truth.bytes(channel_);
      hold_since_ = clock_type::now();
      return hold(gen);
    }
    if (role_ == role::fast && !home_.quiet && chance(3)) {
      // Gone before the response: subscribed, then left at once.
      home_.counters.early_drops.fetch_add(1, std::memory_order_relaxed);
      return drop();
    }
    buffer_.resize(role_ == role::slow ? 512 : 16384);
    read_more(gen);
    if (!home_.quiet) {
      // Slow readers keep theirs longer, long enough to be cut off.
      const double mean = cfg_.mean_connection_ms * (role_ == role::slow ? 4.0 : 1.0);
      const auto life = milliseconds{
          static_cast<long long>(std::exponential_distribution<double>(1.0 / mean)(random_))};
      life_timer_.expires_after(life);
      life_timer_.async_wait([this, gen](std::error_code ec) {
        if (!ec && gen == generation_ && !home_.quiet) drop();
      });
    }
  }

  void read_more(std::uint64_t gen) {
    socket_.async_read_some(asio::buffer(buffer_), [this, gen](std::error_code ec, std::size_t n) {
      if (gen != generation_) return;
      if (ec) return lost(ec);
      home_.counters.bytes.fetch_add(n, std::memory_order_relaxed);
      if (!take(std::string_view(buffer_.data(), n))) return drop();
      if (role_ == role::slow)
        return after(milliseconds{uniform(20, 300)}, [this, gen] { read_more(gen); });
      read_more(gen);
    });
  }

  // Takes bytes of the response: the head first, then events. False when
  // the response is broken (already reported).
  bool take(std::string_view bytes) {
    if (!head_done_) {
      head_.append(bytes);
      const auto end = head_.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (head_.size() <= 16384) return true;
        fail("response head longer than 16 KiB");
        return false;
      }
      std::string lower = head_.substr(0, end + 2);  // each field line with its CRLF
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (head_.compare(0, 13, "HTTP/1.1 200 ") != 0 ||
          lower.find("\r\ncontent-type: text/event-stream\r\n") == std::string::npos) {
        fail("not an event stream: " + head_.substr(0, head_.find('\r')));
        return false;
      }
      head_done_ = streaming_ = true;
      stream_since_ = clock_type::now();
      const std::string body = head_.substr(end + 4);
      head_.clear();
      return feed(body);
    }
    return feed(bytes);
  }

  bool feed(std::string_view bytes) {
    if (const auto ec = parser_->feed(bytes)) {
      fail("the parser stopped: " + ec.message());
      return false;
    }
    return true;
  }

  void on_event(const ssepp::message& m) {
    home_.counters.events.fetch_add(1, std::memory_order_relaxed);
    if (m.type == "ssepp-gap") return on_gap(m.data);
    if (m.type != "message") return fail("event of unexpected type '" + std::string(m.type) + "'");
    const auto n = parse_id(m.last_event_id, home_.truth.epoch);
    if (!n) return fail("event with id '" + std::string(m.last_event_id) + "', not of this run");
    const auto origin = parse_payload(m.data, channel_, padding_limit(cfg_, channel_));
    if (!origin)
      return fail("event " + std::string(m.last_event_id) + " has data not published to it: '" +
                  std::string(m.data.substr(0, 60)) + "'");
    pending_.push_back({*n, origin->first, origin->second, gap_pending_});
    gap_pending_ = false;
    ++events_on_connection_;
    last_id_ = std::string(m.last_event_id);
  }

  void on_gap(std::string_view data) {
    home_.counters.gap_events.fetch_add(1, std::memory_order_relaxed);
    // Every id resumed from was given out by this hub in this run, and is
    // still counted as such: only "evicted" is right here.
    const std::string expected =
        "{\"lastEventId\":\"" + resumed_from_ + "\",\"reason\":\"evicted\"}";
    if (resumed_from_.empty() || events_on_connection_ != 0 || data != expected)
      return fail("unexpected ssepp-gap event '" + std::string(data) + "' (resumed from '" +
                  resumed_from_ + "', after " + std::to_string(events_on_connection_) +
                  " event(s) on this connection)");
    gap_pending_ = true;
  }

  // Our own fault: the connection dropped, half the time with a reset.
  void drop() {
    ++generation_;
    home_.counters.drops.fetch_add(1, std::memory_order_relaxed);
    std::error_code ignored;
    if (chance(50)) {
      socket_.set_option(asio::socket_base::linger(true, 0), ignored);
      home_.counters.resets.fetch_add(1, std::memory_order_relaxed);
    } else {
      socket_.shutdown(tcp::socket::shutdown_both, ignored);
    }
    socket_.close(ignored);
    life_timer_.cancel();
    reconnect_later();
  }

  // The server ended the connection (or it broke).
  void lost(std::error_code ec) {
    ++generation_;
    std::error_code ignored;
    socket_.close(ignored);
    life_timer_.cancel();
    if (home_.stopping) return;
    if (!head_done_) {
      fail("connection ended before the response head: " + ec.message());
    } else if (role_ == role::fast) {
      // A reader that keeps up should never be cut off as a slow consumer.
      // On a regular channel, the queue and send buffer hold seconds of
      // events; on the bulk channel, well under one, so a reader thread
      // held up that long by a loaded machine is rightly cut off there:
      // counted apart.
      const bool bulk = channel_ == bulk_channel(cfg_);
      auto& cuts = bulk ? home_.counters.bulk_fast_cuts : home_.counters.fast_cuts;
      if (cuts.fetch_add(1, std::memory_order_relaxed) < 5)
        std::fprintf(stderr,
                     "soak: note: fast client %zu on %s cut off by the server (%s) after %.1f s "
                     "and %zu event(s) on that connection\n",
                     index_, channel_name(channel_).c_str(), ec.message().c_str(),
                     seconds_since(stream_since_), events_on_connection_);
    } else {
      home_.counters.slow_cuts.fetch_add(1, std::memory_order_relaxed);
    }
    reconnect_later();
  }

  void reconnect_later() {
    streaming_ = false;
    const auto gen = ++generation_;
    timer_.expires_after(milliseconds{uniform(0, 200)});
    timer_.async_wait([this, gen](std::error_code ec) {
      if (!ec && gen == generation_) connect();
    });
  }

  // A never-reading client holds its stream unread until more was published
  // to it than the server may hold for it (its queue bound) and the kernel
  // can buffer (the server's send buffer, plus a quarter for a last write
  // that overshoots it, plus 64 KiB for our small receive buffer), plus two
  // of the largest events: by then the server must have cut it off. A
  // channel too slow to get there within 45 s excuses it (counted, not a
  // failure).
  void hold(std::uint64_t gen) {
    const std::uint64_t published = home_.truth.bytes(channel_) - hold_bytes_;
    const std::uint64_t enough = cfg_.kernel_send_bytes + cfg_.kernel_send_bytes / 4 + 65536 +
                                 cfg_.queue_bytes + 2 * home_.truth.largest(channel_);
    if (published > enough) return drain(gen, published);
    if (seconds_since(hold_since_) > 45) return drain(gen, std::nullopt);
    after(milliseconds{500}, [this, gen] { hold(gen); });
  }

  // Then it reads at last: all that is left, expecting the end of the
  // stream because the server cut it off meanwhile. `published`: the bytes
  // that made that a must.
  void drain(std::uint64_t gen, std::optional<std::uint64_t> published) {
    // What waits in the kernel (megabytes, without hub_server's cap on the
    // send buffer) would take hundreds of round trips through the small
    // receive window, each behind every other client's handlers on this
    // thread; a large window takes it in a few reads.
    std::error_code ignored;
    socket_.set_option(asio::socket_base::receive_buffer_size(4 << 20), ignored);
    buffer_.resize(65536);
    drained_ = 0;
    life_timer_.expires_after(std::chrono::seconds{10});
    life_timer_.async_wait([this, gen, published](std::error_code ec) {
      if (ec || gen != generation_) return;
      if (published && !home_.stopping) {
        fail("never cut off: " + std::to_string(*published) + " bytes published to it in " +
             std::to_string(seconds_since(hold_since_)) +
             " s unread, more than hub_server's --queue-bytes (" +
             std::to_string(cfg_.queue_bytes) + ") and the kernel's send buffer (at most " +
             std::to_string(cfg_.kernel_send_bytes) + ") can hold; still open after reading " +
             std::to_string(drained_) + " bytes in 10 s");
      } else {
        home_.counters.silent_uncut.fetch_add(1, std::memory_order_relaxed);
      }
      ++generation_;
      std::error_code closing;
      socket_.close(closing);
      reconnect_later();
    });
    drain_more(gen);
  }

  void drain_more(std::uint64_t gen) {
    socket_.async_read_some(asio::buffer(buffer_), [this, gen](std::error_code ec, std::size_t n) {
      if (gen != generation_) return;
      home_.counters.bytes.fetch_add(n, std::memory_order_relaxed);
      drained_ += n;
      if (!ec) return drain_more(gen);
      if (!home_.stopping) home_.counters.silent_cuts.fetch_add(1, std::memory_order_relaxed);
      ++generation_;
      std::error_code ignored;
      socket_.close(ignored);
      life_timer_.cancel();
      reconnect_later();
    });
  }

  reader_thread& home_;
  const config& cfg_;
  const std::size_t index_;
  const role role_;
  const std::size_t channel_;
  tcp::socket socket_;
  asio::steady_timer timer_;       // reconnects, pauses, the split request, holds
  asio::steady_timer life_timer_;  // the connection's planned end, the drain's limit
  std::mt19937_64 random_;
  // Every handler carries the generation it was started in and does nothing
  // when it has changed: each connection, drop and reconnect starts a new
  // one, so a late completion of an old connection cannot touch a new one.
  std::uint64_t generation_ = 0;

  // This connection:
  std::string request_;
  std::string head_;
  bool head_done_ = false;
  bool streaming_ = false;
  clock_type::time_point stream_since_;
  std::vector<char> buffer_;
  std::optional<ssepp::parser<stream_handler>> parser_;
  std::string resumed_from_;  // the id this connection resumed after, if any
  bool gap_pending_ = false;
  std::size_t events_on_connection_ = 0;
  std::uint64_t hold_bytes_ = 0;  // never-reading: the channel's bytes when the hold began
  std::uint64_t drained_ = 0;     // and what it read when it read at last
  clock_type::time_point hold_since_;

  // Across connections:
  std::string last_id_;           // where the next connection resumes
  std::deque<received> pending_;  // received, not yet checked
  bool placed_ = false;           // the first event fixed the start of the sequence
  std::size_t next_ = 0;          // index of the expected next event in the channel's sequence
};

void stream_handler::on_event(const ssepp::message& m) { owner->on_event(m); }
void stream_handler::on_comment(std::string_view) {
  owner->home_.counters.heartbeats.fetch_add(1, std::memory_order_relaxed);
}

void reader_thread::sweep() {
  {
    const auto lock = truth.lock();
    for (auto& c : clients) c->check(truth);
  }
  sweep_timer.expires_after(milliseconds{200});
  sweep_timer.async_wait([this](std::error_code ec) {
    if (!ec) sweep();
  });
}

void reader_thread::final_check() {
  sweep_timer.cancel();
  const auto lock = truth.lock();
  for (auto& c : clients) c->final_check(truth);
}

// Runs `f` on each reader thread and waits for it.
template <class F>
void on_each(std::vector<std::unique_ptr<reader_thread>>& readers, F f) {
  for (auto& r : readers) {
    std::promise<void> done;
    asio::post(r->io, [&] {
      f(*r);
      done.set_value();
    });
    done.get_future().wait();
  }
}

std::uint64_t sum(const std::vector<std::unique_ptr<reader_thread>>& readers,
                  std::atomic<std::uint64_t> reader_counters::*member) {
  std::uint64_t total = 0;
  for (const auto& r : readers) total += (r->counters.*member).load();
  return total;
}

// ---------------------------------------------------------------------------

// What the kernel may hold unsent on one of hub_server's streams: its
// --send-buffer-bytes (the server sets SO_SNDBUF to half of it, which Linux
// doubles for its bookkeeping), or with 0, the most Linux grows a send
// buffer to by itself (net.ipv4.tcp_wmem's maximum, even toward a peer
// whose window is closed).
std::uint64_t kernel_send_bytes(const config& cfg) {
  if (cfg.send_buffer_bytes > 0) return std::uint64_t{cfg.send_buffer_bytes};
  std::ifstream file("/proc/sys/net/ipv4/tcp_wmem");
  std::uint64_t low = 0, initial = 0, most = 0;
  if (file >> low >> initial >> most && most > 0) return most;
  return 4 << 20;
}

int run(const config& given) {
  config cfg = given;
  cfg.kernel_send_bytes = kernel_send_bytes(cfg);
  // 1,000 streams and the publishers' connections: far below the 20,000
  // descriptors allowed here, but above the common default of 1,024.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  std::printf(
      "soak: seed %llu, %u s, %zu clients (%u%% slow, %u%% never reading) on %zu channels and "
      "a bulk one, %zu publishers at %u events/s and one at %u events/s of up to %zu bytes\n",
      static_cast<unsigned long long>(cfg.seed), cfg.seconds, cfg.clients, cfg.slow_percent,
      cfg.silent_percent, cfg.channels, cfg.publishers, cfg.rate, cfg.bulk_rate, cfg.bulk_bytes);
  std::fflush(stdout);

  server_process server(cfg.hub_server, {"--host",
                                         "127.0.0.1",
                                         "--port",
                                         "0",
                                         "--threads",
                                         std::to_string(cfg.server_threads),
                                         "--history",
                                         std::to_string(cfg.history),
                                         "--history-total-bytes",
                                         std::to_string(cfg.history_total_bytes),
                                         "--queue-events",
                                         std::to_string(cfg.queue_events),
                                         "--queue-bytes",
                                         std::to_string(cfg.queue_bytes),
                                         "--send-buffer-bytes",
                                         std::to_string(cfg.send_buffer_bytes),
                                         "--overflow",
                                         "disconnect",
                                         "--heartbeat-ms",
                                         std::to_string(cfg.heartbeat_ms),
                                         "--max-connections",
                                         std::to_string(cfg.clients + cfg.publishers + 1001)});
  // Only now: hub_server must start with SIGPIPE as it finds it, not ignored
  // because its parent ignores it.
  std::signal(SIGPIPE, SIG_IGN);
  failure_log failures;
  ground_truth truth(cfg.channels + 1);
  publish_counters published;

  // The first event tells the hub's epoch, which every id of the run carries.
  {
    asio::io_context io;
    const tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), server.port());
    const std::string body = payload(0, 0, 0, padding_limit(cfg, 0));
    const auto id = post(io, endpoint, 0, body, failures);
    if (!id || id->find('-') == std::string::npos) {
      failures.add("the first POST got no id of the form <epoch>-<n>");
      return 1;
    }
    truth.epoch = id->substr(0, id->rfind('-'));
    record_publish(truth, published, failures, *id, 0, 0, 0, body);
  }

  std::vector<std::unique_ptr<reader_thread>> readers;
  for (std::size_t i = 0; i < cfg.reader_threads; ++i)
    readers.push_back(std::make_unique<reader_thread>(cfg, truth, failures, server.port()));
  // Roles interleaved, so every channel and thread gets its share. The
  // never-reading clients, half the slow ones and --bulk-readers fast ones
  // are on the bulk channel.
  std::vector<role> roles;
  std::size_t fast = 0, slow = 0, silent = 0;
  for (std::size_t i = 0; i < cfg.clients; ++i) {
    const std::size_t percent = (i * 37) % 100;
    roles.push_back(percent < cfg.slow_percent                        ? role::slow
                    : percent < cfg.slow_percent + cfg.silent_percent ? role::silent
                                                                      : role::fast);
    fast += roles.back() == role::fast;
  }
  const std::size_t bulk_every =
      std::max<std::size_t>(1, fast / std::max<std::size_t>(1, cfg.bulk_readers));
  std::size_t regular = 0, fast_seen = 0, fast_on_bulk = 0;
  std::mt19937_64 spread(cfg.seed);
  for (std::size_t i = 0; i < cfg.clients; ++i) {
    const role r = roles[i];
    bool on_bulk = r == role::silent || (r == role::slow && slow++ % 2 == 0);
    if (r == role::fast && fast_seen++ % bulk_every == 0 && fast_on_bulk < cfg.bulk_readers) {
      on_bulk = true;
      ++fast_on_bulk;
    }
    silent += r == role::silent;
    const std::size_t channel = on_bulk ? bulk_channel(cfg) : regular++ % cfg.channels;
    auto& home = *readers[i % readers.size()];
    home.clients.push_back(std::make_unique<client>(home, i, r, channel));
    // Connections spread over the first second, not 1,000 SYNs at once.
    home.clients.back()->start(milliseconds{std::uniform_int_distribution<int>(0, 1000)(spread)});
  }
  for (auto& r : readers) {
    r->sweep();
    r->thread = std::thread([&io = r->io] { io.run(); });
  }

  std::atomic<bool> stop_publishing{false};
  std::vector<std::thread> publishers;
  for (std::size_t i = 0; i <= cfg.publishers; ++i) {
    const publisher_plan plan =
        i < cfg.publishers
            ? publisher_plan{i + 1, 0, cfg.channels,
                             static_cast<double>(cfg.rate) / static_cast<double>(cfg.publishers)}
            : publisher_plan{i + 1, bulk_channel(cfg), 1, static_cast<double>(cfg.bulk_rate)};
    publishers.emplace_back(publish_loop, std::cref(cfg), plan, server.port(), std::ref(truth),
                            std::ref(published), std::ref(failures), std::cref(stop_publishing));
  }

  const auto started = clock_type::now();
  for (std::uint32_t s = 1; s <= cfg.seconds; ++s) {
    std::this_thread::sleep_until(started + std::chrono::seconds{s});
    if (s % 10 == 0 || s == cfg.seconds) {
      const auto rss = server.rss();
      std::printf(
          "soak: %4u s: %llu published, %llu received, %llu checked, %llu reconnects, "
          "%llu gap events, slow-consumer cuts %llu fast (+%llu bulk) / %llu slow / %llu "
          "never-reading, "
          "RSS %.1f MiB (peak %.1f), %zu failure(s)\n",
          s, static_cast<unsigned long long>(published.published.load()),
          static_cast<unsigned long long>(sum(readers, &reader_counters::events)),
          static_cast<unsigned long long>(sum(readers, &reader_counters::checked)),
          static_cast<unsigned long long>(sum(readers, &reader_counters::connections)),
          static_cast<unsigned long long>(sum(readers, &reader_counters::gap_events)),
          static_cast<unsigned long long>(sum(readers, &reader_counters::fast_cuts)),
          static_cast<unsigned long long>(sum(readers, &reader_counters::bulk_fast_cuts)),
          static_cast<unsigned long long>(sum(readers, &reader_counters::slow_cuts)),
          static_cast<unsigned long long>(sum(readers, &reader_counters::silent_cuts)),
          static_cast<double>(rss.last_kib) / 1024, static_cast<double>(rss.peak_kib) / 1024,
          failures.count());
      std::fflush(stdout);
    }
  }

  // The end: publishing stops; the streams that read get 3 s to catch up
  // (no more self-inflicted drops); then every event is checked and every
  // fast stream must be at its channel's end.
  stop_publishing = true;
  for (auto& t : publishers) t.join();
  const double publishing_seconds = seconds_since(started);
  on_each(readers, [](reader_thread& r) { r.quiet = true; });
  std::this_thread::sleep_for(std::chrono::seconds{3});
  on_each(readers, [](reader_thread& r) {
    r.stopping = true;
    r.final_check();
  });
  std::size_t caught_up = 0;
  for (auto& r : readers)
    for (auto& c : r->clients) caught_up += c->caught_up_checked;

  // SIGTERM with the streams still open: a graceful stop drains them (the
  // never-reading ones for at most hub_server's 2 s grace).
  const auto stopping = clock_type::now();
  const std::string exit_problem = server.terminate(milliseconds{15000});
  const double stop_seconds = seconds_since(stopping);
  if (!exit_problem.empty()) failures.add(exit_problem);
  on_each(readers, [](reader_thread& r) {
    for (auto& c : r.clients) c->finish();
    r.sweep_timer.cancel();
    r.work.reset();
  });
  for (auto& r : readers) r->thread.join();

  // hub_server's stderr: it logs warnings and errors only, with no level
  // in the line, so every line but the one warning a slow consumer earns
  // counts as an error.
  const std::string slow_warning = "hub_server: closing a subscriber that reads too slowly";
  std::uint64_t slow_warnings = 0;
  std::size_t other_lines = 0;
  for (const auto& line : server.stderr_lines()) {
    if (line == slow_warning) {
      ++slow_warnings;
    } else if (++other_lines <= 10) {
      failures.add("hub_server logged: " + line);
    }
  }
  if (other_lines > 10)
    failures.add(std::to_string(other_lines) + " lines logged by hub_server in all");
  for (const auto& line : server.stdout_lines()) failures.add("hub_server printed: " + line);

  const auto fast_cuts = sum(readers, &reader_counters::fast_cuts);
  const auto bulk_fast_cuts = sum(readers, &reader_counters::bulk_fast_cuts);
  const auto slow_cuts = sum(readers, &reader_counters::slow_cuts);
  const auto silent_cuts = sum(readers, &reader_counters::silent_cuts);
  // Each close the clients saw coming from the server mid-run is a slow
  // consumer's, so the server must have warned about at least as many.
  const auto seen_cuts = fast_cuts + bulk_fast_cuts + slow_cuts + silent_cuts;
  if (seen_cuts > slow_warnings)
    failures.add("clients saw " + std::to_string(seen_cuts) +
                 " connections closed by the server, but it warned of only " +
                 std::to_string(slow_warnings) + " slow consumers");
  if (silent > 0 && silent_cuts == 0) failures.add("no never-reading client was ever cut off");
  if (cfg.max_fast_cuts >= 0 && fast_cuts > static_cast<std::uint64_t>(cfg.max_fast_cuts))
    failures.add(std::to_string(fast_cuts) +
                 " fast readers of regular channels cut off as slow consumers (at most " +
                 std::to_string(cfg.max_fast_cuts) + " allowed by --max-fast-cuts)");

  // The memory bound: each subscriber's queue bound (hub_server's
  // --queue-bytes) plus a per-connection allowance (socket, strand, parser
  // state: 16 KiB is generous), each channel's history (--history events of
  // the largest size published to it), over the RSS before any client came,
  // plus the stated slack.
  std::size_t history_bytes = 0;
  for (std::size_t c = 0; c <= cfg.channels; ++c) history_bytes += cfg.history * truth.largest(c);
  const std::size_t queue_bytes = cfg.clients * (cfg.queue_bytes + 16 * 1024);
  const std::size_t bound_kib =
      server.rss_start_kib() + (queue_bytes + history_bytes) / 1024 + cfg.rss_slack_mib * 1024;
  const auto rss = server.rss();
  if (rss.samples == 0) failures.add("no VmRSS sample of hub_server could be read");
  if (rss.peak_kib > bound_kib)
    failures.add("hub_server's RSS peaked at " + std::to_string(rss.peak_kib / 1024) +
                 " MiB, over the bound of " + std::to_string(bound_kib / 1024) + " MiB");

  const auto mib = [](std::size_t kib) { return static_cast<double>(kib) / 1024; };
  std::printf(
      "soak: RSS of hub_server: %.1f MiB at start, peak %.1f MiB at %.0f s (%zu samples); "
      "largest per quarter of the run %.1f / %.1f / %.1f / %.1f MiB; bound %.1f MiB = start + "
      "%zu x (%zu + 16384) B of queues and connections + %.1f MiB of history (%zu events "
      "of each channel's largest) + %zu MiB slack\n",
      mib(server.rss_start_kib()), mib(rss.peak_kib), rss.peak_at, rss.samples,
      mib(rss.quarters[0]), mib(rss.quarters[1]), mib(rss.quarters[2]), mib(rss.quarters[3]),
      mib(bound_kib), cfg.clients, cfg.queue_bytes, mib(history_bytes / 1024), cfg.history,
      cfg.rss_slack_mib);
  std::printf(
      "soak: publishers: %.0f events/s (asked for %u + %u), max POST latency %.1f ms, %llu over "
      "100 ms; stop after SIGTERM %.2f s; %llu requests split in two, %llu resets, %llu left "
      "before the response; %llu heartbeats; %zu fast streams checked at their channel's end\n",
      static_cast<double>(published.published.load()) / publishing_seconds, cfg.rate, cfg.bulk_rate,
      static_cast<double>(published.max_latency_us.load()) / 1000,
      static_cast<unsigned long long>(published.slow_answers.load()), stop_seconds,
      static_cast<unsigned long long>(sum(readers, &reader_counters::split_requests)),
      static_cast<unsigned long long>(sum(readers, &reader_counters::resets)),
      static_cast<unsigned long long>(sum(readers, &reader_counters::early_drops)),
      static_cast<unsigned long long>(sum(readers, &reader_counters::heartbeats)), caught_up);
  const bool passed = failures.count() == 0;
  std::printf(
      "soak: %s: %llu events published, %llu received, %llu checked; %llu connections "
      "(%llu resumed by Last-Event-ID, %llu by ?lastEventId=), %llu dropped by clients; "
      "%llu ssepp-gap events (%llu events skipped, %llu needless); slow-consumer cuts: %llu fast "
      "(and %llu on the bulk channel), %llu slow, %llu never-reading (%llu never-reading streams "
      "not cut), %llu warned by the "
      "server; peak RSS %.1f MiB of %.1f MiB bound; %zu failure(s)\n",
      passed ? "PASSED" : "FAILED", static_cast<unsigned long long>(published.published.load()),
      static_cast<unsigned long long>(sum(readers, &reader_counters::events)),
      static_cast<unsigned long long>(sum(readers, &reader_counters::checked)),
      static_cast<unsigned long long>(sum(readers, &reader_counters::connections)),
      static_cast<unsigned long long>(sum(readers, &reader_counters::resumed_by_header)),
      static_cast<unsigned long long>(sum(readers, &reader_counters::resumed_by_query)),
      static_cast<unsigned long long>(sum(readers, &reader_counters::drops)),
      static_cast<unsigned long long>(sum(readers, &reader_counters::gap_events)),
      static_cast<unsigned long long>(sum(readers, &reader_counters::skipped_by_gaps)),
      static_cast<unsigned long long>(sum(readers, &reader_counters::needless_gaps)),
      static_cast<unsigned long long>(fast_cuts), static_cast<unsigned long long>(bulk_fast_cuts),
      static_cast<unsigned long long>(slow_cuts), static_cast<unsigned long long>(silent_cuts),
      static_cast<unsigned long long>(sum(readers, &reader_counters::silent_uncut)),
      static_cast<unsigned long long>(slow_warnings), mib(rss.peak_kib), mib(bound_kib),
      failures.count());
  return passed ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const auto cfg = parse_command_line(argc, argv);
    if (!cfg) {
      std::fputs(usage_text, stdout);
      return 0;
    }
    return run(*cfg);
  } catch (const usage_error& e) {
    std::fprintf(stderr, "soak: %s (try --help)\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "soak: FAILED: %s\n", e.what());
    return 1;
  }
}
