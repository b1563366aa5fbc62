"""The real held-out set: seeded, and balanced by label when labels exist (paper: 520 + 520)."""

from __future__ import annotations

import numpy as np


def make_split(labels: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """Return "train"/"test" per person.

    With labels, the test set holds the same number of people of every label: round(fraction ·
    labelled) people split evenly over the labels, but never more than half of the rarest label, so
    every label keeps people to train on. Unlabelled people (-1) always train (the diffusion model can
    use them). Without labels, a plain random fraction.
    """
    rng = np.random.default_rng(seed)
    split = np.full(len(labels), "train", dtype="<U5")
    if test_fraction <= 0:
        return split
    labelled = labels >= 0
    if labelled.any():
        classes, counts = np.unique(labels[labelled], return_counts=True)
        per_class = int(round(test_fraction * labelled.sum())) // len(classes)
        per_class = min(per_class, int(counts.min()) // 2)
        for c in classes:
            members = np.flatnonzero(labels == c)
            split[rng.choice(members, size=per_class, replace=False)] = "test"
    else:
        n_test = int(round(test_fraction * len(labels)))
        split[rng.choice(len(labels), size=n_test, replace=False)] = "test"
    return split
