# Runs one test command:
#   cmake [-DFRESH=<dir>] [-DEXPECT_FAILURE=<regex>] -P run_test.cmake -- <command> [args...]
# FRESH: a build directory to delete first, so no cache left by an earlier
#   run (an option once OFF stays OFF) can hide a regression.
# EXPECT_FAILURE: the command must exit nonzero AND its output must match,
#   so a failure for an unrelated reason (a typo, a missing file) does not
#   count as the expected one. Without it the command must succeed.
set(_command)
set(_after_separator FALSE)
math(EXPR _last "${CMAKE_ARGC} - 1")
foreach(_i RANGE ${_last})
  if(_after_separator)
    list(APPEND _command "${CMAKE_ARGV${_i}}")
  elseif(CMAKE_ARGV${_i} STREQUAL "--")
    set(_after_separator TRUE)
  endif()
endforeach()
if(NOT _command)
  message(FATAL_ERROR "run_test.cmake: no command after --")
endif()

if(FRESH)
  file(REMOVE_RECURSE "${FRESH}")
endif()

if(NOT DEFINED EXPECT_FAILURE)
  execute_process(COMMAND ${_command} RESULT_VARIABLE _result)
  if(NOT _result EQUAL 0)
    message(FATAL_ERROR "failed (${_result})")
  endif()
  return()
endif()

execute_process(COMMAND ${_command} RESULT_VARIABLE _result OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
if(_result EQUAL 0)
  message(FATAL_ERROR "expected this to fail, but it succeeded:\n  ${_command}\n${_out}")
endif()
if(NOT _out MATCHES "${EXPECT_FAILURE}")
  message(FATAL_ERROR "failed as expected, but the output lacks /${EXPECT_FAILURE}/:\n${_out}")
endif()
message(STATUS "failed as expected with /${EXPECT_FAILURE}/")
