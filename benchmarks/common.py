"""Shared helpers for the benchmarks: synthetic cohorts of a chosen size, timing, peak memory, results."""

from __future__ import annotations

import json
import os
import platform
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).parent / "results"


def machine() -> dict[str, Any]:
    import torch

    info = {"cpu_cores": os.cpu_count(), "processor": platform.processor() or platform.machine(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def timed(fn: Callable[[], Any], repeats: int = 1) -> tuple[float, Any]:
    """Best wall time of `repeats` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def save(name: str, rows: list[dict[str, Any]], info: dict[str, Any] | None = None) -> Path:
    """Write rows and the machine (`info` if the benchmark took it before changing thread counts)."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": info or machine(), "rows": rows}, indent=2))
    return path


def write_cohort(path: Path, people: int, variants: int, snps_per_gene: int = 40, seed: int = 0) -> Path:
    """A bgzipped diploid VCF of low-rank gene blocks (LD), one contig, written through htslib."""
    import cyvcf2

    rng = np.random.default_rng(seed)
    samples = [f"S{i:06d}" for i in range(people)]
    header = "\n".join([
        "##fileformat=VCFv4.2", "##contig=<ID=1>", '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *samples]),
    ]) + "\n"
    writer = cyvcf2.Writer.from_string(str(path), header, mode="wz")
    text = np.array(["0/0", "0/1", "1/1"])
    v = 0
    while v < variants:
        s = min(snps_per_gene, variants - v)
        founders = rng.random((4, s)) < rng.uniform(0.1, 0.5, s)
        founders[0] = ~founders[1]
        genotypes = founders[rng.integers(0, 4, people)].astype(np.int8) + founders[rng.integers(0, 4, people)]
        for j in range(s):
            v += 1
            line = f"1\t{v * 100}\tv{v}\tA\tG\t.\tPASS\t.\tGT\t" + "\t".join(text[genotypes[:, j]])
            writer.write_record(writer.variant_from_string(line))
    writer.close()
    return path
