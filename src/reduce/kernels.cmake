# Placeholder until the kernel fragment lands: scalar + SIMD reduce sources.
set(_dir ${CMAKE_CURRENT_LIST_DIR})
set(GCCL_KERNEL_SOURCES
  ${_dir}/reduce_scalar.cc ${_dir}/reduce_dispatch.cc ${_dir}/simd.cc
  ${_dir}/reduce_avx2.cc ${_dir}/reduce_avx512.cc)
set_source_files_properties(${_dir}/reduce_avx2.cc PROPERTIES COMPILE_OPTIONS "-mavx2;-mf16c;-ffp-contract=off")
set_source_files_properties(${_dir}/reduce_avx512.cc PROPERTIES COMPILE_OPTIONS "-mavx512f;-mavx512bw;-mavx512vl;-mavx512dq;-mavx512bf16;-mf16c;-ffp-contract=off")
