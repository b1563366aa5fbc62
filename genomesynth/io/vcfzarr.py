"""VCF Zarr stores (the VCF Zarr spec, as bio2zarr's `vcf2zarr` writes them): the biobank route."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from genomesynth.errors import GenomesynthError
from genomesynth.io import BLOCK_VARIANTS, VariantBlock


class VcfZarrCohort:
    """Reads `call_genotype` a variant chunk at a time; never the whole matrix."""

    def __init__(self, path: Path) -> None:
        import zarr

        self.path = path
        try:
            self._root = zarr.open_group(str(path), mode="r")
            self._gt = self._root["call_genotype"]
            self.samples = [str(s) for s in np.asarray(self._root["sample_id"][...], dtype=object)]
            self._contig_ids = np.asarray(self._root["contig_id"][...], dtype=object).astype(str)
            self._contig = np.asarray(self._root["variant_contig"][...])
            self._position = np.asarray(self._root["variant_position"][...], dtype=np.int64)
            self._allele = np.asarray(self._root["variant_allele"][...], dtype=object).astype(str)
            self._id = (
                np.asarray(self._root["variant_id"][...], dtype=object).astype(str)
                if "variant_id" in self._root
                else np.array([f"{self._contig_ids[c]}:{p}" for c, p in zip(self._contig, self._position)])
            )
        except KeyError as exc:
            raise GenomesynthError(
                f"{path}: not a VCF Zarr store (missing array {exc}); convert with bio2zarr vcf2zarr"
            ) from exc
        except Exception as exc:
            raise GenomesynthError(f"{path}: not a readable VCF Zarr store ({exc})") from exc
        if not self.samples:
            raise GenomesynthError(f"{path}: the store has no samples")
        self.ploidy = int(self._gt.shape[2])

    def blocks(self) -> Iterator[VariantBlock]:
        chunk = int(self._gt.chunks[0])
        step = chunk * max(1, BLOCK_VARIANTS // chunk)  # whole chunks only
        n_var = self._gt.shape[0]
        for start in range(0, n_var, step):
            stop = min(n_var, start + step)
            gt = np.asarray(self._gt[start:stop])  # (variants, samples, ploidy), -1 missing, -2 fill
            missing = (gt < 0).any(axis=2)
            dosage = (gt > 0).sum(axis=2).astype(np.int8)
            dosage[missing] = -1
            alleles = self._allele[start:stop]
            n_alt = (alleles[:, 1:] != "").sum(axis=1)
            contig = self._contig[start:stop]
            for c in np.unique(contig):  # a block never spans two contigs
                rows = np.flatnonzero(contig == c)
                yield VariantBlock(
                    contig=str(self._contig_ids[c]),
                    position=self._position[start:stop][rows],
                    variant_id=self._id[start:stop][rows],
                    ref=alleles[rows, 0],
                    alt=alleles[rows, 1] if alleles.shape[1] > 1 else np.full(len(rows), ""),
                    n_alt=n_alt[rows],
                    dosage=dosage[rows],
                )
