"""compress throughput against the VCF reader's raw parse rate on the same file (issue: < 2×).

    python benchmarks/bench_compress.py [--quick]

The raw rate is cyvcf2 iterating every record and copying its genotypes (gt_types), which is the
least any VCF-based compress must do, on one core. compress runs twice: with every core (the parse in
a reader process beside the PCA, genomesynth/io/prefetch.py) and with `--threads 1` (one core, no
reader process). Then, where pysam is installed (only to build the index: `pip install pysam`), the
file is tabix-indexed and compressed again with every core: one reader process per core, window by
window (genomesynth/io/prefetch.py). Sizes: the demo cohort, generated cohorts at three people
counts and three variant counts (scaling), and with `--chr15 PATH` the 1000 Genomes chr15 file.

    python benchmarks/bench_compress.py --cores 1,2,4,8,16 [--people 4000 --variants 40000]

measures how compress scales with cores instead (results/compress-cores.json): one generated cohort,
its single-threaded raw parse, then compress of the plain and of the tabix-indexed file under
`--threads N` for each N (the indexed file is parsed by N reader processes, the plain one by one).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import machine, save, timed, write_cohort  # noqa: E402

from genomesynth.compress import CompressConfig, compress  # noqa: E402
from genomesynth.threads import thread_policy, usable_cores  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def raw_read(path: Path) -> int:
    import cyvcf2

    n = 0
    for record in cyvcf2.VCF(str(path), gts012=True, lazy=True):
        np.array(record.gt_types, dtype=np.int8)
        n += 1
    return n


def indexed_copy(vcf: Path, tmp: Path) -> Path | None:
    """A bgzipped, tabix-indexed copy of vcf (re-compressed when it is plain gzip), or None without pysam."""
    try:
        import pysam
    except ImportError:
        return None
    import gzip
    import shutil

    plain, out = tmp / "indexed.vcf", tmp / "indexed.vcf.gz"
    with gzip.open(vcf, "rb") as source, open(plain, "wb") as target:
        shutil.copyfileobj(source, target)
    pysam.tabix_compress(str(plain), str(out), force=True)
    pysam.tabix_index(str(out), preset="vcf", force=True)
    plain.unlink()
    return out


def measure(name: str, vcf: Path, people: int, config: CompressConfig, tmp: Path) -> dict:
    raw_s, variants = timed(lambda: raw_read(vcf), repeats=2)
    out = tmp / f"{name}.zarr"
    comp_s, summary = timed(lambda: compress(vcf, out, config, overwrite=True), repeats=2)

    def one_core() -> object:
        with thread_policy(1):
            return compress(vcf, out, config, overwrite=True)

    one_s, _ = timed(one_core, repeats=2)
    row = {"cohort": name, "people": people, "variants": variants, "genes": summary.genes, "cores": usable_cores(),
           "raw_read_s": round(raw_s, 3), "compress_s": round(comp_s, 3), "compress_1core_s": round(one_s, 3),
           "ratio_1core": round(one_s / raw_s, 2),
           "raw_genotypes_per_s": round(people * variants / raw_s), "compress_genotypes_per_s": round(people * variants / comp_s),
           "ratio": round(comp_s / raw_s, 2)}
    indexed = indexed_copy(vcf, tmp)
    if indexed is not None:
        indexed_s, _ = timed(lambda: compress(indexed, out, config, overwrite=True), repeats=2)
        row.update(compress_indexed_s=round(indexed_s, 3), ratio_indexed=round(indexed_s / raw_s, 2))
    print(row, flush=True)
    return row


def core_scaling(cores: list[int], people: int, variants: int, tmp: Path) -> list[dict]:
    """compress of one cohort, plain and indexed, under `--threads N` for each N, against one raw parse."""
    vcf = write_cohort(tmp / "cohort.vcf.gz", people, variants)
    indexed = indexed_copy(vcf, tmp)
    raw_s, _ = timed(lambda: raw_read(vcf))
    config, out, rows = CompressConfig(block_size=40), tmp / "cores.zarr", []
    compress(write_cohort(tmp / "warm.vcf.gz", 200, 2000), out, config, overwrite=True)  # imports, first allocations
    for n in cores:
        def run(path: Path, n: int = n) -> object:
            with thread_policy(n):
                return compress(path, out, config, overwrite=True)

        row: dict = {"cohort": f"{people} people × {variants} SNPs", "cores": n, "raw_read_s": round(raw_s, 3)}
        if n in (cores[0], 2, cores[-1]):  # one reader whatever the cores: the ends and 2 show it
            plain_s, _ = timed(lambda: run(vcf))
            row.update(compress_s=round(plain_s, 3), ratio=round(plain_s / raw_s, 2))
        if indexed is not None:
            indexed_s, _ = timed(lambda: run(indexed))
            row.update(compress_indexed_s=round(indexed_s, 3), ratio_indexed=round(indexed_s / raw_s, 2),
                       indexed_genotypes_per_s=round(people * variants / indexed_s))
        print(row, flush=True)
        rows.append(row)
    one = rows[0].get("compress_indexed_s") if rows and rows[0]["cores"] == 1 else None
    for row in rows:
        if one and "compress_indexed_s" in row:
            row["indexed_speedup"] = round(one / row["compress_indexed_s"], 2)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--chr15", type=Path, default=None, help="../shared/data/1kg-chr15-10k/genotypes.vcf.gz")
    parser.add_argument("--cores", default=None, help="e.g. 1,2,4,8,16: how compress scales with cores, alone")
    parser.add_argument("--people", type=int, default=4000)
    parser.add_argument("--variants", type=int, default=40000)
    args = parser.parse_args()
    info = machine()  # before the one-core runs lower the thread counts
    if args.cores:
        cores = [int(c) for c in args.cores.split(",") if int(c) <= usable_cores()]
        with tempfile.TemporaryDirectory() as d:
            rows = core_scaling(cores, args.people, args.variants, Path(d))
        print(save("compress-cores", rows, info))
        return
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        data = REPO / "data"
        rows.append(measure("demo (600 people)", data / "demo.vcf.gz", 600,
                            CompressConfig(genes=data / "demo_genes.bed", labels=data / "demo_labels.tsv"), tmp))
        people_sizes = (500, 1000, 2000) if args.quick else (1000, 2000, 4000)
        variant_sizes = (5000, 10000, 20000) if args.quick else (10000, 20000, 40000)
        for people in people_sizes:
            vcf = write_cohort(tmp / f"p{people}.vcf.gz", people, variant_sizes[1])
            rows.append(measure(f"{people} people × {variant_sizes[1]} SNPs", vcf, people, CompressConfig(block_size=40), tmp))
        for variants in (variant_sizes[0], variant_sizes[2]):
            vcf = write_cohort(tmp / f"v{variants}.vcf.gz", people_sizes[1], variants)
            rows.append(measure(f"{people_sizes[1]} people × {variants} SNPs", vcf, people_sizes[1],
                                CompressConfig(block_size=40), tmp))
        if args.chr15:
            rows.append(measure("1000 Genomes chr15 (2,504 people)", args.chr15, 2504, CompressConfig(block_size=50), tmp))
    print(save("compress", rows, info))


if __name__ == "__main__":
    main()
