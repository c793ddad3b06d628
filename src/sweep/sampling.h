// Sampled search spaces (issue #18, `search:` and `space:` of a sweep file): the distributions a
// key can take, and points in the unit cube — seeded random or scrambled Sobol — each a pure
// function of (method, seed, index, dimensions), so that point i is the same on any number of
// ranks, in any order, after a resume, and when `samples` grows. sweep/spec.cpp reads `space:`
// with these, sweep/plan.cpp draws the points.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace fersweep::sweep {

/// One key's distribution, as written in `space:`: `uniform(a, b)`, `loguniform(a, b)` (0 < a),
/// `int(a, b)` (whole numbers, both ends included) or `choice(x, y, ...)` (the values as written,
/// for the key's own checks).
struct Distribution {
  enum class Kind { uniform, loguniform, integer, choice };
  Kind kind = Kind::uniform;
  double lo = 0, hi = 0;
  std::vector<std::string> choices;
};

/// The distribution `text` writes, or why it is not one (a message for the caller to locate):
/// an unknown name, a malformed call, a ≤ 0 bound of loguniform, a > b, a fraction in int, an
/// empty choice.
std::variant<Distribution, std::string> parse_distribution(const std::string& text);

/// The value at u in [0, 1): uniform a + u (b - a); loguniform exp(log a + u (log b - log a));
/// int a + floor(u (b - a + 1)); choice the floor(u n)-th value (a string, for the caller to read
/// as its key's type). The last two never pass their last value, whatever u's rounding.
nlohmann::json value_at(const Distribution& d, double u);

/// The index among n choices at u in [0, 1): floor(u n), never n.
std::size_t choice_index(double u, std::size_t n);

enum class SearchMethod { random, sobol };

/// Points in [0, 1)^dims. random: every coordinate an independent uniform from the point's own
/// SplitMix64 stream of `seed`. sobol: point i of the Sobol sequence (Joe and Kuo's direction
/// numbers, new-joe-kuo-6.21201, through Boost.Random; point 0 is the origin, then Gray-code
/// order as Joe and Kuo's and SciPy's generators give them), scrambled per dimension by a seeded
/// random lower-triangular binary matrix and digital shift (Matoušek's linear scramble, as SciPy's
/// default), which keeps the sequence's balance: each of the first 2^m points falls in its own
/// 2^-m slice of every axis.
class PointSampler {
 public:
  PointSampler(SearchMethod method, std::uint64_t seed, std::size_t dims);
  ~PointSampler();
  PointSampler(PointSampler&&) noexcept;
  PointSampler& operator=(PointSampler&&) noexcept;

  std::vector<double> point(std::uint64_t i);
  /// The unscrambled Sobol point i as 64-bit fractions (tests: against SciPy's).
  std::vector<std::uint64_t> sobol_bits(std::uint64_t i);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fersweep::sweep
