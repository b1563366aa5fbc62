"""PLINK 1 binary filesets (.bed/.bim/.fam) through bed-reader."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from genomesynth.errors import GenomesynthError
from genomesynth.io import BLOCK_VARIANTS, VariantBlock


class PlinkCohort:
    """A .bed fileset; A1 (the .bim's 5th column) is counted and written as ALT, A2 as REF."""

    ploidy = 2

    def __init__(self, bed: Path) -> None:
        from bed_reader import open_bed

        self.path = bed
        for suffix in (".bim", ".fam"):
            if not bed.with_suffix(suffix).exists():
                raise GenomesynthError(f"{bed}: {bed.with_suffix(suffix).name} is missing beside it")
        try:
            self._bed = open_bed(bed, count_A1=True)
            self.samples = [str(s) for s in self._bed.iid]
            self._contig = np.asarray(self._bed.chromosome).astype(str)
            self._position = np.asarray(self._bed.bp_position, dtype=np.int64)
            self._id = np.asarray(self._bed.sid).astype(str)
            self._a1 = np.asarray(self._bed.allele_1).astype(str)
            self._a2 = np.asarray(self._bed.allele_2).astype(str)
        except Exception as exc:
            raise GenomesynthError(f"{bed}: not a readable PLINK fileset ({exc})") from exc
        if not self.samples:
            raise GenomesynthError(f"{bed}: the .fam lists no samples")

    def blocks(self) -> Iterator[VariantBlock]:
        n_var = len(self._id)
        # runs of equal contig, each cut into blocks
        edges = np.flatnonzero(np.r_[True, self._contig[1:] != self._contig[:-1], True])
        for a, b in zip(edges[:-1], edges[1:]):
            for start in range(a, b, BLOCK_VARIANTS):
                stop = min(b, start + BLOCK_VARIANTS)
                values = self._bed.read(index=np.s_[:, start:stop], dtype="int8")
                dosage = np.where(values < 0, -1, values).T.astype(np.int8)
                yield VariantBlock(
                    contig=str(self._contig[start]),
                    position=self._position[start:stop],
                    variant_id=self._id[start:stop],
                    ref=self._a2[start:stop],
                    alt=self._a1[start:stop],
                    n_alt=np.ones(stop - start, dtype=np.int64),
                    dosage=np.ascontiguousarray(dosage),
                )
        if n_var == 0:
            raise GenomesynthError(f"{self.path}: the .bim lists no variants")
