"""Nearest-neighbour adversarial accuracy (Yale et al. 2019; paper Eq. 9) and the NN test (Eq. 11).

    AA_truth = mean_i 1[d_TS(i) > d_TT(i)]     real points whose nearest real neighbour is nearer
    AA_syn   = mean_i 1[d_ST(i) > d_SS(i)]     than their nearest synthetic one; and vice versa
    AA       = (AA_truth + AA_syn) / 2         ideal 0.5: real and synthetic are indistinguishable
                                               → 1: far apart;  → 0: synthetic copies real (overfit)
    privacy loss = AA(held-out) − AA(train)    Yale et al.; ≈ 0 when the generator did not memorise

    NN test S(D1, D2) = mean_{x ∈ D1} (1/k) Σ_{j ≤ k} 1[j-th neighbour of x in D1 ∪ D2 \\ {x} is in D1]
    with D1 synthetic and D2 real of equal size; ideal 0.5; → 0 when synthetic points sit among
    real ones (copies), → 1 when they cluster apart.
All distances are angular (neighbours.py). Sets are subsampled to equal size; repeats average.
"""

from __future__ import annotations

import numpy as np

from genomesynth.metrics.neighbours import knn, nearest_distance


def adversarial_accuracy(real: np.ndarray, synthetic: np.ndarray, device: str = "cpu") -> dict[str, float]:
    """AA of two equal-size sets (rows are people)."""
    d_tt = nearest_distance(real, real, same=True, device=device)
    d_ts = nearest_distance(real, synthetic, device=device)
    d_ss = nearest_distance(synthetic, synthetic, same=True, device=device)
    d_st = nearest_distance(synthetic, real, device=device)
    truth, syn = float(np.mean(d_ts > d_tt)), float(np.mean(d_st > d_ss))
    return {"truth": truth, "syn": syn, "aa": (truth + syn) / 2}


def nn_test(d1: np.ndarray, d2: np.ndarray, k: int = 10, device: str = "cpu") -> float:
    """S(D1, D2): the share of each D1 point's k nearest neighbours (in D1 ∪ D2) that are in D1."""
    pooled = np.concatenate([d1, d2])
    _, index = knn(d1, pooled, k, exclude_self=True, device=device)  # d1 rows are pooled's first rows
    return float(np.mean(index < len(d1)))


def equal_subsamples(sizes: list[int], rng: np.random.Generator) -> list[np.ndarray]:
    """Random index sets, one per set, all of the smallest size."""
    n = min(sizes)
    return [np.sort(rng.choice(s, n, replace=False)) for s in sizes]
