#!/usr/bin/python3
"""Reference Sobol points for the sampling tests, from Debian's python3-scipy (its own Joe-Kuo
direction numbers and generator, independent of Boost.Random's).

  ref_sobol.py DIMS N OUT
      writes OUT: N lines of DIMS integers, the unscrambled points times 2^30 (SciPy's resolution),
      point 0 (the origin) first.
"""
import sys

import numpy as np
from scipy.stats import qmc


def main(dims, n, out):
    points = qmc.Sobol(dims, scramble=False).random(n)
    with open(out, "w") as f:
        for p in points:
            f.write(" ".join(str(int(x)) for x in np.rint(p * 2.0**30)) + "\n")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
