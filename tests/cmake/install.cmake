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

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE _result OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
  if(NOT _result EQUAL 0)
    message(FATAL_ERROR "failed (${_result}): ${ARGN}\n${_out}")
  endif()
endfunction()

set(_configure "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${BINARY_DIR}" -G "${GENERATOR}"
  -DSSEPP_BUILD_TESTS=OFF -DSSEPP_BUILD_EXAMPLES=OFF -DSSEPP_BUILD_BENCH=OFF)
if(MAKE_PROGRAM)
  list(APPEND _configure "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(CXX_COMPILER)
  list(APPEND _configure "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
run(${_configure})
run("${CMAKE_COMMAND}" --build "${BINARY_DIR}")
run("${CMAKE_COMMAND}" --install "${BINARY_DIR}" --prefix "${PREFIX}")

foreach(_file include/ssepp/ssepp.hpp share/cmake/ssepp/ssepp-config.cmake
              share/cmake/ssepp/ssepp-config-version.cmake share/cmake/ssepp/ssepp-targets.cmake
              share/cmake/ssepp/Findasio.cmake share/pkgconfig/ssepp.pc)
  if(NOT EXISTS "${PREFIX}/${_file}")
    message(FATAL_ERROR "install did not create ${PREFIX}/${_file}")
  endif()
endforeach()
message(STATUS "installed ssepp into ${PREFIX}")
