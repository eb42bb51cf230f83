# Conan 2 recipe for ssepp, from this checkout:
#
#   conan create .                   # headers only: one package for every setting and option
#
# and in a consumer, with ssepp/<version> under [requires]:
#
#   conan install . -o 'ssepp/*:with_asio=True'    # the options are the consumer's
#
# The package is the project's own CMake install (headers, license); the
# CMake package a consumer finds is written by CMakeDeps from package_info()
# below, with the names ssepp's own install gives: find_package(ssepp
# CONFIG), the target ssepp::ssepp, and the components asio, boost, httplib
# and openssl for the targets ssepp::asio, ssepp::boost, ssepp::httplib and
# ssepp::openssl (cmake/conan/ssepp-conan-components.cmake), so a consumer's
# CMakeLists.txt is the same whichever tool installed ssepp. One difference:
# here ssepp::ssepp also links what the options add (as ConanCenter's
# header-only recipes do), where the install's is the core alone. Every
# option defaults off, so the default needs no remote.
import os
import re

from conan import ConanFile
from conan.errors import ConanException, ConanInvalidConfiguration
from conan.tools.build import check_min_cppstd
from conan.tools.cmake import CMake, CMakeToolchain, cmake_layout
from conan.tools.files import copy, load, rmdir

required_conan_version = ">=2.0"

# The optional parts: each option adds one ConanCenter requirement, and
# ssepp::ssepp links the Conan components (package::component) it lists.
# The references are ranges so the version of the library a consumer
# already uses satisfies them. with_redis is for the Redis backplane, which
# is planned: until it is in the headers the option brings hiredis and
# nothing of ssepp's uses it.
_OPTIONAL_PARTS = {
    # ssepp/asio on standalone Asio: the CMake component asio (ssepp::asio)
    "with_asio": ("asio/[>=1.22 <2]", ["asio::asio"]),
    # https:// in the asio or boost parts: the component openssl
    # (ssepp::openssl; also defines SSEPP_ENABLE_OPENSSL on ssepp::ssepp)
    "with_openssl": ("openssl/[>=1.1 <4]", ["openssl::ssl", "openssl::crypto"]),
    # ssepp/asio on Boost.Asio and ssepp/beast: the component boost (ssepp::boost)
    "with_boost": ("boost/[>=1.74 <2]", ["boost::headers"]),
    # ssepp/httplib: the component httplib (ssepp::httplib, on ConanCenter's
    # httplib::httplib)
    "with_httplib": ("cpp-httplib/[>=0.11 <1]", ["cpp-httplib::cpp-httplib"]),
    # the Redis backplane (planned)
    "with_redis": ("hiredis/[>=1.0 <2]", ["hiredis::hiredislib"]),
}


class SseppConan(ConanFile):
    name = "ssepp"
    description = "Header-only Server-Sent Events (text/event-stream) for C++"
    license = "MIT"
    homepage = "https://github.com/ssepp/ssepp"
    url = "https://github.com/ssepp/ssepp"
    topics = ("sse", "server-sent-events", "eventsource", "http", "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    # The headers are the same whichever options are on (package_id below):
    # only what a consumer links changes. All off, nothing is required.
    options = {option: [True, False] for option in _OPTIONAL_PARTS}
    default_options = {option: False for option in _OPTIONAL_PARTS}
    exports_sources = "CMakeLists.txt", "LICENSE", "cmake/*", "!cmake/vcpkg/*", "include/*"
    no_copy_source = True

    # CMakeDeps includes this from the generated ssepp-config.cmake: it gives
    # find_package(ssepp COMPONENTS ...) the meaning ssepp's own package gives
    # it, with the component targets ssepp's package makes (the second file).
    _components_module = os.path.join("lib", "cmake", "ssepp-conan-components.cmake")
    _components_targets = os.path.join("lib", "cmake", "ssepp-components.cmake")

    def set_version(self):
        # The one place the version lives; CMake reads the same file.
        header = load(self, os.path.join(self.recipe_folder, "include", "ssepp", "version.hpp"))
        parts = [re.search(rf"#define SSEPP_VERSION_{part} (\d+)", header)
                 for part in ("MAJOR", "MINOR", "PATCH")]
        if not all(parts):
            raise ConanException("include/ssepp/version.hpp lacks SSEPP_VERSION_MAJOR/MINOR/PATCH")
        self.version = ".".join(match.group(1) for match in parts)

    def requirements(self):
        for option, (reference, _) in _OPTIONAL_PARTS.items():
            if self.options.get_safe(option):
                self.requires(reference)

    def validate(self):
        if self.settings.compiler.get_safe("cppstd"):
            check_min_cppstd(self, 17)
        if self.options.with_openssl and not (self.options.with_asio or self.options.with_boost):
            raise ConanInvalidConfiguration(
                "ssepp/*:with_openssl=True is TLS for ssepp's Asio parts: "
                "also set with_asio=True (standalone Asio) or with_boost=True (Boost.Asio)")

    def package_id(self):
        self.info.clear()

    def layout(self):
        cmake_layout(self)

    def generate(self):
        toolchain = CMakeToolchain(self)
        # A packaging build: ssepp is the top-level project here, so its
        # tests, examples and benchmarks would otherwise be on.
        for option in ("SSEPP_BUILD_TESTS", "SSEPP_BUILD_EXAMPLES", "SSEPP_BUILD_BENCH"):
            toolchain.cache_variables[option] = False
        # No CMakeUserPresets.json in the sources (the checkout, for `conan
        # install .`): Conan's presets stay in the build folder.
        toolchain.user_presets_path = False
        toolchain.generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        cmake = CMake(self)
        cmake.install()
        copy(self, "LICENSE", src=self.source_folder,
             dst=os.path.join(self.package_folder, "licenses"))
        # The CMake and pkg-config files CMakeDeps and PkgConfigDeps write
        # from package_info() replace the installed ones (ConanCenter's rule),
        # and the license is in licenses/.
        rmdir(self, os.path.join(self.package_folder, "share"))
        copy(self, os.path.basename(self._components_module),
             src=os.path.join(self.source_folder, "cmake", "conan"),
             dst=os.path.join(self.package_folder, os.path.dirname(self._components_module)))
        copy(self, os.path.basename(self._components_targets),
             src=os.path.join(self.source_folder, "cmake"),
             dst=os.path.join(self.package_folder, os.path.dirname(self._components_targets)))

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "ssepp")
        self.cpp_info.set_property("cmake_target_name", "ssepp::ssepp")
        self.cpp_info.set_property("pkg_config_name", "ssepp")
        self.cpp_info.set_property("cmake_build_modules", [self._components_module])
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        # ssepp::ssepp carries what the options added, as ConanCenter's
        # header-only recipes do; asio::asio and the others are the targets
        # the required packages define themselves, and ssepp::asio and the
        # other component targets are made on them by the build module.
        self.cpp_info.requires = [target
                                  for option, (_, targets) in _OPTIONAL_PARTS.items()
                                  if self.options.get_safe(option)
                                  for target in targets]
        if self.options.with_openssl:
            self.cpp_info.defines.append("SSEPP_ENABLE_OPENSSL")
