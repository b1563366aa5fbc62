"""Jobs side by side: wall time per job when 1, 2 or 4 genomesynth commands run at once, per thread policy.

    python benchmarks/bench_threads.py [--jobs 1,2,4] [--steps 300] [--workloads train,eval]

Each job is a separate `genomesynth` process started at the same moment as the others, as a shell
script's `cmd & cmd & wait` would start them. Workloads: `train` (unet-mlp on the demo cohort,
`--steps` optimiser steps) and `eval` (one Gaussian reference store against the demo cohort: AA,
NN test, TSTR with the MLP, privacy). Policies:

- `auto`: the default (genomesynth/threads.py): the cores are shared among the running jobs;
- `all cores each`: `--threads <cores>` on every job, what every job did before the policy existed
  (run up to `--all-cores-jobs` jobs at once, 2 by default: at 2 jobs on 2 cores it is already ~10×
  slower per job, and 4 such jobs take many minutes);
- `OMP_NUM_THREADS=1`: one thread per job, the usual manual fix.

The ratio column is a job's mean wall time over the same workload's solo time under `auto`,
measured in the same run. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import RESULTS, save  # noqa: E402

from genomesynth.demo import PACKAGE_DATA  # noqa: E402
from genomesynth.threads import usable_cores  # noqa: E402

GENOMESYNTH = [sys.executable, "-m", "genomesynth"]


def command(workload: str, work: Path, run: str, steps: int) -> list[str]:
    if workload == "train":
        return [*GENOMESYNTH, "train", str(work / "real.zarr"), "-o", str(work / run), "--backbone", "unet-mlp",
                "--max-steps", str(steps), "--quiet"]
    return [*GENOMESYNTH, "eval", str(work / "gaussian.zarr"), "--real", str(work / "real.zarr"),
            "--metrics", "aa,nn,tstr,privacy", "--classifiers", "mlp", "--quiet"]


def run_together(commands: list[list[str]], env: dict[str, str]) -> list[float]:
    """Start every command at once; each one's wall time from the common start to its own exit."""
    start = time.perf_counter()
    processes = [subprocess.Popen(c, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for c in commands]
    seconds = [0.0] * len(processes)
    pending = set(range(len(processes)))
    while pending:
        for i in list(pending):
            if processes[i].poll() is not None:
                seconds[i] = time.perf_counter() - start
                pending.discard(i)
        time.sleep(0.05)
    for p, c in zip(processes, commands):
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(c)} failed: {p.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", default="1,2,4")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--workloads", default="train,eval")
    parser.add_argument("--all-cores-jobs", type=int, default=2)
    args = parser.parse_args()
    cores = usable_cores()
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    policies = {"auto": ({}, []), f"all cores each (--threads {cores})": ({}, ["--threads", str(cores)]),
                "OMP_NUM_THREADS=1": ({"OMP_NUM_THREADS": "1"}, [])}
    rows = []
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        data = PACKAGE_DATA
        subprocess.run([*GENOMESYNTH, "compress", str(data / "demo.vcf.gz"), "-o", str(work / "real.zarr"), "--genes",
                        str(data / "demo_genes.bed"), "--labels", str(data / "demo_labels.tsv"), "--quiet"],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([*GENOMESYNTH, "baseline", str(work / "real.zarr"), "-o", str(work / "gaussian.zarr"), "--quiet"],
                       check=True, stdout=subprocess.DEVNULL)
        for workload in args.workloads.split(","):
            solo = None
            for p, (policy, (env, extra)) in enumerate(policies.items()):
                for jobs in (int(j) for j in args.jobs.split(",")):
                    if policy.startswith("all cores") and jobs > args.all_cores_jobs:
                        continue
                    commands = [command(workload, work, f"run-{p}-{jobs}-{j}", args.steps) + extra for j in range(jobs)]
                    seconds = run_together(commands, {**base, **env})
                    mean = sum(seconds) / len(seconds)
                    if policy == "auto" and jobs == 1:
                        solo = mean
                    row = {"workload": workload, "policy": policy, "jobs": jobs, "cores": cores,
                           "seconds_per_job": round(mean, 1), "slowest_s": round(max(seconds), 1),
                           "vs_solo": round(mean / solo, 2) if solo else None}
                    print(row, flush=True)
                    rows.append(row)
                    save("threads", rows)  # after every row: a long run stopped early keeps what it measured
    print(RESULTS / "threads.json")


if __name__ == "__main__":
    main()
