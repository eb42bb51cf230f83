// What an EventSource does with a response head, as a pure function in the
// style of reconnect.hpp: open the stream (and how its body is framed),
// follow a redirect, stop for good (204), retry later (503, 429, with
// Retry-After), or fail. The client's I/O only carries it out. No I/O.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "../error.hpp"
#include "decimal.hpp"
#include "detail/chars.hpp"
#include "event_stream.hpp"
#include "framing.hpp"
#include "head.hpp"
#include "url.hpp"

namespace ssepp::http {

/// The request a response answers, as far as the decision needs it.
struct request_context {
  url target;                  ///< the URL asked for
  std::string method = "GET";  ///< the method sent
  std::size_t redirects = 0;   ///< redirects followed so far in this attempt
  std::size_t max_redirects = 10;
};

/// The steps a client can take after a response head.
enum class client_step {
  open,      ///< a 200 event stream: read `body` with the parser
  redirect,  ///< connect to `location` with `method` (body dropped if asked)
  stop,      ///< 204: the server says never reconnect (not an error)
  retry,     ///< reconnect after backoff, at least `retry_after`
  fail,      ///< a final error: do not reconnect (as a browser does)
};

/// What to do with a response.
struct response_action {
  client_step step = client_step::fail;
  framing body;                              ///< for open
  url location;                              ///< for redirect
  std::string method;                        ///< for redirect
  bool drop_body = false;                    ///< for redirect: continue as GET
  std::chrono::milliseconds retry_after{0};  ///< for retry
  std::error_code error;                     ///< for retry and fail
  std::string message;                       ///< for retry and fail: readable
};

/// Retry-After as delta-seconds (RFC 9110 section 10.2.3); nullopt for an
/// HTTP-date or anything malformed (the caller's own backoff then applies).
inline std::optional<std::chrono::seconds> parse_retry_after(std::string_view value) {
  // A bound far beyond any real answer that still fits seconds::rep.
  const auto seconds = parse_decimal<std::uint32_t>(detail::trim_ows(value));
  if (!seconds) return std::nullopt;
  return std::chrono::seconds{*seconds};
}

/// True when a Content-Type's media type is text/event-stream, compared as
/// MIME does: type and subtype case-insensitively, parameters (charset)
/// ignored, whitespace before ';' allowed.
inline bool is_event_stream_type(std::string_view content_type) {
  const std::string_view essence = detail::trim_ows(content_type.substr(0, content_type.find(';')));
  return detail::iequals(essence, event_stream_content_type);
}

/// Decides what to do with `head`, the answer to `ctx`:
///
/// - 301, 302, 303, 307, 308 with a usable Location: redirect, resolved
///   against ctx.target (RFC 3986). As browsers do, 303 always, and 301 and
///   302 after POST, continue as GET without the body. More than
///   max_redirects: fail (too_many_redirects); no usable Location: fail.
/// - 204: stop (the HTML standard's way for a server to end reconnection).
/// - 503 and 429: retry, no sooner than Retry-After's delta-seconds.
/// - any other status but 200: fail (http_status), as EventSource does.
/// - 200 with a Content-Type other than text/event-stream: fail
///   (wrong_content_type).
/// - 200 whose body framing cannot be trusted (conflicting Content-Length,
///   a malformed Transfer-Encoding): fail (bad_response).
/// - otherwise: open, with the body's framing (chunked, a length, or until
///   the connection closes).
inline response_action classify_response(const response_head& head, const request_context& ctx) {
  response_action a;
  const int status = head.status;
  const std::string where = ctx.target.str();
  auto fail = [&](errc code, std::string message) {
    a.step = client_step::fail;
    a.error = make_error_code(code);
    a.message = std::move(message);
    return a;
  };
  if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
    if (ctx.redirects + 1 > ctx.max_redirects)
      return fail(errc::too_many_redirects,
                  std::to_string(ctx.redirects) + " redirects, the last to " + where);
    const auto location = head.fields.find("location");
    const auto next = location ? resolve_location(ctx.target, *location) : std::nullopt;
    if (!next) return fail(errc::bad_response, "redirect without a usable Location");
    a.step = client_step::redirect;
    a.location = *next;
    a.drop_body = status == 303 || ((status == 301 || status == 302) && ctx.method == "POST");
    a.method = a.drop_body ? "GET" : ctx.method;
    return a;
  }
  if (status == 204) {
    a.step = client_step::stop;
    return a;
  }
  if (status == 503 || status == 429) {
    a.step = client_step::retry;
    a.error = make_error_code(errc::http_status);
    a.message = "the server is busy: " + where;
    if (const auto value = head.fields.find("retry-after"))
      if (const auto after = parse_retry_after(*value)) a.retry_after = *after;
    return a;
  }
  if (status != 200)
    return fail(errc::http_status, "HTTP " + std::to_string(status) + " from " + where);
  const auto type = head.fields.find("content-type").value_or("");
  if (!is_event_stream_type(type))
    return fail(errc::wrong_content_type, "Content-Type '" + std::string(type) + "' from " + where);
  a.body = response_framing(head, ctx.method);
  if (a.body.kind == body_kind::error)
    return fail(errc::bad_response, std::string(a.body.error) + " from " + where);
  a.step = client_step::open;
  return a;
}

}  // namespace ssepp::http
