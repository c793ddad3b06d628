// Checkpoint files: a one-line JSON header that says whose state follows and how to check it,
// so a truncated or foreign file is recognised before its bytes reach LibTorch.
#include "run/checkpoints.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"
#include "run/results_dir.h"

namespace fersweep::run {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr std::string_view kMagic = "fersweep-checkpoint 1 ";
constexpr std::string_view kSuffix = ".ckpt";
constexpr std::string_view kNoteSuffix = ".rungs";

// The bytes of `p`; nullopt when it cannot be opened.
std::optional<std::string> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

void remove_file(const fs::path& p) {
  std::error_code ec;
  fs::remove(p, ec);  // already gone is fine
}
}  // namespace

std::string encode_checkpoint(const TaskCheckpoint& c) {
  const json header = {{"id", c.task_id},
                       {"epoch", c.epoch},
                       {"size", c.state.size()},
                       {"sha256", sha256_hex(c.state)}};
  std::string out(kMagic);
  out += header.dump();
  out += '\n';
  out += c.state;
  return out;
}

TaskCheckpoint decode_checkpoint(std::string_view bytes) {
  if (bytes.substr(0, kMagic.size()) != kMagic)
    throw DataError("not a fersweep checkpoint (or another version's)");
  const std::size_t eol = bytes.find('\n');
  if (eol == std::string_view::npos) throw DataError("its header is cut short");
  const json header = json::parse(bytes.substr(kMagic.size(), eol - kMagic.size()), nullptr, false);
  if (header.is_discarded() || !header.is_object()) throw DataError("its header is damaged");
  TaskCheckpoint c;
  try {
    c.task_id = header.at("id").get<std::string>();
    c.epoch = header.at("epoch").get<int>();
    const auto size = header.at("size").get<std::size_t>();
    c.state = std::string(bytes.substr(eol + 1));
    if (c.state.size() != size)
      throw DataError(fmt::format("it holds {} bytes of state, not {}", c.state.size(), size));
    if (sha256_hex(c.state) != header.at("sha256").get<std::string>())
      throw DataError("its state does not match its checksum");
  } catch (const json::exception&) {
    throw DataError("its header is damaged");
  }
  return c;
}

CheckpointStore::CheckpointStore(const fs::path& results_dir) : dir_(results_dir / "checkpoints") {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw IoError(fmt::format("cannot create '{}': {}", dir_.string(), ec.message()));
  for (const auto& entry : fs::directory_iterator(dir_)) {
    const fs::path p = entry.path();
    if (p.extension() == ".tmp") {
      fs::remove(p, ec);  // a write cut short by a kill: the file it was replacing is intact
    } else if (p.extension() == kSuffix) {
      ids_.insert(p.stem().string());
    } else if (p.extension() == kNoteSuffix) {
      notes_.insert(p.stem().string());
    }
  }
}

fs::path CheckpointStore::path(const std::string& task_id) const {
  return dir_ / (task_id + std::string(kSuffix));
}

void CheckpointStore::save(const TaskCheckpoint& c) {
  write_text_atomically(path(c.task_id), encode_checkpoint(c));
  ids_.insert(c.task_id);
}

std::optional<TaskCheckpoint> CheckpointStore::load(const std::string& task_id) {
  if (!has(task_id)) return std::nullopt;
  const fs::path p = path(task_id);
  try {
    const auto bytes = read_bytes(p);
    if (!bytes) throw DataError("it cannot be read");
    TaskCheckpoint c = decode_checkpoint(*bytes);
    if (c.task_id != task_id) throw DataError("it belongs to task " + c.task_id);
    return c;
  } catch (const DataError& e) {
    log::warn("checkpoint '{}' is unusable ({}): task {} starts from scratch", p.string(), e.what(),
              task_id);
    remove(task_id);
    return std::nullopt;
  }
}

void CheckpointStore::remove(const std::string& task_id) {
  if (ids_.erase(task_id)) remove_file(path(task_id));
}

void CheckpointStore::clear() {
  for (const auto& id : std::set<std::string>(ids_)) remove(id);
  for (const auto& id : std::set<std::string>(notes_)) remove_note(id);
}

fs::path CheckpointStore::note_path(const std::string& task_id) const {
  return dir_ / (task_id + std::string(kNoteSuffix));
}

void CheckpointStore::save_note(const std::string& task_id, const json& note) {
  write_text_atomically(note_path(task_id), note.dump());
  notes_.insert(task_id);
}

std::optional<json> CheckpointStore::load_note(const std::string& task_id) {
  if (!notes_.count(task_id)) return std::nullopt;
  const fs::path p = note_path(task_id);
  const auto text = read_bytes(p);
  json note = text ? json::parse(*text, nullptr, false) : json();
  if (note.is_object()) return note;
  log::warn("early-stopping note '{}' is unusable: task {} reruns to its next rung", p.string(),
            task_id);
  remove_note(task_id);
  return std::nullopt;
}

void CheckpointStore::remove_note(const std::string& task_id) {
  if (notes_.erase(task_id)) remove_file(note_path(task_id));
}

}  // namespace fersweep::run
