"""GWAS concordance: does a genome-wide association scan on synthetic people find what it finds on
the real ones?

Per SNP, the Cochran–Armitage trend test of the ALT count against a binary label, in its
correlation form: r = Pearson correlation of the ALT count with the label, χ²₁ = n·r², p from χ²₁
(a fast, standard allelic test; without covariates, so on a structured cohort real and synthetic
scans share the same confounding). A label of K > 2 classes is scanned one class against the rest,
K scans side by side (a super-population label: K ancestry scans). Compared between real training
people and synthetic people, over every (SNP, scan):

- effect_r: Pearson r of the signed per-SNP r (direction and size of association);
- logp_r: Pearson r of −log10 p;
- top_recall: the share of the real scan's top hits (the k smallest p, k = max(10, 1 % of the
  SNP × scan pairs)) that are among the synthetic scan's top k.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import log_ndtr


def trend_test(calls: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(signed r, −log10 p) per SNP of calls (people, SNPs) against a 0/1 label."""
    r, logp = trend_tests(calls, label[:, None])
    return r[0], logp[0]


def trend_tests(calls: np.ndarray, labels: np.ndarray, block: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """(signed r, −log10 p) of shape (labels, SNPs): calls (people, SNPs) against each 0/1 column of labels
    (people, labels); each block of SNPs is centred once for every label (memory: one float64 block)."""
    y = labels.astype(np.float64)
    y -= y.mean(0)
    r = np.empty((y.shape[1], calls.shape[1]))
    for a in range(0, calls.shape[1], block):
        x = calls[:, a : a + block].astype(np.float64)
        x -= x.mean(0)
        denominator = np.sqrt(np.outer((y**2).sum(0), (x**2).sum(0)))
        r[:, a : a + block] = np.where(denominator > 0, (y.T @ x) / np.maximum(denominator, 1e-300), 0.0)
    # χ²₁ tail in logs without underflow: P(χ²₁ > n·r²) = 2·Φ(−√n·|r|) (scipy's chi2.logsf is −inf past ~1,400)
    logp = -(np.log(2) + log_ndtr(-np.sqrt(len(y)) * np.abs(r))) / np.log(10)
    return r, logp


def scans(calls: np.ndarray, label: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(signed r, −log10 p) of shape (scans, SNPs): one scan for a binary label, one per class otherwise."""
    keep = (label >= 0) & (label < n_classes)
    targets = label[keep, None] == (np.array([1]) if n_classes == 2 else np.arange(n_classes))
    return trend_tests(calls[keep], targets)


def gwas_concordance(real_calls: np.ndarray, real_label: np.ndarray, syn_calls: np.ndarray,
                     syn_label: np.ndarray, n_classes: int = 2) -> dict[str, float | int]:
    """The three concordance figures above (people without a label are left out)."""
    return concordance(Scan.of(real_calls, real_label, n_classes), Scan.of(syn_calls, syn_label, n_classes))


@dataclass
class Scan:
    """A genome scan of one set of people: signed r and −log10 p (scans, SNPs), and which SNPs vary."""

    r: np.ndarray
    logp: np.ndarray
    varying: np.ndarray

    @classmethod
    def of(cls, calls: np.ndarray, label: np.ndarray, n_classes: int) -> Scan:
        r, logp = scans(calls, label, n_classes)
        return cls(r, logp, calls.std(0) > 0)


def concordance(real: Scan, syn: Scan) -> dict[str, float | int]:
    """How far the synthetic scan finds what the real one finds, over the SNPs varying in both."""
    usable = real.varying & syn.varying
    r_real, p_real, r_syn, p_syn = (a[:, usable].reshape(-1) for a in (real.r, real.logp, syn.r, syn.logp))
    k = max(10, len(r_real) // 100)
    top_real = set(np.argsort(-p_real)[:k].tolist())
    top_syn = set(np.argsort(-p_syn)[:k].tolist())
    return {
        "effect_r": float(np.corrcoef(r_real, r_syn)[0, 1]),
        "logp_r": float(np.corrcoef(p_real, p_syn)[0, 1]),
        "top_recall": len(top_real & top_syn) / k,
        "top_k": k,
        "snps": int(usable.sum()),
        "scans": real.r.shape[0],
        "real_max_logp": float(p_real.max()),
        "synthetic_max_logp": float(p_syn.max()),
    }
