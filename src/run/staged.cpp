// Staged early stopping of tasks that run alone (the protocol in staged.h).
#include "run/staged.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace fersweep::run {
using nlohmann::json;

namespace {

// Scores travel as JSON numbers; a NaN score (no validation rows, a diverged task) as null.
json score_json(double s) {
  return std::isnan(s) ? json(nullptr) : json(s);
}
double score_of(const json& j) {
  return j.is_number() ? j.get<double>() : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

StagedBrackets::StagedBrackets(const std::vector<TaskSpec>& tasks, StagedStop stop)
    : stop_(std::move(stop)) {
  for (const auto& t : tasks) {
    if (!t.alone || t.bracket.empty() || t.epochs.empty()) continue;
    Member m;
    m.bracket = t.bracket;
    m.last = t.epochs.back();
    members_.emplace(t.id, std::move(m));
    brackets_[t.bracket].push_back(t.id);
  }
}

int StagedBrackets::pause_at(const std::string& id) const {
  const Member& m = members_.at(id);
  if (m.dead) return 0;  // out of the race: it runs to its last epoch
  for (int r : stop_.rungs)
    if (r > m.cleared) return r < m.last ? r : 0;
  return 0;
}

int StagedBrackets::rung_reached(const std::string& id, int paused_at) const {
  if (paused_at > 0) return paused_at;
  if (members_.at(id).dead) return 0;
  const int last = members_.at(id).last;
  return std::count(stop_.rungs.begin(), stop_.rungs.end(), last) ? last : 0;
}

void StagedBrackets::reached(const std::string& id, int epoch, json result, double seconds,
                             int rank, const std::string& host) {
  Member& m = members_.at(id);
  FERSWEEP_ASSERT(!m.done && !m.dead && m.waiting == 0, "a staged task reported twice: " + id);
  m.scores[epoch] = stop_.score(result, epoch);
  m.waiting = epoch;
  m.result = std::move(result);
  m.seconds += seconds;
  m.rank = rank;
  m.host = host;
}

std::vector<Settled> StagedBrackets::settle_after(const std::string& id) {
  const Member& m = members_.at(id);
  // A rung decided while this member's report was lost (a resume without its note): the
  // decision stands; the rerun only brought back the results it settles with.
  if (m.waiting > 0 && decided_.count({m.bracket, m.waiting})) return {release(id, m.waiting)};
  return settle(m.bracket);
}

std::vector<Settled> StagedBrackets::failed(const std::string& id) {
  Member& m = members_.at(id);
  if (m.dead) return {};
  m.dead = true;
  m.waiting = 0;
  return settle(m.bracket);
}

bool StagedBrackets::in_race(const Member& m, int rung) {
  // A member that failed after a rung was decided with it (it cannot fail while it waits there)
  // keeps its place at that rung: a resume decides it again, the same way.
  return (!m.dead || m.scores.count(rung)) && m.last >= rung &&
         (m.stopped_at == 0 || m.stopped_at >= rung);
}

bool StagedBrackets::decidable(const std::string& bracket, int rung) const {
  if (decided_.count({bracket, rung})) return false;
  bool any = false;
  for (const auto& id : brackets_.at(bracket)) {
    const Member& m = members_.at(id);
    if (!in_race(m, rung)) continue;
    if (!m.scores.count(rung)) return false;
    any = true;
  }
  return any;
}

void StagedBrackets::decide(const std::string& bracket, int rung, std::vector<Settled>& out) {
  std::vector<train::RungEntry> entries;
  for (const auto& id : brackets_.at(bracket)) {
    const Member& m = members_.at(id);
    if (in_race(m, rung)) entries.push_back({id, m.scores.at(rung)});
  }
  const auto& d = decided_
                      .emplace(std::make_pair(bracket, rung),
                               train::decide_rung(std::move(entries), stop_.rule))
                      .first->second;
  for (std::size_t place = 0; place < d.ranking.size(); ++place) {
    Member& m = members_.at(d.ranking[place].id);
    if (place < d.keep) m.cleared = std::max(m.cleared, rung);
    if (place >= d.keep && rung < m.last) m.stopped_at = rung;
    // The others are done already, or not back yet (restored scores): they settle on return.
    if (m.waiting == rung) out.push_back(release(d.ranking[place].id, rung));
  }
}

Settled StagedBrackets::release(const std::string& id, int rung) {
  Member& m = members_.at(id);
  Settled s;
  s.id = id;
  s.continues = m.stopped_at != rung && rung < m.last;
  m.waiting = 0;
  if (!s.continues) {
    m.done = true;
    s.result = std::move(m.result);
    s.result["early_stop"] = record_of(id);
    s.seconds = m.seconds;
    s.rank = m.rank;
    s.host = m.host;
  }
  m.result = json();
  return s;
}

std::vector<Settled> StagedBrackets::settle(const std::string& bracket) {
  std::vector<Settled> out;
  // A decision can make the next rung decidable (the members stopped here leave its race).
  for (int rung : stop_.rungs)
    if (decidable(bracket, rung)) decide(bracket, rung, out);
  return out;
}

std::vector<Settled> StagedBrackets::settle() {
  std::vector<Settled> out;
  for (const auto& [bracket, ids] : brackets_) {
    auto some = settle(bracket);
    std::move(some.begin(), some.end(), std::back_inserter(out));
  }
  return out;
}

json StagedBrackets::record_of(const std::string& id) const {
  const Member& m = members_.at(id);
  json rungs = json::array();
  for (const auto& [key, d] : decided_) {
    if (key.first != m.bracket) continue;
    for (std::size_t place = 0; place < d.ranking.size(); ++place)
      if (d.ranking[place].id == id)
        rungs.push_back({{"epoch", key.second},
                         {"rank", place + 1},
                         {"of", d.ranking.size()},
                         {"kept", d.keep},
                         {"score", score_json(d.ranking[place].score)}});
  }
  return {{"stopped_at", m.stopped_at > 0 ? json(m.stopped_at) : json(nullptr)},
          {"metric", stop_.metric},
          {"rungs", rungs}};
}

json StagedBrackets::note_of(const std::string& id) const {
  const Member& m = members_.at(id);
  json scores = json::object();
  for (const auto& [rung, s] : m.scores) scores[std::to_string(rung)] = score_json(s);
  json note = {{"scores", scores}, {"seconds", m.seconds}};
  if (m.dead) note["failed"] = true;
  if (m.waiting > 0)
    note["waiting"] = {
        {"epoch", m.waiting}, {"result", m.result}, {"rank", m.rank}, {"host", m.host}};
  return note;
}

void StagedBrackets::restore_done(const std::string& id, const json& early_stop) {
  Member& m = members_.at(id);
  m.done = true;
  if (!early_stop.is_object()) return;  // a record without one (written by hand, damaged)
  const json rungs = early_stop.value("rungs", json::array());
  if (rungs.is_array())
    for (const auto& r : rungs)
      if (r.is_object() && r.value("epoch", json()).is_number_integer())
        m.scores[r["epoch"].get<int>()] = score_of(r.value("score", json()));
  const json stopped = early_stop.value("stopped_at", json());
  if (stopped.is_number_integer()) m.stopped_at = stopped.get<int>();
}

bool StagedBrackets::restore_note(const std::string& id, const json& note, bool may_wait) {
  Member& m = members_.at(id);
  // Read whole into locals first: a damaged note changes nothing (the task reruns to its rung).
  std::map<int, double> scores;
  for (const auto& [rung, s] : note.at("scores").items()) scores[std::stoi(rung)] = score_of(s);
  const bool dead = note.value("failed", false);
  const json w = note.value("waiting", json());
  const bool waits = may_wait && !dead && w.is_object();
  const int epoch = waits ? w.at("epoch").get<int>() : 0;
  if (waits && (!scores.count(epoch) ||
                !std::count(stop_.rungs.begin(), stop_.rungs.end(), epoch) || epoch > m.last))
    throw DataError(fmt::format("it waits at epoch {}, not a rung it was scored at", epoch));
  json result = waits ? w.at("result") : json();
  const int rank = waits ? w.value("rank", 0) : 0;
  const std::string host = waits ? w.value("host", std::string()) : std::string();
  // Notes of earlier versions kept the seconds with the waiting result only.
  const double seconds = note.value("seconds", waits ? w.value("seconds", 0.0) : 0.0);
  m.scores = std::move(scores);
  m.dead = dead;
  m.seconds = seconds;
  if (!waits) return false;
  m.waiting = epoch;
  m.result = std::move(result);
  m.rank = rank;
  m.host = host;
  return true;
}

}  // namespace fersweep::run
