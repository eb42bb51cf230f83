// The parser's hot loop: find the next line terminator (CR or LF) and learn,
// in the same pass, whether the bytes before it are all ASCII (so UTF-8
// checking can be skipped). SSE2 is part of x86-64, so no runtime dispatch
// is needed there; other targets use a word-at-a-time fallback. Internal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define SSEPP_SCAN_SSE2 1
#else
#define SSEPP_SCAN_SSE2 0
#endif

// AVX2 doubles the width for long lines. GCC and Clang can compile one
// function for AVX2 without -mavx2 and pick it at run time, so a portable
// x86-64 build still gets it on machines that have it.
#if SSEPP_SCAN_SSE2 && (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <immintrin.h>
#define SSEPP_SCAN_AVX2 1
#else
#define SSEPP_SCAN_AVX2 0
#endif

namespace ssepp::detail {

struct line_scan {
  const char* end;  // first CR or LF, or the end of input when there is none
  bool ascii;       // no byte >= 0x80 in [begin, end)
};

inline unsigned count_trailing_zeros(std::uint32_t x) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  return static_cast<unsigned>(__builtin_ctz(x));
#else
  unsigned n = 0;
  while (!(x & 1u)) x >>= 1, ++n;
  return n;
#endif
}

inline unsigned count_trailing_zeros64(std::uint64_t x) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  return static_cast<unsigned>(__builtin_ctzll(x));
#else
  unsigned n = 0;
  while (!(x & 1u)) x >>= 1, ++n;
  return n;
#endif
}

inline line_scan scan_scalar(const char* p, const char* end, bool ascii) noexcept {
  unsigned char high = 0;
  for (; p != end; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (c == '\n' || c == '\r') break;
    high |= c;
  }
  return {p, ascii && high < 0x80};
}

#if SSEPP_SCAN_AVX2
inline bool cpu_has_avx2() noexcept {
#if defined(__AVX2__)
  return true;
#else
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
#endif
}

// Precondition: no CR or LF in the bytes before p that the caller skipped;
// `high` carries whether any of them had the top bit set.
__attribute__((target("avx2"))) inline line_scan scan_long_avx2(const char* p, const char* end,
                                                                bool ascii) noexcept {
  const __m256i cr = _mm256_set1_epi8('\r');
  const __m256i lf = _mm256_set1_epi8('\n');
  __m256i high = _mm256_setzero_si256();
  // (No lambda here: it would not inherit this function's AVX2 target.)
  while (end - p >= 128) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
    const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 64));
    const __m256i d = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 96));
    const __m256i ab =
        _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(a, cr), _mm256_cmpeq_epi8(a, lf)),
                        _mm256_or_si256(_mm256_cmpeq_epi8(b, cr), _mm256_cmpeq_epi8(b, lf)));
    const __m256i cd =
        _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(c, cr), _mm256_cmpeq_epi8(c, lf)),
                        _mm256_or_si256(_mm256_cmpeq_epi8(d, cr), _mm256_cmpeq_epi8(d, lf)));
    if (_mm256_movemask_epi8(_mm256_or_si256(ab, cd))) break;
    high = _mm256_or_si256(high, _mm256_or_si256(_mm256_or_si256(a, b), _mm256_or_si256(c, d)));
    p += 128;
  }
  while (end - p >= 32) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const auto mask = static_cast<std::uint32_t>(
        _mm256_movemask_epi8(_mm256_or_si256(_mm256_cmpeq_epi8(v, cr), _mm256_cmpeq_epi8(v, lf))));
    if (mask) {
      const unsigned at = count_trailing_zeros(mask);
      const auto before =
          static_cast<std::uint32_t>(_mm256_movemask_epi8(v)) & (at == 32 ? ~0u : (1u << at) - 1u);
      return {p + at, ascii && before == 0 && _mm256_movemask_epi8(high) == 0};
    }
    high = _mm256_or_si256(high, v);
    p += 32;
  }
  return scan_scalar(p, end, ascii && _mm256_movemask_epi8(high) == 0);
}
#endif

#if SSEPP_SCAN_SSE2
inline line_scan scan_line(const char* p, const char* end) noexcept {
  const __m128i cr = _mm_set1_epi8('\r');
  const __m128i lf = _mm_set1_epi8('\n');
  __m128i high = _mm_setzero_si128();
  auto terminators = [&](__m128i v) {
    return _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf));
  };
  // Most lines are short (an LLM token event is ~150 bytes): SSE2 finds
  // them without a dispatch. Past the first 256 bytes the line is long, and
  // wider vectors pay off.
  const char* const wide_from = end - p > 512 ? p + 256 : end;
  // Four vectors per round keep long data lines near memory speed; the
  // branch per round is taken once per line.
  while (end - p >= 64) {
#if SSEPP_SCAN_AVX2
    if (p >= wide_from && cpu_has_avx2())
      return scan_long_avx2(p, end, _mm_movemask_epi8(high) == 0);
#endif
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 32));
    const __m128i d = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 48));
    const __m128i ta = terminators(a), tb = terminators(b), tc = terminators(c),
                  td = terminators(d);
    const __m128i any = _mm_or_si128(_mm_or_si128(ta, tb), _mm_or_si128(tc, td));
    if (_mm_movemask_epi8(any)) {
      // The position comes from this round's masks: no second pass.
      auto bits = [](__m128i w, __m128i x, __m128i y, __m128i z) {
        return static_cast<std::uint64_t>(static_cast<std::uint32_t>(_mm_movemask_epi8(w))) |
               static_cast<std::uint64_t>(static_cast<std::uint32_t>(_mm_movemask_epi8(x))) << 16 |
               static_cast<std::uint64_t>(static_cast<std::uint32_t>(_mm_movemask_epi8(y))) << 32 |
               static_cast<std::uint64_t>(static_cast<std::uint32_t>(_mm_movemask_epi8(z))) << 48;
      };
      const std::uint64_t term = bits(ta, tb, tc, td);
      const unsigned at = count_trailing_zeros64(term);
      const std::uint64_t before = bits(a, b, c, d) & ((std::uint64_t{1} << at) - 1);
      return {p + at, before == 0 && _mm_movemask_epi8(high) == 0};
    }
    high = _mm_or_si128(high, _mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d)));
    p += 64;
  }
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const auto mask = static_cast<std::uint32_t>(_mm_movemask_epi8(terminators(v)));
    if (mask) {
      const unsigned at = count_trailing_zeros(mask);
      const auto before = static_cast<std::uint32_t>(_mm_movemask_epi8(v)) & ((1u << at) - 1u);
      return {p + at, before == 0 && _mm_movemask_epi8(high) == 0};
    }
    high = _mm_or_si128(high, v);
    p += 16;
  }
  return scan_scalar(p, end, _mm_movemask_epi8(high) == 0);
}
#else
inline line_scan scan_line(const char* p, const char* end) noexcept {
  // Word at a time: a byte is CR or LF when (byte ^ CR) or (byte ^ LF) is 0.
  constexpr std::uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  std::uint64_t high = 0;
  while (end - p >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    const std::uint64_t x = w ^ (ones * '\r'), y = w ^ (ones * '\n');
    if (((x - ones) & ~x & highs) | ((y - ones) & ~y & highs)) break;
    high |= w;
    p += 8;
  }
  return scan_scalar(p, end, (high & highs) == 0);
}
#endif

}  // namespace ssepp::detail
