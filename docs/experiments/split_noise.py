"""How far issue 9's targets move from one split and seed to the next: the default backbone on 1000 Genomes chr15.

    python docs/experiments/split_noise.py OUT_DIR [--shared ../shared/data] [--seeds 0,1,2,3,4] [--steps 1000]

For each seed s and each chr15 set (no labels; super-population labels), as a user would and as
study.sh does: `compress --seed s` (a new held-out split), `train --backbone baseline --seed s`,
`sample -n <training people> --seed s` (DDIM-50, the validated residual scale), `eval --seed s`
(dispersion, AA, privacy, genotypes, TSTR with the MLP, 3 repeats). Prints, per set, every target
of issue 9 as mean ± sd over the seeds with how many seeds met it, and writes OUT_DIR/summary.json.
RESULTS.md finding 19 quotes its output. About 2 minutes a run on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import numpy as np

from genomesynth.report import lookup

SETS = {"chr15": [], "chr15-labelled": ["--labels", "{shared}/1kg-chr15-10k/labels.tsv", "--label-column", "super_population"]}


def run(*args: str) -> None:
    subprocess.run(["genomesynth", *args], check=True, stdout=subprocess.DEVNULL)


def one(out: Path, name: str, seed: int, shared: Path, steps: int) -> dict:
    d = out / name / f"seed{seed}"
    d.mkdir(parents=True, exist_ok=True)
    metrics = d / "metrics.json"
    if metrics.exists():
        return json.loads(metrics.read_text())
    labels = [a.format(shared=shared) for a in SETS[name]]
    if not (d / "baseline.zarr").exists():  # delete metrics.json alone to evaluate the same draw again
        run("compress", str(shared / "1kg-chr15-10k" / "genotypes.vcf.gz"), "-o", str(d / "real.zarr"), "--block-size",
            "50", *labels, "--seed", str(seed), "--overwrite", "-q")
        info = json.loads(subprocess.run(["genomesynth", "info", "--json", str(d / "real.zarr")], check=True,
                                         capture_output=True, text=True).stdout)
        run("train", str(d / "real.zarr"), "-o", str(d / "run"), "--backbone", "baseline", "--max-steps", str(steps),
            "--epochs", "1000000", "--val-every", "5", "--seed", str(seed), "-q")
        run("sample", str(d / "run"), "-o", str(d / "baseline.zarr"), "-n", str(info["split"]["train"]), "--sampler",
            "ddim", "--steps", "50", "--seed", str(seed), "--overwrite", "-q")
    run("eval", str(d / "baseline.zarr"), "--real", str(d / "real.zarr"), "--metrics", "dispersion,aa,privacy,genotype,tstr",
        "--classifiers", "mlp", "--repeats", "3", "--seed", str(seed), "--json", str(metrics), "--overwrite", "-q")
    return json.loads(metrics.read_text())


def targets(result: dict) -> dict[str, tuple[float, bool]]:
    """Issue 9's targets as make_results.py judges them: (value, met)."""
    real, s = result["real"], result["synthetic"]["baseline"]
    out: dict[str, tuple[float, bool]] = {}
    for k in ("pc1", "pc2", "pc3", "pc_mean"):
        ratio = lookup(s, "dispersion", k) / lookup(real, "dispersion", k)
        out[f"{k} / held-out"] = (ratio, 0.8 <= ratio <= 1.25)
    per_position = lookup(s, "dispersion", "per_position")
    out["per position"] = (per_position, 0.9 <= per_position <= 1.1)
    overlap = lookup(s, "genotype", "pca_overlap") / lookup(real, "genotype", "pca_overlap")
    out["PCA overlap / real"] = (overlap, overlap >= 0.8)
    for w in ("train", "test"):
        gap = lookup(s, "aa", w, "aa") - lookup(real, "aa", "aa")
        out[f"AA {w} − real"] = (gap, abs(gap) <= 0.06)
    for k in ("mia_auc", "mia_auc_standardised"):
        out[k] = (lookup(s, k), lookup(s, k) <= 0.55)
    out["closer than p5"] = (lookup(s, "dcr", "share_closer_than_p5"), lookup(s, "dcr", "share_closer_than_p5") <= 0.07)
    out["privacy loss"] = (lookup(s, "privacy_loss"), lookup(s, "privacy_loss") <= 0.05)
    if lookup(real, "tstr", "mlp") is not None:
        ratio = lookup(s, "tstr", "mlp", "accuracy", "mean") / lookup(real, "tstr", "mlp", "accuracy", "mean")
        out["TSTR/TRTR"] = (ratio, ratio >= 0.95)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "data")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    summary = {}
    for name in SETS:
        rows = [targets(one(args.out, name, seed, args.shared, args.steps)) for seed in seeds]
        summary[name] = {k: {"values": [r[k][0] for r in rows], "met": sum(r[k][1] for r in rows)} for k in rows[0]}
        print(f"\n{name} (`baseline`, seeds {args.seeds})\n\n| target | mean ± sd | min – max | seeds met |\n|---|---|---|---|")
        for k, v in summary[name].items():
            x = np.array(v["values"])
            print(f"| {k} | {x.mean():.3f} ± {x.std(ddof=1):.3f} | {x.min():.3f} – {x.max():.3f} | {v['met']} of {len(x)} |")
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
