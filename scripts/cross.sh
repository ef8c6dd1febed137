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
echo "device library size (Cortex-M4, -Os, soft-float):"
arm-none-eabi-size -t $(find build-m4-soft -name 'libmfl_*.a' | sort) | awk 'NR==1 || /TOTALS/'
exit $status
