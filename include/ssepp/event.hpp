// The event value types: what a server sends (event, event_view) and what a
// parser dispatches (message, mirroring the browser's MessageEvent).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace ssepp {

/// A non-owning event to send. Empty `type` and `id` are left off the wire
/// (the receiver then sees type "message" and keeps its last event ID).
///
/// Thread safety: a plain value; the viewed strings must outlive it.
struct event_view {
  std::string_view data{};  ///< payload; line breaks become several `data:` lines
  std::string_view type{};  ///< `event:` field; must not contain CR or LF
  std::string_view id{};    ///< `id:` field; must not contain CR, LF or NUL
  /// `retry:` field: the reconnection time the client should use; >= 0.
  std::optional<std::chrono::milliseconds> retry{};
};

/// An owning event to send; converts to `event_view` for formatting.
///
/// Thread safety: a plain value.
struct event {
  std::string data{};
  std::string type{};
  std::string id{};
  std::optional<std::chrono::milliseconds> retry{};

  /// A view of this event, valid while the event lives unchanged.
  operator event_view() const noexcept { return {data, type, id, retry}; }
};

/// An event as a parser dispatches it: the three fields a browser's
/// MessageEvent carries. Views are valid only during the handler call.
struct message {
  std::string_view type;           ///< "message" when the stream named none
  std::string_view data;           ///< data lines joined with LF
  std::string_view last_event_id;  ///< the stream's last event ID at dispatch
};

}  // namespace ssepp
