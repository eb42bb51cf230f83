// The header fields of an HTTP message (RFC 9110 section 5): names and
// values in arrival order, looked up by case-insensitive name. No I/O.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "detail/chars.hpp"

namespace ssepp::http {

/// An ordered list of header fields. Names are stored lower-cased; values
/// as received, without the surrounding whitespace the parser trims.
/// Repeated names are kept, in order (Set-Cookie cannot be combined).
///
/// Look-ups compare names case-insensitively (RFC 9110 section 5.1), so
/// `find("Content-Length")` and `find("content-length")` are the same.
/// `add` does not validate: the head parsers only add tokens and values free
/// of CR, LF and NUL; code that adds its own must keep that promise.
///
/// Thread safety: a value type; const members may be called concurrently.
class fields {
 public:
  using value_type = std::pair<std::string, std::string>;  ///< {name, value}
  using const_iterator = std::vector<value_type>::const_iterator;

  fields() = default;
  /// Fields from {name, value} pairs, in order (names lower-cased).
  fields(std::initializer_list<std::pair<std::string_view, std::string_view>> list) {
    for (const auto& [name, value] : list) add(name, value);
  }

  /// Appends a field; the name is lower-cased.
  void add(std::string_view name, std::string_view value) {
    std::string lower(name);
    for (char& c : lower) c = detail::ascii_lower(c);
    list_.emplace_back(std::move(lower), std::string(value));
  }

  /// The value of the first field called `name`, if any. The view lives as
  /// long as this object is not modified.
  std::optional<std::string_view> find(std::string_view name) const noexcept {
    for (const auto& [n, v] : list_)
      if (detail::iequals(n, name)) return std::string_view(v);
    return std::nullopt;
  }
  bool contains(std::string_view name) const noexcept { return find(name).has_value(); }
  /// How many fields are called `name`.
  std::size_t count(std::string_view name) const noexcept {
    std::size_t n = 0;
    for (const auto& f : list_)
      if (detail::iequals(f.first, name)) ++n;
    return n;
  }
  /// The values of every field called `name`, in order.
  std::vector<std::string_view> values(std::string_view name) const {
    std::vector<std::string_view> out;
    for (const auto& [n, v] : list_)
      if (detail::iequals(n, name)) out.emplace_back(v);
    return out;
  }

  std::size_t size() const noexcept { return list_.size(); }
  bool empty() const noexcept { return list_.empty(); }
  /// The i-th field in arrival order; `i < size()`.
  const value_type& operator[](std::size_t i) const noexcept { return list_[i]; }
  const_iterator begin() const noexcept { return list_.begin(); }
  const_iterator end() const noexcept { return list_.end(); }
  void clear() noexcept { list_.clear(); }

 private:
  std::vector<value_type> list_;
};

}  // namespace ssepp::http
