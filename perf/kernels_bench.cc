// Throughput of the reduction kernels and fp16/bf16 codecs beside memcpy, at a cache-resident
// size, at gccl's default slice (1 MiB, what the ring reduces at a time; the simulator's
// calibration reads it) and at a memory-bound size. Runs on activeSimdLevel():
// GCCL_SIMD=avx512|avx2|scalar picks it.
//
// Names are kernel/dtype/bytes, `bytes` being the size of the one buffer of `dtype` elements
// (for codecs the 16-bit buffer; the fp32 side is twice as large). bytes_per_second counts every
// byte the kernel moves to or from memory, so the GB/s of different kernels compare per byte of
// traffic:
//   memcpy            read 1 + write 1 buffer                      = 2 x bytes
//   reduce            dst = dst op src: read 2 + write 1           = 3 x bytes
//   encode            read fp32 (2x) + write 16-bit (1x)           = 3 x bytes
//   decode            read 16-bit (1x) + write fp32 (2x)           = 3 x bytes
//   decodeAccumulate  read fp32 + 16-bit, write fp32 (2 + 1 + 2)   = 5 x bytes
//   accumulateEncode  read fp32 + 16-bit, write 16-bit (2 + 1 + 1) = 4 x bytes
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>

#include "base/config.h"
#include "base/simd.h"
#include "fp16/codec.h"
#include "fp16/half.h"
#include "reduce/reduce.h"

namespace gccl {
namespace {

constexpr size_t kSizes[] = {size_t{4} << 10, size_t{1} << 20, size_t{64} << 20};

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using Memory = std::unique_ptr<unsigned char, FreeDeleter>;

// Cache-line aligned, and filled with ordinary values (1.0 in every format, so no NaN, inf or
// subnormal can slow a path down) to fault every page in before timing.
Memory filledBuffer(size_t bytes, DataType type) {
  Memory m(static_cast<unsigned char*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
  const size_t n = bytes / dataTypeSize(type);
  if (type == DataType::kFloat32) {
    const float one = 1.0f;
    for (size_t i = 0; i < n; ++i) std::memcpy(m.get() + 4 * i, &one, 4);
  } else if (type == DataType::kFloat16 || type == DataType::kBfloat16) {
    const uint16_t one = type == DataType::kFloat16 ? floatToHalf(1.0f) : floatToBfloat16(1.0f);
    for (size_t i = 0; i < n; ++i) std::memcpy(m.get() + 2 * i, &one, 2);
  } else {
    std::memset(m.get(), 1, bytes);
  }
  return m;
}

// Registers name = kernel/dtype/bytes; body(state) runs the timed loop; traffic in buffers.
void add(const std::string& kernel, DataType type, size_t bytes, double traffic,
         const std::function<void(benchmark::State&)>& body) {
  const std::string name =
      kernel + "/" + std::string(dataTypeName(type)) + "/" + std::to_string(bytes);
  benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& state) {
    body(state);
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * traffic * bytes));
  });
}

void addMemcpy(size_t bytes) {
  add("memcpy", DataType::kUint8, bytes, 2, [bytes](benchmark::State& state) {
    Memory dst = filledBuffer(bytes, DataType::kUint8), src = filledBuffer(bytes, DataType::kUint8);
    for (auto _ : state) {
      std::memcpy(dst.get(), src.get(), bytes);
      benchmark::ClobberMemory();
    }
  });
}

void addReduce(ReduceOp op, DataType type, size_t bytes) {
  add(std::string(reduceOpName(op)), type, bytes, 3, [=](benchmark::State& state) {
    Memory dst = filledBuffer(bytes, type), src = filledBuffer(bytes, type);
    const size_t count = bytes / dataTypeSize(type);
    for (auto _ : state) {
      reduceInto(type, op, dst.get(), src.get(), count);
      benchmark::ClobberMemory();
    }
  });
}

DataType typeOf(HalfFormat format) {
  return format == HalfFormat::kFloat16 ? DataType::kFloat16 : DataType::kBfloat16;
}

void addCodecs(HalfFormat format, size_t bytes) {
  const DataType type = typeOf(format);
  const size_t count = bytes / 2;
  auto buffers = [=] {
    return std::pair{filledBuffer(2 * bytes, DataType::kFloat32), filledBuffer(bytes, type)};
  };
  add("encode", type, bytes, 3, [=](benchmark::State& state) {
    auto [wide, narrow] = buffers();
    const auto* src = reinterpret_cast<const float*>(wide.get());
    for (auto _ : state) {
      encode(format, narrow.get(), src, count, 0.5f);
      benchmark::ClobberMemory();
    }
  });
  add("decode", type, bytes, 3, [=](benchmark::State& state) {
    auto [wide, narrow] = buffers();
    auto* dst = reinterpret_cast<float*>(wide.get());
    for (auto _ : state) {
      decode(format, dst, narrow.get(), count);
      benchmark::ClobberMemory();
    }
  });
  add("decodeAccumulate", type, bytes, 5, [=](benchmark::State& state) {
    auto [wide, narrow] = buffers();
    auto* acc = reinterpret_cast<float*>(wide.get());
    bool flag = false;
    for (auto _ : state) {
      decodeAccumulate(format, acc, narrow.get(), count, 0.0f, &flag);  // acc stays 1.0
      benchmark::ClobberMemory();
    }
  });
  add("accumulateEncode", type, bytes, 4, [=](benchmark::State& state) {
    auto [wide, narrow] = buffers();
    const auto* acc = reinterpret_cast<const float*>(wide.get());
    bool flag = false;
    for (auto _ : state) {
      accumulateEncode(format, narrow.get(), acc, narrow.get(), count, 0.0f, &flag);
      benchmark::ClobberMemory();
    }
  });
}

void registerAll() {
  for (size_t bytes : kSizes) {
    addMemcpy(bytes);
    for (DataType type : {DataType::kFloat32, DataType::kFloat16, DataType::kBfloat16,
                          DataType::kFloat64, DataType::kInt32, DataType::kInt8}) {
      addReduce(ReduceOp::kSum, type, bytes);
    }
    for (ReduceOp op : {ReduceOp::kProd, ReduceOp::kMin, ReduceOp::kMax}) {
      addReduce(op, DataType::kFloat32, bytes);
    }
    addCodecs(HalfFormat::kFloat16, bytes);
    addCodecs(HalfFormat::kBfloat16, bytes);
  }
}

}  // namespace
}  // namespace gccl

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // The kernels read no configuration: GCCL_SIMD is applied here, as a communicator does.
  const gccl::Config config = gccl::configFromEnvironment(gccl::processEnvironment());
  if (const auto forced = gccl::parseSimdLevel(config.simd)) gccl::setSimdLevel(*forced);
  const std::string_view level = gccl::simdLevelName(gccl::activeSimdLevel());
  benchmark::AddCustomContext("gccl_simd", std::string(level));
  gccl::registerAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
