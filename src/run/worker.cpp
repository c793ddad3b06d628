// The worker loop (ranks >= 1): ask rank 0 for work, run it, send the outcomes back, until told to
// stop. Features stay in memory (activation stores on the node's disk) for the next tasks that use
// them (the most recent few).
#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <map>

#include "core/error.h"
#include "run/backoff.h"
#include "run/coordinator.h"
#include "run/protocol.h"
#include "run/signals.h"

namespace fersweep::run {
namespace {

constexpr std::size_t kWorkerFeatureSlots = 8;
// Of which activation stores, on the node's disk (store::spill_dir): they can be many GB each.
constexpr std::size_t kWorkerSpilledSlots = 2;

using Held = std::map<std::string, std::shared_ptr<const FeatureSet>>;

// Drops the oldest feature sets beyond `slots`, and stores on disk beyond `spilled_slots` (a
// dropped store's spill file goes with it).
void evict(std::deque<std::string>& holds, Held& features, std::size_t slots,
           std::size_t spilled_slots) {
  std::size_t spilled = 0;
  for (auto it = holds.begin(); it != holds.end();) {
    const bool on_disk = features.at(*it)->on_disk.has_value();
    spilled += on_disk;
    if (static_cast<std::size_t>(it - holds.begin()) >= slots ||
        (on_disk && spilled > spilled_slots)) {
      features.erase(*it);
      it = holds.erase(it);
    } else {
      ++it;
    }
  }
}

// Task outcomes of tasks that could not start.
std::vector<TaskOutcome> failed(const std::vector<TaskSpec>& tasks, const std::string& error) {
  std::vector<TaskOutcome> out;
  for (const auto& t : tasks) {
    TaskOutcome o;
    o.id = t.id;
    o.error = error;
    out.push_back(std::move(o));
  }
  return out;
}

// A worker's wait for the coordinator's next message: polls with backoff (see backoff.h).
comm::Message wait_for_coordinator(comm::Communicator& comm) {
  const auto start = std::chrono::steady_clock::now();
  while (true) {
    if (auto m = comm.try_recv(0, protocol::kTag)) return std::move(*m);
    kWorkerBackoff.wait(start);
  }
}

}  // namespace

void run_worker(Executor& executor, const comm::Placement& placement) {
  // The coordinator decides when to stop; workers note signals (mpirun and srun forward them),
  // which arms the cancellation deadline their running tasks check.
  install_stop_handlers();
  comm::Communicator comm;
  std::deque<std::string> holds;  // most recent first
  Held features;
  comm.send(0, protocol::kTag, protocol::encode_request(holds));
  while (true) {
    protocol::Message m = protocol::decode(wait_for_coordinator(comm).payload, 0);
    if (m.type == protocol::kStop) return;
    if (m.type == protocol::kSetup) {
      executor.setup(m.context);
      continue;
    }
    if (m.type != protocol::kTasks)
      throw CommError(fmt::format("unexpected message type {} from rank 0", int(m.type)));
    TaskInputs in;
    in.dep_results = std::move(m.tasks.dep_results);
    in.checkpoints = std::move(m.tasks.checkpoints);
    in.pause_at = std::move(m.tasks.pause_at);
    in.save_checkpoint = [&comm](const std::string& id, int epoch, std::string state) {
      comm.send(0, protocol::kTag, protocol::encode_checkpoint({id, epoch, std::move(state)}));
    };
    const auto& tasks = m.tasks.tasks;
    if (auto& set = m.tasks.features) {
      std::string error;
      if (m.tasks.rows_follow) {
        // Room first: with the new store, at most kWorkerSpilledSlots on this node's disk.
        evict(holds, features, kWorkerFeatureSlots, kWorkerSpilledSlots - 1);
        error = protocol::receive_rows(comm, 0, *set);
      }
      if (!error.empty()) {
        const std::string why = fmt::format("rank {} could not keep feature set {}: {}",
                                            placement.rank, set->id, error);
        comm.send(
            0, protocol::kTag,
            protocol::encode_result(failed(tasks, why), placement.rank, placement.host, holds));
        continue;
      }
      holds.erase(std::remove(holds.begin(), holds.end(), set->id), holds.end());
      holds.push_front(set->id);
      features[set->id] = set;
      evict(holds, features, kWorkerFeatureSlots, kWorkerSpilledSlots);
    }
    if (!tasks.empty() && tasks.front().kind == TaskKind::train) {
      auto it = features.find(tasks.front().features);
      if (it == features.end()) {
        throw CommError(fmt::format("rank {} was sent training tasks without their features {}",
                                    placement.rank, tasks.front().features));
      }
      in.features = it->second;
    }
    const auto outcomes = executor.execute(tasks, in);
    comm.send(0, protocol::kTag,
              protocol::encode_result(outcomes, placement.rank, placement.host, holds));
    for (const auto& o : outcomes)
      if (o.features && o.features->on_disk) protocol::send_rows(comm, 0, *o.features);
  }
}

}  // namespace fersweep::run
