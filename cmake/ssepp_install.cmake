# ssepp's install rules: headers, the exported ssepp::ssepp target, a CMake
# package (config + version file + the components it offers + the Asio find
# module) and a pkg-config file (the core only: the components' dependencies
# are the consumer's to add). Included by the top-level CMakeLists.txt when SSEPP_INSTALL is ON.
#
# Everything goes under DATADIR, not LIBDIR: the library is headers only, so
# one install serves every architecture (hence ARCH_INDEPENDENT below).
include(CMakePackageConfigHelpers)

set(SSEPP_INSTALL_CMAKEDIR "${CMAKE_INSTALL_DATADIR}/cmake/ssepp" CACHE STRING
  "Where to install ssepp's CMake package files, relative to the prefix")
set(SSEPP_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_DATADIR}/pkgconfig" CACHE STRING
  "Where to install ssepp.pc, relative to the prefix")
mark_as_advanced(SSEPP_INSTALL_CMAKEDIR SSEPP_INSTALL_PKGCONFIGDIR)

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/ssepp"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

# Only the core is exported: the component targets (ssepp::asio, ...) are
# made by ssepp-config.cmake from the dependencies it finds on the
# consumer's machine, not from what this build found.
install(TARGETS ssepp EXPORT ssepp-targets)
install(EXPORT ssepp-targets
  NAMESPACE ssepp::
  FILE ssepp-targets.cmake
  DESTINATION "${SSEPP_INSTALL_CMAKEDIR}")

configure_package_config_file(
  "${CMAKE_CURRENT_LIST_DIR}/ssepp-config.cmake.in"
  "${PROJECT_BINARY_DIR}/ssepp-config.cmake"
  INSTALL_DESTINATION "${SSEPP_INSTALL_CMAKEDIR}")
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/ssepp-config-version.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMajorVersion
  ARCH_INDEPENDENT)
install(FILES
    "${PROJECT_BINARY_DIR}/ssepp-config.cmake"
    "${PROJECT_BINARY_DIR}/ssepp-config-version.cmake"
    "${CMAKE_CURRENT_LIST_DIR}/ssepp-components.cmake"
    "${CMAKE_CURRENT_LIST_DIR}/Findasio.cmake"
  DESTINATION "${SSEPP_INSTALL_CMAKEDIR}")

# pkg-config: paths relative to the .pc file's own directory (${pcfiledir},
# understood by pkg-config and pkgconf), so the file stays right when the
# prefix is chosen at install time (cmake --install --prefix) or the tree is
# moved. Absolute install directories are written as they are.
if(IS_ABSOLUTE "${SSEPP_INSTALL_PKGCONFIGDIR}")
  set(SSEPP_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  set(SSEPP_PC_PREFIX "\${pcfiledir}")
  string(REPLACE "/" ";" _ssepp_pc_parts "${SSEPP_INSTALL_PKGCONFIGDIR}")
  foreach(_part IN LISTS _ssepp_pc_parts)
    if(_part STREQUAL "..")
      message(FATAL_ERROR "SSEPP_INSTALL_PKGCONFIGDIR must not contain '..': ${SSEPP_INSTALL_PKGCONFIGDIR}")
    elseif(NOT _part STREQUAL "" AND NOT _part STREQUAL ".")
      string(APPEND SSEPP_PC_PREFIX "/..")
    endif()
  endforeach()
  unset(_ssepp_pc_parts)
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(SSEPP_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(SSEPP_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file("${CMAKE_CURRENT_LIST_DIR}/ssepp.pc.in" "${PROJECT_BINARY_DIR}/ssepp.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/ssepp.pc" DESTINATION "${SSEPP_INSTALL_PKGCONFIGDIR}")

if(EXISTS "${PROJECT_SOURCE_DIR}/LICENSE")
  install(FILES "${PROJECT_SOURCE_DIR}/LICENSE" DESTINATION "${CMAKE_INSTALL_DOCDIR}")
endif()
