// results.h5, written from the journal records. Its layout (column names, format, parameter
// types) is store/results_schema.h, which the report reads with.
#include "run/results_writer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <unordered_map>

#include "core/base64.h"
#include "core/error.h"
#include "core/log.h"
#include "store/h5.h"
#include "store/results_schema.h"

namespace fersweep::run {
namespace {
using nlohmann::json;

namespace schema = store::results_schema;
using schema::ColumnType;

// The column type of `key` from its values: all strings → text, all booleans → boolean, all
// integers → int64, numbers → float64; anything else is stored as JSON text.
ColumnType inferred_type(const std::vector<const json*>& params, const std::string& key) {
  bool all_string = true, all_int = true, all_number = true, all_bool = true;
  for (const json* p : params) {
    if (!p->contains(key)) continue;
    const json& v = (*p)[key];
    all_string &= v.is_string();
    all_int &= v.is_number_integer();
    all_number &= v.is_number();
    all_bool &= v.is_boolean();
  }
  if (all_bool) return ColumnType::boolean;
  if (all_int) return ColumnType::int64;
  if (all_number) return ColumnType::float64;
  return ColumnType::text;
}

// Writes one column per key of the `params` objects into `group`, typed by `declared` (the
// schema's parameter types) or, for keys it does not know, from their values.
void write_param_columns(store::H5File& f, const std::string& group,
                         const std::vector<const json*>& params,
                         std::optional<ColumnType> (*declared)(std::string_view) = nullptr) {
  std::set<std::string> keys;
  for (const json* p : params) {
    for (const auto& [k, v] : p->items())
      if (!schema::is_retired_param(k)) keys.insert(k);
  }
  for (const auto& key : keys) {
    const std::optional<ColumnType> known = declared ? declared(key) : std::nullopt;
    const ColumnType type = known ? *known : inferred_type(params, key);
    const std::string path = group + "/" + key;
    const auto value = [&](const json* p) -> const json* {
      return p->contains(key) && !(*p)[key].is_null() ? &(*p)[key] : nullptr;
    };
    if (type == ColumnType::boolean) {
      std::vector<std::int64_t> col;
      for (const json* p : params) col.push_back(value(p) && value(p)->get<bool>() ? 1 : 0);
      f.write(path, col);
    } else if (type == ColumnType::int64) {
      std::vector<std::int64_t> col;
      for (const json* p : params) col.push_back(value(p) ? value(p)->get<std::int64_t>() : -1);
      f.write(path, col);
    } else if (type == ColumnType::float64) {
      std::vector<double> col;
      for (const json* p : params) {
        col.push_back(value(p) ? value(p)->get<double>()
                               : std::numeric_limits<double>::quiet_NaN());
      }
      f.write(path, col);
    } else {
      std::vector<std::string> col;
      for (const json* p : params) {
        const json* v = value(p);
        col.push_back(!v ? std::string() : v->is_string() ? v->get<std::string>() : v->dump());
      }
      f.write_strings(path, col);
    }
  }
}

template <class T>
std::vector<T> column(const std::vector<const json*>& rows, const char* key, T missing) {
  std::vector<T> out;
  out.reserve(rows.size());
  for (const json* r : rows)
    out.push_back(r->contains(key) && !(*r)[key].is_null() ? (*r)[key].get<T>() : missing);
  return out;
}

void set_json_attribute(store::H5File& f, const std::string& object, const std::string& name,
                        const json& v) {
  if (v.is_string()) {
    f.set_attribute(object, name, v.get<std::string>());
  } else if (v.is_boolean()) {
    f.set_attribute(object, name, std::int64_t{v.get<bool>()});
  } else if (v.is_number_integer()) {
    f.set_attribute(object, name, v.get<std::int64_t>());
  } else if (v.is_number()) {
    f.set_attribute(object, name, v.get<double>());
  } else {
    f.set_attribute(object, name, v.dump());
  }
}

}  // namespace

bool written_in_full(const std::string& kind) {
  return kind == "train" || kind == "extract" || kind == "crop";
}

JournalEntry journal_entry(const json& record) {
  return {record.value("id", ""), record.value("kind", ""), record.value("status", "") == "done",
          record.dump()};
}

void write_results_h5(const std::filesystem::path& path, const json& run_info,
                      const std::vector<json>& records) {
  std::vector<JournalEntry> entries;
  entries.reserve(records.size());
  for (const auto& r : records) entries.push_back(journal_entry(r));
  write_results_h5(path, run_info, entries);
}

namespace {

// The records results.h5 is written from: the one that counts per task (see supersedes), parsed
// only for the kinds written in full, in task-id order; and every failed attempt.
struct SortedRecords {
  std::vector<json> parsed;  // done crop/extract/train records, by task id
  std::vector<const json*> trains, extracts, crops;
  std::vector<json> failure_rows;
  std::size_t synthetic_done = 0;
};

SortedRecords sort_records(const std::vector<JournalEntry>& records) {
  std::unordered_map<std::string_view, const JournalEntry*> last;
  last.reserve(records.size());
  std::vector<const JournalEntry*> failed;
  for (const auto& r : records) {
    if (!r.done) failed.push_back(&r);
    auto [it, fresh] = last.emplace(r.id, &r);
    if (!fresh && supersedes(r.done, it->second->done)) it->second = &r;
  }
  SortedRecords out;
  std::vector<const JournalEntry*> full;
  for (const auto& [id, r] : last) {
    if (!r->done) continue;
    if (written_in_full(r->kind))
      full.push_back(r);
    else
      ++out.synthetic_done;
  }
  std::sort(full.begin(), full.end(),
            [](const JournalEntry* a, const JournalEntry* b) { return a->id < b->id; });
  out.parsed.reserve(full.size());
  for (const JournalEntry* r : full) out.parsed.push_back(json::parse(r->text));
  for (const auto& r : out.parsed) {
    const std::string kind = r.value("kind", "");
    (kind == "train" ? out.trains : kind == "extract" ? out.extracts : out.crops).push_back(&r);
  }
  // Failures that were later retried successfully stay listed, marked as recovered.
  for (const JournalEntry* e : failed) {
    const json r = json::parse(e->text);
    out.failure_rows.push_back({{"task_id", e->id},
                                {"kind", r.value("kind", "")},
                                {"attempt", r.value("attempt", 0)},
                                {"final", r.value("final", false)},
                                {"recovered", last.at(e->id)->done},
                                {"message", r.value("error", "")},
                                {"rank", r.value("rank", 0)},
                                {"host", r.value("host", "")}});
  }
  return out;
}

void write_root_attributes(store::H5File& f, const json& run_info) {
  f.set_attribute("/", "format", std::string(schema::kFormat));
  const json& prov = run_info.value("provenance", json::object());
  for (const auto& [k, v] : prov.items()) set_json_attribute(f, "/", k, v);
  for (const char* k : {"created", "updated"}) {
    if (run_info.contains(k)) set_json_attribute(f, "/", k, run_info[k]);
  }
  f.set_attribute("/", "identity", run_info.value("identity", json::object()).dump());
}

// Per-class recall [R, C] and confusion matrices [R, C, C] (rows: true class) of the rows.
void write_class_metrics(store::H5File& f, const std::vector<json>& rows, std::size_t classes) {
  std::vector<double> recall(rows.size() * classes, std::numeric_limits<double>::quiet_NaN());
  std::vector<std::int64_t> confusion(rows.size() * classes * classes, 0);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& rc = rows[i].value("per_class_recall", json::array());
    for (std::size_t c = 0; c < rc.size() && c < classes; ++c)
      if (rc[c].is_number()) recall[i * classes + c] = rc[c].get<double>();  // null: absent class
    const auto& cm = rows[i].value("confusion", json::array());
    for (std::size_t k = 0; k < cm.size() && k < classes * classes; ++k) {
      confusion[i * classes * classes + k] = cm[k].get<std::int64_t>();
    }
  }
  f.write("/results/per_class_recall", recall, {rows.size(), classes});
  f.write("/results/confusion", confusion, {rows.size(), classes, classes});
}

// /results: one row per (training task, evaluated epoch); the row's curve is the task's index.
void write_rows(store::H5File& f, const std::vector<const json*>& trains) {
  std::vector<json> rows;
  std::vector<const json*> row_params;
  std::vector<std::int64_t> curve_index;
  std::size_t classes = 0;
  for (std::size_t t = 0; t < trains.size(); ++t) {
    const json& r = *trains[t];
    const json& res = r["result"];
    const json& val = res.value("val_evals", json::array());
    for (const auto& e : res.value("evals", json::array())) {
      json row = e;
      row["task_id"] = r["id"];
      row["n_train"] = res.value("n_train", 0);
      row["n_test"] = res.value("n_test", 0);
      row["n_val"] = res.value("n_val", 0);
      const json& stop = res.value("early_stop", json::object());
      row["stopped_at"] = stop.value("stopped_at", json());
      for (const auto& v : val) {
        if (v.value("epoch", -1) != e.value("epoch", -2)) continue;
        row["val_accuracy"] = v.value("accuracy", json());
        row["val_macro_f1"] = v.value("macro_f1", json());
        row["val_loss"] = v.value("loss", json());
      }
      row["host"] = r.value("host", "");
      row["rank"] = r.value("rank", 0);
      row["seconds"] = r.value("seconds", 0.0);
      row["finished"] = r.value("finished", "");
      classes = std::max(classes, e.value("per_class_recall", json::array()).size());
      rows.push_back(std::move(row));
      row_params.push_back(&r["params"]);
      curve_index.push_back(static_cast<std::int64_t>(t));
    }
  }
  std::vector<const json*> row_ptrs;
  for (const auto& r : rows) row_ptrs.push_back(&r);
  f.write_strings("/results/task_id", column<std::string>(row_ptrs, "task_id", ""));
  f.write("/results/epoch", column<std::int64_t>(row_ptrs, "epoch", -1));
  for (const char* m : {"accuracy", "macro_f1", "test_loss", "val_accuracy", "val_macro_f1",
                        "val_loss", "seconds"}) {
    f.write(std::string("/results/") + m,
            column<double>(row_ptrs, m, std::numeric_limits<double>::quiet_NaN()));
  }
  for (const char* m : {"n_train", "n_test", "rank"}) {
    f.write(std::string("/results/") + m, column<std::int64_t>(row_ptrs, m, -1));
  }
  f.write("/results/n_val", column<std::int64_t>(row_ptrs, "n_val", 0));
  f.write("/results/stopped_at", column<std::int64_t>(row_ptrs, "stopped_at", -1));
  f.write_strings("/results/host", column<std::string>(row_ptrs, "host", ""));
  f.write_strings("/results/finished", column<std::string>(row_ptrs, "finished", ""));
  f.write("/results/curve", curve_index);
  // Parameters: one column each, with the schema's declared types.
  write_param_columns(f, "/results", row_params, schema::train_param_type);
  write_class_metrics(f, rows, classes);
  f.set_attribute("/results", "rows", static_cast<std::int64_t>(rows.size()));
}

// /curves: per training task, training loss and accuracy at every epoch (NaN past its end).
void write_curves(store::H5File& f, const std::vector<const json*>& trains) {
  std::size_t max_epochs = 0;
  for (const json* r : trains)
    max_epochs = std::max(max_epochs, (*r)["result"].value("train_loss", json::array()).size());
  f.ensure_group("/curves");
  std::vector<double> loss(trains.size() * max_epochs, std::numeric_limits<double>::quiet_NaN());
  std::vector<double> acc(loss.size(), std::numeric_limits<double>::quiet_NaN());
  std::vector<std::string> curve_ids;
  for (std::size_t t = 0; t < trains.size(); ++t) {
    const json& res = (*trains[t])["result"];
    curve_ids.push_back((*trains[t])["id"]);
    const auto& l = res.value("train_loss", json::array());
    const auto& a = res.value("train_accuracy", json::array());
    for (std::size_t e = 0; e < l.size(); ++e) loss[t * max_epochs + e] = l[e].get<double>();
    for (std::size_t e = 0; e < a.size(); ++e) acc[t * max_epochs + e] = a[e].get<double>();
  }
  f.write_strings("/curves/task_id", curve_ids);
  f.write("/curves/train_loss", loss, {trains.size(), max_epochs});
  f.write("/curves/train_accuracy", acc, {trains.size(), max_epochs});
}

// /extracts, /crops: each task's parameters, where it ran and its scalar results as result_<key>.
void write_provenance_table(store::H5File& f, const char* group,
                            const std::vector<const json*>& list) {
  f.ensure_group(group);
  std::vector<json> flat;
  for (const json* r : list) {
    json row = (*r)["params"];
    row["task_id"] = (*r)["id"];
    row["host"] = r->value("host", "");
    row["seconds"] = r->value("seconds", 0.0);
    const json result = r->value("result", json::object());
    for (const auto& [k, v] : result.items()) {
      if (!v.is_array() && !v.is_object()) row["result_" + k] = v;
    }
    flat.push_back(std::move(row));
  }
  std::vector<const json*> ptrs;
  for (const auto& r : flat) ptrs.push_back(&r);
  if (!ptrs.empty()) write_param_columns(f, group, ptrs);
  f.set_attribute(group, "count", static_cast<std::int64_t>(ptrs.size()));
}

// The sample table of kSamplesFile; nullopt (with a warning) when it cannot be read, so a damaged
// table costs /samples and /folds, never the rest of results.h5.
std::optional<SampleTable> read_samples(const std::filesystem::path& path) {
  try {
    store::H5File f(path, store::H5File::Mode::read);
    SampleTable t{f.read_strings("/samples/id"), f.read_i64("/samples/label").values,
                  f.read_strings("/samples/subject"), f.read_strings("/samples/split")};
    const std::size_t n = t.id.size();
    if (t.label.size() != n || t.subject.size() != n || t.split.size() != n)
      throw IoError("its columns differ in length");
    return t;
  } catch (const std::exception& e) {
    log::warn("results: {} cannot be read ({}); results.h5 has no /samples and /folds",
              path.string(), e.what());
    return std::nullopt;
  }
}

// /samples (copied from kSamplesFile next to results.h5) and /folds: one row per (feature set,
// cross-validation split) that an extract record journaled. Nothing when the run wrote no
// sample table (synthetic runs, directories from before this version). A record that cannot be
// decoded, or that covers another number of samples, is left out with a warning.
void write_folds(store::H5File& f, const std::filesystem::path& samples_path,
                 const std::vector<const json*>& extracts) {
  std::error_code ec;
  if (!std::filesystem::exists(samples_path, ec)) return;
  const std::optional<SampleTable> samples = read_samples(samples_path);
  if (!samples) return;
  const std::size_t n = samples->id.size();
  f.write_strings("/samples/id", samples->id);
  f.write("/samples/label", samples->label);
  f.write_strings("/samples/subject", samples->subject);
  f.write_strings("/samples/split", samples->split);
  std::vector<json> rows;
  std::vector<std::int16_t> matrix;
  for (const json* r : extracts) {
    const std::string id = r->value("id", "");
    for (const auto& fold : (*r)["result"].value(kFoldsKey, json::array())) {
      std::vector<std::int16_t> assignment;
      try {
        assignment = fold_record_assignment(fold);
      } catch (const std::exception& e) {
        log::warn("results: a fold record of feature set {} is damaged ({}); left out", id,
                  e.what());
        continue;
      }
      if (assignment.size() != n) {
        log::warn("results: the folds of feature set {} cover {} samples, not {}; left out", id,
                  assignment.size(), n);
        continue;
      }
      json row = fold.value("scheme", json::object());
      row["extract"] = id;
      rows.push_back(std::move(row));
      matrix.insert(matrix.end(), assignment.begin(), assignment.end());
    }
  }
  f.ensure_group("/folds");
  std::vector<const json*> ptrs;
  for (const auto& r : rows) ptrs.push_back(&r);
  if (ptrs.empty()) {
    // The columns exist, empty, before the first feature set is recorded.
    f.write_strings("/folds/extract", {});
    f.write("/folds/folds", std::vector<std::int64_t>{});
    f.write("/folds/cv_seed", std::vector<std::int64_t>{});
  } else {
    write_param_columns(f, "/folds", ptrs, schema::train_param_type);
  }
  f.write("/folds/assignment", matrix, {rows.size(), n});
  f.set_attribute("/folds", "count", static_cast<std::int64_t>(rows.size()));
}

}  // namespace

void write_samples_h5(const std::filesystem::path& path, const SampleTable& table) {
  store::write_h5_atomically(path, [&](store::H5File& f) {
    f.write_strings("/samples/id", table.id);
    f.write("/samples/label", table.label);
    f.write_strings("/samples/subject", table.subject);
    f.write_strings("/samples/split", table.split);
  });
}

json fold_record(const json& scheme, const std::vector<std::int16_t>& folds) {
  // Little-endian int16 per sample, base64: 2.7 bytes a sample in the journal (AffectNet's
  // 290,000 samples: 770 KB per split), where a JSON array would take 3-4.
  std::string bytes(folds.size() * 2, '\0');
  for (std::size_t i = 0; i < folds.size(); ++i) {
    const auto v = static_cast<std::uint16_t>(folds[i]);
    bytes[2 * i] = static_cast<char>(v & 0xff);
    bytes[2 * i + 1] = static_cast<char>(v >> 8);
  }
  return {{"scheme", scheme}, {"assignment", base64_encode(bytes)}};
}

std::vector<std::int16_t> fold_record_assignment(const json& record) {
  if (!record.is_object() || !record.contains("assignment") || !record["assignment"].is_string())
    throw IoError("a journaled fold record has no assignment");
  const std::string bytes = base64_decode(record["assignment"].get<std::string>());
  if (bytes.size() % 2 != 0) throw IoError("a journaled fold assignment has an odd byte count");
  std::vector<std::int16_t> folds(bytes.size() / 2);
  for (std::size_t i = 0; i < folds.size(); ++i) {
    const auto lo = static_cast<unsigned char>(bytes[2 * i]);
    const auto hi = static_cast<unsigned char>(bytes[2 * i + 1]);
    folds[i] = static_cast<std::int16_t>(static_cast<std::uint16_t>(lo | (hi << 8)));
  }
  return folds;
}

void write_results_h5(const std::filesystem::path& path, const json& run_info,
                      const std::vector<JournalEntry>& records) {
  const SortedRecords sorted = sort_records(records);
  store::write_h5_atomically(path, [&](store::H5File& f) {
    f.ensure_group("/results");
    write_root_attributes(f, run_info);
    write_rows(f, sorted.trains);
    write_curves(f, sorted.trains);
    write_provenance_table(f, "/extracts", sorted.extracts);
    write_provenance_table(f, "/crops", sorted.crops);
    write_folds(f, path.parent_path() / kSamplesFile, sorted.extracts);
    // /failures: every failed attempt.
    f.ensure_group("/failures");
    std::vector<const json*> failures;
    for (const auto& r : sorted.failure_rows) failures.push_back(&r);
    if (!failures.empty()) write_param_columns(f, "/failures", failures);
    f.set_attribute("/failures", "count", static_cast<std::int64_t>(failures.size()));
    f.set_attribute("/results", "synthetic_tasks_done",
                    static_cast<std::int64_t>(sorted.synthetic_done));
  });
}

}  // namespace fersweep::run
