// What the loopback tests of the Asio adapters share: a blocking POSIX
// client socket that sends raw bytes and reads raw responses, and polling a
// condition against a deadline (nothing sleeps to wait for something).
#pragma once

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>

namespace ssepp_test {

using namespace std::chrono_literals;

// How long any one wait may take before the test calls it a failure. Only a
// bound for a hung test: nothing asserts how fast anything happens.
constexpr std::chrono::milliseconds patience{5000};

template <class Condition>
bool eventually(Condition done) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(1ms);  // the poll interval
  }
  return true;
}

// A blocking client socket connected to 127.0.0.1:port.
class client {
 public:
  explicit client(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0);
  }
  client(const client&) = delete;
  client& operator=(const client&) = delete;
  ~client() { close(); }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  bool send_all(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads until `done()` holds, the peer ends the connection, or patience
  // runs out. Returns done().
  template <class Condition>
  bool read_until(Condition done) {
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (!done()) {
      if (ended_ || std::chrono::steady_clock::now() >= deadline) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      char buffer[4096];
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n > 0) {
        data_.append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ended_ = true;
      }
    }
    return true;
  }
  bool read_until_contains(std::string_view s) {
    return read_until([&] { return data_.find(s) != std::string::npos; });
  }
  // True once the server has ended the connection (EOF or reset).
  bool read_to_end() {
    read_until([&] { return ended_; });
    return ended_;
  }

  const std::string& data() const { return data_; }
  // What arrived after the response head.
  std::string body() const {
    const auto end = data_.find("\r\n\r\n");
    return end == std::string::npos ? std::string{} : data_.substr(end + 4);
  }
  bool ended() const { return ended_; }

 private:
  int fd_ = -1;
  std::string data_;
  bool ended_ = false;
};

}  // namespace ssepp_test
