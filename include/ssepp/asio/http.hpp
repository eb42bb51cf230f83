// The small part of HTTP/1.1 the embedded server speaks: a bounded request
// head parser, query and percent decoding, and response heads. No I/O.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ssepp::asio {

/// A parsed HTTP request as handlers see it.
struct request {
  std::string method;  ///< "GET", "POST", ...
  std::string target;  ///< as sent: path and query
  std::string path;    ///< percent-decoded path, without the query
  std::string query;   ///< raw query string, without '?'
  int version_minor = 1;
  /// Header fields in arrival order; names lower-cased.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote_address;

  /// The first header with this (lower-case) name, if any.
  std::optional<std::string_view> header(std::string_view lower_name) const {
    for (const auto& [name, value] : headers)
      if (name == lower_name) return std::string_view(value);
    return std::nullopt;
  }
  /// The first query parameter with this name, percent-decoded.
  std::optional<std::string> query_param(std::string_view name) const;
  /// The value of a cookie from the Cookie header.
  std::optional<std::string> cookie(std::string_view name) const;
};

/// A response to a non-streaming request.
struct response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  ///< extra fields
};

/// The reason phrase for the status codes ssepp sends.
inline std::string_view reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 204:
      return "No Content";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

/// Decodes %XX escapes (and '+' as space when `plus_is_space`). Returns
/// nullopt for a malformed escape or an encoded NUL.
inline std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      const char c = static_cast<char>(hi * 16 + lo);
      if (c == '\0') return std::nullopt;
      out.push_back(c);
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

inline std::optional<std::string> request::query_param(std::string_view name) const {
  std::string_view q = query;
  while (!q.empty()) {
    const std::size_t amp = q.find('&');
    const std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    const auto key = percent_decode(pair.substr(0, eq), true);
    if (key && *key == name)
      return eq == std::string_view::npos ? std::string{}
                                          : percent_decode(pair.substr(eq + 1), true);
  }
  return std::nullopt;
}

inline std::optional<std::string> request::cookie(std::string_view name) const {
  for (const auto& [field, value] : headers) {
    if (field != "cookie") continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      const std::size_t semi = rest.find(';');
      std::string_view item = rest.substr(0, semi);
      rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      const std::size_t eq = item.find('=');
      if (eq != std::string_view::npos && item.substr(0, eq) == name)
        return std::string(item.substr(eq + 1));
    }
  }
  return std::nullopt;
}

/// Outcome of parsing a request head.
enum class parse_status { incomplete, complete, bad_request, too_large, bad_version };

/// Parses the request head at the start of `buffer` (up to and including the
/// blank line) into `req`. `head_size` receives its length when complete.
/// Heads longer than `max_head` are `too_large` (the server answers 431).
inline parse_status parse_request_head(std::string_view buffer, std::size_t max_head, request& req,
                                       std::size_t& head_size) {
  const std::size_t end = buffer.find("\r\n\r\n");
  if (end == std::string_view::npos)
    return buffer.size() > max_head ? parse_status::too_large : parse_status::incomplete;
  if (end + 4 > max_head) return parse_status::too_large;
  head_size = end + 4;
  std::string_view head = buffer.substr(0, end + 2);  // each line ends with CRLF
  auto next_line = [&]() -> std::string_view {
    const std::size_t eol = head.find("\r\n");
    const std::string_view line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    return line;
  };
  const std::string_view line = next_line();
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos || sp1 == 0)
    return parse_status::bad_request;
  req.method = std::string(line.substr(0, sp1));
  req.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  const std::string_view version = line.substr(sp2 + 1);
  for (const char c : req.method)
    if (c < 'A' || c > 'Z') return parse_status::bad_request;
  if (version == "HTTP/1.1") {
    req.version_minor = 1;
  } else if (version == "HTTP/1.0") {
    req.version_minor = 0;
  } else {
    return version.substr(0, 5) == "HTTP/" ? parse_status::bad_version : parse_status::bad_request;
  }
  if (req.target.empty() || req.target.front() != '/') return parse_status::bad_request;
  // RFC 9112 section 3.2: no whitespace or CTL in a target. A raw NUL would
  // otherwise cut a static file's name short at the operating system.
  for (const char c : req.target)
    if (static_cast<unsigned char>(c) < 0x21 || c == '\x7f') return parse_status::bad_request;
  const std::size_t qmark = req.target.find('?');
  auto path = percent_decode(std::string_view(req.target).substr(0, qmark), false);
  if (!path) return parse_status::bad_request;
  req.path = std::move(*path);
  req.query = qmark == std::string::npos ? std::string{} : req.target.substr(qmark + 1);
  while (!head.empty()) {
    const std::string_view field = next_line();
    // RFC 9112 section 5.5: a bare CR or LF, or a NUL, in a field must be
    // rejected; let through, it would split responses that echo a request
    // field (CORS echoes Origin and Access-Control-Request-Headers).
    if (field.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)
      return parse_status::bad_request;
    const std::size_t colon = field.find(':');
    // No colon, an empty name, or obsolete line folding: malformed.
    if (colon == std::string_view::npos || colon == 0 || field.front() == ' ' ||
        field.front() == '\t')
      return parse_status::bad_request;
    std::string name(field.substr(0, colon));
    for (char& c : name) {
      if (c == ' ' || c == '\t') return parse_status::bad_request;
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    std::string_view value = field.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    req.headers.emplace_back(std::move(name), std::string(value));
  }
  return parse_status::complete;
}

/// A complete response head (status line, fields, blank line) for `status`
/// with the given extra fields, and Content-Length when `content_length`.
inline std::string response_head(int status,
                                 const std::vector<std::pair<std::string, std::string>>& fields,
                                 std::optional<std::size_t> content_length) {
  std::string head =
      "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) + "\r\n";
  for (const auto& [name, value] : fields) head += name + ": " + value + "\r\n";
  if (content_length) head += "Content-Length: " + std::to_string(*content_length) + "\r\n";
  head += "\r\n";
  return head;
}

}  // namespace ssepp::asio
