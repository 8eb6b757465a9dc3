# Reduction kernels (src/reduce) and fp16/bf16 codecs (src/fp16), included from
# src/CMakeLists.txt. Sets GCCL_REDUCE_SOURCES and GCCL_FP16_SOURCES (absolute paths) and the
# per-file flags of the instruction-set translation units.
#
# set_source_files_properties is scoped to the directory that includes this file: the targets
# compiling these sources must be created in that same directory.
#
# Each *_avx2.cc / *_avx512.cc file is compiled for its own instruction set and only called after
# a CPUID check (src/base/simd.cc), so the rest of the library stays baseline x86-64. Do not
# add -march=native (or any -m flag) globally: the scalar path would stop being a fallback.

set(_gccl_reduce_dir ${CMAKE_CURRENT_LIST_DIR})
cmake_path(GET _gccl_reduce_dir PARENT_PATH _gccl_src_dir)
set(_gccl_fp16_dir ${_gccl_src_dir}/fp16)

set(GCCL_REDUCE_SOURCES ${_gccl_reduce_dir}/reduce_dispatch.cc ${_gccl_reduce_dir}/reduce_scalar.cc
  ${_gccl_reduce_dir}/non_finite.cc)
set(GCCL_FP16_SOURCES ${_gccl_fp16_dir}/codec_dispatch.cc ${_gccl_fp16_dir}/codec_scalar.cc)

set(_gccl_avx2_sources ${_gccl_reduce_dir}/reduce_avx2.cc ${_gccl_fp16_dir}/codec_avx2.cc)
set(_gccl_avx512_sources ${_gccl_reduce_dir}/reduce_avx512.cc ${_gccl_fp16_dir}/codec_avx512.cc)

# Every level must give bit-identical results, so no level may fuse a*b+c into an FMA (Clang
# contracts by default, GCC does with GNU extensions on).
set_source_files_properties(${GCCL_REDUCE_SOURCES} ${GCCL_FP16_SOURCES} PROPERTIES
  COMPILE_OPTIONS "-ffp-contract=off")

if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  list(APPEND GCCL_REDUCE_SOURCES ${_gccl_reduce_dir}/reduce_avx2.cc ${_gccl_reduce_dir}/reduce_avx512.cc)
  list(APPEND GCCL_FP16_SOURCES ${_gccl_fp16_dir}/codec_avx2.cc ${_gccl_fp16_dir}/codec_avx512.cc)
  set_source_files_properties(${_gccl_avx2_sources} PROPERTIES COMPILE_OPTIONS
    "-mavx2;-mf16c;-ffp-contract=off")
  set_source_files_properties(${_gccl_avx512_sources} PROPERTIES COMPILE_OPTIONS
    "-mavx512f;-mavx512bw;-mavx512vl;-mavx512dq;-mavx2;-mf16c;-ffp-contract=off")
endif()

unset(_gccl_reduce_dir)
unset(_gccl_src_dir)
unset(_gccl_fp16_dir)
unset(_gccl_avx2_sources)
unset(_gccl_avx512_sources)
