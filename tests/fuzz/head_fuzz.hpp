// What fuzz_request_head and fuzz_response_head share: the outcome of one
// parse and when two are the same, the first seven control bytes of both
// input layouts (README.md), the field-line checks, and the driver that
// re-parses every prefix of the bytes, as a server or a client does while a
// head arrives, and holds each to the whole input's answer.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <ssepp/http/head.hpp>

#include "http_oracle.hpp"
#include "oracle.hpp"

namespace ssepp_fuzz {

// The heads have no operator==. What the start lines hold differs; the
// version and the field lines, in order, are compared alike.
inline bool same_start_line(const ssepp::http::request_head& a,
                            const ssepp::http::request_head& b) {
  return a.method == b.method && a.target == b.target && a.authority == b.authority &&
         a.path == b.path && a.query == b.query;
}

inline bool same_start_line(const ssepp::http::response_head& a,
                            const ssepp::http::response_head& b) {
  return a.status == b.status && a.reason == b.reason;
}

template <class Head>
bool same_head(const Head& a, const Head& b) {
  if (!same_start_line(a, b) || a.version_major != b.version_major ||
      a.version_minor != b.version_minor || a.fields.size() != b.fields.size())
    return false;
  for (std::size_t i = 0; i < a.fields.size(); ++i)
    if (a.fields[i] != b.fields[i]) return false;
  return true;
}

// What one parse said. `head` and `head_size` mean something only when the
// result is complete.
template <class Head>
struct head_outcome {
  ssepp::http::head_result result = ssepp::http::head_result::incomplete;
  Head head;
  std::size_t head_size = 0;
  std::string why;
};

template <class Head>
bool operator==(const head_outcome<Head>& a, const head_outcome<Head>& b) {
  if (a.result != b.result || a.why != b.why) return false;
  return a.result != ssepp::http::head_result::complete ||
         (a.head_size == b.head_size && same_head(a.head, b.head));
}

// http::parse_request_head or http::parse_response_head, the overload that
// reports why.
template <class Head>
using parse_function = ssepp::http::head_result (*)(std::string_view,
                                                    const ssepp::http::head_limits&, Head&,
                                                    std::size_t&, std::string_view&);

// `why` starts as "untouched", so a parser that forgets to set it (or to
// clear it on success) is seen.
template <class Head>
head_outcome<Head> parse_head(parse_function<Head> parse, std::string_view bytes,
                              const ssepp::http::head_limits& limits) {
  head_outcome<Head> o;
  std::string_view why = "untouched";
  o.result = parse(bytes, limits, o.head, o.head_size, why);
  o.why = std::string(why);
  return o;
}

template <class Head>
void print(const char* title, std::size_t size, const head_outcome<Head>& o) {
  std::fprintf(stderr, "%s (%zu bytes): %s, why=%s, head_size=%zu\n", title, size,
               std::string(ssepp::http::to_string(o.result)).c_str(), escaped(o.why).c_str(),
               o.head_size);
}

// Control byte 0 bit 0: small limits, max_head_bytes from byte 1 (× 4) and
// max_fields from byte 2 (% 32); else the defaults.
inline ssepp::http::head_limits limits_from(const controls& c) {
  ssepp::http::head_limits limits;
  if (c.bit(0, 0)) {
    limits.max_head_bytes = std::size_t{c[1]} * 4;
    limits.max_fields = c[2] % 32u;
  }
  return limits;
}

// The field lines of a complete head (`lines` as head_lines split them:
// the start line, the field lines, the empty line), re-read: name before
// the first colon, value trimmed; no more of them than the limit.
template <class Head>
void check_field_lines(const std::vector<std::string_view>& lines, const Head& h,
                       const ssepp::http::head_limits& limits) {
  SSEPP_FUZZ_CHECK(h.fields.size() == lines.size() - 2);
  SSEPP_FUZZ_CHECK(h.fields.size() <= limits.max_fields);
  for (std::size_t i = 0; i < h.fields.size(); ++i) {
    const std::string_view field_line = lines[i + 1];
    const std::size_t colon = field_line.find(':');
    SSEPP_FUZZ_CHECK(colon != std::string_view::npos);
    const auto& [name, value] = h.fields[i];
    SSEPP_FUZZ_CHECK(is_lower_token(name));
    SSEPP_FUZZ_CHECK(iequal(name, field_line.substr(0, colon)));
    SSEPP_FUZZ_CHECK(value == trim_blanks(field_line.substr(colon + 1)));
    SSEPP_FUZZ_CHECK(!has_cr_lf_nul(value));
  }
}

// Prefixes, as a server or a client re-parses what it has received so far:
// the four cut points of control bytes 3-6, every stride-th byte (control
// byte 0 bits 4-7, stride - 1, at least size / 256, so at most about 256
// prefixes and one input stays fast), and either side of the head's end.
// Every proper prefix of a head is incomplete; once the answer is known,
// more bytes do not change it.
template <class Head, class Parse>
void check_prefixes(std::string_view bytes, const controls& c,
                    const ssepp::http::head_limits& limits, const head_outcome<Head>& whole,
                    Parse parse) {
  const bool complete = whole.result == ssepp::http::head_result::complete;
  std::vector<std::size_t> prefixes = cut_points(bytes.size(), {c[3], c[4], c[5], c[6]});
  const std::size_t stride = std::max<std::size_t>((c[0] >> 4) + 1u, bytes.size() / 256);
  for (const std::size_t p : strided(bytes.size(), stride)) prefixes.push_back(p);
  if (complete) {
    prefixes.push_back(whole.head_size - 1);
    prefixes.push_back(whole.head_size);
  }
  for (const std::size_t p : prefixes) {
    const head_outcome<Head> part = parse(bytes.substr(0, p), limits);
    const bool final_part = part.result != ssepp::http::head_result::incomplete;
    const bool must_be_final = complete && p >= whole.head_size;
    if (final_part != must_be_final && complete) {
      print("whole", bytes.size(), whole);
      print("prefix", p, part);
      SSEPP_FUZZ_CHECK(final_part == must_be_final);
    }
    if (final_part && !(part == whole)) {
      print("whole", bytes.size(), whole);
      print("prefix", p, part);
      SSEPP_FUZZ_CHECK(part == whole);
    }
  }
}

}  // namespace ssepp_fuzz
