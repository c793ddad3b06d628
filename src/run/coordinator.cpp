// The coordinator (rank 0): resumes from the results directory, hands tasks to workers (or runs
// them itself when alone), journals every outcome and honours stop requests. The message layouts
// are in protocol.h, the results directory in results_dir.h, the worker loop in worker.cpp.
#include "run/coordinator.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <set>

#include "comm/send_queue.h"
#include "core/error.h"
#include "core/log.h"
#include "run/backoff.h"
#include "run/checkpoints.h"
#include "run/progress.h"
#include "run/protocol.h"
#include "run/results_dir.h"
#include "run/results_writer.h"
#include "run/scheduler.h"
#include "run/signals.h"
#include "store/journal.h"

namespace fersweep::run {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// After the grace period, how long the coordinator waits for busy workers to come back from their
// next cancellation point (a batch, an epoch) before it ends the job without them.
constexpr double kCancelMarginSeconds = 10;

class Coordinator {
 public:
  Coordinator(const RunSetup& setup, const RunOptions& options, const comm::Placement& placement)
      : setup_(setup),
        options_(options),
        placement_(placement),
        results_(setup, options),
        checkpoints_(results_.dir()),
        scheduler_(&setup.tasks, options.retries),
        staged_(setup.tasks, setup.staged_stop.value_or(StagedStop{})),
        progress_(options.progress) {
    if (options.force_new) checkpoints_.clear();
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
    // Unfinished because of a stop request — ours, or the workers' own (all withdrew).
    summary_.interrupted = (stopping() || !withdrawn_.empty()) && !scheduler_.finished();
    results_.event({{"event", summary_.interrupted ? "interrupted" : "finished"},
                    {"done", scheduler_.done_count()},
                    {"failed", scheduler_.failed_count()}});
    results_.flush_all();
    drop_finished_notes();
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

  // early_stop: a bracket of heads whose tasks are not all done runs again whole (its decisions
  // need every member; the rerun's records equal the journaled ones bit for bit). Tasks that run
  // alone resume member by member instead (restore_staged).
  void keep_whole_brackets(std::set<std::string>& done) const {
    std::map<std::string, bool> complete;
    for (const auto& t : setup_.tasks)
      if (!t.bracket.empty() && !t.alone) {
        bool& all_done = complete.emplace(t.bracket, true).first->second;
        all_done = all_done && done.count(t.id) > 0;
      }
    for (const auto& t : setup_.tasks)
      if (!t.bracket.empty() && !t.alone && !complete[t.bracket]) done.erase(t.id);
  }

  // early_stop, tasks that run alone: their scores at the rungs come back from the journal (done
  // members) and from their notes (the others); a member that waited at a rung waits again, not
  // dispatched; then every decision the scores allow is taken again — the same ones.
  void restore_staged() {
    if (staged_.empty()) return;
    for (const auto& r : results_.records()) {
      const std::string id = r.value("id", "");
      if (r.value("status", "") == "done" && staged_.staged(id) &&
          scheduler_.state(id) == Scheduler::State::done) {
        const auto result = r.find("result");  // null in a record of a result-less task
        staged_.restore_done(id, result != r.end() && result->is_object()
                                     ? result->value("early_stop", json())
                                     : json());
      }
    }
    for (const auto& t : setup_.tasks) {
      if (!staged_.staged(t.id) || scheduler_.state(t.id) == Scheduler::State::done) continue;
      const auto note = checkpoints_.load_note(t.id);
      if (!note) continue;
      try {
        // Waiting needs the task ready now (its features there): otherwise it reruns to the rung.
        if (staged_.restore_note(t.id, *note, scheduler_.state(t.id) == Scheduler::State::ready))
          scheduler_.hold(t.id);
      } catch (const std::exception& e) {  // json's, or std::stoi's on a damaged rung
        log::warn("early-stopping note of task {} is unusable ({}): it reruns to its next rung",
                  t.id, e.what());
        checkpoints_.remove_note(t.id);
      }
    }
    apply(staged_.settle());
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
      if (scheduler_.has_dependents(id))
        finished_results_[id] = for_dependents(r.value("result", json()));
    }
    if (setup_.feature_cache.fetch) {
      for (const auto& t : setup_.tasks) {
        if (t.kind == TaskKind::extract && !done.count(t.id)) adopt_cached(t);
      }
    }
    keep_whole_brackets(done);
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
    drop_finished_notes();
    restore_staged();
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
    keep_features(t.id, hit->features);
    finished_results_[t.id] = for_dependents(result);
    if (setup_.describe_features) result.update(setup_.describe_features(t, *hit->features));
    scheduler_.mark_done(t.id);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    results_.event({{"event", "cached"}, {"id", t.id}, {"kind", to_string(t.kind)}});
    JournalRecord record;
    record.id = t.id;
    const std::string kind = to_string(t.kind);  // the record holds views
    record.kind = kind;
    record.ok = true;
    record.attempt = scheduler_.attempts(t.id);
    record.host = placement_.host;
    record.seconds = seconds;
    const std::string params = t.params.dump(), result_text = result.dump();
    record.params = params;
    record.result = result_text;
    results_.append(record);
  }

  // A finished task's result as its dependents get it: without the journal-only fields.
  static json for_dependents(json result) {
    if (result.is_object()) result.erase(kFoldsKey);
    return result;
  }

  // Whether `set` is task `id`'s results file already (an activation store that arrived from a
  // worker was received into it).
  bool written_in_place(const std::string& id, const FeatureSet& set) const {
    return set.id == id && set.on_disk && set.on_disk->file == results_.features_path(id);
  }

  // A feature set just written to the results directory, for the tasks that use it. An activation
  // store is kept as the file's metadata (its rows are read from there when sent), read back from
  // the file: provenance then has the types a resumed run reads (HDF5's, not the JSON sent).
  void keep_features(const std::string& id, std::shared_ptr<const FeatureSet> set) {
    if (set->on_disk)
      set = std::make_shared<FeatureSet>(store::read_features_file(results_.features_path(id)));
    features_[id] = std::move(set);
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
    if (!tasks.empty() && tasks.front()->kind == TaskKind::train) {
      in.features = features_for(tasks.front()->features);
      for (const auto* t : tasks) {
        const int pause = staged_.staged(t->id) ? staged_.pause_at(t->id) : 0;
        if (pause > 0) in.pause_at[t->id] = pause;
        auto c = checkpoints_.load(t->id);
        if (c && pause > 0 && c->epoch >= pause) {
          // Its note was lost: it reruns to the rung from scratch rather than run past it.
          log::info(
              "task {}: its checkpoint at epoch {} is past the rung {} it pauses at; it "
              "starts from scratch",
              t->id, c->epoch, pause);
          c.reset();
        }
        if (c) {
          log::info("task {} continues from its checkpoint at epoch {}", t->id, c->epoch);
          in.checkpoints[t->id] = std::move(c->state);
        }
      }
    }
    return in;
  }

  // A running task's latest state: kept until the task finishes (a late one is dropped). A
  // checkpoint that cannot be written costs only the time it would have saved.
  void keep_checkpoint(TaskCheckpoint c) {
    if (!scheduler_.contains(c.task_id) || scheduler_.state(c.task_id) != Scheduler::State::running)
      return;
    try {
      checkpoints_.save(c);
      results_.event({{"event", "checkpoint"},
                      {"id", c.task_id},
                      {"epoch", c.epoch},
                      {"bytes", c.state.size()}});
    } catch (const IoError& e) {
      log::warn("task {}: checkpoint at epoch {} not kept: {}", c.task_id, c.epoch, e.what());
    }
  }

  // Journals one finished attempt. `result_text`, when given, is the result as it arrived (JSON
  // text): it is parsed only when something here needs its fields, so a task's result is not
  // parsed and dumped again on the way to the journal.
  void record(TaskOutcome& o, int worker, std::string result_text = {}) {
    const TaskSpec& spec = scheduler_.task(o.id);
    if (o.cancelled) {
      // Stopped at the end of the grace period: not an attempt, nothing to journal.
      scheduler_.requeue(o.id);
      if (stopping()) {
        log::info(
            "task {} ({}) on rank {} abandoned at the end of the grace period; it runs again "
            "on resume",
            o.id, to_string(spec.kind), o.rank);
      } else {
        // Only this worker got a signal (e.g. `kill` of its pid): it is done, the run is not.
        if (withdrawn_.insert(worker).second)
          log::warn(
              "rank {} was stopped by a signal of its own; its task {} goes to another worker",
              o.rank, o.id);
      }
      return;
    }
    // Finished, or failed — a failed attempt's state may be what failed: the retry starts afresh.
    // A task paused at a rung continues from the checkpoint it sent just before.
    if (o.paused_at == 0) checkpoints_.remove(o.id);
    const bool staged = o.ok && staged_.staged(o.id);
    const bool keep_result = o.ok && scheduler_.has_dependents(o.id);
    const bool needs_json =
        result_text.empty() || o.features || keep_result || !o.artifacts.empty() || staged;
    if (o.ok && needs_json && !result_text.empty()) o.result = json::parse(result_text);
    json& result = o.result;
    if (o.ok && o.features) {
      o.features->id = o.id;
      if (!written_in_place(o.id, *o.features))
        store::write_features_file(results_.features_path(o.id), *o.features);
      result["features_file"] = fs::relative(results_.features_path(o.id), results_.dir()).string();
      result["n"] = o.features->n;
      result["dim"] = o.features->dim;
      if (setup_.feature_cache.store && spec.kind == TaskKind::extract)
        setup_.feature_cache.store(spec, o);
      keep_features(o.id, o.features);
    }
    if (o.ok && !o.artifacts.empty()) {
      // Files a task produced (QC reports, contact sheets): only rank 0 writes.
      json written = json::array();
      for (const auto& [name, bytes] : o.artifacts)
        written.push_back(results_.write_artifact(to_string(spec.kind), o.id, name, bytes));
      result["artifacts"] = written;
    }
    if (staged) return report_staged(o, std::move(result));
    if (o.ok && needs_json) {
      result_text = result.dump();
      if (o.features && setup_.describe_features && spec.kind == TaskKind::extract) {
        // Journal-only fields (the folds): not in the feature cache, not sent to dependents.
        json journaled = result;
        journaled.update(setup_.describe_features(spec, *o.features));
        result_text = journaled.dump();
      }
    }
    if (keep_result) finished_results_[o.id] = std::move(result);
    finish(o, worker, result_text);
  }

  // Journals a finished attempt whose result is `result_text` (JSON) and tells the scheduler.
  void finish(const TaskOutcome& o, int worker, const std::string& result_text) {
    const TaskSpec& spec = scheduler_.task(o.id);
    const bool retry = scheduler_.complete(o.id, o.ok, worker);
    if (o.ok) progress_.task_finished(spec.kind, spec.cost, o.seconds);
    const std::string kind = to_string(spec.kind);
    JournalRecord record;
    record.id = o.id;
    record.kind = kind;
    record.ok = o.ok;
    record.attempt = scheduler_.attempts(o.id);
    record.final = o.ok || !retry;
    record.rank = o.rank;
    record.host = o.host;
    record.seconds = o.seconds;
    const std::string params = spec.params.dump();
    record.params = params;
    record.result = result_text;
    record.error = o.error;
    if (!o.ok) {
      log::warn("task {} ({}) failed on rank {} (attempt {}): {}{}", o.id, kind, o.rank,
                scheduler_.attempts(o.id), o.error, retry ? "; retrying" : "; giving up");
    }
    results_.task_event(o.ok, o.id, kind, o.rank, o.seconds);
    results_.append(record);
    if (!o.ok && !retry) leave_brackets();
  }

  // early_stop: members failed for good — the task that just failed, or tasks failed unrun with
  // it because they depend on it (a failed extraction fails its fine-tuning tasks) — leave their
  // brackets, whose other members would otherwise wait for them forever. Their notes say so, so
  // that a resume takes the same decisions.
  void leave_brackets() {
    if (staged_.empty()) return;
    std::vector<Settled> settled;
    for (const auto& id : scheduler_.failed_ids()) {
      if (!staged_.staged(id) || staged_.failed_for_good(id)) continue;
      auto some = staged_.failed(id);
      save_note(id);
      std::move(some.begin(), some.end(), std::back_inserter(settled));
    }
    apply(std::move(settled));
  }

  void save_note(const std::string& id) {
    try {
      checkpoints_.save_note(id, staged_.note_of(id));
    } catch (const IoError& e) {
      log::warn("task {}: its early-stopping note is not kept ({}); after a restart it reruns", id,
                e.what());
    }
  }

  // The notes of staged tasks whose records are journaled (call after a flush, or on resume).
  void drop_finished_notes() {
    if (staged_.empty()) return;
    for (const auto& t : setup_.tasks)
      if (staged_.staged(t.id) && scheduler_.state(t.id) == Scheduler::State::done)
        checkpoints_.remove_note(t.id);
  }

  // early_stop, a task that runs alone came back: ended past its last rung (journaled with its
  // places), or at a rung, where it waits — its scores noted on disk — until the rung's decision.
  void report_staged(const TaskOutcome& o, json result) {
    const int rung = staged_.rung_reached(o.id, o.paused_at);
    if (rung == 0) {
      result["early_stop"] = staged_.record_of(o.id);
      // Journaled with its time over every segment (its artifacts are written already).
      return finish_staged(o.id, o.seconds + staged_.seconds_so_far(o.id), o.rank, o.host, result);
    }
    results_.event({{"event", "rung"}, {"id", o.id}, {"epoch", rung}});
    staged_.reached(o.id, rung, std::move(result), o.seconds, o.rank, o.host);
    // Noted before any decision: a member stopped (or ended) by the decision its own report
    // completes is journaled, and its checkpoint removed, before the journal is synced.
    save_note(o.id);
    apply(staged_.settle_after(o.id));
  }

  // Decided members: the stopped (or ended) ones journaled with the results they waited with, the
  // others back in the queue, to continue from their checkpoints. An ended member's note stays
  // until its record is surely on disk (drop_finished_notes): the journal is synced in batches,
  // and after a kill the note brings the record back without a rerun.
  void apply(std::vector<Settled> settled) {
    for (auto& s : settled) {
      results_.event({{"event", "rung_decided"}, {"id", s.id}, {"continues", s.continues}});
      if (s.continues) {
        scheduler_.requeue(s.id);
        continue;
      }
      checkpoints_.remove(s.id);
      finish_staged(s.id, s.seconds, s.rank, s.host, s.result);
    }
  }

  // Journals a staged task that ended (past its last rung, or settled by a decision) as done.
  void finish_staged(const std::string& id, double seconds, int rank, const std::string& host,
                     const json& result) {
    TaskOutcome o;
    o.id = id;
    o.ok = true;
    o.seconds = seconds;
    o.rank = rank;
    o.host = host;
    finish(o, rank, result.dump());
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
      TaskInputs in = inputs_for(tasks);
      in.save_checkpoint = [this](const std::string& id, int epoch, std::string state) {
        keep_checkpoint({id, epoch, std::move(state)});
      };
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
    const TaskInputs in = inputs_for(tasks);
    const bool send_features = in.features && !holds.count(in.features->id);
    sends_.send(worker, protocol::kTag, protocol::encode_tasks(tasks, in, send_features));
    // An activation store's rows go straight after, a chunk at a time; the worker is waiting for
    // them (this blocks the coordinator for the transfer, not longer).
    if (send_features && in.features->on_disk) protocol::send_rows(comm_, worker, *in.features);
    busy_[worker] = tasks.size();
  }

  void stop_worker(int worker) {
    sends_.send(worker, protocol::kTag, protocol::encode_stop());
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
    if (stopping() || withdrawn_.count(worker)) return stop_worker(worker);
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
    protocol::Message msg = protocol::decode(m.payload, m.source);
    const int worker = m.source;
    if (msg.type == protocol::kCheckpoint) return keep_checkpoint(std::move(msg.checkpoint));
    if (msg.type == protocol::kResult) {
      // Rows of activation stores follow the message, in outcome order: all taken off the wire
      // before anything is recorded, straight into the results directory's feature file.
      // (A result for a task not running here, which the scheduler will refuse, goes to a
      // spill file: it never replaces a file the journal names.)
      for (auto& a : msg.outcomes) {
        if (!a.rows_follow) continue;
        const std::string& id = a.outcome.id;
        const bool running =
            scheduler_.contains(id) && scheduler_.state(id) == Scheduler::State::running;
        const fs::path into = results_.features_path(id);
        const std::string error =
            protocol::receive_rows(comm_, worker, *a.outcome.features,
                                   running && a.outcome.features->id == id ? &into : nullptr);
        if (error.empty()) continue;
        // Rank 0 could not keep them: the task failed (it is retried).
        a.outcome.ok = false;
        a.outcome.error = "its features could not be received on rank 0: " + error;
        a.outcome.features.reset();
        a.result_text.clear();
      }
      for (auto& a : msg.outcomes) record(a.outcome, worker, std::move(a.result_text));
      busy_.erase(worker);
    } else if (msg.type != protocol::kRequest) {
      throw CommError(
          fmt::format("unexpected message type {} from rank {}", int(msg.type), worker));
    }
    if (!setup_sent_.count(worker)) {
      sends_.send(worker, protocol::kTag, protocol::encode_setup(setup_.context));
      setup_sent_.insert(worker);
    }
    serve(worker, msg.holds);
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
      auto m = comm_.try_recv(comm::Communicator::kAnySource, protocol::kTag);
      if (m) {
        handle(*m);
        idle_since = std::chrono::steady_clock::now();
        // Also under constant traffic: the journal's fsync batching and progress run on time.
        housekeeping();
      } else {
        sends_.progress();
        housekeeping();
        kCoordinatorBackoff.wait(idle_since);
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
  CheckpointStore checkpoints_;
  Scheduler scheduler_;
  StagedBrackets staged_;
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
  std::set<int> withdrawn_;  // workers that abandoned a task on a signal the coordinator missed
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
