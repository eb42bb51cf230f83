// bytes -> events: an incremental parser for text/event-stream that follows
// the WHATWG HTML "parse an event stream" and "interpret an event stream"
// algorithms exactly, for any split of the input into chunks. No I/O.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "detail/config.hpp"
#include "detail/scan.hpp"
#include "detail/utf8.hpp"
#include "error.hpp"
#include "event.hpp"
#include "http/decimal.hpp"

#if SSEPP_HAS_CONCEPTS
#include <concepts>
#endif

namespace ssepp {

/// How the parser treats bytes that are not well-formed UTF-8.
enum class text_mode {
  /// Replace each malformed sequence with U+FFFD, exactly as a browser's
  /// EventSource does (the stream is decoded with the WHATWG UTF-8 decoder).
  /// The default, because ssepp's reference is what a browser would show.
  replace_invalid,
  /// Pass bytes through untouched: for streams known to be valid, or for
  /// callers that want to see exactly what arrived. Skips the check.
  raw,
};

/// Limits and behaviour of a `parser`. The defaults suit any real stream.
struct parser_options {
  /// Longest line accepted, in bytes, excluding its terminator. A longer one
  /// stops the parser with `errc::line_too_long`. 16 MiB holds a base64
  /// image in one `data:` line while still bounding a hostile stream.
  std::size_t max_line_size = std::size_t{16} << 20;
  /// Largest data of one event in bytes (all `data:` lines joined). More
  /// stops the parser with `errc::event_too_large`.
  std::size_t max_event_size = std::size_t{16} << 20;
  /// See `text_mode`; default: what browsers do.
  text_mode text = text_mode::replace_invalid;
  /// Reported through `on_retry` for a `retry:` field with an empty value.
  /// Chromium treats that as "back to the default reconnection time";
  /// 3 s is its default, and what the HTML standard suggests.
  std::chrono::milliseconds default_retry{3000};
};

// ---------------------------------------------------------------------------
// The handler concept
//
// A parser reports what it reads to a handler. Requirements, for a value `h`
// of type H (a value or an lvalue reference type):
//
//   expression                    | required | semantics
//   ------------------------------+----------+----------------------------------
//   h.on_event(m)                 | yes      | `m` is a `const ssepp::message&`:
//                                 |          | one dispatched event. Its views
//                                 |          | die when the call returns.
//   h.on_retry(ms)                | no       | `ms` is std::chrono::milliseconds:
//                                 |          | the stream set its reconnection
//                                 |          | time (`retry:` of digits only).
//   h.on_comment(text)            | no       | `text` is std::string_view: a
//                                 |          | line starting with ':', without
//                                 |          | the colon and one leading space.
//
// Return values are ignored. A handler must not call back into the parser
// that is calling it. If a handler throws, the exception leaves `feed()` and
// the parser must be `reset()` before further use.
//
// Minimal model:
//
//   struct print_events {
//     void on_event(const ssepp::message& m) { std::cout << m.data << '\n'; }
//   };
//   ssepp::parser p{print_events{}};
//   p.feed("data: hello\n\n");
// ---------------------------------------------------------------------------

namespace detail {
template <class H, class = void>
struct has_on_event : std::false_type {};
template <class H>
struct has_on_event<
    H, std::void_t<decltype(std::declval<H&>().on_event(std::declval<const message&>()))>>
    : std::true_type {};
template <class H, class = void>
struct has_on_retry : std::false_type {};
template <class H>
struct has_on_retry<H,
                    std::void_t<decltype(std::declval<H&>().on_retry(std::chrono::milliseconds{}))>>
    : std::true_type {};
template <class H, class = void>
struct has_on_comment : std::false_type {};
template <class H>
struct has_on_comment<H, std::void_t<decltype(std::declval<H&>().on_comment(std::string_view{}))>>
    : std::true_type {};
}  // namespace detail

/// True when H models the parser handler concept (see the table above).
template <class H>
inline constexpr bool is_parser_handler_v = detail::has_on_event<std::remove_reference_t<H>>::value;

#if SSEPP_HAS_CONCEPTS
/// C++20 spelling of `is_parser_handler_v`.
template <class H>
concept parser_handler = is_parser_handler_v<H>;
#endif

/// Incremental text/event-stream parser.
///
/// Feed it bytes as they arrive, in chunks of any size; it calls the handler
/// for each dispatched event (and, if the handler has them, each retry
/// change and comment). Results are the same for every split of the input.
///
/// Spec rules it applies: one leading UTF-8 BOM is skipped (also when split
/// across chunks); lines end at CRLF, LF or CR (a CR ending one chunk and an
/// LF starting the next are one line end); exactly one space after the colon
/// is removed; unknown fields are ignored; `id` values holding NUL are
/// ignored; `retry` is used only when all ASCII digits (an empty value means
/// `options.default_retry`, as in Chromium; values too large for
/// milliseconds saturate); a blank line dispatches, unless no `data` field
/// was seen; one trailing LF of the data is dropped; the type defaults to
/// "message"; the last event ID persists across events and across `reset()`.
///
/// Memory: at most one partial line (max_line_size), one event's data
/// (max_event_size) and, in replace_invalid mode, one repaired line. No
/// allocation per event in steady state: data that arrives whole in one
/// chunk is handed to the handler as a view into that chunk.
///
/// Errors: a limit exceeded makes `feed()` return the error and puts the
/// parser in a failed state; later `feed()` calls return the same error and
/// read nothing until `reset()`. Events dispatched before stay dispatched.
///
/// Thread safety: one parser per stream; not safe for concurrent use.
template <class Handler>
class parser {
  static_assert(detail::has_on_event<std::remove_reference_t<Handler>>::value,
                "ssepp::parser handler must have: void on_event(const ssepp::message&)");

 public:
  /// Builds a parser reporting to `handler` (stored by value unless Handler
  /// is an lvalue reference type).
  explicit parser(Handler handler, parser_options options = {})
      : handler_(std::forward<Handler>(handler)), options_(options) {}

  /// Parses the next chunk of the stream. Returns the error that stopped the
  /// parser, now or earlier, or an empty error_code.
  /// Complexity: linear in `bytes.size()`.
  std::error_code feed(std::string_view bytes);

  /// Ends the current stream: an event not yet ended by a blank line is
  /// discarded (the spec's end-of-file rule), the error state is cleared
  /// and the next byte is the start of a new stream (a new BOM may follow).
  /// The last event ID is kept, ready for a reconnect's Last-Event-ID.
  void reset();

  /// The stream's last event ID: the `id` value in force at the latest
  /// blank line. Send it as Last-Event-ID when reconnecting.
  std::string_view last_event_id() const noexcept { return last_event_id_; }

  /// Sets the last event ID, e.g. the one a reconnecting client started with.
  void set_last_event_id(std::string_view id) {
    last_event_id_.assign(id.data(), id.size());
    id_changed_ = false;
  }

  /// The error that stopped the parser, or an empty error_code.
  std::error_code error() const noexcept { return error_; }

  /// The options the parser was built with.
  const parser_options& options() const noexcept { return options_; }

  Handler& handler() noexcept { return handler_; }
  const Handler& handler() const noexcept { return handler_; }

 private:
  using handler_type = std::remove_reference_t<Handler>;
  static constexpr bool wants_retry = detail::has_on_retry<handler_type>::value;
  static constexpr bool wants_comments = detail::has_on_comment<handler_type>::value;

  // Where the current event's data lives: nowhere yet, as a view into the
  // chunk being fed (no copy for the common single-line event), or copied
  // into data_buffer_ from data_offset_ on.
  enum class data_state : unsigned char { none, view, buffered };

  // Where a line being processed lives. A line in one of the parser's own
  // buffers can hand that buffer over to the data instead of being copied.
  enum class line_source : unsigned char { chunk, line_buffer, repair_buffer };

  void consume_bom(const char*& p, const char* end);
  void process_line(std::string_view line, bool ascii, line_source source);
  void process_field(std::string_view name, std::string_view value, line_source source);
  void append_data(std::string_view value, line_source source);
  void dispatch();
  void keep_data_across_chunks();
  void fail(errc e) { error_ = make_error_code(e); }

  Handler handler_;
  parser_options options_;
  std::error_code error_;

  std::string line_buffer_;    // a line cut by the end of a chunk
  std::string repair_buffer_;  // a line after U+FFFD replacement
  std::string data_buffer_;
  std::size_t data_offset_ = 0;
  std::string_view data_view_;
  data_state data_ = data_state::none;
  std::string type_;
  std::string_view type_view_;  // the type while it lives in the chunk
  bool type_in_chunk_ = false;
  std::string_view id_view_;  // the id while it lives in the chunk
  bool id_in_chunk_ = false;
  std::string id_buffer_;      // the spec's "last event ID buffer", while id_changed_
  std::string last_event_id_;  // the spec's "last event ID string"
  bool id_changed_ = false;
  bool line_buffer_ascii_ = true;  // no byte >= 0x80 in line_buffer_
  bool after_cr_ = false;          // the previous chunk ended with CR
  unsigned char bom_seen_ = 0;     // bytes of a leading BOM matched so far
  bool bom_done_ = false;
};

#if __cplusplus >= 201703L
template <class Handler>
parser(Handler, parser_options = {}) -> parser<Handler>;
#endif

// ---------------------------------------------------------------------------
// Implementation

template <class Handler>
std::error_code parser<Handler>::feed(std::string_view bytes) {
  if (SSEPP_UNLIKELY(error_)) return error_;
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  if (SSEPP_UNLIKELY(!bom_done_)) {
    consume_bom(p, end);
    if (!bom_done_) return error_;
  }
  if (after_cr_ && p != end) {
    after_cr_ = false;
    if (*p == '\n') ++p;  // second half of a CRLF split across chunks
  }
  if (!line_buffer_.empty()) {
    const detail::line_scan found = detail::scan_line(p, end);
    const auto taken = static_cast<std::size_t>(found.end - p);
    if (line_buffer_.size() + taken > options_.max_line_size) {
      line_buffer_.clear();
      fail(errc::line_too_long);
      return error_;
    }
    line_buffer_.append(p, taken);
    line_buffer_ascii_ = line_buffer_ascii_ && found.ascii;
    if (found.end == end) return error_;
    process_line(line_buffer_, line_buffer_ascii_, line_source::line_buffer);
    line_buffer_.clear();
    p = found.end;
    if (*p == '\r') {
      ++p;
      if (p == end) {
        after_cr_ = true;
      } else if (*p == '\n') {
        ++p;
      }
    } else {
      ++p;
    }
  }
  while (p != end && !error_) {
    const char* eol = p;
    if (*p == '\n' || *p == '\r') {
      dispatch();  // a blank line: every event ends with one, skip the scan
    } else {
      const detail::line_scan found = detail::scan_line(p, end);
      const auto length = static_cast<std::size_t>(found.end - p);
      if (SSEPP_UNLIKELY(length > options_.max_line_size)) {
        fail(errc::line_too_long);
        break;
      }
      if (found.end == end) {
        line_buffer_.assign(p, length);
        line_buffer_ascii_ = found.ascii;
        break;
      }
      process_line({p, length}, found.ascii, line_source::chunk);
      eol = found.end;
    }
    p = eol + 1;
    if (*eol == '\r') {
      if (p == end) {
        after_cr_ = true;
      } else if (*p == '\n') {
        ++p;
      }
    }
  }
  if (data_ == data_state::view) keep_data_across_chunks();
  if (type_in_chunk_) {
    type_.assign(type_view_.data(), type_view_.size());
    type_in_chunk_ = false;
  }
  if (id_in_chunk_) {
    id_buffer_.assign(id_view_.data(), id_view_.size());
    id_in_chunk_ = false;
  }
  return error_;
}

template <class Handler>
void parser<Handler>::consume_bom(const char*& p, const char* end) {
  static constexpr char bom[] = "\xEF\xBB\xBF";
  while (p != end && bom_seen_ < 3) {
    if (*p != bom[bom_seen_]) {
      // Not a BOM: the bytes held back so far are ordinary line content.
      line_buffer_.assign(bom, bom_seen_);
      line_buffer_ascii_ = bom_seen_ == 0;
      bom_done_ = true;
      return;
    }
    ++bom_seen_;
    ++p;
  }
  if (bom_seen_ == 3) bom_done_ = true;
}

template <class Handler>
void parser<Handler>::process_line(std::string_view line, bool ascii, line_source source) {
  if (options_.text == text_mode::replace_invalid && !ascii && !detail::utf8_is_valid(line)) {
    repair_buffer_.clear();
    detail::utf8_append_replacing(repair_buffer_, line);
    line = repair_buffer_;
    source = line_source::repair_buffer;
  }
  if (line.empty()) {
    dispatch();
    return;
  }
  if (line.front() == ':') {
    if constexpr (wants_comments) {
      line.remove_prefix(1);
      if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
      handler_.on_comment(line);
    }
    return;
  }
  // Field names are a few bytes long: a plain loop beats a memchr call.
  std::size_t name_size = 0;
  while (name_size != line.size() && line[name_size] != ':') ++name_size;
  if (name_size == line.size()) {
    process_field(line, line.substr(line.size()), source);
    return;
  }
  std::string_view value = line.substr(name_size + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  process_field(line.substr(0, name_size), value, source);
}

template <class Handler>
void parser<Handler>::process_field(std::string_view name, std::string_view value,
                                    line_source source) {
  switch (name.size()) {
    case 4:
      if (name == "data") append_data(value, source);
      return;
    case 5:
      if (name == "event") {
        // Most events end in the chunk that named their type: keep a view
        // and copy only when the chunk ends first (end of feed()).
        if (source == line_source::chunk) {
          type_view_ = value;
          type_in_chunk_ = true;
        } else {
          type_.assign(value.data(), value.size());
          type_in_chunk_ = false;
        }
      } else if (name == "retry") {
        if constexpr (wants_retry) {
          if (value.empty()) {
            handler_.on_retry(options_.default_retry);
            return;
          }
          using rep = std::chrono::milliseconds::rep;
          constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<rep>::max());
          const auto ms = http::parse_decimal_saturating<std::uint64_t>(value);
          if (!ms) return;  // not all digits: ignore the field
          handler_.on_retry(std::chrono::milliseconds{static_cast<rep>(*ms > max ? max : *ms)});
        }
      }
      return;
    case 2:
      if (name == "id") {
        for (const char c : value)  // ids are short: a loop beats a memchr call
          if (c == '\0') return;
        if (source == line_source::chunk) {
          id_view_ = value;
          id_in_chunk_ = true;
        } else {
          id_buffer_.assign(value.data(), value.size());
          id_in_chunk_ = false;
        }
        id_changed_ = true;
      }
      return;
    default:
      return;  // unknown field: ignored, as the spec says
  }
}

template <class Handler>
void parser<Handler>::append_data(std::string_view value, line_source source) {
  switch (data_) {
    case data_state::none:
      if (value.size() > options_.max_event_size) return fail(errc::event_too_large);
      if (source == line_source::chunk) {
        data_view_ = value;
        data_ = data_state::view;
      } else {
        // The value ends its line, so the line's buffer can become the data
        // buffer as it is: a long line cut by chunk ends is not copied twice.
        std::string& owner = source == line_source::line_buffer ? line_buffer_ : repair_buffer_;
        data_offset_ = static_cast<std::size_t>(value.data() - owner.data());
        data_buffer_.swap(owner);
        data_ = data_state::buffered;
      }
      return;
    case data_state::view:
      keep_data_across_chunks();
      [[fallthrough]];
    case data_state::buffered:
      if (data_buffer_.size() - data_offset_ + 1 + value.size() > options_.max_event_size)
        return fail(errc::event_too_large);
      data_buffer_.push_back('\n');
      data_buffer_.append(value.data(), value.size());
      return;
  }
}

template <class Handler>
void parser<Handler>::keep_data_across_chunks() {
  data_buffer_.assign(data_view_.data(), data_view_.size());
  data_offset_ = 0;
  data_ = data_state::buffered;
}

template <class Handler>
void parser<Handler>::dispatch() {
  // Spec: the last event ID string is updated at every blank line, even
  // one that dispatches nothing.
  // id_buffer_ is only read while id_changed_ is set, so a swap commits it.
  if (id_changed_) {
    if (id_in_chunk_) {
      last_event_id_.assign(id_view_.data(), id_view_.size());
    } else {
      last_event_id_.swap(id_buffer_);
    }
    id_in_chunk_ = false;
    id_changed_ = false;
  }
  if (data_ == data_state::none) {
    type_.clear();
    type_in_chunk_ = false;
    return;
  }
  const std::string_view data = data_ == data_state::view
                                    ? data_view_
                                    : std::string_view{data_buffer_.data() + data_offset_,
                                                       data_buffer_.size() - data_offset_};
  data_ = data_state::none;
  const std::string_view type = type_in_chunk_ ? type_view_ : std::string_view{type_};
  const message m{type.empty() ? std::string_view{"message"} : type, data, last_event_id_};
  handler_.on_event(m);
  type_.clear();
  type_in_chunk_ = false;
}

template <class Handler>
void parser<Handler>::reset() {
  error_.clear();
  line_buffer_.clear();
  data_ = data_state::none;
  data_buffer_.clear();
  type_.clear();
  type_in_chunk_ = false;
  id_in_chunk_ = false;
  // A new connection starts from the last committed ID, not from an `id:`
  // that arrived in an event the old connection never finished.
  id_changed_ = false;
  after_cr_ = false;
  bom_seen_ = 0;
  bom_done_ = false;
}

}  // namespace ssepp
