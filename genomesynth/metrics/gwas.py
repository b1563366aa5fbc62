"""GWAS concordance: does a genome-wide association scan on synthetic people find what it finds on
the real ones?

Per SNP, the Cochran–Armitage trend test of the ALT count against a binary label, in its
correlation form: r = Pearson correlation of the ALT count with the label, χ²₁ = n·r², p from χ²₁
(a fast, standard allelic test; without covariates, so on a structured cohort real and synthetic
scans share the same confounding). Compared between real training people and synthetic people:

- effect_r: Pearson r of the signed per-SNP r (direction and size of association);
- logp_r: Pearson r of −log10 p;
- top_recall: the share of the real scan's top hits (the k smallest p, k = max(10, 1 % of SNPs))
  that are among the synthetic scan's top k.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import chi2


def trend_test(calls: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(signed r, −log10 p) per SNP of calls (people, SNPs) against a 0/1 label."""
    x = calls.astype(np.float64)
    y = label.astype(np.float64)
    xc, yc = x - x.mean(0), y - y.mean()
    denominator = np.sqrt((xc**2).sum(0) * (yc**2).sum())
    r = np.where(denominator > 0, (xc * yc[:, None]).sum(0) / np.maximum(denominator, 1e-300), 0.0)
    logp = -chi2.logsf(len(y) * r**2, df=1) / np.log(10)
    return r, logp


def gwas_concordance(real_calls: np.ndarray, real_label: np.ndarray, syn_calls: np.ndarray,
                     syn_label: np.ndarray) -> dict[str, float | int]:
    """The three concordance figures above (labels 0/1; people with other labels are left out)."""
    keep_r, keep_s = np.isin(real_label, (0, 1)), np.isin(syn_label, (0, 1))
    r_real, p_real = trend_test(real_calls[keep_r], real_label[keep_r])
    r_syn, p_syn = trend_test(syn_calls[keep_s], syn_label[keep_s])
    usable = (real_calls[keep_r].std(0) > 0) & (syn_calls[keep_s].std(0) > 0)
    r_real, p_real, r_syn, p_syn = r_real[usable], p_real[usable], r_syn[usable], p_syn[usable]
    k = max(10, len(r_real) // 100)
    top_real = set(np.argsort(-p_real)[:k].tolist())
    top_syn = set(np.argsort(-p_syn)[:k].tolist())
    return {
        "effect_r": float(np.corrcoef(r_real, r_syn)[0, 1]),
        "logp_r": float(np.corrcoef(p_real, p_syn)[0, 1]),
        "top_recall": len(top_real & top_syn) / k,
        "top_k": k,
        "snps": int(usable.sum()),
        "real_max_logp": float(p_real.max()),
        "synthetic_max_logp": float(p_syn.max()),
    }
