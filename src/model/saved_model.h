// The trained network of a task, kept by a sweep (run.keep_models): one file that Python's
// torch.load reads as a dict and load_saved_model reads here.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "model/checkpoint.h"

namespace fersweep::model {

/// What a kept model holds. The file is torch::pickle_save of a dict:
///   format "fersweep-model-1", task_id, params (the task's parameters, JSON text), classes
///   (list of names, the label order), epoch (epochs trained), state_dict (name → tensor, under
///   torchvision's names: fc.weight/fc.bias for a linear head, fc.0.* and fc.2.* for an mlp
///   head, layerN.* for fine-tuned blocks, BatchNorm buffers included), frozen (the frozen
///   part's provenance, JSON text: backbone, weights, weights_sha256, cut, image_size,
///   normalize, extract), standardize (None, or {mean, inv_std} float64: the head's inputs are
///   (x - mean) * inv_std).
struct SavedModel {
  std::string task_id;
  nlohmann::json params;
  std::vector<std::string> classes;
  int epoch = 0;
  StateDict state;
  nlohmann::json frozen;
  at::Tensor mean, inv_std;  ///< undefined without standardize
};

/// The file's bytes.
std::string saved_model_bytes(const SavedModel& model);

/// Reads a kept model; ModelError naming the file when it is unreadable or not one.
SavedModel load_saved_model(const std::filesystem::path& path);

}  // namespace fersweep::model
