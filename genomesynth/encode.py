"""Project any cohort into an existing store's codec, so other generators' genomes (or a replication
cohort) can be evaluated and decoded beside genomesynth's own.

For every variant of the codec (matched by contig, position and alleles; a REF/ALT swap flips the
ALT count to ploidy − count) and every person, with the codec's training means m_v and loadings:

    z[p, g, :] = Σ_{v in gene g} (x[p, v] − m_v) · L[g, v, :]          x missing → m_v (adds 0)

exactly what `compress` computed for the people it was fitted on, so encoding the cohort a store
was compressed from reproduces its latents. Codec variants the cohort lacks are mean-imputed (their
genes then carry less of the person) and counted, as are the cohort's variants the codec lacks and
its multi-allelic records. The gene layout, padding, mask, statistics and codec id are the codec
store's; memory is one copy of the output latents plus one block of variants.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from rich.progress import Progress

from genomesynth import LATENT_DIM, checks
from genomesynth.errors import GenomesynthError
from genomesynth.io import Cohort, open_cohort
from genomesynth.io.genes import normalise_contig
from genomesynth.io.labels import read_labels
from genomesynth.io.prefetch import prefetched_blocks
from genomesynth.provenance import provenance
from genomesynth.split import compared_columns, duplicate_pairs, keep_duplicates_together, make_split
from genomesynth.store import SCHEMA_VERSION, Store, StoreWriter, copy_reference, open_store, reference_attrs
from genomesynth.ui import quiet


@dataclass
class EncodeConfig:
    labels: Path | None = None  # TSV of sample id + label (names must be the codec store's)
    label_column: str | None = None
    role: str = "synthetic"  # synthetic (to evaluate) or real (a replication cohort: gets a split)
    test_fraction: float = 0.1  # held-out share when role is real
    seed: int = 0

    def __post_init__(self) -> None:
        self.labels = Path(self.labels) if self.labels is not None else None
        if self.role not in ("synthetic", "real"):
            raise GenomesynthError(f"--role {self.role!r}: use synthetic or real")
        checks.number("test_fraction", self.test_fraction, 0, 1, high_open=True)


@dataclass
class EncodeSummary:
    output: str
    people: int
    codec_variants: int
    matched: int = 0  # codec variants found in the cohort
    flipped: int = 0  # of those, with REF and ALT swapped
    absent: int = 0  # codec variants not in the cohort (mean-imputed for everyone)
    unmatched: int = 0  # cohort records at no codec variant
    multiallelic: int = 0  # cohort records with more than one ALT allele (not used)
    duplicates: int = 0  # cohort records at a codec variant already seen (not used)
    missing_calls_imputed: int = 0
    unknown_labels: list[str] = field(default_factory=list)
    near_identical: list[list[str]] = field(default_factory=list)  # --role real: as compress finds them
    moved_to_training: list[str] = field(default_factory=list)  # --role real: held-out duplicates of training people
    seconds: float = 0.0


class _CodecIndex:
    """The codec's variants by (contig, position, REF, ALT), and each variant's gene memberships."""

    def __init__(self, store: Store) -> None:
        contigs = [normalise_contig(c) for c in store.attrs["contigs"]]
        contig = store.read("variants/variant_contig")
        position = store.read("variants/variant_position")
        allele = store.read("variants/variant_allele")
        self.n = len(position)
        self.key = {(contigs[c], int(p), a[0], a[1]): v for v, (c, p, a) in enumerate(zip(contig, position, allele))}
        self.mean = store.read("variants/variant_mean").astype(np.float32)
        offsets = store.read("codec/gene_offset")
        member_variant = store.read("codec/membership_variant")
        member_gene = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
        order = np.argsort(member_variant, kind="stable")  # memberships grouped by variant
        self.member_gene = member_gene[order]
        self.member_loadings = store.read("codec/loadings")[order].astype(np.float32)
        self.member_start = np.searchsorted(member_variant[order], np.arange(self.n + 1))

    def lookup(self, contig: str, ref: str, alt: str, position: int) -> tuple[int, bool]:
        """(codec variant, flipped) or (-1, False)."""
        v = self.key.get((contig, position, ref, alt))
        if v is not None:
            return v, False
        v = self.key.get((contig, position, alt, ref))
        return (v, True) if v is not None else (-1, False)


def encode(
    cohort_path: str | Path,
    codec_path: str | Path,
    output: str | Path,
    config: EncodeConfig | None = None,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> EncodeSummary:
    """Encode a cohort (VCF/BCF, PLINK, VCF Zarr) into the codec of the store at codec_path."""
    config = config or EncodeConfig()
    progress = progress or quiet()
    started = time.perf_counter()
    cohort_path, output = Path(cohort_path), Path(output)
    writer = StoreWriter(output, overwrite=overwrite)
    with open_store(codec_path) as reference:
        if not reference.has("codec/loadings"):
            raise GenomesynthError(f"{reference.path}: holds no codec; give the real store from `compress` as --codec")
        cohort = open_cohort(cohort_path)
        if cohort.ploidy != reference.ploidy:
            raise GenomesynthError(
                f"{cohort_path}: ploidy {cohort.ploidy}, but the codec of {reference.path} is for ploidy "
                f"{reference.ploidy}; encode a cohort of the same ploidy"
            )
        samples = cohort.samples
        index = _CodecIndex(reference)
        summary = EncodeSummary(str(output), len(samples), index.n)
        codes = _label_codes(config, samples, reference.label_names, summary)
        latents = _project(cohort, index, reference.n_genes_padded, reference.ploidy, summary, progress)
        latents *= reference.mask()[None]
        split = make_split(codes, config.test_fraction, config.seed) if config.role == "real" else None
        if split is not None:  # the same person on both sides of the split reads as a member (split.py)
            compared = compared_columns(reference.mask(), config.seed)
            pairs = duplicate_pairs(latents.reshape(len(samples), -1)[:, compared], split == "train")
            split, moved = keep_duplicates_together(split, pairs)
            summary.near_identical = [[samples[i], samples[j]] for i, j in pairs]
            summary.moved_to_training = [samples[i] for i in moved]
        with writer:
            out = writer.create_latents(len(samples), reference.n_genes_padded)
            rows = max(1, out.chunks[0] * 8)
            for start in range(0, len(samples), rows):
                out[start : start + rows] = latents[start : start + rows]
            copy_reference(reference, writer)
            writer.write("sample_id", np.array(samples, dtype=object))
            writer.write("label", codes.astype(np.int32))
            if split is not None:
                writer.write("split", split.astype(object))
            summary.seconds = time.perf_counter() - started
            inputs = [cohort_path, Path(codec_path)] + ([config.labels] if config.labels else [])
            writer.set_attrs({
                **reference_attrs(reference),
                "schema_version": SCHEMA_VERSION,
                "role": config.role,
                "label_column": config.label_column,
                "provenance": provenance("encode", inputs, config.seed,
                                         {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()}),
                "encode_summary": asdict(summary),
            })
    return summary


def _label_codes(config: EncodeConfig, samples: list[str], names: list[str], summary: EncodeSummary) -> np.ndarray:
    """Label codes in the codec store's coding (-1 unknown); label values it does not know are counted."""
    if config.labels is None:
        return np.full(len(samples), -1, dtype=np.int32)
    if not names:
        raise GenomesynthError(f"{config.labels}: the codec's store has no labels, so these could not be compared; drop --labels")
    labels = read_labels(config.labels, samples, config.label_column)
    config.label_column = labels.column
    recode = np.array([names.index(n) if n in names else -1 for n in labels.names] + [-1], dtype=np.int32)
    summary.unknown_labels = [n for n in labels.names if n not in names]
    return recode[np.where(labels.codes >= 0, labels.codes, len(labels.names))]


_SUB_BLOCK = 128


def _project(cohort: Cohort, index: _CodecIndex, n_genes_padded: int, ploidy: int, summary: EncodeSummary,
             progress: Progress) -> np.ndarray:
    """Stream the cohort's records into (people, genes_padded, 8) latents."""
    z = np.zeros((len(cohort.samples), n_genes_padded, LATENT_DIM), dtype=np.float32)
    seen = np.zeros(index.n, dtype=bool)
    task = progress.add_task("encoding", total=None, status=str(cohort.path.name))
    for block in prefetched_blocks(cohort):
        contig = normalise_contig(block.contig)
        rows, variants, flips = [], [], []
        for i in range(len(block)):
            if block.n_alt[i] > 1:
                summary.multiallelic += 1
                continue
            v, flipped = index.lookup(contig, str(block.ref[i]), str(block.alt[i]), int(block.position[i]))
            if v < 0:
                summary.unmatched += 1
            elif seen[v]:
                summary.duplicates += 1
            else:
                seen[v] = True
                rows.append(i)
                variants.append(v)
                flips.append(flipped)
        for a in range(0, len(rows), _SUB_BLOCK):  # bounds the (people, memberships, 8) temporary
            part = slice(a, a + _SUB_BLOCK)
            _add_block(z, index, block.dosage[rows[part]], np.array(variants[part]), np.array(flips[part]), ploidy, summary)
        progress.update(task, advance=len(block), status=f"{block.contig}:{int(block.position[-1]):,}")
    summary.matched = int(seen.sum())
    summary.absent = index.n - summary.matched
    return z


def _add_block(z: np.ndarray, index: _CodecIndex, dosage: np.ndarray, variants: np.ndarray, flips: np.ndarray,
               ploidy: int, summary: EncodeSummary) -> None:
    """z[:, gene] += (x − m) · loadings, for every gene membership of this block's matched variants."""
    missing = dosage < 0
    summary.missing_calls_imputed += int(missing.sum())
    summary.flipped += int(flips.sum())
    x = np.where(flips[:, None], ploidy - dosage, dosage).astype(np.float32)
    centred = np.where(missing, 0.0, x - index.mean[variants][:, None]).astype(np.float32)  # (variants, people)
    counts = index.member_start[variants + 1] - index.member_start[variants]
    members = np.concatenate([np.arange(index.member_start[v], index.member_start[v + 1]) for v in variants])
    row = np.repeat(np.arange(len(variants)), counts)
    genes = index.member_gene[members]
    contribution = centred[row].T[:, :, None] * index.member_loadings[members][None]  # (people, members, 8)
    order = np.argsort(genes, kind="stable")
    genes, contribution = genes[order], contribution[:, order]
    starts = np.flatnonzero(np.diff(genes, prepend=-1))
    z[:, genes[starts]] += np.add.reduceat(contribution, starts, axis=1)
