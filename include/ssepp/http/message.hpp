// The request a server hands its handlers and the response they return:
// a parsed head plus body, with the look-ups handlers need (fields, query
// parameters, cookies). No I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cookie.hpp"
#include "head.hpp"
#include "url.hpp"

namespace ssepp::http {

/// Response fields as a server writes them: {name, value}, in order, names
/// as they should appear on the wire.
using field_list = std::vector<std::pair<std::string, std::string>>;

/// A complete request: its head (method, target, path, query, version,
/// fields), the body read by its framing, and the peer's address.
///
/// Thread safety: a value type.
struct request : request_head {
  std::string body;
  std::string remote_address;  ///< as the transport reports it; may be empty

  /// The first field called `name` (case-insensitive), if any.
  std::optional<std::string_view> header(std::string_view name) const noexcept {
    return fields.find(name);
  }
  /// The first query parameter called `name`, percent-decoded ('+' as
  /// space); nullopt when absent or when its value does not decode.
  std::optional<std::string> query_param(std::string_view name) const {
    return http::query_param(query, name);
  }
  /// The value of the cookie called `name` from the Cookie fields.
  std::optional<std::string> cookie(std::string_view name) const {
    return cookie_value(fields, name);
  }
};

/// A response to a request that is not an event stream.
///
/// Thread safety: a value type.
struct response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  field_list headers;  ///< fields besides Content-Type and Content-Length
};

}  // namespace ssepp::http
