// What an EventSource does with a response head, as a pure function in the
// style of reconnect.hpp: open the stream (and how its body is framed),
// skip an interim 1xx head, follow a redirect (and which request fields it
// may carry to another origin), stop for good (204), retry later (503, 429,
// with Retry-After), or fail. The client's I/O only carries it out. No I/O.
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
  interim,   ///< a 1xx other than 101: skip it, read the next response head
  redirect,  ///< connect to `location` with `method` (body dropped if asked)
  stop,      ///< 204: the server says never reconnect (not an error)
  retry,     ///< reconnect after backoff, at least `retry_after`
  fail,      ///< a final error: do not reconnect (as a browser does)
};

/// What to do with a response.
struct response_action {
  client_step step = client_step::fail;
  framing body;            ///< for open
  url location;            ///< for redirect
  std::string method;      ///< for redirect
  bool drop_body = false;  ///< for redirect: continue as GET
  /// For redirect: `location` is of another origin than the URL asked for
  /// (see same_origin); the next request leaves out credential fields (see
  /// is_credential_field).
  bool cross_origin = false;
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

/// True when `a` and `b` are of the same origin (RFC 6454 section 4): the
/// same scheme, host (compared case-insensitively) and port.
inline bool same_origin(const url& a, const url& b) noexcept {
  return a.scheme == b.scheme && detail::iequals(a.host, b.host) && a.port == b.port;
}

/// True for the request fields that carry one origin's credentials,
/// Authorization and Cookie (any case): a redirect to another origin must
/// not hand them to it, so the client leaves them out from then on, as
/// browsers (Fetch, "HTTP-redirect fetch") and curl do.
inline bool is_credential_field(std::string_view name) noexcept {
  return detail::iequals(name, "authorization") || detail::iequals(name, "cookie");
}

/// Decides what to do with `head`, the answer to `ctx`:
///
/// - 1xx but 101: interim (RFC 9110 section 15.2: a client must read past
///   any number of them to the final response); 101 Switching Protocols,
///   never asked for: fail (http_status).
/// - 301, 302, 303, 307, 308 with a usable Location: redirect, resolved
///   against ctx.target (RFC 3986), `cross_origin` when it leads to another
///   origin. As browsers do, 303 always, and 301 and 302 after POST,
///   continue as GET without the body. More than max_redirects: fail
///   (too_many_redirects); no usable Location: fail.
/// - 204: stop (the HTML standard's way for a server to end reconnection).
/// - 503 and 429: retry, no sooner than Retry-After's delta-seconds.
/// - any other status but 200: fail (http_status), as EventSource does.
/// - 200 with a Content-Type other than text/event-stream: fail
///   (wrong_content_type).
/// - 200 whose body framing cannot be trusted (conflicting Content-Length,
///   a malformed Transfer-Encoding), or with a transfer coding other than
///   chunked (gzip...), which the client cannot decode: fail (bad_response).
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
  if (status / 100 == 1) {
    if (status == 101)
      return fail(errc::http_status, "HTTP 101 (an upgrade never asked for) from " + where);
    a.step = client_step::interim;
    return a;
  }
  if (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) {
    if (ctx.redirects + 1 > ctx.max_redirects)
      return fail(errc::too_many_redirects,
                  std::to_string(ctx.redirects) + " redirects, the last to " + where);
    const auto location = head.fields.find("location");
    const auto next = location ? resolve_location(ctx.target, *location) : std::nullopt;
    if (!next) return fail(errc::bad_response, "redirect without a usable Location");
    a.step = client_step::redirect;
    a.location = *next;
    a.cross_origin = !same_origin(ctx.target, *next);
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
  // Parsing gzip (or any coding but chunked) as events would turn the
  // stream into garbage without an error.
  if (a.body.other_codings)
    return fail(errc::bad_response,
                "Transfer-Encoding '" +
                    std::string(head.fields.find("transfer-encoding").value_or("")) + "' from " +
                    where + ": the client decodes the chunked coding only");
  a.step = client_step::open;
  return a;
}

}  // namespace ssepp::http
