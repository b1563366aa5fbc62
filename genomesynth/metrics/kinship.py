"""Kinship replay: is a synthetic genome a relative (or a duplicate) of a real participant?

KING-robust kinship (Manichaikul et al. 2010; plink2 --make-king) between diploid genotype vectors
i and j (ALT counts 0/1/2) over the SNPs both carry:

    φ_ij = (N_het,het(i, j) − 2 · N_opposite-hom(i, j)) / (N_het(i) + N_het(j))

≈ 0.5 for a duplicate (monozygotic twin), 0.25 for parent–child and siblings, 0.125 for 2nd-degree,
≤ 0 for unrelated people of one population. Degree thresholds are KING's: duplicate > 0.354,
1st degree > 0.177, 2nd degree > 0.0884. Three matrix products (het·het, hom-ref·hom-alt both
ways) give every pair at once. For each person of a set we keep their largest kinship to any
person of the other set; the real reference is held-out against training people — a synthetic
person related to a training participant identifies that participant; one related to a held-out
person as often is no more than the cohort's own relatedness. The thresholds assume genome-wide
SNPs: on one region in strong LD (a 10,000-SNP stretch of chr15) everyone's kinship is inflated, so
read the rows against the real reference, not against the thresholds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from genomesynth.metrics.privacy import chance_se, matched_sets

THRESHOLDS = {"duplicate": 0.354, "first_degree": 0.177, "second_degree": 0.0884}


def king_robust(a: np.ndarray, b: np.ndarray, block: int = 2048) -> np.ndarray:
    """KING-robust kinship of every row of a (people, SNPs) against every row of b; calls 0/1/2."""
    out = np.empty((len(a), len(b)), dtype=np.float32)
    het_b, ref_b, alt_b = ((b == k).astype(np.float32) for k in (1, 0, 2))
    n_het_b = het_b.sum(1)
    for start in range(0, len(a), block):
        part = a[start : start + block]
        het_a, ref_a, alt_a = ((part == k).astype(np.float32) for k in (1, 0, 2))
        both_het = het_a @ het_b.T
        opposite = ref_a @ alt_b.T + alt_a @ ref_b.T
        denominator = het_a.sum(1)[:, None] + n_het_b[None, :]
        out[start : start + block] = (both_het - 2 * opposite) / np.maximum(denominator, 1)
    return out


def _summary(nearest: np.ndarray) -> dict[str, float]:
    """Shares of people whose closest relative in the other set passes each threshold, and the tail."""
    return {
        **{name: float(np.mean(nearest > t)) for name, t in THRESHOLDS.items()},
        "max": float(nearest.max()),
        "p99": float(np.percentile(nearest, 99)),
        "median": float(np.median(nearest)),
    }


class KinshipPanel:
    """The SNPs and the equal-size, label-matched training and held-out people every search uses:
    drawn once, so the reference and each synthetic store are read against the same panel."""

    def __init__(self, train: np.ndarray, test: np.ndarray, seed: int = 0, max_snps: int = 20_000,
                 train_labels: np.ndarray | None = None, test_labels: np.ndarray | None = None) -> None:
        rng = np.random.default_rng(seed)
        snps = np.flatnonzero(train.std(0) > 0)
        if len(snps) > max_snps:  # kinship estimates are stable on tens of thousands of SNPs
            snps = np.sort(rng.choice(snps, max_snps, replace=False))
        some_train, some_test = matched_sets(len(train), len(test), train_labels, test_labels, rng)
        self.snps = snps
        self.train, self.test = train[some_train][:, snps], test[some_test][:, snps]

    def reference(self) -> dict[str, float]:
        """Real held-out people's closest relatives among the training people."""
        return _summary(king_robust(self.test, self.train).max(1))

    def replay(self, synthetic: np.ndarray) -> dict[str, Any]:
        """Synthetic people's closest relatives among the training and among the held-out people, and the
        membership attack by kinship: each training and held-out person scored by their closest kinship to any
        synthetic person (ROC AUC, training people as members)."""
        synthetic = synthetic[:, self.snps]
        to_train, to_test = king_robust(synthetic, self.train), king_robust(synthetic, self.test)
        members, others = to_train.max(0), to_test.max(0)
        n = len(members)
        auc = float(roc_auc_score(np.r_[np.ones(n), np.zeros(len(others))], np.r_[members, others]))
        return {"train": _summary(to_train.max(1)), "test": _summary(to_test.max(1)),
                "membership": {"auc": auc, "people": n, "se": chance_se(n)}}


def kinship_replay(train: np.ndarray, test: np.ndarray, synthetic: np.ndarray | None, seed: int = 0,
                   max_snps: int = 20_000, train_labels: np.ndarray | None = None,
                   test_labels: np.ndarray | None = None) -> dict[str, dict[str, float]]:
    """Closest-relative summaries: real held-out→train (the reference), synthetic→train, synthetic→held-out.
    Every search is among equally many people of one label mix (as the membership attack draws
    them): the chance of meeting a relative grows with the number searched, and differs between
    populations."""
    panel = KinshipPanel(train, test, seed, max_snps, train_labels, test_labels)
    return {"real_test_vs_train": panel.reference(), **(panel.replay(synthetic) if synthetic is not None else {})}
