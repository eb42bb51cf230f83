# Helpers for ssepp's test scripts (cmake -P), here and in tests/packaging.
#
# run([OUTPUT <var>] [ERROR <var>] [QUIET] [EXPECT_FAILURE <regex>]
#     COMMAND <command...>)
#   Runs the command in RUN_DIRECTORY (when the script sets it), showing
#   what it prints (QUIET: its stderr only). Without EXPECT_FAILURE it must
#   succeed; with it, it must fail AND print something matching <regex>
#   (as printed, or with each run of whitespace made one space: CMake wraps
#   its messages), so a failure for an unrelated reason (a typo, a missing
#   file) is not the expected one. OUTPUT receives its stdout, ERROR its stderr, trailing
#   whitespace removed.
#
# cmake_configure_command(<var> <source dir> <binary dir> [options...])
#   `cmake -S -B` with the script's GENERATOR, MAKE_PROGRAM and CXX_COMPILER
#   (those given), so what a test configures is built as this build is.

function(run)
  cmake_parse_arguments(PARSE_ARGV 0 arg "QUIET" "OUTPUT;ERROR;EXPECT_FAILURE" "COMMAND")
  if(NOT arg_COMMAND)
    message(FATAL_ERROR "run: no COMMAND")
  endif()
  string(REPLACE ";" " " _shown "${arg_COMMAND}")
  message(STATUS "$ ${_shown}")
  set(_options)
  if(RUN_DIRECTORY)
    list(APPEND _options WORKING_DIRECTORY "${RUN_DIRECTORY}")
  endif()
  # Before CMake 3.18 the output is shown once the command has ended.
  set(_echo_as_it_comes FALSE)
  if(CMAKE_VERSION VERSION_GREATER_EQUAL 3.18)
    set(_echo_as_it_comes TRUE)
    list(APPEND _options ECHO_ERROR_VARIABLE)
    if(NOT arg_QUIET)
      list(APPEND _options ECHO_OUTPUT_VARIABLE)
    endif()
  endif()
  execute_process(COMMAND ${arg_COMMAND} ${_options} RESULT_VARIABLE _result
    OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
  if(NOT _echo_as_it_comes)
    if(NOT arg_QUIET)
      message("${_out}")
    endif()
    message("${_err}")
  endif()
  if(DEFINED arg_EXPECT_FAILURE)
    if(_result EQUAL 0)
      message(FATAL_ERROR "expected this to fail, but it succeeded: ${_shown}")
    endif()
    # CMake wraps its messages at spaces: the regex's spaces match any run
    # of whitespace, a line break with the indent after it included.
    string(REGEX REPLACE "[ \t\r\n]+" " " _flat "${_out}${_err}")
    if(NOT "${_out}${_err}" MATCHES "${arg_EXPECT_FAILURE}" AND NOT _flat MATCHES "${arg_EXPECT_FAILURE}")
      message(FATAL_ERROR "failed as expected, but the output lacks /${arg_EXPECT_FAILURE}/: ${_shown}")
    endif()
    message(STATUS "failed as expected, with /${arg_EXPECT_FAILURE}/")
  elseif(NOT _result EQUAL 0)
    if(arg_QUIET)
      message("${_out}")
    endif()
    message(FATAL_ERROR "failed (${_result}): ${_shown}")
  endif()
  foreach(_stream OUTPUT ERROR)
    if(arg_${_stream})
      if(_stream STREQUAL "OUTPUT")
        set(_text "${_out}")
      else()
        set(_text "${_err}")
      endif()
      string(REGEX REPLACE "[ \t\r\n]+$" "" _text "${_text}")
      set(${arg_${_stream}} "${_text}" PARENT_SCOPE)
    endif()
  endforeach()
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
