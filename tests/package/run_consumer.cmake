# Install-tree tests, in two steps so that each kind of library is built only once:
#
#   cmake -DMODE=install -DSOURCE_DIR=... -DWORK_DIR=... -DKIND=static|shared -P run_consumer.cmake
#     builds tokenpass as a packager would, installs it into a prefix under WORK_DIR,
#     checks the layout, moves the prefix (relocatability) and checks pkg-config on it;
#   cmake -DMODE=consume -DSOURCE_DIR=... -DWORK_DIR=... -DCONSUMER_DIR=... -P run_consumer.cmake
#     configures, builds and runs the project in CONSUMER_DIR against that moved prefix
#     with find_package(tokenpass). Its executable is named after the folder and must
#     print "<folder name>: ok" (tests/package/consumer, test_package/).
#
# CMAKE_CXX_COMPILER, if given, is passed on to both builds.
foreach(var MODE SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_consumer.cmake: ${var} is not set")
  endif()
endforeach()
set(compiler_args "")
if(DEFINED CMAKE_CXX_COMPILER AND NOT CMAKE_CXX_COMPILER STREQUAL "")
  set(compiler_args "-DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}")
endif()
# The install step leaves the prefix here; the consume steps read it.
set(moved_prefix "${WORK_DIR}/moved-prefix")

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()

if(MODE STREQUAL "install")
  if(NOT DEFINED KIND)
    message(FATAL_ERROR "run_consumer.cmake: KIND is not set")
  endif()
  if(KIND STREQUAL "shared")
    set(shared ON)
  else()
    set(shared OFF)
  endif()
  set(prefix "${WORK_DIR}/prefix")
  file(REMOVE_RECURSE "${WORK_DIR}")
  file(MAKE_DIRECTORY "${WORK_DIR}")

  # A packager's build: tests, examples and the CLI off; BUILD_SHARED_LIBS chosen, and
  # the shared kind built with tokenpass::grpc, the static one without (the package
  # builds with and without gRPC, in the time of two builds). The Release configuration
  # without optimisation: what is tested here is the install tree (layout, package
  # files, soname, relocation, consumers), the code is tested by the rest of the suite,
  # and -O2 made each compile half again as long (token_endpoint.cpp 8.0 -> 12.3 s).
  run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${WORK_DIR}/lib" ${compiler_args}
      -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O0 -DNDEBUG"
      -DBUILD_SHARED_LIBS=${shared} -DTOKENPASS_WITH_GRPC=${shared}
      -DTOKENPASS_BUILD_TESTS=OFF -DTOKENPASS_BUILD_EXAMPLES=OFF -DTOKENPASS_BUILD_CLI=OFF
      -DTOKENPASS_INSTALL=ON "-DCMAKE_INSTALL_PREFIX=${prefix}")
  # One job: ctest already runs the static and the shared install side by side.
  run("${CMAKE_COMMAND}" --build "${WORK_DIR}/lib" -j1)
  run("${CMAKE_COMMAND}" --install "${WORK_DIR}/lib")

  foreach(f include/tokenpass/tokenpass.h include/tokenpass/export.h include/tokenpass/version.h
            lib/cmake/tokenpass/tokenpassConfig.cmake
            lib/cmake/tokenpass/tokenpassConfigVersion.cmake lib/pkgconfig/tokenpass.pc
            share/licenses/tokenpass/LICENSE)
    if(NOT EXISTS "${prefix}/${f}")
      message(FATAL_ERROR "install is missing ${f}")
    endif()
  endforeach()
  if(EXISTS "${prefix}/include/internal" OR EXISTS "${prefix}/include/tokenpass/internal")
    message(FATAL_ERROR "internal headers were installed")
  endif()
  if(shared AND NOT EXISTS "${prefix}/include/tokenpass/adapters/grpc.h")
    message(FATAL_ERROR "built with gRPC, but tokenpass/adapters/grpc.h was not installed")
  elseif(NOT shared AND EXISTS "${prefix}/include/tokenpass/adapters/grpc.h")
    message(FATAL_ERROR "built without gRPC, but tokenpass/adapters/grpc.h was installed")
  endif()

  # The soname: major.minor while the version is 0.x (0.1 and 0.2 differ in ABI, as the
  # CMake package's SameMinorVersion says), the major version from 1.0 on.
  if(KIND STREQUAL "shared")
    file(STRINGS "${SOURCE_DIR}/CMakeLists.txt" project_line REGEX "project\\(tokenpass VERSION")
    string(REGEX MATCH "VERSION ([0-9]+)\\.([0-9]+)\\.([0-9]+)" _ "${project_line}")
    if(CMAKE_MATCH_1 EQUAL 0)
      set(want_soname "libtokenpass.so.${CMAKE_MATCH_1}.${CMAKE_MATCH_2}")
    else()
      set(want_soname "libtokenpass.so.${CMAKE_MATCH_1}")
    endif()
    find_program(READELF readelf REQUIRED)
    file(GLOB libs "${prefix}/lib/libtokenpass.so.*.*.*")
    list(LENGTH libs n)
    if(NOT n EQUAL 1)
      message(FATAL_ERROR "expected one libtokenpass.so.X.Y.Z in ${prefix}/lib, found: ${libs}")
    endif()
    execute_process(COMMAND "${READELF}" -d ${libs} OUTPUT_VARIABLE dynamic RESULT_VARIABLE rc)
    string(REGEX MATCH "Library soname: \\[([^]]*)\\]" _ "${dynamic}")
    if(NOT rc EQUAL 0 OR NOT CMAKE_MATCH_1 STREQUAL want_soname)
      message(FATAL_ERROR "soname is '${CMAKE_MATCH_1}', expected '${want_soname}'")
    endif()
    if(NOT EXISTS "${prefix}/lib/${want_soname}")
      message(FATAL_ERROR "no ${want_soname} link in ${prefix}/lib")
    endif()
  endif()

  # The prefix must be relocatable: move it; the consumers use it from the new place.
  file(RENAME "${prefix}" "${moved_prefix}")

  # pkg-config users: the moved .pc file must point into the moved prefix.
  find_program(PKG_CONFIG_EXECUTABLE pkg-config)
  if(PKG_CONFIG_EXECUTABLE)
    set(ENV{PKG_CONFIG_PATH} "${moved_prefix}/lib/pkgconfig")
    execute_process(COMMAND "${PKG_CONFIG_EXECUTABLE}" --variable=includedir tokenpass
                    RESULT_VARIABLE rc OUTPUT_VARIABLE includedir
                    OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(NOT rc EQUAL 0 OR NOT EXISTS "${includedir}/tokenpass/tokenpass.h")
      message(FATAL_ERROR "pkg-config includedir '${includedir}' does not hold tokenpass.h")
    endif()
  endif()
  message(STATUS "${KIND} tokenpass installed and moved to ${moved_prefix}")

elseif(MODE STREQUAL "consume")
  if(NOT DEFINED CONSUMER_DIR)
    message(FATAL_ERROR "run_consumer.cmake: CONSUMER_DIR is not set")
  endif()
  if(NOT EXISTS "${moved_prefix}/lib/cmake/tokenpass/tokenpassConfig.cmake")
    message(FATAL_ERROR "no installed tokenpass in ${moved_prefix}: run MODE=install first")
  endif()
  get_filename_component(name "${CONSUMER_DIR}" NAME)
  set(build "${WORK_DIR}/${name}-build")
  file(REMOVE_RECURSE "${build}")
  run("${CMAKE_COMMAND}" -S "${CONSUMER_DIR}" -B "${build}" ${compiler_args}
      -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${moved_prefix}")
  run("${CMAKE_COMMAND}" --build "${build}" -j1)
  execute_process(COMMAND "${build}/${name}" RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "${name}: ok")
    message(FATAL_ERROR "${name} failed (${rc}): ${out}\n${err}")
  endif()
  message(STATUS "${name} built against ${moved_prefix}: ${out}")

else()
  message(FATAL_ERROR "run_consumer.cmake: MODE must be install or consume, not '${MODE}'")
endif()
