// Writing HTTP/1.1 response heads: the status line with its reason phrase,
// the fields, the blank line. No I/O.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ssepp::http {

/// The reason phrase RFC 9110 section 15 gives `status`, or "Unknown" for
/// a code it does not list here. (Recipients ignore the phrase; it is for
/// people reading a trace.)
constexpr std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
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
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

/// A complete response head: "HTTP/1.1 <status> <reason>", then `fields`
/// in order as "Name: value", then "Content-Length: n" when
/// `content_length` is set, then the blank line. Line ends are CRLF.
///
/// The fields are written as given: names and values must not hold CR, LF
/// or NUL (a value echoed from a request is safe when it came through
/// parse_request_head, which refuses them).
inline std::string format_response_head(
    int status, const std::vector<std::pair<std::string, std::string>>& fields,
    std::optional<std::size_t> content_length) {
  std::string head = "HTTP/1.1 ";
  head += std::to_string(status);
  head += ' ';
  head += reason_phrase(status);
  head += "\r\n";
  for (const auto& [name, value] : fields) {
    head += name;
    head += ": ";
    head += value;
    head += "\r\n";
  }
  if (content_length) {
    head += "Content-Length: ";
    head += std::to_string(*content_length);
    head += "\r\n";
  }
  head += "\r\n";
  return head;
}

}  // namespace ssepp::http
