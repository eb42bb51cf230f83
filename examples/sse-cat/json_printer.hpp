// sse-cat's output side: a parser handler that writes each event (and, when
// asked, each comment and retry) as one JSON line, flushed at once, so a
// live stream shows up as it arrives. Knows nothing about where bytes come
// from. Part of the sse-cat example.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>

#include <ssepp/event.hpp>

#include "json_lines.hpp"

namespace sse_cat {

// Models ssepp's parser handler concept (on_event, on_retry, on_comment).
// The first failed write is remembered and later lines are dropped; the
// caller checks write_error() after each feed and stops reading.
class json_printer {
 public:
  json_printer(std::FILE* out, bool print_comments, bool print_retry)
      : out_(out), print_comments_(print_comments), print_retry_(print_retry) {}

  void on_event(const ssepp::message& m) {
    line_.clear();
    append_event_line(line_, m);
    write_line();
  }

  void on_comment(std::string_view text) {
    if (!print_comments_) return;
    line_.clear();
    append_comment_line(line_, text);
    write_line();
  }

  void on_retry(std::chrono::milliseconds time) {
    if (!print_retry_) return;
    line_.clear();
    append_retry_line(line_, time);
    write_line();
  }

  // errno of the first failed write or flush; 0 while all went well.
  int write_error() const noexcept { return write_error_; }

 private:
  void write_line() {
    if (write_error_) return;
    errno = 0;
    if (std::fwrite(line_.data(), 1, line_.size(), out_) != line_.size() || std::fflush(out_) != 0)
      write_error_ = errno ? errno : EIO;
  }

  std::FILE* out_;
  bool print_comments_;
  bool print_retry_;
  int write_error_ = 0;
  std::string line_;  // reused: no allocation per event once it has grown
};

}  // namespace sse_cat
