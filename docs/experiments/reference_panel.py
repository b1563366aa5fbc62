"""The prior's axes from a public reference panel instead of the participants (docs/RESULTS.md, finding 18).

    python docs/experiments/reference_panel.py ../shared/data/1kg-chr15-10k runs/panel [--split-seed 0]
        [--train-seed 0] [--drop-panel EAS] [--steps 1000]

Splits the 1000 Genomes chr15 people at random into a "cohort" (all but 800) and a "panel" (the
other 800, optionally without one super-population), writes both as VCFs, compresses the cohort
(blocks of 50 SNPs, no labels), puts the panel into the cohort's codec (`encode --role real`),
trains `baseline` twice on the cohort — the default prior (its own axes) and `--prior-reference
panel` — draws as many people as the training split from each at the validated residual scale, at
0.5 and at 0 (the prior alone), and evaluates all six with `eval --metrics
dispersion,aa,privacy,genotype`. Prints one markdown row per store, with `sample`'s own membership
audit (the run's training people against its validation people, standardised) beside `eval`'s, and
the panel people `train` left out as duplicates of training people (1000 Genomes holds a few pairs
of near-identical genomes under two ids).
Every step is the command line a user runs; 2-core CPU: about 4 minutes.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np


def split_vcf(source: Path, labels: Path, out: Path, seed: int, panel_size: int, drop: str | None) -> None:
    from cyvcf2 import VCF, Writer

    population = {row["sample_id"]: row["super_population"] for row in csv.DictReader(labels.open(), delimiter="\t")}
    names = VCF(str(source)).samples
    order = np.random.default_rng(seed).permutation(len(names))
    sets = {"panel": [names[i] for i in sorted(order[:panel_size]) if population.get(names[i]) != drop],
            "cohort": [names[i] for i in sorted(order[panel_size:])]}
    for name, keep in sets.items():
        reader = VCF(str(source), samples=keep)
        writer = Writer(str(out / f"{name}.vcf.gz"), reader, mode="wz")
        for record in reader:
            writer.write_record(record)
        writer.close()
        print(f"{name}: {len(keep)} people")


def run(*args: str, threads: int | None = None) -> str:
    env = {**os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {})}
    return subprocess.run(["genomesynth", *args], check=True, capture_output=True, text=True, env=env).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path, help="../shared/data/1kg-chr15-10k (genotypes.vcf.gz, labels.tsv)")
    parser.add_argument("out", type=Path)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--train-seed", type=int, default=0)
    parser.add_argument("--panel-size", type=int, default=800)
    parser.add_argument("--drop-panel", default=None, help="leave this super-population out of the panel")
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    out = args.out
    if (out / "own").exists() or (out / "panel").exists():
        raise SystemExit(f"{out}: holds an earlier run; give another folder")
    (out / "synthetic").mkdir(parents=True, exist_ok=True)
    split_vcf(args.data / "genotypes.vcf.gz", args.data / "labels.tsv", out, args.split_seed, args.panel_size,
              args.drop_panel)
    cohort, panel = out / "cohort.zarr", out / "panel.zarr"
    run("compress", str(out / "cohort.vcf.gz"), "--block-size", "50", "-o", str(cohort), "--seed", "0", "--overwrite", "-q")
    run("encode", str(out / "panel.vcf.gz"), "--codec", str(cohort), "--role", "real", "-o", str(panel), "--overwrite", "-q")
    train = ["--max-steps", str(args.steps), "--epochs", "1000000", "--seed", str(args.train_seed), "-q"]
    runs = {"own axes": (out / "own", []), "panel axes": (out / "panel", ["--prior-reference", str(panel)])}
    jobs = [subprocess.Popen(["genomesynth", "train", str(cohort), "-o", str(path), *extra, *train],
                             env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL)
            for path, extra in runs.values()]  # side by side, one thread each
    if any(job.wait() for job in jobs):
        raise SystemExit("a training run failed")
    from genomesynth.store import open_store

    with open_store(cohort) as store:
        n = int((store.split() == "train").sum())
    stores, audits = [], {}
    for name, (path, _) in runs.items():
        for scale in ("validated", "0.5", "0"):
            label = f"{name}, s = {scale}"
            target = out / "synthetic" / f"{path.name}-{scale}.zarr"
            text = run("sample", str(path), "-o", str(target), "-n", str(n), "--sampler", "ddim", "--steps", "50",
                       "--residual-scale", scale, "--seed", str(args.train_seed), "--overwrite")
            chosen = re.search(r"residual scale\s*│\s*([0-9.]+)", text)
            audit = re.search(r"([0-9.]+) standardised", text)
            audits[label] = (chosen.group(1) if chosen else scale, audit.group(1) if audit else "–")
            stores.append((label, target))
    names = [arg for label, _ in stores for arg in ("--name", label)]
    run("eval", *[str(t) for _, t in stores], *names, "--real", str(cohort), "--metrics", "dispersion,aa,privacy,genotype",
        "--json", str(out / "metrics.json"), "--overwrite", "-q")
    axes_from = json.loads((out / "panel" / "config.json").read_text())["prior"]["axes_from"]
    print(f"panel axes from {axes_from['people']} people; left out as duplicates of training people: "
          f"{', '.join(axes_from['left_out']) or 'none'}")
    metrics = json.loads((out / "metrics.json").read_text())
    real = metrics["real"]["dispersion"]
    print(f"\nreal held-out: per position {real['per_position']:.2f}, PC1/2/3 {real['pc1']:.2f}/{real['pc2']:.2f}/"
          f"{real['pc3']:.2f}, PC1–10 {real['pc_mean']:.2f}, AA {metrics['real']['aa']['aa']:.3f}\n")
    print("| prior | s | membership, eval: stored / standardised | audit, standardised | per position | PC1 / PC2 / PC3 "
          "| PC1–10 | AA train / held-out | privacy loss | PCA overlap |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, _ in stores:
        s = metrics["synthetic"][label]
        d = s["dispersion"]
        scale, audit = audits[label]
        print(f"| {label.split(',')[0]} | {scale} | {s['mia_auc']:.3f} / {s['mia_auc_standardised']:.3f} | {audit} "
              f"| {d['per_position']:.2f} | {d['pc1']:.2f} / {d['pc2']:.2f} / {d['pc3']:.2f} | {d['pc_mean']:.2f} "
              f"| {s['aa']['train']['aa']:.3f} / {s['aa']['test']['aa']:.3f} | {s['privacy_loss']:.3f} "
              f"| {s['genotype']['pca_overlap']:.3f} |")


if __name__ == "__main__":
    main()
