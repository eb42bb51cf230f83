# The version is written in include/ssepp/version.hpp and read from there by
# CMake (project(ssepp VERSION)) and by conanfile.py; vcpkg.json has to
# repeat it. All must agree:
#   cmake -DEXPECTED_VERSION=<CMake's PROJECT_VERSION> -DINSTALLED_PREFIX=<a
#         CMake install of ssepp> [-DCONAN=<conan>] -DSOURCE_DIR=... -DWORK=...
#         -P versions.cmake
include("${CMAKE_CURRENT_LIST_DIR}/common.cmake")

set(_version "${EXPECTED_VERSION}")
message(STATUS "include/ssepp/version.hpp, as CMake reads it: ${_version}")

# expect_version(<where> <version>)
function(expect_version where version)
  if(NOT version STREQUAL _version)
    message(FATAL_ERROR "${where} says ${version}, include/ssepp/version.hpp says ${_version}: "
      "the version lives in version.hpp; update what disagrees")
  endif()
  message(STATUS "${where}: ${version}")
endfunction()

file(READ "${SOURCE_DIR}/cmake/vcpkg/ssepp/vcpkg.json" _manifest)
string(JSON _vcpkg_version GET "${_manifest}" version)
expect_version("cmake/vcpkg/ssepp/vcpkg.json" "${_vcpkg_version}")

# The installed version file, asked as find_package(ssepp <version>) asks it.
set(_version_file "${INSTALLED_PREFIX}/share/cmake/ssepp/ssepp-config-version.cmake")
if(NOT EXISTS "${_version_file}")
  message(FATAL_ERROR "no installed ${_version_file} (the package.install test makes it)")
endif()
set(PACKAGE_FIND_VERSION "${_version}")
include("${_version_file}")
expect_version("the installed ssepp-config-version.cmake" "${PACKAGE_VERSION}")
if(NOT PACKAGE_VERSION_EXACT)
  message(FATAL_ERROR "the installed ssepp-config-version.cmake does not match ${_version} exactly")
endif()

set(_have_conan FALSE)
if(CONAN AND EXISTS "${CONAN}")
  set(_have_conan TRUE)
endif()
require_or_skip(_have_conan
  "vcpkg.json and the installed version file agree, but conan was not found, so conanfile.py's version is unchecked (source ../shared/tools/packaging-env.sh before configuring, or pass -DSSEPP_CONAN=<conan>)")
set(ENV{CONAN_HOME} "${WORK}/conan-home")
run(QUIET COMMAND "${CONAN}" inspect "${SOURCE_DIR}" --format=json OUTPUT _json)
string(JSON _conan_version GET "${_json}" version)
expect_version("conanfile.py (conan inspect)" "${_conan_version}")
