#include "train/stored_activations.h"

#include <torch/torch.h>

#include "core/error.h"

namespace fersweep::train {

StoredActivations::StoredActivations(const store::FeatureSet& set,
                                     std::vector<std::int64_t> row_shape)
    : reader_(*set.on_disk, set.n, set.dim), n_(set.n), row_shape_(std::move(row_shape)) {
  std::int64_t per_row = 1;
  for (std::int64_t d : row_shape_) per_row *= d;
  FERSWEEP_ASSERT(per_row == set.dim, "row shape does not match the stored rows");
}

at::Tensor StoredActivations::gather(const std::vector<std::size_t>& idx) const {
  std::vector<std::int64_t> shape = row_shape_;
  shape.insert(shape.begin(), static_cast<std::int64_t>(idx.size()));
  at::Tensor out = torch::empty(shape, torch::kFloat32);
  reader_.gather(idx, out.data_ptr<float>());
  return out;
}

}  // namespace fersweep::train
