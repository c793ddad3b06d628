#!/usr/bin/python3
"""Issue #16 benchmark: the second scan of a 100,000-image folder dataset. Writes 100,000 small
JPEG files (48x48 noise, 7 class folders), then scans them with data::scan_dataset on 2 threads:
  first   no scan cache: every file read, hashed and test-decoded (the peer: what every run
          paid before the cache), and the cache written;
  second  the same dataset again: sizes and modification times match, no image is read.
Goal: the second scan under 2 s on this machine. Prints both and their ratio.
Usage: bench/data/scan_cache.py [BUILD=build/release]   (env IMAGES=100000)"""
import os
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build/release"
IMAGES = int(os.environ.get("IMAGES", 100000))
EXE = os.path.join(BUILD, "bench", "data", "bench_formats")


def scan(root, cache):
    out = subprocess.run([EXE, root, "folders", "1", "2", cache], capture_output=True, text=True,
                         check=True).stdout
    fields = dict(line.split() for line in out.strip().splitlines())
    assert int(fields["samples"]) == IMAGES, out
    return float(fields["scan_seconds"])


with tempfile.TemporaryDirectory() as work:
    root, cache = os.path.join(work, "data"), os.path.join(work, "scans")
    start = time.time()
    rng = np.random.default_rng(0)
    tiles = [cv2.imencode(".jpg", rng.integers(0, 256, (48, 48, 3), dtype=np.uint8))[1].tobytes()
             for _ in range(64)]
    for c in range(7):
        os.makedirs(os.path.join(root, f"class{c}"))
    for i in range(IMAGES):
        with open(os.path.join(root, f"class{i % 7}", f"{i:06d}.jpg"), "wb") as f:
            f.write(tiles[i % 64])
    print(f"wrote {IMAGES} images in {time.time() - start:.1f} s")
    first = scan(root, cache)
    second = scan(root, cache)
    print(f"first scan (every image read, hashed, decoded)   {first:7.2f} s")
    print(f"second scan (scan cache, nothing changed)        {second:7.2f} s   goal < 2 s")
    print(f"ratio first / second                             {first / second:7.1f}x")
