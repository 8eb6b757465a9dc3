# kernels_bench: GB/s of the reduction kernels and fp16/bf16 codecs beside memcpy (Google
# Benchmark), included from perf/CMakeLists.txt. Needs the target gccl_static.
# Run: GCCL_SIMD=avx512|avx2|scalar kernels_bench --benchmark_filter=67108864
find_package(benchmark QUIET)
if(NOT benchmark_FOUND)
  message(STATUS "kernels_bench skipped: Google Benchmark (libbenchmark-dev) not found")
  return()
endif()

add_executable(kernels_bench ${CMAKE_CURRENT_LIST_DIR}/kernels_bench.cc)
target_link_libraries(kernels_bench PRIVATE gccl_static benchmark::benchmark)
target_include_directories(kernels_bench PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../src)
