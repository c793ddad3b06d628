// Message layouts: each encoder next to the decoder that reads it back.
#include "run/protocol.h"

#include <fmt/format.h>

#include <optional>

#include "comm/mpi.h"
#include "comm/wire.h"
#include "core/error.h"
#include "store/features_file.h"

namespace fersweep::run::protocol {
namespace {
using nlohmann::json;

// A task outcome's status in a kResult message.
enum OutcomeStatus : std::uint64_t { kFailed = 0, kDone = 1, kCancelled = 2 };

// --- feature sets: how (none, values inline, rows follow), id, shape, values if inline, labels,
// paths, attributes (JSON text) ---
enum FeaturesHow : std::uint64_t { kNoFeatures = 0, kInline = 1, kRowsFollow = 2 };

void put_features(comm::WireWriter& w, const FeatureSet* set) {
  w.u64(set == nullptr ? kNoFeatures : set->on_disk ? kRowsFollow : kInline);
  if (set == nullptr) return;
  w.str(set->id).i64(set->n).i64(set->dim);
  if (!set->on_disk) w.floats(set->values.data(), set->values.size());
  w.u64(set->labels.size());
  for (auto l : set->labels) w.i64(l);
  w.u64(set->paths.size());
  for (const auto& p : set->paths) w.str(p);
  w.str(set->attributes.dump());
}

std::shared_ptr<FeatureSet> get_features(comm::WireReader& r, bool& rows_follow) {
  const auto how = r.u64();
  rows_follow = how == kRowsFollow;
  if (how == kNoFeatures) return nullptr;
  if (how != kInline && how != kRowsFollow)
    throw CommError(fmt::format("a feature set arrived in an unknown form ({})", how));
  auto set = std::make_shared<FeatureSet>();
  set->id = r.str();
  set->n = r.i64();
  set->dim = r.i64();
  if (how == kInline) set->values = r.floats();
  set->labels.resize(r.u64());
  for (auto& l : set->labels) l = r.i64();
  set->paths.resize(r.u64());
  for (auto& p : set->paths) p = r.str();
  set->attributes = json::parse(r.str());
  if (set->n < 0 || set->dim < 0 || static_cast<std::int64_t>(set->labels.size()) != set->n ||
      (how == kInline && static_cast<std::int64_t>(set->values.size()) != set->n * set->dim)) {
    throw CommError(fmt::format("feature set {} arrived with {} values and {} labels for {}x{}",
                                set->id, set->values.size(), set->labels.size(), set->n, set->dim));
  }
  return set;
}

// --- holds: count, ids ---
void put_holds(comm::WireWriter& w, const std::deque<std::string>& holds) {
  w.u64(holds.size());
  for (const auto& h : holds) w.str(h);
}

std::set<std::string> get_holds(comm::WireReader& r) {
  std::set<std::string> holds;
  const auto n = r.u64();
  for (std::uint64_t i = 0; i < n; ++i) holds.insert(r.str());
  return holds;
}

// --- one outcome: id, status, result (JSON text), error, seconds, rank, host, paused_at,
// artifacts (count, then name and bytes each), features ---
void put_outcome(comm::WireWriter& w, const TaskOutcome& o, int rank, const std::string& host) {
  w.str(o.id)
      .u64(o.ok          ? kDone
           : o.cancelled ? kCancelled
                         : kFailed)
      .str(o.ok ? o.result.dump() : std::string())
      .str(o.error)
      .f64(o.seconds)
      .i64(rank)
      .str(host)
      .i64(o.paused_at);
  w.u64(o.artifacts.size());
  for (const auto& [name, bytes] : o.artifacts) w.str(name).str(bytes);
  put_features(w, o.features.get());
}

ArrivedOutcome get_outcome(comm::WireReader& r) {
  ArrivedOutcome a;
  TaskOutcome& o = a.outcome;
  o.id = r.str();
  const auto status = r.u64();
  o.ok = status == kDone;
  o.cancelled = status == kCancelled;
  a.result_text = r.str();
  o.error = r.str();
  o.seconds = r.f64();
  o.rank = static_cast<int>(r.i64());
  o.host = r.str();
  o.paused_at = static_cast<int>(r.i64());
  const auto artifacts = r.u64();
  for (std::uint64_t i = 0; i < artifacts; ++i) {
    std::string name = r.str();
    o.artifacts[std::move(name)] = r.str();
  }
  o.features = get_features(r, a.rows_follow);
  return a;
}

// --- one task: id, kind, params (JSON text), features id, cost, dependencies, epochs ---
void put_task(comm::WireWriter& w, const TaskSpec& t) {
  w.str(t.id).str(to_string(t.kind)).str(t.params.dump()).str(t.features).f64(t.cost);
  w.u64(t.deps.size());
  for (const auto& d : t.deps) w.str(d);
  w.u64(t.epochs.size());
  for (int e : t.epochs) w.i64(e);
}

TaskSpec get_task(comm::WireReader& r) {
  TaskSpec t;
  t.id = r.str();
  t.kind = parse_task_kind(r.str());
  t.params = json::parse(r.str());
  t.features = r.str();
  t.cost = r.f64();
  t.deps.resize(r.u64());
  for (auto& d : t.deps) d = r.str();
  t.epochs.resize(r.u64());
  for (auto& e : t.epochs) e = static_cast<int>(r.i64());
  return t;
}

}  // namespace

std::string encode_request(const std::deque<std::string>& holds) {
  comm::WireWriter w(kRequest);
  put_holds(w, holds);
  return w.take();
}

std::string encode_result(const std::vector<TaskOutcome>& outcomes, int rank,
                          const std::string& host, const std::deque<std::string>& holds) {
  comm::WireWriter w(kResult);
  w.u64(outcomes.size());
  for (const auto& o : outcomes) put_outcome(w, o, rank, host);
  put_holds(w, holds);
  return w.take();
}

std::string encode_checkpoint(const TaskCheckpoint& c) {
  return comm::WireWriter(kCheckpoint).str(c.task_id).i64(c.epoch).str(c.state).take();
}

// kTasks: count, tasks, dependencies' results (JSON text), checkpoints (count, then task id and
// state each), rungs to pause at (count, then task id and epoch each), features.
std::string encode_tasks(const std::vector<const TaskSpec*>& tasks, const TaskInputs& inputs,
                         bool send_features) {
  comm::WireWriter w(kTasks);
  w.u64(tasks.size());
  for (const auto* t : tasks) put_task(w, *t);
  w.str(json(inputs.dep_results).dump());
  w.u64(inputs.checkpoints.size());
  for (const auto& [id, state] : inputs.checkpoints) w.str(id).str(state);
  w.u64(inputs.pause_at.size());
  for (const auto& [id, epoch] : inputs.pause_at) w.str(id).i64(epoch);
  put_features(w, send_features ? inputs.features.get() : nullptr);
  return w.take();
}

std::string encode_setup(const json& context) {
  return comm::WireWriter(kSetup).str(context.dump()).take();
}

std::string encode_stop() {
  return comm::WireWriter(kStop).take();
}

Message decode(std::string_view payload, int source) {
  comm::WireReader r(payload, source);
  Message m;
  m.type = static_cast<MessageType>(r.type());
  switch (m.type) {
    case kRequest:
      m.holds = get_holds(r);
      break;
    case kResult:
      m.outcomes.resize(r.u64());
      for (auto& a : m.outcomes) a = get_outcome(r);
      m.holds = get_holds(r);
      break;
    case kTasks: {
      m.tasks.tasks.resize(r.u64());
      for (auto& t : m.tasks.tasks) t = get_task(r);
      const json dep_results = json::parse(r.str());  // items() must not outlive it
      for (const auto& [k, v] : dep_results.items()) m.tasks.dep_results[k] = v;
      const auto checkpoints = r.u64();
      for (std::uint64_t i = 0; i < checkpoints; ++i) {
        std::string id = r.str();
        m.tasks.checkpoints[std::move(id)] = r.str();
      }
      const auto pauses = r.u64();
      for (std::uint64_t i = 0; i < pauses; ++i) {
        std::string id = r.str();
        m.tasks.pause_at[std::move(id)] = static_cast<int>(r.i64());
      }
      m.tasks.features = get_features(r, m.tasks.rows_follow);
      break;
    }
    case kSetup:
      m.context = json::parse(r.str());
      break;
    case kStop:
      break;
    case kCheckpoint:
      m.checkpoint.task_id = r.str();
      m.checkpoint.epoch = static_cast<int>(r.i64());
      m.checkpoint.state = r.str();
      break;
    default:
      throw CommError(fmt::format("unexpected message type {} from rank {}", r.type(), source));
  }
  return m;
}

void send_rows(comm::Communicator& comm, int dest, const FeatureSet& set) {
  FERSWEEP_ASSERT(set.on_disk.has_value(), "rows sent of a feature set held in memory");
  const store::RowReader reader(*set.on_disk, set.n, set.dim);
  const std::int64_t chunk = store::rows_per_chunk(set.dim);
  std::vector<float> buffer(static_cast<std::size_t>(std::min(chunk, set.n) * set.dim));
  for (std::int64_t first = 0; first < set.n; first += chunk) {
    const std::int64_t count = std::min(chunk, set.n - first);
    reader.read(first, count, buffer.data());
    comm::WireWriter w(kRows);
    w.str(set.id).i64(first).floats(buffer.data(), static_cast<std::size_t>(count * set.dim));
    comm.send(dest, kRowsTag, w.bytes());
  }
}

std::string receive_rows(comm::Communicator& comm, int source, FeatureSet& set,
                         const std::filesystem::path* into) {
  // A file that cannot be written (a full disk) fails the tasks, not the run: the rows are still
  // taken off the wire, so both ranks stay in step.
  std::string error;
  std::optional<store::RowWriter> spill;
  std::optional<store::StoreFileWriter> file;
  auto keep = [&](auto&& write) {
    if (!error.empty()) return;
    try {
      write();
    } catch (const IoError& e) {
      error = e.what();
    }
  };
  keep([&] {
    if (into)
      file.emplace(*into, set);
    else
      spill.emplace(set.id, set.dim);
  });
  std::int64_t received = 0;
  while (received < set.n) {
    const comm::Message m = comm.recv(source, kRowsTag);
    comm::WireReader r(m.payload, source);
    if (r.type() != kRows)
      throw CommError(fmt::format("rank {} sent message type {} amid the rows of feature set {}",
                                  source, r.type(), set.id));
    const std::string id = r.str();
    const std::int64_t first = r.i64();
    const std::vector<float> values = r.floats();
    const auto dim = static_cast<std::size_t>(std::max<std::int64_t>(1, set.dim));
    const auto count = static_cast<std::int64_t>(values.size() / dim);
    if (id != set.id || first != received || values.size() % dim != 0 || count == 0 ||
        first + count > set.n)
      throw CommError(fmt::format(
          "rank {} sent rows {}+{} of feature set {} while rows {} of {} ({} of {}) were due",
          source, first, count, id, received, set.id, set.n, set.dim));
    keep([&] { file ? file->append(values.data(), count) : spill->append(values.data(), count); });
    received += count;
  }
  keep([&] { set.on_disk = file ? file->commit() : spill->finish(); });
  return error;
}

}  // namespace fersweep::run::protocol
