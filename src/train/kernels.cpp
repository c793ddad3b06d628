// Chooses the kernel instruction set once per process (CPU support, FERSWEEP_TRAIN_ISA).
#include "train/kernels.h"

#include <atomic>
#include <cstdlib>

#include "core/error.h"

namespace fersweep::train::kernels {

#define FERSWEEP_DECLARE_KERNELS(ns)                                                             \
  namespace ns {                                                                                 \
  void dot_rows(const float* const* a, int na, const float* const* b, int nb, int width,         \
                float* out, std::ptrdiff_t ldo);                                                 \
  void combine_rows(const float* coef, std::ptrdiff_t coef_r, std::ptrdiff_t coef_k, int nk,     \
                    const float* const* src, int nr, int width, float* out, std::ptrdiff_t ldo); \
  void update(const UpdateStep& step, float* p, const float* g, float* m, float* v,              \
              std::size_t n);                                                                    \
  void exp_clamped(double* v, std::size_t n);                                                    \
  void log_normal(double* v, std::size_t n);                                                     \
  }
FERSWEEP_DECLARE_KERNELS(generic)
#if defined(__x86_64__)
FERSWEEP_DECLARE_KERNELS(avx2)
FERSWEEP_DECLARE_KERNELS(avx512)
#endif
#undef FERSWEEP_DECLARE_KERNELS

namespace {

enum class Isa { generic, avx2, avx512 };

bool supported(Isa isa) {
#if defined(__x86_64__)
  switch (isa) {
    case Isa::avx512:
      return __builtin_cpu_supports("avx512f");
    case Isa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::generic:
      return true;
  }
  return false;
#else
  return isa == Isa::generic;
#endif
}

Isa parse(const std::string& name) {
  if (name == "auto" || name.empty()) {
    if (supported(Isa::avx512)) return Isa::avx512;
    if (supported(Isa::avx2)) return Isa::avx2;
    return Isa::generic;
  }
  Isa isa;
  if (name == "avx512") {
    isa = Isa::avx512;
  } else if (name == "avx2") {
    isa = Isa::avx2;
  } else if (name == "generic") {
    isa = Isa::generic;
  } else {
    throw ConfigError("FERSWEEP_TRAIN_ISA: unknown instruction set '" + name +
                      "' (expected auto, avx512, avx2 or generic)");
  }
  if (!supported(isa))
    throw ConfigError("FERSWEEP_TRAIN_ISA: this CPU does not support '" + name + "'");
  return isa;
}

Isa initial_isa() {
  const char* env = std::getenv("FERSWEEP_TRAIN_ISA");
  return parse(env ? env : "auto");
}

std::atomic<Isa>& current() {
  static std::atomic<Isa> isa{initial_isa()};
  return isa;
}

}  // namespace

void dot_rows(const float* const* a, int na, const float* const* b, int nb, int width, float* out,
              std::ptrdiff_t ldo) {
  switch (current().load(std::memory_order_relaxed)) {
#if defined(__x86_64__)
    case Isa::avx512:
      return avx512::dot_rows(a, na, b, nb, width, out, ldo);
    case Isa::avx2:
      return avx2::dot_rows(a, na, b, nb, width, out, ldo);
#endif
    default:
      return generic::dot_rows(a, na, b, nb, width, out, ldo);
  }
}

void combine_rows(const float* coef, std::ptrdiff_t coef_r, std::ptrdiff_t coef_k, int nk,
                  const float* const* src, int nr, int width, float* out, std::ptrdiff_t ldo) {
  switch (current().load(std::memory_order_relaxed)) {
#if defined(__x86_64__)
    case Isa::avx512:
      return avx512::combine_rows(coef, coef_r, coef_k, nk, src, nr, width, out, ldo);
    case Isa::avx2:
      return avx2::combine_rows(coef, coef_r, coef_k, nk, src, nr, width, out, ldo);
#endif
    default:
      return generic::combine_rows(coef, coef_r, coef_k, nk, src, nr, width, out, ldo);
  }
}

void update(const UpdateStep& step, float* p, const float* g, float* m, float* v, std::size_t n) {
  switch (current().load(std::memory_order_relaxed)) {
#if defined(__x86_64__)
    case Isa::avx512:
      return avx512::update(step, p, g, m, v, n);
    case Isa::avx2:
      return avx2::update(step, p, g, m, v, n);
#endif
    default:
      return generic::update(step, p, g, m, v, n);
  }
}

void exp_clamped(double* v, std::size_t n) {
  switch (current().load(std::memory_order_relaxed)) {
#if defined(__x86_64__)
    case Isa::avx512:
      return avx512::exp_clamped(v, n);
    case Isa::avx2:
      return avx2::exp_clamped(v, n);
#endif
    default:
      return generic::exp_clamped(v, n);
  }
}

void log_normal(double* v, std::size_t n) {
  switch (current().load(std::memory_order_relaxed)) {
#if defined(__x86_64__)
    case Isa::avx512:
      return avx512::log_normal(v, n);
    case Isa::avx2:
      return avx2::log_normal(v, n);
#endif
    default:
      return generic::log_normal(v, n);
  }
}

std::string isa() {
  switch (current().load()) {
    case Isa::avx512:
      return "avx512";
    case Isa::avx2:
      return "avx2";
    default:
      return "generic";
  }
}

void set_isa(const std::string& name) {
  current().store(parse(name));
}

}  // namespace fersweep::train::kernels
