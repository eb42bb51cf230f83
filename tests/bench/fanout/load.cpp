// Load tool of the fan-out benchmark: holds N event streams open on one SSE
// server, publishes to their channel at a fixed rate through HTTP POST, and
// reports what the subscribers received and what it cost the server.
//
// The server is any that offers
//   GET  /events/{channel}    an event stream (text/event-stream)
//   POST /publish/{channel}   the body becomes the data of one event
// (ssepp's hub_server, the Node peers and nginx + nchan in peers/). With
// --batch N, events go N at a time in a text/event-stream body, which only
// hub_server takes (batch publishing: every event of the body, all or none).
//
// One thread, epoll, non-blocking sockets; each stream is read through a
// chunked decoder when the server chose chunked transfer coding, and parsed
// by ssepp::parser. Each published event's data is "SEQ TIMESTAMP" padded
// with dots to --payload bytes, TIMESTAMP being CLOCK_MONOTONIC nanoseconds
// when the POST was issued, so the latency of a delivery is the time of the
// read() that brought it minus that stamp: publish request, fan-out, and the
// subscriber's socket, end to end.
//
// Phases:
//   1. connect: opens the streams (at most --max-pending at a time, over
//      several 127.0.0.x source addresses when there are many: each source
//      address has its own ephemeral port range), until every one has its
//      response head or --connect-timeout passes. The last --stalled streams
//      stop reading once their head arrived (workload 5: clients that never
//      read).
//   2. sync: publishes a marker event every 50 ms until every reading stream
//      got one, so no subscription is still being set up when measuring
//      begins (a server may answer the head before it subscribes).
//   3. measure: publishes --rate events/s for --duration seconds, then
//      drains until every reading stream has them all or --drain-timeout.
//      With --rate 0 it only holds the streams (workload 4: idle streams
//      with heartbeats) and counts the heartbeats.
//
// Reports deliveries/s, loss (events a reading stream should have received
// and did not), latency p50/p99/max, the server's CPU per delivery (utime +
// stime from /proc/PID/stat over the measuring window, summed over every
// --server-pid) and its marginal RSS per stream (VmRSS from /proc/PID/status
// before connecting and once all are connected, divided by the number
// connected), plus the RSS peak while measuring. Prints one human line on
// stderr and one JSON line on stdout. The exit status is non-zero only when
// the tool could not run (bad options, no server); loss is reported, not
// judged.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <ssepp/http/chunked.hpp>
#include <ssepp/parser.hpp>

namespace {

// --- options ------------------------------------------------------------------

constexpr const char* usage_text = R"(Usage: ssepp-bench-fanout-load --port N [OPTION]...
Hold N event streams on GET /events/CHANNEL, publish through POST
/publish/CHANNEL at a fixed rate, report deliveries, loss, latency and the
server's CPU and memory.

  --host ADDRESS          server address, loopback only (default 127.0.0.1)
  --port N                server port (required)
  --publish-port N        publish to the server on this port instead (another
                          node sharing the channel through a backplane)
  --channel NAME          channel (default bench)
  --clients N             streams to hold (default 1000)
  --stalled K             of which the last K never read after the head
                          (default 0)
  --stalled-rcvbuf BYTES  SO_RCVBUF of the stalled streams, so the server's
                          queue fills within a short run; 0 keeps the
                          system's default (default 16384)
  --rate R                events per second to publish; 0 only holds the
                          streams (default 100)
  --duration S            seconds to publish (or hold) (default 5)
  --payload B             bytes of data per event (default 64)
  --batch N               publish up to N due events per request, as a
                          text/event-stream body (hub_server's batch
                          publishing); the timer then ticks every N/R
                          seconds (default 1: one event per request, its
                          data the body)
  --server-pid PID        server process to measure; repeatable (CPU and
                          RSS are summed over them)
  --server-cpus LIST      cores the server runs on (comma list): the CPU of
                          their ksoftirqd threads counts as the server's too,
                          since loopback does the receiving end's TCP work in
                          the sender's softirq (default: none)
  --label TEXT            name of the server in the output (default server)
  --sources N             127.0.0.x source addresses to spread the streams
                          over, from 127.0.0.2; 0 picks one per 8,000
                          streams, 1 lets the kernel choose (default 0)
  --max-pending N         connections opening at once (default 256)
  --max-publishes N       publish requests in flight at once (default 64)
  --connect-timeout S     for all streams to get their head (default 60)
  --drain-timeout S       after the last publish (default 5)
  -h, --help              print this help and exit
)";

[[noreturn]] void usage_error(const std::string& why) {
  std::fprintf(stderr, "load: %s\nTry 'ssepp-bench-fanout-load --help'.\n", why.c_str());
  std::exit(2);
}

struct options {
  std::string host = "127.0.0.1";
  int port = 0;
  int publish_port = 0;  // 0: port
  std::string channel = "bench";
  std::size_t clients = 1000;
  std::size_t stalled = 0;
  int stalled_rcvbuf = 16384;
  double rate = 100;
  double duration = 5;
  std::size_t payload = 64;
  std::size_t batch = 1;
  std::vector<int> server_pids;
  std::vector<int> server_cpus;
  std::string label = "server";
  std::size_t sources = 0;
  std::size_t max_pending = 256;
  std::size_t max_publishes = 64;
  double connect_timeout = 60;
  double drain_timeout = 5;
};

options parse_options(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(usage_text, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) usage_error("missing value after " + arg);
    const std::string value = argv[++i];
    const auto number = [&](double low, double high) {
      char* end = nullptr;
      const double v = std::strtod(value.c_str(), &end);
      if (end == value.c_str() || *end != '\0' || !(v >= low && v <= high))
        usage_error(arg + " takes a number from " + std::to_string(low) + " to " +
                    std::to_string(high) + ", got '" + value + "'");
      return v;
    };
    if (arg == "--host") {
      o.host = value;
    } else if (arg == "--port") {
      o.port = static_cast<int>(number(1, 65535));
    } else if (arg == "--publish-port") {
      o.publish_port = static_cast<int>(number(1, 65535));
    } else if (arg == "--channel") {
      o.channel = value;
    } else if (arg == "--clients") {
      o.clients = static_cast<std::size_t>(number(1, 1e6));
    } else if (arg == "--stalled") {
      o.stalled = static_cast<std::size_t>(number(0, 1e6));
    } else if (arg == "--stalled-rcvbuf") {
      o.stalled_rcvbuf = static_cast<int>(number(0, 1 << 30));
    } else if (arg == "--rate") {
      o.rate = number(0, 1e7);
    } else if (arg == "--duration") {
      o.duration = number(0.1, 3600);
    } else if (arg == "--payload") {
      o.payload = static_cast<std::size_t>(number(48, 1 << 20));
    } else if (arg == "--batch") {
      o.batch = static_cast<std::size_t>(number(1, 1e5));
    } else if (arg == "--server-pid") {
      o.server_pids.push_back(static_cast<int>(number(1, 1 << 30)));
    } else if (arg == "--server-cpus") {
      for (std::size_t at = 0; at < value.size();) {
        const auto comma = value.find(',', at);
        const std::string item =
            value.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
        char* end = nullptr;
        const long cpu = std::strtol(item.c_str(), &end, 10);
        if (item.empty() || *end != '\0' || cpu < 0)
          usage_error("--server-cpus takes a comma list of core numbers, got '" + value + "'");
        o.server_cpus.push_back(static_cast<int>(cpu));
        if (comma == std::string::npos) break;
        at = comma + 1;
      }
    } else if (arg == "--label") {
      o.label = value;
    } else if (arg == "--sources") {
      o.sources = static_cast<std::size_t>(number(0, 250));
    } else if (arg == "--max-pending") {
      o.max_pending = static_cast<std::size_t>(number(1, 1e6));
    } else if (arg == "--max-publishes") {
      o.max_publishes = static_cast<std::size_t>(number(1, 1e4));
    } else if (arg == "--connect-timeout") {
      o.connect_timeout = number(0.1, 3600);
    } else if (arg == "--drain-timeout") {
      o.drain_timeout = number(0, 3600);
    } else {
      usage_error("unknown option " + arg);
    }
  }
  if (o.port == 0) usage_error("--port is required");
  if (o.stalled >= o.clients) usage_error("--stalled must be less than --clients");
  if (o.host.rfind("127.", 0) != 0)
    usage_error("--host must be a loopback address (127.x.y.z), got '" + o.host + "'");
  if (o.sources == 0) o.sources = (o.clients + 7999) / 8000;
  return o;
}

// --- clocks and /proc -----------------------------------------------------------

std::uint64_t now_ns() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<std::uint64_t>(t.tv_sec) * 1000000000u + static_cast<std::uint64_t>(t.tv_nsec);
}

double seconds_between(std::uint64_t from, std::uint64_t to) {
  return static_cast<double>(to - from) * 1e-9;
}

// utime + stime in seconds, summed over the processes (all their threads).
// The kernel scales both so that they add up to the scheduler's exact
// runtime, which includes the softirq work done in the process's context:
// loopback TCP does the receiving end's protocol work there, on the
// sender's core, right after each write.
double process_cpu_seconds(const std::vector<int>& pids) {
  static const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  double total = 0;
  for (const int pid : pids) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Fields after the command name (which may hold spaces) in ')': state is
    // field 3, utime 14, stime 15.
    const auto paren = text.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream fields(text.substr(paren + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int n = 3; n <= 15 && fields >> field; ++n) {
      if (n == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
      if (n == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
    }
    total += static_cast<double>(utime + stime) / ticks;
  }
  return total;
}

// VmRSS in KiB, summed over the processes.
long rss_kib(const std::vector<int>& pids) {
  long total = 0;
  for (const int pid : pids) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("VmRSS:", 0) == 0) total += std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return total;
}

// Busy time of each core from /proc/stat (everything but idle and iowait),
// in seconds: tick-sampled, only to tell how much other processes took.
struct core_times {
  std::vector<double> busy;
};

core_times read_core_times() {
  static const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  core_times t;
  std::ifstream in("/proc/stat");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("cpu", 0) != 0 || line.size() < 4 ||
        !std::isdigit(static_cast<unsigned char>(line[3])))
      continue;
    // user nice system idle iowait irq softirq steal
    std::istringstream fields(line.substr(line.find(' ')));
    double busy = 0, value = 0;
    for (int i = 0; i < 8 && fields >> value; ++i)
      if (i != 3 && i != 4) busy += value;
    t.busy.push_back(busy / ticks);
  }
  return t;
}

// Bytes waiting in the kernel's send queues of the server's established
// sockets on PORT (/proc/net/tcp tx_queue): what a client that does not read
// costs the machine outside the server's RSS. Linux grows a socket's send
// buffer up to tcp_wmem's maximum (4 MiB by default), so it holds a
// stalled stream's events for a long while before a server's own queue
// sees any.
long long server_send_queue_bytes(int port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line);  // header
  long long total = 0;
  while (std::getline(in, line)) {
    // "  sl  local_address rem_address   st tx_queue:rx_queue ..."
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues;
    if (!(fields >> slot >> local >> remote >> state >> queues)) continue;
    const auto colon = local.find(':');
    if (colon == std::string::npos || state != "01") continue;
    if (std::strtol(local.c_str() + colon + 1, nullptr, 16) != port) continue;
    total += std::strtoll(queues.c_str(), nullptr, 16);
  }
  return total;
}

// The ksoftirqd threads of the given cores. Softirq work that does not fit
// in the sending process's context (under load the kernel defers it) runs
// there: on a core where only the server runs, it is the server's cost too.
std::vector<int> ksoftirqd_pids(const std::vector<int>& cores) {
  std::vector<int> pids;
  for (const int core : cores) {
    const std::string name = "ksoftirqd/" + std::to_string(core);
    for (int pid = 1; pid < 4096; ++pid) {
      std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
      std::string comm;
      if (std::getline(in, comm) && comm == name) {
        pids.push_back(pid);
        break;
      }
    }
  }
  return pids;
}

double self_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

// --- latency histogram ------------------------------------------------------------

// Log-linear buckets over nanoseconds: 2^(sub_bits-1) buckets per power of
// two, so a reported percentile is within 0.4% of the true one, in 17 KiB.
class histogram {
 public:
  void record(std::uint64_t v) {
    ++counts_[index(v)];
    ++total_;
    max_ = std::max(max_, v);
  }
  std::uint64_t total() const { return total_; }
  std::uint64_t max() const { return max_; }
  // The value at quantile q (0..1]: the midpoint of its bucket.
  std::uint64_t quantile(double q) const {
    if (total_ == 0) return 0;
    const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total_)));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(midpoint(i), max_);
    }
    return max_;
  }

 private:
  static constexpr unsigned sub_bits = 9;
  static constexpr std::size_t half = std::size_t{1} << (sub_bits - 1);
  static std::size_t index(std::uint64_t v) {
    if (v < (std::uint64_t{1} << sub_bits)) return static_cast<std::size_t>(v);
    const unsigned msb = 63u - static_cast<unsigned>(__builtin_clzll(v));
    const unsigned shift = msb - sub_bits + 1;
    return shift * half + static_cast<std::size_t>(v >> shift);
  }
  static std::uint64_t midpoint(std::size_t i) {
    if (i < (std::size_t{1} << sub_bits)) return i;
    const std::size_t shift = i / half - 1;
    const std::uint64_t mantissa = i - shift * half;
    return (mantissa << shift) + ((std::uint64_t{1} << shift) >> 1);
  }
  std::vector<std::uint64_t> counts_ = std::vector<std::uint64_t>((64 - sub_bits + 2) * half);
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

// --- HTTP bits -------------------------------------------------------------------

bool iequals_prefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    const char a = static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
    if (a != prefix[i]) return false;
  }
  return true;
}

// What the load tool needs from a response head.
struct response_head {
  int status = 0;
  bool http11 = false;
  bool chunked = false;
  bool close = false;
  long long content_length = -1;
  std::string status_line;
};

response_head parse_head(std::string_view head) {
  response_head r;
  auto line_end = head.find("\r\n");
  r.status_line = std::string(head.substr(0, line_end));
  if (iequals_prefix(head, "http/1.1 ")) r.http11 = true;
  if (head.size() > 12) r.status = std::atoi(std::string(head.substr(9, 3)).c_str());
  while (line_end != std::string_view::npos && line_end + 2 < head.size()) {
    const auto start = line_end + 2;
    line_end = head.find("\r\n", start);
    const std::string_view line =
        head.substr(start, line_end == std::string_view::npos ? head.npos : line_end - start);
    std::string lower(line);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.rfind("transfer-encoding:", 0) == 0 && lower.find("chunked") != std::string::npos)
      r.chunked = true;
    if (lower.rfind("connection:", 0) == 0 && lower.find("close") != std::string::npos)
      r.close = true;
    if (lower.rfind("content-length:", 0) == 0)
      r.content_length = std::strtoll(lower.c_str() + 15, nullptr, 10);
  }
  return r;
}

// --- the tool ------------------------------------------------------------------------

class load;

// Everything registered with epoll; data.ptr points at one of these.
struct pollable {
  int fd = -1;
  virtual void ready(std::uint32_t events) = 0;
  virtual ~pollable() = default;
};

// One event stream.
class subscriber final : public pollable {
 public:
  enum class state { connecting, requesting, head, streaming, stalled, closed };

  subscriber(load& owner, bool stalled) : owner_(owner), stalled_(stalled) {}
  void start(const sockaddr_in& server, const sockaddr_in* source, int rcvbuf);
  void ready(std::uint32_t events) override;
  // The end of the run: read what a stalled stream holds, to learn whether
  // the server closed it.
  void resume_reading();
  void close(bool counted);

  state current() const { return state_; }
  bool stalled() const { return stalled_; }
  bool synced() const { return synced_; }
  std::uint64_t received() const { return received_; }
  bool got_heartbeat() const { return heartbeats_ > 0; }
  bool saw_end() const { return saw_end_; }
  bool opened() const { return opened_; }

 private:
  friend class load;
  struct stream_handler {
    subscriber* self;
    void on_event(const ssepp::message& m) { self->on_message(m); }
    void on_comment(std::string_view) { ++self->heartbeats_; }
  };
  void on_message(const ssepp::message& m);
  void on_body(std::string_view bytes);
  void send_request();

  load& owner_;
  bool stalled_;
  state state_ = state::connecting;
  std::size_t request_sent_ = 0;
  std::string head_;
  bool chunked_ = false;
  ssepp::http::chunked_decoder decoder_;
  ssepp::parser<stream_handler> parser_{stream_handler{this}};
  bool synced_ = false;
  bool saw_end_ = false;
  bool opened_ = false;  // its response head was 200
  std::uint64_t received_ = 0;
  std::uint64_t heartbeats_ = 0;
  std::vector<std::uint64_t> seen_;  // bit SEQ: event SEQ received
};

// One publish request's connection; kept alive when the server allows.
class publisher final : public pollable {
 public:
  explicit publisher(load& owner) : owner_(owner) {}
  bool connect_to(const sockaddr_in& server);
  void send(std::string request);
  void ready(std::uint32_t events) override;
  bool idle() const { return idle_; }

 private:
  void finish(bool ok, bool keep_alive, const std::string& why);
  void flush();

  load& owner_;
  bool connected_ = false;
  bool idle_ = true;
  std::string out_;
  std::size_t sent_ = 0;
  std::string in_;
};

class load {
 public:
  explicit load(options o);
  int run();

  // For the connections:
  int epoll() const { return epoll_; }
  const std::string& stream_request() const { return stream_request_; }
  std::uint64_t read_time() const { return read_time_; }
  void set_read_time(std::uint64_t t) { read_time_ = t; }
  char* read_buffer() { return buffer_.data(); }
  std::size_t read_buffer_size() const { return buffer_.size(); }
  void stream_opened(subscriber& s, const response_head& h);
  void stream_failed(subscriber& s, const std::string& why);
  void stream_closed(subscriber& s);
  void measured(subscriber& s, std::int64_t seq, std::uint64_t stamp);
  void synced(subscriber&) { ++synced_; }
  void other_event() { ++other_events_; }
  void publish_done(publisher& p, bool had_request, bool ok, bool keep_alive,
                    const std::string& why);

 private:
  void open_more_streams(std::uint64_t now);
  std::string event_data(char kind, std::int64_t seq) const;
  void publish(char kind, std::int64_t seq);
  void publish_batch(std::int64_t first, std::int64_t count);
  void send_publish(const std::string& body, const char* content_type);
  void start_publish(std::string request);
  void poll_once(int timeout_ms);
  void sample_rss();
  void report();

  options o_;
  sockaddr_in server_{};
  sockaddr_in publish_server_{};  // where POSTs go (--publish-port)
  std::vector<sockaddr_in> sources_;
  int epoll_ = -1;
  std::string stream_request_;
  std::vector<char> buffer_ = std::vector<char>(std::size_t{1} << 18);
  std::uint64_t read_time_ = 0;

  std::vector<std::unique_ptr<subscriber>> streams_;
  std::size_t pending_ = 0;  // opened, head not yet received
  std::size_t opened_ = 0;
  std::size_t failed_ = 0;
  std::size_t closed_during_run_ = 0;
  std::string first_failure_;
  std::size_t synced_ = 0;
  std::size_t stalled_streams_ = 0;

  std::vector<std::unique_ptr<publisher>> publishers_;
  std::vector<publisher*> idle_publishers_;
  std::deque<std::string> waiting_publishes_;
  std::size_t publishes_in_flight_ = 0;
  std::uint64_t publish_errors_ = 0;
  std::string first_publish_error_;

  bool measuring_ = false;
  std::int64_t published_ = 0;  // measured events issued
  std::uint64_t received_ = 0;
  std::uint64_t duplicates_ = 0;
  std::uint64_t out_of_order_ = 0;
  std::uint64_t other_events_ = 0;
  std::uint64_t last_receive_ = 0;
  histogram latency_;

  // Measurements.
  long rss_before_ = 0, rss_connected_ = 0, rss_end_ = 0, rss_peak_ = 0;
  double server_cpu_ = 0, self_cpu_ = 0, window_ = 0;
  double server_softirq_ = 0;  // CPU of the ksoftirqd threads of --server-cpus
  double connect_seconds_ = 0;
  std::uint64_t heartbeats_ = 0;
  std::size_t streams_with_heartbeat_ = 0;
  std::size_t stalled_closed_ = 0;
  std::uint64_t stalled_received_ = 0;
  long long send_queue_end_ = 0;  // bytes, with --stalled: at the end of the run
};

// --- subscriber -------------------------------------------------------------------------

void subscriber::start(const sockaddr_in& server, const sockaddr_in* source, int rcvbuf) {
  fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return owner_.stream_failed(*this, std::string("socket: ") + std::strerror(errno));
  if (stalled_ && rcvbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (source) {
    // The port is picked at connect() time, per destination: without this
    // flag bind() would reserve it for every destination.
    const int one = 1;
    ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(source), sizeof *source) != 0)
      return owner_.stream_failed(*this, std::string("bind: ") + std::strerror(errno));
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&server), sizeof server) != 0 &&
      errno != EINPROGRESS)
    return owner_.stream_failed(*this, std::string("connect: ") + std::strerror(errno));
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ev.data.ptr = static_cast<pollable*>(this);
  ::epoll_ctl(owner_.epoll(), EPOLL_CTL_ADD, fd, &ev);
}

void subscriber::send_request() {
  const std::string& request = owner_.stream_request();
  while (request_sent_ < request.size()) {
    const ssize_t n =
        ::send(fd, request.data() + request_sent_, request.size() - request_sent_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN) return;
      return owner_.stream_failed(*this, std::string("send: ") + std::strerror(errno));
    }
    request_sent_ += static_cast<std::size_t>(n);
  }
  state_ = state::head;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = static_cast<pollable*>(this);
  ::epoll_ctl(owner_.epoll(), EPOLL_CTL_MOD, fd, &ev);
}

void subscriber::ready(std::uint32_t events) {
  if (state_ == state::closed) return;  // closed earlier in this batch of events
  if (state_ == state::connecting) {
    int error = 0;
    socklen_t size = sizeof error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size);
    if (error != 0)
      return owner_.stream_failed(*this, std::string("connect: ") + std::strerror(error));
    state_ = state::requesting;
  }
  if (state_ == state::requesting) return send_request();
  if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;

  // Level-triggered: one read per wake-up unless it filled the buffer.
  for (;;) {
    const ssize_t n = ::read(fd, owner_.read_buffer(), owner_.read_buffer_size());
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      if (state_ == state::head)
        return owner_.stream_failed(*this, n == 0 ? "closed before the response head"
                                                  : std::string("read: ") + std::strerror(errno));
      saw_end_ = true;
      return owner_.stream_closed(*this);
    }
    if (n < 0) return;
    owner_.set_read_time(now_ns());
    std::string_view bytes(owner_.read_buffer(), static_cast<std::size_t>(n));
    if (state_ == state::head) {
      const std::size_t old = head_.size();
      head_.append(bytes);
      const auto end = head_.find("\r\n\r\n", old >= 3 ? old - 3 : 0);
      if (end == std::string::npos) {
        if (head_.size() > 65536) return owner_.stream_failed(*this, "response head over 64 KiB");
        continue;
      }
      const response_head h = parse_head(std::string_view(head_).substr(0, end + 2));
      if (h.status != 200) return owner_.stream_failed(*this, "answered '" + h.status_line + "'");
      chunked_ = h.chunked;
      const std::string rest = head_.substr(end + 4);
      head_ = std::string();
      state_ = stalled_ ? state::stalled : state::streaming;
      opened_ = true;
      owner_.stream_opened(*this, h);
      if (state_ == state::stalled) return;  // whatever came with the head is ignored
      on_body(rest);
    } else {
      on_body(bytes);
    }
    if (state_ == state::closed || static_cast<std::size_t>(n) < owner_.read_buffer_size()) return;
  }
}

void subscriber::on_body(std::string_view bytes) {
  if (bytes.empty()) return;
  if (!chunked_) {
    parser_.feed(bytes);
    return;
  }
  // Anything but `more` is the end: the last chunk, or a malformed coding.
  if (decoder_.feed(bytes, [this](std::string_view body) { parser_.feed(body); }) !=
      ssepp::http::chunked_decoder::result::more) {
    saw_end_ = true;
    owner_.stream_closed(*this);
  }
}

void subscriber::on_message(const ssepp::message& m) {
  std::string_view data = m.data;
  // better-sse serialises data as JSON: a string arrives quoted.
  if (!data.empty() && data.front() == '"') data.remove_prefix(1);
  if (!data.empty() && data.front() == 'S') {
    if (!synced_) {
      synced_ = true;
      owner_.synced(*this);
    }
    return;
  }
  // "SEQ STAMP ...": parsed in place, no allocation (the load tool must
  // stay cheaper than the servers it measures).
  const auto number = [&data](std::size_t& at, std::uint64_t& value) {
    const std::size_t start = at;
    value = 0;
    while (at < data.size() && data[at] >= '0' && data[at] <= '9')
      value = value * 10 + static_cast<std::uint64_t>(data[at++] - '0');
    return at > start && at - start <= 19;
  };
  std::size_t at = 0;
  std::uint64_t seq_value = 0, stamp = 0;
  if (!number(at, seq_value) || at >= data.size() || data[at] != ' ' || !number(++at, stamp)) {
    ++heartbeats_;  // nchan's pings are events of their own type
    return owner_.other_event();
  }
  if (seq_value > (std::uint64_t{1} << 32)) return owner_.other_event();  // not one of ours
  const auto seq = static_cast<std::int64_t>(seq_value);
  // Publish requests run concurrently, so a server may take them in
  // another order than they were issued: order is not checked, duplicates
  // are (one bit per published event).
  const auto bit = static_cast<std::uint64_t>(seq);
  if (bit / 64 >= seen_.size()) seen_.resize(bit / 64 + 1);
  std::uint64_t& word = seen_[bit / 64];
  const std::uint64_t mask = std::uint64_t{1} << (bit % 64);
  if (word & mask) {
    owner_.measured(*this, -1, 0);
    return;
  }
  word |= mask;
  ++received_;
  owner_.measured(*this, seq, stamp);
}

void subscriber::resume_reading() {
  if (state_ != state::stalled) return;
  state_ = state::streaming;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = static_cast<pollable*>(this);
  ::epoll_ctl(owner_.epoll(), EPOLL_CTL_ADD, fd, &ev);
}

void subscriber::close(bool) {
  if (fd >= 0) {
    ::epoll_ctl(owner_.epoll(), EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    fd = -1;
  }
  state_ = state::closed;
}

// --- publisher ---------------------------------------------------------------------------

bool publisher::connect_to(const sockaddr_in& server) {
  fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&server), sizeof server) != 0 &&
      errno != EINPROGRESS) {
    ::close(fd);
    fd = -1;
    return false;
  }
  epoll_event ev{};
  ev.events = EPOLLOUT | EPOLLIN;
  ev.data.ptr = static_cast<pollable*>(this);
  ::epoll_ctl(owner_.epoll(), EPOLL_CTL_ADD, fd, &ev);
  return true;
}

void publisher::send(std::string request) {
  idle_ = false;
  out_ = std::move(request);
  sent_ = 0;
  in_.clear();
  if (connected_) flush();
}

void publisher::flush() {
  while (sent_ < out_.size()) {
    const ssize_t n = ::send(fd, out_.data() + sent_, out_.size() - sent_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN) break;
      return finish(false, false, std::string("send: ") + std::strerror(errno));
    }
    sent_ += static_cast<std::size_t>(n);
  }
  epoll_event ev{};
  ev.events = EPOLLIN | (sent_ < out_.size() ? EPOLLOUT : 0u);
  ev.data.ptr = static_cast<pollable*>(this);
  ::epoll_ctl(owner_.epoll(), EPOLL_CTL_MOD, fd, &ev);
}

void publisher::ready(std::uint32_t events) {
  if (fd < 0) return;  // closed earlier in this batch of events
  if (!connected_ && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
    int error = 0;
    socklen_t size = sizeof error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size);
    if (error != 0) return finish(false, false, std::string("connect: ") + std::strerror(error));
    connected_ = true;
    if (!idle_) flush();
    return;
  }
  if ((events & EPOLLOUT) && sent_ < out_.size()) flush();
  if (fd < 0 || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
  char buffer[4096];
  const ssize_t n = ::read(fd, buffer, sizeof buffer);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n > 0) in_.append(buffer, static_cast<std::size_t>(n));
  if (idle_) {
    // Nothing asked: the server closed a kept-alive connection.
    if (n <= 0) finish(false, false, "");
    return;
  }
  const auto end = in_.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (n <= 0) finish(false, false, "closed before the response head");
    return;
  }
  const response_head h = parse_head(std::string_view(in_).substr(0, end + 2));
  const std::size_t body = in_.size() - end - 4;
  bool complete = false;
  if (h.content_length >= 0) {
    complete = body >= static_cast<std::size_t>(h.content_length);
  } else if (h.chunked) {
    complete = in_.size() >= 5 && in_.compare(in_.size() - 5, 5, "0\r\n\r\n") == 0;
  } else {
    complete = n <= 0;  // delimited by the close
  }
  if (!complete) {
    if (n <= 0) finish(false, false, "closed in the middle of the response");
    return;
  }
  const bool ok = h.status >= 200 && h.status < 300;
  finish(ok, ok && h.http11 && !h.close && n > 0, ok ? "" : "answered '" + h.status_line + "'");
}

void publisher::finish(bool ok, bool keep_alive, const std::string& why) {
  const bool had_request = !idle_;
  idle_ = true;
  owner_.publish_done(*this, had_request, ok, keep_alive, why);
}

// Wakes the measuring loop when the next event is due.
struct ticker final : pollable {
  void ready(std::uint32_t) override {
    std::uint64_t expirations = 0;
    [[maybe_unused]] const auto n = ::read(fd, &expirations, sizeof expirations);
  }
};

// --- load --------------------------------------------------------------------------------

load::load(options o) : o_(std::move(o)) {
  server_.sin_family = AF_INET;
  server_.sin_port = htons(static_cast<std::uint16_t>(o_.port));
  if (::inet_pton(AF_INET, o_.host.c_str(), &server_.sin_addr) != 1)
    usage_error("--host is not an IPv4 address: '" + o_.host + "'");
  publish_server_ = server_;
  if (o_.publish_port != 0)
    publish_server_.sin_port = htons(static_cast<std::uint16_t>(o_.publish_port));
  if (o_.sources > 1) {
    for (std::size_t i = 0; i < o_.sources; ++i) {
      sockaddr_in s{};
      s.sin_family = AF_INET;
      s.sin_addr.s_addr = htonl(0x7f000002u + static_cast<std::uint32_t>(i));
      sources_.push_back(s);
    }
  }
  stream_request_ = "GET /events/" + o_.channel + " HTTP/1.1\r\nHost: " + o_.host + ":" +
                    std::to_string(o_.port) +
                    "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n";
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
}

void load::stream_opened(subscriber& s, const response_head&) {
  --pending_;
  ++opened_;
  if (s.stalled()) {
    // A client that never reads: out of epoll, its socket fills.
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, s.fd, nullptr);
    ++stalled_streams_;
  }
}

void load::stream_failed(subscriber& s, const std::string& why) {
  if (s.current() != subscriber::state::closed) --pending_;
  ++failed_;
  if (first_failure_.empty()) first_failure_ = why;
  s.close(false);
}

void load::stream_closed(subscriber& s) {
  if (measuring_ && !s.stalled()) ++closed_during_run_;
  s.close(true);
}

void load::measured(subscriber&, std::int64_t seq, std::uint64_t stamp) {
  if (seq < 0) {
    ++duplicates_;
    return;
  }
  if (!measuring_) return;
  ++received_;
  last_receive_ = read_time_;
  latency_.record(read_time_ > stamp ? read_time_ - stamp : 0);
}

void load::publish_done(publisher& p, bool had_request, bool ok, bool keep_alive,
                        const std::string& why) {
  if (had_request) {
    --publishes_in_flight_;
    if (!ok) {
      ++publish_errors_;
      if (first_publish_error_.empty()) first_publish_error_ = why;
    }
  }
  if (keep_alive) {
    if (!waiting_publishes_.empty()) {
      ++publishes_in_flight_;
      p.send(std::move(waiting_publishes_.front()));
      waiting_publishes_.pop_front();
    } else {
      idle_publishers_.push_back(&p);
    }
    return;
  }
  // Closed: forget it (and any idle reference to it); the object itself is
  // freed later, by publish(), outside any batch of epoll events.
  idle_publishers_.erase(std::remove(idle_publishers_.begin(), idle_publishers_.end(), &p),
                         idle_publishers_.end());
  ::epoll_ctl(epoll_, EPOLL_CTL_DEL, p.fd, nullptr);
  ::close(p.fd);
  p.fd = -1;
  if (!waiting_publishes_.empty() && publishes_in_flight_ < o_.max_publishes) {
    std::string next = std::move(waiting_publishes_.front());
    waiting_publishes_.pop_front();
    start_publish(std::move(next));
  }
}

void load::start_publish(std::string request) {
  auto p = std::make_unique<publisher>(*this);
  if (!p->connect_to(publish_server_)) {
    ++publish_errors_;
    if (first_publish_error_.empty())
      first_publish_error_ = std::string("connect: ") + std::strerror(errno);
    return;
  }
  ++publishes_in_flight_;
  p->send(std::move(request));
  publishers_.push_back(std::move(p));
}

// Data: "S STAMP" (sync) or "SEQ STAMP", dots up to the payload size.
std::string load::event_data(char kind, std::int64_t seq) const {
  std::string data =
      (kind == 'S' ? std::string("S") : std::to_string(seq)) + " " + std::to_string(now_ns()) + " ";
  if (data.size() < o_.payload) data.append(o_.payload - data.size(), '.');
  return data;
}

void load::publish(char kind, std::int64_t seq) {
  send_publish(event_data(kind, seq), "text/plain");
}

// Events first .. first + count - 1 in one text/event-stream body.
void load::publish_batch(std::int64_t first, std::int64_t count) {
  std::string body;
  body.reserve(static_cast<std::size_t>(count) * (o_.payload + 8));
  for (std::int64_t seq = first; seq < first + count; ++seq) {
    body += "data: ";
    body += event_data('M', seq);
    body += "\n\n";
  }
  send_publish(body, "text/event-stream");
}

void load::send_publish(const std::string& body, const char* content_type) {
  std::string request = "POST /publish/" + o_.channel + " HTTP/1.1\r\nHost: " + o_.host + ":" +
                        std::to_string(o_.publish_port != 0 ? o_.publish_port : o_.port) +
                        "\r\nContent-Type: " + content_type +
                        "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  if (!idle_publishers_.empty()) {
    publisher* p = idle_publishers_.back();
    idle_publishers_.pop_back();
    ++publishes_in_flight_;
    p->send(std::move(request));
    return;
  }
  if (publishes_in_flight_ >= o_.max_publishes) {
    waiting_publishes_.push_back(std::move(request));
    return;
  }
  start_publish(std::move(request));
  // Closed publishers are dropped from time to time, not one by one.
  if (publishers_.size() > 4 * o_.max_publishes) {
    publishers_.erase(std::remove_if(publishers_.begin(), publishers_.end(),
                                     [](const std::unique_ptr<publisher>& q) { return q->fd < 0; }),
                      publishers_.end());
  }
}

void load::open_more_streams(std::uint64_t) {
  while (pending_ < o_.max_pending && streams_.size() < o_.clients) {
    const std::size_t i = streams_.size();
    const bool stalled = i >= o_.clients - o_.stalled;
    streams_.push_back(std::make_unique<subscriber>(*this, stalled));
    ++pending_;
    streams_.back()->start(server_, sources_.empty() ? nullptr : &sources_[i % sources_.size()],
                           o_.stalled_rcvbuf);
  }
}

void load::poll_once(int timeout_ms) {
  epoll_event events[512];
  const int n = ::epoll_wait(epoll_, events, 512, timeout_ms);
  for (int i = 0; i < n; ++i) {
    auto* p = static_cast<pollable*>(events[i].data.ptr);
    p->ready(events[i].events);
  }
}

void load::sample_rss() {
  if (o_.server_pids.empty()) return;
  rss_peak_ = std::max(rss_peak_, rss_kib(o_.server_pids));
}

int load::run() {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  if (o_.clients + 64 + o_.max_publishes > limit.rlim_cur)
    std::fprintf(stderr, "load: warning: %zu streams need more descriptors than the limit %llu\n",
                 o_.clients, static_cast<unsigned long long>(limit.rlim_cur));

  rss_before_ = rss_kib(o_.server_pids);

  // 1. Connect.
  const std::uint64_t connect_start = now_ns();
  const auto connect_deadline =
      connect_start + static_cast<std::uint64_t>(o_.connect_timeout * 1e9);
  while ((streams_.size() < o_.clients || pending_ > 0) && now_ns() < connect_deadline) {
    open_more_streams(now_ns());
    poll_once(10);
  }
  connect_seconds_ = seconds_between(connect_start, now_ns());
  for (auto& s : streams_) {
    const auto st = s->current();
    if (st != subscriber::state::streaming && st != subscriber::state::stalled &&
        st != subscriber::state::closed) {
      s->close(false);
      ++failed_;
      if (first_failure_.empty()) first_failure_ = "no response head within --connect-timeout";
    }
  }
  pending_ = 0;
  if (opened_ == 0) {
    std::fprintf(stderr, "load: %s: no stream opened (%s)\n", o_.label.c_str(),
                 first_failure_.c_str());
    return 1;
  }

  // 2. Sync: a marker every 50 ms until every reading stream has one.
  std::size_t reading = 0;
  for (auto& s : streams_)
    if (s->current() == subscriber::state::streaming) ++reading;
  const std::uint64_t sync_deadline = now_ns() + 15'000'000'000u;
  std::uint64_t next_marker = 0;
  while (synced_ < reading && now_ns() < sync_deadline) {
    if (now_ns() >= next_marker) {
      publish('S', 0);
      next_marker = now_ns() + 50'000'000u;
    }
    poll_once(5);
  }
  // Let the markers' publish requests finish before measuring.
  const std::uint64_t settle = now_ns() + 200'000'000u;
  while (now_ns() < settle) poll_once(5);
  rss_connected_ = rss_kib(o_.server_pids);
  rss_peak_ = rss_connected_;
  for (auto& s : streams_) s->heartbeats_ = 0;

  // 3. Measure.
  const std::int64_t total = static_cast<std::int64_t>(std::llround(o_.rate * o_.duration));
  const double cpu0 = process_cpu_seconds(o_.server_pids);
  const double self0 = self_cpu_seconds();
  const core_times cores0 = read_core_times();
  const std::vector<int> softirq_threads = ksoftirqd_pids(o_.server_cpus);
  const double softirq0 = process_cpu_seconds(softirq_threads);
  const std::uint64_t t0 = now_ns();
  measuring_ = true;
  last_receive_ = t0;
  std::uint64_t next_sample = t0;
  const std::uint64_t hold_end = t0 + static_cast<std::uint64_t>(o_.duration * 1e9);
  ticker tick;
  if (total > 0) {
    tick.fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    itimerspec period{};
    // With batches the timer ticks once per batch's worth of events, so a
    // tick finds a whole batch due.
    const auto interval = static_cast<long long>(1e9 * static_cast<double>(o_.batch) / o_.rate);
    period.it_interval.tv_sec = static_cast<time_t>(interval / 1000000000);
    period.it_interval.tv_nsec = static_cast<long>(interval % 1000000000);
    period.it_value = period.it_interval;
    ::timerfd_settime(tick.fd, 0, &period, nullptr);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = static_cast<pollable*>(&tick);
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, tick.fd, &ev);
  }
  // What is published follows elapsed time, not the count of timer ticks,
  // so a late wake-up publishes everything that became due: the rate holds.
  while (published_ < total) {
    const std::uint64_t now = now_ns();
    const auto due = std::min<std::int64_t>(
        total, static_cast<std::int64_t>(seconds_between(t0, now) * o_.rate) + 1);
    while (published_ < due) {
      if (o_.batch == 1) {
        publish('M', published_++);
        continue;
      }
      const std::int64_t count =
          std::min<std::int64_t>(due - published_, static_cast<std::int64_t>(o_.batch));
      publish_batch(published_, count);
      published_ += count;
    }
    if (now >= next_sample) {
      sample_rss();
      next_sample = now + 100'000'000u;
    }
    poll_once(10);
  }
  if (tick.fd >= 0) {
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, tick.fd, nullptr);
    ::close(tick.fd);
  }
  const std::uint64_t publish_end = now_ns();

  // Every reading stream that opened should get every event, whether or
  // not its sync marker came (a missing one is loss too), and whether or
  // not the server closed it since.
  std::uint64_t expected = 0;
  for (auto& s : streams_)
    if (!s->stalled() && s->opened()) expected += static_cast<std::uint64_t>(published_);
  if (total > 0) {
    const std::uint64_t drain_end =
        publish_end + static_cast<std::uint64_t>(o_.drain_timeout * 1e9);
    while (received_ < expected && now_ns() < drain_end) {
      poll_once(10);
      if (now_ns() >= next_sample) {
        sample_rss();
        next_sample = now_ns() + 100'000'000u;
      }
    }
  } else {
    while (now_ns() < hold_end) {
      poll_once(10);
      if (now_ns() >= next_sample) {
        sample_rss();
        next_sample = now_ns() + 100'000'000u;
      }
    }
    last_receive_ = now_ns();
  }
  const std::uint64_t t1 = total > 0 ? std::max(last_receive_, publish_end) : now_ns();
  server_cpu_ = process_cpu_seconds(o_.server_pids) - cpu0;
  self_cpu_ = self_cpu_seconds() - self0;
  window_ = seconds_between(t0, now_ns());
  const core_times cores1 = read_core_times();
  server_softirq_ = process_cpu_seconds(softirq_threads) - softirq0;
  std::string cores_busy;
  for (std::size_t i = 0; i < cores0.busy.size() && i < cores1.busy.size(); ++i) {
    char item[32];
    std::snprintf(item, sizeof item, "%s%.3f", i ? "," : "",
                  window_ > 0 ? (cores1.busy[i] - cores0.busy[i]) / window_ : 0);
    cores_busy += item;
  }
  const double delivery_window = seconds_between(t0, t1);
  rss_end_ = rss_kib(o_.server_pids);
  rss_peak_ = std::max(rss_peak_, rss_end_);
  measuring_ = false;
  for (auto& s : streams_) {
    if (s->stalled()) continue;
    heartbeats_ += s->heartbeats_;
    if (s->got_heartbeat()) ++streams_with_heartbeat_;
  }

  // What the stalled streams hold in the kernel, once at the end of the run
  // (it only grows while they stall): reading /proc/net/tcp walks every
  // socket of the machine, too costly to sample while measuring.
  if (o_.stalled > 0) send_queue_end_ = server_send_queue_bytes(o_.port);

  // The stalled streams: read what they hold for up to a second; an end of
  // stream means the server closed them (a slow-consumer policy).
  if (stalled_streams_ > 0) {
    std::vector<std::uint64_t> before;
    for (auto& s : streams_) before.push_back(s->received());
    for (auto& s : streams_)
      if (s->stalled()) s->resume_reading();
    const std::uint64_t end = now_ns() + 1'000'000'000u;
    while (now_ns() < end) poll_once(10);
    for (std::size_t i = 0; i < streams_.size(); ++i) {
      if (!streams_[i]->stalled()) continue;
      if (streams_[i]->saw_end()) ++stalled_closed_;
      stalled_received_ += streams_[i]->received() - before[i];
    }
  }

  // --- report ---
  const std::uint64_t loss = expected > received_ ? expected - received_ : 0;
  const double deliveries_per_s =
      delivery_window > 0 ? static_cast<double>(received_) / delivery_window : 0;
  const double cpu_us = received_ > 0 ? server_cpu_ * 1e6 / static_cast<double>(received_) : 0;
  const double cpu_us_with_softirq =
      received_ > 0 ? (server_cpu_ + server_softirq_) * 1e6 / static_cast<double>(received_) : 0;
  const std::size_t connected = opened_;
  const double rss_per_conn = connected > 0 ? static_cast<double>(rss_connected_ - rss_before_) *
                                                  1024.0 / static_cast<double>(connected)
                                            : 0;
  const double rss_end_per_conn = connected > 0 ? static_cast<double>(rss_end_ - rss_before_) *
                                                      1024.0 / static_cast<double>(connected)
                                                : 0;
  const double ms = 1e-6;
  const double load_util = window_ > 0 ? self_cpu_ / window_ : 0;
  const double server_util = window_ > 0 ? server_cpu_ / window_ : 0;

  std::fprintf(
      stderr,
      "load: %s: %zu/%zu streams (%zu stalled) in %.1f s; %" PRId64
      " events at %g/s: "
      "%" PRIu64 " of %" PRIu64 " delivered, loss %" PRIu64
      ", %.0f deliveries/s; latency "
      "p50 %.2f ms p99 %.2f ms max %.2f ms; server %.3f us CPU/delivery, %.3f with its cores' "
      "ksoftirqd (%.0f%% of a core), "
      "RSS %ld -> %ld KiB (%.0f B/stream), end %ld KiB, peak %ld KiB; heartbeats %" PRIu64
      " on %zu streams; load tool %.0f%% of a core%s\n",
      o_.label.c_str(), connected, o_.clients, stalled_streams_, connect_seconds_, published_,
      o_.rate, received_, expected, loss, deliveries_per_s,
      static_cast<double>(latency_.quantile(0.5)) * ms,
      static_cast<double>(latency_.quantile(0.99)) * ms, static_cast<double>(latency_.max()) * ms,
      cpu_us, cpu_us_with_softirq, server_util * 100, rss_before_, rss_connected_, rss_per_conn,
      rss_end_, rss_peak_, heartbeats_, streams_with_heartbeat_, load_util * 100,
      load_util > 0.9 ? " (the load tool may be the bottleneck)" : "");
  if (failed_ > 0)
    std::fprintf(stderr, "load: %s: %zu streams failed; first: %s\n", o_.label.c_str(), failed_,
                 first_failure_.c_str());
  if (publish_errors_ > 0)
    std::fprintf(stderr, "load: %s: %" PRIu64 " publish errors; first: %s\n", o_.label.c_str(),
                 publish_errors_, first_publish_error_.c_str());

  const auto escape = [](const std::string& s) {
    std::string out;
    for (const char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      if (static_cast<unsigned char>(c) >= 0x20) out += c;
    }
    return out;
  };
  std::printf(
      "{\"tool\":\"load\",\"server\":\"%s\",\"clients\":%zu,\"connected\":%zu,\"failed\":%zu,"
      "\"first_failure\":\"%s\",\"stalled\":%zu,\"rate\":%g,\"duration_s\":%g,\"payload\":%zu,"
      "\"batch\":%zu,"
      "\"connect_s\":%.3f,\"synced\":%zu,\"published\":%" PRId64 ",\"publish_errors\":%" PRIu64
      ",\"first_publish_error\":\"%s\",\"expected\":%" PRIu64 ",\"received\":%" PRIu64
      ",\"loss\":%" PRIu64 ",\"duplicates\":%" PRIu64
      ",\"closed_during_run\":%zu,"
      "\"deliveries_per_s\":%.1f,\"latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},"
      "\"server_cpu_s\":%.3f,\"server_cpu_util\":%.3f,\"server_cpu_us_per_delivery\":%.4f,"
      "\"server_ksoftirqd_s\":%.3f,\"server_cpu_us_per_delivery_with_ksoftirqd\":%.4f,"
      "\"rss_before_kib\":%ld,\"rss_connected_kib\":%ld,\"rss_end_kib\":%ld,\"rss_peak_kib\":%ld,"
      "\"rss_per_conn_bytes\":%.1f,\"rss_end_per_conn_bytes\":%.1f,\"rss_growth_kib\":%ld,"
      "\"heartbeats\":%" PRIu64
      ",\"streams_with_heartbeat\":%zu,\"stalled_closed\":%zu,"
      "\"stalled_received\":%" PRIu64
      ",\"kernel_send_queue_end_kib\":%lld,"
      "\"window_s\":%.3f,\"load_cpu_util\":%.3f,"
      "\"cores_busy\":[%s]}\n",
      escape(o_.label).c_str(), o_.clients, connected, failed_, escape(first_failure_).c_str(),
      stalled_streams_, o_.rate, o_.duration, o_.payload, o_.batch, connect_seconds_, synced_,
      published_, publish_errors_, escape(first_publish_error_).c_str(), expected, received_, loss,
      duplicates_, closed_during_run_, deliveries_per_s,
      static_cast<double>(latency_.quantile(0.5)) * ms,
      static_cast<double>(latency_.quantile(0.99)) * ms, static_cast<double>(latency_.max()) * ms,
      server_cpu_, server_util, cpu_us, server_softirq_, cpu_us_with_softirq, rss_before_,
      rss_connected_, rss_end_, rss_peak_, rss_per_conn, rss_end_per_conn,
      rss_peak_ - rss_connected_, heartbeats_, streams_with_heartbeat_, stalled_closed_,
      stalled_received_, send_queue_end_ / 1024, window_, load_util, cores_busy.c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  load tool(parse_options(argc, argv));
  return tool.run();
}
