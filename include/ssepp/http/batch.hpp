// A publish request's body in text/event-stream form, read as a batch of
// events: strictly, since a publisher should hear about a mistake rather
// than have a line ignored the way a browser would ignore it. No I/O.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../detail/utf8.hpp"
#include "../event.hpp"
#include "../parser.hpp"
#include "detail/chars.hpp"

namespace ssepp::http {

/// One event of a batch. `type` is empty for the default ("message"), `id`
/// empty when the event named none (the hub then assigns one).
struct batch_event {
  std::string type;
  std::string data;
  std::string id;
  /// The event as ssepp::hub::publish takes it (views into this one).
  event_view view() const { return event_view{data, type, id}; }
};

/// What `parse_event_batch` found: the events, or the first mistake, with
/// the 1-based number of the event it is in and a message saying what was
/// wrong.
struct event_batch {
  std::vector<batch_event> events;
  std::size_t failed = 0;  ///< 0: no error; else the event (1-based) refused
  std::string error;
};

/// True when a Content-Type names text/event-stream (case-insensitive,
/// parameters such as "; charset=utf-8" ignored): a batch of events.
inline bool is_event_stream_body(std::string_view content_type) {
  const auto semicolon = content_type.find(';');
  return detail::iequals(detail::trim_ows(content_type.substr(0, semicolon)), "text/event-stream");
}

/// Reads `body` as events, with ssepp's own parser, after checking that
/// every line is one a publisher means: `data`, `event` or `id` fields,
/// comments and blank lines. Refused, with nothing read:
/// - a field of any other name, `retry` included (a stream's reconnection
///   time is the server's to send, not a publisher's);
/// - an event with no `data` line (a browser would drop it silently);
/// - an `id` holding NUL (a browser would ignore it);
/// - bytes that are not UTF-8;
/// - a last event not ended by a blank line (the body was cut short);
/// - a body with no event at all.
/// Lines end at CRLF, LF or CR, as in any event stream.
inline event_batch parse_event_batch(std::string_view body) {
  event_batch out;
  auto fail = [&](std::size_t event, std::string why) {
    out.events.clear();
    out.failed = event;
    out.error = "event " + std::to_string(event) + ": " + std::move(why);
    return out;
  };
  if (!ssepp::detail::utf8_is_valid(body)) return fail(1, "the body is not valid UTF-8");

  // The strict pass: each event's own id (the parser reports the stream's
  // last id, which carries over from one event to the next).
  std::vector<std::string> ids;
  std::size_t event = 1;
  bool open = false, has_data = false;
  std::string id;
  // One leading BOM is no part of the first line, as in any event stream.
  for (std::size_t at = body.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0; at < body.size();) {
    std::size_t end = at;
    while (end < body.size() && body[end] != '\n' && body[end] != '\r') ++end;
    if (end == body.size())
      return fail(event, "not ended by a blank line (the body was cut short)");
    const std::string_view line = body.substr(at, end - at);
    at = end + (body[end] == '\r' && end + 1 < body.size() && body[end + 1] == '\n' ? 2 : 1);
    if (line.empty()) {
      if (open && !has_data) return fail(event, "no data field (it would not be dispatched)");
      if (open) {
        ids.push_back(std::exchange(id, std::string()));
        ++event;
      }
      open = has_data = false;
      continue;
    }
    if (line.front() == ':') continue;  // a comment
    const std::string_view name = line.substr(0, line.find(':'));
    std::string_view value = line.size() > name.size() ? line.substr(name.size() + 1) : "";
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    open = true;
    if (name == "data") {
      has_data = true;
    } else if (name == "id") {
      if (value.find('\0') != std::string_view::npos) return fail(event, "an id holding NUL");
      id.assign(value.data(), value.size());
    } else if (name == "retry") {
      return fail(event, "a retry field (the server sets the reconnection time)");
    } else if (name != "event") {
      return fail(event, "unknown field '" + std::string(name) + "' (data, event and id are)");
    }
  }
  if (open) return fail(event, "not ended by a blank line (the body was cut short)");
  if (ids.empty()) return fail(1, "the body holds no event");

  struct collect {
    std::vector<batch_event>* events;
    void on_event(const message& m) {
      batch_event e;
      if (m.type != "message") e.type.assign(m.type.data(), m.type.size());
      e.data.assign(m.data.data(), m.data.size());
      events->push_back(std::move(e));
    }
  };
  parser_options options;
  options.text = text_mode::raw;  // checked above
  options.max_line_size = options.max_event_size = body.size() + 1;
  parser<collect> p{collect{&out.events}, options};
  if (p.feed(body) || out.events.size() != ids.size())
    return fail(1, "the body is not a well-formed event stream");
  for (std::size_t i = 0; i < ids.size(); ++i) out.events[i].id = std::move(ids[i]);
  return out;
}

}  // namespace ssepp::http
