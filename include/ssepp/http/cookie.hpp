// Reading a cookie's value from a request's Cookie fields (RFC 6265
// section 5.4). No I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "fields.hpp"

namespace ssepp::http {

/// The value of the first cookie called `name` (case-sensitive) in the
/// Cookie fields, searched in order: "a=1; b=2" pairs separated by ';',
/// leading blanks before each pair ignored. The value is returned as sent,
/// not percent-decoded; pairs without '=' name no cookie.
///
/// @return nullopt when no Cookie field holds that name.
inline std::optional<std::string> cookie_value(const fields& f, std::string_view name) {
  for (const auto& [field, value] : f) {
    if (field != "cookie") continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      const std::size_t semi = rest.find(';');
      const std::string_view pair = detail::trim_ows(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
      const std::size_t eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name)
        return std::string(pair.substr(eq + 1));
    }
  }
  return std::nullopt;
}

}  // namespace ssepp::http
