"""Readers for cohorts (VCF/BCF, PLINK bed, VCF Zarr), gene annotations and label tables.

Every cohort reader yields `VariantBlock`s: a run of variants on one contig, genotypes as alt-allele
counts (int8, -1 = missing), so the rest of the pipeline never sees a file format.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from genomesynth.errors import GenomesynthError

BLOCK_VARIANTS = 2048


@dataclass
class VariantBlock:
    contig: str
    position: np.ndarray  # int64 (variants,), 1-based
    variant_id: np.ndarray  # str (variants,)
    ref: np.ndarray  # str (variants,)
    alt: np.ndarray  # str (variants,), the first ALT allele ("" when none)
    n_alt: np.ndarray  # int (variants,), number of ALT alleles
    dosage: np.ndarray  # int8 (variants, people): ALT allele count, -1 = missing

    def __len__(self) -> int:
        return len(self.position)

    @property
    def is_snp(self) -> np.ndarray:
        ref_len = np.char.str_len(self.ref.astype(str))
        alt_len = np.char.str_len(self.alt.astype(str))
        return (ref_len == 1) & (alt_len == 1)


class Cohort(Protocol):
    path: Path
    samples: list[str]
    ploidy: int

    def blocks(self) -> Iterator[VariantBlock]: ...


def open_cohort(path: str | Path) -> Cohort:
    """Open a VCF/VCF.gz/BCF file, a PLINK bed prefix (or .bed path) or a VCF Zarr store."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith(".vcz") or name.endswith(".zarr") or (path.is_dir() and (path / "call_genotype").exists()):
        from genomesynth.io.vcfzarr import VcfZarrCohort

        return VcfZarrCohort(path)
    bed = path if name.endswith(".bed") else path.with_name(path.name + ".bed")
    if bed.exists() and (name.endswith(".bed") or not path.exists()):
        from genomesynth.io.plink import PlinkCohort

        return PlinkCohort(bed)
    if not path.exists():
        raise GenomesynthError(
            f"{path}: no such file; give a VCF/BCF file, a PLINK prefix (with .bed/.bim/.fam) "
            "or a VCF Zarr store"
        )
    if path.is_dir():
        raise GenomesynthError(
            f"{path}: is a folder; give a VCF/BCF file, a PLINK prefix or a VCF Zarr store (a folder with call_genotype)"
        )
    from genomesynth.io.vcf import VcfCohort

    return VcfCohort(path)
