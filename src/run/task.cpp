// Task kinds, the synthetic executor and failure injection.
#include "run/task.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "core/cancel.h"
#include "core/error.h"

namespace fersweep::run {

std::string to_string(TaskKind kind) {
  switch (kind) {
    case TaskKind::crop:
      return "crop";
    case TaskKind::extract:
      return "extract";
    case TaskKind::train:
      return "train";
    case TaskKind::synthetic:
      return "synthetic";
  }
  return "unknown";
}

TaskKind parse_task_kind(const std::string& text) {
  for (TaskKind k : {TaskKind::crop, TaskKind::extract, TaskKind::train, TaskKind::synthetic}) {
    if (to_string(k) == text) return k;
  }
  throw CommError(fmt::format("unknown task kind '{}'", text));
}

bool should_inject_failure(const TaskSpec& task) {
  static std::mutex mutex;
  static std::map<std::string, int> used;
  const char* spec = std::getenv("FERSWEEP_INJECT_FAILURE");
  if (spec == nullptr || *spec == '\0') return false;
  std::string text = spec;
  int times = -1;
  if (const auto colon = text.find(':'); colon != std::string::npos) {
    times = std::atoi(text.c_str() + colon + 1);
    text = text.substr(0, colon);
  }
  const bool matches = text == to_string(task.kind) || task.id.rfind(text, 0) == 0;
  if (!matches) return false;
  if (times < 0) return true;
  std::lock_guard<std::mutex> lock(mutex);
  return used[task.id]++ < times;
}

std::vector<TaskOutcome> SyntheticExecutor::execute(const std::vector<TaskSpec>& tasks,
                                                    const TaskInputs&) {
  std::vector<TaskOutcome> out;
  for (const auto& t : tasks) {
    TaskOutcome o;
    o.id = t.id;
    const auto start = std::chrono::steady_clock::now();
    const auto until = start + std::chrono::milliseconds(t.params.value("sleep_ms", 0));
    while (std::chrono::steady_clock::now() < until && !cancel_due()) {
      std::this_thread::sleep_until(
          std::min(until, std::chrono::steady_clock::now() + std::chrono::milliseconds(10)));
    }
    if (cancel_due()) {
      o.cancelled = true;
      o.error = fmt::format("synthetic task {} cancelled", t.id);
    } else if (t.params.value("fail", false) || should_inject_failure(t)) {
      o.ok = false;
      o.error = fmt::format("synthetic failure of task {}", t.id);
    } else {
      o.ok = true;
      o.result = {{"value", t.params.value("value", 0)}};
    }
    o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace fersweep::run
