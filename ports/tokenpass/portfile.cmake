# Overlay port: builds the checked-out tree this folder lives in. README.md here has the
# release form, which differs only in its first call (vcpkg_from_github).
set(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../..")

vcpkg_check_features(OUT_FEATURE_OPTIONS FEATURE_OPTIONS
    FEATURES
        httplib TOKENPASS_WITH_HTTPLIB
        redis   TOKENPASS_WITH_REDIS
        grpc    TOKENPASS_WITH_GRPC
        tool    TOKENPASS_BUILD_CLI
)

vcpkg_cmake_configure(
    SOURCE_PATH "${SOURCE_PATH}"
    OPTIONS
        ${FEATURE_OPTIONS}
        -DTOKENPASS_BUILD_TESTS=OFF
        -DTOKENPASS_BUILD_EXAMPLES=OFF
        -DTOKENPASS_PKGCONFIG_FALLBACK=OFF
        -DTOKENPASS_CMAKE_DIR=share/tokenpass
)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup()
vcpkg_fixup_pkgconfig()

if("tool" IN_LIST FEATURES)
    vcpkg_copy_tools(TOOL_NAMES tokenpass AUTO_CLEAN)
endif()

file(REMOVE_RECURSE
    "${CURRENT_PACKAGES_DIR}/debug/include"
    "${CURRENT_PACKAGES_DIR}/debug/share"
    "${CURRENT_PACKAGES_DIR}/share/licenses"
)
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
