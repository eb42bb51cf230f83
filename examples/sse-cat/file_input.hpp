// sse-cat's input side for files and standard input: unbuffered read(2), so
// bytes from a pipe reach the parser as soon as they arrive (stdio or
// iostream reads would wait to fill a buffer or a line). POSIX. Part of the
// sse-cat example.
#pragma once

#include <cerrno>
#include <cstddef>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

namespace sse_cat {

class file_input {
 public:
  // Standard input.
  file_input() = default;

  file_input(const file_input&) = delete;
  file_input& operator=(const file_input&) = delete;
  ~file_input() {
    if (owned_) ::close(fd_);
  }

  // Opens `path` for reading instead of standard input.
  std::error_code open(const std::string& path) {
    int fd;
    do {
      fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return {errno, std::generic_category()};
    if (owned_) ::close(fd_);
    fd_ = fd;
    owned_ = true;
    return {};
  }

  // Waits for input and reads what is there, up to `size` bytes. Returns 0
  // at end of input or on error (then `ec` is set).
  std::size_t read(char* buffer, std::size_t size, std::error_code& ec) {
    for (;;) {
      const ssize_t n = ::read(fd_, buffer, size);
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno != EINTR) {
        ec.assign(errno, std::generic_category());
        return 0;
      }
    }
  }

 private:
  int fd_ = STDIN_FILENO;
  bool owned_ = false;
};

}  // namespace sse_cat
