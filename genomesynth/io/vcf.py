"""VCF/BCF through htslib (cyvcf2): read genotypes as blocks, write a bgzipped VCF."""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from genomesynth.errors import GenomesynthError
from genomesynth.io import BLOCK_VARIANTS, VariantBlock

_UNKNOWN = 3  # cyvcf2 gt_types with gts012=True: 0 hom-ref, 1 het, 2 hom-alt, 3 unknown


class VcfCohort:
    """A VCF, VCF.gz or BCF file, read once from start to end (no index needed)."""

    def __init__(self, path: Path) -> None:
        import cyvcf2

        self.path = path
        if path.stat().st_size == 0:
            raise GenomesynthError(f"{path}: the file is empty; give a VCF/BCF with a header and samples")
        _check_gzip_complete(path)
        try:
            self._vcf = cyvcf2.VCF(str(path), gts012=True, lazy=True)
        except Exception as exc:  # cyvcf2 raises OSError/Exception with htslib's words
            raise GenomesynthError(f"{path}: not a readable VCF/BCF ({exc})") from exc
        self.samples: list[str] = list(self._vcf.samples)
        if not self.samples:
            raise GenomesynthError(
                f"{path}: the VCF has no samples (no genotype columns); genomesynth needs per-person genotypes"
            )
        self.ploidy = self._first_ploidy()

    def _first_ploidy(self) -> int:
        import cyvcf2

        try:
            first = next(iter(cyvcf2.VCF(str(self.path), gts012=True)), None)
        except Exception as exc:
            raise GenomesynthError(f"{self.path}: cannot read the first record ({exc})") from exc
        if first is None:
            raise GenomesynthError(f"{self.path}: the VCF has a header but no variant records")
        return int(first.genotype.ploidy)

    def blocks(self) -> Iterator[VariantBlock]:
        n = len(self.samples)
        buffer = np.empty((BLOCK_VARIANTS, n), dtype=np.int8)
        meta: list[tuple[int, str, str, str, int]] = []
        contig: str | None = None
        seen_contigs: set[str] = set()
        last_pos = 0
        line = 0
        haploid = self.ploidy == 1
        try:
            for record in self._vcf:
                line += 1
                chrom = record.CHROM
                if chrom != contig:
                    if meta:
                        yield _block(contig, meta, buffer, haploid)
                        meta = []
                    if chrom in seen_contigs:
                        raise GenomesynthError(
                            f"{self.path}: record {line} ({chrom}:{record.POS}): contig {chrom} appears "
                            "twice; sort the file (bcftools sort)"
                        )
                    seen_contigs.add(chrom)
                    contig, last_pos = chrom, 0
                if record.POS < last_pos:
                    raise GenomesynthError(
                        f"{self.path}: record {line} ({chrom}:{record.POS}) comes after position "
                        f"{last_pos}; sort the file (bcftools sort)"
                    )
                last_pos = record.POS
                buffer[len(meta)] = record.gt_types  # a view that cyvcf2 reuses: copy it now
                alts = record.ALT
                meta.append((record.POS, record.ID or f"{chrom}:{record.POS}", record.REF,
                             alts[0] if alts else "", len(alts)))
                if len(meta) == BLOCK_VARIANTS:
                    yield _block(contig, meta, buffer, haploid)
                    meta = []
        except GenomesynthError:
            raise
        except Exception as exc:
            raise GenomesynthError(
                f"{self.path}: unreadable after record {line} ({exc}); the file may be truncated "
                "or malformed (check with bcftools view)"
            ) from exc
        if meta:
            yield _block(contig, meta, buffer, haploid)
        if line == 0:
            raise GenomesynthError(f"{self.path}: the VCF has no variant records")


def _block(contig: str | None, meta: list[tuple[int, str, str, str, int]], buffer: np.ndarray,
           haploid: bool) -> VariantBlock:
    """gt_types codes → ALT counts: 3 (unknown) → -1; a haploid ALT call, reported as hom-alt (2), → 1."""
    pos, ids, ref, alt, n_alt = zip(*meta)
    dosage = buffer[: len(meta)].copy()
    dosage[dosage == _UNKNOWN] = -1
    if haploid:
        dosage[dosage == 2] = 1
    return VariantBlock(
        contig=str(contig),
        position=np.asarray(pos, dtype=np.int64),
        variant_id=np.asarray(ids, dtype=object).astype(str),
        ref=np.asarray(ref, dtype=object).astype(str),
        alt=np.asarray(alt, dtype=object).astype(str),
        n_alt=np.asarray(n_alt, dtype=np.int64),
        dosage=dosage,
    )


def _check_gzip_complete(path: Path) -> None:
    """htslib reads a truncated bgzip file up to the break without failing: check the EOF block."""
    with open(path, "rb") as handle:
        magic = handle.read(2)
        if magic != b"\x1f\x8b":
            return
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 28))
        tail = handle.read()
    bgzf_eof = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
    if tail == bgzf_eof:
        return
    try:  # plain gzip: no EOF marker, so read it through once
        with gzip.open(path, "rb") as handle:
            while handle.read(2**22):
                pass
    except (EOFError, OSError) as exc:
        raise GenomesynthError(
            f"{path}: the compressed file is truncated or damaged ({exc}); re-create or re-download it"
        ) from exc


GENOTYPE_TEXT = {1: np.array(["0", "1"]), 2: np.array(["0/0", "0/1", "1/1"])}


def write_vcf(
    path: Path,
    samples: list[str],
    contigs: list[str],
    variants: Iterable[tuple[str, int, str, str, str, np.ndarray]],
    ploidy: int,
    header_lines: list[str],
) -> int:
    """Write a bgzipped VCF (htslib's BGZF, so tabix can index it); returns the records written.

    `variants` yields (contig, position, id, ref, alt, calls) with calls an int array of ALT counts.
    """
    import cyvcf2

    header = [
        "##fileformat=VCFv4.2",
        *header_lines,
        *(f"##contig=<ID={c}>" for c in contigs),
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *samples]),
    ]
    text = GENOTYPE_TEXT[ploidy]
    writer = cyvcf2.Writer.from_string(str(path), "\n".join(header) + "\n", mode="wz")
    written = 0
    try:
        for contig, position, vid, ref, alt, calls in variants:
            line = "\t".join((contig, str(position), vid, ref, alt, ".", "PASS", ".", "GT",
                              "\t".join(text[calls])))
            writer.write_record(writer.variant_from_string(line))
            written += 1
    finally:
        writer.close()
    return written
