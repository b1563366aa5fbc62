"""Gene annotations (BED, GTF, GFF3) → intervals, and the assignment of SNPs to genes."""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path

from genomesynth.errors import GenomesynthError


@dataclass(frozen=True)
class Gene:
    name: str
    contig: str
    start: int  # 1-based, inclusive
    end: int  # 1-based, inclusive


def normalise_contig(name: str) -> str:
    """Contigs match with or without a 'chr' prefix ('chr1' == '1')."""
    return name[3:] if name.lower().startswith("chr") else name


def read_genes(path: Path) -> list[Gene]:
    """Read gene intervals; the format comes from the suffix (.bed, .gtf, .gff/.gff3, optionally .gz)."""
    name = path.name.lower().removesuffix(".gz")
    if not path.exists():
        raise GenomesynthError(f"{path}: no such gene file")
    if path.is_dir():
        raise GenomesynthError(f"{path}: is a folder; --genes takes a .bed, .gtf or .gff3 file")
    if name.endswith(".bed"):
        parse, fmt = _bed_line, "BED"
    elif name.endswith(".gtf"):
        parse, fmt = _gtf_line, "GTF"
    elif name.endswith(".gff3") or name.endswith(".gff"):
        parse, fmt = _gff3_line, "GFF3"
    else:
        raise GenomesynthError(f"{path}: unknown gene file type; use .bed, .gtf or .gff3 (optionally .gz)")
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    genes: list[Gene] = []
    with opener(path, "rt") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            try:
                gene = parse(line.rstrip("\n").split("\t"), number)
            except (ValueError, IndexError):
                raise GenomesynthError(
                    f"{path}: line {number} is not a valid {fmt} record: {line.strip()[:80]!r}; "
                    f"check the file is {fmt} (tab-separated)"
                ) from None
            if gene is not None:
                if gene.end < gene.start:
                    raise GenomesynthError(f"{path}: line {number}: end {gene.end} is before start {gene.start}")
                genes.append(gene)
    if not genes:
        raise GenomesynthError(f"{path}: no gene records found in this {fmt} file")
    return genes


def _bed_line(fields: list[str], number: int) -> Gene:
    start, end = int(fields[1]), int(fields[2])  # 0-based half-open
    name = fields[3] if len(fields) > 3 and fields[3] else f"{fields[0]}:{start + 1}-{end}"
    return Gene(name, fields[0], start + 1, end)


_GTF_NAME = re.compile(r'gene_name "([^"]+)"')
_GTF_ID = re.compile(r'gene_id "([^"]+)"')


def _gtf_line(fields: list[str], number: int) -> Gene | None:
    if len(fields) < 9:
        raise ValueError
    start, end = int(fields[3]), int(fields[4])
    if fields[2] != "gene":
        return None
    match = _GTF_NAME.search(fields[8]) or _GTF_ID.search(fields[8])
    return Gene(match.group(1) if match else f"{fields[0]}:{start}-{end}", fields[0], start, end)


def _gff3_line(fields: list[str], number: int) -> Gene | None:
    if len(fields) < 9:
        raise ValueError
    start, end = int(fields[3]), int(fields[4])
    if fields[2] != "gene":
        return None
    attrs = dict(kv.split("=", 1) for kv in fields[8].split(";") if "=" in kv)
    return Gene(attrs.get("Name") or attrs.get("ID") or f"{fields[0]}:{start}-{end}", fields[0], start, end)
