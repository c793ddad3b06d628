# Independent blur score for the faces tests: variance of the Laplacian of the grey image at
# 128x128 (INTER_AREA when shrinking), computed with python3-opencv and numpy.
# Usage: blur_reference.py IMAGE... ; prints one score per line.
import sys

import cv2
import numpy as np

for path in sys.argv[1:]:
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    interp = cv2.INTER_AREA if (w >= 128 and h >= 128) else cv2.INTER_LINEAR
    small = cv2.resize(gray, (128, 128), interpolation=interp)
    lap = cv2.Laplacian(small, cv2.CV_64F)
    print(repr(float(np.var(lap))))
