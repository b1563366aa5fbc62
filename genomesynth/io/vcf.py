"""VCF/BCF through htslib (cyvcf2): read genotypes as blocks, write a bgzipped VCF."""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genomesynth.errors import GenomesynthError
from genomesynth.io import BLOCK_VARIANTS, VariantBlock


@dataclass(frozen=True)
class Window:
    """The records of one contig with start <= POS <= end (1-based): a part of the file to parse apart."""

    contig: str
    start: int
    end: int

    @property
    def region(self) -> str:
        return f"{self.contig}:{self.start}-{self.end}"


class VcfCohort:
    """A VCF, VCF.gz or BCF file, read from start to end (no index needed), or window by window when
    it has an up-to-date index (.tbi/.csi), so that several processes can parse it at once."""

    def __init__(self, path: Path) -> None:
        import cyvcf2

        self.path = path
        if path.stat().st_size == 0:
            raise GenomesynthError(f"{path}: the file is empty; give a VCF/BCF with a header and samples")
        _check_gzip_complete(path)
        cyvcf2.cyvcf2.set_htslib_log_level(0)  # htslib's own stderr lines would break our one-line errors
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
        self._text = not str(path).lower().endswith(".bcf")
        self._header_lines = _header_lines(path) if self._text else 0
        self._window: Window | None = None

    def _first_ploidy(self) -> int:
        import cyvcf2

        try:
            first = next(iter(cyvcf2.VCF(str(self.path), gts012=True)), None)
        except Exception as exc:
            raise GenomesynthError(f"{self.path}: cannot read the first record ({exc})") from exc
        if first is None:
            raise GenomesynthError(f"{self.path}: the VCF has a header but no variant records")
        return int(first.genotype.ploidy)

    def _where(self, record: int) -> str:
        if self._window is not None:
            return f"record {record} of region {self._window.region}"
        return f"line {self._header_lines + record} (record {record})" if self._text else f"record {record}"

    def windows(self, records_per_window: int) -> list[Window] | None:
        """Windows of about `records_per_window` records covering the file, in file order, or None
        without an index newer than the file. A contig's span is found by binary search over
        region queries (headers rarely give lengths); each is cut into windows of equal length."""
        index = next((i for i in (Path(f"{self.path}.tbi"), Path(f"{self.path}.csi")) if i.exists()), None)
        if index is None or index.stat().st_mtime < self.path.stat().st_mtime:
            return None
        import cyvcf2

        probe = cyvcf2.VCF(str(self.path), lazy=True)  # its own handle: region queries move the reader
        try:
            contigs = list(probe.seqnames)  # the index's order: the file's (an index needs contiguous contigs)
            total = int(probe.num_records)
            spans = [span for span in (_span(probe, contig) for contig in contigs) if span is not None]
        except Exception:  # an index htslib cannot use: read the file through instead
            return None
        finally:
            probe.close()
        if not spans:
            return None
        length = sum(end - start + 1 for _, start, end in spans)
        count = max(len(spans), -(-max(total, 1) // max(records_per_window, 1)))
        out: list[Window] = []
        for contig, start, end in spans:
            parts = max(1, round(count * (end - start + 1) / length))
            edges = np.linspace(start, end + 1, parts + 1).round().astype(np.int64)
            out.extend(Window(contig, int(a), int(b) - 1) for a, b in zip(edges[:-1], edges[1:]) if b > a)
        return out

    def blocks(self, window: Window | None = None) -> Iterator[VariantBlock]:
        """Every record's genotypes as blocks, or only those of `window` (a region query on the index)."""
        self._window = window
        records = self._vcf if window is None else self._vcf(window.region)
        n = len(self.samples)
        buffer = np.empty((BLOCK_VARIANTS, n), dtype=np.int8)
        meta: list[tuple[int, str, str, str, int]] = []
        contig: str | None = None
        seen_contigs: set[str] = set()
        last_pos = 0
        line = 0
        try:
            for record in records:
                if window is not None and not window.start <= record.POS <= window.end:
                    continue  # a record that starts before the window but overlaps it belongs to the one before
                line += 1
                chrom = record.CHROM
                if chrom != contig:
                    if meta:
                        yield _block(contig, meta, buffer)
                        meta = []
                    if chrom in seen_contigs:
                        raise GenomesynthError(
                            f"{self.path}: {self._where(line)} ({chrom}:{record.POS}): contig {chrom} appears "
                            "twice; sort the file (bcftools sort)"
                        )
                    seen_contigs.add(chrom)
                    contig, last_pos = chrom, 0
                if record.POS < last_pos:
                    raise GenomesynthError(
                        f"{self.path}: {self._where(line)} ({chrom}:{record.POS}) comes after position "
                        f"{last_pos}; sort the file (bcftools sort)"
                    )
                last_pos = record.POS
                alts = record.ALT
                buffer[len(meta)] = self._dosage(record, line, len(alts))
                meta.append((record.POS, record.ID or f"{chrom}:{record.POS}", record.REF,
                             alts[0] if alts else "", len(alts)))
                if len(meta) == BLOCK_VARIANTS:
                    yield _block(contig, meta, buffer)
                    meta = []
        except GenomesynthError:
            raise
        except Exception as exc:
            text = f": {_line_text(self.path, self._header_lines + line + 1)!r}" if self._text and window is None else ""
            raise GenomesynthError(
                f"{self.path}: {self._where(line + 1)} cannot be parsed{text} — fix or remove it "
                "(`bcftools view` names what htslib rejects)"
            ) from exc
        if meta:
            yield _block(contig, meta, buffer)
        if line == 0 and window is None:
            raise GenomesynthError(f"{self.path}: the VCF has no variant records")

    def _dosage(self, record: object, line: int, n_alt: int) -> np.ndarray:
        """ALT allele counts of one record from its allele indices (-1 when any allele is missing),
        refusing what cannot be counted: another ploidy than the cohort's, or an allele index the
        record does not have."""
        genotype = record.genotype.array()  # type: ignore[attr-defined]  (people, ploidy + 1); last column: phasing
        alleles = genotype[:, :-1]
        if alleles.shape[1] == self.ploidy:
            # The common case, every call complete and valid, in contiguous passes (a reduction along
            # the short allele axis costs ten times as much). The phasing column (0 or 1) is inside
            # the min/max: harmless when the site has an ALT allele; without one, the careful path.
            lo, hi = genotype.min(), genotype.max()
            if lo >= 0 and hi <= n_alt:
                counted = alleles if n_alt <= 1 else alleles > 0
                dosage = counted[:, 0].astype(np.int8)
                for column in range(1, self.ploidy):
                    np.add(dosage, counted[:, column], out=dosage, casting="unsafe")
                return dosage
        where = f"{self.path}: {self._where(line)} ({record.CHROM}:{record.POS})"  # type: ignore[attr-defined]
        if alleles.shape[1] != self.ploidy or (alleles == -2).any():  # -2: that person's vector ended early
            ploidy = (alleles != -2).sum(1)
            person = int(np.flatnonzero(ploidy != self.ploidy)[0])
            raise GenomesynthError(
                f"{where}: sample {self.samples[person]} has ploidy {int(ploidy[person])}, but the cohort's first "
                f"record has ploidy {self.ploidy}; genomesynth needs one ploidy for every person and site — split "
                "the file by ploidy (e.g. chrX outside the PAR apart)"
            )
        bad = alleles > n_alt
        if bad.any():
            person = int(np.flatnonzero(bad.any(1))[0])
            raise GenomesynthError(
                f"{where}: sample {self.samples[person]} has allele {int(alleles[person].max())} but the site has "
                f"{n_alt} ALT allele(s); fix the genotype or the ALT column (bcftools norm -m -any splits multi-allelic sites)"
            )
        dosage = (alleles > 0).sum(1).astype(np.int8)
        dosage[(alleles < 0).any(1)] = -1
        return dosage


def _span(vcf: object, contig: str) -> tuple[str, int, int] | None:
    """(contig, first POS, last POS) of an indexed file's records on contig, or None when it has none."""
    import warnings

    def first_from(position: int) -> int | None:  # POS of the first record at or after position
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # cyvcf2 warns when a region holds no records
            for record in vcf(f"{contig}:{position}"):  # type: ignore[operator]
                if record.POS >= position:
                    return int(record.POS)
        return None

    first = first_from(1)
    if first is None:
        return None
    low, high = first, 2**31 - 2  # the last POS: the largest p with a record at or after p
    while low < high:
        middle = (low + high + 1) // 2
        if first_from(middle) is None:
            high = middle - 1
        else:
            low = middle
    return contig, first, low


def _block(contig: str | None, meta: list[tuple[int, str, str, str, int]], buffer: np.ndarray) -> VariantBlock:
    pos, ids, ref, alt, n_alt = zip(*meta)
    dosage = buffer[: len(meta)].copy()
    return VariantBlock(
        contig=str(contig),
        position=np.asarray(pos, dtype=np.int64),
        variant_id=np.asarray(ids, dtype=object).astype(str),
        ref=np.asarray(ref, dtype=object).astype(str),
        alt=np.asarray(alt, dtype=object).astype(str),
        n_alt=np.asarray(n_alt, dtype=np.int64),
        dosage=dosage,
    )


def _header_lines(path: Path) -> int:
    """Lines before the first record of a text VCF (htslib's own header adds lines, so count the file's)."""
    with (gzip.open(path, "rt") if _is_gzip(path) else open(path)) as handle:
        count = 0
        for line in handle:
            if not line.startswith("#"):
                break
            count += 1
    return count


def _line_text(path: Path, number: int, width: int = 80) -> str:
    """The start of line `number` (1-based) of a text VCF, to show the user what could not be read."""
    with (gzip.open(path, "rt", errors="replace") if _is_gzip(path) else open(path, errors="replace")) as handle:
        for i, line in enumerate(handle, 1):
            if i == number:
                line = line.rstrip("\n").replace("\t", " ")
                return line[:width] + ("…" if len(line) > width else "")
    return ""


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


_BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def _check_gzip_complete(path: Path) -> None:
    """htslib reads a truncated bgzip file up to the break without failing, and one cut on a block
    boundary reads as a valid shorter file: a BGZF file must end in its EOF block (SAM/BAM spec
    4.1.2), a plain gzip one must decompress to its end."""
    with open(path, "rb") as handle:
        head = handle.read(18)
        if head[:2] != b"\x1f\x8b":
            return
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 28))
        tail = handle.read()
    if tail == _BGZF_EOF:
        return
    if len(head) >= 14 and head[3] & 0x04 and head[12:14] == b"BC":  # FEXTRA with the BGZF subfield
        raise GenomesynthError(
            f"{path}: truncated: the bgzip file lacks its end-of-file block, so it was cut off (an interrupted "
            "download or a writer that crashed); re-create or re-download it (a complete file passes `bgzip -t`)"
        )
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
