# gccl_layer(<target> FOLDERS <src folders> SOURCES <files> DEPENDS <lower layers>)
#
# One object library per layer. A layer sees only its own folders and those of the layers it
# depends on: its include path is a "view" directory in the build tree that holds a symbolic
# link per folder it owns (build/layers/<target>/base -> src/base), and a dependency's view comes
# with the dependency. `#include "core/engine.h"` from src/transport therefore finds no file
# and the build fails: an upward arrow is a compile error, not a review comment.
function(gccl_layer target)
  cmake_parse_arguments(LAYER "" "" "FOLDERS;SOURCES;DEPENDS" ${ARGN})
  add_library(${target} OBJECT ${LAYER_SOURCES})
  set(view ${PROJECT_BINARY_DIR}/layers/${target})
  file(MAKE_DIRECTORY ${view})
  foreach(folder IN LISTS LAYER_FOLDERS)
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/src/${folder} ${view}/${folder} SYMBOLIC)
  endforeach()
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${view}>)
  target_link_libraries(${target} PUBLIC ${LAYER_DEPENDS})
  set_target_properties(${target} PROPERTIES CXX_VISIBILITY_PRESET hidden
                                             CUDA_VISIBILITY_PRESET hidden
                                             VISIBILITY_INLINES_HIDDEN ON)
endfunction()
