// Task checkpoints under the results directory (run.checkpoint_every): a long task sends its
// state at an epoch end to rank 0, which keeps the latest one per task as
// DIR/checkpoints/ID.ckpt (written atomically, only by rank 0) and sends it with the task when it
// is dispatched again — after a kill, a preemption or a failed worker, on any rank. A file is a
// header line (format, task id, epoch, size and SHA-256 of the state) and the state's bytes.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace fersweep::run {

/// One task's saved state; `state` is opaque here (train/finetune.h writes and reads it).
struct TaskCheckpoint {
  std::string task_id;
  int epoch = 0;
  std::string state;
};

/// The file's bytes; and the checkpoint they hold, or DataError saying what is wrong with them.
std::string encode_checkpoint(const TaskCheckpoint& checkpoint);
TaskCheckpoint decode_checkpoint(std::string_view bytes);

/// The checkpoints of one results directory (rank 0).
class CheckpointStore {
 public:
  /// Lists DIR/checkpoints/ (created when missing); leftover temporary files are removed.
  explicit CheckpointStore(const std::filesystem::path& results_dir);
  std::filesystem::path path(const std::string& task_id) const;
  bool has(const std::string& task_id) const { return ids_.count(task_id) > 0; }
  /// Replaces the task's checkpoint atomically; IoError when it cannot be written.
  void save(const TaskCheckpoint& checkpoint);
  /// The task's checkpoint, or nullopt: none, or a damaged or foreign file, which is removed
  /// with a warning naming it (the task then starts from scratch).
  std::optional<TaskCheckpoint> load(const std::string& task_id);
  /// Forgets the task's checkpoint (its task finished or failed).
  void remove(const std::string& task_id);
  /// Removes every checkpoint and note (a run started afresh with --force-new).
  void clear();

  /// early_stop (run/staged.h): a task's note — its scores at the rungs it reached, and the
  /// results it waits at a rung with — as DIR/checkpoints/ID.rungs (JSON, written atomically).
  void save_note(const std::string& task_id, const nlohmann::json& note);
  /// The task's note, or nullopt: none, or unreadable (removed with a warning naming it).
  std::optional<nlohmann::json> load_note(const std::string& task_id);
  void remove_note(const std::string& task_id);

 private:
  std::filesystem::path note_path(const std::string& task_id) const;

  std::filesystem::path dir_;
  std::set<std::string> ids_, notes_;
};

}  // namespace fersweep::run
