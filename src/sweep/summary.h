// What `fersweep plan` prints: grid dimensions, task counts, feature sharing, the backbone cost
// against naive per-epoch forward passes, and the task table (text, CSV or JSON).
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>

#include "sweep/census.h"
#include "sweep/plan.h"

namespace fersweep::sweep {

/// Images assumed per variant when the dataset cannot be read (SFEW's training set is ~675-958;
/// the demo dataset has 675).
inline constexpr std::size_t kAssumedImages = 675;

/// Forward GFLOPs of one image through a ResNet backbone at `image_size` (224: ResNet-18 1.81,
/// -34 3.66, -50 4.09, scaled by (S/224)^2).
double backbone_gflops(const std::string& backbone, int image_size);

/// Estimated backbone work of a plan.
struct CostEstimate {
  std::size_t images = kAssumedImages;  ///< images per variant used in the estimate
  bool counted = false;                 ///< images were counted in the dataset
  double extract_gflop = 0;             ///< every extraction task once: images × GFLOPs
  double naive_gflop = 0;  ///< forward passes a per-epoch pipeline would make: per train task,
                           ///< images × max(epochs) × GFLOPs
  /// Fine-tuning and augmented tasks: their trained blocks' forward and backward passes (~3
  /// forward passes), and on augmented images the frozen part's forward pass, over the images
  /// every epoch up to the last.
  double finetune_gflop = 0;
  std::size_t finetune_tasks = 0;   ///< tasks trained with autograd: fine-tuning or augmented
  std::size_t augmented_tasks = 0;  ///< of those, on augmented images (the frozen part per epoch)
};

/// The estimate for `plan`, with the image count of `census` when it found the dataset.
CostEstimate estimate_cost(const Plan& plan, const DatasetCensus& census);

/// "12.3 GFLOP", "4.56 TFLOP", ...
std::string format_flops(double gflop);

/// Human-readable summary; with `tasks`, followed by the task table.
std::string plan_text(const Plan& plan, const DatasetCensus& census, const CostEstimate& cost,
                      bool tasks);
/// CSV: with `tasks` one row per task (stage,id,needs,variant,backbone,...,epochs), else
/// key,value rows of the summary.
std::string plan_csv(const Plan& plan, const DatasetCensus& census, const CostEstimate& cost,
                     bool tasks);
/// JSON: the summary, the canonical sweep, and with `tasks` the three task lists.
nlohmann::json plan_json(const Plan& plan, const DatasetCensus& census, const CostEstimate& cost,
                         bool tasks);

}  // namespace fersweep::sweep
