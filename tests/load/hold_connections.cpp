// hold_connections: opens N event streams to a server on 127.0.0.1 and
// holds them, for tests that need more connections than one process may
// have descriptors (the server runs in the test process, the clients here).
//
//   hold_connections --port P --count N [--path /events/load]
//                    [--sources K] [--expect DATA] [--timeout-ms T]
//
// Talks to its parent in lines:
//   stdout "ready R F"    R streams answered 200 and sent their retry, F failed
//   stdout "received E"   E streams received an event whose data is DATA
//                         (printed once all R have, or at the timeout)
//   stdin  "close"        (or end of input) close every stream
//   stdout "closed C"     C streams closed; then the program exits 0
//
// Connections come from 127.0.0.1 .. 127.0.0.K (IP_BIND_ADDRESS_NO_PORT lets
// the kernel pick the port per destination), so ephemeral ports never run
// out, and at most 512 handshakes are in flight so the listen backlog never
// overflows (a dropped SYN would cost a 1 s retransmit).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <ssepp/parser.hpp>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace {

struct stream_state;

struct stream_handler {
  stream_state* state;
  void on_event(const ssepp::message& m);
  void on_retry(std::chrono::milliseconds) noexcept;
};

enum class stage { connecting, reading_head, ready, failed, closed };

struct stream_state {
  int fd = -1;
  stage where = stage::connecting;
  std::string head;  // bytes until the end of the response head
  std::unique_ptr<ssepp::parser<stream_handler>> parser;
  bool retry_seen = false;
  bool event_seen = false;
};

std::string expected_data = "hello";
std::size_t events_received = 0;

void stream_handler::on_event(const ssepp::message& m) {
  if (!state->event_seen && m.data == expected_data) {
    state->event_seen = true;
    ++events_received;
  }
}
void stream_handler::on_retry(std::chrono::milliseconds) noexcept { state->retry_seen = true; }

[[noreturn]] void die(const std::string& what) {
  std::cerr << "hold_connections: " << what << ": " << std::strerror(errno) << "\n";
  std::exit(2);
}

void say(const std::string& line) {
  std::cout << line << std::endl;  // the parent waits for whole lines
}

}  // namespace

int main(int argc, char** argv) {
  std::uint16_t port = 0;
  std::size_t count = 0;
  std::string path = "/events/load";
  unsigned sources = 8;
  long timeout_ms = 40000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view name = argv[i];
    const char* value = argv[i + 1];
    if (name == "--port")
      port = static_cast<std::uint16_t>(std::strtoul(value, nullptr, 10));
    else if (name == "--count")
      count = std::strtoul(value, nullptr, 10);
    else if (name == "--path")
      path = value;
    else if (name == "--sources")
      sources = static_cast<unsigned>(std::strtoul(value, nullptr, 10));
    else if (name == "--expect")
      expected_data = value;
    else if (name == "--timeout-ms")
      timeout_ms = std::strtol(value, nullptr, 10);
  }
  if (port == 0 || count == 0 || sources == 0 || sources > 254) {
    std::cerr
        << "usage: hold_connections --port P --count N [--path P] [--sources K] [--expect DATA] "
           "[--timeout-ms T]\n";
    return 2;
  }

  // Each stream is a descriptor: raise the soft limit to the hard one.
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) die("getrlimit");
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) die("setrlimit");
  if (limit.rlim_cur < count + 16) {
    std::cerr << "hold_connections: the descriptor limit is " << limit.rlim_cur << ", "
              << count + 16 << " are needed\n";
    return 2;
  }

  const int poller = ::epoll_create1(EPOLL_CLOEXEC);
  if (poller < 0) die("epoll_create1");
  std::vector<stream_state> streams(count);
  const std::string request =
      "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";

  std::size_t opened = 0, in_flight = 0, ready = 0, failed = 0;
  auto fail = [&](stream_state& s) {
    if (s.where == stage::connecting || s.where == stage::reading_head) --in_flight;
    if (s.where != stage::ready) ++failed;
    s.where = stage::failed;
    ::close(s.fd);
    s.fd = -1;
  };
  auto open_one = [&](std::size_t index) {
    stream_state& s = streams[index];
    s.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s.fd < 0) die("socket");
    const int one = 1;
    ::setsockopt(s.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in source{};
    source.sin_family = AF_INET;
    source.sin_addr.s_addr = htonl(INADDR_LOOPBACK + static_cast<std::uint32_t>(index % sources));
    if (::bind(s.fd, reinterpret_cast<const sockaddr*>(&source), sizeof source) != 0) die("bind");
    sockaddr_in target{};
    target.sin_family = AF_INET;
    target.sin_port = htons(port);
    target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ++in_flight;
    if (::connect(s.fd, reinterpret_cast<const sockaddr*>(&target), sizeof target) != 0 &&
        errno != EINPROGRESS) {
      fail(s);
      return;
    }
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = index;
    if (::epoll_ctl(poller, EPOLL_CTL_ADD, s.fd, &ev) != 0) die("epoll_ctl");
  };

  // Reads what arrived; returns false when the stream ended or broke. The
  // head is collected whole; what follows it goes through ssepp::parser.
  auto read_stream = [&](stream_state& s) {
    char buffer[4096];
    for (;;) {
      const ssize_t n = ::recv(s.fd, buffer, sizeof buffer, 0);
      if (n == 0) return false;
      if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
      const std::string_view bytes(buffer, static_cast<std::size_t>(n));
      if (!s.parser) {
        s.head.append(bytes);
        const std::size_t end = s.head.find("\r\n\r\n");
        if (end == std::string::npos) {
          if (s.head.size() > 16384) return false;
          continue;
        }
        if (s.head.compare(0, 13, "HTTP/1.1 200 ") != 0) return false;
        s.parser = std::make_unique<ssepp::parser<stream_handler>>(stream_handler{&s});
        const std::string rest = s.head.substr(end + 4);
        s.head.clear();
        s.head.shrink_to_fit();
        if (s.parser->feed(rest)) return false;
      } else if (s.parser->feed(bytes)) {
        return false;
      }
      if (s.where == stage::reading_head && s.retry_seen) s.where = stage::ready;
    }
  };

  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::milliseconds(timeout_ms);
  std::vector<epoll_event> events(1024);

  // Phase 1: open every stream, at most 512 not yet answered at a time.
  while (ready + failed < count && std::chrono::steady_clock::now() < deadline) {
    while (opened < count && in_flight < 512) open_one(opened++);
    const int n = ::epoll_wait(poller, events.data(), static_cast<int>(events.size()), 100);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; ++i) {
      stream_state& s = streams[events[static_cast<std::size_t>(i)].data.u64];
      const std::uint32_t what = events[static_cast<std::size_t>(i)].events;
      if (s.where == stage::failed) continue;
      if (s.where == stage::connecting && (what & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int error = 0;
        socklen_t size = sizeof error;
        ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &error, &size);
        if (error != 0 || ::send(s.fd, request.data(), request.size(), MSG_NOSIGNAL) !=
                              static_cast<ssize_t>(request.size())) {
          fail(s);
          continue;
        }
        s.where = stage::reading_head;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.u64 = events[static_cast<std::size_t>(i)].data.u64;
        ::epoll_ctl(poller, EPOLL_CTL_MOD, s.fd, &ev);
      }
      if (s.where == stage::reading_head && (what & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))) {
        if (!read_stream(s)) {
          fail(s);
        } else if (s.where == stage::ready) {
          --in_flight;
          ++ready;
        }
      }
    }
  }
  failed += count - ready - failed;  // not answered in time
  const auto connected_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - start)
                                .count();
  std::cerr << "hold_connections: " << ready << " streams ready in " << connected_ms << " ms\n";
  say("ready " + std::to_string(ready) + " " + std::to_string(failed));

  // Phase 2: wait for the published event on every ready stream.
  const auto event_deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (events_received < ready && std::chrono::steady_clock::now() < event_deadline) {
    const int n = ::epoll_wait(poller, events.data(), static_cast<int>(events.size()), 100);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; ++i) {
      stream_state& s = streams[events[static_cast<std::size_t>(i)].data.u64];
      if (s.where != stage::ready) continue;
      if (!read_stream(s)) fail(s);
    }
  }
  say("received " + std::to_string(events_received));

  // Phase 3: on the parent's word, leave (an orderly close from each).
  std::string command;
  std::getline(std::cin, command);
  std::size_t closed = 0;
  for (auto& s : streams) {
    if (s.fd < 0) continue;
    ::close(s.fd);
    s.fd = -1;
    s.where = stage::closed;
    ++closed;
  }
  say("closed " + std::to_string(closed));
  ::close(poller);
  return 0;
}
