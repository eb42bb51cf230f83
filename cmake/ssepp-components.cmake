# ssepp's CMake components: what each one is, in one place for the three ways
# a project gets ssepp: its build tree (add_subdirectory, FetchContent; the
# top-level CMakeLists.txt), its installed package (ssepp-config.cmake, which
# installs this file beside it) and Conan's (ssepp-conan-components.cmake,
# which the recipe packages beside it). A project links the same targets
# whichever of them found ssepp:
#
#   component  target          is ssepp::ssepp plus
#   asio       ssepp::asio     asio::asio (standalone Asio), Threads::Threads
#   boost      ssepp::boost    Boost::headers (Boost.Asio, Beast), Threads::Threads,
#                              and SSEPP_ASIO_BOOST=1 (include/ssepp/asio/net.hpp)
#   httplib    ssepp::httplib  cpp-httplib, Threads::Threads
#   openssl    ssepp::openssl  OpenSSL::SSL, OpenSSL::Crypto, and SSEPP_ENABLE_OPENSSL:
#                              https:// for the asio or boost component
#   redis      ssepp::redis    hiredis (PkgConfig::hiredis, or hiredis::hiredis),
#                              Threads::Threads: ssepp/redis, the Redis backplane,
#                              with the asio or boost component
#
# cpp-httplib is httplib::httplib, its own CMake package (vcpkg, Conan, an
# upstream install), or else PkgConfig::cpp_httplib from pkg-config's
# cpp-httplib: all Debian's libcpp-httplib-dev ships, a compiled library
# whose header must see the CPPHTTPLIB_* macros its .pc file gives.
#
# The core target, ssepp::ssepp, needs nothing but C++17 and stays that way:
# the components are separate targets, made only when asked for (or, in the
# build tree, when their dependencies are there).

# IN_LIST, whatever the consumer's minimum version; the functions and the
# macro below keep the policies they were defined under.
cmake_policy(PUSH)
cmake_policy(SET CMP0057 NEW)

set(_ssepp_known_components asio boost httplib openssl redis)
# Findasio.cmake lies beside this file in the source tree and in the install.
set(_ssepp_components_dir "${CMAKE_CURRENT_LIST_DIR}")

# What to install when a component's dependency is missing, for the error
# messages: the Debian package, then the vcpkg and Conan ones.
set(_ssepp_asio_needs "standalone Asio (asio.hpp): install libasio-dev (Debian/Ubuntu), or asio (vcpkg, Conan, Homebrew), or point asio_ROOT at it")
set(_ssepp_boost_needs "Boost 1.74 or later (Boost.Asio, Beast; headers only): install libboost-dev (Debian/Ubuntu), or boost-asio and boost-beast (vcpkg), or boost (Conan), or point Boost_DIR at its BoostConfig.cmake")
set(_ssepp_httplib_needs "cpp-httplib (its CMake package httplib, or pkg-config's cpp-httplib): install libcpp-httplib-dev (Debian/Ubuntu), or cpp-httplib (vcpkg, Conan), or put it on CMAKE_PREFIX_PATH")
set(_ssepp_redis_needs "hiredis 0.14 or later (its pkg-config hiredis, or CMake package hiredis): install libhiredis-dev (Debian/Ubuntu), or hiredis (vcpkg, Conan)")
set(_ssepp_openssl_needs "OpenSSL: install libssl-dev (Debian/Ubuntu), or openssl (vcpkg, Conan), or point OPENSSL_ROOT_DIR at it")

# _ssepp_add_component(<component> [GLOBAL] <dependency targets>...): defines
# ssepp::<component> as an INTERFACE IMPORTED target (GLOBAL in the build
# tree, so the project that added ssepp sees it), unless it exists already
# (ssepp found twice).
function(_ssepp_add_component component)
  if(TARGET ssepp::${component})
    return()
  endif()
  set(_deps ${ARGN})
  set(_global)
  if("GLOBAL" IN_LIST _deps)
    list(REMOVE_ITEM _deps GLOBAL)
    set(_global GLOBAL)
  endif()
  add_library(ssepp::${component} INTERFACE IMPORTED ${_global})
  set_target_properties(ssepp::${component} PROPERTIES INTERFACE_LINK_LIBRARIES "ssepp::ssepp;${_deps}")
  if(component STREQUAL "boost")
    set_target_properties(ssepp::${component} PROPERTIES INTERFACE_COMPILE_DEFINITIONS "SSEPP_ASIO_BOOST=1")
  elseif(component STREQUAL "openssl")
    set_target_properties(ssepp::${component} PROPERTIES INTERFACE_COMPILE_DEFINITIONS "SSEPP_ENABLE_OPENSSL")
  endif()
endfunction()

# _ssepp_openssl_alone(<var> <components>...): sets <var> to the error when
# the openssl component is asked for with neither asio nor boost (among the
# components, or found before), else to "". TLS is for those parts only.
function(_ssepp_openssl_alone out_var)
  set(_why "")
  if("openssl" IN_LIST ARGN AND NOT "asio" IN_LIST ARGN AND NOT "boost" IN_LIST ARGN
     AND NOT TARGET ssepp::asio AND NOT TARGET ssepp::boost)
    set(_why "ssepp component openssl is https:// for the asio or boost component: ask for one of them too (COMPONENTS asio openssl, or boost openssl)")
  endif()
  set(${out_var} "${_why}" PARENT_SCOPE)
endfunction()

# _ssepp_package_or_pkg_config(<package> <target> <prefix> <module>): a
# library found as its own CMake package (<target>) or else through
# pkg-config's <module> (PkgConfig::<prefix>), reusing either target when
# the project has it already; sets _ssepp_component_deps to it and
# Threads::Threads, or leaves it empty. A macro, like the one below.
macro(_ssepp_package_or_pkg_config _ssepp_package _ssepp_target _ssepp_prefix _ssepp_module)
  if(NOT TARGET ${_ssepp_target} AND NOT TARGET PkgConfig::${_ssepp_prefix})
    find_package(${_ssepp_package} CONFIG QUIET)
    if(NOT TARGET ${_ssepp_target})
      find_package(PkgConfig QUIET)
      if(PKG_CONFIG_FOUND)
        pkg_check_modules(${_ssepp_prefix} QUIET IMPORTED_TARGET ${_ssepp_module})
      endif()
    endif()
  endif()
  if(TARGET Threads::Threads)
    if(TARGET ${_ssepp_target})
      set(_ssepp_component_deps ${_ssepp_target} Threads::Threads)
    elseif(TARGET PkgConfig::${_ssepp_prefix})
      set(_ssepp_component_deps PkgConfig::${_ssepp_prefix} Threads::Threads)
    endif()
  endif()
endmacro()

# _ssepp_find_component(<component>): looks for what the component needs,
# quietly, reusing the targets a project already has; sets
# _ssepp_component_deps to the dependency targets, empty when missing. A
# macro: the packages' own result variables (asio_INCLUDE_DIRS, Boost_DIR,
# ...) stay visible to the caller, as a find_package of them would leave them.
macro(_ssepp_find_component _ssepp_c)
  set(_ssepp_component_deps)
  if(NOT TARGET Threads::Threads AND NOT "${_ssepp_c}" STREQUAL "openssl")
    find_package(Threads QUIET)
  endif()
  if("${_ssepp_c}" STREQUAL "asio")
    if(NOT TARGET asio::asio)
      # Only for this search: the caller's module path is left as it was.
      set(_ssepp_saved_module_path "${CMAKE_MODULE_PATH}")
      list(INSERT CMAKE_MODULE_PATH 0 "${_ssepp_components_dir}")
      find_package(asio QUIET)
      set(CMAKE_MODULE_PATH "${_ssepp_saved_module_path}")
      unset(_ssepp_saved_module_path)
    endif()
    if(TARGET asio::asio AND TARGET Threads::Threads)
      set(_ssepp_component_deps asio::asio Threads::Threads)
    endif()
  elseif("${_ssepp_c}" STREQUAL "boost")
    if(NOT TARGET Boost::headers)
      find_package(Boost 1.74 CONFIG QUIET)
    endif()
    if(TARGET Boost::headers AND TARGET Threads::Threads)
      set(_ssepp_component_deps Boost::headers Threads::Threads)
    endif()
  elseif("${_ssepp_c}" STREQUAL "httplib")
    _ssepp_package_or_pkg_config(httplib httplib::httplib cpp_httplib cpp-httplib)
  elseif("${_ssepp_c}" STREQUAL "redis")
    # hiredis's own CMake package (vcpkg, Conan, upstream installs) makes
    # hiredis::hiredis; Debian's libhiredis-dev ships only variables there,
    # and a pkg-config file.
    _ssepp_package_or_pkg_config(hiredis hiredis::hiredis hiredis hiredis)
  elseif("${_ssepp_c}" STREQUAL "openssl")
    if(NOT TARGET OpenSSL::SSL)
      find_package(OpenSSL QUIET)
    endif()
    if(TARGET OpenSSL::SSL AND TARGET OpenSSL::Crypto)
      set(_ssepp_component_deps OpenSSL::SSL OpenSSL::Crypto)
    endif()
  endif()
endmacro()

cmake_policy(POP)
