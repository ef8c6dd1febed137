#!/usr/bin/env bash
# Builds the device's outside dependencies for Cortex-M4 from Debian's
# source packages (never copied into the repository): Mbed TLS's crypto
# library (ECDSA) and its DTLS client (libmbedtls: the SSL modules, AES,
# CCM) with microfl's minimal configuration (cmake/mfl_mbedtls_config.h).
# Output: build-target-deps/mbedtls{,-hard}/{include,libmbedcrypto.a,libmbedtls.a}. Idempotent.
# Usage: scripts/target_deps.sh [soft|hard]
# (libcbor's Debian source is not reachable here; the device uses the
# built-in CBOR heads, see protocol/cbor.c.)
set -euo pipefail
cd "$(dirname "$0")/.."
abi=${1:-soft}
case "$abi" in
  soft | hard) ;;
  *) echo "usage: scripts/target_deps.sh [soft|hard] (the float ABI; soft by default), not '$abi'" >&2; exit 2 ;;
esac
root=$(pwd)
out=$root/build-target-deps
mkdir -p "$out/src"

if [ ! -f /etc/apt/sources.list.d/microfl-deb-src.sources ]; then
  # deb-src entries beside the existing deb entries: same URIs and suites
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
    $sudo tee /etc/apt/sources.list.d/microfl-deb-src.sources >/dev/null
  $sudo apt-get update -qq
fi

src=$(ls -d "$out"/src/Mbed-TLS-mbedtls-* "$out"/src/mbedtls-2.* 2>/dev/null | head -1 || true)
if [ -z "$src" ]; then
  (cd "$out/src" && apt-get source -qq --download-only mbedtls >/dev/null 2>&1 &&
   tar xzf mbedtls_*.orig.tar.gz)
  src=$(ls -d "$out"/src/Mbed-TLS-mbedtls-* "$out"/src/mbedtls-2.* 2>/dev/null | head -1 || true)
fi
[ -n "$src" ] || { echo "target deps: could not get Mbed TLS's Debian source" >&2; exit 1; }

# one build per float ABI: build-target-deps/mbedtls (soft), .../mbedtls-hard
dir=$out/mbedtls; fpu=(-mfloat-abi=soft)
if [ "$abi" = hard ]; then dir=$out/mbedtls-hard; fpu=(-mfloat-abi=hard -mfpu=fpv4-sp-d16); fi
lib=$dir/libmbedcrypto.a tls=$dir/libmbedtls.a
if [ ! -f "$lib" ] || [ ! -f "$tls" ] || [ cmake/mfl_mbedtls_config.h -nt "$lib" ]; then
  rm -rf "$dir" && mkdir -p "$dir/obj"
  cp -r "$src/include" "$dir/include"
  cflags=(-mcpu=cortex-m4 -mthumb "${fpu[@]}" -Os -ffunction-sections -fdata-sections
          -I"$dir/include" -I"$root/cmake" '-DMBEDTLS_CONFIG_FILE="mfl_mbedtls_config.h"')
  for f in bignum ecp ecp_curves ecdsa hmac_drbg md sha256 asn1parse asn1write platform_util constant_time \
           platform memory_buffer_alloc; do
    arm-none-eabi-gcc "${cflags[@]}" -c "$src/library/$f.c" -o "$dir/obj/$f.o"
  done
  arm-none-eabi-ar rcs "$lib" "$dir"/obj/*.o
  mkdir -p "$dir/obj-tls"
  for f in ssl_tls ssl_cli ssl_msg ssl_ciphersuites cipher cipher_wrap aes ccm; do
    arm-none-eabi-gcc "${cflags[@]}" -c "$src/library/$f.c" -o "$dir/obj-tls/$f.o"
  done
  arm-none-eabi-ar rcs "$tls" "$dir"/obj-tls/*.o
fi
echo "target deps: $lib ($(arm-none-eabi-size -t "$lib" | awk '/TOTALS/{print $1}') bytes of code)"
echo "target deps: $tls ($(arm-none-eabi-size -t "$tls" | awk '/TOTALS/{print $1}') bytes of code: DTLS-PSK, AES-128-CCM-8)"
