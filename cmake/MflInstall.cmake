# `cmake --install` for firmware engineers: the device libraries of a cross
# build (Cortex-M4), their public headers (include/mfl/*.h, not the host
# ones in include/mfl/host/), Mbed TLS built for the target with its
# configuration (cmake/mfl_mbedtls_config.h, installed as Mbed TLS's
# config.h), the toolchain file, a CMake package (find_package(microfl): targets
# microfl::sync, microfl::dtls_mbedtls, microfl::device, ...) and a
# pkg-config file (microfl-device.pc). examples/firmware/ consumes both.
# Host builds install the tools (mfl, mfl-aggregator, mfl-sim).
include(CMakePackageConfigHelpers)

if(NOT CMAKE_CROSSCOMPILING)
  install(TARGETS mfl mfl-aggregator mfl-sim RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  return()
endif()
if(NOT MFL_TARGET_MBEDTLS_DIR)
  return() # without Mbed TLS for the target there is no protocol, so no package
endif()

# Bottom to top: the order a linker wants the archives in is the reverse.
set(_mfl_device_libs mfl_common mfl_quant mfl_optim mfl_device mfl_device_state mfl_cbor_builtin mfl_protocol
    mfl_crypto_mbedtls mfl_device_update mfl_device_sync mfl_sync mfl_dtls_mbedtls)
foreach(lib IN LISTS _mfl_device_libs)
  string(REGEX REPLACE "^mfl_" "" short ${lib})
  set_target_properties(${lib} PROPERTIES EXPORT_NAME ${short})
endforeach()

# Mbed TLS for the target: its archives and headers go with the package.
target_link_libraries(mfl_crypto_mbedtls INTERFACE
  $<BUILD_INTERFACE:${MFL_TARGET_MBEDTLS_DIR}/libmbedcrypto.a>
  $<INSTALL_INTERFACE:$<INSTALL_PREFIX>/${CMAKE_INSTALL_LIBDIR}/libmbedcrypto.a>)
target_link_libraries(mfl_dtls_mbedtls INTERFACE
  $<BUILD_INTERFACE:${MFL_TARGET_MBEDTLS_DIR}/libmbedtls.a>
  $<INSTALL_INTERFACE:$<INSTALL_PREFIX>/${CMAKE_INSTALL_LIBDIR}/libmbedtls.a> mfl_crypto_mbedtls)
# dtls_mbedtls.h includes Mbed TLS's headers: installed with microfl's
# configuration as their config.h, so a consumer needs no define
target_include_directories(mfl_dtls_mbedtls INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
# struct sizes depend on it: a consumer must see the value the libraries had
if(MFL_COAP_MAX_DATAGRAM)
  target_compile_definitions(mfl_device_sync INTERFACE MFL_COAP_MAX_DATAGRAM=${MFL_COAP_MAX_DATAGRAM})
endif()

install(TARGETS ${_mfl_device_libs} EXPORT microflTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/mfl DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h" PATTERN "host" EXCLUDE)
install(FILES ${MFL_TARGET_MBEDTLS_DIR}/libmbedcrypto.a ${MFL_TARGET_MBEDTLS_DIR}/libmbedtls.a
        DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY ${MFL_TARGET_MBEDTLS_DIR}/include/mbedtls ${MFL_TARGET_MBEDTLS_DIR}/include/psa
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} OPTIONAL)
install(FILES ${PROJECT_SOURCE_DIR}/cmake/mfl_mbedtls_config.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/mbedtls
        RENAME config.h)
install(FILES ${PROJECT_SOURCE_DIR}/cmake/arm-none-eabi-cortex-m4.cmake DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/microfl)
install(EXPORT microflTargets NAMESPACE microfl:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/microfl)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/microflConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/microflConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/microfl)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/microflConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/microflConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/microflConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/microfl)

# pkg-config: the archives in the order a single-pass linker needs them
# (each before what it uses)
set(MFL_PC_LIBS " -lmfl_sync -lmfl_dtls_mbedtls -lmfl_device_sync -lmfl_device_update -lmfl_device_state -lmfl_device")
string(APPEND MFL_PC_LIBS " -lmfl_optim -lmfl_quant -lmfl_protocol -lmfl_cbor_builtin -lmfl_crypto_mbedtls -lmfl_common")
string(APPEND MFL_PC_LIBS " -lmbedtls -lmbedcrypto")
set(MFL_PC_CFLAGS "")
if(MFL_COAP_MAX_DATAGRAM)
  set(MFL_PC_CFLAGS "-DMFL_COAP_MAX_DATAGRAM=${MFL_COAP_MAX_DATAGRAM}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/microfl-device.pc.in ${CMAKE_CURRENT_BINARY_DIR}/microfl-device.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/microfl-device.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
