"""`eval` time per store on the real 1000 Genomes chr15 set: classifiers with and without early stopping, on every core and on one.

    python benchmarks/bench_eval.py [--shared ../shared/data] [--stores 2] [--device cpu]

Compresses 1000 Genomes chr15 (2,504 people × 10,000 SNPs, `--block-size 50`, super-population
labels: 2,255 training people, 200 genes) and draws `--stores` reference stores as large as the
training split (per-label Gaussian, gene mosaic). Then a full default `eval` (every metric, the
three classifiers, 3 repeats) three times:

- `--classifier-patience 0`: every classifier trains its 30 epochs on all of its people (how eval
  trained them before early stopping; run with one store, as it is the slow one);
- the default: a 10 % validation split per fit, stop after 3 epochs without a lower validation loss,
  keep the best epoch's weights; the fits run side by side in single-threaded worker processes, one
  per core (genomesynth/metrics/runner.py);
- the default with `--threads 1`: one core, the fits one after another (the same scores);
- the last store alone with `--reference` the default run's JSON: the real column's classifier scores
  reused, not trained again (its other metrics recomputed and checked against the file).

eval records its own seconds (`real.seconds`, `synthetic.NAME.seconds`). The table gives the
reference column's and each store's seconds, and the balanced accuracy of each classifier both ways,
so a reader sees the time saved and that the measurement did not move.

    python benchmarks/bench_eval.py --cores 16,4,2 [--stores 1]

runs only the default eval, once under `--threads N` for each N (results/eval-cores.json): how the
time per store falls with the cores a machine has.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, save  # noqa: E402

GENOMESYNTH = [sys.executable, "-m", "genomesynth"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", type=Path, default=Path(__file__).parents[2] / "shared" / "data")
    parser.add_argument("--stores", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cores", default=None, help="e.g. 16,4,2: the default eval under --threads N for each N")
    args = parser.parse_args()
    source = args.shared / "1kg-chr15-10k"
    if not (source / "genotypes.vcf.gz").exists():
        raise SystemExit(f"{source}: not found; pass --shared with the folder holding 1kg-chr15-10k")
    rows = []
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        real = work / "real.zarr"
        subprocess.run([*GENOMESYNTH, "compress", str(source / "genotypes.vcf.gz"), "-o", str(real), "--block-size", "50",
                        "--labels", str(source / "labels.tsv"), "--label-column", "super_population", "--quiet"],
                       check=True, stdout=subprocess.DEVNULL)
        stores = []
        for method in ("gaussian", "mosaic")[: args.stores]:
            stores.append(work / f"{method}.zarr")
            subprocess.run([*GENOMESYNTH, "baseline", str(real), "-o", str(stores[-1]), "--method", method, "--quiet"],
                           check=True, stdout=subprocess.DEVNULL)
        cores = machine()["cpu_cores"]
        default = work / "eval-3-None.json"
        runs = ([(3, int(n), stores, None) for n in args.cores.split(",")] if args.cores else
                [(0, None, stores[:1], None), (3, None, stores, None), (3, 1, stores[:1], None),
                 (3, None, stores[-1:], default)])  # the last store again, the real column from the default run
        for patience, threads, chosen, reference in runs:
            out = work / f"eval-{patience}-{threads}{'-reused' * bool(reference)}.json"
            subprocess.run([*GENOMESYNTH, "eval", *map(str, chosen), "--real", str(real), "--json", str(out),
                            "--classifier-patience", str(patience), "--device", args.device, "--quiet",
                            *(["--threads", str(threads)] if threads else []),
                            *(["--reference", str(reference)] if reference else [])],
                           check=True, stdout=subprocess.DEVNULL)
            result = json.loads(out.read_text())
            early = "off (30 epochs)" if patience == 0 else f"patience {patience}"
            if reference:
                early += ", real column's classifiers reused (--reference)"
            cpu = f"{threads} core{'s' * (threads > 1)}" if threads else f"all {cores} cores"
            sets = [("real (reference column)", result["real"])] + [(n, s) for n, s in result["synthetic"].items()]
            for name, values in sets:
                row = {"early_stopping": early, "cores": cpu, "set": name, "seconds": values["seconds"]}
                for kind, scores in values.get("tstr", {}).items():
                    row[f"{kind}_balanced_accuracy"] = round(scores["balanced_accuracy"]["mean"], 3)
                    row[f"{kind}_epochs"] = round(scores["epochs"]["mean"], 1)
                print(row, flush=True)
                rows.append(row)
    print(save("eval-cores" if args.cores else f"eval-{args.device}", rows))


if __name__ == "__main__":
    main()
