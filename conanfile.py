# Conan 2 recipe for tokenpass, kept in the project repo: `conan create .` packages the
# checked-out tree; test_package/ is the consumer it builds afterwards.
import os
import re

from conan import ConanFile
from conan.errors import ConanInvalidConfiguration
from conan.tools.build import check_min_cppstd
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import copy, load, rmdir
from conan.tools.scm import Version

required_conan_version = ">=2.1"


class TokenpassConan(ConanFile):
    name = "tokenpass"
    description = "Issue, verify and pass on JWT access tokens in C++17 (OpenSSL 3, nlohmann_json)"
    license = "MIT"
    url = "https://github.com/tokenpass/tokenpass"
    homepage = "https://github.com/tokenpass/tokenpass"
    topics = ("jwt", "jws", "jwk", "oauth2", "authentication")
    package_type = "library"
    settings = "os", "arch", "compiler", "build_type"
    options = {
        "shared": [True, False],
        "fPIC": [True, False],
        "cli": [True, False],
        "with_httplib": [True, False],
        "with_redis": [True, False],
        "with_grpc": [True, False],
    }
    default_options = {
        "shared": False,
        "fPIC": True,
        "cli": True,
        "with_httplib": False,
        "with_redis": False,
        "with_grpc": False,
        # The adapter fetches JWKS over HTTPS: cpp-httplib must be built with OpenSSL.
        "cpp-httplib/*:with_openssl": True,
    }
    implements = ["auto_shared_fpic"]
    exports_sources = "CMakeLists.txt", "cmake/*", "include/*", "src/*", "tools/*", "LICENSE"

    def set_version(self):
        # project(VERSION) in CMakeLists.txt is the only place the version is written.
        text = load(self, os.path.join(self.recipe_folder, "CMakeLists.txt"))
        match = re.search(r"^\s*project\s*\(\s*tokenpass\s+VERSION\s+(\d+\.\d+\.\d+)", text,
                          re.MULTILINE)
        self.version = match.group(1)

    def layout(self):
        cmake_layout(self)

    # The oldest compilers with the C++17 library tokenpass uses (std::optional,
    # std::variant, std::string_view, if constexpr).
    _compilers_minimum_version = {
        "gcc": "8",
        "clang": "7",
        "apple-clang": "12",
        "msvc": "191",
        "Visual Studio": "15",
    }

    def requirements(self):
        # nlohmann_json is in tokenpass' public headers; OpenSSL is private. OpenSSL 4 is
        # untested: the range is widened when a test run on it passes.
        self.requires("nlohmann_json/[>=3.10 <4]", transitive_headers=True)
        self.requires("openssl/[>=3.0 <4]")
        if self.options.with_httplib:
            # tokenpass::httplib is header-only and includes <httplib.h> in its header.
            self.requires("cpp-httplib/[>=0.11 <1]", transitive_headers=True)
        if self.options.with_redis:
            # tokenpass::redis is compiled; hiredis stays out of its header.
            self.requires("hiredis/[>=1.0 <2]")
        if self.options.with_grpc:
            # tokenpass::grpc is compiled, and gRPC's types are in its header.
            self.requires("grpc/[>=1.50 <2]", transitive_headers=True)

    def validate(self):
        if self.settings.compiler.get_safe("cppstd"):
            check_min_cppstd(self, 17)
        compiler = str(self.settings.compiler)
        minimum = self._compilers_minimum_version.get(compiler)
        if minimum and Version(str(self.settings.compiler.version)) < minimum:
            raise ConanInvalidConfiguration(
                f"tokenpass needs C++17: {compiler} {minimum} or newer "
                f"(this is {self.settings.compiler.version})")
        if self.options.with_httplib and \
                not self.dependencies["cpp-httplib"].options.get_safe("with_openssl"):
            # Refused, not silently built: the adapter would lack HTTPS on the server side.
            raise ConanInvalidConfiguration(
                "tokenpass/*:with_httplib=True needs cpp-httplib/*:with_openssl=True "
                "(the adapter serves and fetches over HTTPS)")

    def generate(self):
        tc = CMakeToolchain(self)  # sets BUILD_SHARED_LIBS and fPIC from the options
        tc.cache_variables["TOKENPASS_BUILD_TESTS"] = False
        tc.cache_variables["TOKENPASS_BUILD_EXAMPLES"] = False
        tc.cache_variables["TOKENPASS_BUILD_CLI"] = bool(self.options.cli)
        tc.cache_variables["TOKENPASS_WITH_HTTPLIB"] = bool(self.options.with_httplib)
        tc.cache_variables["TOKENPASS_WITH_REDIS"] = bool(self.options.with_redis)
        tc.cache_variables["TOKENPASS_WITH_GRPC"] = bool(self.options.with_grpc)
        # Dependencies come from Conan only: never the machine's copy through pkg-config.
        tc.cache_variables["TOKENPASS_PKGCONFIG_FALLBACK"] = False
        tc.generate()
        CMakeDeps(self).generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        copy(self, "LICENSE", src=self.source_folder,
             dst=os.path.join(self.package_folder, "licenses"))
        cmake = CMake(self)
        cmake.install()
        # Conan generates the CMake and pkg-config files from package_info().
        rmdir(self, os.path.join(self.package_folder, "lib", "cmake"))
        rmdir(self, os.path.join(self.package_folder, "lib", "pkgconfig"))
        rmdir(self, os.path.join(self.package_folder, "share"))

    def package_info(self):
        # The same names as upstream's tokenpassConfig.cmake and tokenpass.pc.
        self.cpp_info.set_property("cmake_file_name", "tokenpass")
        self.cpp_info.set_property("cmake_target_name", "tokenpass::tokenpass")
        self.cpp_info.set_property("pkg_config_name", "tokenpass")
        if not self.options.with_httplib and not self.options.with_redis and not self.options.with_grpc:
            self._library_info(self.cpp_info)
            return
        # With an adapter there are several targets, as upstream exports them. Like
        # catch2's recipe, the core component carries the package's own target name.
        core = self.cpp_info.components["core"]
        core.set_property("cmake_target_name", "tokenpass::tokenpass")
        core.set_property("pkg_config_name", "tokenpass")
        self._library_info(core)
        if self.options.with_httplib:
            adapter = self.cpp_info.components["httplib"]
            adapter.set_property("cmake_target_name", "tokenpass::httplib")
            adapter.set_property("pkg_config_name", "tokenpass-httplib")
            # Its HTTP client speaks TLS through OpenSSL itself (http_wire.h).
            adapter.requires = ["core", "cpp-httplib::cpp-httplib", "openssl::ssl"]
            adapter.libdirs = []
            adapter.bindirs = []
        if self.options.with_redis:
            redis = self.cpp_info.components["redis"]
            redis.set_property("cmake_target_name", "tokenpass::redis")
            redis.set_property("pkg_config_name", "tokenpass-redis")
            redis.libs = ["tokenpass_redis"]
            redis.requires = ["core", "hiredis::hiredis", "openssl::crypto"]
        if self.options.with_grpc:
            adapter = self.cpp_info.components["grpc"]
            adapter.set_property("cmake_target_name", "tokenpass::grpc")
            adapter.set_property("pkg_config_name", "tokenpass-grpc")
            adapter.libs = ["tokenpass_grpc"]
            adapter.requires = ["core", "grpc::grpc++"]

    def _library_info(self, info):
        info.libs = ["tokenpass"]
        info.requires = ["nlohmann_json::nlohmann_json", "openssl::crypto"]
        if not self.options.shared:
            info.defines = ["TOKENPASS_STATIC_DEFINE"]
        if self.settings.os in ["Linux", "FreeBSD"]:
            info.system_libs = ["pthread"]  # remote JWKS refresh runs a std::thread
