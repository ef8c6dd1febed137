# Toolchain file for Cortex-M4 (Thumb-2) with Debian's arm-none-eabi-gcc.
# MFL_FLOAT_ABI selects soft (default: proves no FPU is needed) or hard.
# MFL_CPU=cortex-m3 builds for a core without the DSP extension (the
# portable kernels only; soft-float).
set(CMAKE_SYSTEM_NAME Generic)
if(NOT DEFINED MFL_CPU)
  set(MFL_CPU cortex-m4)
endif()
set(CMAKE_SYSTEM_PROCESSOR ${MFL_CPU})
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

if(NOT DEFINED MFL_FLOAT_ABI)
  set(MFL_FLOAT_ABI soft)
endif()
if(MFL_FLOAT_ABI STREQUAL "hard")
  set(_mfl_fpu "-mfloat-abi=hard -mfpu=fpv4-sp-d16")
else()
  set(_mfl_fpu "-mfloat-abi=soft")
endif()
set(CMAKE_C_FLAGS_INIT "-mcpu=${MFL_CPU} -mthumb ${_mfl_fpu} -ffunction-sections -fdata-sections")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
