// Sweep files: loading, --set overrides and validation into one canonical, fully defaulted JSON
// document (docs/sweep-files.md describes the language).
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "sweep/settings.h"

namespace fersweep::sweep {

/// Backbones a sweep may name, in depth order.
const std::vector<std::string>& known_backbones();
/// Keys that may appear under `grid:`, `exclude:` and `include:` (canonical spellings; the alias
/// `standardise` is accepted for `standardize`). `epochs` is last.
const std::vector<std::string>& grid_keys();

/// A validated sweep file.
struct SweepSpec {
  std::string name;                ///< `name:` (defaults to the file's stem)
  std::string file;                ///< the file label errors use (the path as given)
  std::filesystem::path base_dir;  ///< relative paths in the file are relative to this directory
  /// The text that is run: the file verbatim when there are no overrides; otherwise a header
  /// comment listing the overrides followed by the overridden document re-emitted as YAML
  /// (comments dropped). Parsing it again gives the same canonical document.
  std::string source_text;
  std::string source_hash;             ///< sha256 (hex) of source_text
  std::vector<std::string> overrides;  ///< the --set assignments, in order
  /// The fully defaulted, validated sweep (every section present, aliases resolved, scalars in
  /// grid/exclude/include turned into lists, `fold: all` expanded, weights filled per backbone).
  nlohmann::json canonical;
  DatasetSettings dataset;               ///< `dataset:`, defaulted
  CvSettings cv;                         ///< `cv:`, defaulted
  RunSettings run;                       ///< `run:`, defaulted
  std::optional<SelectSettings> select;  ///< `select:`; none when the file has no such section
  std::optional<EarlyStopSettings> early_stop;  ///< `early_stop:`; none without the section
  std::filesystem::path dataset_root;           ///< dataset.root resolved against base_dir
  std::vector<std::string> variants;            ///< variant names in file order
  std::vector<std::string> warnings;  ///< "file:line:col: key: message" lines worth showing
  /// Where keys were written ("grid", "exclude", "exclude[1]", "cv.folds", ...) as
  /// "file:line:col" (or "--set ..."), for errors found after validation.
  std::map<std::string, std::string> locations;

  /// `path` as written in the file, resolved against base_dir ("~/" expands to $HOME).
  std::filesystem::path resolve_path(const std::string& path) const;
  /// locations[key], or the file name when the key was not written.
  std::string location(const std::string& key) const;
};

/// Reads and validates a sweep file, then applies the `--set KEY=VALUE` overrides. Throws
/// ConfigError listing ALL problems, each as "file:line:column: key.path: message" (also when the
/// file does not exist); IoError when it exists but cannot be read.
SweepSpec load_sweep(const std::filesystem::path& file,
                     const std::vector<std::string>& overrides = {});

/// Same as load_sweep for text already in memory; `file_label` names it in messages and its
/// parent directory is the base for relative paths.
SweepSpec parse_sweep(const std::string& text, const std::string& file_label,
                      const std::vector<std::string>& overrides = {});

}  // namespace fersweep::sweep
