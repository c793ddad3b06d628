// Stratified k-fold cross-validation that gives the same folds on every rank, run and machine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fersweep::data {

/// Fold id (0..folds-1) of every image, stratified by label. Per class (in label order), the
/// class's images are shuffled with a seeded xoshiro256** Fisher-Yates shuffle and dealt to the
/// folds round-robin, each class starting at the fold after the one where the previous class
/// stopped. So each test fold holds floor or ceil of (class count / folds) of every class, and fold
/// sizes differ by at most one. Different seeds give different folds (repeated CV). ConfigError
/// when folds < 2 or a label is negative; DataError when there are fewer images than folds.
std::vector<int> stratified_fold_assignment(const std::vector<int>& labels, int folds,
                                            std::uint64_t seed);

/// Training and test indices of one fold, each in increasing order.
struct FoldSplit {
  std::vector<std::size_t> train, test;
};

/// Splits an assignment: images of fold `fold` are the test set, the rest the training set.
FoldSplit fold_split(const std::vector<int>& assignment, int fold);

}  // namespace fersweep::data
