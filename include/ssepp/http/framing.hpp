// Where an HTTP/1.1 message body ends (RFC 9112 sections 6.1-6.3), decided
// from a parsed head as a pure function: no body, a Content-Length, chunked,
// or (responses only) until the connection closes. No I/O.
#pragma once

#include <cstdint>
#include <string_view>

#include "decimal.hpp"
#include "detail/chars.hpp"
#include "fields.hpp"
#include "head.hpp"

namespace ssepp::http {

/// How a message's body is delimited.
enum class body_kind {
  none,            ///< no body: the next message starts right after the head
  content_length,  ///< exactly `framing::length` bytes
  chunked,         ///< the chunked transfer coding (see chunked.hpp)
  until_close,     ///< responses only: everything until the server closes
  error,           ///< the framing cannot be trusted; `framing::error` says why
};

/// A framing decision.
///
/// Thread safety: a value type.
struct framing {
  body_kind kind = body_kind::none;
  std::uint64_t length = 0;  ///< for content_length
  /// Transfer-Encoding names codings besides chunked ("gzip, chunked"):
  /// the body must be decoded from them after de-chunking. Requests with
  /// them are an error (501); responses report them here.
  bool other_codings = false;
  /// For a request's error: the status a server should answer with, 400
  /// (unreliable framing, RFC 9112 6.3) or 501 (a coding we do not
  /// implement, RFC 9112 6.1). 0 otherwise.
  int status = 0;
  /// For error: what was wrong (a static string). Empty otherwise.
  std::string_view error;
};

/// The body framing of a request (RFC 9112 section 6.3, items 3, 4, 6):
///
/// - Transfer-Encoding whose only coding is chunked: `chunked` (a server
///   that takes no chunked bodies answers it with 411 itself);
/// - Transfer-Encoding with a final coding other than chunked, chunked
///   more than once, an empty or malformed list, in an HTTP/1.0 request, or
///   together with Content-Length (a smuggling vector): error, 400;
/// - Transfer-Encoding with other codings before chunked: error, 501;
/// - Content-Length (several fields, or a list, allowed when all values
///   are equal, RFC 9110 8.6): `content_length`, else error 400 for values
///   that differ or are not 1*DIGIT within 64 bits;
/// - neither: `none` (a request body is never read until close).
inline framing request_framing(const request_head& head);

/// The body framing of a response to a request with `request_method`
/// (RFC 9112 section 6.3, items 1, 2, 4, 5, 7):
///
/// - a response to HEAD, a 2xx to CONNECT, 1xx, 204 or 304: `none`;
/// - Transfer-Encoding (which overrides any Content-Length): `chunked` when
///   chunked is the final coding, else `until_close`; `until_close` too in
///   an HTTP/1.0 response (its framing is faulty, RFC 9112 6.1); error for
///   an empty or malformed list or chunked applied twice;
/// - Content-Length: `content_length`, or error when the values differ or
///   are not 1*DIGIT within 64 bits (the response must be discarded);
/// - neither: `until_close`.
inline framing response_framing(const response_head& head, std::string_view request_method = "GET");

// ---------------------------------------------------------------------------
// Implementation

namespace detail {

inline framing framing_error(int status, std::string_view why) noexcept {
  framing f;
  f.kind = body_kind::error;
  f.status = status;
  f.error = why;
  return f;
}

// Calls on_element(trimmed) for each element of the comma lists in every
// field called `name` (RFC 9110 5.6.1), including empty ones.
template <class OnElement>
void for_each_list_element(const fields& f, std::string_view name, OnElement&& on_element) {
  for (const auto& [n, value] : f) {
    if (!iequals(n, name)) continue;
    std::string_view rest = value;
    for (;;) {
      const std::size_t comma = rest.find(',');
      on_element(trim_ows(rest.substr(0, comma)));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
}

struct length_field {
  bool present = false;
  bool valid = false;
  std::uint64_t value = 0;
  std::string_view error;
};

// RFC 9110 8.6: "Content-Length: 5, 5" or two fields saying 5 may be taken
// as 5; values that differ may not, nor may anything but digits (a lenient
// reading of "12a" as 12 or 120 is how two parsers come to disagree).
inline length_field content_length(const fields& f) {
  length_field out;
  out.present = f.contains("content-length");
  if (!out.present) return out;
  out.valid = true;
  bool first = true;
  for_each_list_element(f, "content-length", [&](std::string_view element) {
    if (!out.valid) return;
    const auto n = parse_decimal<std::uint64_t>(element);
    if (!n) {
      out.valid = false;
      out.error = "Content-Length is not a decimal number (1*DIGIT) that fits in 64 bits";
    } else if (!first && *n != out.value) {
      out.valid = false;
      out.error = "Content-Length values differ";
    }
    out.value = n.value_or(0);
    first = false;
  });
  return out;
}

struct coding_list {
  bool present = false;
  bool malformed = false;  // empty, a non-token coding, or chunked twice
  bool chunked_last = false;
  bool other_codings = false;
};

inline coding_list transfer_codings(const fields& f) {
  coding_list out;
  out.present = f.contains("transfer-encoding");
  if (!out.present) return out;
  bool any = false, chunked_seen = false;
  for_each_list_element(f, "transfer-encoding", [&](std::string_view element) {
    if (element.empty()) return;  // RFC 9110 5.6.1: empty elements don't count
    const std::string_view coding = trim_ows(element.substr(0, element.find(';')));
    if (!is_token(coding)) out.malformed = true;
    const bool chunked = iequals(coding, "chunked");
    // RFC 9112 7: chunked must not be applied twice, so one that is not
    // last can only be an attempt to confuse some recipient.
    if (chunked && chunked_seen) out.malformed = true;
    if (!chunked) out.other_codings = true;
    chunked_seen = chunked_seen || chunked;
    out.chunked_last = chunked;
    any = true;
  });
  if (!any) out.malformed = true;
  return out;
}

}  // namespace detail

inline framing request_framing(const request_head& head) {
  const auto codings = detail::transfer_codings(head.fields);
  const auto length = detail::content_length(head.fields);
  framing f;
  if (codings.present) {
    // RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
    if (head.version_minor == 0)
      return detail::framing_error(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (codings.malformed)
      return detail::framing_error(
          400, "Transfer-Encoding is empty, names a coding that is not a token, or chunked twice");
    if (!codings.chunked_last)
      return detail::framing_error(400, "the final Transfer-Encoding coding is not chunked");
    // RFC 9112 6.3 item 3: both is what a request smuggling attack sends.
    if (length.present)
      return detail::framing_error(400, "both Transfer-Encoding and Content-Length");
    if (codings.other_codings)
      return detail::framing_error(501, "a Transfer-Encoding coding other than chunked");
    f.kind = body_kind::chunked;
    return f;
  }
  if (length.present) {
    if (!length.valid) return detail::framing_error(400, length.error);
    f.kind = body_kind::content_length;
    f.length = length.value;
  }
  return f;
}

inline framing response_framing(const response_head& head, std::string_view request_method) {
  framing f;
  const int s = head.status;
  if (request_method == "HEAD" || (request_method == "CONNECT" && s / 100 == 2) || s / 100 == 1 ||
      s == 204 || s == 304)
    return f;
  const auto codings = detail::transfer_codings(head.fields);
  if (codings.present) {
    if (codings.malformed)
      return detail::framing_error(
          0, "Transfer-Encoding is empty, names a coding that is not a token, or chunked twice");
    f.other_codings = codings.other_codings;
    f.kind = codings.chunked_last && head.version_minor != 0 ? body_kind::chunked
                                                             : body_kind::until_close;
    return f;
  }
  const auto length = detail::content_length(head.fields);
  if (length.present) {
    if (!length.valid) return detail::framing_error(0, length.error);
    f.kind = body_kind::content_length;
    f.length = length.value;
    return f;
  }
  f.kind = body_kind::until_close;
  return f;
}

}  // namespace ssepp::http
