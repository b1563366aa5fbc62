"""Dispersion: does a set spread as far as the real training people, position by position and
along the directions of population structure? The first number to read about a generator.

On standardised latents (real positions only):

    per_position = median_j  Var(other_j) / Var(train_j)
    pc_i         = Var(other · v_i) / Var(train · v_i),   v_1…v_10 the training people's top principal axes
    pc_mean      = mean of pc_1…pc_10

1 means "as dispersed as the training people". Independent per-gene draws shrunk toward the mean
read ≈ 0 on the PCs; a memorising generator reads ≈ 1 on them. New people of the same population
(the real held-out set, the reference column) read below 1 on all but the strongest axes, because
the training people's own top axes overstate their variance along them (in n < dimensions, sample
axes partly fit the people they came from) — so compare a store with the held-out column.
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


def dispersion(train: np.ndarray, other: np.ndarray, axes: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, object]:
    """The ratios above for `other` (people, dims) against `train` (people, dims)."""
    centre, vt = axes if axes is not None else principal_axes(train)
    var_train = train.var(0, ddof=1)
    var_other = other.var(0, ddof=1)
    live = var_train > 1e-12
    per_position = float(np.median(var_other[live] / var_train[live]))
    pt, po = (train - centre) @ vt.T, (other - centre) @ vt.T
    pc = (po.var(0, ddof=1) / np.maximum(pt.var(0, ddof=1), 1e-12)).tolist()
    out: dict[str, object] = {"per_position": per_position, "pc": [float(v) for v in pc],
                              "pc_mean": float(np.mean(pc)) if pc else None}
    for i in range(3):
        out[f"pc{i + 1}"] = float(pc[i]) if i < len(pc) else None
    return out
