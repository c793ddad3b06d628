// Weights resolution (auto / random / path) and the strict key, shape and dtype check.
#include "model/weights.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <cstdlib>
#include <map>

#include "core/error.h"
#include "core/hash.h"
#include "core/log.h"

namespace fersweep::model {
namespace {

namespace fs = std::filesystem;

std::string shape_str(at::IntArrayRef s) {
  return fmt::format("[{}]", fmt::join(s, ", "));
}
std::string shape_str(const std::vector<std::int64_t>& s) {
  return fmt::format("[{}]", fmt::join(s, ", "));
}

/// At most `limit` names, then a count, so a wrong-architecture file gives a readable message.
std::string name_list(const std::vector<std::string>& names, std::size_t limit = 12) {
  std::string out;
  for (std::size_t k = 0; k < names.size() && k < limit; ++k) out += (k ? ", " : "") + names[k];
  if (names.size() > limit) out += fmt::format(", ... ({} more)", names.size() - limit);
  return out;
}

/// Which architecture's layout `state` matches exactly, if any (for a helpful hint).
std::string matching_arch(const StateDict& state) {
  for (Arch a : all_archs()) {
    std::map<std::string, std::vector<std::int64_t>> layout;
    for (const auto& e : state_dict_layout(a))
      if (e.role == EntryRole::parameter) layout[e.name] = e.shape;
    std::size_t matched = 0;
    bool ok = true;
    for (const auto& [k, t] : state) {
      auto it = layout.find(k);
      const bool optional = k.rfind("fc.", 0) == 0 || k.find("num_batches_tracked") != k.npos;
      if (it == layout.end()) {
        ok = ok && optional;
        continue;
      }
      if (t.sizes().vec() != it->second) ok = false;
      ++matched;
    }
    if (ok && matched == layout.size()) return arch_name(a);
  }
  return "";
}

}  // namespace

WeightsSpec parse_weights(const std::string& text) {
  WeightsSpec spec;
  if (text.empty())
    throw ConfigError("weights: empty value (use auto, random, random:SEED or a path)");
  if (text == "auto") {
    spec.kind = WeightsSpec::automatic;
  } else if (text == "random") {
    spec.kind = WeightsSpec::random;
  } else if (text.rfind("random:", 0) == 0) {
    spec.kind = WeightsSpec::random;
    const std::string seed = text.substr(7);
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(seed.c_str(), &end, 10);
    if (seed.empty() || *end != '\0' || errno == ERANGE || seed[0] == '-' || seed[0] == '+')
      throw ConfigError(fmt::format(
          "weights: '{}' has a bad seed (expected random:N with N a non-negative integer)", text));
    spec.seed = v;
  } else {
    spec.kind = WeightsSpec::file;
    spec.path = text;
  }
  return spec;
}

fs::path torchvision_checkpoint_dir() {
  // torch.hub's rule: $TORCH_HOME, else $XDG_CACHE_HOME/torch, else ~/.cache/torch.
  fs::path home;
  if (const char* t = std::getenv("TORCH_HOME"); t && *t) {
    home = t;
  } else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) {
    home = fs::path(x) / "torch";
  } else {
    const char* h = std::getenv("HOME");
    home = fs::path(h && *h ? h : ".") / ".cache" / "torch";
  }
  return home / "hub" / "checkpoints";
}

StateDict random_state_dict(Arch arch, std::uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  StateDict out;
  for (const EntrySpec& e : state_dict_layout(arch)) {
    at::Tensor t;
    const std::string& n = e.name;
    auto ends_with = [&](const std::string& suffix) {
      return n.size() >= suffix.size() &&
             n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (e.role == EntryRole::counter) {
      t = at::zeros({}, at::kLong);
    } else if (e.role == EntryRole::classifier) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(feature_dim(arch)));
      t = at::empty(e.shape, at::kFloat).uniform_(-bound, bound, gen);
    } else if (e.shape.size() == 4) {
      const double fan_out = static_cast<double>(e.shape[0] * e.shape[2] * e.shape[3]);
      t = at::empty(e.shape, at::kFloat).normal_(0.0, std::sqrt(2.0 / fan_out), gen);
    } else if (ends_with(".weight") || ends_with(".running_var")) {
      t = at::ones(e.shape, at::kFloat);
    } else {
      t = at::zeros(e.shape, at::kFloat);
    }
    out.emplace_back(e.name, t);
  }
  return out;
}

void check_state_dict(const StateDict& state, Arch arch, const std::string& origin) {
  const auto layout = state_dict_layout(arch);
  std::map<std::string, const EntrySpec*> expected;
  for (const auto& e : layout) expected[e.name] = &e;

  std::vector<std::string> unexpected, shapes, dtypes, missing;
  std::map<std::string, bool> seen;
  for (const auto& [key, t] : state) {
    auto it = expected.find(key);
    if (it == expected.end()) {
      unexpected.push_back(key);
      continue;
    }
    if (seen[key]) {
      unexpected.push_back(key + " (twice)");
      continue;
    }
    seen[key] = true;
    const EntrySpec& e = *it->second;
    if (!t.defined()) {
      dtypes.push_back(key + " is undefined");
      continue;
    }
    bool shape_ok = t.sizes().vec() == e.shape;
    if (e.role == EntryRole::classifier)  // any number of classes
      shape_ok = t.dim() == static_cast<std::int64_t>(e.shape.size()) &&
                 (t.dim() == 1 || t.size(1) == e.shape[1]);
    if (!shape_ok)
      shapes.push_back(fmt::format("{} is {} in the file, {} expects {}", key, shape_str(t.sizes()),
                                   arch_name(arch),
                                   e.role == EntryRole::classifier && e.shape.size() == 2
                                       ? fmt::format("[classes, {}]", e.shape[1])
                                       : shape_str(e.shape)));
    const bool counter = e.role == EntryRole::counter;
    if (!counter && t.scalar_type() != at::kFloat)
      dtypes.push_back(fmt::format("{} is {}", key, c10::toString(t.scalar_type())));
  }
  for (const auto& e : layout)
    if (e.role == EntryRole::parameter && !seen.count(e.name)) missing.push_back(e.name);

  if (unexpected.empty() && shapes.empty() && dtypes.empty() && missing.empty()) return;
  std::string msg = fmt::format("{}: the weights do not fit {}", origin, arch_name(arch));
  if (const std::string other = matching_arch(state); !other.empty() && other != arch_name(arch))
    msg += fmt::format(" (they are {} weights)", other);
  if (!missing.empty())
    msg += fmt::format("; {} missing key(s): {}", missing.size(), name_list(missing));
  if (!unexpected.empty())
    msg += fmt::format("; {} unexpected key(s): {}", unexpected.size(), name_list(unexpected));
  if (!shapes.empty())
    msg += fmt::format("; {} shape mismatch(es): {}", shapes.size(), name_list(shapes, 8));
  if (!dtypes.empty())
    msg += fmt::format("; {} tensor(s) not float32: {} (convert with .float() before saving)",
                       dtypes.size(), name_list(dtypes, 8));
  throw ModelError(msg);
}

std::string state_dict_sha256(const StateDict& state) {
  Sha256 h;
  for (const auto& [key, t] : state) {
    h.update(fmt::format("{}|{}|{}|", key, c10::toString(t.scalar_type()), shape_str(t.sizes())));
    const at::Tensor c = t.contiguous();
    h.update(c.data_ptr(), static_cast<std::size_t>(c.numel()) * c.element_size());
  }
  return h.hex_digest();
}

WeightsFile locate_weights(const WeightsSpec& spec, Arch arch) {
  switch (spec.kind) {
    case WeightsSpec::random:
      return {};
    case WeightsSpec::file:
      return {spec.path, sha256_file(spec.path)};
    case WeightsSpec::automatic:
      break;
  }
  const fs::path dir = torchvision_checkpoint_dir();
  const auto names = torchvision_file_names(arch);
  for (const std::string& name : names) {
    const fs::path p = dir / name;
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) continue;
    WeightsFile file{p, sha256_file(p)};
    // torchvision names its files <arch>-<first 8 hex digits of the sha256>.pth.
    const std::string prefix = name.substr(name.find('-') + 1, 8);
    if (file.sha256.compare(0, prefix.size(), prefix) != 0)
      throw ModelError(fmt::format(
          "weights file '{}' is corrupt or incomplete: its sha256 starts with {}, torchvision's "
          "file starts with {}; download it again from https://download.pytorch.org/models/{}",
          p.string(), file.sha256.substr(0, 8), prefix, name));
    return file;
  }
  throw ModelError(fmt::format(
      "weights: auto found no torchvision weights for {} in '{}'; put {} there (from "
      "https://download.pytorch.org/models/{}), set TORCH_HOME, or give a path or random",
      arch_name(arch), dir.string(), names.front(), names.front()));
}

ResolvedWeights resolve_weights(const WeightsSpec& spec, Arch arch) {
  ResolvedWeights w;
  if (spec.kind == WeightsSpec::random) {
    w.random = true;
    w.origin = fmt::format("random weights (seed {})", spec.seed);
    w.state = random_state_dict(arch, spec.seed);
    w.sha256 = state_dict_sha256(w.state);
    log::info("{}: using random weights (seed {}), not ImageNet weights", arch_name(arch),
              spec.seed);
    return w;
  }
  // A given path is read first: read_checkpoint's messages say what is wrong with the file.
  const WeightsFile file =
      spec.kind == WeightsSpec::file ? WeightsFile{spec.path, {}} : locate_weights(spec, arch);
  w.origin = file.path.string();
  w.state = read_checkpoint(file.path);
  w.sha256 = file.sha256.empty() ? sha256_file(file.path) : file.sha256;
  check_state_dict(w.state, arch, fmt::format("weights file '{}'", w.origin));
  return w;
}

}  // namespace fersweep::model
