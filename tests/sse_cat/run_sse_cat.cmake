# Runs sse-cat once and checks what it did (cmake -P; no shell, no Python).
#
#   SSE_CAT          the sse-cat executable
#   ARGS             its arguments, separated by "|"
#   STDIN            file given as its standard input
#   PIPE             ON: give STDIN through a pipe (cmake -E cat) instead of
#                    as a file, so reads return what the pipe holds
#   OUT              where to keep its standard output
#   EXPECT           file its standard output must equal byte for byte
#   STDOUT_CONTAINS  text its standard output must contain (instead of EXPECT)
#   EXIT             expected exit code (0)
#   STDERR           text its standard error must contain; when unset and
#                    EXIT is 0, standard error must be empty
foreach(_required SSE_CAT STDIN OUT)
  if(NOT DEFINED ${_required})
    message(FATAL_ERROR "run_sse_cat.cmake: -D${_required}=... is required")
  endif()
endforeach()
if(NOT DEFINED EXIT OR EXIT STREQUAL "")
  set(EXIT 0)
endif()
string(REPLACE "|" ";" _args "${ARGS}")

if(PIPE)
  execute_process(
    COMMAND ${CMAKE_COMMAND} -E cat ${STDIN}
    COMMAND ${SSE_CAT} ${_args}
    OUTPUT_FILE ${OUT}
    ERROR_VARIABLE _stderr
    RESULT_VARIABLE _exit)
else()
  execute_process(
    COMMAND ${SSE_CAT} ${_args}
    INPUT_FILE ${STDIN}
    OUTPUT_FILE ${OUT}
    ERROR_VARIABLE _stderr
    RESULT_VARIABLE _exit)
endif()

set(_failures "")
if(NOT _exit STREQUAL EXIT)
  string(APPEND _failures "exit code: expected ${EXIT}, got ${_exit}\n")
endif()
if(DEFINED STDERR AND NOT STDERR STREQUAL "")
  string(FIND "${_stderr}" "${STDERR}" _at)
  if(_at EQUAL -1)
    string(APPEND _failures "standard error lacks: ${STDERR}\n")
  endif()
elseif(EXIT EQUAL 0 AND NOT _stderr STREQUAL "")
  string(APPEND _failures "standard error should be empty\n")
endif()
if(DEFINED EXPECT AND NOT EXPECT STREQUAL "")
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${OUT} ${EXPECT} RESULT_VARIABLE _differ)
  if(NOT _differ EQUAL 0)
    file(READ ${EXPECT} _expected)
    file(READ ${OUT} _actual)
    string(APPEND _failures "standard output differs from ${EXPECT}\n"
      "--- expected\n${_expected}--- actual\n${_actual}---\n")
  endif()
endif()
if(DEFINED STDOUT_CONTAINS AND NOT STDOUT_CONTAINS STREQUAL "")
  file(READ ${OUT} _actual)
  string(FIND "${_actual}" "${STDOUT_CONTAINS}" _at)
  if(_at EQUAL -1)
    string(APPEND _failures "standard output lacks: ${STDOUT_CONTAINS}\n")
  endif()
endif()

string(REPLACE ";" " " _shown "${_args}")
if(_failures)
  message(FATAL_ERROR "sse-cat ${_shown} < ${STDIN}\n${_failures}standard error was:\n${_stderr}")
endif()
