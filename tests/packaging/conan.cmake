# ssepp through the real Conan 2, offline (no remote is ever asked):
#   cmake -DMODE=<mode> -DCONAN=<conan> -DCONAN_HOME=<dir> -DSOURCE_DIR=...
#         -DWORK=... [see common.cmake] -P conan.cmake
# MODE
#   create    `conan create <checkout>` from an empty CONAN_HOME: the recipe's
#             test_package must pass, the package must hold the checkout's
#             headers and one package must serve every setting.
#   consumer  after create, in its CONAN_HOME: a separate project with a
#             conanfile.txt (CMakeDeps + CMakeToolchain) builds and runs the
#             find_package consumer; pkg-config through PkgConfigDeps; the
#             asio component, asked of an ssepp installed without with_asio,
#             fails naming the option.
#   asio      the README's way: `conan create <checkout>`, then the consumer
#             installs it with -o 'ssepp/*:with_asio=True', asio coming from
#             a stand-in for ConanCenter's asio made of this machine's Asio
#             headers: find_package(ssepp COMPONENTS asio) gives a working
#             asio::asio.
#   options   each option requires what it should and gives the consumer the
#             targets it should, and the components it enables the
#             ssepp::<component> targets ssepp's own package defines
#             (placeholder recipes with ConanCenter's names and components
#             answer for the real ones); a component the options left out
#             fails naming its option; with_openssl alone is refused.
include("${CMAKE_CURRENT_LIST_DIR}/common.cmake")

set(_have_conan FALSE)
if(CONAN AND EXISTS "${CONAN}")
  set(_have_conan TRUE)
endif()
require_or_skip(_have_conan
  "conan not found (source ../shared/tools/packaging-env.sh before configuring, or pass -DSSEPP_CONAN=<conan>)")

if(NOT CONAN_HOME)
  set(CONAN_HOME "${WORK}/conan-home")
endif()
set(ENV{CONAN_HOME} "${CONAN_HOME}")
# The profile Conan detects, and the builds it drives, use this build's compiler.
if(CXX_COMPILER)
  set(ENV{CXX} "${CXX_COMPILER}")
endif()
set(_version "${EXPECTED_VERSION}")
set(_ref "ssepp/${_version}")

# fresh_conan_home(): an empty cache with a detected profile and no remote.
function(fresh_conan_home)
  file(REMOVE_RECURSE "${CONAN_HOME}")
  run(COMMAND "${CONAN}" profile detect --force)
  run(COMMAND "${CONAN}" remote disable conancenter)
endfunction()

# create_ssepp([conan create options...]): `conan create <checkout>`, its
# test_package built in WORK (not in the checkout).
function(create_ssepp)
  run(COMMAND "${CONAN}" create "${SOURCE_DIR}" --no-remote
      -c "tools.cmake.cmake_layout:test_folder=${WORK}/test_package" ${ARGN}
    OUTPUT _stdout ERROR _stderr)
  set(_out "${_stdout}\n${_stderr}" PARENT_SCOPE)  # Conan logs on stderr
endfunction()

# ssepp_packages(<var>): the ids of ssepp's binary packages in the cache.
function(ssepp_packages out_var)
  run(QUIET COMMAND "${CONAN}" list "${_ref}:*" --format=json OUTPUT _json)
  string(JSON _revisions GET "${_json}" "Local Cache" "${_ref}" "revisions")
  string(JSON _count LENGTH "${_revisions}")
  set(_ids)
  math(EXPR _last "${_count} - 1")
  foreach(_r RANGE ${_last})
    string(JSON _rrev MEMBER "${_revisions}" ${_r})
    string(JSON _packages ERROR_VARIABLE _none GET "${_revisions}" "${_rrev}" "packages")
    if(_none)
      continue()
    endif()
    string(JSON _n LENGTH "${_packages}")
    if(_n GREATER 0)
      math(EXPR _n "${_n} - 1")
      foreach(_p RANGE ${_n})
        string(JSON _id MEMBER "${_packages}" ${_p})
        list(APPEND _ids "${_id}")
      endforeach()
    endif()
  endforeach()
  set(${out_var} "${_ids}" PARENT_SCOPE)
endfunction()

# conan_install_consumer(<output folder> [conan install options...]).
function(conan_install_consumer output_folder)
  run(COMMAND "${CONAN}" install "${CONSUMER}" --no-remote "--output-folder=${output_folder}" ${ARGN})
endfunction()

if(MODE STREQUAL "create")
  fresh_conan_home()
  create_ssepp()
  expect_output("${_out}" "ssepp ${_version} package: formatted and parsed back" "the recipe's test_package")

  ssepp_packages(_ids)
  list(LENGTH _ids _count)
  if(NOT _count EQUAL 1)
    message(FATAL_ERROR "expected one package of ${_ref}, found: ${_ids}")
  endif()
  run(COMMAND "${CONAN}" cache path "${_ref}:${_ids}" OUTPUT _package)
  expect_installed_headers("${_package}/include")
  foreach(_file licenses/LICENSE lib/cmake/ssepp-conan-components.cmake lib/cmake/ssepp-components.cmake)
    if(NOT EXISTS "${_package}/${_file}")
      message(FATAL_ERROR "the package lacks ${_file}: ${_package}")
    endif()
  endforeach()
  if(EXISTS "${_package}/share")
    message(FATAL_ERROR "the package keeps share/ (CMakeDeps writes ssepp's CMake files): ${_package}/share")
  endif()

  # Headers only: other settings are the same package, so no new one appears.
  create_ssepp(-s build_type=Debug -s compiler.cppstd=20 --test-folder=)
  ssepp_packages(_ids_after)
  if(NOT _ids_after STREQUAL _ids)
    message(FATAL_ERROR "a Debug, C++20 create made another package: ${_ids} became ${_ids_after}")
  endif()
  message(STATUS "one package, ${_ids}, for every setting: ${_package}")

elseif(MODE STREQUAL "consumer")
  copy_consumer()
  conan_install_consumer("${WORK}/build")
  build_consumer("${WORK}/build"
    "-DCMAKE_TOOLCHAIN_FILE=${WORK}/build/conan_toolchain.cmake"
    "-DSSEPP_EXPECTED_VERSION=${_version}" "-DSSEPP_EXPECTED_PREFIX=${WORK}/build")

  # Installed without with_asio: asking for the component says how to get it.
  build_consumer("${WORK}/build-asio"
    "-DCMAKE_TOOLCHAIN_FILE=${WORK}/build/conan_toolchain.cmake" -DSSEPP_TEST_ASIO=ON
    EXPECT_FAILURE "ssepp component asio needs asio::asio, and ssepp was installed without it:.*ssepp/\\*:with_asio=True.*conan install")

  # pkg-config users get ssepp.pc from PkgConfigDeps.
  if(PKG_CONFIG)
    run(COMMAND "${CONAN}" install "--requires=${_ref}" --no-remote -g PkgConfigDeps
      "--output-folder=${WORK}/pkg-config")
    set(ENV{PKG_CONFIG_PATH} "${WORK}/pkg-config")
    set(ENV{PKG_CONFIG_LIBDIR} "${WORK}/pkg-config")
    run(COMMAND "${PKG_CONFIG}" --modversion ssepp OUTPUT _pc_version)
    if(NOT _pc_version STREQUAL _version)
      message(FATAL_ERROR "pkg-config says ssepp ${_pc_version}, expected ${_version}")
    endif()
    run(COMMAND "${PKG_CONFIG}" --cflags ssepp OUTPUT _cflags)
    set(_include_dir)
    if(_cflags MATCHES "^-I([^ ]+)$")
      set(_include_dir "${CMAKE_MATCH_1}")
    endif()
    if(NOT EXISTS "${_include_dir}/ssepp/ssepp.hpp")
      message(FATAL_ERROR "pkg-config --cflags ssepp does not point at the package's headers: ${_cflags}")
    endif()
    expect_installed_headers("${_include_dir}")
  endif()

elseif(MODE STREQUAL "asio")
  asio_version(_asio_version)
  fresh_conan_home()
  set(ENV{SSEPP_ASIO_INCLUDE_DIR} "${ASIO_INCLUDE_DIR}")
  run(COMMAND "${CONAN}" create "${SOURCE_DIR}/tests/packaging/stand_in/conan/asio"
    --version=${_asio_version} --no-remote)

  # One package serves every option (package_id): the option is the
  # consumer's, given where it installs ssepp.
  create_ssepp()
  expect_output("${_out}" "ssepp ${_version} package: formatted and parsed back" "the recipe's test_package")
  copy_consumer()
  conan_install_consumer("${WORK}/build" -o "ssepp/*:with_asio=True")
  # asio::asio must be the Conan package's, not the machine's own Asio.
  build_consumer("${WORK}/build"
    "-DCMAKE_TOOLCHAIN_FILE=${WORK}/build/conan_toolchain.cmake" -DSSEPP_TEST_ASIO=ON
    "-DSSEPP_EXPECTED_PREFIX=${WORK}/build" "-DSSEPP_EXPECTED_ASIO_PREFIX=${CONAN_HOME}")

elseif(MODE STREQUAL "options")
  fresh_conan_home()
  # Placeholders for the ConanCenter recipes, at versions inside the
  # recipe's ranges: the graph resolves without any remote.
  foreach(_placeholder asio/1.22.1 openssl/3.0.13 boost/1.83.0 cpp-httplib/0.11.4 hiredis/1.2.0)
    string(REGEX REPLACE "/.*" "" _name "${_placeholder}")
    string(REGEX REPLACE ".*/" "" _v "${_placeholder}")
    run(COMMAND "${CONAN}" export "${SOURCE_DIR}/tests/packaging/stand_in/conan/placeholder"
      --name=${_name} --version=${_v})
  endforeach()
  run(COMMAND "${CONAN}" export "${SOURCE_DIR}")
  # A project that finds ssepp with the components the options enable and
  # reports the targets it was given. (CXX: the components find Threads.)
  file(WRITE "${WORK}/check/CMakeLists.txt" [=[
cmake_minimum_required(VERSION 3.16)
project(ssepp_options_check LANGUAGES CXX)
string(REPLACE "," ";" COMPONENTS "${COMPONENTS}")
if(COMPONENTS)
  find_package(ssepp CONFIG REQUIRED COMPONENTS ${COMPONENTS})
else()
  find_package(ssepp CONFIG REQUIRED)
endif()
string(REPLACE "," ";" EXPECTED_TARGETS "${EXPECTED_TARGETS}")
foreach(_target IN LISTS EXPECTED_TARGETS)
  if(NOT TARGET ${_target})
    message(FATAL_ERROR "find_package(ssepp) gave no ${_target}")
  endif()
endforeach()
# Each component's target, as ssepp's own package makes it: the core, the
# dependency's targets, and its definition.
set(_asio_links asio::asio Threads::Threads)
set(_boost_links Boost::headers Threads::Threads)
set(_boost_definitions SSEPP_ASIO_BOOST=1)
set(_httplib_links httplib::httplib Threads::Threads)
set(_openssl_links OpenSSL::SSL OpenSSL::Crypto)
set(_openssl_definitions SSEPP_ENABLE_OPENSSL)
foreach(_component IN LISTS COMPONENTS)
  if(NOT TARGET ssepp::${_component})
    message(FATAL_ERROR "find_package(ssepp COMPONENTS ${_component}) gave no ssepp::${_component}")
  endif()
  get_target_property(_links ssepp::${_component} INTERFACE_LINK_LIBRARIES)
  get_target_property(_definitions ssepp::${_component} INTERFACE_COMPILE_DEFINITIONS)
  if(NOT _definitions)
    set(_definitions "")
  endif()
  if(NOT "${_links}" STREQUAL "ssepp::ssepp;${_${_component}_links}"
     OR NOT "${_definitions}" STREQUAL "${_${_component}_definitions}")
    message(FATAL_ERROR "ssepp::${_component} links [${_links}] and defines [${_definitions}]; expected "
      "[ssepp::ssepp;${_${_component}_links}] and [${_${_component}_definitions}]")
  endif()
  message(STATUS "ssepp::${_component}: links ${_links}; defines ${_definitions}")
endforeach()
foreach(_component asio boost httplib openssl)
  if(TARGET ssepp::${_component} AND NOT _component IN_LIST COMPONENTS)
    message(FATAL_ERROR "ssepp::${_component} defined, though its component was not asked for")
  endif()
endforeach()
get_target_property(_definitions ssepp::ssepp INTERFACE_COMPILE_DEFINITIONS)
if(EXPECT_OPENSSL_DEFINE AND NOT _definitions MATCHES "SSEPP_ENABLE_OPENSSL")
  message(FATAL_ERROR "ssepp::ssepp does not define SSEPP_ENABLE_OPENSSL: ${_definitions}")
elseif(NOT EXPECT_OPENSSL_DEFINE AND _definitions MATCHES "SSEPP_ENABLE_OPENSSL")
  message(FATAL_ERROR "ssepp::ssepp defines SSEPP_ENABLE_OPENSSL without with_openssl")
endif()
message(STATUS "targets: ${EXPECTED_TARGETS}; ssepp::ssepp definitions: ${_definitions}")
]=])

  # <options>|<the packages they must bring>|<the targets find_package gives>
  # |<the components then asked for>, "-" for none.
  set(_cases
    "none|-|-|-"
    "with_asio|asio|asio::asio|asio"
    "with_asio,with_openssl|asio,openssl|asio::asio,OpenSSL::SSL,OpenSSL::Crypto|asio,openssl"
    "with_boost|boost|Boost::headers|boost"
    "with_boost,with_openssl|boost,openssl|Boost::headers,OpenSSL::SSL,OpenSSL::Crypto|boost,openssl"
    "with_httplib|cpp-httplib|httplib::httplib|httplib"
    "with_asio,with_boost,with_httplib|asio,boost,cpp-httplib|asio::asio,Boost::headers,httplib::httplib|asio,boost,httplib"
    "with_redis|hiredis|hiredis::hiredis|-")
  set(_i 0)
  foreach(_case IN LISTS _cases)
    math(EXPR _i "${_i} + 1")
    string(REPLACE "|" ";" _case "${_case}")
    list(GET _case 0 _options)
    list(GET _case 1 _expected_packages)
    list(GET _case 2 _expected_targets)
    list(GET _case 3 _components)
    string(REPLACE "," ";" _options "${_options}")
    set(_args)
    foreach(_option IN LISTS _options)
      if(NOT _option STREQUAL "none")
        list(APPEND _args -o "ssepp/*:${_option}=True")
      endif()
    endforeach()
    # CMakeDeps fails here if package_info() links a component the
    # required package does not have.
    set(_out "${WORK}/case-${_i}")
    run(QUIET COMMAND "${CONAN}" install "--requires=${_ref}" --no-remote --build=missing
      -g CMakeDeps -g CMakeToolchain "--output-folder=${_out}" ${_args} --format=json
      OUTPUT _json)
    string(JSON _nodes GET "${_json}" graph nodes)
    string(JSON _count LENGTH "${_nodes}")
    set(_packages)
    math(EXPR _last "${_count} - 1")
    foreach(_k RANGE ${_last})
      string(JSON _key MEMBER "${_nodes}" ${_k})
      string(JSON _name GET "${_nodes}" "${_key}" name)
      if(NOT _name MATCHES "^(ssepp|null|)$")  # the consumer has no name
        list(APPEND _packages "${_name}")
      endif()
    endforeach()
    expect_names("options ${_options} require" "${_packages}" "${_expected_packages}")
    # Comma-separated lists: a ";" would split the -D.
    if(_expected_targets STREQUAL "-")
      set(_expected_targets)
    endif()
    if(_components STREQUAL "-")
      set(_components)
    endif()
    set(_openssl FALSE)
    if("with_openssl" IN_LIST _options)
      set(_openssl TRUE)
    endif()
    cmake_configure_command(_configure "${WORK}/check" "${_out}/check"
      -DCMAKE_BUILD_TYPE=Release "-DCMAKE_TOOLCHAIN_FILE=${_out}/conan_toolchain.cmake"
      "-DEXPECTED_TARGETS=${_expected_targets}" "-DCOMPONENTS=${_components}"
      "-DEXPECT_OPENSSL_DEFINE=${_openssl}")
    run(COMMAND ${_configure})
    set(_last_case "${_out}")
  endforeach()

  # Components the options left out fail naming the option (the case above
  # installed with_redis only), and TLS with no Asio part is refused.
  foreach(_ask "httplib|ssepp component httplib needs httplib::httplib, and ssepp was installed without it:.*ssepp/\\*:with_httplib=True"
               "boost|ssepp component boost needs Boost::headers, and ssepp was installed without it:.*ssepp/\\*:with_boost=True"
               "openssl|ssepp component openssl is https:// for the asio or boost component: ask for one of them too")
    string(REPLACE "|" ";" _ask "${_ask}")
    list(GET _ask 0 _component)
    list(GET _ask 1 _expect)
    cmake_configure_command(_configure "${WORK}/check" "${_last_case}/check-${_component}"
      -DCMAKE_BUILD_TYPE=Release "-DCMAKE_TOOLCHAIN_FILE=${_last_case}/conan_toolchain.cmake"
      "-DCOMPONENTS=${_component}")
    run(COMMAND ${_configure} EXPECT_FAILURE "${_expect}")
  endforeach()

  # TLS without a transport to run it on is refused, saying what to add.
  run(QUIET COMMAND "${CONAN}" graph info "${SOURCE_DIR}" --no-remote -o "ssepp/*:with_openssl=True"
    --format=json OUTPUT _json)
  string(JSON _invalid GET "${_json}" graph nodes 0 info_invalid)
  if(NOT _invalid MATCHES "with_openssl=True is TLS for ssepp's Asio parts: also set with_asio=True \\(standalone Asio\\) or with_boost=True")
    message(FATAL_ERROR "with_openssl alone was not refused as it should be: '${_invalid}'")
  endif()
  message(STATUS "with_openssl alone: refused (${_invalid})")

else()
  message(FATAL_ERROR "conan.cmake: MODE must be create, consumer, asio or options, not '${MODE}'")
endif()
