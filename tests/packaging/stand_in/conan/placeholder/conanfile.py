# A placeholder for a ConanCenter recipe that one of ssepp's options
# requires, exported under that recipe's name and a version in ssepp's range:
#   conan export . --name=openssl --version=3.0.13
# It holds no files, only the CMake names and components the ConanCenter
# recipe declares, so that Conan resolves ssepp's options with no remote and
# CMakeDeps checks the components ssepp's package_info() links against the
# shapes of the real packages.
from conan import ConanFile
from conan.errors import ConanException

# name: (CMake file name, root target, {component: target})
_SHAPES = {
    "asio": ("asio", "asio::asio", {}),
    "openssl": ("OpenSSL", "openssl::openssl", {"crypto": "OpenSSL::Crypto", "ssl": "OpenSSL::SSL"}),
    "boost": ("Boost", "boost::boost", {"headers": "Boost::headers"}),
    "hiredis": ("hiredis", "hiredis::hiredis_all_unofficial", {"hiredislib": "hiredis::hiredis"}),
    "cpp-httplib": ("httplib", "httplib::httplib", {}),
}


class PlaceholderConan(ConanFile):
    description = "Placeholder for a ConanCenter recipe (ssepp's packaging tests)"
    package_type = "header-library"

    def package_id(self):
        self.info.clear()

    def package_info(self):
        if self.name not in _SHAPES:
            raise ConanException(f"no ConanCenter shape for '{self.name}' in this placeholder")
        file_name, root_target, components = _SHAPES[self.name]
        self.cpp_info.set_property("cmake_file_name", file_name)
        self.cpp_info.set_property("cmake_target_name", root_target)
        self.cpp_info.includedirs = []
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        for component, target in components.items():
            self.cpp_info.components[component].set_property("cmake_target_name", target)
            self.cpp_info.components[component].includedirs = []
            self.cpp_info.components[component].bindirs = []
            self.cpp_info.components[component].libdirs = []
