# find_package(ssepp CONFIG COMPONENTS ...) for an ssepp installed by Conan.
#
# CMakeDeps writes ssepp-config.cmake from the recipe and ignores the
# components a consumer asks for; it includes this file (a build module of
# the recipe) after finding the package's requirements, so the components
# mean here what they mean in ssepp's own CMake package: `asio` provides
# asio::asio. Which requirements there are is the consumer's choice, made
# with the recipe's options at `conan install`: asking for a component the
# options left out fails naming the option, instead of a link error on a
# missing target.

cmake_policy(PUSH)
cmake_policy(SET CMP0057 NEW)  # IN_LIST, whatever the consumer's minimum version

# Each component: the target it provides and the recipe option that adds it.
set(_ssepp_conan_components asio)
set(_ssepp_conan_asio_target asio::asio)
set(_ssepp_conan_asio_option with_asio)

foreach(_ssepp_component IN LISTS ssepp_FIND_COMPONENTS)
  set(ssepp_${_ssepp_component}_FOUND FALSE)
  set(_ssepp_target "${_ssepp_conan_${_ssepp_component}_target}")
  set(_ssepp_option "${_ssepp_conan_${_ssepp_component}_option}")
  if(NOT _ssepp_component IN_LIST _ssepp_conan_components)
    string(REPLACE ";" ", " _ssepp_why "${_ssepp_conan_components}")
    set(_ssepp_why "ssepp has no component '${_ssepp_component}' (it has: ${_ssepp_why})")
  elseif(TARGET ${_ssepp_target})
    set(ssepp_${_ssepp_component}_FOUND TRUE)
  else()
    set(_ssepp_why
      "ssepp component ${_ssepp_component} needs ${_ssepp_target}, and ssepp was installed without it: add -o 'ssepp/*:${_ssepp_option}=True' to conan install (or ssepp/*:${_ssepp_option}=True under [options] in conanfile.txt)")
  endif()
  if(NOT ssepp_${_ssepp_component}_FOUND AND ssepp_FIND_REQUIRED_${_ssepp_component})
    set(ssepp_FOUND FALSE)
    set(ssepp_NOT_FOUND_MESSAGE "${_ssepp_why}")
  endif()
endforeach()

foreach(_ssepp_component IN LISTS _ssepp_conan_components)
  unset(_ssepp_conan_${_ssepp_component}_target)
  unset(_ssepp_conan_${_ssepp_component}_option)
endforeach()
unset(_ssepp_conan_components)
unset(_ssepp_component)
unset(_ssepp_target)
unset(_ssepp_option)
unset(_ssepp_why)
cmake_policy(POP)
