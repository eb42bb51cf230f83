// Compiler feature switches shared by the ssepp headers. Internal.
#pragma once

// <version> defines the library feature macros tested below; before C++20
// it may not exist.
#if defined(__has_include)
#if __has_include(<version>)
#include <version>
#endif
#endif

#if defined(__cpp_concepts) && __cpp_concepts >= 201907L && defined(__cpp_lib_concepts)
#define SSEPP_HAS_CONCEPTS 1
#else
#define SSEPP_HAS_CONCEPTS 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SSEPP_LIKELY(x) __builtin_expect(!!(x), 1)
#define SSEPP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define SSEPP_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define SSEPP_LIKELY(x) (x)
#define SSEPP_UNLIKELY(x) (x)
#define SSEPP_ALWAYS_INLINE inline
#endif
