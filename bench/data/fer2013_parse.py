#!/usr/bin/python3
"""Issue #16 benchmark: parsing and validating fer2013.csv. Writes a FER2013-sized file (35,887
rows of 2304 random pixels, the real file's size and layout), then times, best of REPEAT each,
alternating:
  fersweep  bench_formats: data::scan_dataset(format fer2013) on one thread — every row parsed,
            checked (2304 values, 0..255, emotion 0-6, Usage), hashed, and the fingerprint;
  pandas    pd.read_csv + the pixel strings turned into one uint8 array [N, 48, 48], with the
            faster of two common idioms (np.fromstring(sep=' ') or str.split per row).
Goal: fersweep at least 3x faster. Usage: bench/data/fer2013_parse.py [BUILD=build/release]
(env ROWS=35887 REPEAT=3)."""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build/release"
ROWS = int(os.environ.get("ROWS", 35887))
REPEAT = int(os.environ.get("REPEAT", 3))
EXE = os.path.join(BUILD, "bench", "data", "bench_formats")


def write(path):
    rng = np.random.default_rng(0)
    usages = ["Training"] * 8 + ["PublicTest", "PrivateTest"]
    with open(path, "w") as f:
        f.write("emotion,pixels,Usage\n")
        for i in range(ROWS):
            px = rng.integers(0, 256, 2304)
            f.write(f"{i % 7},{' '.join(map(str, px))},{usages[i % 10]}\n")


def pandas_fromstring(path):
    df = pd.read_csv(path)
    return np.stack([np.fromstring(p, dtype=np.uint8, sep=" ") for p in df["pixels"]]).reshape(-1, 48, 48)


def pandas_split(path):
    df = pd.read_csv(path)
    return np.array([p.split() for p in df["pixels"]], dtype=np.uint8).reshape(-1, 48, 48)


def timed(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def ours(root):
    out = subprocess.run([EXE, root, "fer2013", "1", "1"], capture_output=True, text=True, check=True).stdout
    fields = dict(line.split() for line in out.strip().splitlines())
    assert int(fields["samples"]) == ROWS, out
    return float(fields["scan_seconds"])


with tempfile.TemporaryDirectory() as root:
    path = os.path.join(root, "fer2013.csv")
    write(path)
    print(f"fer2013.csv: {ROWS} rows, {os.path.getsize(path) / 1e6:.0f} MB")
    assert pandas_fromstring(path).shape == (ROWS, 48, 48)
    us, fs_, sp = [], [], []
    for _ in range(REPEAT):  # alternating, so both sides see the same machine load
        us.append(ours(root))
        fs_.append(timed(lambda: pandas_fromstring(path)))
        sp.append(timed(lambda: pandas_split(path)))
    mine, peer = min(us), min(min(fs_), min(sp))
    print(f"fersweep scan (1 thread)             {mine:7.3f} s  ({ROWS / mine:,.0f} rows/s)")
    print(f"pandas read_csv + np.fromstring      {min(fs_):7.3f} s")
    print(f"pandas read_csv + str.split          {min(sp):7.3f} s")
    print(f"ratio (faster pandas / fersweep)     {peer / mine:7.2f}x   goal >= 3x")
