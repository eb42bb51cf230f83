// Error codes for the failures ssepp expects in normal operation: bad input,
// exceeded limits, refused events. Reported as std::error_code so callers
// that cannot use exceptions (servers, embedded targets) still get a reason.
#pragma once

#include <string>
#include <system_error>

namespace ssepp {

/// Every expected failure ssepp reports. Compare an `std::error_code`
/// against these (`ec == ssepp::errc::line_too_long`).
enum class errc {
  /// The parser saw a line longer than `parser_options::max_line_size`.
  line_too_long = 1,
  /// The data of one event grew past `parser_options::max_event_size`.
  event_too_large,
  /// An event type contained CR or LF, which would end the field early and
  /// let the rest of the value forge other fields.
  invalid_event_type,
  /// An event id contained CR, LF or NUL. CR/LF would forge fields; browsers
  /// ignore an id holding NUL, so it could never reach the client.
  invalid_event_id,
  /// A retry time was negative; the wire format carries ASCII digits only.
  invalid_retry,
  /// A fixed-size sink had too little room left for the whole event.
  /// Nothing was written.
  sink_full,

  // The client (ssepp::asio::event_source). Like a browser's EventSource,
  // it does not reconnect after the errors marked "final".
  /// The URL is not an absolute http:// or https:// URL. Final.
  bad_url,
  /// https:// needs OpenSSL: build with SSEPP_ENABLE_OPENSSL. Final.
  tls_unavailable,
  /// The server answered with a status other than 200 (204 ends the stream
  /// without an error; 503 and 429 are retried after Retry-After). Final.
  http_status,
  /// The answer was not `Content-Type: text/event-stream`. Final.
  wrong_content_type,
  /// More redirects than client_options::max_redirects. Final.
  too_many_redirects,
  /// The response head was not HTTP/1.x, or its chunked body was malformed.
  bad_response,
  /// The response head was larger than client_options::max_header_bytes.
  response_head_too_large,
  /// Nothing (not even a heartbeat) arrived within client_options::stall_timeout.
  stalled,
  /// Connecting (resolve, connect, TLS, response head) took longer than
  /// client_options::connect_timeout.
  connect_timeout,
  /// The server ended the stream (the connection closed); reconnecting.
  stream_ended,
  /// client_options holds a method or header name that is not an HTTP
  /// token, or a header value or Last-Event-ID with CR, LF or NUL (which
  /// would forge request headers). Final.
  invalid_request,

  // The hub.
  /// hub_options::max_channels channels all have subscribers: no new
  /// channel can be made.
  too_many_channels,

  // The Redis backplane (ssepp/redis).
  /// Redis is not reachable (down, or the connection is being made again):
  /// nothing was published. Retry shortly.
  backplane_unavailable,
  /// Redis refused the publish (its reply is logged): nothing was
  /// published.
  backplane_refused,
};

/// The category of `ssepp::errc` codes; `name()` is "ssepp".
inline const std::error_category& error_category() noexcept {
  struct category final : std::error_category {
    const char* name() const noexcept override { return "ssepp"; }
    std::string message(int code) const override {
      switch (static_cast<errc>(code)) {
        case errc::line_too_long:
          return "event stream line longer than parser_options::max_line_size";
        case errc::event_too_large:
          return "event data larger than parser_options::max_event_size";
        case errc::invalid_event_type:
          return "event type contains CR or LF (allowed: any text without line breaks)";
        case errc::invalid_event_id:
          return "event id contains CR, LF or NUL (allowed: any text without line breaks or NUL)";
        case errc::invalid_retry:
          return "retry is negative (allowed: 0 or more milliseconds)";
        case errc::sink_full:
          return "output buffer too small for the formatted event (nothing was written)";
        case errc::bad_url:
          return "not an absolute http:// or https:// URL";
        case errc::tls_unavailable:
          return "https:// needs TLS support: build with SSEPP_ENABLE_OPENSSL and OpenSSL";
        case errc::http_status:
          return "the server answered with an HTTP status other than 200 OK";
        case errc::wrong_content_type:
          return "the server's answer is not Content-Type: text/event-stream";
        case errc::too_many_redirects:
          return "more redirects than client_options::max_redirects";
        case errc::bad_response:
          return "malformed HTTP response (status line, headers or chunked body)";
        case errc::response_head_too_large:
          return "HTTP response head larger than client_options::max_header_bytes";
        case errc::stalled:
          return "no data (not even a heartbeat) within client_options::stall_timeout";
        case errc::connect_timeout:
          return "connecting took longer than client_options::connect_timeout";
        case errc::stream_ended:
          return "the server closed the event stream";
        case errc::invalid_request:
          return "a request method or header name is not a token, or a value contains CR, LF or "
                 "NUL";
        case errc::too_many_channels:
          return "no new channel: hub_options::max_channels channels all have subscribers";
        case errc::backplane_unavailable:
          return "Redis is not reachable: nothing was published (retry shortly)";
        case errc::backplane_refused:
          return "Redis refused the publish: nothing was published";
      }
      return "unknown ssepp error";
    }
  };
  static const category instance;
  return instance;
}

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace ssepp

template <>
struct std::is_error_code_enum<ssepp::errc> : std::true_type {};
