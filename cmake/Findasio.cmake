# Findasio: standalone Asio (think-async.com), which ships no CMake package.
#
# Only ssepp's Asio-based parts (include/ssepp/asio/) need it; the core
# headers (formatter, parser) never do.
#
# Imported target:
#   asio::asio         header-only; adds the include directory, Threads, and
#                      ASIO_STANDALONE / ASIO_NO_DEPRECATED
#
# Result variables:
#   asio_FOUND         true when asio.hpp (and a thread library) was found
#   asio_VERSION       e.g. 1.22.1, from ASIO_VERSION in asio/version.hpp
#   asio_INCLUDE_DIRS  the directory holding asio.hpp
#
# Hints: asio_ROOT / ASIO_ROOT (CMake or environment variable), or
# CMAKE_PREFIX_PATH; the cache entry asio_INCLUDE_DIR overrides the search.

find_path(asio_INCLUDE_DIR
  NAMES asio.hpp
  HINTS ${asio_ROOT} ${ASIO_ROOT} ENV asio_ROOT ENV ASIO_ROOT
  PATH_SUFFIXES include
  DOC "Directory holding standalone Asio's asio.hpp")
mark_as_advanced(asio_INCLUDE_DIR)

# A stale or hand-set cache entry must not pass for a working Asio.
if(asio_INCLUDE_DIR AND NOT EXISTS "${asio_INCLUDE_DIR}/asio.hpp")
  set(asio_INCLUDE_DIR "asio_INCLUDE_DIR-NOTFOUND" CACHE PATH
    "Directory holding standalone Asio's asio.hpp" FORCE)
endif()

unset(asio_VERSION)
if(asio_INCLUDE_DIR AND EXISTS "${asio_INCLUDE_DIR}/asio/version.hpp")
  # ASIO_VERSION is major * 100000 + minor * 100 + patch (102201 is 1.22.1).
  file(STRINGS "${asio_INCLUDE_DIR}/asio/version.hpp" _asio_version_line
    REGEX "^#define ASIO_VERSION [0-9]+")
  if(_asio_version_line MATCHES "ASIO_VERSION ([0-9]+)")
    math(EXPR _asio_major "${CMAKE_MATCH_1} / 100000")
    math(EXPR _asio_minor "${CMAKE_MATCH_1} / 100 % 1000")
    math(EXPR _asio_patch "${CMAKE_MATCH_1} % 100")
    set(asio_VERSION "${_asio_major}.${_asio_minor}.${_asio_patch}")
  endif()
  unset(_asio_version_line)
  unset(_asio_major)
  unset(_asio_minor)
  unset(_asio_patch)
endif()

# Asio's io_context and strands use threads; only look once Asio is there,
# so a missing Asio is reported as just that.
set(_asio_required_vars asio_INCLUDE_DIR)
if(asio_INCLUDE_DIR)
  if(asio_FIND_QUIETLY)
    find_package(Threads QUIET)
  else()
    find_package(Threads)
  endif()
  list(APPEND _asio_required_vars Threads_FOUND)
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(asio
  REQUIRED_VARS ${_asio_required_vars}
  VERSION_VAR asio_VERSION
  REASON_FAILURE_MESSAGE
    "standalone Asio (asio.hpp) is needed: install libasio-dev (Debian/Ubuntu) or asio (vcpkg/conan/Homebrew), or point asio_ROOT at it")
unset(_asio_required_vars)

if(asio_FOUND)
  set(asio_INCLUDE_DIRS "${asio_INCLUDE_DIR}")
  if(NOT TARGET asio::asio)
    add_library(asio::asio INTERFACE IMPORTED)
    set_target_properties(asio::asio PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${asio_INCLUDE_DIR}"
      INTERFACE_COMPILE_DEFINITIONS "ASIO_STANDALONE;ASIO_NO_DEPRECATED"
      INTERFACE_LINK_LIBRARIES Threads::Threads)
  endif()
endif()
