// The digits data set (examples/data/digits.txt, exported once from scikit-learn by
// examples/data/export_digits.py): 1797 8x8 images, pixels 0..16, labels 0..9.
#pragma once

#include <cstdio>
#include <fstream>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <vector>

namespace digits {

constexpr int kPixels = 64;
constexpr int kClasses = 10;

struct Dataset {
  std::vector<float> pixels;  // size() * kPixels, scaled to [0, 1]
  std::vector<int> labels;
  int size() const { return static_cast<int>(labels.size()); }
  const float* image(int i) const { return pixels.data() + static_cast<size_t>(i) * kPixels; }
};

// Reads the text file: '#' lines are comments, every other line is 64 pixels then the label.
// Returns false, with a message on stderr, on any malformed line.
inline bool loadDigits(const std::string& path, Dataset& out) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "cannot open %s\n", path.c_str());
    return false;
  }
  std::string line;
  for (int lineNo = 1; std::getline(in, line); ++lineNo) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    int value = 0;
    int n = 0;
    for (; n <= kPixels && fields >> value; ++n) {
      const int max = n < kPixels ? 16 : kClasses - 1;
      if (value < 0 || value > max) break;
      if (n < kPixels) {
        out.pixels.push_back(static_cast<float>(value) / 16.0f);
      } else {
        out.labels.push_back(value);
      }
    }
    if (n != kPixels + 1 || fields >> value) {
      std::fprintf(stderr, "%s:%d: expected 64 pixels 0..16 and a label 0..9\n", path.c_str(),
                   lineNo);
      return false;
    }
  }
  return true;
}

// Fisher-Yates with the raw generator, so that every rank (and every platform) draws the same
// order: how std::shuffle uses its generator is left to the implementation.
inline void shuffle(std::vector<int>& order, std::mt19937& rng) {
  for (size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[rng() % (i + 1)]);
}

// The samples of `all` at `indices`, in that order.
inline Dataset subset(const Dataset& all, std::span<const int> indices) {
  Dataset part;
  for (int i : indices) {
    part.pixels.insert(part.pixels.end(), all.image(i), all.image(i) + kPixels);
    part.labels.push_back(all.labels[i]);
  }
  return part;
}

}  // namespace digits
