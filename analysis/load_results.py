#!/usr/bin/python3
"""Load a fersweep results.h5 into pandas and recompute the main table (test accuracy per fold,
mean and sample std over folds), as `fersweep report` prints it.

    /usr/bin/python3 analysis/load_results.py runs/demo/results.h5 [--metric macro_f1] [--csv out.csv]

Needs python3-h5py and python3-pandas (Debian). See docs/results-schema.md for the layout.
"""
import argparse
import json

import h5py
import pandas as pd

# Parameters that identify a fold (or derive from others), not a configuration.
FOLD_KEYS = {"fold", "repeat", "cv_seed", "extract", "seed", "train_seed", "epochs", "folds"}
NON_PARAMETERS = {"task_id", "epoch", "accuracy", "macro_f1", "test_loss", "n_train", "n_test",
                  "curve", "host", "rank", "seconds", "finished"}


def load(path):
    """One row per (training task, evaluated epoch): every 1-D column of /results."""
    with h5py.File(path, "r") as f:
        g = f["results"]
        df = pd.DataFrame({k: g[k].asstr()[()] if g[k].dtype.kind == "O" else g[k][()]
                           for k in g if g[k].ndim == 1})
        classes = json.loads(f.attrs["classes"]) if "classes" in f.attrs else []
        confusion = g["confusion"][()] if "confusion" in g else None
    return df, classes, confusion


def fold_samples(path, row):
    """The training and test samples (identities) of one /results row, from /samples and /folds:
    `row` is a row of load()'s DataFrame. None when the file has no fold records."""
    with h5py.File(path, "r") as f:
        if "folds" not in f or int(f["folds"].attrs["count"]) == 0:
            return None
        g = f["folds"]
        cv = g["cv"].asstr()[()] if "cv" in g else [""] * int(g.attrs["count"])
        for i, extract in enumerate(g["extract"].asstr()[()]):
            if (extract, int(g["folds"][i]), int(g["cv_seed"][i]), cv[i]) == (
                    row["extract"], int(row["folds"]), int(row["cv_seed"]), row.get("cv", "")):
                a = g["assignment"][i]
                ids = f["samples"]["id"].asstr()[()]
                fold = int(row["fold"])
                return list(ids[(a >= 0) & (a != fold)]), list(ids[a == fold])
    return None


def main_table(df, metric="accuracy"):
    params = [c for c in df.columns if c not in NON_PARAMETERS and c not in FOLD_KEYS]
    varying = [c for c in sorted(params) if df[c].nunique(dropna=False) > 1]
    keys = varying + ["epoch"]
    # Average rows sharing a fold first (repeats), so that every fold weighs the same.
    per_fold = df.groupby(keys + ["fold"], dropna=False)[metric].mean().mul(100).reset_index()
    table = per_fold.pivot_table(index=keys, columns="fold", values=metric, dropna=False)
    table.columns = [f"fold {int(c) + 1}" for c in table.columns]
    stats = per_fold.groupby(keys, dropna=False)[metric].agg(["count", "mean", "std"])
    table["n"] = stats["count"]
    table["mean"] = stats["mean"]
    table["std"] = stats["std"]
    return table.reset_index()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results")
    p.add_argument("--metric", default="accuracy", choices=["accuracy", "macro_f1"])
    p.add_argument("--csv", help="write the table as CSV here")
    a = p.parse_args()
    df, classes, _ = load(a.results)
    if df.empty:
        print("No finished training results.")
        return
    table = main_table(df, a.metric)
    if a.csv:
        table.to_csv(a.csv, index=False)
    with pd.option_context("display.width", 200, "display.max_columns", 50):
        metric_cols = [c for c in table.columns if c.startswith("fold ") or c in ("mean", "std")]
        print(table.round({c: 1 for c in metric_cols}).to_string(index=False))


if __name__ == "__main__":
    main()
