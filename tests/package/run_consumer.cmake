# Builds tokenpass (static or shared, per KIND), installs it into a prefix under
# WORK_DIR, then configures, builds and runs tests/package/consumer against that prefix
# with find_package(tokenpass). Run as: cmake -DSOURCE_DIR=... -DWORK_DIR=... -DKIND=...
#   -P run_consumer.cmake
foreach(var SOURCE_DIR WORK_DIR KIND)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_consumer.cmake: ${var} is not set")
  endif()
endforeach()
if(KIND STREQUAL "shared")
  set(shared ON)
else()
  set(shared OFF)
endif()
set(prefix "${WORK_DIR}/prefix")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(compiler_args "")
if(DEFINED CMAKE_CXX_COMPILER AND NOT CMAKE_CXX_COMPILER STREQUAL "")
  set(compiler_args "-DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}")
endif()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()

# A packager's build: tests, examples and the CLI off; only BUILD_SHARED_LIBS chosen.
run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${WORK_DIR}/lib" ${compiler_args}
    -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=${shared}
    -DTOKENPASS_BUILD_TESTS=OFF -DTOKENPASS_BUILD_EXAMPLES=OFF -DTOKENPASS_BUILD_CLI=OFF
    -DTOKENPASS_INSTALL=ON "-DCMAKE_INSTALL_PREFIX=${prefix}")
run("${CMAKE_COMMAND}" --build "${WORK_DIR}/lib" -j2)
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

# The prefix must be relocatable: move it and consume it from the new place.
file(RENAME "${prefix}" "${WORK_DIR}/moved-prefix")
set(prefix "${WORK_DIR}/moved-prefix")

# pkg-config users: the moved .pc file must point into the moved prefix.
find_program(PKG_CONFIG_EXECUTABLE pkg-config)
if(PKG_CONFIG_EXECUTABLE)
  set(ENV{PKG_CONFIG_PATH} "${prefix}/lib/pkgconfig")
  execute_process(COMMAND "${PKG_CONFIG_EXECUTABLE}" --variable=includedir tokenpass
                  RESULT_VARIABLE rc OUTPUT_VARIABLE includedir OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0 OR NOT EXISTS "${includedir}/tokenpass/tokenpass.h")
    message(FATAL_ERROR "pkg-config includedir '${includedir}' does not hold tokenpass.h")
  endif()
endif()

run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}/tests/package/consumer" -B "${WORK_DIR}/consumer"
    ${compiler_args} -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${prefix}")
run("${CMAKE_COMMAND}" --build "${WORK_DIR}/consumer")
execute_process(COMMAND "${WORK_DIR}/consumer/consumer" RESULT_VARIABLE rc OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
if(NOT rc EQUAL 0 OR NOT out MATCHES "consumer: ok")
  message(FATAL_ERROR "consumer failed (${rc}): ${out}\n${err}")
endif()
message(STATUS "${KIND} install consumed: ${out}")
