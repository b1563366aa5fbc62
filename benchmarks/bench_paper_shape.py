"""The paper's shape, executed: 18,279 genes padded to 18,432 × 8, every backbone at `--preset paper`.

    python benchmarks/bench_paper_shape.py [--people 2000] [--steps 30] [--device auto] [--backbones …] [--no-eval]

The store is written directly (not compressed from a VCF): latents of `--people` people in three
populations — a mean per population along a few shared axes, low-rank within-population spread and
per-position noise — with 1–8 components per gene (mean 7.4) and the paper's padding; it has no
codec, so `eval` runs every metric but the genotype ones. Then, per backbone: `train` for `--steps`
optimiser steps at batch 64 (s/step from the first full epoch's log, so it includes warm-up; peak
memory; parameters), `sample` 64 people with DDIM-50, and one default `eval` of the first backbone's samples
(every metric without a codec, three classifiers × 3 repeats; the reference column and the store timed apart).
Results go to benchmarks/results/paper-shape-<device>.json; docs/PERFORMANCE.md quotes them.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, save  # noqa: E402

GENES, PADDED = 18_279, 18_432


def write_store(path: Path, people: int, seed: int = 0) -> None:
    """A real-role store of the paper's shape, written a slab of people at a time."""
    from genomesynth import __version__
    from genomesynth.store import SCHEMA_VERSION, StoreWriter

    rng = np.random.default_rng(seed)
    components = np.clip(rng.poisson(7.4, GENES), 1, 8)
    mask = np.zeros((PADDED, 8), bool)
    mask[np.arange(GENES)[:, None], np.arange(8)[None]] = np.arange(8)[None] < components[:, None]
    real = int(mask.sum())
    population = rng.integers(0, 3, people)
    axes = rng.standard_normal((6, real)).astype(np.float32) / np.sqrt(real) * 40
    centres = rng.standard_normal((3, 6)).astype(np.float32) * 1.5
    test = np.zeros(people, bool)
    test[rng.choice(people, people // 10, replace=False)] = True
    with StoreWriter(path, overwrite=True) as writer:
        latents = writer.create_latents(people, PADDED)
        for start in range(0, people, 256):
            rows = np.arange(start, min(start + 256, people))
            z = centres[population[rows]] + rng.standard_normal((len(rows), 6)).astype(np.float32) * 0.6
            x = np.zeros((len(rows), PADDED, 8), np.float32)
            x[:, mask] = z @ axes + rng.standard_normal((len(rows), real)).astype(np.float32)
            latents[start : start + len(rows)] = x
        writer.write("mask", mask)
        writer.write("stats/mean", np.zeros((PADDED, 8), np.float32))
        writer.write("stats/std", np.ones((PADDED, 8), np.float32))
        writer.write("sample_id", np.array([f"P{i:06d}" for i in range(people)], dtype=object))
        writer.write("label", population.astype(np.int32))
        writer.write("split", np.where(test, "test", "train").astype(object))
        writer.set_attrs({"schema_version": SCHEMA_VERSION, "role": "real", "ploidy": 2, "n_genes": GENES,
                          "pad_multiple": 2048, "contigs": [], "label_names": ["A", "B", "C"],
                          "codec_id": f"bench-paper-shape-{seed}", "genomesynth_version": __version__})


def main() -> None:
    from genomesynth.backbones import NAMES
    from genomesynth.evaluate import EvalConfig, evaluate
    from genomesynth.sample import SampleConfig, sample
    from genomesynth.train import TrainConfig, resolve_device, train

    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--backbones", default=",".join(NAMES))
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--no-eval", action="store_true", help="skip the eval (hours on a 2-core CPU at this shape)")
    args = parser.parse_args()
    device = str(resolve_device(args.device))
    work = args.workdir or Path(tempfile.mkdtemp(prefix="paper-shape-"))
    work.mkdir(parents=True, exist_ok=True)
    store = work / "real.h5"  # HDF5: h5py is on every GPU image we met, zarr not always
    started = time.perf_counter()
    write_store(store, args.people)
    rows: list[dict[str, object]] = [{"step": "write store", "people": args.people, "genes_padded": PADDED,
                                      "seconds": round(time.perf_counter() - started, 1)}]
    print(json.dumps(rows[-1]), flush=True)
    synthetic = []
    for backbone in args.backbones.split(","):
        run = work / f"run-{backbone}"
        config = TrainConfig(backbone=backbone, preset="paper", max_steps=args.steps, epochs=10**6, batch_size=64,
                             val_fraction=0.0, device=device, seed=0)
        row: dict[str, object] = {"backbone": backbone}
        try:
            summary = train(store, run, config)
            first = json.loads((run / "metrics.jsonl").read_text().splitlines()[0])
            row.update(parameters=summary.parameters, steps=summary.steps,
                       s_per_step=round(first["seconds"] / first["step"], 4),
                       train_seconds=round(summary.seconds, 1), peak_memory_mb=round(summary.peak_memory_mb),
                       prior=json.loads((run / "config.json").read_text())["prior"])
            t0 = time.perf_counter()
            out = work / f"syn-{backbone}.h5"
            sample(run, out, SampleConfig(n=64, sampler="ddim", steps=50, batch_size=64, device=device, seed=0,
                                          residual_scale="1"))  # the sampler alone (PERFORMANCE: validated)
            row["sample_64_ddim50_seconds"] = round(time.perf_counter() - t0, 1)
            synthetic.append(out)
        except Exception as exc:  # a benchmark reports what broke and goes on
            row["error"] = f"{type(exc).__name__}: {exc}"[:300]
        rows.append(row)
        print(json.dumps(row), flush=True)
    if synthetic and not args.no_eval:  # a default eval (every metric without a codec, the three classifiers, 3 repeats) of one store
        metrics = ("dispersion", "aa", "nn", "tstr", "augment", "privacy")
        result = evaluate(synthetic[:1], store, EvalConfig(metrics=metrics, device="cuda" if device.startswith("cuda") else "cpu"))
        one = next(iter(result["synthetic"].values()))
        rows.append({"step": f"eval of 64 synthetic vs {args.people} real people: reference column "
                             "(every metric but the genotype ones; 3 classifiers × 3 repeats)",
                     "seconds": result["real"]["seconds"]})
        rows.append({"step": "eval: each synthetic store", "seconds": one["seconds"], "mia_auc": one.get("mia_auc")})
        print(json.dumps(rows[-2:]), flush=True)
    kind = "gpu" if device.startswith("cuda") else "cpu"
    print(save(f"paper-shape-{kind}", rows), machine())


if __name__ == "__main__":
    main()
