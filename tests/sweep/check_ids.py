#!/usr/bin/python3
"""Recomputes every task id and seed of a `fersweep plan --format json --tasks` document with
Python's hashlib/json (an independent reference for fersweep's canonical JSON), and checks the
task DAG's references."""
import hashlib
import json
import sys


def tid(params):
    text = json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


doc = json.load(open(sys.argv[1]))
tasks = doc["tasks"]
crops = {t["id"] for t in tasks["crop"]}
extracts = {t["id"]: t for t in tasks["extract"]}
errors = []
for stage in ("crop", "extract", "train"):
    for t in tasks[stage]:
        if tid(t["params"]) != t["id"]:
            errors.append(f"{stage} {t['id']}: python computes {tid(t['params'])}")
for t in tasks["extract"]:
    if t["crop"] is not None and t["crop"] not in crops:
        errors.append(f"extract {t['id']} needs unknown crop {t['crop']}")
seen = set()
for t in tasks["train"]:
    if t["extract"] not in extracts or t["params"]["extract"] != t["extract"]:
        errors.append(f"train {t['id']} needs unknown extract {t['extract']}")
    if t["seed"] != int(t["id"], 16):
        errors.append(f"train {t['id']}: seed {t['seed']} is not the id's number")
    if t["epochs"] != sorted(set(t["epochs"])):
        errors.append(f"train {t['id']}: epochs {t['epochs']} not sorted and unique")
    if "epochs" in t["params"]:
        errors.append(f"train {t['id']}: epochs in params")
    if t["id"] in seen:
        errors.append(f"train {t['id']} twice")
    seen.add(t["id"])
if len(tasks["train"]) != doc["counts"]["train"]:
    errors.append("train count mismatch")
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
