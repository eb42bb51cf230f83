// Decoding a chunked transfer-coded body (RFC 9112 section 7.1)
// incrementally, as it arrives in reads of any size. No I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "decimal.hpp"
#include "detail/chars.hpp"

namespace ssepp::http {

/// Bounds on what a chunked_decoder buffers.
struct chunked_limits {
  /// A chunk-size line, extensions included, without its LF. Sizes are at
  /// most 16 hex digits; extensions are ignored and rarely sent.
  std::size_t max_size_line = 1024;
  /// Each trailer field line, without its LF (trailers are skipped).
  std::size_t max_trailer_line = 8192;
};

/// Decodes a chunked body incrementally. Chunk data is handed out as views
/// into the input, never copied and never empty; only a chunk-size or
/// trailer line cut by a read boundary is buffered, within chunked_limits.
///
/// Accepted: sizes in hex of either case with leading zeros, up to 2^64-1;
/// chunk extensions (ignored, whitespace allowed before ';'); trailer
/// fields (skipped); CRLF or a bare LF as line end. Malformed: anything
/// else in a size, a CR inside a size line, chunk data not followed by a
/// line end, a line over its limit. After `done` or `malformed` the decoder
/// stays so and reads nothing more; bytes after the last chunk's trailer
/// are not consumed (they belong to the next message).
///
/// Thread safety: not safe for concurrent use.
class chunked_decoder {
 public:
  enum class result {
    more,      ///< all of the input was consumed; the body goes on
    done,      ///< the last chunk and trailer were read
    malformed  ///< not a chunked body (or past chunked_limits)
  };

  chunked_decoder() = default;
  explicit chunked_decoder(const chunked_limits& limits) : limits_(limits) {}

  /// Decodes `in`, calling `on_data(std::string_view)` for each piece of
  /// body, in order. Complexity: linear in `in.size()`.
  template <class OnData>
  result feed(std::string_view in, OnData&& on_data);

 private:
  enum class state { size_line, data, data_end, trailer, done, failed };

  result fail() noexcept {
    state_ = state::failed;
    return result::malformed;
  }
  // Appends to line_ up to the next LF; false when the line is over `max`.
  // `complete` says whether the LF was found (and consumed).
  bool take_line(std::string_view& in, std::size_t max, bool& complete);
  bool parse_size() noexcept;

  chunked_limits limits_;
  state state_ = state::size_line;
  std::string line_;
  std::uint64_t remaining_ = 0;
  bool seen_cr_ = false;
};

// ---------------------------------------------------------------------------
// Implementation

inline bool chunked_decoder::take_line(std::string_view& in, std::size_t max, bool& complete) {
  const std::size_t lf = in.find('\n');
  const std::string_view part = in.substr(0, lf);
  // Checked before the LF arrives, so an endless line fails at the bound
  // rather than filling memory.
  if (line_.size() + part.size() > max) return false;
  line_.append(part);
  complete = lf != std::string_view::npos;
  in.remove_prefix(complete ? lf + 1 : in.size());
  return true;
}

inline bool chunked_decoder::parse_size() noexcept {
  std::string_view s = line_;
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  // A CR or NUL left anywhere, extensions included, is no line end two
  // parsers would agree on.
  if (s.find_first_of(std::string_view("\r\0", 2)) != std::string_view::npos) return false;
  s = s.substr(0, s.find(';'));
  while (!s.empty() && detail::is_ows(s.back())) s.remove_suffix(1);  // BWS before ';'
  const auto n = parse_hex<std::uint64_t>(s);
  if (!n) return false;
  remaining_ = *n;
  return true;
}

template <class OnData>
chunked_decoder::result chunked_decoder::feed(std::string_view in, OnData&& on_data) {
  while (!in.empty()) {
    switch (state_) {
      case state::size_line: {
        bool complete = false;
        if (!take_line(in, limits_.max_size_line, complete)) return fail();
        if (!complete) return result::more;
        if (!parse_size()) return fail();
        line_.clear();
        state_ = remaining_ == 0 ? state::trailer : state::data;
        break;
      }
      case state::data: {
        const std::size_t n =
            remaining_ < in.size() ? static_cast<std::size_t>(remaining_) : in.size();
        on_data(in.substr(0, n));
        in.remove_prefix(n);
        remaining_ -= n;
        if (remaining_ == 0) state_ = state::data_end;
        break;
      }
      case state::data_end: {
        const char c = in.front();
        in.remove_prefix(1);
        if (c == '\r' && !seen_cr_) {
          seen_cr_ = true;
        } else if (c == '\n') {
          seen_cr_ = false;
          state_ = state::size_line;
        } else {
          return fail();
        }
        break;
      }
      case state::trailer: {
        bool complete = false;
        if (!take_line(in, limits_.max_trailer_line, complete)) return fail();
        if (!complete) return result::more;
        const bool blank = line_.empty() || line_ == "\r";
        line_.clear();
        if (blank) {
          state_ = state::done;
          return result::done;
        }
        break;
      }
      case state::done:
        return result::done;
      case state::failed:
        return result::malformed;
    }
  }
  // An empty `in` must not turn a failed decoder back into "more".
  if (state_ == state::failed) return result::malformed;
  return state_ == state::done ? result::done : result::more;
}

}  // namespace ssepp::http
