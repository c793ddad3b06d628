// An activation store's rows read from disk a batch at a time (store::RowReader): a fine-tuning
// task holds one batch of them, not the set.
#pragma once

#include <vector>

#include "store/features_file.h"
#include "train/finetune.h"

namespace fersweep::train {

class StoredActivations : public ActivationSource {
 public:
  /// `set` must have its rows on disk; `row_shape` is one row's shape ([C, H, W]), whose product
  /// is set.dim.
  StoredActivations(const store::FeatureSet& set, std::vector<std::int64_t> row_shape);
  std::int64_t rows() const override { return n_; }
  at::Tensor gather(const std::vector<std::size_t>& idx) const override;

 private:
  store::RowReader reader_;
  std::int64_t n_;
  std::vector<std::int64_t> row_shape_;
};

}  // namespace fersweep::train
