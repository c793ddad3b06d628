#!/usr/bin/python3
"""Reference for the augmentation tests, with Debian's python3-torchvision.

  ref_augment.py DIR
      reads DIR/input.f32 ([B,3,H,W] float32; B, H, W in DIR/draws.json) and DIR/draws.json
      ({"shape": [B,3,H,W], "draws": [{"top", "left", "height", "width", "flip", "angle"}, ...]}),
      applies torchvision's resized_crop (bilinear, back to H x W), hflip and rotate (bilinear,
      0 outside) per image with those draws, and writes DIR/out.f32.
"""
import json
import os
import sys

import numpy as np
import torch
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode

torch.set_num_threads(1)


def main(out):
    spec = json.load(open(os.path.join(out, "draws.json")))
    b, c, h, w = spec["shape"]
    images = torch.from_numpy(np.fromfile(os.path.join(out, "input.f32"), dtype=np.float32)).reshape(b, c, h, w)
    result = []
    for image, d in zip(images, spec["draws"]):
        x = F.resized_crop(image, d["top"], d["left"], d["height"], d["width"], [h, w], InterpolationMode.BILINEAR)
        if d["flip"]:
            x = F.hflip(x)
        if d["angle"] != 0:
            x = F.rotate(x, d["angle"], InterpolationMode.BILINEAR)
        result.append(x)
    torch.stack(result).numpy().astype(np.float32).tofile(os.path.join(out, "out.f32"))


if __name__ == "__main__":
    main(sys.argv[1])
