// Stratified k-fold cross-validation that gives the same folds on every rank, run and machine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
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

/// Fold id (0..folds-1) of every sample such that no group (subject) has samples in two folds,
/// stratified by label as far as whole groups allow. Groups are ordered by a seeded shuffle of
/// their sorted names, then stably by size, largest first; each goes to the fold where it adds
/// least to its classes' shares (sum over its classes of the fold's count / the class's total),
/// ties to the smaller fold, then the lower fold number. Deterministic on every machine; an empty
/// fold is always filled first, so every fold gets a group. DataError naming both counts when
/// there are fewer groups than folds; ConfigError when a sample has no group.
std::vector<int> stratified_group_fold_assignment(const std::vector<int>& labels,
                                                  const std::vector<std::string>& groups, int folds,
                                                  std::uint64_t seed);

/// The dataset's own split as an assignment: samples of `test` are fold 0, those of `train`
/// fold 1, the rest -1 (in neither part). DataError when either part is empty.
std::vector<int> official_split_assignment(const std::vector<std::string>& splits,
                                           const std::string& train, const std::string& test);

/// The seed of the validation part of fold `fold` under a split seeded `cv_seed`: every
/// configuration trained on that fold sets aside the same samples, so their validation scores
/// compare.
std::uint64_t validation_seed(std::uint64_t cv_seed, int fold);

/// The validation part of a training fold (select.val_fraction): positions into `labels`, the
/// training fold's labels in its order, sorted. Without groups (`groups` empty): per class, in
/// label order, the class's positions are shuffled with its own seeded xoshiro256** stream and
/// the first round(fraction × count) are validation, at most count − 1 (a class keeps a
/// training sample). With groups (subjects, one per label): fold 0 of
/// stratified_group_fold_assignment over round(1 / fraction) folds, so no subject is on both
/// sides and the share is 1/round(1/fraction). The same on every machine. ConfigError unless
/// 0 < fraction <= 0.5; DataError when there are too few subjects, or no sample is set aside.
std::vector<std::size_t> validation_part(const std::vector<int>& labels,
                                         const std::vector<std::string>& groups, double fraction,
                                         std::uint64_t seed);

/// Training and test indices of one fold, each in increasing order.
struct FoldSplit {
  std::vector<std::size_t> train, test;
};

/// Splits an assignment: images of fold `fold` are the test set, the rest the training set
/// (samples assigned -1 are in neither).
FoldSplit fold_split(const std::vector<int>& assignment, int fold);

}  // namespace fersweep::data
