# Shared by the consumer projects in tests/cmake: how a user's project would
# build its first ssepp program, plus the checks every consumer makes.

# ssepp_consumer(<target> <source>): an executable linking ssepp::ssepp,
# warnings as errors (the headers must stay clean in users' builds).
# SSEPP_CONSUMER_SABOTAGE=ON builds one whose round trip must fail.
function(ssepp_consumer target source)
  add_executable(${target} ${source})
  target_link_libraries(${target} PRIVATE ssepp::ssepp)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror)
  endif()
  if(SSEPP_CONSUMER_SABOTAGE)
    target_compile_definitions(${target} PRIVATE SSEPP_CONSUMER_SABOTAGE=1)
  endif()
endfunction()

# ssepp_check_subproject(<ssepp source dir>): ssepp added to this build as a
# subproject must add its target and nothing else: no tests, examples or
# benchmarks (PROJECT_IS_TOP_LEVEL gating), and no Asio.
function(ssepp_check_subproject ssepp_source_dir)
  if(NOT TARGET ssepp::ssepp)
    message(FATAL_ERROR "ssepp as a subproject did not define ssepp::ssepp")
  endif()
  foreach(_option SSEPP_BUILD_TESTS SSEPP_BUILD_EXAMPLES SSEPP_BUILD_BENCH SSEPP_BUILD_FUZZERS)
    if(${_option})
      message(FATAL_ERROR "${_option} is ON although ssepp is not the top-level project")
    endif()
  endforeach()
  get_directory_property(_subdirs DIRECTORY "${ssepp_source_dir}" SUBDIRECTORIES)
  if(_subdirs)
    message(FATAL_ERROR "ssepp as a subproject added directories it must not: ${_subdirs}")
  endif()
  get_directory_property(_tests DIRECTORY "${ssepp_source_dir}" TESTS)
  if(_tests)
    message(FATAL_ERROR "ssepp as a subproject registered tests: ${_tests}")
  endif()
  if(TARGET asio::asio)
    message(FATAL_ERROR "ssepp's core pulled in Asio; only its Asio parts may")
  endif()
endfunction()
