#include "sparse/error_feedback.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "fp16/codec.h"
#include "sparse/chunk_select.h"

namespace gccl {

size_t payloadElementSize(SparsePayload payload) {
  return payload == SparsePayload::kFloat16 ? 2 : 4;
}

void accumulateResidual(float* v, float* u, const float* g, size_t count, float momentum) {
  if (momentum == 0.0f || u == nullptr) {
    for (size_t i = 0; i < count; ++i) v[i] += g[i];
    return;
  }
  for (size_t i = 0; i < count; ++i) {
    u[i] = momentum * u[i] + g[i];
    v[i] += u[i];
  }
}

void accumulateResidualAndNorms(float* v, float* u, const float* g, size_t count, float momentum,
                                size_t chunk, float* norms) {
  for (size_t c = 0, begin = 0; begin < count; ++c, begin += chunk) {
    const size_t n = std::min(count, begin + chunk) - begin;
    accumulateResidual(v + begin, u == nullptr ? nullptr : u + begin, g + begin, n, momentum);
    norms[c] = l1Norm(v + begin, n);
  }
}

size_t packChunks(SparsePayload payload, void* wire, float* v, float* u, size_t count, size_t chunk,
                  const std::vector<size_t>& picked) {
  auto* out = static_cast<std::byte*>(wire);
  const size_t element = payloadElementSize(payload);
  std::vector<float> sent(payload == SparsePayload::kFloat16 ? std::min(chunk, count) : 0);
  size_t packed = 0;
  for (const size_t c : picked) {
    const size_t begin = c * chunk;
    const size_t n = std::min(count, begin + chunk) - begin;
    std::byte* dst = out + packed * element;
    if (payload == SparsePayload::kFloat32) {
      std::memcpy(dst, v + begin, n * sizeof(float));
      std::fill(v + begin, v + begin + n, 0.0f);
    } else {
      // What the peers will see is widen(round(V)); the difference is the error fed back.
      encode(HalfFormat::kFloat16, dst, v + begin, n);
      decode(HalfFormat::kFloat16, sent.data(), dst, n);
      for (size_t i = 0; i < n; ++i) {
        v[begin + i] = std::isfinite(sent[i]) ? v[begin + i] - sent[i] : 0.0f;
      }
    }
    if (u != nullptr) std::fill(u + begin, u + begin + n, 0.0f);
    packed += n;
  }
  return packed;
}

bool dropNonFiniteUnsent(float* v, float* u, size_t count, size_t chunk,
                         const std::vector<float>& norms, const std::vector<size_t>& picked) {
  bool dropped = false;
  for (size_t c = 0; c < norms.size(); ++c) {
    if (std::isfinite(norms[c]) || std::binary_search(picked.begin(), picked.end(), c)) continue;
    dropped = true;
    const size_t begin = c * chunk;
    const size_t end = std::min(count, begin + chunk);
    for (size_t i = begin; i < end; ++i) {
      if (!std::isfinite(v[i])) v[i] = 0.0f;
      if (u != nullptr && !std::isfinite(u[i])) u[i] = 0.0f;
    }
  }
  return dropped;
}

void unpackChunks(SparsePayload payload, float* grad, const void* wire, size_t count, size_t chunk,
                  const std::vector<size_t>& picked, bool* nonFinite) {
  const auto* in = static_cast<const std::byte*>(wire);
  const size_t element = payloadElementSize(payload);
  std::fill(grad, grad + count, 0.0f);
  size_t packed = 0;
  for (const size_t c : picked) {
    const size_t begin = c * chunk;
    const size_t n = std::min(count, begin + chunk) - begin;
    const std::byte* src = in + packed * element;
    if (payload == SparsePayload::kFloat32) {
      std::memcpy(grad + begin, src, n * sizeof(float));
      for (size_t i = 0; i < n && nonFinite != nullptr; ++i) {
        if (!std::isfinite(grad[begin + i])) *nonFinite = true;
      }
    } else {
      decode(HalfFormat::kFloat16, grad + begin, src, n, nonFinite);
    }
    packed += n;
  }
}

}  // namespace gccl
