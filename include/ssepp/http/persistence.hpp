// Whether a connection stays open after a response (RFC 9112 section 9.3):
// what the client asked for, and what the server's answer allows. A pure
// decision; the server carries it out. No I/O.
#pragma once

#include <string_view>

#include "framing.hpp"
#include "message.hpp"

namespace ssepp::http {

/// True when the client lets the connection persist after the response to
/// `req`: HTTP/1.1 unless a Connection field lists "close"; HTTP/1.0 only
/// when one lists "keep-alive" (section 9.3). Tokens are case-insensitive.
inline bool client_keeps_alive(const request_head& req) {
  bool close = false, keep_alive = false;
  detail::for_each_list_element(req.fields, "connection", [&](std::string_view token) {
    close = close || detail::iequals(token, "close");
    keep_alive = keep_alive || detail::iequals(token, "keep-alive");
  });
  if (close) return false;
  return req.version_major == 1 && (req.version_minor >= 1 || keep_alive);
}

/// True when a connection may carry another request after answering `req`
/// with `status`: the client allows it, and the answer is not one after
/// which the server cannot know where the next request begins (a malformed
/// request or body, a head or body over the limits, a timeout, an HTTP
/// version or coding it does not speak).
inline bool persists_after(const request_head& req, int status) {
  switch (status) {
    case 400:  // malformed
    case 408:  // timed out, the rest unread
    case 411:
    case 413:  // body over the limit, unread
    case 431:  // head over the limit
    case 501:  // a transfer coding not understood: the body's end unknown
    case 505:
      return false;
    default:
      return client_keeps_alive(req);
  }
}

}  // namespace ssepp::http
