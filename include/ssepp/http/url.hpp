// URLs and the parts of a request target: splitting an http(s) URL into
// what a connection needs, resolving a redirect's Location against it,
// percent-decoding, and query parameters. No I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "decimal.hpp"
#include "detail/chars.hpp"

namespace ssepp::http {

/// An absolute http(s) URL, split into what a client connection needs.
///
/// Thread safety: a value type; distinct objects may be used concurrently.
struct url {
  std::string scheme;  ///< "http" or "https", lower-case
  std::string host;    ///< without brackets for IPv6 literals
  std::uint16_t port = 0;
  std::string target = "/";  ///< path and query, as sent in the request line

  bool tls() const noexcept { return scheme == "https"; }
  /// The Host field value: the host (bracketed if IPv6), plus ":port"
  /// unless the port is the scheme's default.
  std::string host_header() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    if (port != (tls() ? 443 : 80)) h += ":" + std::to_string(port);
    return h;
  }
  /// The URL again, normalised: lower-case scheme, default port omitted.
  std::string str() const { return scheme + "://" + host_header() + target; }
};

/// Parses an absolute http:// or https:// URL (scheme case-insensitive).
/// The fragment is dropped; an empty path becomes "/".
///
/// @return nullopt when `s` is not one: another scheme, no host, user info,
///         a port that is not 1..65535 in decimal digits, or any space or
///         control byte anywhere (they would let a caller's URL inject a
///         request line or header).
inline std::optional<url> parse_url(std::string_view s);

/// Resolves a redirect's Location against the URL that answered with it,
/// as RFC 3986 section 5.2 does: absolute URLs, scheme-relative
/// ("//host/x"), absolute paths, relative paths and query-only references;
/// dot segments removed, the fragment dropped.
///
/// @return nullopt when the result is not an http(s) URL parse_url accepts.
inline std::optional<url> resolve_location(const url& base, std::string_view location);

/// Decodes %XX escapes (either hex case), and '+' as a space when
/// `plus_is_space` (the form encoding used in query strings, never in
/// paths). Decoding happens once: "%2541" is "%41".
///
/// @return nullopt for a malformed escape ("%", "%4", "%zz") or an encoded
///         NUL ("%00"), which would cut a name short at the operating system.
inline std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space);

/// The raw value of the first parameter called `name` in `query` (the part
/// of a target after '?', without it). Pairs are split at '&', name from
/// value at the first '='. Names are compared after percent-decoding them
/// ('+' as space); pairs whose name does not decode are skipped. The value
/// is returned as sent, not decoded; a bare name ("flag") has an empty one.
///
/// @return nullopt when no parameter has that name (case-sensitive).
inline std::optional<std::string_view> raw_query_param(std::string_view query,
                                                       std::string_view name);

/// As raw_query_param, with the value percent-decoded ('+' as space).
///
/// @return nullopt when no parameter has that name, or when the first one
///         that does has a value that does not decode (a later one with the
///         same name is not consulted).
inline std::optional<std::string> query_param(std::string_view query, std::string_view name);

// ---------------------------------------------------------------------------
// Implementation

namespace detail {

// RFC 3986 5.2.4: a redirect to "../x" must ask for the resource it names,
// not leave the dots for the server to interpret (or refuse).
inline std::string remove_dot_segments(std::string_view path) {
  std::string out;
  const auto pop_segment = [&out] {
    const std::size_t slash = out.rfind('/');
    out.erase(slash == std::string::npos ? 0 : slash);
  };
  while (!path.empty()) {
    if (path.substr(0, 3) == "../") {
      path.remove_prefix(3);
    } else if (path.substr(0, 2) == "./") {
      path.remove_prefix(2);
    } else if (path.substr(0, 3) == "/./") {
      path.remove_prefix(2);
    } else if (path == "/.") {
      path = "/";
    } else if (path.substr(0, 4) == "/../") {
      path.remove_prefix(3);
      pop_segment();
    } else if (path == "/..") {
      path = "/";
      pop_segment();
    } else if (path == "." || path == "..") {
      path = {};
    } else {
      const std::size_t next = path.find('/', 1);
      const std::size_t n = next == std::string_view::npos ? path.size() : next;
      out.append(path.substr(0, n));
      path.remove_prefix(n);
    }
  }
  return out;
}

}  // namespace detail

inline std::optional<url> parse_url(std::string_view s) {
  for (const char c : s)
    if (static_cast<unsigned char>(c) <= 0x20 || c == '\x7f') return std::nullopt;
  const std::size_t scheme_end = s.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  url u;
  for (const char c : s.substr(0, scheme_end)) u.scheme.push_back(detail::ascii_lower(c));
  if (u.scheme != "http" && u.scheme != "https") return std::nullopt;
  s.remove_prefix(scheme_end + 3);

  const std::size_t authority_end = s.find_first_of("/?#");
  const std::string_view authority = s.substr(0, authority_end);
  std::string_view rest =
      authority_end == std::string_view::npos ? std::string_view{} : s.substr(authority_end);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;

  std::string_view port_text;
  if (authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    u.host = std::string(authority.substr(1, close - 1));
    // An IP literal (RFC 3986 3.2.2): hex digits, ':' and '.' only.
    for (const char c : u.host)
      if (!(detail::is_hex(c) || c == ':' || c == '.')) return std::nullopt;
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port_text = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    // Brackets and colons belong to IP literals only: "a]:b" would be
    // written back as "[a]:b]", which is no URL.
    if (u.host.find_first_of("[]:") != std::string::npos) return std::nullopt;
  }
  if (u.host.empty()) return std::nullopt;
  if (port_text.empty()) {
    u.port = u.tls() ? 443 : 80;  // RFC 3986 3.2.3: an empty port is the default
  } else {
    const auto port = parse_decimal<std::uint16_t>(port_text);
    if (!port || *port == 0) return std::nullopt;
    u.port = *port;
  }

  rest = rest.substr(0, rest.find('#'));  // the fragment never goes on the wire
  if (rest.empty())
    u.target = "/";
  else if (rest.front() == '?')
    u.target = "/" + std::string(rest);
  else
    u.target = std::string(rest);
  return u;
}

inline std::optional<url> resolve_location(const url& base, std::string_view location) {
  // Absolute only when a scheme comes first: a ':' before any '/', '?' or
  // '#' (RFC 3986 4.2). "/login?next=http://x/" is a path on this server.
  const std::size_t delimiter = location.find_first_of(":/?#");
  if (delimiter != std::string_view::npos && delimiter > 0 && location[delimiter] == ':')
    return parse_url(location);
  if (location.substr(0, 2) == "//") return parse_url(base.scheme + ":" + std::string(location));

  location = location.substr(0, location.find('#'));
  if (location.empty()) return base;
  const std::string_view base_path = std::string_view(base.target).substr(0, base.target.find('?'));
  const std::size_t qmark = location.find('?');
  const std::string_view path = location.substr(0, qmark);
  const std::string_view query =
      qmark == std::string_view::npos ? std::string_view{} : location.substr(qmark);

  std::string target;
  if (path.empty()) {
    target = std::string(base_path);  // "?q": the base's path with a new query
  } else if (path.front() == '/') {
    target = detail::remove_dot_segments(path);
  } else {
    // The base's query may hold slashes; only its path has directories.
    std::string merged(base_path.substr(0, base_path.rfind('/') + 1));
    merged.append(path);
    target = detail::remove_dot_segments(merged);
  }
  target.append(query);
  return parse_url(base.scheme + "://" + base.host_header() + target);
}

inline std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '%') {
      if (s.size() - i < 3) return std::nullopt;
      const auto byte = parse_hex<unsigned char>(s.substr(i + 1, 2));
      if (!byte || *byte == 0) return std::nullopt;
      out.push_back(static_cast<char>(*byte));
      i += 2;
    } else {
      out.push_back(c == '+' && plus_is_space ? ' ' : c);
    }
  }
  return out;
}

inline std::optional<std::string_view> raw_query_param(std::string_view query,
                                                       std::string_view name) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    // Names are compared decoded: "%6castEventId" is lastEventId to a
    // browser's URLSearchParams, so it must be here too.
    const auto key = percent_decode(pair.substr(0, eq), true);
    if (key && *key == name)
      return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
  }
  return std::nullopt;
}

inline std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  const auto raw = raw_query_param(query, name);
  if (!raw) return std::nullopt;
  return percent_decode(*raw, true);
}

}  // namespace ssepp::http
