// events -> bytes: writes events, comments and retry hints in the
// text/event-stream format to any sink (see sink.hpp). No I/O, no Asio.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>

#include "detail/config.hpp"
#include "detail/scan.hpp"
#include "error.hpp"
#include "event.hpp"
#include "sink.hpp"

namespace ssepp {

/// Checks that `ev` can be sent as it is: type without CR/LF, id without
/// CR/LF/NUL, retry not negative. Data may hold anything (line breaks are
/// split into several `data:` lines by `format`).
/// Returns the first problem found or an empty error_code.
inline std::error_code validate(const event_view& ev) noexcept;

/// Exactly how many bytes `format(sink, ev)` writes for a valid `ev`.
/// Complexity: linear in the size of the event's fields.
inline std::size_t formatted_size(const event_view& ev) noexcept;

/// Appends `ev` to `sink` as one event: `event:`, `id:`, `retry:` (each only
/// when set), one `data:` line per line of the data (LF, CR and CRLF each
/// end a line; empty data still writes one `data:` line so the event is
/// dispatched), then a blank line.
///
/// Every value is written after a single space, so leading spaces in values
/// survive the receiver's removal of one space. Data round-trips exactly
/// through any spec-conforming parser when its line breaks are LF; CR and
/// CRLF arrive as LF, because the format has no way to carry a bare CR.
///
/// Errors (nothing is written): `validate(ev)`'s, and errc::sink_full when
/// the sink reports `remaining()` and the event does not fit.
/// Thread safety: as safe as concurrent use of `sink` is; `ev` is only read.
template <class Sink>
[[nodiscard]] std::error_code format(Sink& sink, const event_view& ev);

/// Appends a comment (`: text`), which clients ignore; used for heartbeats
/// that keep proxies and load balancers from closing an idle stream. Line
/// breaks in `text` start further comment lines, so a comment can never
/// forge a field. Errors: errc::sink_full as for `format`.
template <class Sink>
[[nodiscard]] std::error_code format_comment(Sink& sink, std::string_view text);

/// Appends a lone `retry:` field telling the client how long to wait before
/// reconnecting. Errors: errc::invalid_retry for a negative time,
/// errc::sink_full as for `format`.
template <class Sink>
[[nodiscard]] std::error_code format_retry(Sink& sink, std::chrono::milliseconds retry);

/// `ev` as a new string. Throws std::system_error carrying `validate(ev)`'s
/// error when the event cannot be sent, like the standard library does for
/// invalid arguments it cannot report otherwise.
inline std::string to_string(const event_view& ev);

// ---------------------------------------------------------------------------
// Implementation

namespace detail {

inline bool has_line_break(std::string_view s) noexcept {
  return scan_line(s.data(), s.data() + s.size()).end != s.data() + s.size();
}

// Calls f(line) for each line of `text`, split at CRLF, LF or CR.
template <class F>
void for_each_line(std::string_view text, F&& f) {
  const char* p = text.data();
  const char* const end = p + text.size();
  for (;;) {
    const char* eol = scan_line(p, end).end;
    f(std::string_view{p, static_cast<std::size_t>(eol - p)});
    if (eol == end) return;
    p = eol + 1;
    if (*eol == '\r' && p != end && *p == '\n') ++p;
  }
}

// Writes "name: value\n", or "name\n"-free "name:\n" for an empty value so
// no line carries trailing white space.
template <class Sink>
void put_field(Sink& sink, std::string_view name_colon, std::string_view value) {
  sink.append(name_colon.data(), name_colon.size());
  if (!value.empty()) {
    sink.append(" ", 1);
    sink.append(value.data(), value.size());
  }
  sink.append("\n", 1);
}

inline std::size_t field_size(std::size_t name_colon, std::size_t value) noexcept {
  return name_colon + (value ? 1 + value : 0) + 1;
}

inline std::size_t decimal_digits(unsigned long long v) noexcept {
  std::size_t n = 1;
  while (v >= 10) v /= 10, ++n;
  return n;
}

inline std::string_view to_decimal(unsigned long long v, char (&buf)[24]) noexcept {
  char* end = buf + sizeof buf;
  char* p = end;
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  return {p, static_cast<std::size_t>(end - p)};
}

// Checks room in sinks that know their capacity, and grows strings once.
template <class Sink>
bool make_room(Sink& sink, std::size_t n) {
  if constexpr (has_remaining<Sink>::value) {
    return sink.remaining() >= n;
  } else if constexpr (has_reserve<Sink>::value) {
    const std::size_t need = sink.size() + n;
    if (need > sink.capacity())
      sink.reserve(need > 2 * sink.capacity() ? need : 2 * sink.capacity());
    return true;
  } else {
    return true;
  }
}

template <class Sink>
void check_sink() {
  static_assert(has_append<Sink>::value,
                "ssepp: the sink must have: void append(const char* data, std::size_t size)");
}

}  // namespace detail

inline std::error_code validate(const event_view& ev) noexcept {
  // Most events have neither a type nor an id: skip the scans' setup then.
  if (!ev.type.empty() && detail::has_line_break(ev.type)) return errc::invalid_event_type;
  if (!ev.id.empty() &&
      (detail::has_line_break(ev.id) || ev.id.find('\0') != std::string_view::npos))
    return errc::invalid_event_id;
  if (ev.retry && ev.retry->count() < 0) return errc::invalid_retry;
  return {};
}

inline std::size_t formatted_size(const event_view& ev) noexcept {
  std::size_t n = 1;  // the blank line that ends the event
  if (!ev.type.empty()) n += detail::field_size(6, ev.type.size());
  if (!ev.id.empty()) n += detail::field_size(3, ev.id.size());
  if (ev.retry)
    n += detail::field_size(
        6, detail::decimal_digits(static_cast<unsigned long long>(ev.retry->count())));
  detail::for_each_line(ev.data,
                        [&](std::string_view line) { n += detail::field_size(5, line.size()); });
  return n;
}

template <class Sink>
std::error_code format(Sink& sink, const event_view& ev) {
  detail::check_sink<Sink>();
  if (const std::error_code ec = validate(ev)) return ec;
  if constexpr (detail::has_remaining<Sink>::value) {
    // All or nothing: the exact size is needed before writing.
    if (!detail::make_room(sink, formatted_size(ev))) return errc::sink_full;
  } else if constexpr (detail::has_reserve<Sink>::value) {
    // Growth hint only: exact for one-line data, and no second scan.
    detail::make_room(sink, ev.data.size() + ev.type.size() + ev.id.size() + 48);
  }
  if (!ev.type.empty()) detail::put_field(sink, "event:", ev.type);
  if (!ev.id.empty()) detail::put_field(sink, "id:", ev.id);
  if (ev.retry) {
    char digits[24];
    detail::put_field(
        sink,
        "retry:", detail::to_decimal(static_cast<unsigned long long>(ev.retry->count()), digits));
  }
  // "data: " + line per line, each after the previous line's "\n" so one
  // line costs two appends; "\n\n" ends the last line and the event.
  bool first = true;
  detail::for_each_line(ev.data, [&](std::string_view line) {
    const char* const prefix = "\ndata: ";
    const std::size_t skip = first ? 1 : 0;
    sink.append(prefix + skip, (line.empty() ? 6 : 7) - skip);
    if (!line.empty()) sink.append(line.data(), line.size());
    first = false;
  });
  sink.append("\n\n", 2);
  return {};
}

template <class Sink>
std::error_code format_comment(Sink& sink, std::string_view text) {
  detail::check_sink<Sink>();
  if constexpr (detail::has_remaining<Sink>::value || detail::has_reserve<Sink>::value) {
    std::size_t n = 0;
    detail::for_each_line(text,
                          [&](std::string_view line) { n += detail::field_size(1, line.size()); });
    if (!detail::make_room(sink, n)) return errc::sink_full;
  }
  detail::for_each_line(text, [&](std::string_view line) { detail::put_field(sink, ":", line); });
  return {};
}

template <class Sink>
std::error_code format_retry(Sink& sink, std::chrono::milliseconds retry) {
  detail::check_sink<Sink>();
  if (retry.count() < 0) return errc::invalid_retry;
  char buf[24];
  const std::string_view digits =
      detail::to_decimal(static_cast<unsigned long long>(retry.count()), buf);
  if (!detail::make_room(sink, detail::field_size(6, digits.size()))) return errc::sink_full;
  detail::put_field(sink, "retry:", digits);
  return {};
}

inline std::string to_string(const event_view& ev) {
  std::string out;
  if (const std::error_code ec = format(out, ev)) throw std::system_error(ec, "ssepp::to_string");
  return out;
}

}  // namespace ssepp
