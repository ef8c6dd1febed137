# Host dependencies, all from Debian packages installed by scripts/setup.sh.
find_package(PkgConfig REQUIRED)
pkg_check_modules(COAP REQUIRED IMPORTED_TARGET libcoap-3-openssl)
pkg_check_modules(CBOR REQUIRED IMPORTED_TARGET libcbor)
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)
pkg_check_modules(SQLITE REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)
pkg_check_modules(OPENSSL REQUIRED IMPORTED_TARGET libcrypto)

# Debian's Mbed TLS 2.28 ships no pkg-config file: find its libraries directly.
find_path(MBEDTLS_INCLUDE_DIR mbedtls/ecdsa.h REQUIRED)
find_library(MBEDCRYPTO_LIBRARY mbedcrypto REQUIRED)
find_library(MBEDX509_LIBRARY mbedx509 REQUIRED)
find_library(MBEDTLS_LIBRARY mbedtls REQUIRED)
add_library(mfl_mbedtls INTERFACE)
target_include_directories(mfl_mbedtls INTERFACE ${MBEDTLS_INCLUDE_DIR})
target_link_libraries(mfl_mbedtls INTERFACE ${MBEDTLS_LIBRARY} ${MBEDX509_LIBRARY} ${MBEDCRYPTO_LIBRARY})
