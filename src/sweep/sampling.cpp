// Distributions and unit-cube points of sampled searches. The Sobol sequence is Boost.Random's
// (Joe-Kuo direction numbers); the scramble and the random points use fersweep's SplitMix64
// generator, whose output is the same on every platform.
#include "sweep/sampling.h"

#include <fmt/format.h>
#include <boost/random/sobol.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/error.h"
#include "train/detmath.h"
#include "train/rng.h"

namespace fersweep::sweep {
namespace {

constexpr std::uint64_t kRandomStreams = std::uint64_t{1} << 62;
constexpr std::uint64_t kScrambleStreams = std::uint64_t{3} << 60;

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

std::vector<std::string> split_arguments(const std::string& inside) {
  std::vector<std::string> out;
  if (trim(inside).empty()) return out;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = inside.find(',', start);
    out.push_back(trim(inside.substr(start, comma - start)));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

std::variant<double, std::string> number(const std::string& text, const std::string& call) {
  char* end = nullptr;
  const double x = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(x))
    return fmt::format("{}: '{}' is not a finite number", call, text);
  return x;
}

// The bits of a 64-bit fraction times a lower-triangular binary matrix with a unit diagonal, plus
// a shift: output bit j (from the top) is bit j xor a seeded choice of the bits above it.
struct LinearScramble {
  std::uint64_t rows[64];
  std::uint64_t shift;

  explicit LinearScramble(train::Rng rng) {
    for (int j = 0; j < 64; ++j) {
      const std::uint64_t above = j == 0 ? 0 : ~std::uint64_t{0} << (64 - j);
      rows[j] = (std::uint64_t{1} << (63 - j)) | (rng.next() & above);
    }
    shift = rng.next();
  }
  std::uint64_t apply(std::uint64_t x) const {
    std::uint64_t y = 0;
    for (int j = 0; j < 64; ++j)
      y |= static_cast<std::uint64_t>(__builtin_parityll(rows[j] & x)) << (63 - j);
    return y ^ shift;
  }
};

double unit_fraction(std::uint64_t bits) {
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

}  // namespace

std::variant<Distribution, std::string> parse_distribution(const std::string& written) {
  const std::string text = trim(written);
  const auto open = text.find('(');
  const std::string usage = "give uniform(a, b), loguniform(a, b), int(a, b) or choice(x, y, ...)";
  if (open == std::string::npos || text.back() != ')')
    return fmt::format("'{}' is not a distribution: {}", text, usage);
  const std::string name = trim(text.substr(0, open));
  const std::vector<std::string> args =
      split_arguments(text.substr(open + 1, text.size() - open - 2));
  Distribution d;
  if (name == "choice") {
    d.kind = Distribution::Kind::choice;
    if (args.empty()) return std::string("choice() is empty: give at least one value");
    for (const auto& a : args)
      if (a.empty()) return fmt::format("{}: an empty value", text);
    d.choices = args;
    return d;
  }
  if (name == "uniform")
    d.kind = Distribution::Kind::uniform;
  else if (name == "loguniform")
    d.kind = Distribution::Kind::loguniform;
  else if (name == "int")
    d.kind = Distribution::Kind::integer;
  else
    return fmt::format("'{}' is not a distribution: {}", text, usage);
  if (args.size() != 2)
    return fmt::format("{}: {} takes two numbers (a, b), got {}", text, name, args.size());
  for (int k = 0; k < 2; ++k) {
    auto x = number(args[k], text);
    if (auto* error = std::get_if<std::string>(&x)) return *error;
    (k == 0 ? d.lo : d.hi) = std::get<double>(x);
  }
  if (d.kind == Distribution::Kind::integer &&
      (d.lo != std::floor(d.lo) || d.hi != std::floor(d.hi) || std::abs(d.lo) > 0x1p52 ||
       std::abs(d.hi) > 0x1p52))
    return fmt::format("{}: int takes whole numbers", text);
  if (d.kind == Distribution::Kind::loguniform && !(d.lo > 0))
    return fmt::format("{}: loguniform needs a > 0 (it is uniform in log a .. log b)", text);
  if (!std::isfinite(d.hi - d.lo)) return fmt::format("{}: b - a is not a finite number", text);
  const bool ordered = d.kind == Distribution::Kind::integer ? d.lo <= d.hi : d.lo < d.hi;
  if (!ordered)
    return fmt::format("{}: a must be {} b", text,
                       d.kind == Distribution::Kind::integer ? "at most" : "below");
  return d;
}

std::size_t choice_index(double u, std::size_t n) {
  return std::min(static_cast<std::size_t>(u * static_cast<double>(n)), n - 1);
}

nlohmann::json value_at(const Distribution& d, double u) {
  switch (d.kind) {
    case Distribution::Kind::uniform:
      return std::min(d.lo + u * (d.hi - d.lo), std::nextafter(d.hi, d.lo));
    case Distribution::Kind::loguniform: {
      // libm-free exp and log: a point's value, and so its task id, must not depend on the
      // machine that plans (a resumed search may be planned elsewhere).
      namespace dm = train::detmath;
      const double x = dm::exp(dm::log(d.lo) + u * (dm::log(d.hi) - dm::log(d.lo)));
      return std::clamp(x, d.lo, std::nextafter(d.hi, d.lo));
    }
    case Distribution::Kind::integer: {
      const double k = std::min(d.lo + std::floor(u * (d.hi - d.lo + 1)), d.hi);
      return static_cast<std::int64_t>(k);
    }
    case Distribution::Kind::choice:
      return d.choices[choice_index(u, d.choices.size())];
  }
  FERSWEEP_ASSERT(false, "unknown distribution kind");
  return nullptr;
}

struct PointSampler::Impl {
  SearchMethod method;
  std::uint64_t seed;
  std::size_t dims;
  std::unique_ptr<boost::random::sobol> sobol;  // sobol only
  std::vector<LinearScramble> scrambles;        // one per dimension
};

PointSampler::PointSampler(SearchMethod method, std::uint64_t seed, std::size_t dims)
    : impl_(std::make_unique<Impl>()) {
  FERSWEEP_ASSERT(dims > 0, "a point needs at least one dimension");
  impl_->method = method;
  impl_->seed = seed;
  impl_->dims = dims;
  if (method == SearchMethod::sobol) {
    impl_->sobol = std::make_unique<boost::random::sobol>(dims);
    for (std::size_t d = 0; d < dims; ++d)
      impl_->scrambles.emplace_back(train::Rng(seed, kScrambleStreams | d));
  }
}

PointSampler::~PointSampler() = default;
PointSampler::PointSampler(PointSampler&&) noexcept = default;
PointSampler& PointSampler::operator=(PointSampler&&) noexcept = default;

std::vector<std::uint64_t> PointSampler::sobol_bits(std::uint64_t i) {
  FERSWEEP_ASSERT(impl_->sobol, "sobol_bits of a random sampler");
  std::vector<std::uint64_t> out(impl_->dims, 0);
  if (i == 0) return out;  // the origin: Boost's sequence starts after it
  impl_->sobol->seed(i - 1);
  for (auto& x : out) x = (*impl_->sobol)();
  return out;
}

std::vector<double> PointSampler::point(std::uint64_t i) {
  std::vector<double> out(impl_->dims);
  if (impl_->method == SearchMethod::random) {
    train::Rng rng(impl_->seed, kRandomStreams | i);
    for (auto& u : out) u = rng.uniform();
    return out;
  }
  const std::vector<std::uint64_t> bits = sobol_bits(i);
  for (std::size_t d = 0; d < impl_->dims; ++d)
    out[d] = unit_fraction(impl_->scrambles[d].apply(bits[d]));
  return out;
}

}  // namespace fersweep::sweep
