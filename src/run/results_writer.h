// Builds results.h5 from run.json and the journal records (see docs/results-schema.md).
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <vector>

namespace fersweep::run {

/// Writes `path` atomically: one row per (training task, evaluated epoch) under /results, learning
/// curves under /curves, extraction and crop provenance, failures, and run attributes.
void write_results_h5(const std::filesystem::path& path, const nlohmann::json& run_info,
                      const std::vector<nlohmann::json>& records);

}  // namespace fersweep::run
