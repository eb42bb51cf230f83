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
