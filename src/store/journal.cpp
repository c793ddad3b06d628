// Journal encoding, reading with torn-tail detection, and batched fsync'd appends.
#include "store/journal.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"

namespace fersweep::store {
namespace {
constexpr std::size_t kChecksumChars = 16;
constexpr std::size_t kWriteThroughBytes = 1 << 20;

std::string checksum(std::string_view text) {
  return sha256_hex(text).substr(0, kChecksumChars);
}

// Returns true and fills `record` when `line` (without its newline) is intact.
bool decode_line(std::string_view line, nlohmann::json& record) {
  const auto tab = line.rfind('\t');
  if (tab == std::string_view::npos || line.size() - tab - 1 != kChecksumChars) return false;
  const std::string_view body = line.substr(0, tab);
  if (checksum(body) != line.substr(tab + 1)) return false;
  record = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  return !record.is_discarded();
}
}  // namespace

std::string encode_journal_line(const nlohmann::json& record) {
  return encode_journal_text(record.dump());  // one line: dump() escapes newlines inside strings
}

std::string encode_journal_text(std::string_view body) {
  FERSWEEP_ASSERT(body.find('\n') == std::string_view::npos, "journal record spans lines");
  std::string line;
  line.reserve(body.size() + kChecksumChars + 2);
  line += body;
  line += '\t';
  line += checksum(body);
  line += '\n';
  return line;
}

JournalContents read_journal(const std::filesystem::path& path) {
  JournalContents out;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) {
      throw IoError(
          fmt::format("cannot read journal '{}': {}", path.string(), std::strerror(errno)));
    }
    return out;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  std::size_t pos = 0;
  std::size_t line_no = 0;
  std::size_t bad_run_start = 0;
  bool in_bad_run = false;
  while (pos < text.size()) {
    ++line_no;
    const auto nl = text.find('\n', pos);
    const bool complete = nl != std::string::npos;
    const std::string_view line(text.data() + pos, (complete ? nl : text.size()) - pos);
    nlohmann::json record;
    if (complete && decode_line(line, record)) {
      if (in_bad_run) {
        out.corrupt_lines.push_back(bad_run_start);
        in_bad_run = false;
      }
      out.records.push_back(std::move(record));
      out.valid_bytes = nl + 1;
    } else if (!in_bad_run) {
      in_bad_run = true;
      bad_run_start = line_no;
    }
    pos = complete ? nl + 1 : text.size();
  }
  // Damage at the very end is a torn write from a crash; damage followed by good lines is not.
  out.torn_tail = in_bad_run;
  return out;
}

JournalWriter::JournalWriter(const std::filesystem::path& path, std::chrono::milliseconds max_delay)
    : path_(path), max_delay_(max_delay) {
  const JournalContents existing = read_journal(path);
  if (existing.torn_tail) {
    log::warn("journal '{}': dropping an incomplete last record (left by an interrupted run)",
              path.string());
    std::error_code ec;
    std::filesystem::resize_file(path, existing.valid_bytes, ec);
    if (ec)
      throw IoError(fmt::format("cannot truncate journal '{}': {}", path.string(), ec.message()));
  }
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw IoError(fmt::format("cannot open journal '{}' for appending: {}", path.string(),
                              std::strerror(errno)));
  }
}

JournalWriter::~JournalWriter() {
  try {
    flush();
  } catch (const std::exception& e) {
    log::error("{}", e.what());
  }
  if (fd_ >= 0) ::close(fd_);
}

void JournalWriter::append(const nlohmann::json& record) {
  append_text(record.dump());
}

void JournalWriter::append_text(std::string_view record_json) {
  if (pending_count_ == 0) oldest_pending_ = std::chrono::steady_clock::now();
  pending_ += encode_journal_text(record_json);
  ++pending_count_;
  // Hand large batches to the kernel early (bounded memory at 100,000 tasks/s); they become
  // durable, and are counted, at the next flush()'s fsync as before.
  if (pending_.size() >= kWriteThroughBytes) write_pending();
}

void JournalWriter::write_pending() {
  std::size_t written = 0;
  while (written < pending_.size()) {
    const ssize_t n = ::write(fd_, pending_.data() + written, pending_.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw IoError(
          fmt::format("cannot write journal '{}': {}", path_.string(), std::strerror(errno)));
    }
    written += static_cast<std::size_t>(n);
  }
  pending_.clear();
}

bool JournalWriter::flush_due() const {
  return pending_count_ > 0 && std::chrono::steady_clock::now() - oldest_pending_ >= max_delay_;
}

void JournalWriter::flush() {
  if (pending_count_ == 0 || fd_ < 0) return;
  write_pending();
  if (::fsync(fd_) != 0) {
    throw IoError(
        fmt::format("cannot sync journal '{}': {}", path_.string(), std::strerror(errno)));
  }
  durable_ += pending_count_;
  pending_count_ = 0;
}

}  // namespace fersweep::store
