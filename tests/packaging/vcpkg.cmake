# ssepp through the real vcpkg, offline, with the overlay port in
# cmake/vcpkg, each mode in a fresh copy of the vcpkg tree:
#   cmake -DMODE=<mode> -DVCPKG_TREE=<vcpkg root> -DSOURCE_DIR=... -DWORK=...
#         [see common.cmake] -P vcpkg.cmake
# MODE
#   classic   `vcpkg install ssepp --overlay-ports=...`: the checkout's
#             headers, the copyright, the usage lines, nothing else
#             installed; then the find_package consumer on vcpkg's toolchain.
#   manifest  the same consumer in manifest mode: its own vcpkg.json, the
#             overlay given by the VCPKG_OVERLAY_PORTS CMake variable.
#   asio      manifest mode with the consumer's asio feature (ssepp[asio]),
#             asio from a stand-in for vcpkg's asio port made of this
#             machine's Asio headers, the overlays given by the
#             VCPKG_OVERLAY_PORTS environment variable.
#   features  each feature brings the ports it should (placeholder ports
#             answer for the registry's), the default install none.
include("${CMAKE_CURRENT_LIST_DIR}/common.cmake")

set(_have_vcpkg FALSE)
if(VCPKG_TREE AND EXISTS "${VCPKG_TREE}/vcpkg" AND EXISTS "${VCPKG_TREE}/scripts/buildsystems/vcpkg.cmake")
  set(_have_vcpkg TRUE)
endif()
require_or_skip(_have_vcpkg
  "vcpkg not found (source ../shared/tools/packaging-env.sh before configuring, which sets VCPKG_ROOT, or pass -DSSEPP_VCPKG_ROOT=<vcpkg root>)")

# A tree of this test's own: the tool, its scripts, triplets and ports, none
# of what an earlier install left in the original.
set(_root "${WORK}/vcpkg")
file(MAKE_DIRECTORY "${_root}")
foreach(_entry vcpkg .vcpkg-root LICENSE.txt scripts triplets ports)
  if(EXISTS "${VCPKG_TREE}/${_entry}")
    file(COPY "${VCPKG_TREE}/${_entry}" DESTINATION "${_root}")
  endif()
endforeach()
set(_vcpkg "${_root}/vcpkg")
set(_toolchain "${_root}/scripts/buildsystems/vcpkg.cmake")
set(ENV{VCPKG_ROOT} "${_root}")
set(ENV{VCPKG_DOWNLOADS} "${WORK}/downloads")
set(ENV{VCPKG_DEFAULT_BINARY_CACHE} "${WORK}/binary-cache")
file(MAKE_DIRECTORY "${WORK}/downloads" "${WORK}/binary-cache")
# vcpkg's binary cache keys an overlay port by the port, not by the sources
# it builds: with it on, a changed header would be served from the cache.
set(ENV{VCPKG_BINARY_SOURCES} "clear")
set(ENV{VCPKG_FORCE_SYSTEM_BINARIES} "1")  # the system's cmake and ninja, no downloads
set(ENV{VCPKG_DISABLE_METRICS} "1")
unset(ENV{VCPKG_OVERLAY_PORTS})
unset(ENV{VCPKG_OVERLAY_TRIPLETS})
unset(ENV{VCPKG_FEATURE_FLAGS})
set(_overlay "${SOURCE_DIR}/cmake/vcpkg")
set(_version "${EXPECTED_VERSION}")

# installed_triplet(<var> <installed dir>): the one target triplet there.
function(installed_triplet out_var installed)
  file(GLOB _dirs LIST_DIRECTORIES TRUE RELATIVE "${installed}" "${installed}/*")
  set(_triplets)
  foreach(_dir IN LISTS _dirs)
    if(IS_DIRECTORY "${installed}/${_dir}" AND NOT _dir STREQUAL "vcpkg"
       AND EXISTS "${installed}/${_dir}/include/ssepp")
      list(APPEND _triplets "${_dir}")
    endif()
  endforeach()
  list(LENGTH _triplets _n)
  if(NOT _n EQUAL 1)
    message(FATAL_ERROR "expected ssepp installed for one triplet in ${installed}, found [${_triplets}]")
  endif()
  set(${out_var} "${_triplets}" PARENT_SCOPE)
endfunction()

# listed_ports(<var> <output>): the port names a dry-run plan or `vcpkg list` shows.
function(listed_ports out_var output)
  string(REGEX MATCHALL "\n[ *]*[a-z0-9-]+(\\[[^]]*\\])?:[a-z0-9-]+" _lines "${output}")
  set(_names)
  foreach(_line IN LISTS _lines)
    string(REGEX REPLACE "^\n[ *]*([a-z0-9-]+).*" "\\1" _name "${_line}")
    list(APPEND _names "${_name}")
  endforeach()
  list(REMOVE_DUPLICATES _names)
  list(SORT _names)
  set(${out_var} "${_names}" PARENT_SCOPE)
endfunction()

if(MODE STREQUAL "classic")
  run(COMMAND "${_vcpkg}" install ssepp "--overlay-ports=${_overlay}" OUTPUT _out)
  # The usage file: the two lines a user pastes into CMake.
  expect_output("${_out}" "\n +find_package\\(ssepp CONFIG REQUIRED\\)\n +target_link_libraries\\(main PRIVATE ssepp::ssepp\\)\n"
    "the usage vcpkg prints")

  set(_installed "${_root}/installed")
  installed_triplet(_triplet "${_installed}")
  set(_prefix "${_installed}/${_triplet}")
  expect_installed_headers("${_prefix}/include")
  file(SHA256 "${SOURCE_DIR}/LICENSE" _license)
  file(SHA256 "${_prefix}/share/ssepp/copyright" _copyright)
  if(NOT _license STREQUAL _copyright)
    message(FATAL_ERROR "share/ssepp/copyright is not the checkout's LICENSE")
  endif()
  foreach(_file share/ssepp/usage share/ssepp/ssepp-config.cmake share/ssepp/ssepp-config-version.cmake
                share/ssepp/ssepp-components.cmake share/ssepp/Findasio.cmake share/pkgconfig/ssepp.pc)
    if(NOT EXISTS "${_prefix}/${_file}")
      message(FATAL_ERROR "vcpkg did not install ${_file}")
    endif()
  endforeach()
  foreach(_absent debug lib share/doc share/cmake)
    if(EXISTS "${_prefix}/${_absent}")
      message(FATAL_ERROR "a headers-only, release-only port installed ${_absent}: ${_prefix}/${_absent}")
    endif()
  endforeach()
  # The default install brings no dependency: only vcpkg's own CMake helpers.
  run(COMMAND "${_vcpkg}" list OUTPUT _list)
  listed_ports(_ports "\n${_list}")
  expect_names("vcpkg install ssepp installed" "${_ports}" "ssepp,vcpkg-cmake,vcpkg-cmake-config")

  copy_consumer()
  build_consumer("${WORK}/build" "-DCMAKE_TOOLCHAIN_FILE=${_toolchain}" -DVCPKG_MANIFEST_MODE=OFF
    "-DSSEPP_EXPECTED_VERSION=${_version}" "-DSSEPP_EXPECTED_PREFIX=${_installed}")

elseif(MODE STREQUAL "manifest")
  copy_consumer()
  build_consumer("${WORK}/build" "-DCMAKE_TOOLCHAIN_FILE=${_toolchain}" "-DVCPKG_OVERLAY_PORTS=${_overlay}"
    "-DSSEPP_EXPECTED_VERSION=${_version}" "-DSSEPP_EXPECTED_PREFIX=${WORK}/build/vcpkg_installed")
  installed_triplet(_triplet "${WORK}/build/vcpkg_installed")
  expect_installed_headers("${WORK}/build/vcpkg_installed/${_triplet}/include")

elseif(MODE STREQUAL "asio")
  asio_version(ASIO_VERSION)
  set(_stand_in "${WORK}/stand-in/asio")
  configure_file("${SOURCE_DIR}/tests/packaging/stand_in/vcpkg/asio/vcpkg.json.in" "${_stand_in}/vcpkg.json" @ONLY)
  configure_file("${SOURCE_DIR}/tests/packaging/stand_in/vcpkg/asio/portfile.cmake.in" "${_stand_in}/portfile.cmake" @ONLY)
  set(ENV{VCPKG_OVERLAY_PORTS} "${_overlay}:${WORK}/stand-in")
  copy_consumer()
  # asio::asio must be the vcpkg tree's, not the machine's own Asio.
  build_consumer("${WORK}/build" "-DCMAKE_TOOLCHAIN_FILE=${_toolchain}" -DVCPKG_MANIFEST_FEATURES=asio
    -DSSEPP_TEST_ASIO=ON "-DSSEPP_EXPECTED_PREFIX=${WORK}/build/vcpkg_installed"
    "-DSSEPP_EXPECTED_ASIO_PREFIX=${WORK}/build/vcpkg_installed")

elseif(MODE STREQUAL "features")
  # Placeholders for the registry's ports: the plan resolves offline, and a
  # dependency the test does not know fails it ("does not exist").
  foreach(_port asio openssl boost-asio boost-beast cpp-httplib hiredis)
    file(WRITE "${WORK}/placeholders/${_port}/vcpkg.json" "{\"name\": \"${_port}\", \"version\": \"0\"}\n")
    file(WRITE "${WORK}/placeholders/${_port}/portfile.cmake" "set(VCPKG_POLICY_EMPTY_PACKAGE enabled)\n")
  endforeach()
  # <what to install>:<the ports it must bring>, "-" for none; plain
  # `ssepp` takes the default features.
  set(_cases ssepp:- ssepp[asio]:asio ssepp[openssl]:asio,openssl
             ssepp[boost]:boost-asio,boost-beast ssepp[httplib]:cpp-httplib
             ssepp[boost,openssl]:boost-asio,boost-beast,asio,openssl ssepp[redis]:hiredis)
  foreach(_case IN LISTS _cases)
    string(REGEX REPLACE ":.*" "" _install "${_case}")
    string(REGEX REPLACE ".*:" "" _expected "${_case}")
    run(COMMAND "${_vcpkg}" install "${_install}" --dry-run
      "--overlay-ports=${_overlay}" "--overlay-ports=${WORK}/placeholders" OUTPUT _plan)
    listed_ports(_ports "${_plan}")
    list(REMOVE_ITEM _ports ssepp vcpkg-cmake vcpkg-cmake-config)
    expect_names("${_install} brings" "${_ports}" "${_expected}")
  endforeach()

else()
  message(FATAL_ERROR "vcpkg.cmake: MODE must be classic, manifest, asio or features, not '${MODE}'")
endif()
