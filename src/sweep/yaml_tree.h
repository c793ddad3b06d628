// A YAML document as a plain tree that remembers where every key and value came from (file line
// and column, or a --set override), plus the error collector used by sweep-file validation.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace fersweep::sweep {

/// Where a value came from: a position in a sweep file or a `--set` override.
struct SourceLoc {
  std::string label;  ///< file label (as given to parse_sweep) or "--set KEY=VALUE"
  int line = 0;       ///< 1-based; 0 for overrides
  int column = 0;     ///< 1-based; 0 for overrides
  /// "file:line:column", or the override text.
  std::string str() const;
};

/// One YAML node. Maps keep their entries in file order (duplicate keys are rejected on parse).
struct YamlValue {
  enum class Kind { null, scalar, sequence, map };
  struct Entry;

  Kind kind = Kind::null;
  std::string scalar;   ///< the text of a scalar
  bool quoted = false;  ///< scalar written in quotes (a string, never a number or a boolean)
  std::vector<YamlValue> items;
  std::vector<Entry> entries;
  SourceLoc loc;

  /// The value of `key` in a map, or nullptr.
  const YamlValue* find(std::string_view key) const;
  YamlValue* find(std::string_view key);
  /// The entry of `key` in a map, or nullptr.
  const Entry* find_entry(std::string_view key) const;
  bool is_map() const { return kind == Kind::map; }
  bool is_sequence() const { return kind == Kind::sequence; }
  bool is_scalar() const { return kind == Kind::scalar; }
  bool is_null() const { return kind == Kind::null; }
  /// "a map", "a list", "null", "the number 3", "the string 'x'"-style description for messages.
  std::string describe() const;
};

struct YamlValue::Entry {
  std::string key;
  SourceLoc key_loc;
  YamlValue value;
};

/// Collects every validation error (and warning) so that all are reported together.
class Diagnostics {
 public:
  /// Records "LOC: PATH: MESSAGE" (PATH may be empty).
  void error(const SourceLoc& loc, const std::string& path, const std::string& message);
  void warning(const SourceLoc& loc, const std::string& path, const std::string& message);
  bool has_errors() const { return !errors_.empty(); }
  const std::vector<std::string>& warnings() const { return warnings_; }
  /// Throws ConfigError listing every error (sorted by position) under a header naming `file`,
  /// if there is any.
  void throw_if_errors(const std::string& file) const;

 private:
  struct Item {
    int order;  // overrides after file positions
    int line, column;
    std::string text;
  };
  std::vector<Item> errors_;
  std::vector<std::string> warnings_;
};

/// Parses YAML text into a located tree. Tabs in indentation, syntax errors, duplicate keys and
/// non-scalar keys are reported to `diag` (the returned tree is then partial or null).
YamlValue parse_yaml(const std::string& text, const std::string& label, Diagnostics& diag);

/// Applies one "a.b.c=VALUE" override (VALUE is YAML, e.g. `[resnet18, resnet50]`) to `root`,
/// creating intermediate maps; the new nodes are located at the override text.
void apply_override(YamlValue& root, const std::string& assignment, Diagnostics& diag);

/// Writes the tree back as YAML (block style; comments are not kept).
std::string emit_yaml(const YamlValue& root);

/// Edit distance (insertions, deletions, substitutions, swaps of neighbours) for did-you-mean.
std::size_t edit_distance(std::string_view a, std::string_view b);
/// The candidate closest to `word` if it is close enough to be a likely typo, else "".
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace fersweep::sweep
