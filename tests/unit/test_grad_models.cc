// grad_bench's models against their published sizes: a miscounted layer would change what the
// benchmark measures without any other sign.
#include <gtest/gtest.h>

#include "grad_models.h"

namespace gccl::perf {
namespace {

TEST(GradModels, ResNet50HasTorchvisionsTensors) {
  const auto model = gradModel("resnet50");
  ASSERT_TRUE(model.has_value());
  EXPECT_EQ(model->size(), 161u);
  EXPECT_EQ(totalParameters(*model), 25'557'032u);
}

TEST(GradModels, TransformerIsBertBase) {
  const auto model = gradModel("transformer");
  ASSERT_TRUE(model.has_value());
  EXPECT_EQ(model->size(), 199u);
  EXPECT_EQ(totalParameters(*model), 109'482'240u);
}

// Backward order: the last layer's gradients come first.
TEST(GradModels, TensorsAreInBackwardOrder) {
  const auto resnet = gradModel("resnet50");
  ASSERT_TRUE(resnet.has_value());
  EXPECT_EQ(resnet->front().name, "fc.bias");
  EXPECT_EQ(resnet->back().name, "conv1.weight");
  const auto bert = gradModel("transformer");
  ASSERT_TRUE(bert.has_value());
  EXPECT_EQ(bert->front().name, "pooler.dense.bias");
  EXPECT_EQ(bert->back().name, "embeddings.word_embeddings.weight");
}

TEST(GradModels, UnknownNameIsRefused) {
  EXPECT_FALSE(gradModel("resnet18").has_value());
}

}  // namespace
}  // namespace gccl::perf
