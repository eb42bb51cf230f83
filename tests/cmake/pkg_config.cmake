# Compiles and runs the consumer with nothing but `pkg-config --cflags ssepp`
# against the installed prefix:
#   cmake -DPKG_CONFIG=... -DPC_DIR=<prefix>/share/pkgconfig -DPREFIX=...
#         -DVERSION=... -DCXX=... -DSTD=17 -DSOURCE=... -DBINARY_DIR=...
#         -P pkg_config.cmake
if(NOT PKG_CONFIG)
  message("SSEPP_TEST_SKIPPED: pkg-config not found (Debian: apt-get install pkgconf)")
  return()
endif()

include("${CMAKE_CURRENT_LIST_DIR}/commands.cmake")

# Only the prefix under test: no ssepp.pc installed elsewhere may answer.
set(ENV{PKG_CONFIG_PATH} "${PC_DIR}")
set(ENV{PKG_CONFIG_LIBDIR} "${PC_DIR}")

run(OUTPUT _version COMMAND "${PKG_CONFIG}" --modversion ssepp)
if(NOT _version STREQUAL VERSION)
  message(FATAL_ERROR "pkg-config says ssepp ${_version}, the headers say ${VERSION}")
endif()

run(OUTPUT _cflags COMMAND "${PKG_CONFIG}" --cflags ssepp)
message(STATUS "pkg-config --cflags ssepp: ${_cflags}")
separate_arguments(_cflags UNIX_COMMAND "${_cflags}")
set(_include_ok FALSE)
get_filename_component(_expected "${PREFIX}/include" REALPATH)
foreach(_flag IN LISTS _cflags)
  if(_flag MATCHES "^-I(.+)$")
    get_filename_component(_dir "${CMAKE_MATCH_1}" REALPATH)
    if(_dir STREQUAL _expected AND EXISTS "${_dir}/ssepp/ssepp.hpp")
      set(_include_ok TRUE)
    endif()
  endif()
endforeach()
if(NOT _include_ok)
  message(FATAL_ERROR "pkg-config --cflags ssepp does not point at ${PREFIX}/include: ${_cflags}")
endif()

file(MAKE_DIRECTORY "${BINARY_DIR}")
set(_exe "${BINARY_DIR}/pkg_config_consumer")
run(COMMAND "${CXX}" -std=c++${STD} -Wall -Wextra -Wpedantic -Werror ${_cflags} "${SOURCE}" -o "${_exe}")
run(OUTPUT _output COMMAND "${_exe}")
message(STATUS "${_output}")
