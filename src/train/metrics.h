// Classification metrics from predictions: accuracy, macro-F1, per-class recall, confusion matrix.
#pragma once

#include <cstdint>
#include <vector>

namespace fersweep::train {

/// The evaluation of a head on its test fold after some number of epochs.
struct EvalMetrics {
  int epoch = 0;                         ///< epochs trained when evaluated
  double accuracy = 0;                   ///< fraction of test samples predicted correctly
  double macro_f1 = 0;                   ///< mean F1 over classes present in truth or predictions
  double test_loss = 0;                  ///< mean cross-entropy on the test fold (no smoothing)
  std::vector<double> per_class_recall;  ///< per class; NaN for a class absent from the truth
  std::vector<std::int64_t> confusion;   ///< C*C counts, row-major, row = true, column = predicted
};

/// Metrics of `predicted` against `truth` (same length, values in [0, num_classes)); epoch and
/// test_loss are left 0 for the caller. Throws DataError on a length mismatch or a bad label.
EvalMetrics evaluate(const std::vector<std::int64_t>& predicted,
                     const std::vector<std::int64_t>& truth, int num_classes);

}  // namespace fersweep::train
