# vcpkg overlay port for ssepp, building the checkout it sits in:
#
#   vcpkg install ssepp --overlay-ports=<checkout>/cmake/vcpkg
#
# The features (asio, boost, httplib, openssl, redis) only bring the ports
# their parts need: the headers, and the CMake package whose components
# (ssepp::asio, ssepp::boost, ...) find those ports, are the same whichever
# are on.
#
# vcpkg keys a build by this port's files, not by the sources it builds, so
# after the checkout changes vcpkg still counts the old install (and any
# binary cache of it) as current: reinstall with `vcpkg remove ssepp` and
# `vcpkg install ssepp --overlay-ports=... --editable` (classic mode), or
# delete the build's vcpkg_installed/ with VCPKG_BINARY_SOURCES=clear set
# (manifest mode). ssepp's tests build it from fresh trees with the binary
# cache off.
get_filename_component(SOURCE_PATH "${CURRENT_PORT_DIR}/../../.." ABSOLUTE)
if(NOT EXISTS "${SOURCE_PATH}/include/ssepp/version.hpp")
  message(FATAL_ERROR "ssepp's overlay port must stay in cmake/vcpkg/ssepp of an ssepp checkout; "
    "no include/ssepp/version.hpp under ${SOURCE_PATH}")
endif()

set(VCPKG_BUILD_TYPE release)  # headers only: nothing differs in a debug build
# Nor is there a binary whose RPATH vcpkg should fix: without this it would
# fetch patchelf to look at the usage file, and fail where there is no network.
set(VCPKG_FIXUP_ELF_RPATH OFF)

vcpkg_cmake_configure(
  SOURCE_PATH "${SOURCE_PATH}"
  OPTIONS
    -DSSEPP_BUILD_TESTS=OFF
    -DSSEPP_BUILD_EXAMPLES=OFF
    -DSSEPP_BUILD_BENCH=OFF
    -DSSEPP_BUILD_FUZZERS=OFF
    -DSSEPP_INSTALL_CMAKEDIR=share/${PORT}
)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup()
vcpkg_fixup_pkgconfig()

# The version lives in include/ssepp/version.hpp, and vcpkg.json has to
# repeat it: the version file CMake installed says which one it read, and a
# port that disagrees would install these headers under a wrong version.
function(z_ssepp_check_version)
  include("${CURRENT_PACKAGES_DIR}/share/${PORT}/ssepp-config-version.cmake")
  if(NOT PACKAGE_VERSION STREQUAL VERSION)
    message(FATAL_ERROR "cmake/vcpkg/ssepp/vcpkg.json says version ${VERSION}, "
      "include/ssepp/version.hpp says ${PACKAGE_VERSION}: update vcpkg.json")
  endif()
endfunction()
z_ssepp_check_version()

# The license is installed as vcpkg's copyright file instead.
file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/share/doc")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
