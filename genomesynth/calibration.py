"""Calls for drawn people: each one's genotypes follow their own population's allele frequencies.

The codec's thresholds (codec.py) are placed on the training people's reconstructed dosages, which
cluster near 0, 1 and 2. A generator's people are drawn in continuous latent space: their dosages
spread between those values, and one set of thresholds for everyone does two things to them. It calls
too many of them heterozygous (on 1000 Genomes chr15 16.6 % of calls against the real 13.4 %), and it
flattens their population structure: a population's shift of a SNP's mean dosage moves its share of
calls across a fixed threshold by less than the shift (for a rare variant about half), so the drawn
people's spread along the real genotype PC1, right in their dosages, shrinks once called (the demo
cohort: standard deviation 6.9 in dosages, 5.3 in calls, real 7.4; docs/RESULTS.md findings 13, 15).

For stores whose latents were drawn (`genomesynth sample`, the Gaussian reference of `genomesynth
baseline`) decode, eval and the figures therefore call each person from an individual allele
frequency, fitted on the drawn people themselves:

- population coordinates: the drawn people's top POPULATION_AXES principal axes of their latents;
- a SNP's individual expected dosage μ = a + b·coordinates, the least-squares fit over the drawn
  people, and the individual ALT frequency p = (a + g·b·coordinates) / 2 (clipped to [0, 1]), where g
  is the SNP's call gain: how much more the training people's calls move along their population
  coordinates than their reconstructed dosages do (`call_gain`; median 1.00 on chr15, where the codec
  keeps 99 % of each gene, 1.21 on a set where it keeps 8 components of 20 SNPs; `sample` records it);
- the person's own deviation from μ, u = Φ((dosage − μ) / s) with s the SNP's residual standard
  deviation, picks the genotype from Hardy–Weinberg proportions at p: 0 below q², 2 above 1 − p², 1
  between. Within a population (given the coordinates) the training cohorts' genotypes are in
  Hardy–Weinberg proportions (the inbreeding coefficient around individual frequencies: 0.010 and
  −0.024 on chr15 with 2 and 4 axes, against 0.127 around the cohort's), so no inbreeding is added.

A population's mean dosage so becomes its share of ALT alleles, and a person's rank within their
population their genotype (the within-gene LD follows the dosages' correlations). Stores of
reconstructed real genotypes (real, `encode`d, the gene mosaic) keep the codec's thresholds: their
dosages are what the thresholds were made for. Haploid cohorts keep them too (on the 805-SNP
haplotypes the codec's one threshold keeps the structure and these calls did not: PCA overlap 0.78
against 0.39). The calls are fitted on at most `CALIBRATION_PEOPLE` people (a seeded subsample) and
applied to every person of the draw.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse.linalg import eigsh
from scipy.special import ndtr

from genomesynth.codec import Codec
from genomesynth.errors import GenomesynthError

CALIBRATION_PEOPLE = 2000
"""Drawn people the calls are fitted on (the people eval decodes per set)."""
VARIANT_SLAB = 1 << 16
"""Variants whose dosages are computed at once (CALIBRATION_PEOPLE × this × 4 bytes ≈ 0.5 GB)."""
MODES = ("auto", "calibrated", "fixed")
POPULATION_AXES = 4
"""Principal axes of the drawn people's latents their allele frequencies follow: four separate up to five
populations (chr15's five super-populations need four). 2 and 4 read the same PCA overlap within 0.007 on the
study's cohorts, 8 and 16 less (the later axes follow LD within genes; docs/RESULTS.md finding 15)."""
GAIN_ARRAY = "variants/variant_call_gain"
"""Where a store keeps its cohort's per-SNP call gain (`call_gain`)."""
LATENT_COLUMNS = 1 << 14
"""Latent columns read at once while the drawn people's Gram matrix is summed."""


def drawn(attrs: dict[str, Any]) -> bool:
    """Whether a store's latents were drawn in continuous space: sampled from a run (or merged parts of a
    draw), or the Gaussian reference; not real, encoded or gene-mosaic people."""
    model = attrs.get("model")
    if attrs.get("role") != "synthetic" or not isinstance(model, dict):
        return False
    return "run" in model or model.get("baseline") == "gaussian"


def use_calibrated(mode: str, attrs: dict[str, Any], ploidy: int) -> bool:
    """`--calls`: auto (calibrated for drawn stores), calibrated or fixed; haploid calls keep the codec's threshold."""
    if mode not in MODES:
        raise GenomesynthError(f"--calls {mode!r}: use {', '.join(MODES)}")
    return ploidy == 2 and (mode == "calibrated" or (mode == "auto" and drawn(attrs)))


def _slabs(codec: Codec) -> list[tuple[slice, Codec]]:
    """(rows, the codec of those variants alone) for each slab of VARIANT_SLAB variants."""
    rows = [slice(a, min(a + VARIANT_SLAB, len(codec.gene))) for a in range(0, len(codec.gene), VARIANT_SLAB)]
    return [(r, variants(codec, r)) for r in rows]


def variants(codec: Codec, rows: slice) -> Codec:
    """The codec of these variants alone."""
    return dataclasses.replace(codec, gene=codec.gene[rows], loadings=codec.loadings[rows], mean=codec.mean[rows],
                               thresholds=codec.thresholds[rows])


def inbreeding(codec: Codec, latents: np.ndarray) -> float:
    """The inbreeding coefficient F = 1 − Σ_snps observed heterozygosity / Σ_snps 2pq of people's calls
    (latents: people × genes_padded × 8, e.g. a subsample of the training people)."""
    observed = expected = 0.0
    for _, part in _slabs(codec):
        calls = part.genotypes(latents)
        p = calls.mean(0) / 2
        observed += float((calls == 1).mean(0).sum())
        expected += float((2 * p * (1 - p)).sum())
    return 1 - observed / expected if expected > 0 else 0.0


def genotype_shares(p: np.ndarray, f: float) -> tuple[np.ndarray, np.ndarray]:
    """P(0) and P(0) + P(1) for ALT frequency p under Hardy–Weinberg with inbreeding F (clipped to what p allows)."""
    q = 1 - p
    pq = p * q
    if np.isscalar(f) and f == 0:  # drawn people's calls (`DrawnCalls`): the same numbers, 5 array passes, not 14
        zero = (q**2).astype(np.float64)  # in float64 for float32 p too, as the clipped F below makes them
        return zero, zero + 2 * pq
    smaller = np.minimum(p, q)
    floor = -np.divide(smaller, 1 - smaller, out=np.zeros_like(p), where=smaller < 1)  # P(0), P(2) ≥ 0
    f_snp = np.clip(f, floor, 1.0)
    zero = q**2 + f_snp * pq
    return zero, zero + 2 * pq * (1 - f_snp)


@dataclass(frozen=True)
class DrawnCalls:
    """Genotype calls for drawn people (the module docstring): fitted by `calibrate` on people of one draw,
    applied to any people of it."""

    codec: Codec
    centre: np.ndarray
    """(genes_padded · 8,) the fitted people's mean latents."""
    axes: np.ndarray
    """(axes, genes_padded · 8): centred latents → population coordinates (unit variance over the fitted people)."""
    intercept: np.ndarray
    """(variants,) each SNP's mean dosage."""
    slope: np.ndarray
    """(variants, axes) each SNP's expected dosage per unit of each coordinate."""
    spread: np.ndarray
    """(variants,) the standard deviation of each SNP's dosage around its expected one."""
    gain: np.ndarray
    """(variants,) the cohort's call gain (`call_gain`): a frequency moves this much more along the coordinates
    than the dosage it is fitted on."""

    def coordinates(self, latents: np.ndarray) -> np.ndarray:
        return ((latents.reshape(len(latents), -1) - self.centre) @ self.axes.T).astype(np.float32)

    def genotypes(self, latents: np.ndarray) -> np.ndarray:
        """latents (people, genes_padded, 8) → ALT counts int8 (people, variants)."""
        coordinates = self.coordinates(latents)
        out = np.empty((len(latents), len(self.codec.gene)), dtype=np.int8)
        for rows, part in _slabs(self.codec):
            along = coordinates @ self.slope[rows].T
            rank = ndtr((part.dosages(latents) - self.intercept[rows] - along) / self.spread[rows])
            frequency = (self.intercept[rows] + self.gain[rows] * along) / 2
            zero, up_to_one = genotype_shares(np.clip(frequency, 0.0, 1.0), 0.0)
            out[:, rows] = (rank >= zero).astype(np.int8) + (rank >= up_to_one).astype(np.int8)
        return out


def _population_axes(latents: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(centre, axes, coordinates) of people's latents (people × genes_padded × 8): their top POPULATION_AXES
    principal axes (fewer for fewer than POPULATION_AXES + 2 people), from one Gram matrix summed over column
    blocks; the coordinates have mean 0 and unit variance over these people, and axes map centred latents to them."""
    n = len(latents)
    flat = latents.reshape(n, -1)
    centre = flat.mean(0, dtype=np.float64)
    gram = np.zeros((n, n))
    for a in range(0, flat.shape[1], LATENT_COLUMNS):
        block = flat[:, a : a + LATENT_COLUMNS] - centre[a : a + LATENT_COLUMNS]
        gram += block @ block.T
    wanted = max(0, min(POPULATION_AXES, n - 2))
    if 0 < wanted < n // 2:  # the top few alone (Lanczos): 0.05 s against eigh's 0.72 s for 2,000 people
        values, vectors = eigsh(gram, k=wanted, which="LA", v0=np.ones(n))
    else:
        values, vectors = np.linalg.eigh(gram)
    keep = np.argsort(values)[::-1][:wanted]
    keep = keep[values[keep] > 1e-9 * max(float(np.trace(gram)), 1e-300)]
    axes = np.empty((len(keep), flat.shape[1]), dtype=np.float32)
    for a in range(0, flat.shape[1], LATENT_COLUMNS):
        block = flat[:, a : a + LATENT_COLUMNS] - centre[a : a + LATENT_COLUMNS]
        axes[:, a : a + LATENT_COLUMNS] = (vectors[:, keep].T @ block) * (np.sqrt(n) / values[keep])[:, None]
    return centre, axes, (vectors[:, keep] * np.sqrt(n)).astype(np.float32)


def calibrate(codec: Codec, latents: np.ndarray, gain: np.ndarray | None = None) -> DrawnCalls:
    """Fit the calls of the module docstring on these drawn people (latents: people × genes_padded × 8); `gain`:
    the cohort's per-SNP call gain (`call_gain`; None: 1 for every SNP)."""
    n = len(latents)
    centre, axes, coordinates = _population_axes(latents)
    intercept, spread = np.empty(len(codec.gene), np.float32), np.empty(len(codec.gene), np.float32)
    slope = np.empty((len(codec.gene), axes.shape[0]), np.float32)
    for rows, part in _slabs(codec):
        residual = part.dosages(latents)  # float32, people × slab: the fit's largest array
        intercept[rows] = residual.mean(0, dtype=np.float64)
        residual -= intercept[rows]
        slope[rows] = (coordinates.T @ residual).T / n  # least squares: the coordinates' X'X is n·I
        residual -= coordinates @ slope[rows].T
        spread[rows] = np.maximum(np.sqrt((residual**2).mean(0, dtype=np.float64)), 1e-6)
    gain = np.ones(len(codec.gene), np.float32) if gain is None else gain.astype(np.float32)
    return DrawnCalls(codec, centre, axes, intercept, slope, spread, gain)


def call_gain(codec: Codec, latents: np.ndarray) -> np.ndarray:
    """Per SNP, how much more a population's calls move than its reconstructed dosages (latents: real training
    people's). The codec keeps at most 8 components of a gene, so where a gene has more SNPs than that its
    reconstructed dosages carry only part of the population differences its genotypes carry (on the 1000
    Genomes 500-SNP phenotype set, blocks of 20 SNPs, the training people's spread along the genotype PC1 is
    4.22 in reconstructed dosages, 4.67 in calls; on chr15, blocks of 50 with 99 % of the variance kept, the
    two agree). With b_d and b_c the least-squares slopes of the SNP's dosage and call on the people's
    population coordinates, the gain is (b_c·b_d + λ) / (b_d·b_d + λ), at least 0: the calls' slope along the
    dosages', pulled toward 1 by λ = axes · var(dosage) / people, what b_d·b_d reads by chance where a SNP has
    no population difference (docs/RESULTS.md finding 15 compares a gain per gene)."""
    n = len(latents)
    _, axes, coordinates = _population_axes(latents)
    gain = np.ones(len(codec.gene), np.float32)
    for rows, part in _slabs(codec):
        dosages = part.dosages(latents)
        calls = part.calls(dosages).astype(np.float32)
        dosages -= dosages.mean(0)
        calls -= calls.mean(0)
        b_dosage, b_call = coordinates.T @ dosages / n, coordinates.T @ calls / n  # (axes, slab)
        chance = axes.shape[0] * (dosages**2).mean(0, dtype=np.float64) / n
        along = (b_call * b_dosage).sum(0, dtype=np.float64) + chance
        gain[rows] = np.maximum(along, 0) / np.maximum((b_dosage**2).sum(0, dtype=np.float64) + chance, 1e-300)
    return gain


def _cohort(real_store: Any) -> tuple[Codec, np.ndarray]:
    """A real store's codec and the latents of its training people that the cohort's numbers below are measured
    on (at most CALIBRATION_PEOPLE, drawn with seed 0: the same numbers wherever they are computed)."""
    train = np.flatnonzero(real_store.split() == "train")
    return real_store.codec(), real_store.read_people(train[subsample(len(train), 0)])


def cohort_inbreeding(real_store: Any) -> float:
    """F of a real store's training people; eval reports it beside the real heterozygosity."""
    return inbreeding(*_cohort(real_store))


def cohort_call_gain(real_store: Any) -> np.ndarray:
    """`call_gain` of a real store's training people."""
    return call_gain(*_cohort(real_store))


def add_call_gain(real_store: Any, writer: Any) -> None:
    """Record the real store's call gain in a drawn store being written (`sample`, the Gaussian reference), so
    that decode finds it without the real store; merge carries it over from the parts (store.copy_reference)."""
    if real_store.ploidy == 2 and real_store.has("codec/loadings") and not real_store.has(GAIN_ARRAY):
        writer.write(GAIN_ARRAY, cohort_call_gain(real_store))


def stored_call_gain(store: Any) -> np.ndarray | None:
    """The call gain a drawn store holds, else a real store's, computed (at most 2,000 training people: about
    0.4 s on chr15); None for a drawn store from an older genomesynth (its calls then take a gain of 1)."""
    if store.has(GAIN_ARRAY):
        return np.asarray(store.read(GAIN_ARRAY), dtype=np.float32)
    if store.role == "real":
        return cohort_call_gain(store)
    return None


def subsample(n: int, seed: int) -> np.ndarray:
    """The people (sorted indices) calls are fitted on: all of them up to CALIBRATION_PEOPLE, else a seeded draw."""
    if n <= CALIBRATION_PEOPLE:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, CALIBRATION_PEOPLE, replace=False))
