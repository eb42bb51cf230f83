# Shared by the packaging tests (conan.cmake, vcpkg.cmake, versions.cmake):
# skipping or failing when a tool is missing, commands that fail loudly
# (tests/cmake/commands.cmake), a fresh work directory, and the checks every
# tool's result gets.
#
# Every script is given SOURCE_DIR (the checkout), WORK (its own directory,
# emptied first), REQUIRE (fail instead of skip), and what it needs of
# GENERATOR, MAKE_PROGRAM, CXX_COMPILER, EXPECTED_VERSION, ASIO_INCLUDE_DIR.

cmake_minimum_required(VERSION 3.16)  # policies for the scripts (IN_LIST)

foreach(_var SOURCE_DIR WORK)
  if(NOT ${_var})
    message(FATAL_ERROR "${CMAKE_SCRIPT_MODE_FILE}: pass -D${_var}=...")
  endif()
endforeach()

# run() and cmake_configure_command(); commands run in WORK.
include("${CMAKE_CURRENT_LIST_DIR}/../cmake/commands.cmake")
set(RUN_DIRECTORY "${WORK}")

# require_or_skip(<variable> <why>): when the variable is false the test is
# skipped (CTest's SKIP_REGULAR_EXPRESSION matches the marker) or, with
# REQUIRE, fails; either way saying why. A macro, so its return() ends the
# calling script.
macro(require_or_skip have why)
  if(NOT ${have})
    if(REQUIRE)
      message(FATAL_ERROR "${why}; the packaging tests are required here "
        "(SSEPP_REQUIRE_PACKAGING_TESTS=ON)")
    endif()
    message("SSEPP_TEST_SKIPPED: ${why}")
    return()
  endif()
endmacro()

# The scripts read JSON (string(JSON), CMake 3.19); vcpkg itself wants 3.21.
set(_cmake_is_new_enough FALSE)
if(CMAKE_VERSION VERSION_GREATER_EQUAL 3.19)
  set(_cmake_is_new_enough TRUE)
endif()
require_or_skip(_cmake_is_new_enough "the packaging tests need CMake 3.19 or later, this is ${CMAKE_VERSION}")

# expect_output(<output> <regex> <what>): the output must match.
function(expect_output output regex what)
  if(NOT output MATCHES "${regex}")
    message(FATAL_ERROR "${what}: expected /${regex}/ in the output above")
  endif()
endfunction()

# expect_names(<what> <names> <expected>): the names, in any order, are
# the expected ones, given comma-separated ("-" for none).
function(expect_names what names expected)
  list(SORT names)
  string(REPLACE "," ";" expected "${expected}")
  list(SORT expected)
  if(expected STREQUAL "-")
    set(expected "")
  endif()
  if(NOT "${names}" STREQUAL "${expected}")
    message(FATAL_ERROR "${what} [${names}], expected [${expected}]")
  endif()
  message(STATUS "${what} [${names}]")
endfunction()

# expect_installed_headers(<include dir>): <include dir>/ssepp holds exactly
# the checkout's headers, byte for byte. Catches a package built from stale
# sources (a binary cache) as well as a header left out.
function(expect_installed_headers include_dir)
  file(GLOB_RECURSE _want RELATIVE "${SOURCE_DIR}/include/ssepp" "${SOURCE_DIR}/include/ssepp/*")
  file(GLOB_RECURSE _got RELATIVE "${include_dir}/ssepp" "${include_dir}/ssepp/*")
  list(SORT _want)
  list(SORT _got)
  if(NOT _want STREQUAL _got)
    set(_missing ${_want})
    list(REMOVE_ITEM _missing ${_got})
    set(_extra ${_got})
    list(REMOVE_ITEM _extra ${_want})
    message(FATAL_ERROR "${include_dir}/ssepp does not hold the checkout's headers: "
      "missing [${_missing}], unexpected [${_extra}]")
  endif()
  foreach(_file IN LISTS _want)
    file(SHA256 "${SOURCE_DIR}/include/ssepp/${_file}" _a)
    file(SHA256 "${include_dir}/ssepp/${_file}" _b)
    if(NOT _a STREQUAL _b)
      message(FATAL_ERROR "${include_dir}/ssepp/${_file} differs from the checkout's (stale package?)")
    endif()
  endforeach()
  list(LENGTH _want _count)
  message(STATUS "${include_dir}/ssepp: the checkout's ${_count} headers, byte for byte")
endfunction()

# copy_consumer(): a copy of the consumer projects (tests/cmake) in WORK, so
# the tools may write beside them (conan install writes CMakeUserPresets.json
# next to a conanfile.txt) without touching the checkout. Sets CONSUMER to
# the find_package consumer, which has a conanfile.txt and a vcpkg.json.
macro(copy_consumer)
  file(COPY "${SOURCE_DIR}/tests/cmake" DESTINATION "${WORK}")
  set(CONSUMER "${WORK}/cmake/find_package")
endmacro()

# build_consumer(<build dir> [EXPECT_FAILURE <regex>] [cmake options...]):
# configures, builds and runs the find_package consumer as a user would,
# with this build's generator and compiler and no package registry.
function(build_consumer build_dir)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "EXPECT_FAILURE" "")
  cmake_configure_command(_configure "${CONSUMER}" "${build_dir}"
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF ${arg_UNPARSED_ARGUMENTS})
  if(DEFINED arg_EXPECT_FAILURE)
    run(COMMAND ${_configure} EXPECT_FAILURE "${arg_EXPECT_FAILURE}")
    return()
  endif()
  run(COMMAND ${_configure})
  run(COMMAND "${CMAKE_COMMAND}" --build "${build_dir}" --config Release)
  set(_consumer "${build_dir}/consumer")
  if(NOT EXISTS "${_consumer}" AND EXISTS "${build_dir}/Release/consumer")
    set(_consumer "${build_dir}/Release/consumer")  # a multi-config generator
  endif()
  run(COMMAND "${_consumer}" OUTPUT _out)
  message(STATUS "the consumer printed: ${_out}")
endfunction()

# asio_version(<var>): the version of the Asio in ASIO_INCLUDE_DIR, which the
# stand-ins for the registries' asio packages take (the arithmetic of
# cmake/Findasio.cmake, which a script cannot include: it finds Threads).
function(asio_version out_var)
  if(NOT EXISTS "${ASIO_INCLUDE_DIR}/asio/version.hpp")
    message(FATAL_ERROR "pass -DASIO_INCLUDE_DIR=<directory holding asio.hpp>")
  endif()
  # ASIO_VERSION is major * 100000 + minor * 100 + patch (102201 is 1.22.1).
  file(STRINGS "${ASIO_INCLUDE_DIR}/asio/version.hpp" _line REGEX "^#define ASIO_VERSION [0-9]+")
  string(REGEX REPLACE "^#define ASIO_VERSION ([0-9]+).*" "\\1" _n "${_line}")
  math(EXPR _major "${_n} / 100000")
  math(EXPR _minor "${_n} / 100 % 1000")
  math(EXPR _patch "${_n} % 100")
  set(${out_var} "${_major}.${_minor}.${_patch}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
