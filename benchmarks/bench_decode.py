"""`decode` time with the codec's thresholds and with drawn people's calls fitted on their own dosages.

    python benchmarks/bench_decode.py [--shared ../shared/data] [--people 2254,10000]

Compresses 1000 Genomes chr15 (2,504 people × 10,000 SNPs, `--block-size 50`), draws Gaussian
reference stores of each size (`genomesynth baseline --method gaussian`, latents drawn in continuous
space like a model's), and decodes each to a bgzipped VCF twice: `--calls fixed` and `--calls auto`
(calibrated: individual allele frequencies fitted on up to 2,000 of the people, genomesynth/calibration.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, save, timed  # noqa: E402

from genomesynth.baselines import reference_generator  # noqa: E402
from genomesynth.compress import CompressConfig, compress  # noqa: E402
from genomesynth.decode import decode  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", type=Path, default=Path(__file__).parents[2] / "shared" / "data")
    parser.add_argument("--people", default="2254,10000")
    args = parser.parse_args()
    vcf = args.shared / "1kg-chr15-10k" / "genotypes.vcf.gz"
    if not vcf.exists():
        raise SystemExit(f"{vcf}: not found; pass --shared with the folder holding 1kg-chr15-10k")
    info, rows = machine(), []
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        real = work / "real.zarr"
        compress(vcf, real, CompressConfig(block_size=50))
        for n in (int(x) for x in args.people.split(",")):
            store = work / f"gauss-{n}.zarr"
            reference_generator(real, store, "gaussian", n=n, seed=0)
            row: dict = {"people": n, "snps": 10_000}
            for calls in ("fixed", "auto"):
                seconds, summary = timed(lambda calls=calls: decode(store, work / f"{n}-{calls}.vcf.gz", calls=calls,
                                                                    overwrite=True), repeats=2)
                row[f"{calls}_s"] = round(seconds, 2)
                row[f"{calls}_calls"] = summary.calls
            row["ratio"] = round(row["auto_s"] / row["fixed_s"], 2)
            print(row, flush=True)
            rows.append(row)
    print(save("decode", rows, info))


if __name__ == "__main__":
    main()
