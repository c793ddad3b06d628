// Stratified folds (algorithm in folds.h and docs/datasets.md).
#include "data/folds.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"
#include "data/random.h"

namespace fersweep::data {

std::vector<int> stratified_fold_assignment(const std::vector<int>& labels, int folds,
                                            std::uint64_t seed) {
  if (folds < 2)
    throw ConfigError(fmt::format("cross-validation needs at least 2 folds, got {}", folds));
  if (labels.size() < static_cast<std::size_t>(folds))
    throw DataError(fmt::format("cannot split {} images into {} folds", labels.size(), folds));
  int classes = 0;
  for (int l : labels) {
    if (l < 0) throw ConfigError(fmt::format("negative label {} in fold assignment", l));
    classes = std::max(classes, l + 1);
  }
  std::vector<std::vector<std::size_t>> members(static_cast<std::size_t>(classes));
  for (std::size_t i = 0; i < labels.size(); ++i)
    members[static_cast<std::size_t>(labels[i])].push_back(i);

  std::vector<int> assignment(labels.size(), -1);
  std::size_t dealt = 0;  // continues across classes, which balances the fold sizes
  for (int c = 0; c < classes; ++c) {
    auto& idx = members[static_cast<std::size_t>(c)];
    // One independent stream per class: a class's folds do not depend on the other classes' sizes.
    Rng rng(derive_seed(seed, static_cast<std::uint64_t>(c)));
    shuffle(idx, rng);
    for (std::size_t k = 0; k < idx.size(); ++k)
      assignment[idx[k]] = static_cast<int>((dealt + k) % static_cast<std::size_t>(folds));
    dealt += idx.size();
  }
  return assignment;
}

FoldSplit fold_split(const std::vector<int>& assignment, int fold) {
  int folds = 0;
  for (int a : assignment) folds = std::max(folds, a + 1);
  if (fold < 0 || fold >= folds)
    throw ConfigError(fmt::format("fold {} out of range (0..{})", fold, folds - 1));
  FoldSplit split;
  for (std::size_t i = 0; i < assignment.size(); ++i)
    (assignment[i] == fold ? split.test : split.train).push_back(i);
  return split;
}

}  // namespace fersweep::data
