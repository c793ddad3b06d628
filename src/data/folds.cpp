// Stratified folds (algorithm in folds.h and docs/datasets.md).
#include "data/folds.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

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

std::vector<int> stratified_group_fold_assignment(const std::vector<int>& labels,
                                                  const std::vector<std::string>& groups, int folds,
                                                  std::uint64_t seed) {
  if (folds < 2)
    throw ConfigError(fmt::format("cross-validation needs at least 2 folds, got {}", folds));
  FERSWEEP_ASSERT(labels.size() == groups.size(), "one group per label");
  int classes = 0;
  for (int l : labels) classes = std::max(classes, l + 1);
  std::map<std::string, std::vector<std::size_t>> members;  // sorted by name
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (groups[i].empty())
      throw ConfigError(
          fmt::format("sample {} has no subject, so it cannot be kept in one fold", i));
    members[groups[i]].push_back(i);
  }
  if (members.size() < static_cast<std::size_t>(folds))
    throw DataError(
        fmt::format("{} subjects cannot fill {} subject-disjoint folds (at least one "
                    "subject per fold; use cv.folds: {} or fewer)",
                    members.size(), folds, members.size()));
  std::vector<const std::vector<std::size_t>*> order;
  for (const auto& [name, idx] : members) order.push_back(&idx);
  Rng rng(seed);
  shuffle(order, rng);
  std::stable_sort(order.begin(), order.end(),
                   [](const auto* a, const auto* b) { return a->size() > b->size(); });

  std::vector<double> total(static_cast<std::size_t>(classes), 0.0);
  for (int l : labels) total[static_cast<std::size_t>(l)] += 1;
  std::vector<std::vector<double>> count(static_cast<std::size_t>(folds),
                                         std::vector<double>(total.size(), 0.0));
  std::vector<std::size_t> size(static_cast<std::size_t>(folds), 0);
  std::vector<int> assignment(labels.size(), -1);
  for (const auto* idx : order) {
    std::vector<double> mine(total.size(), 0.0);
    for (std::size_t i : *idx) mine[static_cast<std::size_t>(labels[i])] += 1;
    std::size_t best = 0;
    double best_cost = 0;
    for (std::size_t f = 0; f < count.size(); ++f) {
      double cost = 0;
      for (std::size_t c = 0; c < total.size(); ++c)
        if (mine[c] > 0) cost += count[f][c] / total[c];
      if (f == 0 || cost < best_cost || (cost == best_cost && size[f] < size[best])) {
        best = f;
        best_cost = cost;
      }
    }
    for (std::size_t c = 0; c < total.size(); ++c) count[best][c] += mine[c];
    size[best] += idx->size();
    for (std::size_t i : *idx) assignment[i] = static_cast<int>(best);
  }
  return assignment;
}

std::vector<int> official_split_assignment(const std::vector<std::string>& splits,
                                           const std::string& train, const std::string& test) {
  std::vector<int> assignment(splits.size(), -1);
  std::size_t n_train = 0, n_test = 0;
  for (std::size_t i = 0; i < splits.size(); ++i) {
    if (splits[i] == test) {
      assignment[i] = 0;
      ++n_test;
    } else if (splits[i] == train) {
      assignment[i] = 1;
      ++n_train;
    }
  }
  if (n_train == 0 || n_test == 0)
    throw DataError(
        fmt::format("the official split has {} training samples ({}) and {} test "
                    "samples ({}); both parts need some",
                    n_train, train, n_test, test));
  return assignment;
}

FoldSplit fold_split(const std::vector<int>& assignment, int fold) {
  int folds = 0;
  for (int a : assignment) folds = std::max(folds, a + 1);
  if (fold < 0 || fold >= folds)
    throw ConfigError(fmt::format("fold {} out of range (0..{})", fold, folds - 1));
  FoldSplit split;
  for (std::size_t i = 0; i < assignment.size(); ++i) {
    if (assignment[i] < 0) continue;
    (assignment[i] == fold ? split.test : split.train).push_back(i);
  }
  return split;
}

std::uint64_t validation_seed(std::uint64_t cv_seed, int fold) {
  // A stream of its own, apart from the per-class streams the folds draw from cv_seed.
  return derive_seed(cv_seed ^ 0x76616c6964617465ULL, static_cast<std::uint64_t>(fold));
}

std::vector<std::size_t> validation_part(const std::vector<int>& labels,
                                         const std::vector<std::string>& groups, double fraction,
                                         std::uint64_t seed) {
  if (!(fraction > 0 && fraction <= 0.5))
    throw ConfigError(fmt::format("select.val_fraction must be in (0, 0.5], got {}", fraction));
  std::vector<std::size_t> part;
  if (!groups.empty()) {
    FERSWEEP_ASSERT(groups.size() == labels.size(), "one group per label");
    const int parts = static_cast<int>(std::lround(1.0 / fraction));
    const std::set<std::string> subjects(groups.begin(), groups.end());
    if (subjects.size() < static_cast<std::size_t>(parts))
      throw DataError(fmt::format(
          "select.val_fraction {} sets aside 1 of {} subject-disjoint parts of the training fold, "
          "which has only {} subjects",
          fraction, parts, subjects.size()));
    const auto assignment = stratified_group_fold_assignment(labels, groups, parts, seed);
    for (std::size_t i = 0; i < assignment.size(); ++i)
      if (assignment[i] == 0) part.push_back(i);
    return part;
  }
  int classes = 0;
  for (int l : labels) {
    if (l < 0) throw ConfigError(fmt::format("negative label {} in a validation split", l));
    classes = std::max(classes, l + 1);
  }
  std::vector<std::vector<std::size_t>> members(static_cast<std::size_t>(classes));
  for (std::size_t i = 0; i < labels.size(); ++i)
    members[static_cast<std::size_t>(labels[i])].push_back(i);
  for (int c = 0; c < classes; ++c) {
    auto& idx = members[static_cast<std::size_t>(c)];
    if (idx.size() < 2) continue;  // a class keeps a training sample
    Rng rng(derive_seed(seed, static_cast<std::uint64_t>(c)));
    shuffle(idx, rng);
    const auto want = static_cast<std::size_t>(std::floor(fraction * idx.size() + 0.5));
    part.insert(part.end(), idx.begin(),
                idx.begin() + static_cast<std::ptrdiff_t>(std::min(want, idx.size() - 1)));
  }
  if (part.empty())
    throw DataError(
        fmt::format("select.val_fraction {} sets aside no sample of a training fold of {} samples",
                    fraction, labels.size()));
  std::sort(part.begin(), part.end());
  return part;
}

}  // namespace fersweep::data
