// The output sink concept the formatter writes to, and its bundled models:
// std::string (growing) and fixed_buffer_sink (a caller's array, no heap).
#pragma once

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "detail/config.hpp"

#if SSEPP_HAS_CONCEPTS
#include <concepts>
#endif

namespace ssepp {

// ---------------------------------------------------------------------------
// The sink concept
//
// The formatter appends bytes to a sink. Requirements, for a value `s` of
// type S, `p` of type `const char*` and `n` of type `std::size_t`:
//
//   expression          | required | semantics
//   --------------------+----------+-----------------------------------------
//   s.append(p, n)      | yes      | appends bytes [p, p+n). May throw only
//                       |          | what allocation throws (std::bad_alloc).
//   s.remaining()       | no       | bytes that still fit (std::size_t). If
//                       |          | present, the formatter checks it first and
//                       |          | writes nothing (errc::sink_full) when the
//                       |          | whole event would not fit.
//   s.reserve(k)        | no       | with s.size(): lets the formatter grow a
//                       |          | string once per event instead of per line.
//
// Models: std::string (and any std::basic_string<char>), fixed_buffer_sink.
// Minimal model:
//
//   struct counting_sink {
//     std::size_t bytes = 0;
//     void append(const char*, std::size_t n) { bytes += n; }
//   };
// ---------------------------------------------------------------------------

namespace detail {
template <class S, class = void>
struct has_append : std::false_type {};
template <class S>
struct has_append<
    S, std::void_t<decltype(std::declval<S&>().append(std::declval<const char*>(), std::size_t{}))>>
    : std::true_type {};
template <class S, class = void>
struct has_remaining : std::false_type {};
template <class S>
struct has_remaining<S, std::void_t<decltype(std::size_t{std::declval<const S&>().remaining()})>>
    : std::true_type {};
template <class S, class = void>
struct has_reserve : std::false_type {};
template <class S>
struct has_reserve<S, std::void_t<decltype(std::declval<S&>().reserve(std::size_t{})),
                                  decltype(std::size_t{std::declval<const S&>().size()}),
                                  decltype(std::size_t{std::declval<const S&>().capacity()})>>
    : std::true_type {};
}  // namespace detail

/// True when S models the sink concept (see the table above).
template <class S>
inline constexpr bool is_sink_v = detail::has_append<S>::value;

#if SSEPP_HAS_CONCEPTS
/// C++20 spelling of `is_sink_v`.
template <class S>
concept sink = is_sink_v<S>;
#endif

/// A sink over a caller-provided array: formatting never allocates, and an
/// event that does not fit is refused whole (errc::sink_full).
///
/// Thread safety: not safe for concurrent use.
class fixed_buffer_sink {
 public:
  /// Writes into [buffer, buffer + capacity); the sink does not own it.
  fixed_buffer_sink(char* buffer, std::size_t capacity) noexcept
      : begin_(buffer), capacity_(capacity) {}

  template <std::size_t N>
  explicit fixed_buffer_sink(char (&array)[N]) noexcept : fixed_buffer_sink(array, N) {}

  /// Appends bytes. Precondition: n <= remaining() (the formatter checks).
  void append(const char* p, std::size_t n) noexcept {
    std::memcpy(begin_ + size_, p, n);
    size_ += n;
  }
  std::size_t remaining() const noexcept { return capacity_ - size_; }
  std::size_t size() const noexcept { return size_; }
  const char* data() const noexcept { return begin_; }
  std::string_view view() const noexcept { return {begin_, size_}; }
  /// Forgets what was written; the next append starts at the beginning.
  void clear() noexcept { size_ = 0; }

 private:
  char* begin_;
  std::size_t capacity_;
  std::size_t size_ = 0;
};

}  // namespace ssepp
