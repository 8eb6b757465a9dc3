# Side-by-side baselines for gccl's perf tools: the same sweeps through Gloo (TCP) and through
# Open MPI, allreduce by default, the other collectives with --collective NAME. Included by
# perf/CMakeLists.txt. Both tools are optional: a missing package skips its tool with a
# message, never fails the configure.

option(GCCL_BUILD_BASELINES "Build the Gloo and MPI allreduce_perf baselines" ON)

if(GCCL_BUILD_BASELINES)
  set(_baselines_dir ${CMAKE_CURRENT_LIST_DIR})

  # Standard and output folder shared by the tools (warning flags: the project's).
  function(_gccl_baseline_tool target)
    target_compile_features(${target} PRIVATE cxx_std_20)
    set_target_properties(${target} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
  endfunction()

  add_library(gccl_perf_baseline_common STATIC
    ${_baselines_dir}/perf_args.cc
    ${_baselines_dir}/perf_collective.cc
    ${_baselines_dir}/perf_report.cc
    ${_baselines_dir}/perf_types.cc)
  target_compile_features(gccl_perf_baseline_common PUBLIC cxx_std_20)

  # The raw TCP ring: what the wire allows, with no library in the way.
  add_executable(tcp_stream_perf
    ${_baselines_dir}/tcp_stream_perf.cc
    ${_baselines_dir}/local_ranks.cc)
  target_link_libraries(tcp_stream_perf PRIVATE gccl_perf_baseline_common)
  _gccl_baseline_tool(tcp_stream_perf)

  # Gloo: Debian's libgloo-dev is a shared library that carries its own hiredis and ibverbs
  # dependencies, so only gloo itself and threads are linked here.
  find_library(GLOO_LIBRARY gloo)
  find_path(GLOO_INCLUDE_DIR gloo/context.h)
  set(THREADS_PREFER_PTHREAD_FLAG ON)  # gloo runs a device thread: build with -pthread
  find_package(Threads)
  if(GLOO_LIBRARY AND GLOO_INCLUDE_DIR AND Threads_FOUND)
    add_executable(gloo_allreduce_perf
      ${_baselines_dir}/gloo_allreduce_perf.cc
      ${_baselines_dir}/local_ranks.cc)
    # SYSTEM: gloo's headers are not -Wextra clean and must not break -Werror.
    target_include_directories(gloo_allreduce_perf SYSTEM PRIVATE ${GLOO_INCLUDE_DIR})
    target_link_libraries(gloo_allreduce_perf PRIVATE
      gccl_perf_baseline_common ${GLOO_LIBRARY} Threads::Threads)
    _gccl_baseline_tool(gloo_allreduce_perf)
    message(STATUS "baselines: gloo_allreduce_perf (${GLOO_LIBRARY})")
    # grad_bench's Gloo row: the same model tensors (grad_models.cc, no gccl inside).
    add_executable(gloo_grad_bench
      ${_baselines_dir}/gloo_grad_bench.cc
      ${_baselines_dir}/local_ranks.cc
      ${_baselines_dir}/../grad_models.cc)
    target_include_directories(gloo_grad_bench SYSTEM PRIVATE ${GLOO_INCLUDE_DIR})
    target_link_libraries(gloo_grad_bench PRIVATE ${GLOO_LIBRARY} Threads::Threads)
    _gccl_baseline_tool(gloo_grad_bench)
  else()
    message(STATUS "baselines: gloo not found, skipping gloo_allreduce_perf and gloo_grad_bench")
  endif()

  # MPI: only the C API is used; skipping the old C++ bindings keeps -Wextra quiet.
  set(MPI_CXX_SKIP_MPICXX ON)
  find_package(MPI COMPONENTS CXX QUIET)
  if(MPI_CXX_FOUND)
    add_executable(mpi_allreduce_perf ${_baselines_dir}/mpi_allreduce_perf.cc)
    target_link_libraries(mpi_allreduce_perf PRIVATE gccl_perf_baseline_common MPI::MPI_CXX)
    _gccl_baseline_tool(mpi_allreduce_perf)
    message(STATUS "baselines: mpi_allreduce_perf (MPI ${MPI_CXX_VERSION})")
  else()
    message(STATUS "baselines: MPI not found, skipping mpi_allreduce_perf")
  endif()
endif()
