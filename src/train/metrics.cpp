// Accuracy, macro-F1 (sklearn's default label set), per-class recall and the confusion matrix.
#include "train/metrics.h"

#include <cmath>
#include <limits>
#include <string>

#include "core/error.h"

namespace fersweep::train {

EvalMetrics evaluate(const std::vector<std::int64_t>& predicted,
                     const std::vector<std::int64_t>& truth, int num_classes) {
  if (num_classes < 1)
    throw ConfigError("evaluate: num_classes must be >= 1, got " + std::to_string(num_classes));
  if (predicted.size() != truth.size())
    throw DataError("evaluate: " + std::to_string(predicted.size()) + " predictions for " +
                    std::to_string(truth.size()) + " labels");
  const auto c = static_cast<std::size_t>(num_classes);
  EvalMetrics m;
  m.confusion.assign(c * c, 0);
  for (std::size_t i = 0; i < truth.size(); ++i) {
    const auto t = truth[i], p = predicted[i];
    if (t < 0 || t >= num_classes || p < 0 || p >= num_classes)
      throw DataError("evaluate: sample " + std::to_string(i) + " has label " + std::to_string(t) +
                      " / prediction " + std::to_string(p) + " outside [0, " +
                      std::to_string(num_classes) + ")");
    ++m.confusion[static_cast<std::size_t>(t) * c + static_cast<std::size_t>(p)];
  }
  std::int64_t correct = 0;
  double f1_sum = 0;
  int f1_classes = 0;
  m.per_class_recall.assign(c, std::numeric_limits<double>::quiet_NaN());
  for (std::size_t k = 0; k < c; ++k) {
    std::int64_t row = 0, col = 0;
    for (std::size_t j = 0; j < c; ++j) {
      row += m.confusion[k * c + j];
      col += m.confusion[j * c + k];
    }
    const std::int64_t tp = m.confusion[k * c + k];
    correct += tp;
    if (row > 0) m.per_class_recall[k] = static_cast<double>(tp) / static_cast<double>(row);
    // A class absent from both truth and predictions says nothing; sklearn leaves it out too.
    if (row + col > 0) {
      f1_sum += 2.0 * static_cast<double>(tp) / static_cast<double>(row + col);
      ++f1_classes;
    }
  }
  m.accuracy =
      truth.empty() ? 0.0 : static_cast<double>(correct) / static_cast<double>(truth.size());
  m.macro_f1 = f1_classes > 0 ? f1_sum / f1_classes : 0.0;
  return m;
}

}  // namespace fersweep::train
