// The client's side of HTTP/1.1: a bounded response head parser and an
// incremental chunked-transfer decoder. No I/O.
#pragma once

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ssepp::asio {

/// A parsed response head. (Not named `response_head`: http.hpp's function
/// of that name, which formats one, would hide it wherever both are included.)
struct parsed_response_head {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  ///< names lower-cased

  std::optional<std::string_view> header(std::string_view lower_name) const {
    for (const auto& [name, value] : headers)
      if (name == lower_name) return std::string_view(value);
    return std::nullopt;
  }
};

enum class head_status { incomplete, complete, malformed, too_large };

/// Parses a response head at the start of `buffer`; on `complete`,
/// `head_size` is its length including the blank line.
inline head_status parse_response_head(std::string_view buffer, std::size_t max_head,
                                       parsed_response_head& head, std::size_t& head_size) {
  const std::size_t end = buffer.find("\r\n\r\n");
  if (end == std::string_view::npos)
    return buffer.size() > max_head ? head_status::too_large : head_status::incomplete;
  if (end + 4 > max_head) return head_status::too_large;
  head_size = end + 4;
  std::string_view text = buffer.substr(0, end + 2);
  auto next_line = [&] {
    const std::size_t eol = text.find("\r\n");
    const std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol + 2);
    return line;
  };
  const std::string_view status_line = next_line();
  // "HTTP/1.D SP DDD", then SP or the end: without the last checks
  // "HTTP/1.1 2000" would pass for a 200.
  if (status_line.substr(0, 7) != "HTTP/1." || status_line.size() < 12 || status_line[7] < '0' ||
      status_line[7] > '9' || status_line[8] != ' ' ||
      (status_line.size() > 12 && status_line[12] != ' '))
    return head_status::malformed;
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (status_line[i] < '0' || status_line[i] > '9') return head_status::malformed;
    status = status * 10 + (status_line[i] - '0');
  }
  head.status = status;
  head.headers.clear();
  while (!text.empty()) {
    const std::string_view line = next_line();
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return head_status::malformed;
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    head.headers.emplace_back(std::move(name), std::string(value));
  }
  return head_status::complete;
}

/// Decodes a chunked transfer-coded body incrementally. Chunk data is handed
/// out as views into the input; only a chunk-size line cut by a read
/// boundary is buffered, and it is bounded.
///
/// Thread safety: not safe for concurrent use.
class chunked_decoder {
 public:
  enum class result { more, done, malformed };

  /// Decodes `in`, calling on_data(std::string_view) for each piece of body.
  template <class OnData>
  result feed(std::string_view in, OnData&& on_data) {
    while (!in.empty()) {
      switch (state_) {
        case state::size_line: {
          const std::size_t eol = in.find('\n');
          const std::string_view part = in.substr(0, eol);
          if (line_.size() + part.size() > 1024) return fail();  // sizes and extensions are short
          line_.append(part.data(), part.size());
          if (eol == std::string_view::npos) return result::more;
          in.remove_prefix(eol + 1);
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
          // CRLF after the chunk data (a lone LF is tolerated)
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
          const std::size_t eol = in.find('\n');
          const std::string_view part = in.substr(0, eol);
          if (line_.size() + part.size() > 8192) return fail();
          line_.append(part.data(), part.size());
          if (eol == std::string_view::npos) return result::more;
          in.remove_prefix(eol + 1);
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

 private:
  enum class state { size_line, data, data_end, trailer, done, failed };
  result fail() {
    state_ = state::failed;
    return result::malformed;
  }
  bool parse_size() {
    std::string_view s = line_;
    if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
    s = s.substr(0, s.find(';'));  // chunk extensions are ignored
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    if (s.empty() || s.size() > 15) return false;
    std::uint64_t n = 0;
    for (const char c : s) {
      int digit;
      if (c >= '0' && c <= '9')
        digit = c - '0';
      else if (c >= 'a' && c <= 'f')
        digit = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        digit = c - 'A' + 10;
      else
        return false;
      n = n * 16 + static_cast<std::uint64_t>(digit);
    }
    remaining_ = n;
    return true;
  }

  state state_ = state::size_line;
  std::string line_;
  std::uint64_t remaining_ = 0;
  bool seen_cr_ = false;
};

}  // namespace ssepp::asio
