#!/usr/bin/python3
"""Issue #16 benchmark: extraction input throughput on 48x48 sources. FER2013's samples are pixel
rows decoded from the CSV as the extractor streams them; the peer is the same 48x48 grey faces as
JPEG files in class folders (same pixel count). Both go through data::ImageBatchStream (row parse
or JPEG decode, resize to 224x224, batches of 64, 2 threads): the backbone pass after it is the same
per image for both, so this is where they can differ. Best of REPEAT, alternating.
Goal: rows no slower than JPEG (ratio >= 1). Usage: bench/data/rows_vs_jpeg.py [BUILD=build/release]
(env PER_CLASS=500 REPEAT=3)."""
import csv
import os
import subprocess
import sys
import tempfile

import cv2
import numpy as np

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build/release"
PER_CLASS = int(os.environ.get("PER_CLASS", 500))
REPEAT = int(os.environ.get("REPEAT", 3))
EXE = os.path.join(BUILD, "bench", "data", "bench_formats")
FERSWEEP = os.path.join(BUILD, "src", "fersweep")
NAMES = ["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"]


def images_per_s(root, fmt):
    out = subprocess.run([EXE, root, fmt, "1", "2"], capture_output=True, text=True, check=True,
                         env=dict(os.environ, STREAM="224")).stdout
    fields = dict(line.split() for line in out.strip().splitlines())
    return float(fields["stream_images_per_s"]), int(fields["samples"])


with tempfile.TemporaryDirectory() as work:
    rows, files = os.path.join(work, "fer2013"), os.path.join(work, "jpeg")
    subprocess.run([FERSWEEP, "make-demo-data", rows, "--format", "fer2013", "--per-class", str(PER_CLASS)],
                   check=True, capture_output=True)
    with open(os.path.join(rows, "fer2013.csv"), newline="") as f:
        for i, r in enumerate(list(csv.reader(f))[1:]):
            img = np.array(r[1].split(), dtype=np.uint8).reshape(48, 48)
            d = os.path.join(files, NAMES[int(r[0])])
            os.makedirs(d, exist_ok=True)
            assert cv2.imwrite(os.path.join(d, f"{i:06d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    ours, peer = [], []
    for _ in range(REPEAT):
        r, n = images_per_s(rows, "fer2013")
        j, m = images_per_s(files, "folders")
        assert n == m, (n, m)
        ours.append(r)
        peer.append(j)
    print(f"{n} samples, 48x48 grey, streamed at 224x224 on 2 threads")
    print(f"fer2013.csv rows     {max(ours):9.0f} images/s")
    print(f"48x48 JPEG files     {max(peer):9.0f} images/s")
    print(f"ratio rows / JPEG    {max(ours) / max(peer):9.2f}   goal >= 1")
