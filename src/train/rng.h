// Seeded, platform-independent pseudo-random numbers for head initialisation and epoch shuffles
// (SplitMix64; no std:: distributions, whose output differs between standard libraries).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace fersweep::train {

/// The streams of a training seed: the head's initial weights, and the batch order of every epoch
/// (head training and fine-tuning draw the same order from the same seed).
inline constexpr std::uint64_t kInitStream = 1;
inline constexpr std::uint64_t kShuffleStream = 2;

/// SplitMix64 generator with explicit, portable derived draws (uniform floats, bounded integers).
class Rng {
 public:
  /// A generator for `stream` of `seed`: different streams of one seed are independent.
  explicit Rng(std::uint64_t seed, std::uint64_t stream = 0)
      : state_(mix(seed ^ mix(stream + 0x632be59bd9b4e019ULL))) {}

  /// Next 64 random bits.
  std::uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return mix(state_);
  }
  /// Uniform double in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// Uniform integer in [0, bound) without modulo bias (rejects the top 2^64 mod bound values).
  std::uint64_t below(std::uint64_t bound) {
    if (bound <= 1) return 0;
    const std::uint64_t excess = (0 - bound) % bound;  // 2^64 mod bound
    for (;;) {
      const std::uint64_t x = next();
      if (x <= ~std::uint64_t{0} - excess) return x % bound;
    }
  }
  /// The generator's position, and a generator continuing from one (task checkpoints).
  std::uint64_t position() const { return state_; }
  static Rng at_position(std::uint64_t position) {
    Rng r(0);
    r.state_ = position;
    return r;
  }
  /// Fisher-Yates shuffle in place.
  template <class T>
  void shuffle(std::vector<T>& items) {
    for (std::size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[below(i)]);
  }

  /// The SplitMix64 finaliser: a bijective 64-bit mix.
  static std::uint64_t mix(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

}  // namespace fersweep::train
