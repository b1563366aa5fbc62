"""The real held-out set: seeded, and balanced by label when labels exist (paper: 520 + 520); near-identical
people (duplicates, identical twins) kept on one side of it."""

from __future__ import annotations

import numpy as np

from genomesynth.metrics.neighbours import near_identical_pairs

COMPARED_POSITIONS = 4096
"""Near-identical people are found on at most this many real latent positions (seeded)."""


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


def keep_duplicates_together(split: np.ndarray, pairs: list[tuple[int, int]]) -> tuple[np.ndarray, list[int]]:
    """(split, moved): every held-out person joined to a training person through near-identical `pairs` moves to
    training. The same person under two ids (or an identical twin) on both sides is a member that every membership
    attack counts as a non-member, and no new person to the held-out references; the codec, fitted before, saw
    neither of them, so moving the held-out one keeps it clean (moving the training one would not)."""
    split = split.copy()
    moved: list[int] = []
    changed = True
    while changed:  # a chain of duplicates (three ids of one person) moves as a whole
        changed = False
        for i, j in pairs:
            sides = {split[i], split[j]}
            if sides == {"train", "test"}:
                held = i if split[i] == "test" else j
                split[held] = "train"
                moved.append(held)
                changed = True
    return split, sorted(moved)


def compared_positions(n_real: int, seed: int) -> np.ndarray:
    """Indices of the real positions the duplicate search compares: all, or COMPARED_POSITIONS of them, seeded."""
    if n_real <= COMPARED_POSITIONS:
        return np.arange(n_real)
    return np.sort(np.random.default_rng(seed).choice(n_real, COMPARED_POSITIONS, replace=False))


def compared_columns(mask: np.ndarray, seed: int) -> np.ndarray:
    """The compared positions as columns of the flattened (genes × 8) latents: real ones, as compared_positions draws."""
    real = np.flatnonzero(np.asarray(mask).reshape(-1))
    return real[compared_positions(len(real), seed)]


def duplicate_pairs(latents: np.ndarray, train: np.ndarray) -> list[tuple[int, int]]:
    """Near-identical pairs among people of (people, positions) latents, standardised with the `train` rows'
    mean and sd (neighbours.near_identical_pairs)."""
    x = latents.astype(np.float32)
    fitted = x[train]
    sd = fitted.std(0)
    return near_identical_pairs((x - fitted.mean(0)) / np.where(sd > 1e-8, sd, 1.0), train)
