// The coordinator and worker loops, the results directory (lock, run.json, journal, feature cache,
// events) and the message protocol between them.
#include "run/coordinator.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <deque>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "comm/send_queue.h"
#include "comm/wire.h"
#include "core/base64.h"
#include "core/error.h"
#include "core/log.h"
#include "run/progress.h"
#include "run/results_writer.h"
#include "run/scheduler.h"
#include "run/signals.h"
#include "store/h5.h"
#include "store/journal.h"
#include "store/lock_file.h"

namespace fersweep::run {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Message types (comm::WireWriter type field). Layouts are versioned by comm::kWireVersion.
enum MessageType : std::uint16_t { kRequest = 1, kResult = 2, kTasks = 3, kStop = 4, kSetup = 5 };
constexpr int kTag = 7;
// A task outcome's status in a kResult message.
enum OutcomeStatus : std::uint64_t { kOutcomeFailed = 0, kOutcomeDone = 1, kOutcomeCancelled = 2 };
// After the grace period, how long the coordinator waits for busy workers to come back from their
// next cancellation point (a batch, an epoch) before it ends the job without them.
constexpr double kCancelMarginSeconds = 10;
constexpr std::size_t kWorkerFeatureSlots = 8;
// How a rank waiting for a message polls: it yields the core for the first `spin` seconds (the
// next message is usually microseconds away, and a sleep costs 50+ us of timer slack), then
// sleeps `short_sleep` at a time until `settle` seconds, then `long_sleep`.
struct Backoff {
  double spin, settle;
  std::chrono::microseconds short_sleep, long_sleep;
};
// The coordinator after its last message (see run_distributed).
constexpr Backoff kCoordinatorBackoff{0.002, 0.05, std::chrono::microseconds(100),
                                      std::chrono::microseconds(1000)};
// A worker waiting for its next tasks (see wait_for_coordinator).
constexpr Backoff kWorkerBackoff{50e-6, 0.01, std::chrono::microseconds(20),
                                 std::chrono::microseconds(500)};

void back_off(const Backoff& b, std::chrono::steady_clock::time_point since) {
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
  if (waited < b.spin)
    std::this_thread::yield();
  else
    std::this_thread::sleep_for(waited < b.settle ? b.short_sleep : b.long_sleep);
}

// UTC time as ISO 8601 text, formatted once per second (it stamps every record and event).
const std::string& now_iso() {
  static thread_local std::time_t cached_time = -1;
  static thread_local std::string cached;
  const std::time_t t = std::time(nullptr);
  if (t != cached_time) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cached = buf;
    cached_time = t;
  }
  return cached;
}

// A JSON string literal for `s`; plain ASCII (task ids, kinds, host names) skips the serialiser.
std::string json_string(const std::string& s) {
  const bool plain = std::all_of(
      s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; });
  return plain ? '"' + s + '"' : json(s).dump();
}

// A JSON number for a measured duration (never NaN or infinite in the output).
std::string json_seconds(double seconds) {
  return std::isfinite(seconds) ? fmt::format("{}", seconds) : "0";
}

void put_features(comm::WireWriter& w, const FeatureSet* set) {
  w.u64(set != nullptr);
  if (set == nullptr) return;
  w.str(set->id).i64(set->n).i64(set->dim).floats(set->values.data(), set->values.size());
  w.u64(set->labels.size());
  for (auto l : set->labels) w.i64(l);
  w.u64(set->paths.size());
  for (const auto& p : set->paths) w.str(p);
  w.str(set->attributes.dump());
}

std::shared_ptr<FeatureSet> get_features(comm::WireReader& r) {
  if (!r.u64()) return nullptr;
  auto set = std::make_shared<FeatureSet>();
  set->id = r.str();
  set->n = r.i64();
  set->dim = r.i64();
  set->values = r.floats();
  set->labels.resize(r.u64());
  for (auto& l : set->labels) l = r.i64();
  set->paths.resize(r.u64());
  for (auto& p : set->paths) p = r.str();
  set->attributes = json::parse(r.str());
  if (static_cast<std::int64_t>(set->values.size()) != set->n * set->dim) {
    throw CommError(fmt::format("feature set {} arrived with {} values for {}x{}", set->id,
                                set->values.size(), set->n, set->dim));
  }
  return set;
}

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

json read_json_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw IoError(fmt::format("cannot read '{}'", path.string()));
  std::stringstream s;
  s << in.rdbuf();
  json j = json::parse(s.str(), nullptr, false);
  if (j.is_discarded())
    throw IoError(fmt::format("'{}' is not valid JSON (damaged?)", path.string()));
  return j;
}

void write_text_atomically(const fs::path& path, const std::string& text) {
  const fs::path temp = path.string() + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw IoError(fmt::format("cannot write '{}'", temp.string()));
    out << text;
    out.flush();
    if (!out) throw IoError(fmt::format("cannot write '{}' (disk full?)", temp.string()));
  }
  store::commit_temp_file(temp, path);
}

// Explains how two run identities differ, key by key.
std::string identity_difference(const json& old_id, const json& new_id) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : new_id.items()) {
    if (!old_id.contains(k) || old_id[k] != v) keys.push_back(k);
  }
  for (const auto& [k, v] : old_id.items()) {
    if (!new_id.contains(k)) keys.push_back(k);
  }
  std::string out;
  for (const auto& k : keys) {
    out +=
        fmt::format("\n  {}: was {}, now {}", k, old_id.contains(k) ? old_id[k].dump() : "(absent)",
                    new_id.contains(k) ? new_id[k].dump() : "(absent)");
  }
  return out;
}

// Everything the coordinator keeps about the results directory.
class ResultsDirectory {
 public:
  ResultsDirectory(const RunSetup& setup, const RunOptions& options) : dir_(options.out) {
    std::error_code ec;
    fs::create_directories(dir_ / "cache" / "features", ec);
    if (ec)
      throw IoError(
          fmt::format("cannot create results directory '{}': {}", dir_.string(), ec.message()));
    lock_ = std::make_unique<store::DirectoryLock>(dir_ / ".lock");
    const fs::path run_json = dir_ / "run.json";
    if (fs::exists(run_json) && !options.force_new) {
      const json old = read_json_file(run_json);
      if (old.value("identity", json()) != setup.identity) {
        throw ConfigError(fmt::format(
            "results directory '{}' holds a different sweep; refusing to mix results:{}\n"
            "Use another --out directory, or --force-new to discard the earlier results.",
            dir_.string(),
            identity_difference(old.value("identity", json::object()), setup.identity)));
      }
      created_ = old.value("created", now_iso());
    } else {
      if (options.force_new) {
        for (const char* name : {"journal.jsonl", "results.h5", "events.jsonl", "run.json"})
          fs::remove(dir_ / name, ec);
      }
      created_ = now_iso();
    }
    run_info_ = {{"format", 1},
                 {"identity", setup.identity},
                 {"provenance", setup.provenance},
                 {"created", created_},
                 {"updated", now_iso()}};
    write_text_atomically(dir_ / "sweep.yaml", setup.sweep_text);
    write_text_atomically(run_json, run_info_.dump(2));
    const auto contents = store::read_journal(dir_ / "journal.jsonl");
    if (!contents.corrupt_lines.empty()) {
      log::warn(
          "journal '{}': {} damaged record(s) skipped (first at line {}); those tasks run again",
          (dir_ / "journal.jsonl").string(), contents.corrupt_lines.size(),
          contents.corrupt_lines.front());
    }
    entries_.reserve(contents.records.size());
    for (const auto& r : contents.records) keep(journal_entry(r));
    records_ = std::move(contents.records);
    journal_ = std::make_unique<store::JournalWriter>(dir_ / "journal.jsonl");
    events_.open(dir_ / "events.jsonl", std::ios::app);
  }

  const fs::path& dir() const { return dir_; }
  /// The records the journal held when the run started (for resume); see forget_records().
  const std::vector<json>& records() const { return records_; }
  /// Frees records() once resume has used them (results.h5 is written from the compact entries).
  void forget_records() { std::vector<json>().swap(records_); }
  fs::path features_path(const std::string& id) const {
    return dir_ / "cache" / "features" / (id + ".h5");
  }

  void append(JournalEntry entry) {
    journal_->append_text(entry.text);
    keep(std::move(entry));
    dirty_ = true;
  }
  void event(json e) {
    e["time"] = now_iso();
    events_ << e.dump() << '\n';
  }
  // The per-task event, formatted directly (it is written for every task).
  void task_event(bool ok, const std::string& id, const std::string& kind, int rank,
                  double seconds) {
    events_ << fmt::format(
                   R"({{"event":"{}","id":{},"kind":{},"rank":{},"seconds":{},"time":"{}"}})",
                   ok ? "done" : "failed", json_string(id), json_string(kind), rank,
                   json_seconds(seconds), now_iso())
            << '\n';
  }
  void maybe_flush(double rewrite_seconds) {
    if (journal_->flush_due()) {
      journal_->flush();
      events_.flush();
    }
    const auto now = std::chrono::steady_clock::now();
    if (dirty_ && std::chrono::duration<double>(now - last_rewrite_).count() >= rewrite_seconds) {
      journal_->flush();
      rewrite();
    }
  }
  void flush_all() {
    journal_->flush();
    events_.flush();
    rewrite();
  }

 private:
  // results.h5 needs the full text only of the records it writes as rows; a finished synthetic
  // task is only counted (its record stays in the journal).
  void keep(JournalEntry entry) {
    if (entry.done && !written_in_full(entry.kind)) std::string().swap(entry.text);
    entries_.push_back(std::move(entry));
  }
  void rewrite() {
    run_info_["updated"] = now_iso();
    write_results_h5(dir_ / "results.h5", run_info_, entries_);
    last_rewrite_ = std::chrono::steady_clock::now();
    dirty_ = false;
  }
  fs::path dir_;
  std::unique_ptr<store::DirectoryLock> lock_;
  std::unique_ptr<store::JournalWriter> journal_;
  std::ofstream events_;
  std::vector<json> records_;
  std::vector<JournalEntry> entries_;  // every record, compact: what results.h5 is written from
  json run_info_;
  std::string created_;
  bool dirty_ = true;
  std::chrono::steady_clock::time_point last_rewrite_{};
};

class Coordinator {
 public:
  Coordinator(const RunSetup& setup, const RunOptions& options, const comm::Placement& placement)
      : setup_(setup),
        options_(options),
        placement_(placement),
        results_(setup, options),
        scheduler_(&setup.tasks, options.retries),
        progress_(options.progress) {
    resume();
  }

  RunSummary run(Executor& local) {
    install_stop_handlers();
    const auto start = std::chrono::steady_clock::now();
    results_.event({{"event", "start"},
                    {"tasks", scheduler_.total()},
                    {"resumed", summary_.resumed},
                    {"ranks", placement_.size},
                    {"host", placement_.host}});
    if (summary_.resumed > 0) {
      log::info("resuming: {} of {} tasks already done in '{}'", summary_.resumed,
                scheduler_.total(), results_.dir().string());
    }
    if (placement_.size <= 1) {
      run_alone(local);
    } else {
      run_distributed();
    }
    progress_.finish(scheduler_);
    summary_.interrupted = stopping() && !scheduler_.finished();
    results_.event({{"event", summary_.interrupted ? "interrupted" : "finished"},
                    {"done", scheduler_.done_count()},
                    {"failed", scheduler_.failed_count()}});
    results_.flush_all();
    summary_.total = scheduler_.total();
    summary_.done = scheduler_.done_count();
    summary_.failed = scheduler_.failed_count();
    summary_.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return summary_;
  }

 private:
  bool stopping() const { return stop_requests() > 0; }

  bool grace_expired() {
    if (!stopping()) return false;
    const auto now = std::chrono::steady_clock::now();
    if (!stop_seen_) {
      stop_seen_ = true;
      stop_time_ = now;
      // Make everything finished so far durable at once: a launcher may kill us any moment now.
      results_.flush_all();
      log::warn(
          "signal {} received: no new tasks; waiting up to {:.0f} s for {} running task(s) "
          "(signal again to stop at once)",
          last_stop_signal(), options_.grace_seconds, scheduler_.running_count());
    }
    return stop_requests() >= 2 ||
           std::chrono::duration<double>(now - stop_time_).count() > options_.grace_seconds;
  }

  bool past_cancel_margin() const {
    if (stop_requests() >= 2) return true;
    const double since_stop =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - stop_time_).count();
    return since_stop > options_.grace_seconds + kCancelMarginSeconds;
  }

  // Marks tasks found in the journal as done (extract tasks only if their feature file is there).
  void resume() {
    std::set<std::string> done;
    for (const auto& r : results_.records()) {
      if (r.value("status", "") != "done") continue;
      const std::string id = r.value("id", "");
      if (!scheduler_.contains(id)) continue;
      if (r.value("kind", "") == "extract" && !fs::exists(results_.features_path(id))) continue;
      done.insert(id);
      if (scheduler_.has_dependents(id)) finished_results_[id] = r.value("result", json());
    }
    if (setup_.feature_cache.fetch) {
      for (const auto& t : setup_.tasks) {
        if (t.kind == TaskKind::extract && !done.count(t.id)) adopt_cached(t);
      }
    }
    // Dependencies first, so marking never runs ahead of the DAG.
    bool progress = true;
    while (progress) {
      progress = false;
      for (auto it = done.begin(); it != done.end();) {
        const auto& spec = scheduler_.task(*it);
        bool deps_done = true;
        for (const auto& d : spec.deps) deps_done &= scheduler_.state(d) == Scheduler::State::done;
        if (deps_done) {
          scheduler_.mark_done(*it);
          ++summary_.resumed;
          it = done.erase(it);
          progress = true;
        } else {
          ++it;
        }
      }
    }
    results_.forget_records();
  }

  // An extract task whose features the shared feature cache holds: copied into the results
  // directory (which stays self-contained) and journaled as done, never dispatched. Its crop
  // task, if any, still runs for its QC artifacts.
  void adopt_cached(const TaskSpec& t) {
    const auto start = std::chrono::steady_clock::now();
    std::optional<TaskOutcome> hit = setup_.feature_cache.fetch(t);
    if (!hit || !hit->features) return;
    hit->features->id = t.id;
    store::write_features_file(results_.features_path(t.id), *hit->features);
    json result = hit->result;
    result["from_cache"] = true;
    result["features_file"] = fs::relative(results_.features_path(t.id), results_.dir()).string();
    result["n"] = hit->features->n;
    result["dim"] = hit->features->dim;
    features_[t.id] = hit->features;
    finished_results_[t.id] = result;
    scheduler_.mark_done(t.id);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    results_.event({{"event", "cached"}, {"id", t.id}, {"kind", to_string(t.kind)}});
    const json record = {{"v", 1},
                         {"id", t.id},
                         {"kind", to_string(t.kind)},
                         {"status", "done"},
                         {"attempt", scheduler_.attempts(t.id)},
                         {"final", true},
                         {"rank", 0},
                         {"host", placement_.host},
                         {"seconds", seconds},
                         {"finished", now_iso()},
                         {"params", t.params},
                         {"result", std::move(result)}};
    results_.append({t.id, to_string(t.kind), true, record.dump()});
  }

  std::shared_ptr<const FeatureSet> features_for(const std::string& id) {
    auto it = features_.find(id);
    if (it != features_.end()) return it->second;
    auto set = std::make_shared<FeatureSet>(store::read_features_file(results_.features_path(id)));
    features_[id] = set;
    return set;
  }

  TaskInputs inputs_for(const std::vector<const TaskSpec*>& tasks) {
    TaskInputs in;
    for (const auto* t : tasks) {
      for (const auto& d : t->deps) {
        auto it = finished_results_.find(d);
        if (it != finished_results_.end()) in.dep_results[d] = it->second;
      }
    }
    if (!tasks.empty() && tasks.front()->kind == TaskKind::train)
      in.features = features_for(tasks.front()->features);
    return in;
  }

  // Journals one finished attempt. `result_text`, when given, is the result as it arrived (JSON
  // text): it is parsed only when something here needs its fields, so a task's result is not
  // parsed and dumped again on the way to the journal.
  void record(TaskOutcome& o, int worker, std::string result_text = {}) {
    const TaskSpec& spec = scheduler_.task(o.id);
    if (o.cancelled) {
      // Stopped at the end of the grace period: not an attempt, nothing to journal.
      scheduler_.requeue(o.id);
      log::info(
          "task {} ({}) on rank {} abandoned at the end of the grace period; it runs again "
          "on resume",
          o.id, to_string(spec.kind), o.rank);
      return;
    }
    const bool keep_result = o.ok && scheduler_.has_dependents(o.id);
    const bool needs_json = result_text.empty() || o.features || keep_result ||
                            result_text.find("\"artifacts\"") != std::string::npos;
    if (o.ok && needs_json && !result_text.empty()) o.result = json::parse(result_text);
    json& result = o.result;
    if (o.ok && o.features) {
      o.features->id = o.id;
      store::write_features_file(results_.features_path(o.id), *o.features);
      result["features_file"] = fs::relative(results_.features_path(o.id), results_.dir()).string();
      result["n"] = o.features->n;
      result["dim"] = o.features->dim;
      features_[o.id] = o.features;
      if (setup_.feature_cache.store && spec.kind == TaskKind::extract)
        setup_.feature_cache.store(spec, o);
    }
    if (o.ok && result.contains("artifacts")) {
      // Files a task produced (QC reports, contact sheets) arrive base64-encoded; only rank 0
      // writes.
      json written = json::array();
      const fs::path dir = results_.dir() / "cache" / to_string(spec.kind) / o.id;
      fs::create_directories(dir);
      for (const auto& [name, data] : result["artifacts"].items()) {
        if (name.find('/') != std::string::npos || name.empty() || name[0] == '.') {
          throw CommError(
              fmt::format("task {} sent an artifact with an unsafe name '{}'", o.id, name));
        }
        write_text_atomically(dir / name, base64_decode(data.get<std::string>()));
        written.push_back(fs::relative(dir / name, results_.dir()).string());
      }
      result["artifacts"] = written;
    }
    if (o.ok && needs_json) result_text = result.dump();
    const bool retry = scheduler_.complete(o.id, o.ok, worker);
    if (o.ok) progress_.task_finished(spec.kind, spec.cost, o.seconds);
    const std::string kind = to_string(spec.kind);
    // The record as one line of JSON, keys in sorted order (as json::dump writes them):
    // {v, id, kind, status, attempt, final, rank, host, seconds, finished, params, result|error}.
    std::string text = fmt::format(R"({{"attempt":{},)", scheduler_.attempts(o.id));
    if (!o.ok) text += R"("error":)" + json(o.error).dump() + ',';
    text += fmt::format(R"("final":{},"finished":"{}","host":{},"id":{},"kind":{},"params":{},)",
                        o.ok || !retry, now_iso(), json_string(o.host), json_string(o.id),
                        json_string(kind), spec.params.dump());
    text += fmt::format(R"("rank":{},)", o.rank);
    if (o.ok) text += R"("result":)" + (result_text.empty() ? "null" : result_text) + ',';
    text += fmt::format(R"("seconds":{},"status":"{}","v":1}})", json_seconds(o.seconds),
                        o.ok ? "done" : "failed");
    if (keep_result) finished_results_[o.id] = std::move(result);
    if (!o.ok) {
      log::warn("task {} ({}) failed on rank {} (attempt {}): {}{}", o.id, kind, o.rank,
                scheduler_.attempts(o.id), o.error, retry ? "; retrying" : "; giving up");
    }
    results_.task_event(o.ok, o.id, kind, o.rank, o.seconds);
    results_.append({o.id, kind, o.ok, std::move(text)});
  }

  void housekeeping() {
    results_.maybe_flush(options_.rewrite_seconds);
    progress_.update(scheduler_);
  }

  void run_alone(Executor& local) {
    local.setup(setup_.context);
    std::deque<std::string> holds_order;
    while (!scheduler_.finished()) {
      if (stopping()) {
        grace_expired();
        break;
      }
      std::set<std::string> holds(holds_order.begin(), holds_order.end());
      const auto tasks = scheduler_.next_for(0, holds, options_.max_batch);
      FERSWEEP_ASSERT(!tasks.empty(), "nothing ready but the sweep is not finished");
      std::vector<TaskSpec> batch;
      for (const auto* t : tasks) batch.push_back(*t);
      const TaskInputs in = inputs_for(tasks);
      for (auto& o : local.execute(batch, in)) {
        o.rank = 0;
        o.host = placement_.host;
        record(o, 0);
      }
      if (batch.front().kind == TaskKind::train) holds_order.push_front(batch.front().features);
      housekeeping();
    }
  }

  void send_tasks(int worker, const std::vector<const TaskSpec*>& tasks,
                  const std::set<std::string>& holds) {
    comm::WireWriter w(kTasks);
    w.u64(tasks.size());
    for (const auto* t : tasks) {
      w.str(t->id).str(to_string(t->kind)).str(t->params.dump()).str(t->features).f64(t->cost);
      w.u64(t->deps.size());
      for (const auto& d : t->deps) w.str(d);
    }
    const TaskInputs in = inputs_for(tasks);
    w.str(json(in.dep_results).dump());
    const bool send_features = in.features && !holds.count(in.features->id);
    put_features(w, send_features ? in.features.get() : nullptr);
    sends_.send(worker, kTag, std::string(w.bytes()));
    busy_[worker] = tasks.size();
  }

  void stop_worker(int worker) {
    sends_.send(worker, kTag, std::string(comm::WireWriter(kStop).bytes()));
    stopped_.insert(worker);
  }

  // Nothing runs and nothing is ready: whatever is left failed for good (or is done).
  bool nothing_more() const {
    return scheduler_.finished() || (scheduler_.running_count() == 0 && !scheduler_.has_ready());
  }

  // Tasks per message, guided self-scheduling: a share of what is ready (half of an even split
  // over the workers), at most --batch, at least 1. Large batches amortise messages while much is
  // left; near the end they shrink to single tasks so no worker is left holding the tail.
  std::size_t batch_size() const {
    const std::size_t workers = static_cast<std::size_t>(std::max(1, placement_.size - 1));
    return std::clamp<std::size_t>(scheduler_.ready_count() / (2 * workers), 1,
                                   std::max<std::size_t>(1, options_.max_batch));
  }

  // Gives `worker` work if there is any; otherwise parks it, or stops it when no work can come.
  void serve(int worker, const std::set<std::string>& holds) {
    if (stopping()) return stop_worker(worker);
    const auto tasks = scheduler_.next_for(worker, holds, batch_size());
    if (!tasks.empty()) return send_tasks(worker, tasks, holds);
    if (nothing_more()) return stop_worker(worker);
    idle_[worker] = holds;
  }

  void serve_idle() {
    auto parked = std::move(idle_);
    idle_.clear();
    for (const auto& [worker, holds] : parked) serve(worker, holds);
  }

  void handle(const comm::Message& m) {
    comm::WireReader r(m.payload, m.source);
    const int worker = m.source;
    if (r.type() == kResult) {
      const auto n = r.u64();
      for (std::uint64_t i = 0; i < n; ++i) {
        TaskOutcome o;
        o.id = r.str();
        const auto status = r.u64();  // put_status
        o.ok = status == kOutcomeDone;
        o.cancelled = status == kOutcomeCancelled;
        std::string result_text = r.str();
        o.error = r.str();
        o.seconds = r.f64();
        o.rank = static_cast<int>(r.i64());
        o.host = r.str();
        o.features = get_features(r);
        record(o, worker, std::move(result_text));
      }
      busy_.erase(worker);
    } else if (r.type() != kRequest) {
      throw CommError(fmt::format("unexpected message type {} from rank {}", r.type(), worker));
    }
    const auto holds = get_holds(r);
    if (!setup_sent_.count(worker)) {
      sends_.send(worker, kTag,
                  std::string(comm::WireWriter(kSetup).str(setup_.context.dump()).bytes()));
      setup_sent_.insert(worker);
    }
    serve(worker, holds);
    serve_idle();
  }

  void run_distributed() {
    const int workers = placement_.size - 1;
    auto idle_since = std::chrono::steady_clock::now();
    while (static_cast<int>(stopped_.size()) < workers) {
      if (stopping()) {
        // Workers got the signal too (mpirun and srun forward it): at the end of the grace
        // period they abandon their tasks at the next cancellation point and ask for more, and
        // are told to stop. One that does not come back in time is left behind (MPI_Abort).
        if (grace_expired() && !busy_.empty() && past_cancel_margin()) {
          abandoned_ = true;
          log::warn("{} worker(s) still busy {:.0f} s after the grace period; ending the job",
                    busy_.size(), kCancelMarginSeconds);
          break;
        }
        serve_idle();  // stops idle workers
      }
      auto m = comm_.try_recv(comm::Communicator::kAnySource, kTag);
      if (m) {
        handle(*m);
        idle_since = std::chrono::steady_clock::now();
        // Also under constant traffic: the journal's fsync batching and progress run on time.
        housekeeping();
      } else {
        sends_.progress();
        housekeeping();
        back_off(kCoordinatorBackoff, idle_since);
      }
    }
    if (!abandoned_) sends_.wait_all();  // the stop messages
  }

 public:
  bool abandoned() const { return abandoned_; }

 private:
  const RunSetup& setup_;
  const RunOptions& options_;
  comm::Placement placement_;
  ResultsDirectory results_;
  Scheduler scheduler_;
  ProgressReporter progress_;
  comm::Communicator comm_;
  // Replies to workers go out without blocking: a blocking send waits for the receiving rank to
  // be scheduled, and on an oversubscribed node that stalls every other worker.
  comm::SendQueue sends_;
  RunSummary summary_;
  std::map<std::string, json> finished_results_;
  std::map<std::string, std::shared_ptr<const FeatureSet>> features_;
  std::map<int, std::set<std::string>> idle_;
  std::map<int, std::size_t> busy_;
  std::set<int> stopped_, setup_sent_;
  bool stop_seen_ = false;
  bool abandoned_ = false;
  std::chrono::steady_clock::time_point stop_time_;
};

}  // namespace

RunSummary run_coordinator(const RunSetup& setup, const RunOptions& options,
                           const comm::Placement& placement, Executor& local) {
  Coordinator c(setup, options, placement);
  RunSummary s = c.run(local);
  s.abandoned = c.abandoned();
  s.interrupted = s.interrupted || s.abandoned;
  return s;
}

namespace {
// A worker's wait for the coordinator's next message. MPI's blocking receive busy-polls a core;
// on a node with more ranks than cores (or busy with other jobs) that spinning takes the
// coordinator's time. Poll, yielding briefly, then sleep in short steps.
comm::Message wait_for_coordinator(comm::Communicator& comm) {
  const auto start = std::chrono::steady_clock::now();
  while (true) {
    if (auto m = comm.try_recv(0, kTag)) return std::move(*m);
    back_off(kWorkerBackoff, start);
  }
}
}  // namespace

void run_worker(Executor& executor, const comm::Placement& placement) {
  // The coordinator decides when to stop; workers only note signals (mpirun forwards them to all).
  install_stop_handlers();
  comm::Communicator comm;
  std::deque<std::string> holds;  // most recent first
  std::map<std::string, std::shared_ptr<const FeatureSet>> features;
  {
    comm::WireWriter w(kRequest);
    put_holds(w, holds);
    comm.send(0, kTag, w.bytes());
  }
  while (true) {
    const comm::Message m = wait_for_coordinator(comm);
    comm::WireReader r(m.payload, 0);
    if (r.type() == kStop) return;
    if (r.type() == kSetup) {
      executor.setup(json::parse(r.str()));
      continue;
    }
    if (r.type() != kTasks)
      throw CommError(fmt::format("unexpected message type {} from rank 0", r.type()));
    std::vector<TaskSpec> tasks(r.u64());
    for (auto& t : tasks) {
      t.id = r.str();
      t.kind = parse_task_kind(r.str());
      t.params = json::parse(r.str());
      t.features = r.str();
      t.cost = r.f64();
      t.deps.resize(r.u64());
      for (auto& d : t.deps) d = r.str();
    }
    TaskInputs in;
    const json dep_results = json::parse(r.str());
    for (const auto& [k, v] : dep_results.items()) in.dep_results[k] = v;
    if (auto set = get_features(r)) {
      features[set->id] = set;
      holds.push_front(set->id);
      while (holds.size() > kWorkerFeatureSlots) {
        features.erase(holds.back());
        holds.pop_back();
      }
    }
    if (!tasks.empty() && tasks.front().kind == TaskKind::train) {
      auto it = features.find(tasks.front().features);
      if (it == features.end()) {
        throw CommError(fmt::format("rank {} was sent training tasks without their features {}",
                                    placement.rank, tasks.front().features));
      }
      in.features = it->second;
    }
    auto outcomes = executor.execute(tasks, in);
    comm::WireWriter w(kResult);
    w.u64(outcomes.size());
    for (auto& o : outcomes) {
      w.str(o.id)
          .u64(o.ok          ? kOutcomeDone
               : o.cancelled ? kOutcomeCancelled
                             : kOutcomeFailed)
          .str(o.result.dump())
          .str(o.error)
          .f64(o.seconds)
          .i64(placement.rank)
          .str(placement.host);
      put_features(w, o.features.get());
    }
    put_holds(w, holds);
    comm.send(0, kTag, w.bytes());
  }
}

std::map<std::string, json> last_records(const std::vector<json>& records) {
  std::map<std::string, json> out;
  for (const auto& r : records) {
    auto [it, fresh] = out.emplace(r.value("id", ""), r);
    if (!fresh &&
        supersedes(r.value("status", "") == "done", it->second.value("status", "") == "done"))
      it->second = r;
  }
  return out;
}

void rewrite_results(const fs::path& dir) {
  const json run_info = read_json_file(dir / "run.json");
  const auto records = store::read_journal(dir / "journal.jsonl").records;
  write_results_h5(dir / "results.h5", run_info, records);
}

}  // namespace fersweep::run
