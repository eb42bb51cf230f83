// Which host a request names, and whether this server answers for it
// (RFC 9112 section 3.2; DNS rebinding). Pure functions. No I/O.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "detail/chars.hpp"
#include "message.hpp"

namespace ssepp::http {

/// A host and port split from an authority ("example.com:8080",
/// "[::1]:80", "localhost"). `host` keeps an IPv6 literal's brackets;
/// `port` is empty when the authority has none.
struct host_and_port {
  std::string_view host;
  std::string_view port;
};

/// Splits and checks an authority as RFC 3986 section 3.2.2 writes it:
/// an IP-literal in brackets, or a reg-name / IPv4 address of unreserved
/// characters, sub-delims and percent-escapes; then an optional ":" and
/// decimal port. nullopt for anything else (user info, spaces, an empty
/// host, a port that is not 1 to 5 digits).
inline std::optional<host_and_port> split_authority(std::string_view authority) noexcept {
  using detail::is_alnum, detail::is_digit, detail::is_hex;
  host_and_port out;
  std::string_view rest;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos || close < 3) return std::nullopt;
    for (const char c : authority.substr(1, close - 1))
      if (!(is_hex(c) || c == ':' || c == '.')) return std::nullopt;
    out.host = authority.substr(0, close + 1);
    rest = authority.substr(close + 1);
  } else {
    const std::size_t colon = authority.find(':');
    out.host = authority.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view{} : authority.substr(colon);
    if (out.host.empty()) return std::nullopt;
    for (std::size_t i = 0; i < out.host.size(); ++i) {
      const char c = out.host[i];
      if (c == '%') {
        if (i + 2 >= out.host.size() || !is_hex(out.host[i + 1]) || !is_hex(out.host[i + 2]))
          return std::nullopt;
        i += 2;
        continue;
      }
      const bool unreserved = is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
      const bool sub_delim = std::string_view("!$&'()*+,;=").find(c) != std::string_view::npos;
      if (!(unreserved || sub_delim)) return std::nullopt;
    }
  }
  if (!rest.empty()) {
    if (rest.front() != ':') return std::nullopt;
    out.port = rest.substr(1);
    if (out.port.empty() || out.port.size() > 5) return std::nullopt;
    for (const char c : out.port)
      if (!is_digit(c)) return std::nullopt;
  }
  return out;
}

/// True for names and addresses that always mean this machine: "localhost"
/// and any "*.localhost" (RFC 6761 section 6.3; browsers resolve them to
/// loopback themselves), IPv4 127.0.0.0/8 and IPv6 ::1, with or without
/// brackets. A host as split_authority gives it, without the port.
inline bool is_loopback_host(std::string_view host) noexcept {
  using detail::is_digit;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);  // "localhost."
  constexpr std::string_view localhost = "localhost";
  if (detail::iequals(host, localhost)) return true;
  if (host.size() > localhost.size() + 1 &&
      detail::iequals(host.substr(host.size() - localhost.size() - 1), ".localhost"))
    return true;
  if (host == "::1" || host == "0:0:0:0:0:0:0:1") return true;
  // 127.a.b.c: four decimal octets, the first 127.
  if (host.substr(0, 4) != "127.") return false;
  int parts = 2, digits = 0, value = 0;  // "127" was the first
  for (const char c : host.substr(4)) {
    if (c == '.') {
      if (digits == 0) return false;
      ++parts;
      digits = value = 0;
    } else if (is_digit(c) && digits < 3) {
      value = value * 10 + (c - '0');
      if (++digits, value > 255) return false;
    } else {
      return false;
    }
  }
  return parts == 4 && digits > 0;
}

/// True when `origin` (an Origin field: "scheme://host[:port]") is the
/// origin of a server reached as `scheme` at `authority` (a Host value):
/// same scheme, same host (case-insensitive), same port once a missing one
/// is taken as the scheme's default (80 for http, 443 for https).
inline bool is_own_origin(std::string_view origin, std::string_view scheme,
                          std::string_view authority) noexcept {
  const std::size_t sep = origin.find("://");
  if (sep == std::string_view::npos || !detail::iequals(origin.substr(0, sep), scheme))
    return false;
  const auto theirs = split_authority(origin.substr(sep + 3));
  const auto ours = split_authority(authority);
  if (!theirs || !ours || !detail::iequals(theirs->host, ours->host)) return false;
  const std::string_view default_port = detail::iequals(scheme, "https") ? "443" : "80";
  auto port_of = [&](const host_and_port& hp) {
    std::string_view p = hp.port.empty() ? default_port : hp.port;
    while (p.size() > 1 && p.front() == '0') p.remove_prefix(1);
    return p;
  };
  return port_of(*theirs) == port_of(*ours);
}

/// Which Host names a server answers for.
struct host_rules {
  /// Hosts accepted: "example.com" (any port), "example.com:8443" (that
  /// port only), "*.example.com" (its subdomains, any port), "*" (any host).
  /// Compared without regard to case.
  std::vector<std::string> allowed_hosts;
  /// With no allowed_hosts: accept only loopback names (is_loopback_host).
  /// The default for a server bound to a loopback address, where a page on
  /// another site could otherwise reach it through a name it resolves to
  /// 127.0.0.1 (DNS rebinding) and read the answers as same-origin.
  bool loopback_only = false;
};

/// The host a request is for: an absolute-form target's authority, which
/// RFC 9112 section 3.2.2 says takes the place of Host, else the Host field.
inline std::optional<std::string_view> request_authority(const request& req) noexcept {
  if (!req.authority.empty()) return std::string_view(req.authority);
  return req.header("host");
}

namespace detail {
inline bool host_allowed(const host_and_port& hp, const host_rules& rules) noexcept {
  if (rules.allowed_hosts.empty()) return !rules.loopback_only || is_loopback_host(hp.host);
  return std::any_of(
      rules.allowed_hosts.begin(), rules.allowed_hosts.end(), [&](const std::string& pattern) {
        std::string_view p = pattern;
        if (p == "*") return true;
        std::string_view want_port;
        if (const std::size_t colon = p.rfind(':');
            colon != std::string_view::npos && p.find(']', colon) == p.npos) {
          want_port = p.substr(colon + 1);
          p = p.substr(0, colon);
          if (want_port != hp.port) return false;
        }
        if (p.substr(0, 2) == "*.")
          return hp.host.size() > p.size() - 1 &&
                 iequals(hp.host.substr(hp.host.size() - (p.size() - 1)), p.substr(1));
        return iequals(hp.host, p);
      });
}
}  // namespace detail

/// Checks the host of `req` (RFC 9112 section 3.2): nullopt to go on, or
/// the answer:
///
/// - 400 for an HTTP/1.1 request without Host, with more than one Host
///   field, or with a Host that is not a valid authority (empty included,
///   as nginx does); the Host field is required even when the target is in
///   absolute-form, as nginx requires it;
/// - 421 (Misdirected Request, RFC 9110 section 15.5.20) for a host
///   `rules` do not allow: this server does not answer for that name.
///
/// An HTTP/1.0 request without Host names no host and goes on.
inline std::optional<response> check_host(const request& req, const host_rules& rules) {
  auto refuse = [](int status, std::string why) {
    response r;
    r.status = status;
    r.body = std::move(why);
    return r;
  };
  const std::size_t host_fields = req.fields.count("host");
  if (host_fields > 1) return refuse(400, "more than one Host field\n");
  if (host_fields == 0 && req.version_minor >= 1)
    return refuse(400, "an HTTP/1.1 request needs a Host field\n");
  if (const auto host = req.header("host"); host && !split_authority(*host))
    return refuse(400, "the Host field is not a valid host[:port]\n");
  const auto authority = request_authority(req);
  if (!authority) return std::nullopt;
  const auto hp = split_authority(*authority);
  if (!hp) return refuse(400, "the request's host is not a valid host[:port]\n");
  if (!detail::host_allowed(*hp, rules))
    return refuse(421, "this server does not answer for host " + std::string(hp->host) + "\n");
  return std::nullopt;
}

}  // namespace ssepp::http
