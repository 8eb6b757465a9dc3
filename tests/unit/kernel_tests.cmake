# Kernel unit tests (reductions, SIMD selection, fp16/bf16 codecs), included from
# tests/CMakeLists.txt. Needs the target gccl_static; every test runs each SIMD level the CPU
# supports, so one binary covers scalar, AVX2 and AVX-512.
if(NOT TARGET GTest::gtest_main)
  find_package(GTest REQUIRED)
endif()
include(GoogleTest)

add_executable(test_kernels
  ${CMAKE_CURRENT_LIST_DIR}/test_simd.cc
  ${CMAKE_CURRENT_LIST_DIR}/test_reduce_kernels.cc
  ${CMAKE_CURRENT_LIST_DIR}/test_reduce_rules.cc
  ${CMAKE_CURRENT_LIST_DIR}/test_reduce_average.cc
  ${CMAKE_CURRENT_LIST_DIR}/test_reduce_to_all.cc
  ${CMAKE_CURRENT_LIST_DIR}/test_half_codec.cc
  ${CMAKE_CURRENT_LIST_DIR}/test_codec_ops.cc)
target_link_libraries(test_kernels PRIVATE gccl_static GTest::gtest_main)
# The tests reach internal headers (reduce/reduce_kernels.h) and their own helpers.
target_include_directories(test_kernels PRIVATE ${CMAKE_CURRENT_LIST_DIR}
                                                ${CMAKE_CURRENT_LIST_DIR}/../../src)
gtest_discover_tests(test_kernels DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT ${GCCL_TEST_TIMEOUT})
