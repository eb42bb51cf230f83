# A stand-in for ConanCenter's asio recipe, made of the Asio headers already
# on this machine (Debian's libasio-dev), so that ssepp's with_asio option
# can be tested where no remote is reachable. It declares what ConanCenter's
# asio declares: the CMake package asio with the target asio::asio,
# ASIO_STANDALONE, and pthread on Linux.
#
#   SSEPP_ASIO_INCLUDE_DIR=/usr/include conan create . --version=1.22.1
import os

from conan import ConanFile
from conan.errors import ConanException
from conan.tools.files import copy


class AsioStandInConan(ConanFile):
    name = "asio"
    description = "Stand-in for ConanCenter's asio, from the machine's Asio headers (ssepp's tests)"
    license = "BSL-1.0"
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    no_copy_source = True

    def package_id(self):
        self.info.clear()

    def package(self):
        include_dir = os.environ.get("SSEPP_ASIO_INCLUDE_DIR", "")
        if not os.path.isfile(os.path.join(include_dir, "asio.hpp")):
            raise ConanException("set SSEPP_ASIO_INCLUDE_DIR to the directory holding asio.hpp")
        destination = os.path.join(self.package_folder, "include")
        copy(self, "asio.hpp", src=include_dir, dst=destination)
        copy(self, "*", src=os.path.join(include_dir, "asio"), dst=os.path.join(destination, "asio"))

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "asio")
        self.cpp_info.set_property("cmake_target_name", "asio::asio")
        self.cpp_info.set_property("pkg_config_name", "asio")
        self.cpp_info.defines.append("ASIO_STANDALONE")
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        if self.settings.os in ("Linux", "FreeBSD"):
            self.cpp_info.system_libs.append("pthread")
