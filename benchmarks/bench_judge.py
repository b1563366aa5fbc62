"""The judge's cost: `encode` and the metrics of issue 11 at 2,000 and 10,000 people.

    python benchmarks/bench_judge.py [--quick]

A generated diploid cohort (low-rank gene blocks, 20,000 SNPs in blocks of 40, a binary label) is
compressed; a per-label Gaussian reference store stands in for a generator. Timed one at a time:
`encode` of the whole cohort into its own codec, and `eval` restricted to each metric — the
copy-sensitive AA (with the size-matched AA it is computed beside), kinship replay, GWAS
concordance and augmentation (MLP, 3 fractions × 3 repeats). Distance metrics see at most 5,000
people per set and the decoded metrics 2,000 (eval's defaults).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import save, timed, write_cohort  # noqa: E402

from genomesynth.baselines import reference_generator  # noqa: E402
from genomesynth.compress import CompressConfig, compress  # noqa: E402
from genomesynth.encode import encode  # noqa: E402
from genomesynth.evaluate import EvalConfig, evaluate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="500 and 1,000 people, 5,000 SNPs")
    args = parser.parse_args()
    sizes, snps = ((500, 1000), 5000) if args.quick else ((2000, 10000), 20000)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for people in sizes:
            vcf = write_cohort(tmp / f"c{people}.vcf.gz", people, snps)
            labels = tmp / f"l{people}.tsv"
            rng = np.random.default_rng(people)
            labels.write_text("sample_id\tlabel\n" + "".join(f"S{i:06d}\t{int(rng.random() < 0.3)}\n" for i in range(people)))
            real = tmp / f"r{people}.zarr"
            compress(vcf, real, CompressConfig(block_size=40, labels=labels))
            syn = tmp / f"s{people}.zarr"
            reference_generator(real, syn, "gaussian", seed=1)
            row = {"people": people, "snps": snps}
            row["encode_s"] = round(timed(lambda: encode(vcf, real, tmp / "e.zarr", overwrite=True))[0], 2)
            for metric in ("aa", "kinship", "gwas", "augment"):
                config = EvalConfig(metrics=(metric,), classifiers=("mlp",))
                row[f"{metric}_s"] = round(timed(lambda: evaluate([syn], real, config))[0], 2)
            print(row, flush=True)
            rows.append(row)
    print(save("judge", rows))


if __name__ == "__main__":
    main()
