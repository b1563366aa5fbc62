"""Fidelity after decoding to genotypes (through the codec), so users can judge the synthetic VCF.

- allele-frequency correlation: Pearson r of per-SNP ALT frequencies, real train vs synthetic;
- LD correlation: Pearson r between real and synthetic r² of SNP pairs within the same gene;
- heterozygosity: the share of heterozygous calls, real train and synthetic (null for haploid data);
- PCA overlap: a 10-component PCA fitted on real genotypes; the 2D histogram intersection of real and
  synthetic people on PC1–PC2 (1 = the same cloud, 0 = disjoint), on a grid of about five people
  a cell, so that two samples of one distribution score high.
Real genotypes are the decoded real latents (≥ 99 % concordant with the input on the demo cohort).
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA

from genomesynth.codec import Codec


def _r2_pairs(calls: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    x = calls.astype(np.float32)
    x = (x - x.mean(0)) / np.maximum(x.std(0), 1e-6)
    return (np.mean(x[:, pairs[:, 0]] * x[:, pairs[:, 1]], axis=0)) ** 2


def genotype_fidelity(codec: Codec, real_latents: np.ndarray, synthetic_latents: np.ndarray,
                      seed: int = 0, max_pairs: int = 20_000) -> dict[str, float | int | None]:
    """The metrics above; a value that is undefined for the data (LD without pairs, haploid heterozygosity) is None."""
    return calls_fidelity(codec, codec.calls(codec.dosages(real_latents)), codec.calls(codec.dosages(synthetic_latents)),
                          seed, max_pairs)


def calls_fidelity(codec: Codec, real: np.ndarray, syn: np.ndarray, seed: int = 0,
                   max_pairs: int = 20_000) -> dict[str, float | int | None]:
    """genotype_fidelity of calls already decoded (people, variants) through `codec`."""
    ploidy = codec.ploidy
    af_real, af_syn = real.mean(0) / ploidy, syn.mean(0) / ploidy
    varying = (real.std(0) > 0) & (syn.std(0) > 0)
    rng = np.random.default_rng(seed)
    gene = codec.gene
    pairs = []
    for g in np.unique(gene):
        members = np.flatnonzero((gene == g) & varying)
        if len(members) > 1:
            a, b = np.triu_indices(len(members), 1)
            pairs.append(np.stack([members[a], members[b]], 1))
    pairs_arr = np.concatenate(pairs) if pairs else np.zeros((0, 2), int)
    if len(pairs_arr) > max_pairs:
        pairs_arr = pairs_arr[rng.choice(len(pairs_arr), max_pairs, replace=False)]
    ld = (float(np.corrcoef(_r2_pairs(real, pairs_arr), _r2_pairs(syn, pairs_arr))[0, 1])
          if len(pairs_arr) > 2 else None)
    het_real = float(np.mean(real == 1)) if ploidy > 1 else None
    het_syn = float(np.mean(syn == 1)) if ploidy > 1 else None
    pca = PCA(n_components=min(10, real.shape[1], real.shape[0] - 1), random_state=seed).fit(real)
    pr, ps = pca.transform(real)[:, :2], pca.transform(syn)[:, :2]
    lo, hi = np.percentile(pr, 0.5, axis=0), np.percentile(pr, 99.5, axis=0)
    per_axis = int(np.clip(np.sqrt(min(len(pr), len(ps)) / 5), 3, 20))  # ~5 people a cell: not all noise
    bins = [np.linspace(lo[i], hi[i], per_axis + 1) for i in range(2)]
    hr = np.histogram2d(*np.clip(pr, lo, hi).T, bins=bins)[0]
    hs = np.histogram2d(*np.clip(ps, lo, hi).T, bins=bins)[0]
    overlap = float(np.minimum(hr / hr.sum(), hs / hs.sum()).sum())
    return {
        "allele_frequency_r": float(np.corrcoef(af_real, af_syn)[0, 1]),
        "allele_frequency_mae": float(np.mean(np.abs(af_real - af_syn))),
        "ld_r2_r": ld,
        "ld_pairs": int(len(pairs_arr)),
        "heterozygosity_real": het_real,
        "heterozygosity_synthetic": het_syn,
        "pca_overlap": overlap,
    }
