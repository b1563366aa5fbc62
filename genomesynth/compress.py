"""`compress`: a cohort → a real store of gene-wise PCA latents (`decode.py` goes back to a VCF).

The cohort is read once, as a stream. Genes are fitted in batches as soon as their last SNP has
been read, and each batch's scores go to a temporary file; the store is then assembled a slab of
people at a time. Peak memory is one gene batch plus one slab, never the cohort.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import deque
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from rich.progress import Progress

from genomesynth import LATENT_DIM, checks
from genomesynth.codec import codec_id, fit_genes
from genomesynth.errors import GenomesynthError
from genomesynth.io import Cohort, VariantBlock, open_cohort
from genomesynth.io.genes import Gene, normalise_contig, read_genes
from genomesynth.io.labels import read_labels
from genomesynth.io.prefetch import prefetched_blocks
from genomesynth.provenance import provenance
from genomesynth.split import compared_positions, duplicate_pairs, keep_duplicates_together, make_split
from genomesynth.store import SCHEMA_VERSION, StoreWriter
from genomesynth.ui import quiet

BATCH_ELEMENTS = 2**22
"""Genes are fitted together until their padded dosage tensor would exceed this many entries: small
enough that batches are fitted while the readers parse on (2²⁵ left the whole of 1000 Genomes chr15 to
one batch after the parse), large enough for batched eigh (docs/PERFORMANCE.md)."""


@dataclass
class CompressConfig:
    genes: Path | None = None
    flank: int = 0
    block_size: int = 20
    labels: Path | None = None
    label_column: str | None = None
    max_components: int = LATENT_DIM
    variance: float = 0.99
    test_fraction: float = 0.1
    min_maf: float = 0.0
    min_mac: int = 0
    """Drop SNPs whose minor allele is carried fewer than this many times in the cohort (plink's --mac):
    a site carried by one participant identifies them to anyone holding their genotypes (README)."""
    pad_multiple: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        self.genes = Path(self.genes) if self.genes else None
        self.labels = Path(self.labels) if self.labels else None


@dataclass
class CompressSummary:
    output: str
    people: int
    train: int
    test: int
    ploidy: int
    variants_read: int = 0
    variants_kept: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    missing_calls_imputed: int = 0
    genes: int = 0
    genes_padded: int = 0
    genes_without_snps: int = 0
    mean_components: float = 0.0
    mean_variance_kept: float = 0.0
    min_variance_kept: float = 0.0
    concordance_train: float = 0.0
    concordance_test: float = float("nan")
    label_names: list[str] = field(default_factory=list)
    unknown_label_ids: int = 0
    unlabelled_people: int = 0
    near_identical: list[list[str]] = field(default_factory=list)
    """Pairs of sample ids near-identical in the latents: one person under two ids, or identical twins."""
    moved_to_training: list[str] = field(default_factory=list)
    """Held-out people moved to training because they are near-identical to a training person."""
    seconds: float = 0.0


def pad_genes(n_genes: int, multiple: int | None = None) -> tuple[int, int]:
    """(padded gene count, multiple). By default the multiple is 2^(floor(log2 n) - 2) within
    [32, 2048]: 18,279 genes → 18,432 (= 9 · 2^11), 300 genes → 320; the backbones downsample the
    gene axis by powers of two up to that multiple."""
    if multiple is None:
        exponent = int(np.floor(np.log2(max(n_genes, 1)))) - 2
        multiple = 2 ** min(11, max(5, exponent))
    if multiple < 1 or multiple & (multiple - 1):
        raise GenomesynthError(f"--pad-multiple {multiple} is not a power of two; use e.g. 32 or 2048")
    return int(np.ceil(n_genes / multiple) * multiple), multiple


# -- SNP → gene assignment --------------------------------------------------------------


@dataclass
class _OpenGene:
    gene: Gene
    order: int  # rank in the annotation's genome order: primary gene of a shared SNP = lowest
    variants: list[np.ndarray] = field(default_factory=list)  # kept-variant indices
    rows: list[np.ndarray] = field(default_factory=list)  # dosage rows (variants, people)
    primary: list[np.ndarray] = field(default_factory=list)


@dataclass
class _DoneGene:
    gene: Gene
    variants: np.ndarray
    primary: np.ndarray
    dosage: np.ndarray  # (S, people) int8


class _GeneAssigner:
    """Assigns streamed SNPs (sorted within contig) to annotated genes ± flank."""

    def __init__(self, genes: list[Gene], flank: int) -> None:
        self.flank = flank
        by_contig: dict[str, list[tuple[int, Gene]]] = {}
        for order, gene in enumerate(sorted(genes, key=lambda g: (g.contig, g.start, g.end, g.name))):
            by_contig.setdefault(normalise_contig(gene.contig), []).append((order, gene))
        self._pending = by_contig
        self._queue: deque[tuple[int, Gene]] = deque()
        self._open: list[_OpenGene] = []
        self._contig: str | None = None
        self.empty_genes = 0

    def add(
        self, contig: str, position: np.ndarray, index: np.ndarray, dosage: np.ndarray
    ) -> tuple[list[_DoneGene], np.ndarray]:
        """Take a block of kept SNPs; return the genes it completed and which SNPs fell in a gene."""
        done: list[_DoneGene] = []
        key = normalise_contig(contig)
        if key != self._contig:
            done += self.finish()
            self._contig = key
            self._queue = deque(self._pending.pop(key, []))
        hi = int(position[-1])
        while self._queue and self._queue[0][1].start - self.flank <= hi:
            order, gene = self._queue.popleft()
            self._open.append(_OpenGene(gene, order))
        assigned = np.zeros(len(position), dtype=bool)
        for og in sorted(self._open, key=lambda o: o.order):
            a = np.searchsorted(position, og.gene.start - self.flank, side="left")
            b = np.searchsorted(position, og.gene.end + self.flank, side="right")
            if b > a:
                og.variants.append(index[a:b])
                og.rows.append(dosage[a:b])
                og.primary.append(~assigned[a:b])
                assigned[a:b] = True
        still_open = []
        for og in self._open:
            if og.gene.end + self.flank < hi:  # a later SNP is at ≥ hi: this gene is complete
                done += self._close(og)
            else:
                still_open.append(og)
        self._open = still_open
        return done, assigned

    def finish(self) -> list[_DoneGene]:
        done = [g for og in self._open for g in self._close(og)]
        self._open = []
        self.empty_genes += len(self._queue)
        self._queue = deque()
        return done

    def close_all(self) -> list[_DoneGene]:
        done = self.finish()
        self.empty_genes += sum(len(q) for q in self._pending.values())
        self._pending = {}
        return done

    def _close(self, og: _OpenGene) -> list[_DoneGene]:
        if not og.variants:
            self.empty_genes += 1
            return []
        return [_DoneGene(og.gene, np.concatenate(og.variants), np.concatenate(og.primary), np.concatenate(og.rows))]


class _BlockAssigner:
    """Without annotation: blocks of `size` consecutive kept SNPs per contig."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.empty_genes = 0
        self._contig: str | None = None
        self._buffer: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._count = 0

    def add(
        self, contig: str, position: np.ndarray, index: np.ndarray, dosage: np.ndarray
    ) -> tuple[list[_DoneGene], np.ndarray]:
        done: list[_DoneGene] = []
        if contig != self._contig:
            done += self.finish()
            self._contig = contig
        start = 0
        while start < len(position):
            take = min(self.size - self._count, len(position) - start)
            self._buffer.append((position[start : start + take], index[start : start + take], dosage[start : start + take]))
            self._count += take
            start += take
            if self._count == self.size:
                done.append(self._emit())
        return done, np.ones(len(position), dtype=bool)

    def finish(self) -> list[_DoneGene]:
        return [self._emit()] if self._count else []

    def close_all(self) -> list[_DoneGene]:
        return self.finish()

    def _emit(self) -> _DoneGene:
        pos = np.concatenate([b[0] for b in self._buffer])
        gene = Gene(f"{self._contig}:{pos[0]}-{pos[-1]}", str(self._contig), int(pos[0]), int(pos[-1]))
        done = _DoneGene(
            gene,
            np.concatenate([b[1] for b in self._buffer]),
            np.ones(len(pos), dtype=bool),
            np.concatenate([b[2] for b in self._buffer]),
        )
        self._buffer, self._count = [], 0
        return done


# -- variant filters ----------------------------------------------------------------------


def _filter(block: VariantBlock, ploidy: int, min_maf: float, min_mac: int, skipped: dict[str, int]) -> np.ndarray:
    """Boolean keep-mask over the block's variants; counts the reasons for dropping the rest. The minor allele
    count is over the observed calls (ALT alleles, or REF alleles where ALT is the major one)."""
    multi = block.n_alt > 1
    not_snp = ~multi & ~block.is_snp
    dosage = block.dosage
    observed = dosage >= 0
    n_obs = observed.sum(1)
    alt_sum = np.where(observed, dosage, 0).sum(1, dtype=np.int64)
    freq = alt_sum / np.maximum(n_obs * ploidy, 1)
    maf = np.minimum(freq, 1 - freq)
    base = ~multi & ~not_snp
    mono = base & ((maf == 0) | (block.n_alt == 0))
    low = base & ~mono & (maf < min_maf)
    mac = np.minimum(alt_sum, n_obs * ploidy - alt_sum)
    rare = base & ~mono & ~low & (mac < min_mac)
    for reason, hits in (("multiallelic", multi), ("not_snp", not_snp), ("monomorphic", mono), ("low_maf", low),
                         ("low_mac", rare)):
        skipped[reason] = skipped.get(reason, 0) + int(hits.sum())
    return base & ~mono & ~low & ~rare


# -- compress -------------------------------------------------------------------------------


def compress(
    cohort_path: str | Path,
    output: str | Path,
    config: CompressConfig | None = None,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> CompressSummary:
    """Compress a cohort into a real store (module docstring); returns what was done."""
    config = config or CompressConfig()
    progress = progress or quiet()
    started = time.perf_counter()
    cohort_path, output = Path(cohort_path), Path(output)
    _check_config(config)
    writer = StoreWriter(output, overwrite=overwrite)  # fails early on a bad output path
    cohort = open_cohort(cohort_path)
    samples = cohort.samples
    if len(set(samples)) != len(samples):
        dup = next(s for s in samples if samples.count(s) > 1)
        raise GenomesynthError(f"{cohort_path}: sample {dup!r} appears twice; sample ids must be unique")
    genes = read_genes(config.genes) if config.genes else None
    if config.labels:
        labels = read_labels(config.labels, samples, config.label_column)
        codes, names = labels.codes, labels.names
    else:
        labels, codes, names = None, np.full(len(samples), -1, dtype=np.int32), []
    split = make_split(codes, config.test_fraction, config.seed)
    train = split == "train"
    if train.sum() < 2:
        raise GenomesynthError(f"{cohort_path}: only {int(train.sum())} training people; PCA needs at least 2")

    summary = CompressSummary(
        output=str(output), people=len(samples), train=int(train.sum()), test=int((~train).sum()),
        ploidy=cohort.ploidy, label_names=names,
        unknown_label_ids=len(labels.unknown_ids) if labels else 0,
        unlabelled_people=len(labels.unlabelled) if labels else 0,
    )
    assigner = _GeneAssigner(genes, config.flank) if genes else _BlockAssigner(config.block_size)
    workdir = Path(tempfile.mkdtemp(prefix=".genomesynth-", dir=output.parent if str(output.parent) else "."))
    try:
        fitted = _fit_stream(cohort, assigner, train, config, summary, workdir, progress)
        summary.genes_without_snps = assigner.empty_genes
        if not fitted.genes:
            where = "inside the genes of " + str(config.genes) if genes else "that pass the filters"
            raise GenomesynthError(f"{cohort_path}: no SNPs {where}; check contig names and filters")
        pairs = _near_identical(fitted, train, config.seed)
        split, moved = keep_duplicates_together(split, pairs)
        summary.near_identical = [[samples[i], samples[j]] for i, j in pairs]
        summary.moved_to_training = [samples[i] for i in moved]
        summary.train, summary.test = int((split == "train").sum()), int((split != "train").sum())
        inputs = [cohort_path] + [p for p in (config.genes, config.labels) if p]
        attrs = {
            "schema_version": SCHEMA_VERSION,
            "role": "real",
            "ploidy": cohort.ploidy,
            "label_names": names,
            "label_column": labels.column if labels else None,
            "codec_people": int(train.sum()),  # the codec's fit: before a held-out duplicate moved to training
            "provenance": provenance("compress", inputs, config.seed, _jsonable(asdict(config))),
        }
        with writer:
            _assemble(writer, fitted, samples, codes, split, attrs, config, summary, progress)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    summary.seconds = time.perf_counter() - started
    return summary


def _check_config(config: CompressConfig) -> None:
    checks.number("min_maf", config.min_maf, 0, 0.5)
    checks.whole("min_mac", config.min_mac, 0)
    checks.whole("flank", config.flank, 0)
    if not 1 <= config.max_components <= LATENT_DIM:
        raise GenomesynthError(f"--max-components must be between 1 and {LATENT_DIM}")
    if not 0 < config.variance <= 1:
        raise GenomesynthError("--variance must be in (0, 1], e.g. 0.99")
    if not 0 <= config.test_fraction < 1:
        raise GenomesynthError("--test-fraction must be in [0, 1), e.g. 0.1")
    if config.block_size < 1:
        raise GenomesynthError("--block-size must be at least 1")


@dataclass
class _Fitted:
    genes: list[Gene] = field(default_factory=list)
    members: list[np.ndarray] = field(default_factory=list)  # kept-variant index per gene
    primary: list[np.ndarray] = field(default_factory=list)
    loadings: list[np.ndarray] = field(default_factory=list)
    n_components: list[int] = field(default_factory=list)
    variance_kept: list[float] = field(default_factory=list)
    score_files: list[tuple[Path, int]] = field(default_factory=list)  # (file, genes in it)
    contigs: list[str] = field(default_factory=list)
    variant_contig: list[np.ndarray] = field(default_factory=list)
    variant_position: list[np.ndarray] = field(default_factory=list)
    variant_id: list[np.ndarray] = field(default_factory=list)
    variant_allele: list[np.ndarray] = field(default_factory=list)
    in_gene: list[np.ndarray] = field(default_factory=list)  # kept-SNP indices that are in a gene
    variant_mean: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    variant_thresholds: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    concordant: np.ndarray = field(default_factory=lambda: np.zeros(2, np.int64))
    compared: np.ndarray = field(default_factory=lambda: np.zeros(2, np.int64))


def _fit_stream(
    cohort: Cohort, assigner: _GeneAssigner | _BlockAssigner, train: np.ndarray, config: CompressConfig,
    summary: CompressSummary, workdir: Path, progress: Progress,
) -> _Fitted:
    """Read the cohort once: filter each block's SNPs, hand them to the gene assigner, fit the genes it closes in
    batches (`_GeneFitter`) and keep the variant table of the SNPs that landed in a gene."""
    fitter = _GeneFitter(len(cohort.samples), train, config, cohort.ploidy, workdir)
    fitted = fitter.fitted
    kept_total = 0
    task = progress.add_task("reading variants", total=None, status="")
    for block in prefetched_blocks(cohort):
        summary.variants_read += len(block)
        keep = _filter(block, cohort.ploidy, config.min_maf, config.min_mac, summary.skipped)
        if keep.any():
            dosage = block.dosage[keep]
            summary.missing_calls_imputed += int((dosage < 0).sum())
            position = block.position[keep]
            index = np.arange(kept_total, kept_total + len(position))
            done, inside = assigner.add(block.contig, position, index, dosage)
            fitter.take(done)
            # only SNPs that landed in a gene become variants of the store
            if block.contig not in fitted.contigs:
                fitted.contigs.append(block.contig)
            n_in = int(inside.sum())
            summary.skipped["outside_genes"] = summary.skipped.get("outside_genes", 0) + len(position) - n_in
            fitted.variant_contig.append(np.full(len(position), fitted.contigs.index(block.contig), np.int32)[inside])
            fitted.variant_position.append(position[inside])
            fitted.variant_id.append(block.variant_id[keep][inside])
            fitted.variant_allele.append(np.stack([block.ref[keep], block.alt[keep]], axis=1)[inside])
            fitted.in_gene.append(index[inside])
            kept_total += len(position)
        progress.update(task, completed=summary.variants_read,
                        status=f"{len(fitted.genes) + len(fitter.pending)} genes")
    fitter.take(assigner.close_all())
    fitter.flush()
    progress.update(task, total=summary.variants_read, completed=summary.variants_read)

    # kept-SNP index → row of the variants table
    kept_in_gene = np.concatenate([np.zeros(0, np.int64), *fitted.in_gene])
    remap = np.full(kept_total, -1, dtype=np.int64)
    remap[kept_in_gene] = np.arange(len(kept_in_gene))
    fitted.members = [remap[m] for m in fitted.members]
    fitted.variant_mean = np.array([fitter.means[int(v)] for v in kept_in_gene], dtype=np.float32)
    fitted.variant_thresholds = np.array([fitter.thresholds[int(v)] for v in kept_in_gene],
                                         dtype=np.float32).reshape(-1, 2)
    summary.variants_kept = len(kept_in_gene)
    return fitted


class _GeneFitter:
    """Closed genes gathered until they hold BATCH_ELEMENTS dosages, then fitted (`codec.fit_genes`) in batches of
    like size: their scores spilled to `workdir`, their codec into `fitted`, and each primary SNP's mean and
    thresholds (by kept-SNP index) into `means` and `thresholds`."""

    def __init__(self, n_people: int, train: np.ndarray, config: CompressConfig, ploidy: int, workdir: Path) -> None:
        self.n_people, self.train, self.config, self.ploidy, self.workdir = n_people, train, config, ploidy, workdir
        self.fitted = _Fitted()
        self.means: dict[int, float] = {}
        self.thresholds: dict[int, np.ndarray] = {}
        self.pending: list[_DoneGene] = []
        self._pending_size = 0

    def take(self, done_genes: list[_DoneGene]) -> None:
        for done in done_genes:
            self.pending.append(done)
            self._pending_size += done.dosage.size
            if self._pending_size >= BATCH_ELEMENTS:
                self.flush()

    def flush(self) -> None:
        fitted = self.fitted
        for batch in _size_batches(self.pending, self.n_people):
            fit = fit_genes([g.dosage for g in batch], self.train, max_components=self.config.max_components,
                            variance=self.config.variance, ploidy=self.ploidy)
            path = self.workdir / f"scores-{len(fitted.score_files):06d}.npy"
            np.save(path, fit.scores)
            fitted.score_files.append((path, len(batch)))
            for g, done in enumerate(batch):
                fitted.genes.append(done.gene)
                fitted.members.append(done.variants)
                fitted.primary.append(done.primary)
                fitted.loadings.append(fit.loadings[g])
                for v, m, t, p in zip(done.variants, fit.mean[g], fit.thresholds[g], done.primary):
                    if p:
                        self.means[int(v)] = float(m)
                        self.thresholds[int(v)] = t
            fitted.n_components.extend(int(k) for k in fit.n_components)
            fitted.variance_kept.extend(float(v) for v in fit.variance_kept)
            fitted.concordant += fit.concordant
            fitted.compared += fit.compared
        self.pending, self._pending_size = [], 0


def _near_identical(fitted: _Fitted, train: np.ndarray, seed: int) -> list[tuple[int, int]]:
    """Near-identical pairs of people (split.duplicate_pairs), their compared positions read from the spilled scores."""
    first = np.cumsum([0] + [count for _, count in fitted.score_files])  # fitted gene index of each file's first
    real = [(f, g, c) for f, (_, count) in enumerate(fitted.score_files) for g in range(count)
            for c in range(fitted.n_components[first[f] + g])]
    real = [real[i] for i in compared_positions(len(real), seed)]
    columns = []
    for f, (path, _) in enumerate(fitted.score_files):
        genes, components = [g for ff, g, _ in real if ff == f], [c for ff, _, c in real if ff == f]
        if genes:
            columns.append(np.load(path, mmap_mode="r")[:, genes, components])
    return duplicate_pairs(np.concatenate(columns, axis=1), train)


def _size_batches(genes: list[_DoneGene], n_people: int) -> Iterator[list[_DoneGene]]:
    """Sort by SNP count, then cut so that each padded batch stays under BATCH_ELEMENTS."""
    ordered = sorted(genes, key=lambda g: g.dosage.shape[0])
    batch: list[_DoneGene] = []
    for gene in ordered:
        width = gene.dosage.shape[0]
        if batch and (len(batch) + 1) * width * n_people > BATCH_ELEMENTS:
            yield batch
            batch = []
        batch.append(gene)
    if batch:
        yield batch


def _assemble(
    writer: StoreWriter, fitted: _Fitted, samples: list[str], codes: np.ndarray, split: np.ndarray,
    attrs: dict, config: CompressConfig, summary: CompressSummary, progress: Progress,
) -> None:
    """Write the store from the fitted genes: latents in genome order, a slab of people at a time, then the
    standardisation, gene, variant and codec tables, and the summary into the attributes."""
    n_genes = len(fitted.genes)
    n_padded, multiple = pad_genes(n_genes, config.pad_multiple)
    order = _genome_order(fitted)
    train = split == "train"
    total, total_sq = _write_latents(writer, fitted, order, len(samples), n_padded, train, progress)
    n_components = np.array(fitted.n_components)[order]
    mask = np.zeros((n_padded, LATENT_DIM), dtype=bool)
    mask[:n_genes] = np.arange(LATENT_DIM)[None, :] < n_components[:, None]
    n_train = max(int(train.sum()), 1)
    mean = total / n_train
    std = np.sqrt(np.maximum(total_sq / n_train - mean**2, 0))
    std = np.where(mask & (std > 1e-8), std, 1.0)
    mean = np.where(mask, mean, 0.0)
    writer.write("mask", mask)
    writer.write("sample_id", np.array(samples, dtype=object))
    writer.write("label", codes.astype(np.int32))
    writer.write("split", split.astype(object))
    writer.write("stats/mean", mean.astype(np.float32))
    writer.write("stats/std", std.astype(np.float32))
    loadings, positions, offsets = _write_codec(writer, fitted, order, n_components)

    summary.genes, summary.genes_padded = n_genes, n_padded
    summary.mean_components = float(n_components.mean())
    kept = np.array(fitted.variance_kept)
    summary.mean_variance_kept, summary.min_variance_kept = float(kept.mean()), float(kept.min())
    summary.concordance_train = float(fitted.concordant[0] / max(fitted.compared[0], 1))
    if fitted.compared[1]:
        summary.concordance_test = float(fitted.concordant[1] / fitted.compared[1])
    writer.set_attrs({
        **attrs,
        "n_genes": n_genes,
        "pad_multiple": multiple,
        "contigs": fitted.contigs,
        "codec_id": codec_id(loadings, positions, offsets),
        "compress_summary": _jsonable(asdict(summary)),
    })


def _genome_order(fitted: _Fitted) -> list[int]:
    """The fitted genes (in the order they were fitted: by size within a batch) in genome order: contig as the
    file gave them, then start, end and name."""
    contig_rank = {normalise_contig(c): i for i, c in enumerate(fitted.contigs)}
    return sorted(
        range(len(fitted.genes)),
        key=lambda g: (contig_rank.get(normalise_contig(fitted.genes[g].contig), 1 << 30),
                       fitted.genes[g].start, fitted.genes[g].end, fitted.genes[g].name),
    )


def _write_latents(
    writer: StoreWriter, fitted: _Fitted, order: list[int], n_people: int, n_padded: int, train: np.ndarray,
    progress: Progress,
) -> tuple[np.ndarray, np.ndarray]:
    """`latents` (people, n_padded, 8) from the spilled scores, a slab of people at a time, each fitted gene at its
    row in `order`; returns the training people's sum and sum of squares per position (float64)."""
    position_of = np.empty(len(order), dtype=np.int64)
    position_of[order] = np.arange(len(order))  # fitted gene g lands at gene row position_of[g]
    latents = writer.create_latents(n_people, n_padded)
    total = np.zeros((n_padded, LATENT_DIM))
    total_sq = np.zeros((n_padded, LATENT_DIM))
    files = [(np.load(path, mmap_mode="r"), count) for path, count in fitted.score_files]
    slab_rows = max(1, latents.chunks[0] * 8) if hasattr(latents, "chunks") else 64
    task = progress.add_task("writing store", total=n_people, status=str(writer.path.name))
    for start in range(0, n_people, slab_rows):
        stop = min(n_people, start + slab_rows)
        slab = np.zeros((stop - start, n_padded, LATENT_DIM), dtype=np.float32)
        column = 0
        for scores, count in files:
            slab[:, position_of[column : column + count]] = scores[start:stop]
            column += count
        latents[start:stop] = slab
        t = slab[train[start:stop]].astype(np.float64)
        total += t.sum(0)
        total_sq += (t**2).sum(0)
        progress.update(task, completed=stop)
    return total, total_sq


def _write_codec(
    writer: StoreWriter, fitted: _Fitted, order: list[int], n_components: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The gene, variant and codec tables, genes in `order`; returns (loadings, variant positions, gene offsets),
    from which the codec's id is made."""
    members = [fitted.members[g] for g in order]
    offsets = np.concatenate([[0], np.cumsum([len(m) for m in members])]).astype(np.int64)
    loadings = np.concatenate([fitted.loadings[g] for g in order]).astype(np.float32)
    positions = np.concatenate(fitted.variant_position)
    genes = [fitted.genes[g] for g in order]
    writer.write("genes/name", np.array([g.name for g in genes], dtype=object))
    writer.write("genes/contig", np.array([g.contig for g in genes], dtype=object))
    writer.write("genes/start", np.array([g.start for g in genes], dtype=np.int64))
    writer.write("genes/end", np.array([g.end for g in genes], dtype=np.int64))
    writer.write("genes/n_variants", np.diff(offsets))
    writer.write("genes/n_components", n_components.astype(np.int32))
    writer.write("genes/variance_kept", np.array(fitted.variance_kept)[order].astype(np.float32))
    writer.write("variants/variant_contig", np.concatenate(fitted.variant_contig))
    writer.write("variants/variant_position", positions)
    writer.write("variants/variant_id", np.concatenate(fitted.variant_id).astype(object))
    writer.write("variants/variant_allele", np.concatenate(fitted.variant_allele).astype(object))
    writer.write("variants/variant_mean", fitted.variant_mean)
    writer.write("variants/variant_thresholds", fitted.variant_thresholds)
    writer.write("codec/gene_offset", offsets)
    writer.write("codec/membership_variant", np.concatenate(members))
    writer.write("codec/membership_primary", np.concatenate([fitted.primary[g] for g in order]))
    writer.write("codec/loadings", loadings)
    return loadings, positions, offsets


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and value != value:
        return None
    return value
