// The coordinator's results directory and the journal record layout.
#include "run/results_dir.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/log.h"
#include "store/h5.h"
#include "store/journal.h"
#include "store/lock_file.h"

namespace fersweep::run {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A JSON string literal for `s`; plain ASCII (task ids, kinds, host names) skips the serialiser.
std::string json_string(std::string_view s) {
  const bool plain = std::all_of(
      s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; });
  if (!plain) return json(std::string(s)).dump();
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  out += s;
  out += '"';
  return out;
}

// A JSON number for a measured duration (never NaN or infinite in the output).
std::string json_seconds(double seconds) {
  return std::isfinite(seconds) ? fmt::format("{}", seconds) : "0";
}

// A kill -9 in the middle of an event's write leaves a line without its newline; the next run
// would append its first event to it, and every JSON-lines reader then fails on that line. The
// torn part is dropped (the journal, not the event log, is what a resume trusts). Scans back
// from the end in blocks: the log has one line per task and can be megabytes long.
void drop_torn_last_line(const fs::path& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec || size == 0) return;
  std::ifstream in(path, std::ios::binary);
  std::uintmax_t end = size;
  std::string block;
  bool last = true;
  while (end > 0) {
    const std::uintmax_t begin = end > 4096 ? end - 4096 : 0;
    block.resize(static_cast<std::size_t>(end - begin));
    in.seekg(static_cast<std::streamoff>(begin));
    if (!in.read(block.data(), static_cast<std::streamsize>(block.size()))) return;
    if (last && block.back() == '\n') return;  // not torn
    last = false;
    if (const auto nl = block.rfind('\n'); nl != std::string::npos) {
      end = begin + nl + 1;
      break;
    }
    end = begin;
  }
  in.close();
  fs::resize_file(path, end, ec);
  if (ec) {
    throw IoError(
        fmt::format("cannot truncate the torn last line of '{}': {}", path.string(), ec.message()));
  }
  log::info("'{}': dropped a torn last line ({} bytes) left by an interrupted run", path.string(),
            size - end);
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

}  // namespace

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

std::string JournalRecord::text() const {
  // Keys in sorted order, as json::dump writes them:
  // {attempt, error?, final, finished, host, id, kind, params, rank, result?, seconds, status, v}.
  std::string t = fmt::format(R"({{"attempt":{},)", attempt);
  if (!ok) t += R"("error":)" + json(std::string(error)).dump() + ',';
  t += fmt::format(R"("final":{},"finished":"{}","host":{},"id":{},"kind":{},"params":{},)", final,
                   now_iso(), json_string(host), json_string(id), json_string(kind), params);
  t += fmt::format(R"("rank":{},)", rank);
  if (ok) {
    t += R"("result":)";
    t += result.empty() ? std::string_view("null") : result;
    t += ',';
  }
  t += fmt::format(R"("seconds":{},"status":"{}","v":1}})", json_seconds(seconds),
                   ok ? "done" : "failed");
  return t;
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

ResultsDirectory::ResultsDirectory(const RunSetup& setup, const RunOptions& options)
    : dir_(options.out) {
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
      throw ConfigError(
          fmt::format("results directory '{}' holds a different sweep; refusing to mix results:{}\n"
                      "Use another --out directory, or --force-new to discard the earlier results.",
                      dir_.string(),
                      identity_difference(old.value("identity", json::object()), setup.identity)));
    }
    created_ = old.value("created", now_iso());
  } else {
    if (options.force_new) {
      for (const char* name :
           {"journal.jsonl", "results.h5", "events.jsonl", "run.json", kSamplesFile})
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
  // The same samples on a resume (run.json's fingerprint matched), so rewriting it is harmless.
  if (setup.samples) write_samples_h5(dir_ / kSamplesFile, *setup.samples);
  auto contents = store::read_journal(dir_ / "journal.jsonl");
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
  drop_torn_last_line(dir_ / "events.jsonl");
  events_.open(dir_ / "events.jsonl", std::ios::app);
}

ResultsDirectory::~ResultsDirectory() = default;

fs::path ResultsDirectory::features_path(const std::string& id) const {
  return dir_ / "cache" / "features" / (id + ".h5");
}

std::string ResultsDirectory::write_artifact(const std::string& kind, const std::string& id,
                                             const std::string& name, const std::string& bytes) {
  if (name.find('/') != std::string::npos || name.empty() || name[0] == '.')
    throw CommError(fmt::format("task {} sent an artifact with an unsafe name '{}'", id, name));
  const fs::path dir = dir_ / "cache" / kind / id;
  fs::create_directories(dir);
  write_text_atomically(dir / name, bytes);
  return fs::relative(dir / name, dir_).string();
}

void ResultsDirectory::append(const JournalRecord& record) {
  JournalEntry entry{std::string(record.id), std::string(record.kind), record.ok, record.text()};
  journal_->append_text(entry.text);
  keep(std::move(entry));
  dirty_ = true;
}

void ResultsDirectory::event(json e) {
  e["time"] = now_iso();
  events_ << e.dump() << '\n';
}

void ResultsDirectory::task_event(bool ok, const std::string& id, const std::string& kind, int rank,
                                  double seconds) {
  events_ << fmt::format(R"({{"event":"{}","id":{},"kind":{},"rank":{},"seconds":{},"time":"{}"}})",
                         ok ? "done" : "failed", json_string(id), json_string(kind), rank,
                         json_seconds(seconds), now_iso())
          << '\n';
}

void ResultsDirectory::maybe_flush(double rewrite_seconds) {
  const auto now = std::chrono::steady_clock::now();
  const bool rewrite_due =
      dirty_ && std::chrono::duration<double>(now - last_rewrite_).count() >= rewrite_seconds;
  if (journal_->flush_due() || rewrite_due) {
    journal_->flush();
    events_.flush();  // the event log keeps up with the journal (a kill -9 loses neither's past)
  }
  if (rewrite_due) rewrite();
}

void ResultsDirectory::flush_all() {
  journal_->flush();
  events_.flush();
  rewrite();
}

// results.h5 needs the full text only of the records it writes as rows; a finished synthetic
// task is only counted (its record stays in the journal).
void ResultsDirectory::keep(JournalEntry entry) {
  if (entry.done && !written_in_full(entry.kind)) std::string().swap(entry.text);
  entries_.push_back(std::move(entry));
}

void ResultsDirectory::rewrite() {
  run_info_["updated"] = now_iso();
  write_results_h5(dir_ / "results.h5", run_info_, entries_);
  last_rewrite_ = std::chrono::steady_clock::now();
  dirty_ = false;
}

}  // namespace fersweep::run
