"""Dispersion: does a set spread as far as the real training people, position by position and
along the directions of population structure? The first number to read about a generator.

On standardised latents (real positions only):

    per_position = median_j  Var(other_j) / Var(train_j)
    pc_i         = Var(other · v_i) / Var(train · v_i),   v_1…v_10 the training people's top principal axes
    pc_mean      = mean of pc_1…pc_10

Each PC ratio comes with its standard error from the set's own people (`pc_se`, `pc1_se`…`pc3_se`,
`pc_mean_se`): a ratio is the mean over people of (other · v_i − its mean)² / Var(train · v_i), so its
error is that quantity's sd / √n — kurtosis included, which a mixture of populations has. It is the
error a set of n people brings to its own column (95 held-out people: ± 0.10 on 0.62); the
training variance in the denominator is common to every column and not counted.

1 means "as dispersed as the training people". Independent per-gene draws shrunk toward the mean
read ≈ 0 on the PCs; a memorising generator reads ≈ 1 on them. New people of the same population
(the real held-out set, the reference column) read below 1 on all but the strongest axes, because
the training people's own top axes overstate their variance along them (in n < dimensions, sample
axes partly fit the people they came from) — so compare a store with the held-out column.

With labels, the variance of a mixture of populations depends on its mix, and sets differ in theirs:
compress holds out the same number of every label, sample draws the training mix. So each set is
compared with the training people weighted to its own label mix (`label_weights`; `matched_mix` in
the result): on 1000 Genomes chr15 with super-population labels the label-balanced held-out people
read 0.74–0.82 of the training variance along PC1 as drawn and the training people drawn at their mix
0.81–0.83 (five splits, docs/RESULTS.md finding 19) — the composition, not new people, had set the
reference column there.
"""

from __future__ import annotations

import numpy as np

N_AXES = 10


def principal_axes(train: np.ndarray, n_axes: int = N_AXES) -> tuple[np.ndarray, np.ndarray]:
    """(centre, axes (n_axes, dims)) of the rows of `train`; a randomised SVD, as only the leading
    few are needed (a full one at 5,000 people × 147,456 dimensions would take minutes)."""
    from sklearn.utils.extmath import randomized_svd

    centre = train.mean(0)
    k = min(n_axes, *train.shape)
    _, _, vt = randomized_svd(train - centre, k, n_oversamples=20, n_iter=7, random_state=0)
    return centre, vt


def label_weights(train_labels: np.ndarray, other_labels: np.ndarray) -> np.ndarray | None:
    """Weights (summing to 1) that give the training people `other`'s label mix, or None where that is not
    defined: an unlabelled person in either set (code < 0), or a label of `other` that no training person has."""
    if len(other_labels) == 0 or (train_labels < 0).any() or (other_labels < 0).any():
        return None
    classes, wanted = np.unique(other_labels, return_counts=True)
    have = np.array([(train_labels == c).sum() for c in classes])
    if (have == 0).any():
        return None
    share = dict(zip(classes.tolist(), (wanted / wanted.sum() / have).tolist()))
    return np.array([share.get(int(c), 0.0) for c in train_labels])


def _variance(x: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Per column: the unbiased variance, or with weights (summing to 1) the reliability-weighted one."""
    if weights is None:
        return x.var(0, ddof=1)
    w = weights.astype(x.dtype)
    centred = x - w @ x
    return (w @ (centred * centred)) / max(1.0 - float(weights @ weights), 1e-12)


def dispersion(train: np.ndarray, other: np.ndarray, axes: tuple[np.ndarray, np.ndarray] | None = None,
               train_weights: np.ndarray | None = None) -> dict[str, object]:
    """The ratios above for `other` (people, dims) against `train` (people, dims), the training variances
    weighted by `train_weights` (label_weights) where given."""
    centre, vt = axes if axes is not None else principal_axes(train)
    var_train = _variance(train, train_weights)
    var_other = other.var(0, ddof=1)
    live = var_train > 1e-12
    per_position = float(np.median(var_other[live] / var_train[live]))
    pt, po = (train - centre) @ vt.T, (other - centre) @ vt.T
    var_pc = np.maximum(_variance(pt, train_weights), 1e-12)
    pc = (po.var(0, ddof=1) / var_pc).tolist()
    pc_se, pc_mean_se = _standard_errors(po, var_pc)
    out: dict[str, object] = {"per_position": per_position, "pc": [float(v) for v in pc],
                              "pc_mean": float(np.mean(pc)) if pc else None, "matched_mix": train_weights is not None,
                              "pc_se": pc_se, "pc_mean_se": pc_mean_se}
    for i in range(3):
        out[f"pc{i + 1}"] = float(pc[i]) if i < len(pc) else None
        out[f"pc{i + 1}_se"] = pc_se[i] if pc_se is not None and i < len(pc_se) else None
    return out


def _standard_errors(projected: np.ndarray, var_train: np.ndarray) -> tuple[list[float] | None, float | None]:
    """The standard errors of the PC ratios and of their mean, from the people of `projected` (people, axes);
    None with fewer than 2 people or no axes."""
    n = len(projected)
    if n < 2 or projected.shape[1] == 0:
        return None, None
    share = (projected - projected.mean(0)) ** 2 / var_train  # (people, axes): each person's share of each ratio
    se = share.std(0, ddof=1) / np.sqrt(n)
    return [float(v) for v in se], float(share.mean(1).std(ddof=1) / np.sqrt(n))
