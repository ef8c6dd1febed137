# mfl_library(NAME SOURCES...): a static library with the project's warnings
# and the public headers of include/.
function(mfl_library name)
  add_library(${name} STATIC ${ARGN})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/include)
  target_compile_options(${name} PRIVATE ${MFL_WARNINGS})
endfunction()
