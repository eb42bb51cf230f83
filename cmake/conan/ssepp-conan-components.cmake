# find_package(ssepp CONFIG COMPONENTS ...) for an ssepp installed by Conan.
#
# CMakeDeps writes ssepp-config.cmake from the recipe and ignores the
# components a consumer asks for; it includes this file (a build module of
# the recipe) after finding the package's requirements, so the components
# mean here what they mean in ssepp's own CMake package: each asked for
# defines the same target, ssepp::asio, ssepp::boost, ssepp::httplib or
# ssepp::openssl (ssepp-components.cmake, packaged beside this file, makes
# them), on the targets of the packages Conan installed. Which requirements
# there are is the consumer's choice, made with the recipe's options at
# `conan install`: asking for a component the options left out fails naming
# the option, instead of a link error on a missing target.

cmake_policy(PUSH)
cmake_policy(SET CMP0057 NEW)  # IN_LIST, whatever the consumer's minimum version

include("${CMAKE_CURRENT_LIST_DIR}/ssepp-components.cmake")

# Each component: the targets the ConanCenter packages define for it, and
# the recipe option that requires them.
set(_ssepp_conan_asio_targets asio::asio)
set(_ssepp_conan_asio_option with_asio)
set(_ssepp_conan_boost_targets Boost::headers)
set(_ssepp_conan_boost_option with_boost)
set(_ssepp_conan_httplib_targets httplib::httplib)
set(_ssepp_conan_httplib_option with_httplib)
set(_ssepp_conan_openssl_targets OpenSSL::SSL OpenSSL::Crypto)
set(_ssepp_conan_openssl_option with_openssl)

set(_ssepp_whys "")
foreach(_ssepp_component IN LISTS ssepp_FIND_COMPONENTS)
  set(ssepp_${_ssepp_component}_FOUND FALSE)
  set(_ssepp_why "")
  if(NOT _ssepp_component IN_LIST _ssepp_known_components)
    string(REPLACE ";" ", " _ssepp_why "${_ssepp_known_components}")
    set(_ssepp_why "ssepp has no component '${_ssepp_component}' (it has: ${_ssepp_why})")
  elseif(_ssepp_component STREQUAL "openssl")
    _ssepp_openssl_alone(_ssepp_why ${ssepp_FIND_COMPONENTS})
  endif()
  if(NOT _ssepp_why)
    set(_ssepp_targets ${_ssepp_conan_${_ssepp_component}_targets})
    foreach(_ssepp_target IN LISTS _ssepp_targets)
      if(NOT TARGET ${_ssepp_target})
        set(_ssepp_option "${_ssepp_conan_${_ssepp_component}_option}")
        set(_ssepp_why
          "ssepp component ${_ssepp_component} needs ${_ssepp_target}, and ssepp was installed without it: add -o 'ssepp/*:${_ssepp_option}=True' to conan install (or ssepp/*:${_ssepp_option}=True under [options] in conanfile.txt)")
        break()
      endif()
    endforeach()
  endif()
  if(NOT _ssepp_why AND NOT _ssepp_component STREQUAL "openssl")
    # As in ssepp's own package: the parts on Asio and cpp-httplib use threads.
    if(NOT TARGET Threads::Threads)
      find_package(Threads QUIET)
    endif()
    if(TARGET Threads::Threads)
      list(APPEND _ssepp_targets Threads::Threads)
    else()
      set(_ssepp_why "ssepp component ${_ssepp_component} needs a thread library (find_package(Threads) found none)")
    endif()
  endif()
  if(NOT _ssepp_why)
    _ssepp_add_component(${_ssepp_component} ${_ssepp_targets})
    set(ssepp_${_ssepp_component}_FOUND TRUE)
  elseif(ssepp_FIND_REQUIRED_${_ssepp_component})
    string(APPEND _ssepp_whys "${_ssepp_why}\n")
  endif()
endforeach()
if(_ssepp_whys)
  set(ssepp_FOUND FALSE)
  string(STRIP "${_ssepp_whys}" ssepp_NOT_FOUND_MESSAGE)
endif()

foreach(_ssepp_component IN LISTS _ssepp_known_components)
  unset(_ssepp_conan_${_ssepp_component}_targets)
  unset(_ssepp_conan_${_ssepp_component}_option)
endforeach()
unset(_ssepp_component)
unset(_ssepp_targets)
unset(_ssepp_target)
unset(_ssepp_option)
unset(_ssepp_why)
unset(_ssepp_whys)
cmake_policy(POP)
