// Fuzz target for ssepp::http::parse_request_head and request_framing. The
// bytes are parsed whole and, as a server does while they arrive, as every
// prefix at fuzzed cut points and strides: a prefix either says incomplete
// or gives exactly the whole input's answer. A parsed head must be what the
// bytes say (the request line rebuilt from method, target and version; the
// target split into authority, path and query; the field lines re-read by
// a plain model) and keep the parser's promises: token names, no CR, LF or
// NUL in a value, the limits. request_framing must agree with a model of
// RFC 9112 section 6.3 written from framing.hpp's documentation.
//
// Input layout (see README.md):
//   [0]  flags: bit 0 small limits from [1] and [2]; bits 4-7 stride - 1
//   [1]  max_head_bytes / 4 when bit 0 is set
//   [2]  max_fields % 32 when bit 0 is set
//   [3..6]  four cut points, each as a fraction [k]/255 of the bytes
//   [7..]   the bytes
// A shorter input reads as if padded with zero bytes.
#include <ssepp/http/head.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <ssepp/http/framing.hpp>

#include "head_fuzz.hpp"
#include "http_oracle.hpp"
#include "oracle.hpp"

namespace {

namespace http = ssepp::http;

using outcome = ssepp_fuzz::head_outcome<http::request_head>;

outcome parse(std::string_view bytes, const http::head_limits& limits) {
  return ssepp_fuzz::parse_head<http::request_head>(http::parse_request_head, bytes, limits);
}

// RFC 9112 section 2.2: whole empty lines (LF or CR LF) before the request
// line are skipped and count toward max_head_bytes with the head. A CR at
// the very end is pending: the next byte says whether it ends a line.
struct empty_lines {
  std::size_t skipped = 0;
  bool pending_cr = false;
};
empty_lines leading_empty_lines(std::string_view bytes) {
  empty_lines e;
  std::size_t& i = e.skipped;
  for (;;) {
    if (i < bytes.size() && bytes[i] == '\n') {
      ++i;
    } else if (i + 1 < bytes.size() && bytes[i] == '\r' && bytes[i + 1] == '\n') {
      i += 2;
    } else {
      e.pending_cr = i + 1 == bytes.size() && bytes[i] == '\r';
      return e;
    }
  }
}

// A complete head must be exactly what its bytes say.
void check_complete(std::string_view bytes, const http::head_limits& limits, const outcome& o) {
  const http::request_head& h = o.head;
  SSEPP_FUZZ_CHECK(o.why.empty());
  const std::size_t skipped = leading_empty_lines(bytes).skipped;
  SSEPP_FUZZ_CHECK(skipped <= limits.max_head_bytes);
  std::size_t end = 0;
  const auto lines = ssepp_fuzz::head_lines(bytes.substr(skipped), end);
  SSEPP_FUZZ_CHECK(end != std::string_view::npos && skipped + end == o.head_size);
  // one limit for the empty lines and the head together
  SSEPP_FUZZ_CHECK(o.head_size <= limits.max_head_bytes && o.head_size <= bytes.size());
  SSEPP_FUZZ_CHECK(lines.size() >= 2);  // the request line and the blank line

  // The request line, rebuilt.
  SSEPP_FUZZ_CHECK(ssepp_fuzz::is_token(h.method));
  SSEPP_FUZZ_CHECK(h.version_major == 1 && h.version_minor >= 0 && h.version_minor <= 9);
  const std::string line =
      h.method + " " + h.target + " HTTP/1." + static_cast<char>('0' + h.version_minor);
  SSEPP_FUZZ_CHECK(lines[0] == line);

  // The target: origin-form, or absolute-form with an authority.
  SSEPP_FUZZ_CHECK(!h.target.empty() && !ssepp_fuzz::has_ctl_or_space(h.target));
  std::string_view origin = h.target;
  if (h.target.front() == '/') {
    SSEPP_FUZZ_CHECK(h.authority.empty());
  } else {
    const std::size_t scheme_end = h.target.find("://");
    SSEPP_FUZZ_CHECK(scheme_end != std::string::npos);
    const std::string_view scheme = origin.substr(0, scheme_end);
    SSEPP_FUZZ_CHECK(ssepp_fuzz::iequal(scheme, "http") || ssepp_fuzz::iequal(scheme, "https"));
    origin.remove_prefix(scheme_end + 3);
    SSEPP_FUZZ_CHECK(origin.substr(0, h.authority.size()) == h.authority);
    SSEPP_FUZZ_CHECK(!h.authority.empty() && !ssepp_fuzz::has_any_of(h.authority, "@/?"));
    origin.remove_prefix(h.authority.size());
    SSEPP_FUZZ_CHECK(origin.empty() || origin.front() == '/' || origin.front() == '?');
  }
  const std::size_t qmark = origin.find('?');
  const std::string_view raw_path = origin.substr(0, qmark);
  const auto path = ssepp_fuzz::percent_decoded(raw_path.empty() ? "/" : raw_path, false);
  SSEPP_FUZZ_CHECK(path && h.path == *path);
  SSEPP_FUZZ_CHECK(!h.path.empty() && h.path.front() == '/');
  SSEPP_FUZZ_CHECK(h.path.find('\0') == std::string::npos);
  SSEPP_FUZZ_CHECK(
      h.query == (qmark == std::string_view::npos ? std::string_view{} : origin.substr(qmark + 1)));

  // The field lines, re-read; no value starts or ends with a blank.
  ssepp_fuzz::check_field_lines(lines, h, limits);
  for (const auto& field : h.fields) {
    const std::string& value = field.second;
    SSEPP_FUZZ_CHECK(value.empty() ||
                     (!ssepp_fuzz::is_blank(value.front()) && !ssepp_fuzz::is_blank(value.back())));
  }
}

// What the parser may say when it has not parsed a head.
void check_not_complete(std::string_view bytes, const http::head_limits& limits, const outcome& o) {
  const auto empty = leading_empty_lines(bytes);
  const std::size_t skipped = empty.skipped;
  const std::string_view head = bytes.substr(std::min(skipped, bytes.size()));
  const bool too_many_empty_lines = skipped > limits.max_head_bytes;
  const std::size_t head_limit = too_many_empty_lines ? 0 : limits.max_head_bytes - skipped;
  std::size_t end = 0;
  ssepp_fuzz::head_lines(head.substr(0, head_limit), end);
  switch (o.result) {
    case http::head_result::incomplete:
      SSEPP_FUZZ_CHECK(o.why.empty() && !too_many_empty_lines);
      SSEPP_FUZZ_CHECK(empty.pending_cr ||
                       (end == std::string_view::npos && head.size() <= head_limit));
      break;
    case http::head_result::too_large: {
      SSEPP_FUZZ_CHECK(!o.why.empty());
      // Too many empty lines first, no head within the limit, or more field
      // lines than allowed.
      if (too_many_empty_lines) break;
      if (end == std::string_view::npos) {
        SSEPP_FUZZ_CHECK(head.size() > head_limit);
      } else {
        const auto lines = ssepp_fuzz::head_lines(head, end);
        SSEPP_FUZZ_CHECK(lines.size() >= 2 && lines.size() - 2 > limits.max_fields);
      }
      break;
    }
    case http::head_result::malformed:
    case http::head_result::bad_version:
      SSEPP_FUZZ_CHECK(!o.why.empty() && !too_many_empty_lines);
      SSEPP_FUZZ_CHECK(end != std::string_view::npos);  // judged only once the head is whole
      break;
    case http::head_result::complete:
      break;
  }
}

// The framing rules of framing.hpp's documentation, written out plainly.
struct framing_model {
  http::body_kind kind = http::body_kind::none;
  std::uint64_t length = 0;
  int status = 0;
};

framing_model expected_request_framing(const http::request_head& h) {
  framing_model m;
  const auto error = [&m](int status) {
    m.kind = http::body_kind::error;
    m.status = status;
    return m;
  };
  const bool has_length = h.fields.contains("content-length");
  if (h.fields.contains("transfer-encoding")) {
    if (h.version_minor == 0) return error(400);
    std::vector<std::string_view> codings;
    for (const auto element : ssepp_fuzz::list_elements(h.fields, "transfer-encoding"))
      if (!element.empty())
        codings.push_back(ssepp_fuzz::trim_blanks(element.substr(0, element.find(';'))));
    std::size_t chunked = 0;
    bool malformed = codings.empty();
    for (const auto coding : codings) {
      malformed = malformed || !ssepp_fuzz::is_token(coding);
      if (ssepp_fuzz::iequal(coding, "chunked")) ++chunked;
    }
    if (malformed || chunked > 1) return error(400);
    if (!ssepp_fuzz::iequal(codings.back(), "chunked")) return error(400);
    if (has_length) return error(400);
    if (codings.size() > 1) return error(501);
    m.kind = http::body_kind::chunked;
    return m;
  }
  if (has_length) {
    std::optional<std::uint64_t> value;
    for (const auto element : ssepp_fuzz::list_elements(h.fields, "content-length")) {
      const auto n = ssepp_fuzz::decimal_u64(element);
      if (!n || (value && *value != *n)) return error(400);
      value = n;
    }
    m.kind = http::body_kind::content_length;
    m.length = *value;
  }
  return m;
}

void check_framing(const http::request_head& h) {
  const http::framing f = http::request_framing(h);
  const framing_model m = expected_request_framing(h);
  SSEPP_FUZZ_CHECK(f.kind != http::body_kind::until_close);  // never for a request
  SSEPP_FUZZ_CHECK(!f.other_codings);
  if (f.kind != m.kind || f.status != m.status || f.length != m.length) {
    std::fprintf(stderr, "request_framing: kind %d length %llu status %d (%s)\n",
                 static_cast<int>(f.kind), static_cast<unsigned long long>(f.length), f.status,
                 std::string(f.error).c_str());
    std::fprintf(stderr, "model:          kind %d length %llu status %d\n",
                 static_cast<int>(m.kind), static_cast<unsigned long long>(m.length), m.status);
    SSEPP_FUZZ_CHECK(f.kind == m.kind && f.status == m.status && f.length == m.length);
  }
  SSEPP_FUZZ_CHECK((f.kind == http::body_kind::error) == !f.error.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* input, std::size_t size);

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* input, std::size_t size) {
  const ssepp_fuzz::controls c(input, size, 7);
  const std::string_view bytes = c.rest();
  const http::head_limits limits = ssepp_fuzz::limits_from(c);

  const outcome whole = parse(bytes, limits);
  if (whole.result == http::head_result::complete) {
    check_complete(bytes, limits, whole);
    check_framing(whole.head);
  } else {
    check_not_complete(bytes, limits, whole);
  }

  ssepp_fuzz::check_prefixes(bytes, c, limits, whole, parse);
  return 0;
}
