// The versioned binary format of messages between ranks: a magic, a format version and a message
// type, then length-prefixed fields. A peer speaking another version is refused by name.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace fersweep::comm {

/// Bumped whenever the layout of any message changes.
/// 2: a result's status may be "cancelled"; task artifacts travel as bytes beside the result; a
/// task carries its evaluated epochs.
/// 3: task checkpoints (a worker's kCheckpoint message; checkpoints sent with their tasks).
/// 4: early_stop pauses (the rungs sent with tasks; an outcome's paused_at).
/// 5: feature sets say how their rows travel (inline, or in kRows messages after the message).
inline constexpr std::uint16_t kWireVersion = 5;

/// Builds one message.
class WireWriter {
 public:
  explicit WireWriter(std::uint16_t type);
  WireWriter& u64(std::uint64_t v) { return raw(&v, sizeof v); }
  WireWriter& i64(std::int64_t v) { return raw(&v, sizeof v); }
  WireWriter& f64(double v) { return raw(&v, sizeof v); }
  WireWriter& str(std::string_view s);
  WireWriter& floats(const float* data, std::size_t count);
  const std::string& bytes() const { return buffer_; }
  std::string take() { return std::move(buffer_); }

 private:
  WireWriter& raw(const void* p, std::size_t n);
  std::string buffer_;
};

/// Reads one message; every read is bounds-checked (CommError naming the sender on damage).
class WireReader {
 public:
  WireReader(std::string_view bytes, int sender);
  std::uint16_t type() const { return type_; }
  std::uint64_t u64();
  std::int64_t i64();
  double f64();
  std::string str();
  std::vector<float> floats();
  bool at_end() const { return pos_ == bytes_.size(); }

 private:
  void take(void* out, std::size_t n);
  std::string_view bytes_;
  std::size_t pos_ = 0;
  int sender_;
  std::uint16_t type_ = 0;
};

}  // namespace fersweep::comm
