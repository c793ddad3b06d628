#!/usr/bin/python3
"""Per-channel mean and population std (RGB, [0, 1], resized like fersweep) of the images listed
in argv[1], at size argv[2], with python3-opencv + numpy. Prints six numbers."""
import sys

import cv2
import numpy as np

size = int(sys.argv[2])
acc = []
for p in [p for p in open(sys.argv[1], encoding="utf-8").read().split("\n") if p]:
    rgb = cv2.cvtColor(cv2.imread(p, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    interp = cv2.INTER_AREA if (w >= size and h >= size) else cv2.INTER_LINEAR
    if (w, h) != (size, size):
        rgb = cv2.resize(rgb, (size, size), interpolation=interp)
    acc.append(rgb.reshape(-1, 3).astype(np.float64) / 255.0)
x = np.concatenate(acc)
print(" ".join("%.9f" % v for v in list(x.mean(0)) + list(x.std(0))))
