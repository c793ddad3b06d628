// The messages between the coordinator (rank 0) and the workers, each with its encoder and decoder
// side by side. Every message carries comm/wire.h's magic and format version; a change of any
// layout here bumps comm::kWireVersion.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "run/checkpoints.h"
#include "run/task.h"

namespace fersweep::comm {
class Communicator;
}

namespace fersweep::run::protocol {

/// The MPI tag of every message of a run.
inline constexpr int kTag = 7;

/// Message types (comm::WireWriter's type field).
enum MessageType : std::uint16_t {
  kRequest = 1,
  kResult = 2,
  kTasks = 3,
  kStop = 4,
  kSetup = 5,
  kCheckpoint = 6,
  kRows = 7
};

/// The MPI tag of the rows of an on-disk feature set, which follow the message announcing them.
inline constexpr int kRowsTag = 8;

/// Worker → coordinator, first message: "give me work". `holds`: the feature sets the worker
/// keeps in memory, most recent first (the coordinator prefers tasks that use them).
std::string encode_request(const std::deque<std::string>& holds);

/// Worker → coordinator: outcomes of the tasks it was sent, then what it holds now (an implicit
/// request for more).
std::string encode_result(const std::vector<TaskOutcome>& outcomes, int rank,
                          const std::string& host, const std::deque<std::string>& holds);
/// One outcome as it arrived; `result_text` is the result's JSON text, parsed only if needed.
struct ArrivedOutcome {
  TaskOutcome outcome;
  std::string result_text;
  bool rows_follow = false;  ///< its features' rows follow (receive_rows)
};

/// Worker → coordinator, while a task runs: its checkpoint (not a request for work).
std::string encode_checkpoint(const TaskCheckpoint& checkpoint);

/// Coordinator → worker: tasks sharing their inputs (one crop/extract, or training tasks of one
/// feature set), the results of their dependencies, the checkpoints they continue from, the rungs
/// they pause at (early_stop), and the feature set unless the worker holds it.
std::string encode_tasks(const std::vector<const TaskSpec*>& tasks, const TaskInputs& inputs,
                         bool send_features);
struct TasksMessage {
  std::vector<TaskSpec> tasks;
  std::map<std::string, nlohmann::json> dep_results;
  std::map<std::string, std::string> checkpoints;
  std::map<std::string, int> pause_at;
  std::shared_ptr<FeatureSet> features;  ///< null when not sent
  bool rows_follow = false;              ///< the features' rows follow (receive_rows)
};

/// Coordinator → worker, once before its first tasks: the run context (Executor::setup).
std::string encode_setup(const nlohmann::json& context);
/// Coordinator → worker: no more work; return.
std::string encode_stop();

/// A decoded message; which fields are filled depends on `type`.
struct Message {
  MessageType type = kRequest;
  std::set<std::string> holds;           ///< kRequest, kResult
  std::vector<ArrivedOutcome> outcomes;  ///< kResult
  TasksMessage tasks;                    ///< kTasks
  nlohmann::json context;                ///< kSetup
  TaskCheckpoint checkpoint;             ///< kCheckpoint
};

/// Decodes any message from rank `source`; CommError on a damaged or unknown message.
Message decode(std::string_view payload, int source);

/// The rows of a feature set on disk (activation stores) do not go inside a message: the message
/// carries the rest with `rows_follow`, and the sender then calls send_rows, which sends them in
/// chunks of about store::kRowsChunkBytes on kRowsTag (blocking; memory: one chunk). The receiver
/// calls receive_rows, which writes them as they come into a spill file, or with `into` straight
/// into that feature file (rank 0: the results directory's; committed when the last row is in),
/// and points set.on_disk at them. A file that cannot be written still takes every chunk off the
/// wire and returns the error (empty: received), leaving no file behind; a message out of order
/// is a CommError.
void send_rows(comm::Communicator& comm, int dest, const FeatureSet& set);
std::string receive_rows(comm::Communicator& comm, int source, FeatureSet& set,
                         const std::filesystem::path* into = nullptr);

}  // namespace fersweep::run::protocol
