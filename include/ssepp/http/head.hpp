// Parsing HTTP/1.1 message heads (RFC 9112 sections 2-5): the request line
// or status line, then the field lines, up to the blank line. One strict
// parser for the server's requests and the client's responses. No I/O.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "decimal.hpp"
#include "detail/chars.hpp"
#include "fields.hpp"
#include "url.hpp"

namespace ssepp::http {

/// Bounds on a head, so a peer cannot make the parser hold or scan without
/// end. Defaults suit event streams, whose heads are a few hundred bytes.
struct head_limits {
  /// Start line, field lines and the blank line, line ends included.
  /// Bytes after the blank line (a body) never count.
  std::size_t max_head_bytes = 16 * 1024;
  /// Field lines; a head with more is `too_large`.
  std::size_t max_fields = 100;
};

/// What a parse made of the bytes so far.
enum class head_result {
  incomplete,   ///< no blank line yet, within the limits: read more, call again
  complete,     ///< a head was parsed; `head_size` says where the body starts
  malformed,    ///< not an HTTP/1.x head (a server answers 400)
  too_large,    ///< past head_limits (a server answers 431)
  bad_version,  ///< a well-formed HTTP-version whose major is not 1 (505)
};

constexpr std::string_view to_string(head_result r) noexcept {
  switch (r) {
    case head_result::incomplete:
      return "incomplete";
    case head_result::complete:
      return "complete";
    case head_result::malformed:
      return "malformed";
    case head_result::too_large:
      return "too_large";
    case head_result::bad_version:
      return "bad_version";
  }
  return "unknown";
}

/// A parsed request head.
///
/// The target is origin-form ("/path?query") or absolute-form
/// ("http://host:port/path?query", which RFC 9112 section 3.2.2 says a
/// server must accept; `authority` then holds "host:port" and takes the
/// place of the Host field). Either way `path` starts with '/'. The
/// asterisk-form ("OPTIONS *") and authority-form (CONNECT) are refused as
/// malformed, so that every caller can route on `path`.
///
/// Thread safety: a value type.
struct request_head {
  std::string method;     ///< a token, case-sensitive: "GET", "POST", ...
  std::string target;     ///< as sent
  std::string authority;  ///< from an absolute-form target, else empty
  std::string path;       ///< percent-decoded ('+' stays '+'), without the query
  std::string query;      ///< raw, without '?'; empty when there is none
  int version_major = 1;
  /// 0 or 1 as sent; a higher digit is accepted and should be treated as 1
  /// (RFC 9112 section 2.3: the highest minor version we speak).
  int version_minor = 1;
  http::fields fields;
};

/// A parsed response head.
///
/// Thread safety: a value type.
struct response_head {
  int status = 0;      ///< 100..999 (three digits)
  std::string reason;  ///< possibly empty
  int version_major = 1;
  int version_minor = 1;
  http::fields fields;
};

/// Parses the request head at the start of `buffer`.
///
/// Call it with everything received so far; it is cheap to call again as
/// more arrives (a head is at most `limits.max_head_bytes`). Every proper
/// prefix of a valid head gives `incomplete`.
///
/// Line ends are CRLF, or a bare LF (RFC 9112 section 2.2 allows a
/// recipient to accept it; waiting for a CR that never comes would hang the
/// request). A CR anywhere else is malformed. Field lines: the name a token
/// with no whitespace before the colon, no obs-fold (a line starting with
/// whitespace), and no NUL in the value; the value loses surrounding
/// spaces and tabs. Empty lines before the request line are skipped (RFC
/// 9112 section 2.2, as nginx does); they count toward max_head_bytes.
///
/// @param buffer     the bytes received so far; may hold more than the head.
/// @param limits     bounds; `too_large` as soon as `buffer` holds more than
///                   `max_head_bytes` without a complete head.
/// @param head       receives the head; replaced on `complete`, unspecified
///                   after other results.
/// @param head_size  on `complete`, the head's length including the blank
///                   line: the body (if any) starts there. Untouched
///                   otherwise.
/// @param why        receives a message naming what was wrong (a static
///                   string); empty for incomplete and complete.
inline head_result parse_request_head(std::string_view buffer, const head_limits& limits,
                                      request_head& head, std::size_t& head_size,
                                      std::string_view& why);
inline head_result parse_request_head(std::string_view buffer, const head_limits& limits,
                                      request_head& head, std::size_t& head_size);

/// Parses the response head at the start of `buffer`, as parse_request_head
/// does a request's. The status line is "HTTP/1.D SP DDD", then the end of
/// the line or SP and a reason phrase (no control bytes but HTAB).
inline head_result parse_response_head(std::string_view buffer, const head_limits& limits,
                                       response_head& head, std::size_t& head_size,
                                       std::string_view& why);
inline head_result parse_response_head(std::string_view buffer, const head_limits& limits,
                                       response_head& head, std::size_t& head_size);

// ---------------------------------------------------------------------------
// Implementation

namespace detail {

// The length of the head through its blank line, or 0 when `buffer` holds
// no blank line yet. The first empty line ends the head, so an empty first
// line is a (malformed) head of its own rather than something to wait past.
inline std::size_t find_head_end(std::string_view buffer) noexcept {
  std::size_t line = 0;
  for (;;) {
    if (line < buffer.size() && buffer[line] == '\n') return line + 1;
    if (line + 1 < buffer.size() && buffer[line] == '\r' && buffer[line + 1] == '\n')
      return line + 2;
    const std::size_t lf = buffer.find('\n', line);
    if (lf == std::string_view::npos) return 0;
    line = lf + 1;
  }
}

// Hands out the lines of a complete head, without their line ends. A CR
// that is not part of the line end is an error: RFC 9112 section 2.2 says
// to reject it or replace it, and passing it on lets a value smuggle line
// breaks into a response that echoes it.
class line_reader {
 public:
  explicit line_reader(std::string_view text) noexcept : rest_(text) {}
  bool done() const noexcept { return rest_.empty(); }
  // False for a line holding a stray CR.
  bool next(std::string_view& line) noexcept {
    const std::size_t lf = rest_.find('\n');
    line = rest_.substr(0, lf);
    rest_ = lf == std::string_view::npos ? std::string_view{} : rest_.substr(lf + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line.find('\r') == std::string_view::npos;
  }

 private:
  std::string_view rest_;
};

// HTTP-version = "HTTP" "/" DIGIT "." DIGIT, case-sensitive (RFC 9112 2.3).
constexpr bool parse_version(std::string_view v, int& major, int& minor) noexcept {
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || !digit(v[5]) || v[6] != '.' || !digit(v[7]))
    return false;
  major = v[5] - '0';
  minor = v[7] - '0';
  return true;
}

inline head_result fail(std::string_view& why, head_result r, std::string_view message) noexcept {
  why = message;
  return r;
}

// Finds the head in `buffer` within the limit: its size, or 0 with `r`
// saying whether to wait (incomplete) or give up (too_large).
inline std::size_t locate_head(std::string_view buffer, const head_limits& limits, head_result& r,
                               std::string_view& why) noexcept {
  // Searching only the first max_head_bytes keeps a flood from being
  // scanned, and a head cut there (even between its final CR and LF) is
  // longer than the limit anyway.
  const std::size_t size = find_head_end(buffer.substr(0, limits.max_head_bytes));
  if (size != 0) return size;
  r = buffer.size() > limits.max_head_bytes
          ? fail(why, head_result::too_large, "the head is longer than head_limits::max_head_bytes")
          : head_result::incomplete;
  return 0;
}

// The field lines that follow the start line, up to (not including) the
// blank line (RFC 9112 section 5).
inline head_result parse_field_lines(line_reader& lines, const head_limits& limits, fields& out,
                                     std::string_view& why) {
  while (!lines.done()) {
    std::string_view line;
    if (!lines.next(line))
      return fail(why, head_result::malformed, "a field line holds a CR that ends no line");
    if (line.empty()) break;  // the blank line
    // RFC 9112 5.2: obs-fold must be rejected in a request; in a response
    // it could be replaced by SP, but no event-stream server folds.
    if (is_ows(line.front()))
      return fail(why, head_result::malformed,
                  "a field line starts with whitespace (obsolete line folding)");
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos)
      return fail(why, head_result::malformed, "a field line has no colon");
    const std::string_view name = line.substr(0, colon);
    // RFC 9112 5.1: whitespace between name and colon must be rejected;
    // two parsers disagreeing on "Host :" is how requests get smuggled.
    if (!is_token(name))
      return fail(why, head_result::malformed,
                  "a field name is empty or not a token (whitespace before the colon?)");
    const std::string_view value = trim_ows(line.substr(colon + 1));
    // RFC 9110 5.5: NUL must be rejected (CR and LF cannot get this far).
    if (value.find('\0') != std::string_view::npos)
      return fail(why, head_result::malformed, "a field value holds a NUL byte");
    if (out.size() >= limits.max_fields)
      return fail(why, head_result::too_large, "more field lines than head_limits::max_fields");
    out.add(name, value);
  }
  return head_result::complete;
}

inline bool has_ctl_or_space(std::string_view s) noexcept {
  for (const char c : s)
    if (static_cast<unsigned char>(c) <= 0x20 || c == '\x7f') return true;
  return false;
}

// Fills target, authority, path and query from a request-target.
inline head_result parse_target(std::string_view target, request_head& head,
                                std::string_view& why) {
  // RFC 9112 3.2: no whitespace or CTL in a target; a raw NUL would cut
  // a static file's name short at the operating system.
  if (target.empty() || has_ctl_or_space(target))
    return fail(why, head_result::malformed, "the request target is empty or holds a control byte");
  head.target = std::string(target);
  std::string_view origin = target;
  if (target.front() != '/') {
    const std::size_t scheme_end = target.find("://");
    const std::string_view scheme =
        target.substr(0, scheme_end == std::string_view::npos ? 0 : scheme_end);
    if (!iequals(scheme, "http") && !iequals(scheme, "https"))
      return fail(why, head_result::malformed,
                  "the request target is neither a path starting with '/' nor an http(s) URL");
    const std::string_view rest = target.substr(scheme_end + 3);
    const std::size_t authority_end = rest.find_first_of("/?");
    const std::string_view authority = rest.substr(0, authority_end);
    // RFC 9110 4.2.4: user info in an http(s) URI is an error.
    if (authority.empty() || authority.find('@') != std::string_view::npos)
      return fail(why, head_result::malformed,
                  "the request target's authority is empty or holds user info");
    head.authority = std::string(authority);
    origin =
        authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
  }
  const std::size_t qmark = origin.find('?');
  const std::string_view path = origin.substr(0, qmark);
  if (qmark != std::string_view::npos) head.query = std::string(origin.substr(qmark + 1));
  auto decoded = percent_decode(path.empty() ? std::string_view("/") : path, false);
  if (!decoded)
    return fail(why, head_result::malformed,
                "the request path has a malformed percent escape or an encoded NUL");
  head.path = std::move(*decoded);
  return head_result::complete;
}

// request-line = method SP request-target SP HTTP-version
inline head_result parse_request_line(std::string_view line, request_head& head,
                                      std::string_view& why) {
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos)
    return fail(why, head_result::malformed,
                "the request line is not: method SP target SP version");
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  // Checked before the rest, so "PRI * HTTP/2.0" (HTTP/2's preface) gets
  // "version not supported" rather than "bad request".
  if (!parse_version(line.substr(sp2 + 1), head.version_major, head.version_minor))
    return fail(why, head_result::malformed, "the request line does not end in HTTP/D.D");
  if (head.version_major != 1)
    return fail(why, head_result::bad_version, "an HTTP version other than 1.x");
  if (!is_token(method)) return fail(why, head_result::malformed, "the method is not a token");
  head.method = std::string(method);
  return parse_target(target, head, why);
}

// status-line = HTTP-version SP status-code SP [ reason-phrase ]; the last
// SP may be missing too (RFC 9112 4 asks recipients to accept that).
inline head_result parse_status_line(std::string_view line, response_head& head,
                                     std::string_view& why) {
  if (!parse_version(line.substr(0, 8), head.version_major, head.version_minor))
    return fail(why, head_result::malformed, "the status line does not start with HTTP/D.D");
  if (head.version_major != 1)
    return fail(why, head_result::bad_version, "an HTTP version other than 1.x");
  // Exactly three digits, then SP or the end: "HTTP/1.1 2000" is no 200.
  const auto status = line.size() >= 12 ? parse_decimal<unsigned>(line.substr(9, 3)) : std::nullopt;
  if (!status || line[8] != ' ' || *status < 100 || (line.size() > 12 && line[12] != ' '))
    return fail(why, head_result::malformed,
                "the status line is not: HTTP/D.D SP three-digit status (100-999)");
  const std::string_view reason = line.size() > 12 ? line.substr(13) : std::string_view{};
  for (const char c : reason)
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == '\x7f')
      return fail(why, head_result::malformed, "the reason phrase holds a control byte");
  head.status = static_cast<int>(*status);
  head.reason = std::string(reason);
  return head_result::complete;
}

}  // namespace detail

inline head_result parse_request_head(std::string_view buffer, const head_limits& limits,
                                      request_head& head, std::size_t& head_size,
                                      std::string_view& why) {
  why = {};
  head_result r = head_result::incomplete;
  // RFC 9112 section 2.2: empty lines before the request line are ignored
  // (left over from a client's previous request body); nginx skips any
  // number, within its head limit, and so does this.
  // Only whole line ends are skipped, so the answer never depends on where
  // the bytes were split: a CR at the end may be a line end or a stray CR.
  std::size_t skipped = 0;
  bool pending_cr = false;
  while (skipped < buffer.size()) {
    if (buffer[skipped] == '\n') {
      ++skipped;
    } else if (buffer[skipped] == '\r' && skipped + 1 == buffer.size()) {
      pending_cr = true;
      break;
    } else if (buffer[skipped] == '\r' && buffer[skipped + 1] == '\n') {
      skipped += 2;
    } else {
      break;  // the request line, or a stray CR that makes it malformed
    }
  }
  if (skipped > limits.max_head_bytes)
    return detail::fail(why, head_result::too_large, "empty lines past the head size limit");
  if (pending_cr || skipped == buffer.size()) return head_result::incomplete;
  buffer.remove_prefix(skipped);
  head_limits rest_limits = limits;
  rest_limits.max_head_bytes -= skipped;
  const std::size_t size = detail::locate_head(buffer, rest_limits, r, why);
  if (size == 0) return r;
  head = request_head{};
  detail::line_reader lines(buffer.substr(0, size));
  std::string_view line;
  if (!lines.next(line))
    return detail::fail(why, head_result::malformed,
                        "the request line holds a CR that ends no line");
  r = detail::parse_request_line(line, head, why);
  if (r != head_result::complete) return r;
  r = detail::parse_field_lines(lines, limits, head.fields, why);
  if (r == head_result::complete) head_size = skipped + size;
  return r;
}

inline head_result parse_request_head(std::string_view buffer, const head_limits& limits,
                                      request_head& head, std::size_t& head_size) {
  std::string_view why;
  return parse_request_head(buffer, limits, head, head_size, why);
}

inline head_result parse_response_head(std::string_view buffer, const head_limits& limits,
                                       response_head& head, std::size_t& head_size,
                                       std::string_view& why) {
  why = {};
  head_result r = head_result::incomplete;
  const std::size_t size = detail::locate_head(buffer, limits, r, why);
  if (size == 0) return r;
  head = response_head{};
  detail::line_reader lines(buffer.substr(0, size));
  std::string_view line;
  if (!lines.next(line))
    return detail::fail(why, head_result::malformed,
                        "the status line holds a CR that ends no line");
  r = detail::parse_status_line(line, head, why);
  if (r != head_result::complete) return r;
  r = detail::parse_field_lines(lines, limits, head.fields, why);
  if (r == head_result::complete) head_size = size;
  return r;
}

inline head_result parse_response_head(std::string_view buffer, const head_limits& limits,
                                       response_head& head, std::size_t& head_size) {
  std::string_view why;
  return parse_response_head(buffer, limits, head, head_size, why);
}

}  // namespace ssepp::http
