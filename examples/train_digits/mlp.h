// A two-layer perceptron, 64 -> hidden (ReLU) -> 10 (softmax cross-entropy), written out by
// hand: a forward pass, a backward pass that hands each gradient over as soon as it is
// written (as a framework's autograd hook would), and a plain SGD step.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <span>
#include <vector>

#include "digits_data.h"

namespace digits {

// The parameters in the order backward produces their gradients: layer 2 first.
enum Tensor { kW2, kB2, kW1, kB1, kTensors };

using Gradients = std::array<std::span<float>, kTensors>;

class Mlp {
 public:
  // The same seed gives the same weights, bit for bit, in every process: std::mt19937's sequence
  // is fixed by the standard, and the conversion to float below is ours.
  Mlp(int hidden, uint32_t seed) : hidden_(hidden) {
    sizes_ = {static_cast<size_t>(kClasses) * hidden, static_cast<size_t>(kClasses),
              static_cast<size_t>(hidden) * kPixels, static_cast<size_t>(hidden)};
    std::mt19937 rng(seed);
    for (int t = 0; t < kTensors; ++t) {
      params_[t].assign(sizes_[t], 0.0f);
      if (t == kB1 || t == kB2) continue;  // biases start at zero
      const int fanIn = t == kW1 ? kPixels : hidden;
      const float bound = std::sqrt(6.0f / static_cast<float>(fanIn));  // He uniform
      for (float& w : params_[t]) {
        const float unit = static_cast<float>(rng() >> 8) * 0x1p-24f;  // [0, 1)
        w = (2.0f * unit - 1.0f) * bound;
      }
    }
  }

  static const char* name(int t) {
    static constexpr std::array<const char*, kTensors> kNames = {"fc2.weight", "fc2.bias",
                                                                 "fc1.weight", "fc1.bias"};
    return kNames[t];
  }
  static bool isBias(int t) { return t == kB1 || t == kB2; }
  size_t size(int t) const { return sizes_[t]; }
  std::span<float> param(int t) { return params_[t]; }
  std::span<const float> param(int t) const { return params_[t]; }

  // The mean cross-entropy gradient over `batch` (indices into `data`) is written into `grads`
  // (overwritten, not accumulated); `ready(t)` is called as soon as gradient t is complete.
  void backward(const Dataset& data, std::span<const int> batch, const Gradients& grads,
                const std::function<void(int)>& ready) const {
    const int n = static_cast<int>(batch.size());
    std::vector<float> hid(static_cast<size_t>(n) * hidden_);
    std::vector<float> dlogits(static_cast<size_t>(n) * kClasses);
    for (int s = 0; s < n; ++s) {
      float* h = &hid[static_cast<size_t>(s) * hidden_];
      float* d = &dlogits[static_cast<size_t>(s) * kClasses];
      forward(data.image(batch[s]), h, d);
      softmax(d);
      d[data.labels[batch[s]]] -= 1.0f;  // d loss / d logits = p - onehot
      for (int k = 0; k < kClasses; ++k) d[k] /= static_cast<float>(n);
    }
    // Layer 2: dW2 = dlogits^T h, db2 = sum dlogits.
    std::ranges::fill(grads[kW2], 0.0f);
    std::ranges::fill(grads[kB2], 0.0f);
    for (int s = 0; s < n; ++s) {
      const float* h = &hid[static_cast<size_t>(s) * hidden_];
      for (int k = 0; k < kClasses; ++k) {
        const float d = dlogits[static_cast<size_t>(s) * kClasses + k];
        for (int j = 0; j < hidden_; ++j) grads[kW2][k * hidden_ + j] += d * h[j];
        grads[kB2][k] += d;
      }
    }
    ready(kW2);
    ready(kB2);
    // Layer 1: dh = W2^T dlogits through the ReLU, dW1 = dh^T x, db1 = sum dh.
    std::ranges::fill(grads[kW1], 0.0f);
    std::ranges::fill(grads[kB1], 0.0f);
    std::vector<float> dh(hidden_);
    for (int s = 0; s < n; ++s) {
      const float* h = &hid[static_cast<size_t>(s) * hidden_];
      const float* x = data.image(batch[s]);
      for (int j = 0; j < hidden_; ++j) {
        float sum = 0.0f;
        for (int k = 0; k < kClasses; ++k) {
          sum += params_[kW2][k * hidden_ + j] * dlogits[static_cast<size_t>(s) * kClasses + k];
        }
        dh[j] = h[j] > 0.0f ? sum : 0.0f;
      }
      for (int j = 0; j < hidden_; ++j) {
        if (dh[j] == 0.0f) continue;
        float* row = &grads[kW1][static_cast<size_t>(j) * kPixels];
        for (int i = 0; i < kPixels; ++i) row[i] += dh[j] * x[i];
        grads[kB1][j] += dh[j];
      }
    }
    ready(kW1);
    ready(kB1);
  }

  void sgdStep(const Gradients& grads, float learningRate) {
    for (int t = 0; t < kTensors; ++t) {
      for (size_t i = 0; i < sizes_[t]; ++i) params_[t][i] -= learningRate * grads[t][i];
    }
  }

  int predict(const float* image) const {
    std::vector<float> h(hidden_);
    std::array<float, kClasses> logits;
    forward(image, h.data(), logits.data());
    return static_cast<int>(std::ranges::max_element(logits) - logits.begin());
  }

  float accuracy(const Dataset& data) const {
    int correct = 0;
    for (int s = 0; s < data.size(); ++s) correct += predict(data.image(s)) == data.labels[s];
    return static_cast<float>(correct) / static_cast<float>(data.size());
  }

 private:
  void forward(const float* x, float* h, float* logits) const {
    for (int j = 0; j < hidden_; ++j) {
      const float* row = &params_[kW1][static_cast<size_t>(j) * kPixels];
      float sum = params_[kB1][j];
      for (int i = 0; i < kPixels; ++i) sum += row[i] * x[i];
      h[j] = std::max(sum, 0.0f);
    }
    for (int k = 0; k < kClasses; ++k) {
      float sum = params_[kB2][k];
      for (int j = 0; j < hidden_; ++j) sum += params_[kW2][k * hidden_ + j] * h[j];
      logits[k] = sum;
    }
  }

  static void softmax(float* z) {
    const float top = *std::max_element(z, z + kClasses);
    float sum = 0.0f;
    for (int k = 0; k < kClasses; ++k) sum += z[k] = std::exp(z[k] - top);
    for (int k = 0; k < kClasses; ++k) z[k] /= sum;
  }

  int hidden_;
  std::array<size_t, kTensors> sizes_{};
  std::array<std::vector<float>, kTensors> params_;
};

}  // namespace digits
