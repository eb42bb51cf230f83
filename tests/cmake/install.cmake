# Configures, builds and installs ssepp from SOURCE_DIR into a fresh PREFIX,
# the way a packager would (tests, examples and benchmarks off):
#   cmake -DSOURCE_DIR=... -DBINARY_DIR=... -DPREFIX=... -DGENERATOR=...
#         [-DCXX_COMPILER=...] -P install.cmake
# The prefix is given only at install time (cmake --install --prefix), which
# also proves the installed files do not depend on the configure-time one.
foreach(_var SOURCE_DIR BINARY_DIR PREFIX GENERATOR)
  if(NOT ${_var})
    message(FATAL_ERROR "install.cmake: pass -D${_var}=...")
  endif()
endforeach()

file(REMOVE_RECURSE "${BINARY_DIR}" "${PREFIX}")

include("${CMAKE_CURRENT_LIST_DIR}/commands.cmake")
cmake_configure_command(_configure "${SOURCE_DIR}" "${BINARY_DIR}"
  -DSSEPP_BUILD_TESTS=OFF -DSSEPP_BUILD_EXAMPLES=OFF -DSSEPP_BUILD_BENCH=OFF)
run(COMMAND ${_configure})
run(COMMAND "${CMAKE_COMMAND}" --build "${BINARY_DIR}")
run(COMMAND "${CMAKE_COMMAND}" --install "${BINARY_DIR}" --prefix "${PREFIX}")

foreach(_file include/ssepp/ssepp.hpp share/cmake/ssepp/ssepp-config.cmake
              share/cmake/ssepp/ssepp-config-version.cmake share/cmake/ssepp/ssepp-targets.cmake
              share/cmake/ssepp/ssepp-components.cmake share/cmake/ssepp/Findasio.cmake
              share/pkgconfig/ssepp.pc)
  if(NOT EXISTS "${PREFIX}/${_file}")
    message(FATAL_ERROR "install did not create ${PREFIX}/${_file}")
  endif()
endforeach()
message(STATUS "installed ssepp into ${PREFIX}")
