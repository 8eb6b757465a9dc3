#include "grad_models.h"

#include <algorithm>

namespace gccl::perf {

namespace {

// Appends tensors in forward order; gradModel reverses them at the end.
class Builder {
 public:
  void weight(const std::string& name, size_t count) { tensors_.push_back({name, count, false}); }
  void vector(const std::string& name, size_t count) { tensors_.push_back({name, count, true}); }
  void conv(const std::string& name, size_t in, size_t out, size_t kernel) {
    weight(name + ".weight", out * in * kernel * kernel);
  }
  // A BatchNorm or LayerNorm: a scale and a shift per channel.
  void norm(const std::string& name, size_t channels) {
    vector(name + ".weight", channels);
    vector(name + ".bias", channels);
  }
  void linear(const std::string& name, size_t in, size_t out) {
    weight(name + ".weight", in * out);
    vector(name + ".bias", out);
  }
  std::vector<GradTensor> backwardOrder() {
    std::reverse(tensors_.begin(), tensors_.end());
    return std::move(tensors_);
  }

 private:
  std::vector<GradTensor> tensors_;
};

// torchvision's resnet50: convolutions without bias, each followed by a BatchNorm.
std::vector<GradTensor> resnet50() {
  Builder b;
  b.conv("conv1", 3, 64, 7);
  b.norm("bn1", 64);
  const size_t blocks[] = {3, 4, 6, 3};
  const size_t widths[] = {64, 128, 256, 512};
  size_t in = 64;
  for (int layer = 0; layer < 4; ++layer) {
    const size_t w = widths[layer];
    for (size_t block = 0; block < blocks[layer]; ++block) {
      const std::string p = "layer" + std::to_string(layer + 1) + "." + std::to_string(block);
      b.conv(p + ".conv1", in, w, 1);
      b.norm(p + ".bn1", w);
      b.conv(p + ".conv2", w, w, 3);
      b.norm(p + ".bn2", w);
      b.conv(p + ".conv3", w, 4 * w, 1);
      b.norm(p + ".bn3", 4 * w);
      if (block == 0) {  // the shortcut changes the width (and the stride)
        b.conv(p + ".downsample.0", in, 4 * w, 1);
        b.norm(p + ".downsample.1", 4 * w);
      }
      in = 4 * w;
    }
  }
  b.linear("fc", 2048, 1000);
  return b.backwardOrder();
}

// BERT-base as Hugging Face's BertModel holds it: embeddings, 12 encoder layers, the pooler
// (no pre-training heads).
std::vector<GradTensor> bertBase() {
  constexpr size_t kHidden = 768, kFfn = 3072, kLayers = 12;
  Builder b;
  b.weight("embeddings.word_embeddings.weight", 30522 * kHidden);
  b.weight("embeddings.position_embeddings.weight", 512 * kHidden);
  b.weight("embeddings.token_type_embeddings.weight", 2 * kHidden);
  b.norm("embeddings.LayerNorm", kHidden);
  for (size_t layer = 0; layer < kLayers; ++layer) {
    const std::string p = "encoder.layer." + std::to_string(layer);
    for (const char* projection : {".attention.self.query", ".attention.self.key",
                                   ".attention.self.value", ".attention.output.dense"}) {
      b.linear(p + projection, kHidden, kHidden);
    }
    b.norm(p + ".attention.output.LayerNorm", kHidden);
    b.linear(p + ".intermediate.dense", kHidden, kFfn);
    b.linear(p + ".output.dense", kFfn, kHidden);
    b.norm(p + ".output.LayerNorm", kHidden);
  }
  b.linear("pooler.dense", kHidden, kHidden);
  return b.backwardOrder();
}

}  // namespace

std::optional<std::vector<GradTensor>> gradModel(const std::string& name) {
  if (name == "resnet50") return resnet50();
  if (name == "transformer") return bertBase();
  return std::nullopt;
}

size_t totalParameters(const std::vector<GradTensor>& tensors) {
  size_t total = 0;
  for (const GradTensor& t : tensors) total += t.count;
  return total;
}

}  // namespace gccl::perf
