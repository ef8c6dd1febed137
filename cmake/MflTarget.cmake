# mfl_library(NAME SOURCES...): a static library with the project's warnings
# and the public headers of include/ (installed: see cmake/MflInstall.cmake).
include(GNUInstallDirs)
function(mfl_library name)
  add_library(${name} STATIC ${ARGN})
  target_include_directories(${name} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
                                            $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_options(${name} PRIVATE ${MFL_WARNINGS})
endfunction()
