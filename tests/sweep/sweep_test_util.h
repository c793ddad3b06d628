// Helpers for the sweep tests: parse inline YAML and capture ConfigError messages.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "sweep/plan.h"
#include "sweep/spec.h"

namespace fersweep::sweep::testing {

/// A minimal valid sweep preceded by nothing: callers append sections.
inline const char* kMinimal = "dataset: {root: data}\ngrid: {backbone: [resnet18]}\n";

/// The ConfigError message parse_sweep + plan_sweep raise for `text`, or "" when valid.
inline std::string config_error(const std::string& text,
                                const std::vector<std::string>& overrides = {}) {
  try {
    plan_sweep(parse_sweep(text, "t.yaml", overrides));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

/// The sweep directory of the source tree.
inline std::string sweeps_dir() {
  return std::string(FERSWEEP_TESTS_DIR) + "/../sweeps";
}

}  // namespace fersweep::sweep::testing
