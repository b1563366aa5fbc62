"""Calls for drawn people: each SNP's thresholds re-cut on the drawn people's own dosages.

The codec's thresholds (codec.py) are placed on the training people's reconstructed dosages, which
cluster near 0, 1 and 2. A generator's people are drawn in continuous latent space: their dosages
spread between those values, so the training thresholds call too many of them heterozygous (on
1000 Genomes chr15 16.6 % of calls against the real 13.4 %) and pull their genotypes toward the
middle of the PCA (docs/RESULTS.md, finding 13).

For stores whose latents were drawn (`genomesynth sample`, the Gaussian reference of `genomesynth
baseline`) decode and eval therefore re-cut each SNP's two thresholds on the drawn people's own
dosages, keeping what the generator says and taking from the cohort one number:

- the SNP's ALT allele frequency p is the one the codec's thresholds give the drawn people (the
  generator's own, not the training people's);
- the genotype shares are those of Hardy–Weinberg proportions with the training cohort's inbreeding
  coefficient F = 1 − Σ observed heterozygosity / Σ expected (population structure makes it > 0):
  P(0) = q² + Fpq, P(1) = 2pq(1 − F), P(2) = p² + Fpq with q = 1 − p;
- each threshold sits halfway between the drawn dosages that bracket its share (people sorted by
  dosage), so the drawn people get those shares; a SNP where equal dosages straddle a cut (the same
  dosage for everyone, say) keeps the codec's thresholds.

Stores of reconstructed real genotypes (real, `encode`d, the gene mosaic) keep the codec's thresholds:
their dosages are what the thresholds were made for. Haploid cohorts keep them too (one threshold,
which already gives the drawn people the allele frequency). The thresholds are cut on at most
`CALIBRATION_PEOPLE` people (a seeded subsample), a gene-slab of variants at a time.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from genomesynth.codec import Codec, cuts_at
from genomesynth.errors import GenomesynthError

CALIBRATION_PEOPLE = 2000
"""Drawn people the thresholds are cut on (the people eval decodes per set)."""
VARIANT_SLAB = 1 << 16
"""Variants whose dosages are computed at once (CALIBRATION_PEOPLE × this × 4 bytes ≈ 0.5 GB)."""
MODES = ("auto", "calibrated", "fixed")


def drawn(attrs: dict[str, Any]) -> bool:
    """Whether a store's latents were drawn in continuous space: sampled from a run (or merged parts of a
    draw), or the Gaussian reference; not real, encoded or gene-mosaic people."""
    model = attrs.get("model")
    if attrs.get("role") != "synthetic" or not isinstance(model, dict):
        return False
    return "run" in model or model.get("baseline") == "gaussian"


def use_calibrated(mode: str, attrs: dict[str, Any], ploidy: int) -> bool:
    """`--calls`: auto (calibrated for drawn stores), calibrated or fixed; haploid calls are never re-cut."""
    if mode not in MODES:
        raise GenomesynthError(f"--calls {mode!r}: use {', '.join(MODES)}")
    return ploidy == 2 and (mode == "calibrated" or (mode == "auto" and drawn(attrs)))


def _slabs(codec: Codec) -> list[Codec]:
    return [variants(codec, a, min(a + VARIANT_SLAB, len(codec.gene))) for a in range(0, len(codec.gene), VARIANT_SLAB)]


def variants(codec: Codec, start: int, stop: int) -> Codec:
    """The codec of variants start:stop alone."""
    part = slice(start, stop)
    return dataclasses.replace(codec, gene=codec.gene[part], loadings=codec.loadings[part], mean=codec.mean[part],
                               thresholds=codec.thresholds[part])


def inbreeding(codec: Codec, latents: np.ndarray) -> float:
    """The inbreeding coefficient F = 1 − Σ_snps observed heterozygosity / Σ_snps 2pq of people's calls
    (latents: people × genes_padded × 8, e.g. a subsample of the training people)."""
    observed = expected = 0.0
    for part in _slabs(codec):
        calls = part.calls(part.dosages(latents))
        p = calls.mean(0) / 2
        observed += float((calls == 1).mean(0).sum())
        expected += float((2 * p * (1 - p)).sum())
    return 1 - observed / expected if expected > 0 else 0.0


def genotype_shares(p: np.ndarray, f: float) -> tuple[np.ndarray, np.ndarray]:
    """P(0) and P(0) + P(1) for ALT frequency p under Hardy–Weinberg with inbreeding F (clipped to what p allows)."""
    q = 1 - p
    pq = p * q
    smaller = np.minimum(p, q)
    floor = -np.divide(smaller, 1 - smaller, out=np.zeros_like(p), where=smaller < 1)  # P(0), P(2) ≥ 0
    f_snp = np.clip(f, floor, 1.0)
    zero = q**2 + f_snp * pq
    return zero, zero + 2 * pq * (1 - f_snp)


def calibrate(codec: Codec, latents: np.ndarray, f: float) -> Codec:
    """The codec with every SNP's thresholds re-cut on these drawn people's dosages (see the module docstring)."""
    thresholds = np.empty_like(codec.thresholds)
    start = 0
    for part in _slabs(codec):
        dosages = part.dosages(latents)
        p = part.calls(dosages).mean(0) / 2
        ordered = np.sort(dosages.T, axis=-1)  # (variants, people)
        n = ordered.shape[1]
        n_below = np.clip(np.rint(np.stack(genotype_shares(p.astype(np.float64), f), axis=1) * n).astype(np.int64), 0, n)
        cut, separates = cuts_at(ordered, n_below)
        thresholds[start : start + len(part.gene)] = np.where(separates.all(1)[:, None], cut, part.thresholds)
        start += len(part.gene)
    return dataclasses.replace(codec, thresholds=thresholds)


def cohort_inbreeding(real_store: Any) -> float:
    """F of a real store's training people (at most CALIBRATION_PEOPLE of them, drawn with seed 0: a property
    of the cohort, the same number wherever it is computed); `sample` records it in its stores."""
    from genomesynth.compress import load_codec

    train = np.flatnonzero(real_store.split() == "train")
    return inbreeding(load_codec(real_store), real_store.read_people(train[subsample(len(train), 0)]))


def inbreeding_attrs(real_store: Any) -> dict[str, float]:
    """What `sample` and `baseline` record in a synthetic store: the cohort's F, if it is diploid and has a codec."""
    if real_store.ploidy != 2 or not real_store.has("codec/loadings"):
        return {}
    return {"inbreeding": cohort_inbreeding(real_store)}


def store_inbreeding(store: Any, codec_store: Any) -> float | None:
    """The F to calibrate a drawn store's calls with: its own record, else the real codec store's cohort;
    None for a store from an older genomesynth decoded without its real store."""
    if "inbreeding" in store.attrs:
        return float(store.attrs["inbreeding"])
    if codec_store.role == "real":
        return cohort_inbreeding(codec_store)
    return None


def subsample(n: int, seed: int) -> np.ndarray:
    """The people (sorted indices) thresholds are cut on: all of them up to CALIBRATION_PEOPLE, else a seeded draw."""
    if n <= CALIBRATION_PEOPLE:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, CALIBRATION_PEOPLE, replace=False))
