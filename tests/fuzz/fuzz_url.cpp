// Fuzz target for the URL and request-target helpers of ssepp::http:
// parse_url, resolve_location, percent_decode, raw_query_param and
// query_param, cookie_value and last_event_id. None may crash; each must
// match a plain model written from its documentation; decoded output is
// never longer than its input; and what round-trips does: a parsed URL
// printed and parsed again, percent-encoded bytes decoded, a query built
// from an encoded name and value looked up again.
//
// Input layout (see README.md):
//   [0]  flags: bit 0 plus_is_space; bit 1 upper-case hex when encoding;
//        bit 2 last_event_id gets a Last-Event-ID header (A)
//   [1]  length of A
//   [2]  length of B
//   [3..]   A, then B, then C (lengths clamp to what is left)
// A is parsed as a URL (and is the base of resolve_location when it is
// one), and is the name looked up; B is the Location, the percent-encoded
// text, the query and the Cookie field; C is a value to round-trip.
// A shorter input reads as if padded with zero bytes.
#include <ssepp/http/url.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include <ssepp/http/cookie.hpp>
#include <ssepp/http/event_stream.hpp>
#include <ssepp/http/fields.hpp>

#include "http_oracle.hpp"
#include "oracle.hpp"

namespace {

namespace http = ssepp::http;
using ssepp_fuzz::escaped;

bool same_url(const http::url& a, const http::url& b) {
  return a.scheme == b.scheme && a.host == b.host && a.port == b.port && a.target == b.target;
}

void print_url(const char* title, const http::url& u) {
  std::fprintf(stderr, "%s: scheme=%s host=%s port=%u target=%s\n", title,
               escaped(u.scheme).c_str(), escaped(u.host).c_str(), unsigned{u.port},
               escaped(u.target).c_str());
}

// What every URL parse_url gives must be.
void check_url(const http::url& u) {
  SSEPP_FUZZ_CHECK(u.scheme == "http" || u.scheme == "https");
  SSEPP_FUZZ_CHECK(u.tls() == (u.scheme == "https"));
  SSEPP_FUZZ_CHECK(!u.host.empty() && u.port != 0);
  SSEPP_FUZZ_CHECK(!ssepp_fuzz::has_any_of(u.host, "/?#@"));
  SSEPP_FUZZ_CHECK(!u.target.empty() && u.target.front() == '/');
  SSEPP_FUZZ_CHECK(u.target.find('#') == std::string::npos);
  SSEPP_FUZZ_CHECK(!ssepp_fuzz::has_ctl_or_space(u.host) &&
                   !ssepp_fuzz::has_ctl_or_space(u.target));
  // Printed and parsed again, it is the same URL.
  const auto again = http::parse_url(u.str());
  if (!again || !same_url(*again, u)) {
    print_url("url", u);
    std::fprintf(stderr, "str(): %s\n", escaped(u.str()).c_str());
    if (again) print_url("parsed again", *again);
    SSEPP_FUZZ_CHECK(again && same_url(*again, u));
  }
}

void check_parse_url(std::string_view a) {
  const auto u = http::parse_url(a);
  const std::size_t scheme_end = a.find("://");
  const std::string_view scheme = a.substr(0, scheme_end);
  if (ssepp_fuzz::has_ctl_or_space(a) || scheme_end == std::string_view::npos ||
      !(ssepp_fuzz::iequal(scheme, "http") || ssepp_fuzz::iequal(scheme, "https")))
    SSEPP_FUZZ_CHECK(!u);
  if (!u) return;
  check_url(*u);
  SSEPP_FUZZ_CHECK(ssepp_fuzz::iequal(u->scheme, scheme));
  SSEPP_FUZZ_CHECK(a.find('@') == std::string_view::npos ||
                   a.find_first_of("/?#", scheme_end + 3) < a.find('@'));
}

bool has_dot_segment(std::string_view path) {
  for (const std::string_view dots : {"/./", "/../"})
    if (path.find(dots) != std::string_view::npos) return true;
  const auto ends_with = [path](std::string_view end) {
    return path.size() >= end.size() && path.substr(path.size() - end.size()) == end;
  };
  return ends_with("/.") || ends_with("/..");
}

void check_resolve(const http::url& base, std::string_view location) {
  const auto r = http::resolve_location(base, location);
  const std::size_t delimiter = location.find_first_of(":/?#");
  const bool absolute =
      delimiter != std::string_view::npos && delimiter > 0 && location[delimiter] == ':';
  if (absolute) {
    const auto direct = http::parse_url(location);
    SSEPP_FUZZ_CHECK(r.has_value() == direct.has_value() && (!r || same_url(*r, *direct)));
    return;
  }
  if (location.substr(0, 2) == "//") {
    const auto direct = http::parse_url(base.scheme + ":" + std::string(location));
    SSEPP_FUZZ_CHECK(r.has_value() == direct.has_value() && (!r || same_url(*r, *direct)));
    return;
  }
  if (!r) return;
  check_url(*r);
  // A relative reference stays on the base's origin; a path in it comes
  // out without dot segments (the base's own path, kept by an empty or
  // query-only reference, is the base's business).
  SSEPP_FUZZ_CHECK(r->scheme == base.scheme && r->host == base.host && r->port == base.port);
  const std::string_view target = r->target;
  const std::string_view path = target.substr(0, target.find('?'));
  const std::string_view reference = location.substr(0, location.find('#'));
  const std::string_view base_path = std::string_view(base.target).substr(0, base.target.find('?'));
  if (reference.empty()) {
    SSEPP_FUZZ_CHECK(same_url(*r, base));
  } else if (reference.front() == '?') {
    SSEPP_FUZZ_CHECK(path == base_path);
    SSEPP_FUZZ_CHECK(target.substr(path.size()) == reference);
  } else {
    SSEPP_FUZZ_CHECK(!has_dot_segment(path));
  }
}

void check_percent(std::string_view b, std::string_view c, bool plus, bool upper) {
  const auto decoded = http::percent_decode(b, plus);
  const auto expected = ssepp_fuzz::percent_decoded(b, plus);
  SSEPP_FUZZ_CHECK(decoded == expected);
  if (decoded) SSEPP_FUZZ_CHECK(decoded->size() <= b.size());

  // Any bytes but NUL come back from their encoding; NUL cannot be sent.
  const std::string encoded = ssepp_fuzz::percent_encoded(c, plus, upper);
  const auto back = http::percent_decode(encoded, plus);
  if (c.find('\0') == std::string_view::npos) {
    SSEPP_FUZZ_CHECK(back && *back == c);
  } else {
    SSEPP_FUZZ_CHECK(!back);
  }
}

// raw_query_param as url.hpp documents it.
std::optional<std::string_view> raw_param_model(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    const auto key = ssepp_fuzz::percent_decoded(pair.substr(0, eq), true);
    if (key && *key == name)
      return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
  }
  return std::nullopt;
}

void check_query(std::string_view query, std::string_view name, std::string_view value,
                 bool upper) {
  const auto raw = http::raw_query_param(query, name);
  const auto expected = raw_param_model(query, name);
  SSEPP_FUZZ_CHECK(raw.has_value() == expected.has_value() && (!raw || *raw == *expected));
  if (raw && !raw->empty())
    SSEPP_FUZZ_CHECK(raw->data() >= query.data() &&
                     raw->data() + raw->size() <= query.data() + query.size());
  const auto decoded = http::query_param(query, name);
  SSEPP_FUZZ_CHECK(decoded == (raw ? ssepp_fuzz::percent_decoded(*raw, true) : std::nullopt));
  if (decoded) SSEPP_FUZZ_CHECK(decoded->size() <= raw->size());

  // An encoded pair is found again; a later one of the same name is not.
  const std::string built = ssepp_fuzz::percent_encoded(name, true, upper) + "=" +
                            ssepp_fuzz::percent_encoded(value, true, upper) + "&" +
                            ssepp_fuzz::percent_encoded(name, true, upper) + "=later";
  const auto found = http::query_param(built, name);
  const bool name_nul = name.find('\0') != std::string_view::npos;
  const bool value_nul = value.find('\0') != std::string_view::npos;
  if (name_nul || value_nul) {
    SSEPP_FUZZ_CHECK(!found);
  } else {
    SSEPP_FUZZ_CHECK(found && *found == value);
  }
}

// cookie_value as cookie.hpp documents it.
std::optional<std::string> cookie_model(const http::fields& f, std::string_view name) {
  for (const auto& [field, value] : f) {
    if (field != "cookie") continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      const std::size_t semi = rest.find(';');
      const std::string_view pair = ssepp_fuzz::trim_blanks(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
      const std::size_t eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name)
        return std::string(pair.substr(eq + 1));
    }
  }
  return std::nullopt;
}

void check_cookie(std::string_view b, std::string_view c, std::string_view name) {
  http::fields f;
  f.add("Set-Cookie", c);  // not a Cookie field: never read
  f.add("Cookie", b);
  f.add("cookie", c);
  const auto value = http::cookie_value(f, name);
  SSEPP_FUZZ_CHECK(value == cookie_model(f, name));
  if (value) SSEPP_FUZZ_CHECK(value->size() <= b.size() || value->size() <= c.size());
}

void check_last_event_id(std::optional<std::string_view> header, std::string_view query) {
  const std::string id = http::last_event_id(header, query);
  if (header) {
    SSEPP_FUZZ_CHECK(id == *header);
    return;
  }
  const auto raw = raw_param_model(query, "lastEventId");
  std::string expected;
  if (raw) expected = ssepp_fuzz::percent_decoded(*raw, true).value_or(std::string(*raw));
  SSEPP_FUZZ_CHECK(id == expected);
  SSEPP_FUZZ_CHECK(id.size() <= query.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* input, std::size_t size);

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* input, std::size_t size) {
  const ssepp_fuzz::controls ctl(input, size, 3);
  std::string_view rest = ctl.rest();
  const std::string_view a = rest.substr(0, ctl[1]);
  rest.remove_prefix(a.size());
  const std::string_view b = rest.substr(0, ctl[2]);
  rest.remove_prefix(b.size());
  const std::string_view c = rest;
  const bool plus = ctl.bit(0, 0), upper = ctl.bit(0, 1);

  check_parse_url(a);
  const auto parsed = http::parse_url(a);
  const http::url base = parsed ? *parsed : *http::parse_url("http://example.com/a/b?q=1");
  check_resolve(base, b);
  check_percent(b, c, plus, upper);
  check_query(b, a, c, upper);
  check_cookie(b, c, a);
  check_last_event_id(ctl.bit(0, 2) ? std::optional<std::string_view>(a) : std::nullopt, b);
  return 0;
}
