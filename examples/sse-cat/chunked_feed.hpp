// sse-cat's middle: hands incoming bytes to an ssepp::parser in pieces of a
// fixed size (--chunk) and remembers which input bytes were being parsed
// when the parser stopped. File mode only: in URL mode the event_source
// parses the body itself. Part of the sse-cat example.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include <ssepp/parser.hpp>

namespace sse_cat {

template <class Handler>
class chunked_feed {
 public:
  // chunk_size 0: feed whatever push() is given, as it arrives. Otherwise
  // exactly chunk_size bytes per parser call, holding back a short tail
  // until more bytes (or finish()) come.
  chunked_feed(Handler& handler, ssepp::parser_options options, std::size_t chunk_size)
      : parser_(handler, options), chunk_size_(chunk_size) {}

  // Parses the next bytes of the stream. False once the parser has failed.
  bool push(std::string_view bytes) {
    if (chunk_size_ == 0) return feed(bytes);
    if (!pending_.empty()) {
      const std::size_t room = chunk_size_ - pending_.size();
      const std::string_view head = bytes.substr(0, room);
      pending_.append(head.data(), head.size());
      bytes.remove_prefix(head.size());
      if (pending_.size() < chunk_size_) return !parser_.error();
      const bool ok = feed(pending_);
      pending_.clear();
      if (!ok) return false;
    }
    for (; bytes.size() >= chunk_size_; bytes.remove_prefix(chunk_size_))
      if (!feed(bytes.substr(0, chunk_size_))) return false;
    pending_.assign(bytes.data(), bytes.size());
    return true;
  }

  // End of input: parses the held-back tail. Nothing more is needed for the
  // spec's end-of-file rule: an event without its blank line is simply never
  // dispatched.
  bool finish() {
    const bool ok = pending_.empty() || feed(pending_);
    pending_.clear();
    return ok;
  }

  // Why the parser stopped, or an empty error_code.
  std::error_code error() const noexcept { return parser_.error(); }

  // The input bytes [failed_begin, failed_end) given to the parser call that
  // failed: the limit was exceeded at one of them. One byte with --chunk 1.
  std::uint64_t failed_begin() const noexcept { return failed_begin_; }
  std::uint64_t failed_end() const noexcept { return failed_end_; }

 private:
  bool feed(std::string_view piece) {
    if (parser_.error()) return false;
    const std::error_code ec = parser_.feed(piece);
    if (ec) {
      failed_begin_ = offset_;
      failed_end_ = offset_ + piece.size();
    }
    offset_ += piece.size();
    return !ec;
  }

  ssepp::parser<Handler&> parser_;
  std::size_t chunk_size_;
  std::string pending_;
  std::uint64_t offset_ = 0;  // input bytes given to the parser so far
  std::uint64_t failed_begin_ = 0;
  std::uint64_t failed_end_ = 0;
};

}  // namespace sse_cat
