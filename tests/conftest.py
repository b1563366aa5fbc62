"""Tiny cohorts made on the fly: genes of SNPs in strong LD (haplotypes copied from a few founders)."""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data"


@dataclass
class Cohort:
    vcf: Path
    genes: Path
    labels: Path
    samples: list[str]
    genotypes: np.ndarray  # (variants, people) ALT counts, -1 missing
    contigs: list[str]
    positions: list[int]


def simulate_genotypes(
    n_people: int, snps_per_gene: list[int], ploidy: int = 2, seed: int = 0, founders: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """(variants, people) ALT counts in gene blocks of low rank, and a label that depends on gene 0."""
    rng = np.random.default_rng(seed)
    label = (np.arange(n_people) % 3 == 0).astype(int)  # a third are cases
    blocks = []
    for g, s in enumerate(snps_per_gene):
        base = rng.random((founders, s)) < rng.uniform(0.2, 0.6, s)
        base[0] = ~base[1]  # every SNP is polymorphic among the founders
        copies = []
        for _ in range(ploidy):
            pick = rng.integers(0, founders, n_people)
            if g == 0:
                pick = np.where(label == 1, 0, pick)  # cases carry founder 0 in gene 0
            hap = base[pick].copy()
            flip = rng.random(hap.shape) < 0.01
            copies.append(hap ^ flip)
        blocks.append(np.sum(copies, axis=0).T.astype(np.int8))
    return np.concatenate(blocks), label


def write_vcf_text(path: Path, samples: list[str], contigs: list[str], positions: list[int],
                   genotypes: np.ndarray, ploidy: int = 2, extra_records: list[str] | None = None) -> None:
    text = {1: ["0", "1"], 2: ["0/0", "0/1", "1/1"]}[ploidy]
    missing = "." if ploidy == 1 else "./."
    lines = ["##fileformat=VCFv4.2", *(f"##contig=<ID={c}>" for c in dict.fromkeys(contigs)),
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
             "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *samples])]
    for c, p, row in zip(contigs, positions, genotypes):
        calls = [missing if x < 0 else text[x] for x in row]
        lines.append("\t".join([c, str(p), f"{c}_{p}", "A", "G", ".", "PASS", ".", "GT", *calls]))
    lines += extra_records or []
    path.write_text("\n".join(lines) + "\n")


def make_cohort(tmp: Path, n_people: int = 60, ploidy: int = 2, seed: int = 0, missing: float = 0.0) -> Cohort:
    """Two contigs, five genes (BED), one multi-allelic site, one indel, one monomorphic site."""
    sizes = [6, 10, 4, 12, 8]
    genotypes, label = simulate_genotypes(n_people, sizes, ploidy, seed)
    rng = np.random.default_rng(seed + 1)
    if missing:
        genotypes[rng.random(genotypes.shape) < missing] = -1
    contigs, positions, genes = [], [], []
    row = 0
    for g, s in enumerate(sizes):
        contig = "chr1" if g < 3 else "chr2"
        start = 10_000 * (g + 1)
        pos = list(start + 100 * np.arange(1, s + 1))
        contigs += [contig] * s
        positions += pos
        genes.append((contig, start, start + 100 * s + 50, f"GENE{g}"))
        row += s
    # an annotated gene without SNPs, on a contig the VCF lacks
    genes.append(("chr9", 100, 900, "EMPTY"))
    samples = [f"S{i:03d}" for i in range(n_people)]
    vcf = tmp / "cohort.vcf"
    other = "\t".join(["0/1" if ploidy == 2 else "1"] * n_people)
    ref = "\t".join(["0/0" if ploidy == 2 else "0"] * n_people)
    extra = [
        f"chr2\t990000\tmulti\tA\tC,G\t.\tPASS\t.\tGT\t{other}",
        f"chr2\t990100\tindel\tA\tAT\t.\tPASS\t.\tGT\t{other}",
        f"chr2\t990200\tmono\tA\tC\t.\tPASS\t.\tGT\t{ref}",
    ]
    write_vcf_text(vcf, samples, contigs, positions, genotypes, ploidy, extra)
    bed = tmp / "genes.bed"
    bed.write_text("".join(f"{c}\t{s}\t{e}\t{n}\n" for c, s, e, n in genes))
    labels = tmp / "labels.tsv"
    labels.write_text("sample_id\tlabel\n" + "".join(f"{s}\t{l}\n" for s, l in zip(samples, label)))
    return Cohort(vcf, bed, labels, samples, genotypes, contigs, positions)


@pytest.fixture
def cohort(tmp_path: Path) -> Cohort:
    return make_cohort(tmp_path)


@pytest.fixture(scope="session")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A compressed tiny cohort, shared read-only by tests that only read a store."""
    from genomesynth.compress import CompressConfig, compress

    tmp = tmp_path_factory.mktemp("real")
    c = make_cohort(tmp, n_people=90)
    out = tmp / "real.zarr"
    compress(c.vcf, out, CompressConfig(genes=c.genes, labels=c.labels, seed=1))
    return out


def vcf_calls(path: Path) -> tuple[list[str], np.ndarray]:
    """The ## header lines and the (people, SNPs) ALT counts of a diploid VCF that `decode` wrote."""
    with gzip.open(path, "rt") as handle:
        lines = handle.read().splitlines()
    meta = [line for line in lines if line.startswith("##")]
    rows = [line.split("\t")[9:] for line in lines if not line.startswith("#")]
    counts = {"0/0": 0, "0/1": 1, "1/1": 2}
    return meta, np.array([[counts[g] for g in row] for row in rows]).T


def write_latent_store(path: Path, latents: np.ndarray, labels: np.ndarray, mask: np.ndarray,
                       split: np.ndarray | None = None, label_names: list[str] | None = None,
                       role: str = "real", codec_id: str = "toy", id_prefix: str = "P") -> Path:
    """A store made straight from latents (no cohort, no codec): for engine and metric tests."""
    from genomesynth.store import SCHEMA_VERSION, StoreWriter

    latents = (latents * mask).astype(np.float32)
    n, genes, _ = latents.shape
    split = split if split is not None else np.full(n, "train")
    train = split == "train"
    mean = np.where(mask, latents[train].mean(0), 0)
    std = np.where(mask, latents[train].std(0), 1)
    with StoreWriter(path) as writer:
        writer.create_latents(n, genes)[:] = latents
        writer.write("mask", mask)
        writer.write("sample_id", np.array([f"{id_prefix}{i}" for i in range(n)], dtype=object))
        writer.write("label", labels.astype(np.int32))
        if role == "real":
            writer.write("split", split.astype(object))
        writer.write("stats/mean", mean.astype(np.float32))
        writer.write("stats/std", np.where(std > 1e-8, std, 1).astype(np.float32))
        writer.set_attrs({
            "schema_version": SCHEMA_VERSION, "role": role, "ploidy": 2, "n_genes": int(mask.any(1).sum()),
            "pad_multiple": 32, "contigs": [], "codec_id": codec_id,
            "label_names": label_names if label_names is not None else [str(c) for c in sorted(set(labels) - {-1})],
        })
    return path


@pytest.fixture(scope="session")
def toy_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two labelled clusters in a 32 × 8 latent space with padding: label 0 at +2, label 1 at −2."""
    rng = np.random.default_rng(0)
    n = 400
    mask = np.zeros((32, 8), bool)
    mask[:20, :5] = True
    labels = np.arange(n) % 2
    centre = np.where(labels == 0, 2.0, -2.0)[:, None, None]
    latents = centre + 0.5 * rng.normal(size=(n, 32, 8))
    return write_latent_store(tmp_path_factory.mktemp("toy") / "toy.zarr", latents, labels, mask)
