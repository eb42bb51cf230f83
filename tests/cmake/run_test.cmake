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

include("${CMAKE_CURRENT_LIST_DIR}/commands.cmake")
if(DEFINED EXPECT_FAILURE)
  run(EXPECT_FAILURE "${EXPECT_FAILURE}" COMMAND ${_command})
else()
  run(COMMAND ${_command})
endif()
