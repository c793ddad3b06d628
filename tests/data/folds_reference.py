#!/usr/bin/python3
"""Independent re-implementation of fersweep's stratified fold assignment (splitmix64 seeding,
xoshiro256**, Fisher-Yates, round-robin dealing; docs/datasets.md). Reads labels from argv[1]
(one per line), prints one fold id per line for folds argv[2] and seed argv[3].

`folds_reference.py LABELS val FRACTION CV_SEED FOLD`: the validation part select: sets aside
from a training fold with these labels, one position per line (docs/sweep-files.md)."""
import sys

M = (1 << 64) - 1


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    return state, z ^ (z >> 31)


def derive_seed(seed, stream):
    s = (seed ^ ((0xD1B54A32D192ED03 * (stream + 1)) & M)) & M
    s, _ = splitmix64(s)
    s, out = splitmix64(s)
    return out


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & M


class Xoshiro:
    def __init__(self, seed):
        self.s = []
        for _ in range(4):
            seed, v = splitmix64(seed)
            self.s.append(v)

    def next(self):
        s = self.s
        result = (rotl((s[1] * 5) & M, 7) * 9) & M
        t = (s[1] << 17) & M
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def below(self, n):
        limit = M - (M % n)
        while True:
            x = self.next()
            if x < limit:
                return x % n


def assign(labels, folds, seed):
    classes = max(labels) + 1
    members = [[i for i, l in enumerate(labels) if l == c] for c in range(classes)]
    out = [-1] * len(labels)
    dealt = 0
    for c in range(classes):
        idx = members[c]
        rng = Xoshiro(derive_seed(seed, c))
        for i in range(len(idx), 1, -1):
            j = rng.below(i)
            idx[i - 1], idx[j] = idx[j], idx[i - 1]
        for k, i in enumerate(idx):
            out[i] = (dealt + k) % folds
        dealt += len(idx)
    return out


def validation_seed(cv_seed, fold):
    return derive_seed(cv_seed ^ 0x76616C6964617465, fold)


def validation(labels, fraction, seed):
    part = []
    for c in range(max(labels) + 1):
        idx = [i for i, l in enumerate(labels) if l == c]
        if len(idx) < 2:
            continue
        rng = Xoshiro(derive_seed(seed, c))
        for i in range(len(idx), 1, -1):
            j = rng.below(i)
            idx[i - 1], idx[j] = idx[j], idx[i - 1]
        want = int(fraction * len(idx) + 0.5)
        part += idx[:min(want, len(idx) - 1)]
    return sorted(part)


if __name__ == "__main__":
    labels = [int(x) for x in open(sys.argv[1]).read().split()]
    if sys.argv[2] == "val":
        seed = validation_seed(int(sys.argv[4]), int(sys.argv[5]))
        print("\n".join(str(i) for i in validation(labels, float(sys.argv[3]), seed)))
    else:
        print("\n".join(str(f) for f in assign(labels, int(sys.argv[2]), int(sys.argv[3]))))
