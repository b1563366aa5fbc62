"""Sharded vs unsharded sampling: the same seeded draw as one store and as N parts merged.

    python benchmarks/bench_shard.py [--people 2000] [--shards 4]

Trains the `baseline` backbone briefly on the demo cohort, then draws `--people` with DDIM-50 once
whole and once as `--shards` parts one after another (each part is what one machine of an array
job would run), merges them, and checks the merged store equals the whole one element for element.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import save, timed  # noqa: E402

from genomesynth.compress import CompressConfig, compress  # noqa: E402
from genomesynth.demo import PACKAGE_DATA  # noqa: E402
from genomesynth.merge import merge  # noqa: E402
from genomesynth.sample import SampleConfig, sample  # noqa: E402
from genomesynth.store import open_store  # noqa: E402
from genomesynth.train import TrainConfig, train  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--shards", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        data = PACKAGE_DATA
        compress(data / "demo.vcf.gz", tmp / "real.zarr", CompressConfig(genes=data / "demo_genes.bed", labels=data / "demo_labels.tsv"))
        train(tmp / "real.zarr", tmp / "run", TrainConfig(max_steps=200))
        # the sampler alone: residual scale 1 (the default `validated` adds one pass over the validation people)
        config = lambda shard=None: SampleConfig(  # noqa: E731
            n=args.people, sampler="ddim", steps=50, seed=0, shard=shard, residual_scale="1")
        whole_s, _ = timed(lambda: sample(tmp / "run", tmp / "whole.zarr", config()))
        part_s = []
        for k in range(1, args.shards + 1):
            seconds, _ = timed(lambda: sample(tmp / "run", tmp / f"part{k}.zarr", config((k, args.shards))))
            part_s.append(seconds)
        merge_s, _ = timed(lambda: merge([tmp / f"part{k}.zarr" for k in range(1, args.shards + 1)], tmp / "merged.zarr"))
        with open_store(tmp / "whole.zarr") as a, open_store(tmp / "merged.zarr") as b:
            identical = bool(np.array_equal(np.asarray(a.latents[...]), np.asarray(b.latents[...])))
    row = {"people": args.people, "shards": args.shards, "unsharded_s": round(whole_s, 2),
           "slowest_shard_s": round(max(part_s), 2), "shards_total_s": round(sum(part_s), 2),
           "merge_s": round(merge_s, 2), "identical": identical}
    print(row)
    print(save("shard", [row]))


if __name__ == "__main__":
    main()
