#!/usr/bin/python3
"""The Python peer of bench_model: torchvision ResNet inference, as a careful Python user runs it.

  torchvision_peer.py ARCH --batch 32 --size 224 --threads 2 --reps 3 [--modes eager,optimized]
prints one JSON line: {"arch": ..., "eager": [seconds per batch ...], "optimized": [...]}
  torchvision_peer.py ARCH --rss N --batch 32 --threads 2
extracts N synthetic images with the optimised model and prints {"peak_rss_mb": ...}.
"optimized" is torch.jit.optimize_for_inference(torch.jit.script(model.eval())): freezing,
BatchNorm folding and oneDNN prepacked convolutions.
"""
import argparse
import json
import resource
import time

import torch
import torchvision


def build(arch, mode, device="cpu"):
    model = getattr(torchvision.models, arch)().eval().to(device)
    model.fc = torch.nn.Identity()
    if mode == "optimized":
        model = torch.jit.optimize_for_inference(torch.jit.script(model))
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("arch")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--modes", default="eager,optimized")
    ap.add_argument("--rss", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x = torch.randn(a.batch, 3, a.size, a.size)
    if a.rss:
        model = build(a.arch, "optimized")
        with torch.no_grad():
            done = 0
            while done < a.rss:
                n = min(a.batch, a.rss - done)
                model(x[:n])
                done += n
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        print(json.dumps({"arch": a.arch, "images": a.rss, "peak_rss_mb": rss}))
        return
    out = {"arch": a.arch, "threads": torch.get_num_threads()}
    dev = torch.device(a.device)
    # Like fersweep: images come from host memory, features go back to it.
    run = lambda model: model(x.to(dev)).cpu()
    for mode in a.modes.split(","):
        model = build(a.arch, mode, dev)
        times = []
        with torch.no_grad():
            run(model)  # warm-up: a scripted model's first calls profile and optimise
            run(model)
            for _ in range(a.reps):
                t0 = time.perf_counter()
                run(model)
                times.append(time.perf_counter() - t0)
        out[mode] = times
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
