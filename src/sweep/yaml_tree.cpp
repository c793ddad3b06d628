// Located YAML tree: yaml-cpp parsing with our own checks (tabs, duplicate keys), overrides and
// re-emission, and the error collector.
#include "sweep/yaml_tree.h"

#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <sstream>

#include "core/error.h"

namespace fersweep::sweep {

std::string SourceLoc::str() const {
  if (line <= 0) return label;
  return fmt::format("{}:{}:{}", label, line, column);
}

const YamlValue::Entry* YamlValue::find_entry(std::string_view key) const {
  for (const auto& e : entries)
    if (e.key == key) return &e;
  return nullptr;
}

const YamlValue* YamlValue::find(std::string_view key) const {
  const Entry* e = find_entry(key);
  return e ? &e->value : nullptr;
}

YamlValue* YamlValue::find(std::string_view key) {
  for (auto& e : entries)
    if (e.key == key) return &e.value;
  return nullptr;
}

std::string YamlValue::describe() const {
  switch (kind) {
    case Kind::null:
      return "nothing (null)";
    case Kind::sequence:
      return "a list";
    case Kind::map:
      return "a map";
    case Kind::scalar:
      break;
  }
  return quoted ? fmt::format("the string \"{}\"", scalar) : fmt::format("'{}'", scalar);
}

void Diagnostics::error(const SourceLoc& loc, const std::string& path, const std::string& message) {
  std::string text = loc.str() + ": ";
  if (!path.empty()) text += path + ": ";
  text += message;
  errors_.push_back({loc.line > 0 ? 0 : 1, loc.line, loc.column, std::move(text)});
}

void Diagnostics::warning(const SourceLoc& loc, const std::string& path,
                          const std::string& message) {
  std::string text = loc.str() + ": ";
  if (!path.empty()) text += path + ": ";
  warnings_.push_back(text + message);
}

void Diagnostics::throw_if_errors(const std::string& file) const {
  if (errors_.empty()) return;
  auto sorted = errors_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Item& a, const Item& b) {
    return std::tie(a.order, a.line, a.column) < std::tie(b.order, b.line, b.column);
  });
  std::string message = fmt::format("invalid sweep file {} ({} error{}):", file, sorted.size(),
                                    sorted.size() == 1 ? "" : "s");
  for (const auto& item : sorted) message += "\n  " + item.text;
  throw ConfigError(message);
}

namespace {

SourceLoc loc_of(const YAML::Mark& mark, const std::string& label) {
  // yaml-cpp marks are 0-based; a mark of -1 means "unknown".
  return {label, mark.line >= 0 ? mark.line + 1 : 1, mark.column >= 0 ? mark.column + 1 : 1};
}

std::string join_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

YamlValue convert(const YAML::Node& node, const SourceLoc& where, const std::string& path,
                  const std::string& label, bool use_marks, Diagnostics& diag) {
  YamlValue out;
  out.loc = where;
  if (use_marks && node.Mark().line >= 0 && !node.IsNull()) out.loc = loc_of(node.Mark(), label);
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      out.kind = YamlValue::Kind::null;
      break;
    case YAML::NodeType::Scalar:
      out.kind = YamlValue::Kind::scalar;
      out.scalar = node.Scalar();
      // yaml-cpp tags plain scalars "?" and quoted (non-plain) ones "!".
      out.quoted = node.Tag() == "!";
      break;
    case YAML::NodeType::Sequence: {
      out.kind = YamlValue::Kind::sequence;
      std::size_t i = 0;
      for (const auto& item : node) {
        out.items.push_back(
            convert(item, out.loc, fmt::format("{}[{}]", path, i), label, use_marks, diag));
        ++i;
      }
      break;
    }
    case YAML::NodeType::Map:
      out.kind = YamlValue::Kind::map;
      for (auto it = node.begin(); it != node.end(); ++it) {
        SourceLoc key_loc = out.loc;
        if (use_marks) key_loc = loc_of(it->first.Mark(), label);
        if (!it->first.IsScalar()) {
          diag.error(key_loc, path, "a map key must be a plain word, not a list or a map");
          continue;
        }
        const std::string key = it->first.Scalar();
        const std::string child_path = join_path(path, key);
        if (const auto* first = out.find_entry(key)) {
          diag.error(key_loc, child_path,
                     fmt::format("duplicate key '{}' (first given at line {}); YAML would silently "
                                 "keep only one of them, so remove or merge one",
                                 key, first->key_loc.line));
          continue;
        }
        YamlValue value = convert(it->second, key_loc, child_path, label, use_marks, diag);
        out.entries.push_back({key, key_loc, std::move(value)});
      }
      break;
  }
  return out;
}

// YAML forbids tabs in indentation; yaml-cpp reports them as unrelated syntax errors, so say it.
bool check_tabs(const std::string& text, const std::string& label, Diagnostics& diag) {
  bool found = false;
  int line = 1;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    for (std::size_t i = start; i < end; ++i) {
      const char c = text[i];
      if (c == '\t') {
        diag.error({label, line, static_cast<int>(i - start) + 1}, "",
                   "tab character in indentation; YAML indents with spaces only");
        found = true;
        break;
      }
      if (c != ' ' && c != '-') break;  // indentation includes "- " of block sequences
    }
    start = end + 1;
    ++line;
  }
  return found;
}

}  // namespace

YamlValue parse_yaml(const std::string& text, const std::string& label, Diagnostics& diag) {
  if (check_tabs(text, label, diag)) return {};
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's own text for this is just "bad file".
    diag.error(
        loc_of(e.mark, label), "",
        fmt::format("YAML nested too deeply (more than {} levels of lists/maps)", e.depth() - 1));
    return {};
  } catch (const YAML::Exception& e) {
    diag.error(loc_of(e.mark, label), "", "YAML syntax error: " + e.msg);
    return {};
  }
  return convert(root, SourceLoc{label, 1, 1}, "", label, true, diag);
}

void apply_override(YamlValue& root, const std::string& assignment, Diagnostics& diag) {
  const SourceLoc where{"--set " + assignment, 0, 0};
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    diag.error(where, "", "expected KEY=VALUE, e.g. --set train.lr=0.001");
    return;
  }
  const std::string key_path = assignment.substr(0, eq);
  const std::string value_text = assignment.substr(eq + 1);
  std::vector<std::string> keys;
  std::size_t start = 0;
  while (true) {
    const auto dot = key_path.find('.', start);
    keys.push_back(key_path.substr(start, dot == std::string::npos ? dot : dot - start));
    if (keys.back().empty()) {
      diag.error(where, "", fmt::format("empty key in '{}'", key_path));
      return;
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  YAML::Node parsed;
  try {
    parsed = YAML::Load(value_text);
  } catch (const YAML::Exception& e) {
    diag.error(where, key_path, "the value is not valid YAML: " + e.msg);
    return;
  }
  Diagnostics value_diag;
  YamlValue value = convert(parsed, where, key_path, where.label, false, value_diag);
  if (value_diag.has_errors()) {
    diag.error(where, key_path, "the value has duplicate or non-scalar keys");
    return;
  }
  if (root.is_null()) root.kind = YamlValue::Kind::map;
  YamlValue* node = &root;
  std::string path;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (!node->is_map()) {
      diag.error(where, path, fmt::format("cannot set '{}' inside {}", keys[i], node->describe()));
      return;
    }
    path = join_path(path, keys[i]);
    YamlValue* child = node->find(keys[i]);
    if (!child) {
      YamlValue fresh;
      fresh.kind = i + 1 < keys.size() ? YamlValue::Kind::map : YamlValue::Kind::null;
      fresh.loc = where;
      node->entries.push_back({keys[i], where, std::move(fresh)});
      child = &node->entries.back().value;
    }
    if (i + 1 == keys.size()) {
      *child = std::move(value);
      // The key now refers to the override, so errors about it point there.
      for (auto& e : node->entries)
        if (e.key == keys[i]) e.key_loc = where;
      return;
    }
    if (child->is_null()) {
      child->kind = YamlValue::Kind::map;
      child->loc = where;
    }
    node = child;
  }
}

namespace {

void emit(YAML::Emitter& out, const YamlValue& v) {
  switch (v.kind) {
    case YamlValue::Kind::null:
      out << YAML::Null;
      break;
    case YamlValue::Kind::scalar:
      if (v.quoted) out << YAML::DoubleQuoted;
      out << v.scalar;
      break;
    case YamlValue::Kind::sequence: {
      const bool flat = std::all_of(v.items.begin(), v.items.end(), [](const YamlValue& i) {
        return !i.is_map() && !i.is_sequence();
      });
      if (flat) out << YAML::Flow;
      out << YAML::BeginSeq;
      for (const auto& item : v.items) emit(out, item);
      out << YAML::EndSeq;
      break;
    }
    case YamlValue::Kind::map:
      out << YAML::BeginMap;
      for (const auto& e : v.entries) {
        out << YAML::Key << e.key << YAML::Value;
        emit(out, e.value);
      }
      out << YAML::EndMap;
      break;
  }
}

}  // namespace

std::string emit_yaml(const YamlValue& root) {
  YAML::Emitter out;
  emit(out, root);
  return std::string(out.c_str()) + "\n";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Optimal string alignment: a swap of two neighbours ("resnet05") counts as one typo.
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

std::string closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

}  // namespace fersweep::sweep
