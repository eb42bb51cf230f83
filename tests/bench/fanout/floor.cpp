// The physical floor of fan-out on this machine: what the kernel alone
// charges a process that writes a small event to N loopback TCP
// connections. No SSE server can deliver an event for less CPU than one
// write() to a socket costs (when it writes each event on its own), so the
// fan-out table shows every server's cost as a multiple of this.
//
// One writer thread (pinned to --writer-cpu) holds the accepted ends of N
// loopback connections and writes, round after round, the same event to
// every one of them: one event per write(), then 4 and then 16 events
// coalesced into one write(). A reader thread (pinned to --reader-cpu)
// drains the other ends through epoll, as clients would. The figure is the
// writer thread's CPU time (getrusage RUSAGE_THREAD: user + system, which
// the kernel scales to the scheduler's exact runtime) divided by the events
// written, and the same plus what the writer core's ksoftirqd thread spent
// meanwhile. Loopback does the receiving end's TCP work in the sender's
// softirq, on the sender's core: in the writer's own context (so in its
// time) or, when the kernel defers it under load, in ksoftirqd.
//
//   ssepp-bench-fanout-floor [--connections N] [--seconds S]
//                            [--event-bytes B] [--batches 1,4,16]
//                            [--writer-cpu C] [--reader-cpu C] [--gather 1]
//
// --gather 1 writes each batch as one writev() of separate 100 B buffers,
// as a server that queues separately formatted events does, instead of
// one contiguous buffer.
//
// Prints one human line per batch size, then one JSON line.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

struct options {
  int connections = 1000;
  double seconds = 2.0;
  std::size_t event_bytes = 100;
  std::vector<int> batches{1, 4, 16};
  int writer_cpu = 0;
  int reader_cpu = 1;
  bool gather = false;  // batch as one writev of separate buffers
};

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "floor: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "floor: %s\nUsage: ssepp-bench-fanout-floor [--connections N] [--seconds S] "
               "[--event-bytes B] [--batches 1,4,16] [--writer-cpu C] [--reader-cpu C] "
               "[--gather 1]\n",
               why);
  std::exit(2);
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) usage(("missing value after " + arg).c_str());
    const char* value = argv[++i];
    if (arg == "--connections") {
      o.connections = std::atoi(value);
    } else if (arg == "--seconds") {
      o.seconds = std::atof(value);
    } else if (arg == "--event-bytes") {
      o.event_bytes = static_cast<std::size_t>(std::atol(value));
    } else if (arg == "--writer-cpu") {
      o.writer_cpu = std::atoi(value);
    } else if (arg == "--gather") {
      o.gather = std::strcmp(value, "0") != 0;
    } else if (arg == "--reader-cpu") {
      o.reader_cpu = std::atoi(value);
    } else if (arg == "--batches") {
      o.batches.clear();
      for (const char* p = value; *p;) {
        char* end = nullptr;
        const long n = std::strtol(p, &end, 10);
        if (end == p || n < 1) usage("--batches is a comma list of positive counts");
        o.batches.push_back(static_cast<int>(n));
        p = *end == ',' ? end + 1 : end;
      }
    } else {
      usage(("unknown option " + arg).c_str());
    }
  }
  if (o.connections < 1 || o.seconds <= 0 || o.event_bytes < 8 || o.batches.empty())
    usage("--connections >= 1, --seconds > 0, --event-bytes >= 8");
  return o;
}

// Pins the calling thread; a machine with one core runs both threads on it.
void pin(int cpu) {
  if (cpu < 0 || cpu >= static_cast<int>(std::thread::hardware_concurrency())) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(static_cast<unsigned>(cpu), &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

// CPU seconds of the ksoftirqd thread of one core (0 if not found): the
// softirq work the kernel defers out of the writer's context under load.
double ksoftirqd_seconds(int cpu) {
  static const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  static int pid = [cpu] {
    const std::string name = "ksoftirqd/" + std::to_string(cpu) + "\n";
    for (int p = 1; p < 4096; ++p) {
      char path[64], comm[64] = {};
      std::snprintf(path, sizeof path, "/proc/%d/comm", p);
      std::FILE* f = std::fopen(path, "r");
      if (!f) continue;
      const bool match = std::fgets(comm, sizeof comm, f) && name == comm;
      std::fclose(f);
      if (match) return p;
    }
    return 0;
  }();
  if (pid == 0) return 0;
  char path[64], text[1024] = {};
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  std::FILE* f = std::fopen(path, "r");
  if (!f) return 0;
  const std::size_t n = std::fread(text, 1, sizeof text - 1, f);
  std::fclose(f);
  const char* fields = std::strrchr(text, ')');
  if (n == 0 || !fields) return 0;
  // After ')': state is field 3; utime and stime are fields 14 and 15.
  unsigned long long utime = 0, stime = 0;
  if (std::sscanf(fields + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                  &stime) != 2)
    return 0;
  return static_cast<double>(utime + stime) / ticks;
}

double thread_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
  };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

// A small SSE event of exactly `size` bytes: "data: xxx…\n\n".
std::string make_event(std::size_t size) {
  std::string e = "data: ";
  e.append(size - e.size() - 2, 'x');
  e += "\n\n";
  return e;
}

// Writes all of `data`, waiting in poll() (no CPU) when the socket is full.
void write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n > 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 1000);
    } else {
      fail("write");
    }
  }
}

// Writes BATCH copies of EVENT, each from its own buffer, as one writev()
// (what a server that queues shared, separately formatted events does),
// finishing with write_all when the socket takes only part.
void writev_all(int fd, const std::vector<std::string>& events) {
  std::vector<iovec> parts;
  for (const std::string& e : events) parts.push_back({const_cast<char*>(e.data()), e.size()});
  std::size_t total = 0;
  for (const iovec& p : parts) total += p.iov_len;
  const ssize_t n = ::writev(fd, parts.data(), static_cast<int>(parts.size()));
  std::size_t done = n > 0 ? static_cast<std::size_t>(n) : 0;
  if (n < 0 && errno != EAGAIN && errno != EINTR) fail("writev");
  if (done == total) return;
  std::string rest;
  for (const std::string& e : events) rest += e;
  write_all(fd, rest.data() + done, rest.size() - done);
}

struct result {
  int batch;
  std::uint64_t events;
  double cpu_seconds;
  double ksoftirqd_cpu_seconds;
  double wall_seconds;
};

}  // namespace

int main(int argc, char** argv) {
  const options o = parse(argc, argv);
  // Two descriptors per connection in this one process.
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  if (static_cast<rlim_t>(2 * o.connections + 16) > limit.rlim_cur) {
    std::fprintf(stderr, "floor: %d connections need %d descriptors; the limit is %llu\n",
                 o.connections, 2 * o.connections + 16,
                 static_cast<unsigned long long>(limit.rlim_cur));
    return 1;
  }

  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  if (listener < 0) fail("socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) fail("bind");
  if (::listen(listener, 4096) != 0) fail("listen");
  socklen_t length = sizeof address;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);

  std::vector<int> readers, writers;
  for (int i = 0; i < o.connections; ++i) {
    const int c = ::socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0) fail("socket");
    if (::connect(c, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) fail("connect");
    const int s = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
    if (s < 0) fail("accept");
    // As a server does: small writes go out at once.
    const int one = 1;
    ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    readers.push_back(c);
    writers.push_back(s);
  }
  ::close(listener);

  const int epoll = ::epoll_create1(0);
  for (const int c : readers) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = c;
    if (::epoll_ctl(epoll, EPOLL_CTL_ADD, c, &ev) != 0) fail("epoll_ctl");
  }
  std::atomic<std::uint64_t> bytes_read{0};
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    pin(o.reader_cpu);
    std::vector<epoll_event> events(1024);
    std::vector<char> buffer(1 << 16);
    while (!stop.load(std::memory_order_relaxed)) {
      const int n = ::epoll_wait(epoll, events.data(), static_cast<int>(events.size()), 100);
      for (int i = 0; i < n; ++i) {
        const ssize_t got =
            ::read(events[static_cast<std::size_t>(i)].data.fd, buffer.data(), buffer.size());
        if (got > 0)
          bytes_read.fetch_add(static_cast<std::uint64_t>(got), std::memory_order_relaxed);
      }
    }
  });

  pin(o.writer_cpu);
  const std::string event = make_event(o.event_bytes);
  std::vector<result> results;
  std::uint64_t bytes_written = 0;
  for (const int batch : o.batches) {
    std::string payload;
    for (int i = 0; i < batch; ++i) payload += event;
    // A short warm-up round so every socket has its buffers.
    const std::vector<std::string> separate(static_cast<std::size_t>(batch), event);
    const auto write_batch = [&](int fd) {
      if (o.gather) {
        writev_all(fd, separate);
      } else {
        write_all(fd, payload.data(), payload.size());
      }
    };
    for (const int fd : writers) write_batch(fd);
    bytes_written += payload.size() * writers.size();

    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = thread_cpu_seconds();
    const double ksoftirqd_start = ksoftirqd_seconds(o.writer_cpu);
    std::uint64_t rounds = 0;
    double wall = 0;
    do {
      for (const int fd : writers) write_batch(fd);
      ++rounds;
      wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } while (wall < o.seconds);
    const double cpu = thread_cpu_seconds() - cpu_start;
    const double ksoftirqd = ksoftirqd_seconds(o.writer_cpu) - ksoftirqd_start;
    bytes_written += rounds * payload.size() * writers.size();
    results.push_back(
        {batch, rounds * writers.size() * static_cast<std::uint64_t>(batch), cpu, ksoftirqd, wall});
  }

  // Let the reader catch up, so every event counted was really delivered.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (bytes_read.load() < bytes_written && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop = true;
  reader.join();
  if (bytes_read.load() != bytes_written) {
    std::fprintf(stderr, "floor: wrote %llu bytes but the reader got %llu\n",
                 static_cast<unsigned long long>(bytes_written),
                 static_cast<unsigned long long>(bytes_read.load()));
    return 1;
  }

  std::string json = "{\"tool\":\"floor\",\"connections\":" + std::to_string(o.connections) +
                     ",\"event_bytes\":" + std::to_string(o.event_bytes) + ",\"results\":[";
  for (std::size_t i = 0; i < results.size(); ++i) {
    const result& r = results[i];
    const double us = r.cpu_seconds * 1e6 / static_cast<double>(r.events);
    const double us_with_ksoftirqd =
        (r.cpu_seconds + r.ksoftirqd_cpu_seconds) * 1e6 / static_cast<double>(r.events);
    std::printf(
        "floor: %d event(s) per write: %.3f us CPU per event, %.3f with the core's ksoftirqd "
        "(%llu events to %d sockets, %.2f s CPU + %.2f s ksoftirqd in %.2f s)\n",
        r.batch, us, us_with_ksoftirqd, static_cast<unsigned long long>(r.events), o.connections,
        r.cpu_seconds, r.ksoftirqd_cpu_seconds, r.wall_seconds);
    char item[320];
    std::snprintf(item, sizeof item,
                  "%s{\"events_per_write\":%d,\"cpu_us_per_event\":%.4f,"
                  "\"cpu_us_per_event_with_ksoftirqd\":%.4f,\"events\":%llu,"
                  "\"cpu_s\":%.4f,\"ksoftirqd_s\":%.4f,\"wall_s\":%.4f}",
                  i ? "," : "", r.batch, us, us_with_ksoftirqd,
                  static_cast<unsigned long long>(r.events), r.cpu_seconds, r.ksoftirqd_cpu_seconds,
                  r.wall_seconds);
    json += item;
  }
  json += "]}";
  std::printf("%s\n", json.c_str());
  return 0;
}
