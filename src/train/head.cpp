// Head training on cached features: data preparation, the hand-written forward/backward passes
// over the kernels of kernels.h, torch-compatible optimiser updates, evaluation, batching of heads.
#include "train/head.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "core/cancel.h"
#include "core/error.h"
#include "train/detmath.h"
#include "train/kernels.h"
#include "train/rng.h"

namespace fersweep::train {
namespace {

using kernels::kLanes;

int padded(int n) {
  return (n + kLanes - 1) / kLanes * kLanes;
}

// Row-major float matrix, rows padded with zeros to a multiple of kLanes floats (the kernels'
// width); padding stays zero through training because its gradient is zero.
struct Matrix {
  int rows = 0, cols = 0, ld = 0;
  std::vector<float> data;
  Matrix() = default;
  Matrix(int r, int c)
      : rows(r), cols(c), ld(padded(c)), data(static_cast<std::size_t>(r) * padded(c), 0.0f) {}
  float* row(int i) { return data.data() + static_cast<std::size_t>(i) * ld; }
  const float* row(int i) const { return data.data() + static_cast<std::size_t>(i) * ld; }
  void row_pointers(std::vector<const float*>& out, int first, int count) const {
    out.resize(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) out[static_cast<std::size_t>(i)] = row(first + i);
  }
};

// The caller's tensors as CPU float/int64 arrays.
struct Inputs {
  at::Tensor features, labels;  // keep the converted tensors alive
  const float* x = nullptr;
  const std::int64_t* y = nullptr;
  std::int64_t n = 0;
  int d = 0;
  int num_classes = 0;
};

Inputs prepare_inputs(const at::Tensor& features, const at::Tensor& labels, int num_classes) {
  if (num_classes < 2)
    throw ConfigError("train: num_classes must be >= 2, got " + std::to_string(num_classes));
  if (!features.defined() || features.dim() != 2)
    throw DataError("train: features must be a 2-D [samples, features] tensor");
  if (!labels.defined() || labels.dim() != 1 || labels.size(0) != features.size(0))
    throw DataError("train: labels must be a 1-D tensor with one label per feature row (" +
                    std::to_string(features.size(0)) + ")");
  if (features.size(1) < 1) throw DataError("train: features have no columns");
  if (labels.is_floating_point() || labels.is_complex())
    throw DataError("train: labels must be an integer tensor (class indices), got " +
                    std::string(labels.dtype().name()));
  Inputs in;
  with_context<DataError>("train: converting features and labels", [&] {
    in.features = features.to(at::kCPU, at::kFloat).contiguous();
    in.labels = labels.to(at::kCPU, at::kLong).contiguous();
  });
  in.x = in.features.data_ptr<float>();
  in.y = in.labels.data_ptr<std::int64_t>();
  in.n = features.size(0);
  in.d = static_cast<int>(features.size(1));
  in.num_classes = num_classes;
  // A NaN or infinite feature would silently turn every weight into NaN: name it instead.
  const std::int64_t count = in.n * in.d;
  for (std::int64_t k = 0; k < count; ++k)
    if (!std::isfinite(in.x[k]))
      throw DataError("train: feature row " + std::to_string(k / in.d) + " column " +
                      std::to_string(k % in.d) + " is not finite");
  return in;
}

void check_indices(const Inputs& in, const std::vector<std::size_t>& idx, const char* what) {
  for (std::size_t i : idx) {
    if (i >= static_cast<std::size_t>(in.n))
      throw DataError(std::string("train: ") + what + " index " + std::to_string(i) +
                      " is outside the " + std::to_string(in.n) + " feature rows");
    const std::int64_t y = in.y[i];
    if (y < 0 || y >= in.num_classes)
      throw DataError("train: label " + std::to_string(y) + " of row " + std::to_string(i) +
                      " is outside [0, " + std::to_string(in.num_classes) + ")");
  }
}

// Per-feature mean and 1/std (population std) of the training rows; constant features keep scale 1.
struct Standardizer {
  std::vector<double> mean, inv_std;
};

Standardizer fit_standardizer(const Inputs& in, const std::vector<std::size_t>& rows) {
  Standardizer s;
  const auto d = static_cast<std::size_t>(in.d);
  s.mean.assign(d, 0.0);
  s.inv_std.assign(d, 1.0);
  std::vector<double> sq(d, 0.0);
  for (std::size_t r : rows)
    for (std::size_t j = 0; j < d; ++j) s.mean[j] += in.x[r * d + j];
  const double n = static_cast<double>(rows.size());
  for (double& m : s.mean) m /= n;
  for (std::size_t r : rows)
    for (std::size_t j = 0; j < d; ++j) {
      const double c = in.x[r * d + j] - s.mean[j];
      sq[j] += c * c;
    }
  for (std::size_t j = 0; j < d; ++j) {
    const double sd = std::sqrt(sq[j] / n);
    if (sd > 1e-12) s.inv_std[j] = 1.0 / sd;
  }
  return s;
}

Matrix gather_rows(const Inputs& in, const std::vector<std::size_t>& rows, const Standardizer* s) {
  Matrix m(static_cast<int>(rows.size()), in.d);
  const auto d = static_cast<std::size_t>(in.d);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const float* src = in.x + rows[i] * d;
    float* dst = m.row(static_cast<int>(i));
    if (s) {
      for (std::size_t j = 0; j < d; ++j)
        dst[j] = static_cast<float>((src[j] - s->mean[j]) * s->inv_std[j]);
    } else {
      std::copy(src, src + d, dst);
    }
  }
  return m;
}

std::vector<std::int64_t> gather_labels(const Inputs& in, const std::vector<std::size_t>& rows) {
  std::vector<std::int64_t> y(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) y[i] = in.y[rows[i]];
  return y;
}

// The constants of one optimiser step (counted from 1), as torch 1.13's torch.optim.{Adam, AdamW,
// SGD} compute them: double arithmetic on Python floats, rounded to float when applied to tensors.
kernels::UpdateStep update_step(const HeadConfig& cfg, long step) {
  kernels::UpdateStep st;
  st.weight_decay = static_cast<float>(cfg.weight_decay);
  if (cfg.optimizer == "sgd") {
    st.kind = kernels::UpdateStep::sgd;
    st.momentum = static_cast<float>(cfg.momentum);
    st.first_step = step == 1;
    st.neg_lr = static_cast<float>(-cfg.lr);
    return st;
  }
  constexpr double beta1 = 0.9, beta2 = 0.999;
  st.kind = cfg.optimizer == "adamw" ? kernels::UpdateStep::adamw : kernels::UpdateStep::adam;
  st.beta1 = static_cast<float>(beta1);
  st.beta2 = static_cast<float>(beta2);
  st.one_minus_beta1 = static_cast<float>(1 - beta1);
  st.one_minus_beta2 = static_cast<float>(1 - beta2);
  const double bc1 = 1 - detmath::pow(beta1, step);
  const double bc2 = 1 - detmath::pow(beta2, step);
  st.neg_step_size = static_cast<float>(-(cfg.lr / bc1));
  st.bias_correction2_sqrt = static_cast<float>(std::sqrt(bc2));
  st.eps = 1e-8f;
  st.shrink = static_cast<float>(1 - cfg.lr * cfg.weight_decay);
  return st;
}

// A trainable tensor: value, gradient and two optimiser state buffers of the same padded size.
struct Param {
  std::vector<float> value, grad, m, v;
  void resize(std::size_t n) {
    value.assign(n, 0.0f);
    grad.assign(n, 0.0f);
    m.assign(n, 0.0f);
    v.assign(n, 0.0f);
  }
  void update(const HeadConfig& cfg, long step, std::size_t offset, std::size_t n) {
    kernels::update(update_step(cfg, step), value.data() + offset, grad.data() + offset,
                    m.data() + offset, v.data() + offset, n);
  }
};

// The state of `params` after `epoch` epochs (HeadState), and its restoration.
HeadState save_state(int epoch, const std::vector<const Param*>& params, const Rng& rng,
                     const TrainResult& result) {
  HeadState s;
  s.epoch = epoch;
  for (const Param* p : params)
    for (const auto* b : {&p->value, &p->m, &p->v}) s.buffers.push_back(*b);
  s.rng = rng.position();
  s.result = result;
  return s;
}

// Restores `state` into `params` and the generator; returns the first epoch still to train.
int restore_state(const HeadState& state, const std::vector<Param*>& params, Rng& rng,
                  TrainResult& result, int last_epoch) {
  auto misfit = [](const std::string& why) {
    throw DataError("train: the state to continue from does not fit this head: " + why);
  };
  if (state.epoch < 1 || state.epoch >= last_epoch)
    misfit("it holds epoch " + std::to_string(state.epoch) + " of a run of " +
           std::to_string(last_epoch));
  if (state.buffers.size() != 3 * params.size()) misfit("another kind of head");
  std::size_t k = 0;
  for (Param* p : params)
    for (auto* b : {&p->value, &p->m, &p->v}) {
      if (state.buffers[k].size() != b->size()) misfit("other sizes");
      *b = state.buffers[k++];
    }
  rng = Rng::at_position(state.rng);
  result = state.result;
  return state.epoch + 1;
}

// Evaluations of `cfg` due by `epoch` (the next evaluation's index after a restore).
std::size_t evaluations_by(const HeadConfig& cfg, int epoch) {
  std::size_t n = 0;
  while (n < cfg.eval_epochs.size() && cfg.eval_epochs[n] <= epoch) ++n;
  return n;
}

// Softmax cross-entropy (torch's label smoothing) of n samples: logits row i at z + i * ldz,
// target targets[i]. Returns the summed loss, writes d(loss)/d(logits) * scale to dz rows (when
// given) and the arg-max (first maximum) to preds[i]. exp and log are the vectorised kernels
// (detmath's functions), so the loss and its gradient are the same on every machine.
struct SoftmaxWork {
  std::vector<double> e, maxima, lse;
};

double softmax_xent_rows(const float* z, std::ptrdiff_t ldz, int n, int c,
                         const std::int64_t* targets, double smoothing, float scale, float* dz,
                         std::ptrdiff_t lddz, int* preds, SoftmaxWork& work) {
  const auto nn = static_cast<std::size_t>(n);
  work.e.resize(nn * c);
  work.maxima.resize(nn);
  work.lse.resize(nn);
  for (int i = 0; i < n; ++i) {
    const float* zi = z + i * ldz;
    int best = 0;
    for (int k = 1; k < c; ++k)
      if (zi[k] > zi[best]) best = k;
    preds[i] = best;
    work.maxima[i] = zi[best];
    for (int k = 0; k < c; ++k)
      work.e[static_cast<std::size_t>(i) * c + k] = zi[k] - work.maxima[i];
  }
  kernels::exp_clamped(work.e.data(), work.e.size());
  for (int i = 0; i < n; ++i) {
    const double* e = work.e.data() + static_cast<std::size_t>(i) * c;
    double sum = 0;
    for (int k = 0; k < c; ++k) sum += e[k];
    work.lse[i] = sum;  // >= 1: the maximum contributes e^0
  }
  kernels::log_normal(work.lse.data(), nn);
  double total = 0;
  for (int i = 0; i < n; ++i) {
    const float* zi = z + i * ldz;
    const double* e = work.e.data() + static_cast<std::size_t>(i) * c;
    double sum = 0, zsum = 0;
    for (int k = 0; k < c; ++k) {
      sum += e[k];
      zsum += zi[k];
    }
    const double lse = work.lse[i] + work.maxima[i];
    const std::int64_t t = targets[i];
    total += -((1 - smoothing) * (zi[t] - lse) + smoothing / c * (zsum - c * lse));
    if (dz) {
      const double inv_sum = 1.0 / sum;
      float* dzi = dz + i * lddz;
      for (int k = 0; k < c; ++k) {
        const double q = (k == t ? 1 - smoothing : 0.0) + smoothing / c;
        dzi[k] = static_cast<float>((e[k] * inv_sum - q) * scale);
      }
    }
  }
  return total;
}

// Evaluation from the logits [n, c] of a test fold.
EvalMetrics metrics_from_logits(const std::vector<float>& logits,
                                const std::vector<std::int64_t>& y, int c, int epoch) {
  const int n = static_cast<int>(y.size());
  std::vector<int> pred(y.size());
  SoftmaxWork work;
  const double loss =
      softmax_xent_rows(logits.data(), c, n, c, y.data(), 0.0, 0.0f, nullptr, 0, pred.data(), work);
  EvalMetrics m = evaluate(std::vector<std::int64_t>(pred.begin(), pred.end()), y, c);
  m.epoch = epoch;
  m.test_loss = y.empty() ? 0.0 : loss / static_cast<double>(y.size());
  return m;
}

int last_epoch(const HeadConfig& cfg) {
  return cfg.eval_epochs.back();
}

// The order of the training rows for one epoch: the seeded shuffle, or the caller's.
void copy_in(const std::vector<float>& src, std::size_t expected, const char* name, int rows,
             int cols, int ld, float* dst) {
  if (src.size() != expected)
    throw DataError(std::string("train: initial ") + name + " has " + std::to_string(src.size()) +
                    " values, expected " + std::to_string(expected));
  for (int r = 0; r < rows; ++r)
    std::copy_n(src.data() + static_cast<std::size_t>(r) * cols, cols,
                dst + static_cast<std::size_t>(r) * ld);
}

std::vector<float> copy_out(const float* src, int rows, int cols, int ld) {
  std::vector<float> out(static_cast<std::size_t>(rows) * cols);
  for (int r = 0; r < rows; ++r)
    std::copy_n(src + static_cast<std::size_t>(r) * ld, cols,
                out.data() + static_cast<std::size_t>(r) * cols);
  return out;
}

// Linear heads sharing their training rows, batch size, standardisation and seed, stacked as the
// rows of one weight matrix: each sample is read once for all of them. Every value of head h is
// computed exactly as if it were trained alone (the kernels' rounding order does not depend on
// how many rows are stacked).
void run_linear_group(const Inputs& in, const std::vector<const HeadJob*>& jobs,
                      const RunControl& control, std::vector<TrainResult*>& results) {
  const HeadJob& lead = *jobs[0];
  const int heads = static_cast<int>(jobs.size());
  const int c = in.num_classes, d = in.d, hc = heads * c;
  const HeadConfig& shared = lead.config;

  Standardizer stdz;
  if (shared.standardize) stdz = fit_standardizer(in, lead.train_idx);
  const Standardizer* sp = shared.standardize ? &stdz : nullptr;
  const Matrix xtr = gather_rows(in, lead.train_idx, sp);
  const std::vector<std::int64_t> ytr = gather_labels(in, lead.train_idx);
  const int ntr = xtr.rows;

  const int dp = padded(d);
  Param weight, bias;
  weight.resize(static_cast<std::size_t>(hc) * dp);
  bias.resize(static_cast<std::size_t>(hc));
  for (int h = 0; h < heads; ++h) {
    const HeadParams p = control.initial ? *control.initial : initial_params(d, c, jobs[h]->config);
    copy_in(p.w1, static_cast<std::size_t>(c) * d, "weight", c, d, dp,
            weight.value.data() + static_cast<std::size_t>(h) * c * dp);
    copy_in(p.b1, static_cast<std::size_t>(c), "bias", 1, c, c, bias.value.data() + h * c);
  }

  // Heads are ordered by their last epoch, longest first, so the heads still training are a prefix.
  std::vector<int> rank(static_cast<std::size_t>(heads));
  std::iota(rank.begin(), rank.end(), 0);
  std::stable_sort(rank.begin(), rank.end(), [&](int a, int b) {
    return last_epoch(jobs[a]->config) > last_epoch(jobs[b]->config);
  });
  // Slot s of the stacked matrices holds job rank[s]; initial parameters were placed by job index.
  {
    Param reordered_w = weight, reordered_b = bias;
    const std::size_t wsize = static_cast<std::size_t>(c) * dp;
    for (int s = 0; s < heads; ++s) {
      std::copy_n(weight.value.data() + rank[s] * wsize, wsize,
                  reordered_w.value.data() + s * wsize);
      std::copy_n(bias.value.data() + rank[s] * c, c, reordered_b.value.data() + s * c);
    }
    weight = std::move(reordered_w);
    bias = std::move(reordered_b);
  }
  std::vector<Matrix> xte(static_cast<std::size_t>(heads)), xva(xte.size());
  std::vector<std::vector<std::int64_t>> yte(xte.size()), yva(xte.size());
  for (int s = 0; s < heads; ++s) {
    xte[s] = gather_rows(in, jobs[rank[s]]->test_idx, sp);
    yte[s] = gather_labels(in, jobs[rank[s]]->test_idx);
    xva[s] = gather_rows(in, jobs[rank[s]]->val_idx, sp);
    yva[s] = gather_labels(in, jobs[rank[s]]->val_idx);
  }

  const int max_epoch = last_epoch(jobs[rank[0]]->config);
  const int bs = std::min(shared.batch_size, std::max(ntr, 1));
  Rng rng(shared.rng_seed, kShuffleStream);
  FERSWEEP_ASSERT(heads == 1 || (!control.resume && !control.final_state),
                  "a head's state is saved and continued one head at a time");
  int first = 1;
  if (control.resume)
    first = restore_state(*control.resume, {&weight, &bias}, rng, *results[0], max_epoch);
  std::vector<std::size_t> order(static_cast<std::size_t>(ntr));
  std::vector<const float*> rows(static_cast<std::size_t>(bs)), wrows;
  std::vector<float> z(static_cast<std::size_t>(bs) * hc), dz(z.size());
  std::vector<std::int64_t> targets(static_cast<std::size_t>(bs));
  std::vector<int> preds(static_cast<std::size_t>(bs));
  SoftmaxWork work;
  std::vector<double> loss_sum(static_cast<std::size_t>(heads));
  std::vector<std::int64_t> correct(static_cast<std::size_t>(heads));
  std::vector<std::size_t> next_eval(static_cast<std::size_t>(heads), 0);
  if (control.resume) next_eval[0] = evaluations_by(shared, first - 1);
  std::vector<float> logits;
  std::vector<const float*> test_rows;
  // Head s's metrics on the rows of `x` after `epoch` epochs.
  auto evaluate_slot = [&](int s, const Matrix& x, const std::vector<std::int64_t>& y, int epoch) {
    x.row_pointers(test_rows, 0, x.rows);
    logits.assign(static_cast<std::size_t>(x.rows) * c, 0.0f);
    kernels::dot_rows(test_rows.data(), x.rows, wrows.data() + s * c, c, dp, logits.data(), c);
    for (int i = 0; i < x.rows; ++i)
      for (int k = 0; k < c; ++k)
        logits[static_cast<std::size_t>(i) * c + k] += bias.value[s * c + k];
    return metrics_from_logits(logits, y, c, epoch);
  };

  for (int epoch = first; epoch <= max_epoch; ++epoch) {
    throw_if_cancelled("head training");  // between epochs: a stop is honoured within one epoch
    int active = 0;
    while (active < heads && last_epoch(jobs[rank[active]]->config) >= epoch) ++active;
    const int ac = active * c;
    epoch_order(order, rng, control, epoch);
    std::fill(loss_sum.begin(), loss_sum.end(), 0.0);
    std::fill(correct.begin(), correct.end(), 0);
    wrows.resize(static_cast<std::size_t>(ac));
    for (int m = 0; m < ac; ++m) wrows[m] = weight.value.data() + static_cast<std::size_t>(m) * dp;

    for (int start = 0; start < ntr; start += bs) {
      const int b = std::min(bs, ntr - start);
      for (int i = 0; i < b; ++i) rows[i] = xtr.row(static_cast<int>(order[start + i]));
      kernels::dot_rows(rows.data(), b, wrows.data(), ac, dp, z.data(), hc);
      const float scale = 1.0f / static_cast<float>(b);
      for (int i = 0; i < b; ++i) targets[i] = ytr[order[start + i]];
      for (int s = 0; s < active; ++s) {
        const HeadConfig& cfg = jobs[rank[s]]->config;
        for (int i = 0; i < b; ++i) {
          float* zi = z.data() + static_cast<std::size_t>(i) * hc + s * c;
          for (int k = 0; k < c; ++k) zi[k] += bias.value[s * c + k];
        }
        loss_sum[s] +=
            softmax_xent_rows(z.data() + s * c, hc, b, c, targets.data(), cfg.label_smoothing,
                              scale, dz.data() + s * c, hc, preds.data(), work);
        for (int i = 0; i < b; ++i) correct[s] += preds[i] == targets[i];
      }
      kernels::combine_rows(dz.data(), 1, hc, b, rows.data(), ac, dp, weight.grad.data(), dp);
      for (int m = 0; m < ac; ++m) {
        float acc = 0.0f;
        for (int i = 0; i < b; ++i) acc += dz[static_cast<std::size_t>(i) * hc + m];
        bias.grad[m] = acc;
      }
      for (int s = 0; s < active; ++s) {
        const HeadConfig& cfg = jobs[rank[s]]->config;
        const long step = static_cast<long>(epoch - 1) * ((ntr + bs - 1) / bs) + start / bs + 1;
        weight.update(cfg, step, static_cast<std::size_t>(s) * c * dp,
                      static_cast<std::size_t>(c) * dp);
        bias.update(cfg, step, static_cast<std::size_t>(s) * c, static_cast<std::size_t>(c));
      }
    }

    for (int s = 0; s < active; ++s) {
      TrainResult& r = *results[rank[s]];
      const HeadConfig& cfg = jobs[rank[s]]->config;
      r.train_loss.push_back(ntr ? loss_sum[s] / ntr : 0.0);
      r.train_accuracy.push_back(ntr ? static_cast<double>(correct[s]) / ntr : 0.0);
      if (next_eval[s] < cfg.eval_epochs.size() && cfg.eval_epochs[next_eval[s]] == epoch) {
        ++next_eval[s];
        r.evals.push_back(evaluate_slot(s, xte[s], yte[s], epoch));
        if (!yva[s].empty()) r.val_evals.push_back(evaluate_slot(s, xva[s], yva[s], epoch));
      }
    }
  }
  if (control.final_state)
    *control.final_state = save_state(max_epoch, {&weight, &bias}, rng, *results[0]);
  if (control.final_params) {
    control.final_params->w1 = copy_out(weight.value.data(), c, d, dp);
    control.final_params->b1.assign(bias.value.begin(), bias.value.begin() + c);
    control.final_params->w2.clear();
    control.final_params->b2.clear();
    control.final_params->mean = stdz.mean;
    control.final_params->inv_std = stdz.inv_std;
  }
}

// The MLP head, Linear(D, H) -> ReLU -> Linear(H, C), trained alone.
void run_mlp(const Inputs& in, const HeadJob& job, const RunControl& control, TrainResult& result) {
  const HeadConfig& cfg = job.config;
  const int c = in.num_classes, d = in.d, hd = cfg.hidden;
  const int dp = padded(d), hp = padded(hd);
  Standardizer stdz;
  if (cfg.standardize) stdz = fit_standardizer(in, job.train_idx);
  const Standardizer* sp = cfg.standardize ? &stdz : nullptr;
  const Matrix xtr = gather_rows(in, job.train_idx, sp);
  const std::vector<std::int64_t> ytr = gather_labels(in, job.train_idx);
  const Matrix xte = gather_rows(in, job.test_idx, sp);
  const std::vector<std::int64_t> yte = gather_labels(in, job.test_idx);
  const Matrix xva = gather_rows(in, job.val_idx, sp);
  const std::vector<std::int64_t> yva = gather_labels(in, job.val_idx);
  const int ntr = xtr.rows;

  Param w1, b1, w2, b2;
  w1.resize(static_cast<std::size_t>(hd) * dp);
  b1.resize(static_cast<std::size_t>(hd));
  w2.resize(static_cast<std::size_t>(c) * hp);
  b2.resize(static_cast<std::size_t>(c));
  {
    const HeadParams p = control.initial ? *control.initial : initial_params(d, c, cfg);
    copy_in(p.w1, static_cast<std::size_t>(hd) * d, "hidden weight", hd, d, dp, w1.value.data());
    copy_in(p.b1, static_cast<std::size_t>(hd), "hidden bias", 1, hd, hd, b1.value.data());
    copy_in(p.w2, static_cast<std::size_t>(c) * hd, "output weight", c, hd, hp, w2.value.data());
    copy_in(p.b2, static_cast<std::size_t>(c), "output bias", 1, c, c, b2.value.data());
  }
  std::vector<const float*> w1rows(static_cast<std::size_t>(hd)),
      w2rows(static_cast<std::size_t>(c));
  for (int j = 0; j < hd; ++j) w1rows[j] = w1.value.data() + static_cast<std::size_t>(j) * dp;
  for (int k = 0; k < c; ++k) w2rows[k] = w2.value.data() + static_cast<std::size_t>(k) * hp;

  // Forward pass of `n` rows: pre-activations a [n, hd], hidden h (padded rows), logits z [n, c].
  std::vector<float> a, z;
  Matrix hidden;
  std::vector<const float*> hrows;
  auto forward = [&](const float* const* x, int n) {
    a.assign(static_cast<std::size_t>(n) * hd, 0.0f);
    kernels::dot_rows(x, n, w1rows.data(), hd, dp, a.data(), hd);
    hidden = Matrix(n, hd);
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < hd; ++j) {
        const float v = a[static_cast<std::size_t>(i) * hd + j] + b1.value[j];
        a[static_cast<std::size_t>(i) * hd + j] = v;
        hidden.row(i)[j] = v > 0.0f ? v : 0.0f;
      }
    hidden.row_pointers(hrows, 0, n);
    z.assign(static_cast<std::size_t>(n) * c, 0.0f);
    kernels::dot_rows(hrows.data(), n, w2rows.data(), c, hp, z.data(), c);
    for (int i = 0; i < n; ++i)
      for (int k = 0; k < c; ++k) z[static_cast<std::size_t>(i) * c + k] += b2.value[k];
  };

  const int bs = std::min(cfg.batch_size, std::max(ntr, 1));
  Rng rng(cfg.rng_seed, kShuffleStream);
  std::vector<std::size_t> order(static_cast<std::size_t>(ntr));
  std::vector<const float*> rows(static_cast<std::size_t>(bs)), test_rows;
  std::vector<float> dz(static_cast<std::size_t>(bs) * c);
  std::vector<std::int64_t> targets(static_cast<std::size_t>(bs));
  std::vector<int> preds(static_cast<std::size_t>(bs));
  SoftmaxWork work;
  Matrix dh;
  std::size_t next_eval = 0;
  long step = 0;
  int first = 1;
  if (control.resume) {
    first = restore_state(*control.resume, {&w1, &b1, &w2, &b2}, rng, result, last_epoch(cfg));
    next_eval = evaluations_by(cfg, first - 1);
    step = static_cast<long>(first - 1) * ((ntr + bs - 1) / bs);
  }
  for (int epoch = first; epoch <= last_epoch(cfg); ++epoch) {
    throw_if_cancelled("head training");
    epoch_order(order, rng, control, epoch);
    double loss_sum = 0;
    std::int64_t correct = 0;
    for (int start = 0; start < ntr; start += bs) {
      const int b = std::min(bs, ntr - start);
      for (int i = 0; i < b; ++i) rows[i] = xtr.row(static_cast<int>(order[start + i]));
      forward(rows.data(), b);
      const float scale = 1.0f / static_cast<float>(b);
      for (int i = 0; i < b; ++i) targets[i] = ytr[order[start + i]];
      loss_sum += softmax_xent_rows(z.data(), c, b, c, targets.data(), cfg.label_smoothing, scale,
                                    dz.data(), c, preds.data(), work);
      for (int i = 0; i < b; ++i) correct += preds[i] == targets[i];
      kernels::combine_rows(dz.data(), 1, c, b, hrows.data(), c, hp, w2.grad.data(), hp);
      for (int k = 0; k < c; ++k) {
        float acc = 0.0f;
        for (int i = 0; i < b; ++i) acc += dz[static_cast<std::size_t>(i) * c + k];
        b2.grad[k] = acc;
      }
      dh = Matrix(b, hd);
      kernels::combine_rows(dz.data(), c, 1, c, w2rows.data(), b, hp, dh.data.data(), hp);
      for (int i = 0; i < b; ++i)
        for (int j = 0; j < hp; ++j)
          if (j >= hd || !(a[static_cast<std::size_t>(i) * hd + j] > 0.0f)) dh.row(i)[j] = 0.0f;
      kernels::combine_rows(dh.data.data(), 1, hp, b, rows.data(), hd, dp, w1.grad.data(), dp);
      for (int j = 0; j < hd; ++j) {
        float acc = 0.0f;
        for (int i = 0; i < b; ++i) acc += dh.row(i)[j];
        b1.grad[j] = acc;
      }
      ++step;
      w1.update(cfg, step, 0, w1.value.size());
      b1.update(cfg, step, 0, b1.value.size());
      w2.update(cfg, step, 0, w2.value.size());
      b2.update(cfg, step, 0, b2.value.size());
    }
    result.train_loss.push_back(ntr ? loss_sum / ntr : 0.0);
    result.train_accuracy.push_back(ntr ? static_cast<double>(correct) / ntr : 0.0);
    if (next_eval < cfg.eval_epochs.size() && cfg.eval_epochs[next_eval] == epoch) {
      ++next_eval;
      xte.row_pointers(test_rows, 0, xte.rows);
      forward(test_rows.data(), xte.rows);
      result.evals.push_back(metrics_from_logits(z, yte, c, epoch));
      if (!yva.empty()) {
        xva.row_pointers(test_rows, 0, xva.rows);
        forward(test_rows.data(), xva.rows);
        result.val_evals.push_back(metrics_from_logits(z, yva, c, epoch));
      }
    }
  }
  if (control.final_state)
    *control.final_state = save_state(last_epoch(cfg), {&w1, &b1, &w2, &b2}, rng, result);
  if (control.final_params) {
    control.final_params->w1 = copy_out(w1.value.data(), hd, d, dp);
    control.final_params->b1 = b1.value;
    control.final_params->w2 = copy_out(w2.value.data(), c, hd, hp);
    control.final_params->b2 = b2.value;
    control.final_params->mean = stdz.mean;
    control.final_params->inv_std = stdz.inv_std;
  }
}

void check_job(const Inputs& in, const HeadJob& job) {
  validate(job.config);
  if (job.train_idx.empty()) throw DataError("train: the training fold (train_idx) is empty");
  check_indices(in, job.train_idx, "train_idx");
  check_indices(in, job.test_idx, "test_idx");
  check_indices(in, job.val_idx, "val_idx");
}

bool stackable(const HeadJob& a, const HeadJob& b) {
  return a.config.head == "linear" && b.config.head == "linear" &&
         a.config.batch_size == b.config.batch_size &&
         a.config.standardize == b.config.standardize && a.config.rng_seed == b.config.rng_seed &&
         a.train_idx == b.train_idx;
}

}  // namespace

void epoch_order(std::vector<std::size_t>& order, Rng& rng, const RunControl& control, int epoch) {
  const std::size_t n = order.size();
  if (control.epoch_orders) {
    const auto& orders = *control.epoch_orders;
    if (orders.size() < static_cast<std::size_t>(epoch))
      throw DataError("train: RunControl::epoch_orders has no order for epoch " +
                      std::to_string(epoch));
    const auto& given = orders[static_cast<std::size_t>(epoch - 1)];
    std::vector<char> seen(n, 0);
    for (std::size_t i : given)
      if (i >= n || seen[i]++)
        throw DataError("train: RunControl::epoch_orders[" + std::to_string(epoch - 1) +
                        "] is not a permutation of the training positions");
    if (given.size() != n)
      throw DataError("train: RunControl::epoch_orders[" + std::to_string(epoch - 1) +
                      "] is not a permutation of the training positions");
    order = given;
    return;
  }
  std::iota(order.begin(), order.end(), std::size_t{0});
  rng.shuffle(order);
}

void validate(const HeadConfig& c) {
  auto fail = [](const std::string& msg) { throw ConfigError("train: " + msg); };
  if (c.head != "linear" && c.head != "mlp")
    fail("head must be 'linear' or 'mlp', got '" + c.head + "'");
  if (c.head == "mlp" && c.hidden < 1)
    fail("hidden must be >= 1 for an mlp head, got " + std::to_string(c.hidden));
  if (c.optimizer != "adam" && c.optimizer != "adamw" && c.optimizer != "sgd")
    fail("optimizer must be 'adam', 'adamw' or 'sgd', got '" + c.optimizer + "'");
  if (!(c.lr > 0) || !std::isfinite(c.lr)) fail("lr must be > 0, got " + std::to_string(c.lr));
  if (!(c.weight_decay >= 0) || !std::isfinite(c.weight_decay))
    fail("weight_decay must be >= 0, got " + std::to_string(c.weight_decay));
  if (!(c.momentum >= 0 && c.momentum < 1))
    fail("momentum must be in [0, 1), got " + std::to_string(c.momentum));
  if (c.batch_size < 1) fail("batch_size must be >= 1, got " + std::to_string(c.batch_size));
  if (c.eval_epochs.empty()) fail("eval_epochs is empty: give at least one epoch count");
  for (std::size_t i = 0; i < c.eval_epochs.size(); ++i) {
    if (c.eval_epochs[i] < 1)
      fail("eval_epochs must be >= 1, got " + std::to_string(c.eval_epochs[i]));
    if (i > 0 && c.eval_epochs[i] <= c.eval_epochs[i - 1])
      fail("eval_epochs must be strictly increasing, got " + std::to_string(c.eval_epochs[i - 1]) +
           " then " + std::to_string(c.eval_epochs[i]));
  }
  if (!(c.label_smoothing >= 0 && c.label_smoothing < 1))
    fail("label_smoothing must be in [0, 1), got " + std::to_string(c.label_smoothing));
}

HeadParams initial_params(int in_features, int num_classes, const HeadConfig& config) {
  Rng rng(config.rng_seed, kInitStream);
  auto draw = [&](std::vector<float>& v, std::size_t n, int fan_in) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    v.resize(n);
    for (float& e : v) e = static_cast<float>((2.0 * rng.uniform() - 1.0) * bound);
  };
  HeadParams p;
  const auto c = static_cast<std::size_t>(num_classes), d = static_cast<std::size_t>(in_features);
  if (config.head == "mlp") {
    const auto h = static_cast<std::size_t>(config.hidden);
    draw(p.w1, h * d, in_features);
    draw(p.b1, h, in_features);
    draw(p.w2, c * h, config.hidden);
    draw(p.b2, c, config.hidden);
  } else {
    draw(p.w1, c * d, in_features);
    draw(p.b1, c, in_features);
  }
  return p;
}

TrainResult train_head(const at::Tensor& features, const at::Tensor& labels,
                       const std::vector<std::size_t>& train_idx,
                       const std::vector<std::size_t>& test_idx, int num_classes,
                       const HeadConfig& config, const RunControl& control,
                       const std::vector<std::size_t>& val_idx) {
  const Inputs in = prepare_inputs(features, labels, num_classes);
  const HeadJob job{train_idx, test_idx, config, val_idx};
  check_job(in, job);
  TrainResult result;
  if (config.head == "mlp") {
    run_mlp(in, job, control, result);
  } else {
    std::vector<const HeadJob*> jobs{&job};
    std::vector<TrainResult*> results{&result};
    run_linear_group(in, jobs, control, results);
  }
  return result;
}

std::vector<TrainResult> train_heads(const at::Tensor& features, const at::Tensor& labels,
                                     const std::vector<HeadJob>& jobs, int num_classes) {
  const Inputs in = prepare_inputs(features, labels, num_classes);
  for (const HeadJob& job : jobs) check_job(in, job);
  std::vector<std::vector<std::size_t>> groups;
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const auto& g) { return stackable(jobs[g.front()], jobs[j]); });
    if (it == groups.end()) {
      groups.push_back({j});
    } else {
      it->push_back(j);
    }
  }
  std::vector<TrainResult> results(jobs.size());
  const RunControl none;
  at::parallel_for(0, static_cast<std::int64_t>(groups.size()), 1,
                   [&](std::int64_t begin, std::int64_t end) {
                     for (std::int64_t g = begin; g < end; ++g) {
                       const auto& members = groups[static_cast<std::size_t>(g)];
                       if (jobs[members.front()].config.head == "mlp") {
                         run_mlp(in, jobs[members.front()], none, results[members.front()]);
                         continue;
                       }
                       std::vector<const HeadJob*> group_jobs;
                       std::vector<TrainResult*> group_results;
                       for (std::size_t j : members) {
                         group_jobs.push_back(&jobs[j]);
                         group_results.push_back(&results[j]);
                       }
                       run_linear_group(in, group_jobs, none, group_results);
                     }
                   });
  return results;
}

}  // namespace fersweep::train
