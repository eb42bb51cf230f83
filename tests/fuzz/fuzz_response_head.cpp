// Fuzz target for ssepp::http::parse_response_head, response_framing and
// classify_response: what an EventSource client makes of a server's (or a
// proxy's) answer. The bytes are parsed whole and as every prefix at fuzzed
// cut points and strides, which must say incomplete or give the whole
// input's answer. A parsed head must be what its bytes say (the status line
// rebuilt, the field lines re-read) within the limits; response_framing
// must agree with a model of RFC 9112 section 6.3 written from framing.hpp's
// documentation; classify_response must take the step its documentation
// gives for the status and fields, with a coherent action.
//
// Input layout (see README.md):
//   [0]  flags: bit 0 small limits from [1] and [2]; bits 1-2 the request's
//        method (GET, HEAD, POST, CONNECT); bits 4-7 stride - 1
//   [1]  max_head_bytes / 4 when bit 0 is set
//   [2]  max_fields % 32 when bit 0 is set
//   [3..6]  four cut points, each as a fraction [k]/255 of the bytes
//   [7]  redirects followed so far (low 4 bits), max_redirects (high 4 bits)
//   [8]  the URL asked for: one of four (bits 0-1)
//   [9..]   the bytes
// A shorter input reads as if padded with zero bytes.
#include <ssepp/http/head.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <ssepp/error.hpp>
#include <ssepp/http/framing.hpp>
#include <ssepp/http/response_action.hpp>
#include <ssepp/http/url.hpp>

#include "head_fuzz.hpp"
#include "http_oracle.hpp"
#include "oracle.hpp"

namespace {

namespace http = ssepp::http;

using outcome = ssepp_fuzz::head_outcome<http::response_head>;

outcome parse(std::string_view bytes, const http::head_limits& limits) {
  return ssepp_fuzz::parse_head<http::response_head>(http::parse_response_head, bytes, limits);
}

void check_complete(std::string_view bytes, const http::head_limits& limits, const outcome& o) {
  const http::response_head& h = o.head;
  SSEPP_FUZZ_CHECK(o.why.empty());
  std::size_t end = 0;
  const auto lines = ssepp_fuzz::head_lines(bytes, end);
  SSEPP_FUZZ_CHECK(end == o.head_size);
  SSEPP_FUZZ_CHECK(o.head_size <= limits.max_head_bytes && o.head_size <= bytes.size());
  SSEPP_FUZZ_CHECK(lines.size() >= 2);

  // The status line, rebuilt: "HTTP/1.D DDD", then nothing, SP, or SP and
  // the reason.
  SSEPP_FUZZ_CHECK(h.version_major == 1 && h.version_minor >= 0 && h.version_minor <= 9);
  SSEPP_FUZZ_CHECK(h.status >= 100 && h.status <= 999);
  const std::string start = "HTTP/1." + std::string(1, static_cast<char>('0' + h.version_minor)) +
                            " " + std::to_string(h.status);
  SSEPP_FUZZ_CHECK(lines[0] == start || lines[0] == start + " " + h.reason);
  SSEPP_FUZZ_CHECK(lines[0] != start || h.reason.empty());
  for (const char c : h.reason)
    SSEPP_FUZZ_CHECK(c == '\t' || (static_cast<unsigned char>(c) >= 0x20 && c != '\x7f'));

  ssepp_fuzz::check_field_lines(lines, h, limits);
}

void check_not_complete(std::string_view bytes, const http::head_limits& limits, const outcome& o) {
  std::size_t end = 0;
  ssepp_fuzz::head_lines(bytes.substr(0, limits.max_head_bytes), end);
  switch (o.result) {
    case http::head_result::incomplete:
      SSEPP_FUZZ_CHECK(o.why.empty());
      SSEPP_FUZZ_CHECK(end == std::string_view::npos && bytes.size() <= limits.max_head_bytes);
      break;
    case http::head_result::too_large:
      SSEPP_FUZZ_CHECK(!o.why.empty());
      if (end == std::string_view::npos) {
        SSEPP_FUZZ_CHECK(bytes.size() > limits.max_head_bytes);
      } else {
        const auto lines = ssepp_fuzz::head_lines(bytes, end);
        SSEPP_FUZZ_CHECK(lines.size() >= 2 && lines.size() - 2 > limits.max_fields);
      }
      break;
    case http::head_result::malformed:
    case http::head_result::bad_version:
      SSEPP_FUZZ_CHECK(!o.why.empty() && end != std::string_view::npos);
      break;
    case http::head_result::complete:
      break;
  }
}

// response_framing as framing.hpp documents it.
http::framing expected_framing(const http::response_head& h, std::string_view method) {
  http::framing f;
  const int s = h.status;
  if (method == "HEAD" || (method == "CONNECT" && s / 100 == 2) || s / 100 == 1 || s == 204 ||
      s == 304)
    return f;
  const auto error = [&f] {
    f.kind = http::body_kind::error;
    return f;
  };
  if (h.fields.contains("transfer-encoding")) {
    std::vector<std::string_view> codings;
    for (const auto element : ssepp_fuzz::list_elements(h.fields, "transfer-encoding"))
      if (!element.empty())
        codings.push_back(ssepp_fuzz::trim_blanks(element.substr(0, element.find(';'))));
    std::size_t chunked = 0;
    bool malformed = codings.empty();
    for (const auto coding : codings) {
      malformed = malformed || !ssepp_fuzz::is_token(coding);
      if (ssepp_fuzz::iequal(coding, "chunked"))
        ++chunked;
      else
        f.other_codings = true;
    }
    if (malformed || chunked > 1) {
      f.other_codings = false;
      return error();
    }
    f.kind = ssepp_fuzz::iequal(codings.back(), "chunked") && h.version_minor != 0
                 ? http::body_kind::chunked
                 : http::body_kind::until_close;
    return f;
  }
  if (h.fields.contains("content-length")) {
    std::optional<std::uint64_t> value;
    for (const auto element : ssepp_fuzz::list_elements(h.fields, "content-length")) {
      const auto n = ssepp_fuzz::decimal_u64(element);
      if (!n || (value && *value != *n)) return error();
      value = n;
    }
    f.kind = http::body_kind::content_length;
    f.length = *value;
    return f;
  }
  f.kind = http::body_kind::until_close;
  return f;
}

void check_framing(const http::response_head& h, std::string_view method) {
  const http::framing f = http::response_framing(h, method);
  const http::framing m = expected_framing(h, method);
  if (f.kind != m.kind || f.length != m.length || f.other_codings != m.other_codings) {
    std::fprintf(stderr, "response_framing(%s): kind %d length %llu other_codings %d (%s)\n",
                 std::string(method).c_str(), static_cast<int>(f.kind),
                 static_cast<unsigned long long>(f.length), f.other_codings,
                 std::string(f.error).c_str());
    std::fprintf(stderr, "model: kind %d length %llu other_codings %d\n", static_cast<int>(m.kind),
                 static_cast<unsigned long long>(m.length), m.other_codings);
    SSEPP_FUZZ_CHECK(f.kind == m.kind && f.length == m.length &&
                     f.other_codings == m.other_codings);
  }
  SSEPP_FUZZ_CHECK(f.status == 0);  // a status to answer with is for requests
  SSEPP_FUZZ_CHECK((f.kind == http::body_kind::error) == !f.error.empty());
}

bool same_url(const http::url& a, const http::url& b) {
  return a.scheme == b.scheme && a.host == b.host && a.port == b.port && a.target == b.target;
}

void check_action(const http::response_head& h, const http::request_context& ctx) {
  const http::response_action a = http::classify_response(h, ctx);
  const int s = h.status;
  const auto fails_with = [&a](ssepp::errc code) {
    SSEPP_FUZZ_CHECK(a.step == http::client_step::fail);
    SSEPP_FUZZ_CHECK(a.error == ssepp::make_error_code(code));
    SSEPP_FUZZ_CHECK(!a.message.empty());
  };
  if (s / 100 == 1) {
    if (s == 101) return fails_with(ssepp::errc::http_status);
    SSEPP_FUZZ_CHECK(a.step == http::client_step::interim && !a.error);
    return;
  }
  if (s == 301 || s == 302 || s == 303 || s == 307 || s == 308) {
    if (ctx.redirects + 1 > ctx.max_redirects) return fails_with(ssepp::errc::too_many_redirects);
    const auto location = h.fields.find("location");
    const auto next = location ? http::resolve_location(ctx.target, *location) : std::nullopt;
    if (!next) return fails_with(ssepp::errc::bad_response);
    SSEPP_FUZZ_CHECK(a.step == http::client_step::redirect && !a.error);
    SSEPP_FUZZ_CHECK(same_url(a.location, *next));
    SSEPP_FUZZ_CHECK(a.cross_origin == !(a.location.scheme == ctx.target.scheme &&
                                         ssepp_fuzz::iequal(a.location.host, ctx.target.host) &&
                                         a.location.port == ctx.target.port));
    const bool as_get = s == 303 || ((s == 301 || s == 302) && ctx.method == "POST");
    SSEPP_FUZZ_CHECK(a.drop_body == as_get);
    SSEPP_FUZZ_CHECK(a.method == (as_get ? std::string("GET") : ctx.method));
    return;
  }
  if (s == 204) {
    SSEPP_FUZZ_CHECK(a.step == http::client_step::stop && !a.error);
    return;
  }
  if (s == 503 || s == 429) {
    SSEPP_FUZZ_CHECK(a.step == http::client_step::retry);
    SSEPP_FUZZ_CHECK(a.error == ssepp::make_error_code(ssepp::errc::http_status));
    std::chrono::milliseconds after{0};
    if (const auto value = h.fields.find("retry-after")) {
      const auto n = ssepp_fuzz::decimal_u64(ssepp_fuzz::trim_blanks(*value));
      if (n && *n <= 0xFFFFFFFFu) after = std::chrono::seconds{static_cast<std::int64_t>(*n)};
    }
    SSEPP_FUZZ_CHECK(a.retry_after == after);
    return;
  }
  if (s != 200) return fails_with(ssepp::errc::http_status);
  const std::string_view type = h.fields.find("content-type").value_or("");
  if (!ssepp_fuzz::iequal(ssepp_fuzz::trim_blanks(type.substr(0, type.find(';'))),
                          "text/event-stream"))
    return fails_with(ssepp::errc::wrong_content_type);
  const http::framing body = http::response_framing(h, ctx.method);
  if (body.kind == http::body_kind::error || body.other_codings)
    return fails_with(ssepp::errc::bad_response);
  SSEPP_FUZZ_CHECK(a.step == http::client_step::open && !a.error);
  SSEPP_FUZZ_CHECK(a.body.kind == body.kind && a.body.length == body.length);
}

constexpr const char* methods[] = {"GET", "HEAD", "POST", "CONNECT"};
constexpr const char* bases[] = {"http://example.com/events", "https://example.com:8443/a/b/c?x=1",
                                 "http://[::1]:8080/", "http://127.0.0.1/x/y/"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* input, std::size_t size);

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* input, std::size_t size) {
  const ssepp_fuzz::controls c(input, size, 9);
  const std::string_view bytes = c.rest();
  const http::head_limits limits = ssepp_fuzz::limits_from(c);

  const outcome whole = parse(bytes, limits);
  if (whole.result == http::head_result::complete) {
    check_complete(bytes, limits, whole);
    const std::string_view method = methods[(c[0] >> 1) & 3u];
    check_framing(whole.head, method);
    http::request_context ctx;
    ctx.target = *http::parse_url(bases[c[8] & 3u]);
    ctx.method = std::string(method);
    ctx.redirects = c[7] & 15u;
    ctx.max_redirects = c[7] >> 4;
    check_action(whole.head, ctx);
  } else {
    check_not_complete(bytes, limits, whole);
  }

  ssepp_fuzz::check_prefixes(bytes, c, limits, whole, parse);
  return 0;
}
