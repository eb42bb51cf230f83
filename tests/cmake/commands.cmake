# Helpers for ssepp's test scripts (cmake -P), here and in tests/packaging.
#
# run([OUTPUT <var>] [EXPECT_FAILURE <regex>] COMMAND <command...>)
#   Runs the command in RUN_DIRECTORY (when the script sets it), showing
#   its output as it comes. Without EXPECT_FAILURE it must succeed; with it,
#   it must fail AND print something matching <regex>, so a failure for an
#   unrelated reason (a typo, a missing file) is not the expected one.
#   OUTPUT receives stdout and stderr, trailing whitespace removed.
#
# cmake_configure_command(<var> <source dir> <binary dir> [options...])
#   `cmake -S -B` with the script's GENERATOR, MAKE_PROGRAM and CXX_COMPILER
#   (those given), so what a test configures is built as this build is.

function(run)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "OUTPUT;EXPECT_FAILURE" "COMMAND")
  if(NOT arg_COMMAND)
    message(FATAL_ERROR "run: no COMMAND")
  endif()
  string(REPLACE ";" " " _shown "${arg_COMMAND}")
  message(STATUS "$ ${_shown}")
  set(_directory)
  if(RUN_DIRECTORY)
    set(_directory WORKING_DIRECTORY "${RUN_DIRECTORY}")
  endif()
  execute_process(COMMAND ${arg_COMMAND} ${_directory} RESULT_VARIABLE _result
    OUTPUT_VARIABLE _out ERROR_VARIABLE _out ECHO_OUTPUT_VARIABLE ECHO_ERROR_VARIABLE)
  if(DEFINED arg_EXPECT_FAILURE)
    if(_result EQUAL 0)
      message(FATAL_ERROR "expected this to fail, but it succeeded: ${_shown}")
    endif()
    if(NOT _out MATCHES "${arg_EXPECT_FAILURE}")
      message(FATAL_ERROR "failed as expected, but the output lacks /${arg_EXPECT_FAILURE}/: ${_shown}")
    endif()
    message(STATUS "failed as expected, with /${arg_EXPECT_FAILURE}/")
  elseif(NOT _result EQUAL 0)
    message(FATAL_ERROR "failed (${_result}): ${_shown}")
  endif()
  if(arg_OUTPUT)
    string(REGEX REPLACE "[ \t\r\n]+$" "" _out "${_out}")
    set(${arg_OUTPUT} "${_out}" PARENT_SCOPE)
  endif()
endfunction()

function(cmake_configure_command out_var source_dir binary_dir)
  set(_command "${CMAKE_COMMAND}" -S "${source_dir}" -B "${binary_dir}")
  if(GENERATOR)
    list(APPEND _command -G "${GENERATOR}")
  endif()
  if(MAKE_PROGRAM)
    list(APPEND _command "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
  endif()
  if(CXX_COMPILER)
    list(APPEND _command "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
  endif()
  set(${out_var} ${_command} ${ARGN} PARENT_SCOPE)
endfunction()
