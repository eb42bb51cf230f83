# find_package(ssepp CONFIG COMPONENTS ...) for an ssepp installed by Conan.
#
# CMakeDeps writes ssepp-config.cmake from the recipe and ignores the
# components a consumer asks for; it includes this file (a build module of
# the recipe) after finding the package's requirements, so the components
# mean here what they mean in ssepp's own CMake package: `asio` provides
# asio::asio. A Conan package is built with a fixed set of requirements, so
# a component it lacks cannot be found later: asking for one fails naming
# the recipe option that adds it, instead of a link error on a missing
# target.

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
      "ssepp component ${_ssepp_component} needs ${_ssepp_target}, and this Conan package of ssepp was made without it: install ssepp with -o 'ssepp/*:${_ssepp_option}=True'")
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
