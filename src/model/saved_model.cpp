// Kept models through LibTorch's own pickler (torch::pickle_save/pickle_load): the format
// Python's torch.load reads, so no hand-written writer is needed for it.
#include "model/saved_model.h"

#include <fmt/format.h>
#include <torch/serialize.h>

#include <fstream>
#include <iterator>

#include "core/error.h"

namespace fersweep::model {
namespace {

constexpr const char* kFormat = "fersweep-model-1";

c10::IValue text(const std::string& s) {
  return c10::IValue(s);
}

}  // namespace

std::string saved_model_bytes(const SavedModel& m) {
  c10::Dict<std::string, at::Tensor> state;
  for (const auto& [name, tensor] : m.state) state.insert(name, tensor.detach().cpu().contiguous());
  c10::List<std::string> classes;
  for (const auto& c : m.classes) classes.push_back(c);
  c10::impl::GenericDict d(c10::StringType::get(), c10::AnyType::get());
  d.insert("format", text(kFormat));
  d.insert("task_id", text(m.task_id));
  d.insert("params", text(m.params.dump()));
  d.insert("classes", classes);
  d.insert("epoch", static_cast<std::int64_t>(m.epoch));
  d.insert("state_dict", state);
  d.insert("frozen", text(m.frozen.dump()));
  if (m.mean.defined()) {
    c10::Dict<std::string, at::Tensor> z;
    z.insert("mean", m.mean.cpu().contiguous());
    z.insert("inv_std", m.inv_std.cpu().contiguous());
    d.insert("standardize", z);
  } else {
    d.insert("standardize", c10::IValue());
  }
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(d));
  return std::string(bytes.begin(), bytes.end());
}

SavedModel load_saved_model(const std::filesystem::path& path) {
  const std::string where = fmt::format("kept model '{}'", path.string());
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelError(fmt::format("cannot open {}", where));
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return with_context<ModelError>("reading " + where, [&] {
    const c10::IValue v = torch::pickle_load(bytes);
    if (!v.isGenericDict()) throw ModelError(where + " is not a dict");
    const auto d = v.toGenericDict();
    auto get = [&](const char* key) {
      if (!d.contains(key)) throw ModelError(fmt::format("{} has no '{}'", where, key));
      return d.at(key);
    };
    if (get("format").toStringRef() != kFormat)
      throw ModelError(fmt::format("{} is not a {} file", where, kFormat));
    SavedModel m;
    m.task_id = get("task_id").toStringRef();
    m.params = nlohmann::json::parse(get("params").toStringRef());
    for (const auto& c : get("classes").toList()) m.classes.push_back(c.get().toStringRef());
    m.epoch = static_cast<int>(get("epoch").toInt());
    for (const auto& e : get("state_dict").toGenericDict())
      m.state.emplace_back(e.key().toStringRef(), e.value().toTensor());
    m.frozen = nlohmann::json::parse(get("frozen").toStringRef());
    const c10::IValue z = get("standardize");
    if (!z.isNone()) {
      const auto zd = z.toGenericDict();
      m.mean = zd.at("mean").toTensor();
      m.inv_std = zd.at("inv_std").toTensor();
    }
    return m;
  });
}

}  // namespace fersweep::model
