// The trained networks a sweep keeps (run.keep_models): at the end of a run, rank 0 moves the
// model files the workers sent (cache/train/<id>/model.pt) to DIR/models/<id>.pt.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace fersweep::run {

/// The file a train task's kept model travels as (TaskOutcome::artifacts) and lands in under
/// cache/train/<id>/ until the run ends.
inline constexpr const char* kModelFile = "model.pt";

/// After a run that ended without interruption: `all` moves every train task's model to
/// DIR/models/<id>.pt; `best` moves those of report::best_model_tasks (each variant's best
/// configuration, every fold) and deletes the others; `none` does nothing. Models already in
/// DIR/models/ that `best` no longer selects are deleted too. Renames within DIR, so a kill
/// leaves each model in one place or the other. Returns the kept files; a selected task without
/// a model (it ran before keep_models was set) is a warning.
std::vector<std::filesystem::path> keep_models(const std::filesystem::path& dir,
                                               const std::string& mode);

}  // namespace fersweep::run
