// Splitting an http:// or https:// URL into what a connection needs, and
// resolving a redirect's Location against it. No I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ssepp::asio {

/// An absolute http(s) URL, split.
struct url {
  std::string scheme;  ///< "http" or "https"
  std::string host;    ///< without brackets for IPv6 literals
  std::uint16_t port = 0;
  std::string target = "/";  ///< path and query, as sent in the request line

  bool tls() const noexcept { return scheme == "https"; }
  /// The Host header value: host, plus ":port" unless it is the default.
  std::string host_header() const {
    const bool v6 = host.find(':') != std::string::npos;
    std::string h = v6 ? "[" + host + "]" : host;
    if (port != (tls() ? 443 : 80)) h += ":" + std::to_string(port);
    return h;
  }
  std::string str() const { return scheme + "://" + host_header() + target; }
};

/// Parses an absolute http:// or https:// URL; nullopt when it is not one
/// (other schemes, no host, a bad port, user info, spaces or control bytes).
inline std::optional<url> parse_url(std::string_view s) {
  for (const char c : s)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) return std::nullopt;
  url u;
  const std::size_t colon_slashes = s.find("://");
  if (colon_slashes == std::string_view::npos) return std::nullopt;
  for (const char c : s.substr(0, colon_slashes))
    u.scheme.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c));
  if (u.scheme != "http" && u.scheme != "https") return std::nullopt;
  s.remove_prefix(colon_slashes + 3);
  const std::size_t path_start = s.find_first_of("/?#");
  std::string_view authority = s.substr(0, path_start);
  std::string_view rest =
      path_start == std::string_view::npos ? std::string_view{} : s.substr(path_start);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  std::string_view port_text;
  if (authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    u.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port_text = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (u.host.empty()) return std::nullopt;
  if (port_text.empty()) {
    u.port = u.tls() ? 443 : 80;
  } else {
    unsigned long port = 0;
    if (port_text.size() > 5) return std::nullopt;
    for (const char c : port_text) {
      if (c < '0' || c > '9') return std::nullopt;
      port = port * 10 + static_cast<unsigned long>(c - '0');
    }
    if (port == 0 || port > 65535) return std::nullopt;
    u.port = static_cast<std::uint16_t>(port);
  }
  rest = rest.substr(0, rest.find('#'));  // the fragment never goes on the wire
  u.target =
      rest.empty() ? "/" : (rest.front() == '?' ? "/" + std::string(rest) : std::string(rest));
  return u;
}

namespace detail {

// RFC 3986 5.2.4: a redirect to "../x" must ask for the resource it names,
// not leave the dots for the server to interpret (or refuse).
inline std::string remove_dot_segments(std::string_view path) {
  std::string out;
  auto drop_last_segment = [&out] {
    const std::size_t slash = out.rfind('/');
    out.erase(slash == std::string::npos ? 0 : slash);
  };
  while (!path.empty()) {
    if (path.substr(0, 3) == "../") {
      path.remove_prefix(3);
    } else if (path.substr(0, 2) == "./" || path.substr(0, 3) == "/./") {
      path.remove_prefix(2);  // "./x" -> "x", "/./x" -> "/x"
    } else if (path == "/.") {
      path = "/";
    } else if (path.substr(0, 4) == "/../") {
      path.remove_prefix(3);
      drop_last_segment();
    } else if (path == "/..") {
      path = "/";
      drop_last_segment();
    } else if (path == "." || path == "..") {
      path = {};
    } else {
      const std::size_t end = path.find('/', 1);
      out.append(path.substr(0, end));
      path.remove_prefix(end == std::string_view::npos ? path.size() : end);
    }
  }
  return out;
}

}  // namespace detail

/// Resolves a Location header against the URL that answered with it:
/// absolute URLs, scheme-relative ("//host/x"), absolute paths, paths
/// relative to the current directory and query-only references, as RFC 3986
/// section 5.2 resolves them (dot segments removed, the fragment dropped).
inline std::optional<url> resolve_location(const url& base, std::string_view location) {
  // Absolute only when a scheme comes first: a ':' before any '/', '?' or
  // '#' (RFC 3986 4.2). "/login?next=http://x/" is a path on this server.
  const std::size_t first_delimiter = location.find_first_of(":/?#");
  if (first_delimiter != std::string_view::npos && first_delimiter > 0 &&
      location[first_delimiter] == ':')
    return parse_url(location);
  if (location.substr(0, 2) == "//") return parse_url(base.scheme + ":" + std::string(location));
  location = location.substr(0, location.find('#'));
  if (location.empty()) return base;
  const std::string_view base_path = std::string_view(base.target).substr(0, base.target.find('?'));
  const std::size_t query = location.find('?');
  const std::string_view path = location.substr(0, query);
  const std::string_view rest =
      query == std::string_view::npos ? std::string_view{} : location.substr(query);
  std::string target;
  if (path.empty()) {
    target = std::string(base_path);  // "?q": the base's path with a new query
  } else if (path.front() == '/') {
    target = detail::remove_dot_segments(path);
  } else {
    const std::string merged =
        std::string(base_path.substr(0, base_path.rfind('/') + 1)) + std::string(path);
    target = detail::remove_dot_segments(merged);
  }
  target.append(rest.data(), rest.size());
  return parse_url(base.scheme + "://" + base.host_header() + target);
}

}  // namespace ssepp::asio
