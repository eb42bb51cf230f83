# Shared by the consumer projects in tests/cmake: how a user's project would
# build its first ssepp program, plus the checks every consumer makes.

set(_ssepp_consumer_dir "${CMAKE_CURRENT_LIST_DIR}")

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

# ssepp_component_consumer(<target> <component targets...>): an executable
# on a component target, warnings as errors like ssepp_consumer's:
# tests/cmake/asio_consumer.cpp for ssepp::asio and ssepp::boost (told which
# it got, and whether ssepp::openssl is linked too), httplib_consumer.cpp
# for ssepp::httplib, redis_consumer.cpp for ssepp::redis (with ssepp::asio).
function(ssepp_component_consumer target)
  set(_source asio_consumer.cpp)
  if("ssepp::httplib" IN_LIST ARGN)
    set(_source httplib_consumer.cpp)
  elseif("ssepp::redis" IN_LIST ARGN)
    set(_source redis_consumer.cpp)
  endif()
  add_executable(${target} ${_ssepp_consumer_dir}/${_source})
  target_link_libraries(${target} PRIVATE ${ARGN})
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror)
  endif()
  set(_boost 0)
  if("ssepp::boost" IN_LIST ARGN)
    set(_boost 1)
  endif()
  set(_openssl 0)
  if("ssepp::openssl" IN_LIST ARGN)
    set(_openssl 1)
  endif()
  target_compile_definitions(${target} PRIVATE SSEPP_CONSUMER_BOOST=${_boost} SSEPP_CONSUMER_OPENSSL=${_openssl})
endfunction()

# ssepp_check_subproject(<ssepp source dir>): ssepp added to this build as a
# subproject must add its targets and nothing else: no tests, examples or
# benchmarks (PROJECT_IS_TOP_LEVEL gating), and a core target that links
# nothing (no Asio: only the component targets may).
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
  get_target_property(_core ssepp::ssepp ALIASED_TARGET)
  get_target_property(_links ${_core} INTERFACE_LINK_LIBRARIES)
  if(_links)
    message(FATAL_ERROR "ssepp::ssepp links ${_links}; the core must link nothing")
  endif()
endfunction()

# ssepp_subproject_components(<target prefix>): ssepp added as a subproject
# defines a component target for each dependency it found; this project
# builds and runs (after building it) a program on each one given in
# SSEPP_EXPECT_COMPONENTS (comma-separated, what the build running the test
# found), so a target missing or broken fails the build.
function(ssepp_subproject_components prefix)
  string(REPLACE "," ";" _expected "${SSEPP_EXPECT_COMPONENTS}")
  foreach(_component IN LISTS _expected)
    if(NOT TARGET ssepp::${_component})
      message(FATAL_ERROR "ssepp as a subproject did not define ssepp::${_component}")
    endif()
  endforeach()
  set(_programs)
  foreach(_transport asio boost)
    if(_transport IN_LIST _expected)
      ssepp_component_consumer(${prefix}_${_transport} ssepp::${_transport})
      list(APPEND _programs ${prefix}_${_transport})
      if("openssl" IN_LIST _expected)
        ssepp_component_consumer(${prefix}_${_transport}_openssl ssepp::${_transport} ssepp::openssl)
        list(APPEND _programs ${prefix}_${_transport}_openssl)
      endif()
    endif()
  endforeach()
  if("httplib" IN_LIST _expected)
    ssepp_component_consumer(${prefix}_httplib ssepp::httplib)
    list(APPEND _programs ${prefix}_httplib)
  endif()
  if("redis" IN_LIST _expected AND "asio" IN_LIST _expected)
    ssepp_component_consumer(${prefix}_redis ssepp::asio ssepp::redis)
    list(APPEND _programs ${prefix}_redis)
  endif()
  foreach(_program IN LISTS _programs)
    add_custom_command(TARGET ${_program} POST_BUILD COMMAND ${_program} VERBATIM)
  endforeach()
  message(STATUS "ssepp's component targets used: ${_expected}")
endfunction()
