// What makes an HTTP response an event stream that reaches the client at
// once (the response fields), and where a reconnecting client's
// Last-Event-ID is found in a request (header or query). No I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "url.hpp"

namespace ssepp::http {

/// The media type of an event stream, exactly. The stream is always UTF-8
/// (WHATWG HTML 9.2.5), so a charset parameter adds nothing, and servers
/// that decide what to compress by the whole Content-Type value (cpp-httplib
/// exempts only this exact string) would otherwise compress, and so hold
/// back, every event.
inline constexpr std::string_view event_stream_content_type = "text/event-stream";

/// The response fields of an event stream, besides the status line and the
/// framing (no Content-Length: the body ends when the connection does):
///
///   Content-Type: text/event-stream
///   Cache-Control: no-cache        proxies and browsers must not store it
///   X-Accel-Buffering: no          nginx must not buffer it
///   Content-Encoding: identity     nginx's gzip filter (which ignores
///                                  Cache-Control: no-transform) stays off
///                                  only when a coding is already set;
///                                  "identity" is no coding, and Chromium,
///                                  curl and Node read the stream as is
///
/// Each of these was a production incident: events held back by a proxy
/// or by compression until a buffer filled.
inline std::vector<std::pair<std::string, std::string>> event_stream_fields() {
  return {{"Content-Type", std::string(event_stream_content_type)},
          {"Cache-Control", "no-cache"},
          {"X-Accel-Buffering", "no"},
          {"Content-Encoding", "identity"}};
}

/// The id a reconnecting client asks to resume after: the Last-Event-ID
/// header, which EventSource sends on every reconnect, else a
/// `lastEventId` query parameter (percent-decoded), which is how a page can
/// resume on its *first* request, since EventSource cannot set headers.
/// The header wins when both are present. Empty when neither is.
///
/// `header` is the Last-Event-ID field's value if the request had one;
/// `query` is the raw query string, without '?'. A query value that does
/// not percent-decode is returned as sent: the hub then answers it like any
/// id it does not know (the gap event), rather than as a fresh start.
inline std::string last_event_id(std::optional<std::string_view> header, std::string_view query) {
  if (header) return std::string(*header);
  if (const auto raw = raw_query_param(query, "lastEventId")) {
    if (auto decoded = percent_decode(*raw, true)) return std::move(*decoded);
    return std::string(*raw);
  }
  return {};
}

}  // namespace ssepp::http
