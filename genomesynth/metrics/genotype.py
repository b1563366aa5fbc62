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


def _standardised(calls: np.ndarray, columns: np.ndarray) -> np.ndarray:
    x = calls[:, columns].astype(np.float32)
    return (x - x.mean(0)) / np.maximum(x.std(0), 1e-6)


def _within_gene_r2(calls: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    """r² of every pair of SNPs within each group (a gene's varying SNPs), in `triu_indices` order, group after group."""
    out = []
    for members in groups:
        x = _standardised(calls, members)
        out.append(((x.T @ x / len(x))[np.triu_indices(len(members), 1)]) ** 2)
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def genotype_fidelity(codec: Codec, real_latents: np.ndarray, synthetic_latents: np.ndarray,
                      seed: int = 0, max_pairs: int = 20_000) -> dict[str, float | int | None]:
    """The metrics above; a value that is undefined for the data (LD without pairs, haploid heterozygosity) is None."""
    return calls_fidelity(codec, codec.calls(codec.dosages(real_latents)), codec.calls(codec.dosages(synthetic_latents)),
                          seed, max_pairs)


def calls_fidelity(codec: Codec, real: np.ndarray, syn: np.ndarray, seed: int = 0,
                   max_pairs: int = 20_000) -> dict[str, float | int | None]:
    """genotype_fidelity of calls already decoded (people, variants) through `codec`."""
    return GenotypeReference(codec, real, seed, max_pairs).compare(syn)


class GenotypeReference:
    """The real side of the metrics above, computed once (the PCA fit, allele frequencies) and compared with every set."""

    def __init__(self, codec: Codec, real: np.ndarray, seed: int = 0, max_pairs: int = 20_000) -> None:
        self.codec, self.real, self.seed, self.max_pairs = codec, real, seed, max_pairs
        self.af = real.mean(0) / codec.ploidy
        self.varying = real.std(0) > 0
        self.heterozygosity = float(np.mean(real == 1)) if codec.ploidy > 1 else None
        self.pca = PCA(n_components=min(10, real.shape[1], real.shape[0] - 1), random_state=seed).fit(real)
        self.pcs = self.pca.transform(real)[:, :2]

    def compare(self, syn: np.ndarray) -> dict[str, float | int | None]:
        real, ploidy = self.real, self.codec.ploidy
        af_syn = syn.mean(0) / ploidy
        varying = self.varying & (syn.std(0) > 0)
        snps = np.flatnonzero(varying)
        genes = self.codec.gene[snps]
        order = np.argsort(genes, kind="stable")
        groups = [m for m in np.split(snps[order], np.flatnonzero(np.diff(genes[order])) + 1) if len(m) > 1]
        n_pairs = sum(len(m) * (len(m) - 1) // 2 for m in groups)
        rng = np.random.default_rng(self.seed)
        chosen = (np.sort(rng.choice(n_pairs, self.max_pairs, replace=False)) if n_pairs > self.max_pairs
                  else np.arange(n_pairs))
        ld = (float(np.corrcoef(_within_gene_r2(real, groups)[chosen], _within_gene_r2(syn, groups)[chosen])[0, 1])
              if len(chosen) > 2 else None)
        het_syn = float(np.mean(syn == 1)) if ploidy > 1 else None
        pr, ps = self.pcs, self.pca.transform(syn)[:, :2]
        lo, hi = np.percentile(pr, 0.5, axis=0), np.percentile(pr, 99.5, axis=0)
        per_axis = int(np.clip(np.sqrt(min(len(pr), len(ps)) / 5), 3, 20))  # ~5 people a cell: not all noise
        bins = [np.linspace(lo[i], hi[i], per_axis + 1) for i in range(2)]
        hr = np.histogram2d(*np.clip(pr, lo, hi).T, bins=bins)[0]
        hs = np.histogram2d(*np.clip(ps, lo, hi).T, bins=bins)[0]
        overlap = float(np.minimum(hr / hr.sum(), hs / hs.sum()).sum())
        return {
            "allele_frequency_r": float(np.corrcoef(self.af, af_syn)[0, 1]),
            "allele_frequency_mae": float(np.mean(np.abs(self.af - af_syn))),
            "ld_r2_r": ld,
            "ld_pairs": int(len(chosen)),
            "heterozygosity_real": self.heterozygosity,
            "heterozygosity_synthetic": het_syn,
            "pca_overlap": overlap,
        }
