#!/usr/bin/env python3
"""Checks that the vcpkg port and the Conan recipe agree with the CMake project, without
vcpkg or Conan (neither is installable here). Usage: check_metadata.py <repo root>

* ports/tokenpass/vcpkg.json parses; name, version and license match CMakeLists.txt and
  LICENSE; the CMake helper ports are host dependencies.
* conanfile.py's own set_version() (run with a stub `conan` module) reads the same
  version; its license is the same.
* portfile.cmake uses the vcpkg_cmake_* helpers and none of the deprecated functions;
  the release form in ports/tokenpass/README.md is the same port apart from its first call.
* Every vcpkg feature and every Conan option maps to a CMake option that exists, and
  every -D the port or the recipe passes names an option or cache variable that exists.
* vcpkg.json's homepage and the recipe's url and homepage are project(HOMEPAGE_URL).
* Package builds never fall back to the machine's pkg-config (the port and the recipe
  set TOKENPASS_PKGCONFIG_FALLBACK=OFF).
* The recipe's validate() refuses with_httplib over a cpp-httplib without OpenSSL, and
  compilers too old for C++17, with a message that says why; it accepts the defaults.
"""
import json
import os
import re
import sys
import types

root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(__file__), "..", ".."))
failures = []


def check(ok, message):
    if not ok:
        failures.append(message)


def read(*parts):
    with open(os.path.join(root, *parts), encoding="utf-8") as f:
        return f.read()


def strip_cmake_comments(text):
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


# --- the CMake project: version and the options a package build may set ------------------
cmakelists = read("CMakeLists.txt")
m = re.search(r"^\s*project\s*\(\s*tokenpass\s+VERSION\s+(\d+\.\d+\.\d+)", cmakelists, re.M)
if not m:
    sys.exit("CMakeLists.txt: no project(tokenpass VERSION x.y.z)")
version = m.group(1)
m = re.search(r"^\s*project\s*\([^)]*HOMEPAGE_URL\s+\"([^\"]+)\"", cmakelists, re.M)
homepage = m.group(1) if m else None
check(homepage is not None and homepage.startswith("https://"),
      "CMakeLists.txt: project() has no https HOMEPAGE_URL")

cmake_sources = []
for dirpath, dirnames, filenames in os.walk(root):
    rel = os.path.relpath(dirpath, root)
    top = rel.split(os.sep)[0]
    # Only the project's own CMake code: not build trees, tests, ports or test_package.
    if rel != "." and (top.startswith(("build", ".")) or
                       top in ("out", "tests", "ports", "test_package")):
        dirnames[:] = []
        continue
    for name in filenames:
        if name == "CMakeLists.txt" or name.endswith(".cmake"):
            cmake_sources.append(strip_cmake_comments(read(rel, name)))
cmake_code = "\n".join(cmake_sources)
cmake_options = set(re.findall(r"\b(?:cmake_dependent_)?option\s*\(\s*(\w+)", cmake_code))
cmake_cache = set(re.findall(r"\bset\s*\(\s*(\w+)\s[^)]*\bCACHE\b", cmake_code))
# Variables CMake itself or the toolchains define, which a package build may pass.
cmake_builtin = {"BUILD_SHARED_LIBS", "CMAKE_POSITION_INDEPENDENT_CODE"}
known = cmake_options | cmake_cache | cmake_builtin

license_text = read("LICENSE")
spdx = "MIT" if license_text.startswith("MIT License") else None
check(spdx is not None, "LICENSE: not recognised as the MIT license")

# --- vcpkg ------------------------------------------------------------------------------
try:
    manifest = json.loads(read("ports", "tokenpass", "vcpkg.json"))
except ValueError as e:
    sys.exit(f"ports/tokenpass/vcpkg.json does not parse: {e}")
check(manifest.get("name") == "tokenpass", "vcpkg.json: name is not tokenpass")
check(manifest.get("version") == version,
      f"vcpkg.json: version {manifest.get('version')!r} != project(VERSION) {version}")
check(manifest.get("license") == spdx, f"vcpkg.json: license {manifest.get('license')!r} != {spdx}")
check(manifest.get("homepage") == homepage,
      f"vcpkg.json: homepage {manifest.get('homepage')!r} != project(HOMEPAGE_URL) {homepage!r}")
deps = {d if isinstance(d, str) else d["name"]: d for d in manifest.get("dependencies", [])}
for helper in ("vcpkg-cmake", "vcpkg-cmake-config"):
    dep = deps.get(helper)
    check(isinstance(dep, dict) and dep.get("host") is True,
          f"vcpkg.json: {helper} must be a host dependency")
check({"nlohmann-json", "openssl"} <= set(deps), "vcpkg.json: needs nlohmann-json and openssl")
check("default-features" not in manifest, "vcpkg.json: no default features (the tool is opt-in)")
features = set(manifest.get("features", {}))
check("tool" in features, "vcpkg.json: no tool feature")

portfile = read("ports", "tokenpass", "portfile.cmake")
port_code = strip_cmake_comments(portfile)
for old in ("vcpkg_configure_cmake", "vcpkg_install_cmake", "vcpkg_build_cmake",
            "vcpkg_fixup_cmake_targets"):
    check(old not in port_code, f"portfile.cmake: deprecated {old}()")
for new in ("vcpkg_cmake_configure", "vcpkg_cmake_install", "vcpkg_cmake_config_fixup",
            "vcpkg_install_copyright"):
    check(re.search(rf"\b{new}\s*\(", port_code), f"portfile.cmake: no {new}()")
check('set(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../..")' in port_code,
      "portfile.cmake: the overlay must build the checked-out tree (SOURCE_PATH ../..)")

m = re.search(r"vcpkg_check_features\s*\(([^)]*)\)", port_code)
check(m, "portfile.cmake: no vcpkg_check_features()")
feature_map = {}
if m:
    words = m.group(1).split()
    pairs = words[words.index("FEATURES") + 1:] if "FEATURES" in words else []
    feature_map = dict(zip(pairs[0::2], pairs[1::2]))
check(set(feature_map) == features,
      f"portfile.cmake maps features {sorted(feature_map)}, vcpkg.json has {sorted(features)}")
check(feature_map.get("tool") == "TOKENPASS_BUILD_CLI", "portfile.cmake: tool must set TOKENPASS_BUILD_CLI")
for feature, option in feature_map.items():
    check(option in cmake_options,
          f"vcpkg feature {feature!r} maps to {option}, which is no option() in the CMake project")
for var in re.findall(r"-D(\w+)=", port_code):
    check(var in known, f"portfile.cmake passes -D{var}, which the CMake project does not know")
check("-DTOKENPASS_PKGCONFIG_FALLBACK=OFF" in port_code,
      "portfile.cmake: must pass -DTOKENPASS_PKGCONFIG_FALLBACK=OFF (no machine copies)")


def port_body(text):
    """The port's calls after the first one (vcpkg_from_github or set(SOURCE_PATH)),
    without comments and blank lines."""
    lines = [l.rstrip() for l in strip_cmake_comments(text).splitlines() if l.strip()]
    body = "\n".join(lines)
    first = re.match(r"(vcpkg_from_github\s*\([^)]*\)|set\s*\(\s*SOURCE_PATH[^)]*\))\s*", body)
    return body[first.end():] if first else None


readme = read("ports", "tokenpass", "README.md")
blocks = [b for b in re.findall(r"```cmake\n(.*?)```", readme, re.S) if "vcpkg_from_github" in b]
check(len(blocks) == 1, "ports/tokenpass/README.md: expected one cmake block with vcpkg_from_github")
if blocks:
    check(port_body(blocks[0]) is not None and port_body(blocks[0]) == port_body(portfile),
          "ports/tokenpass/README.md: the release form differs from portfile.cmake "
          "beyond its first call")
    check('REF "v${VERSION}"' in blocks[0], "README release form: REF must be \"v${VERSION}\"")

# --- Conan: import conanfile.py with a stub `conan` package -----------------------------


class StubToolchain:
    last = None

    def __init__(self, conanfile):
        self.cache_variables = {}
        self.variables = {}
        StubToolchain.last = self

    def generate(self):
        pass


class StubDeps:
    def __init__(self, conanfile):
        pass

    def generate(self):
        pass


class StubVersion:
    """Compares dotted versions numerically, as conan.tools.scm.Version does."""

    def __init__(self, text):
        self.parts = tuple(int(p) for p in re.findall(r"\d+", str(text)))

    def __lt__(self, other):
        return self.parts < StubVersion(other).parts


def stub_load(conanfile, path, *args, **kwargs):
    with open(path, encoding="utf-8") as f:
        return f.read()


def _noop(*args, **kwargs):
    return None


stubs = {
    "conan": {"ConanFile": type("ConanFile", (), {})},
    "conan.errors": {"ConanInvalidConfiguration": type("ConanInvalidConfiguration", (Exception,), {})},
    "conan.tools": {},
    "conan.tools.build": {"check_min_cppstd": _noop, "can_run": lambda c: True},
    "conan.tools.cmake": {"CMake": object, "CMakeDeps": StubDeps, "CMakeToolchain": StubToolchain,
                          "cmake_layout": _noop},
    "conan.tools.files": {"copy": _noop, "load": stub_load, "rmdir": _noop, "rm": _noop,
                          "save": _noop, "get": _noop},
    "conan.tools.scm": {"Version": StubVersion},
}
for name, attrs in stubs.items():
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    sys.modules[name] = module

namespace = {"__file__": os.path.join(root, "conanfile.py"), "__name__": "tokenpass_conanfile"}
exec(compile(read("conanfile.py"), os.path.join(root, "conanfile.py"), "exec"), namespace)
recipes = [v for v in namespace.values()
           if isinstance(v, type) and v is not sys.modules["conan"].ConanFile
           and issubclass(v, sys.modules["conan"].ConanFile)]
check(len(recipes) == 1, "conanfile.py: expected one ConanFile class")
recipe = recipes[0]

conanfile = recipe()
conanfile.recipe_folder = root
conanfile.set_version()
check(getattr(conanfile, "version", None) == version,
      f"conanfile.py: set_version() gives {getattr(conanfile, 'version', None)!r}, "
      f"project(VERSION) is {version}")
check(recipe.name == "tokenpass", "conanfile.py: name is not tokenpass")
check(recipe.license == spdx, f"conanfile.py: license {recipe.license!r} != {spdx}")
check(recipe.package_type == "library", "conanfile.py: package_type is not library")
check("auto_shared_fpic" in getattr(recipe, "implements", []),
      "conanfile.py: implements auto_shared_fpic missing")
own_options = set(recipe.options)
check({"shared", "fPIC", "cli"} <= own_options, "conanfile.py: needs options shared, fPIC, cli")
check(recipe.default_options.get("shared") is False and recipe.default_options.get("fPIC") is True,
      "conanfile.py: defaults must be shared=False, fPIC=True")
for source in ("CMakeLists.txt", "cmake/*", "include/*", "src/*", "tools/*", "LICENSE"):
    check(source in recipe.exports_sources, f"conanfile.py: exports_sources lacks {source}")

# Which cache variable each recipe option drives: run generate() with each option flipped.
option_to_var = {"cli": "TOKENPASS_BUILD_CLI", "with_httplib": "TOKENPASS_WITH_HTTPLIB",
                 "with_redis": "TOKENPASS_WITH_REDIS", "with_grpc": "TOKENPASS_WITH_GRPC"}
check(own_options - {"shared", "fPIC"} == set(option_to_var),
      f"conanfile.py: options {sorted(own_options)}; this check knows {sorted(option_to_var)}")
# The vcpkg features and the Conan options must switch the same CMake options.
check(set(feature_map.values()) == set(option_to_var.values()),
      f"vcpkg features switch {sorted(feature_map.values())}, "
      f"Conan options {sorted(option_to_var.values())}")
for flipped in [None] + sorted(option_to_var):
    conanfile.options = types.SimpleNamespace(
        **{k: (v if k != flipped else not v) for k, v in recipe.default_options.items()
           if k in own_options})
    conanfile.generate()
    variables = dict(StubToolchain.last.cache_variables, **StubToolchain.last.variables)
    check(variables.get("TOKENPASS_BUILD_TESTS") is False and
          variables.get("TOKENPASS_BUILD_EXAMPLES") is False,
          "conanfile.py: generate() must set TOKENPASS_BUILD_TESTS/EXAMPLES to False")
    for option, var in option_to_var.items():
        check(variables.get(var) is bool(getattr(conanfile.options, option)),
              f"conanfile.py: option {option} does not drive {var}")
    for var in variables:
        check(var in known, f"conanfile.py sets {var}, which the CMake project does not know")
for var in option_to_var.values():
    check(var in cmake_options, f"Conan option maps to {var}, which is no option() in the CMake project")

check(getattr(recipe, "homepage", None) == homepage and getattr(recipe, "url", None) == homepage,
      f"conanfile.py: url/homepage must be project(HOMEPAGE_URL) {homepage!r}")
check(variables.get("TOKENPASS_PKGCONFIG_FALLBACK") is False,
      "conanfile.py: generate() must set TOKENPASS_PKGCONFIG_FALLBACK to False")


# validate(): the combinations the recipe must refuse, with a message saying why.
class StubSetting(str):
    def __new__(cls, value, **sub):
        s = str.__new__(cls, value)
        s.__dict__.update(sub)
        return s

    def get_safe(self, name, default=None):
        return self.__dict__.get(name, default)


class StubOptions(types.SimpleNamespace):
    def get_safe(self, name, default=None):
        return getattr(self, name, default)


def validate_with(compiler, compiler_version, with_httplib, httplib_openssl):
    c = recipe()
    c.settings = types.SimpleNamespace(
        compiler=StubSetting(compiler, version=StubSetting(compiler_version), cppstd="17"))
    c.options = StubOptions(with_httplib=with_httplib, shared=False, fPIC=True, cli=True)
    c.dependencies = {"cpp-httplib": types.SimpleNamespace(
        options=StubOptions(with_openssl=httplib_openssl))}
    try:
        c.validate()
    except sys.modules["conan.errors"].ConanInvalidConfiguration as e:
        return str(e)
    return None


refused = validate_with("gcc", "12", True, False)
check(refused is not None and "with_openssl" in refused,
      f"conanfile.py: validate() must refuse with_httplib over cpp-httplib without OpenSSL ({refused!r})")
check(validate_with("gcc", "12", True, True) is None,
      "conanfile.py: validate() refuses with_httplib over cpp-httplib with OpenSSL")
check(validate_with("gcc", "12", False, False) is None,
      "conanfile.py: validate() refuses a build without the adapter because of cpp-httplib")
old_gcc = validate_with("gcc", "7", False, True)
check(old_gcc is not None and "C++17" in old_gcc,
      f"conanfile.py: validate() must refuse gcc 7 for C++17 ({old_gcc!r})")
check(validate_with("clang", "14", False, True) is None, "conanfile.py: validate() refuses clang 14")

if failures:
    for f in dict.fromkeys(failures):
        print("FAIL:", f)
    sys.exit(1)
print(f"package metadata: ok (version {version}; vcpkg features {sorted(feature_map)}; "
      f"Conan options {sorted(own_options)})")
