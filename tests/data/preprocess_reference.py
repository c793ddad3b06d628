#!/usr/bin/python3
"""Independent preprocessing reference with python3-opencv + numpy. argv: list file (one image
path per line), image size, raw float32 file written by the C++ side ([N, 3, S, S] images in
[0, 1], then the same normalised with ImageNet stats, then with minmax). Prints the largest
absolute differences as `max_abs_diff raw imagenet minmax`."""
import sys

import cv2
import numpy as np

paths = [p for p in open(sys.argv[1], encoding="utf-8").read().split("\n") if p]
size = int(sys.argv[2])
cxx = np.fromfile(sys.argv[3], dtype=np.float32).reshape(3, len(paths), 3, size, size)

ref = []
for p in paths:
    bgr = cv2.imread(p, cv2.IMREAD_COLOR)
    assert bgr is not None, p
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    interp = cv2.INTER_AREA if (w >= size and h >= size) else cv2.INTER_LINEAR
    if (w, h) != (size, size):
        rgb = cv2.resize(rgb, (size, size), interpolation=interp)
    ref.append(rgb.astype(np.float32).transpose(2, 0, 1) / np.float32(255.0))
ref = np.stack(ref).astype(np.float64)
mean = np.array([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
std = np.array([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)
imagenet = (ref - mean) / std
lo = ref.reshape(len(paths), -1).min(1).reshape(-1, 1, 1, 1)
hi = ref.reshape(len(paths), -1).max(1).reshape(-1, 1, 1, 1)
minmax = np.where(hi > lo, (ref - lo) / np.maximum(hi - lo, 1e-12), 0.0)
d = [np.abs(cxx[k].astype(np.float64) - r).max() for k, r in enumerate((ref, imagenet, minmax))]
print("max_abs_diff %.3g %.3g %.3g" % tuple(d))
