#!/usr/bin/env bash
# Cross-compiles the device-side libraries (common, quant, optim, device,
# protocol with the Mbed TLS crypto backend, update builder) for Cortex-M4
# with warnings as errors (soft-float and hard-float ABIs), then proves from
# the objects that they call no allocator and no floating-point helper, and
# prints their size. Mbed TLS itself is built for the target from Debian's
# source by scripts/target_deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/target_deps.sh
status=0
for abi in soft hard; do
  build=build-m4-$abi
  cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi-cortex-m4.cmake -DMFL_FLOAT_ABI=$abi \
    -DCMAKE_BUILD_TYPE=MinSizeRel -DMFL_WERROR=ON -DMFL_TARGET_MBEDTLS_DIR="$(pwd)/build-target-deps/mbedtls" \
    >/dev/null
  cmake --build "$build" -j"$(nproc)" >/dev/null
  libs=$(find "$build" -name 'libmfl_*.a' | sort)
  # Undefined symbols the device code may not use: the heap, and any
  # soft-float (__aeabi_f*/d*, conversions to float/double) or libm routine.
  forbidden=$(arm-none-eabi-nm -u $libs 2>/dev/null | awk '{print $2}' | sort -u |
    grep -E '^(malloc|calloc|realloc|free|__aeabi_[fd].*|__aeabi_.*2[fd]|__.*(sf|df)[0-9]*|.*printf|sqrtf?|expf?|logf?|floorf?|roundf?)$' || true)
  # With the hard-float ABI, any VFP instruction means float arithmetic crept in.
  vfp=""
  if [ "$abi" = hard ]; then
    vfp=$(arm-none-eabi-objdump -d $libs | grep -E '\sv(add|sub|mul|div|cvt|ldr|str|mov)\.' | head -3 || true)
  fi
  if [ -n "$forbidden$vfp" ]; then
    echo "cross ($abi-float): FORBIDDEN in device code: $forbidden $vfp"
    status=1
  else
    echo "cross ($abi-float): OK, no malloc, no floating point"
  fi
done
# A core without the DSP extension (Cortex-M3): the portable kernels alone
# must build, and no DSP instruction may appear in them.
build=build-m3
cmake -S . -B "$build" -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi-cortex-m4.cmake -DMFL_CPU=cortex-m3 \
  -DMFL_FLOAT_ABI=soft -DCMAKE_BUILD_TYPE=MinSizeRel -DMFL_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target mfl_device >/dev/null
dsp=$(arm-none-eabi-objdump -d "$build/device/libmfl_device.a" | grep -E '\s(smla[dbt]|sxtab?16|qadd|smlal[bt])' | head -3 || true)
if [ -n "$dsp" ]; then
  echo "cross (cortex-m3): DSP instructions in the portable build: $dsp"
  status=1
else
  echo "cross (cortex-m3): OK, the portable kernels build without the DSP extension"
fi
# The porting kit: the soft-float package installed, and the out-of-tree
# example firmware built on it twice — through find_package(microfl) and
# through pkg-config (microfl-device.pc) — to the same image: the same
# symbols of the same sizes (the two links order the archives differently,
# so addresses and alignment padding may differ).
pkg=$(pwd)/build-m4-package
rm -rf "$pkg" build-m4-example
cmake --install build-m4-soft --prefix "$pkg" >/dev/null
cmake -S examples/firmware -B build-m4-example -DCMAKE_PREFIX_PATH="$pkg" -DCMAKE_BUILD_TYPE=MinSizeRel \
  -DCMAKE_TOOLCHAIN_FILE="$pkg/lib/cmake/microfl/arm-none-eabi-cortex-m4.cmake" >/dev/null
cmake --build build-m4-example >/dev/null
# the flags the CMake build gets from the toolchain file and MinSizeRel
# (with others, GCC lays out main.c's own code differently)
arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=soft -ffunction-sections -fdata-sections -Os -DNDEBUG \
  examples/firmware/main.c \
  $(PKG_CONFIG_PATH="$pkg/lib/pkgconfig" pkg-config --cflags --libs microfl-device) \
  --specs=nano.specs --specs=nosys.specs -Wl,--gc-sections -o build-m4-example/example-pkgconfig.elf \
  2> build-m4-example/pkgconfig.log || cat build-m4-example/pkgconfig.log
symbols() { arm-none-eabi-nm -S "$1" | awk 'NF == 4 && $3 ~ /[TtDdBbRr]/ { print $4, $2, $3 }' | sort; }
if [ -s build-m4-example/example-pkgconfig.elf ] &&
   cmp -s <(symbols build-m4-example/example-firmware.elf) <(symbols build-m4-example/example-pkgconfig.elf); then
  echo "porting kit: OK, examples/firmware builds on the installed package (find_package and pkg-config):" \
    "$(arm-none-eabi-size build-m4-example/example-firmware.elf | awk 'NR==2{print $1}') B of code"
else
  echo "porting kit: the example's two builds differ (symbol, size, type: < find_package, > pkg-config):"
  diff <(symbols build-m4-example/example-firmware.elf) <(symbols build-m4-example/example-pkgconfig.elf) | head -20 || true
  status=1
fi
echo "device library size (Cortex-M4, -Os, soft-float):"
arm-none-eabi-size -t $(find build-m4-soft -name 'libmfl_*.a' | sort) | awk 'NR==1 || /TOTALS/'
exit $status
