# tokenpass_find_optional(PREFIX OPTION PACKAGE TARGET PKG_MODULE DEBIAN_PACKAGE): finds an
# optional dependency the way every one is found: its CMake package (vcpkg, Conan) first,
# else, with TOKENPASS_PKGCONFIG_FALLBACK, pkg-config (Debian ships only .pc files).
# Sets TOKENPASS_<PREFIX>_VIA (config or pkgconfig: the installed config finds it the same
# way) and TOKENPASS_<PREFIX>_DEP (the target to link). A macro: the variables and the
# pkg-config imported target land in the caller's scope.
macro(tokenpass_find_optional prefix option package target module debian)
  find_package(${package} CONFIG QUIET)
  if(TARGET ${target})
    set(TOKENPASS_${prefix}_VIA config)
    set(TOKENPASS_${prefix}_DEP ${target})
  elseif(TOKENPASS_PKGCONFIG_FALLBACK)
    find_package(PkgConfig QUIET)
    if(PkgConfig_FOUND)
      pkg_check_modules(TOKENPASS_${prefix} QUIET IMPORTED_TARGET ${module})
    endif()
    if(NOT TARGET PkgConfig::TOKENPASS_${prefix})
      message(FATAL_ERROR "${option} is ON but ${module} was not found (Debian/Ubuntu: "
                          "${debian}). Configure with -D${option}=OFF to build without it.")
    endif()
    set(TOKENPASS_${prefix}_VIA pkgconfig)
    set(TOKENPASS_${prefix}_DEP PkgConfig::TOKENPASS_${prefix})
  else()
    message(FATAL_ERROR "${option} is ON but ${package}'s CMake package was not found, "
                        "and TOKENPASS_PKGCONFIG_FALLBACK is OFF.")
  endif()
endmacro()
