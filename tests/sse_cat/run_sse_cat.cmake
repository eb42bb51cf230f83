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
#   STDERR_ESCAPED   ON: standard error must hold no byte a terminal could
#                    take as a command (C0 controls but LF, DEL, C1
#                    controls as UTF-8 or as a lone byte)
#   SERVER, SERVE    URL mode: run sse-cat under SERVER (canned_server.cpp),
#                    which answers its connections with the files SERVE
#                    names (separated by "|"), in order; "{origin}" in ARGS
#                    is the server's http://127.0.0.1:PORT
foreach(_required SSE_CAT STDIN OUT)
  if(NOT DEFINED ${_required})
    message(FATAL_ERROR "run_sse_cat.cmake: -D${_required}=... is required")
  endif()
endforeach()
if(NOT DEFINED EXIT OR EXIT STREQUAL "")
  set(EXIT 0)
endif()
string(REPLACE "|" ";" _args "${ARGS}")
set(_command ${SSE_CAT} ${_args})
if(DEFINED SERVE AND NOT SERVE STREQUAL "")
  string(REPLACE "|" ";" _responses "${SERVE}")
  set(_command ${SERVER} ${_responses} -- ${_command})
endif()

if(PIPE)
  execute_process(
    COMMAND ${CMAKE_COMMAND} -E cat ${STDIN}
    COMMAND ${_command}
    OUTPUT_FILE ${OUT}
    ERROR_VARIABLE _stderr
    RESULT_VARIABLE _exit)
else()
  execute_process(
    COMMAND ${_command}
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
if(STDERR_ESCAPED)
  # Byte by byte, in hex: CMake strings and regexes cannot name every byte.
  string(HEX "${_stderr}" _hex)
  string(LENGTH "${_hex}" _hex_length)
  set(_previous 0)
  set(_at 0)
  while(_at LESS _hex_length)
    string(SUBSTRING "${_hex}" ${_at} 2 _byte)
    math(EXPR _value "0x${_byte}")
    math(EXPR _offset "${_at} / 2")
    if((_value LESS 32 AND NOT _value EQUAL 10) OR _value EQUAL 127)
      string(APPEND _failures "standard error holds the control byte 0x${_byte} at offset ${_offset}\n")
      break()
    endif()
    # 0x80..0x9F after C2 is a UTF-8 C1 control; after an ASCII byte (or
    # first), a lone one, which an 8-bit terminal takes as C1 too.
    if(_value GREATER_EQUAL 128 AND _value LESS 160 AND (_previous EQUAL 194 OR _previous LESS 128))
      string(APPEND _failures "standard error holds the C1 control 0x${_byte} at offset ${_offset}\n")
      break()
    endif()
    set(_previous ${_value})
    math(EXPR _at "${_at} + 2")
  endwhile()
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

string(REPLACE ";" " " _shown "${_command}")
if(_failures)
  message(FATAL_ERROR "${_shown} < ${STDIN}\n${_failures}standard error was:\n${_stderr}")
endif()
